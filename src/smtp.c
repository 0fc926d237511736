/* smtp.c — the transports of smtp.h: SMTP with libcurl, and Maildir.
 *
 * SMTP: one CURL easy handle per batch, so libcurl keeps one connection
 * open and each message is one MAIL/RCPT/DATA transaction on it.  The
 * protocol dialogue is watched through the debug callback (CURLOPT_VERBOSE
 * with our own CURLOPT_DEBUGFUNCTION: nothing is printed) to learn
 *   - the server's last reply, kept for last_error and to classify 4xx/5xx;
 *   - which command it answered (a 5xx to RCPT TO means a bad address);
 *   - whether AUTH succeeded (235) on the current connection.
 * libcurl goes on without AUTH when the server's EHLO does not offer it; the
 * pre-request callback (called after EHLO/STARTTLS/AUTH, before MAIL FROM)
 * refuses to send in that case, so a configured user is never ignored.
 *
 * Maildir: write tmp/<unique>, fsync, rename into new/, fsync new/ — the
 * message is durable before we report it delivered. */
#include "smtp.h"
#include "buf.h"
#include "util.h"
#include <curl/curl.h>
#include <dlfcn.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

enum kind { T_SMTP, T_MAILDIR };

enum cmd { CMD_NONE, CMD_EHLO, CMD_STARTTLS, CMD_AUTH, CMD_MAIL, CMD_RCPT, CMD_DATA, CMD_QUIT, CMD_OTHER };

struct transport {
	enum kind kind;
	char *desc;
	/* maildir */
	char *dir;
	unsigned seq;
	/* smtp */
	CURL *curl;
	char *url;
	char *user;
	char *password;
	char *bearer;
	bool need_auth;
	/* state of the current connection, from the dialogue */
	bool authed;
	/* state of the current transfer */
	enum cmd last_cmd;
	bool mail_sent;
	bool quitting;          /* QUIT sent: its answer is not the one we keep */
	int reply_code;
	struct buf reply;
	const char *data;
	size_t len, pos;
	char errbuf[CURL_ERROR_SIZE];
};

/* ---- helpers ------------------------------------------------------------ */

/* A bare address safe to put on an SMTP command line: printable ASCII or
 * UTF-8, no spaces, no angle brackets, no controls (CR/LF would let a value
 * inject SMTP commands). */
static bool address_ok(const char *a, bool empty_ok)
{
	if (!a || !*a)
		return empty_ok;
	for (const unsigned char *p = (const unsigned char *)a; *p; p++)
		if (*p <= 0x20 || *p == 0x7f || *p == '<' || *p == '>')
			return false;
	return strchr(a, '@') != NULL;
}

static char *read_secret_file(const char *path, char **err_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*err_r = xasprintf("cannot read SMTP password file %s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && (st.st_mode & 0077))
		log_info("warning: SMTP password file %s is readable by others (chmod 600)", path);
	char tmp[1024];
	ssize_t n = read(fd, tmp, sizeof tmp - 1);
	close(fd);
	if (n < 0) {
		*err_r = xasprintf("cannot read SMTP password file %s: %s", path, strerror(errno));
		return NULL;
	}
	while (n > 0 && (tmp[n - 1] == '\n' || tmp[n - 1] == '\r'))
		n--;
	char *s = xstrndup(tmp, (size_t)n);
	explicit_bzero(tmp, sizeof tmp);
	return s;
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static int mkdir_p(const char *path, mode_t mode)
{
	char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			free(p);
			return -1;
		}
		*s = '/';
	}
	int rc = mkdir(p, mode) < 0 && errno != EEXIST ? -1 : 0;
	free(p);
	return rc;
}

static void fail(struct xfer_status *st, enum xfer_result r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(struct xfer_status *st, enum xfer_result r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->error, sizeof st->error, fmt, ap);
	va_end(ap);
	st->result = r;
}

/* ---- maildir ------------------------------------------------------------ */

static struct transport *maildir_open(const char *dir, char **err_r)
{
	static const char *const sub[] = {"tmp", "new", "cur"};
	for (size_t i = 0; i < 3; i++) {
		char *d = xasprintf("%s/%s", dir, sub[i]);
		int rc = mkdir_p(d, 0700);
		free(d);
		if (rc < 0) {
			*err_r = xasprintf("cannot create Maildir %s: %s", dir, strerror(errno));
			return NULL;
		}
	}
	struct transport *t = xcalloc(1, sizeof *t);
	t->kind = T_MAILDIR;
	t->dir = xstrdup(dir);
	t->desc = xasprintf("maildir:%s", dir);
	buf_init(&t->reply);
	return t;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static enum xfer_result maildir_send(struct transport *t, const char *from, const char *rcpt,
				     const char *raw, size_t len, struct xfer_status *st)
{
	char host[256] = "localhost";
	struct timeval tv;
	gethostname(host, sizeof host - 1);
	for (char *h = host; *h; h++)   /* '/' and ':' are not allowed in a Maildir name */
		if (*h == '/' || *h == ':')
			*h = '_';
	gettimeofday(&tv, NULL);
	char *name = xasprintf("%lld.M%06ldP%dQ%u.%s", (long long)tv.tv_sec, (long)tv.tv_usec,
			       (int)getpid(), ++t->seq, host);
	char *tmp = xasprintf("%s/tmp/%s", t->dir, name);
	char *dst = xasprintf("%s/new/%s", t->dir, name);
	char *newdir = xasprintf("%s/new", t->dir);
	/* what an MDA would add: the envelope, which the headers do not show */
	char *env = xasprintf("Return-Path: <%s>\r\nDelivered-To: %s\r\n", from ? from : "", rcpt);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		fail(st, XFER_DOWN, "cannot create %s: %s", tmp, strerror(errno));
		st->session = true;
		goto out;
	}
	if (write_all(fd, env, strlen(env)) < 0 || write_all(fd, raw, len) < 0 || fsync(fd) < 0) {
		fail(st, XFER_DOWN, "cannot write %s: %s", tmp, strerror(errno));
		st->session = true;
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, dst) < 0) {
		fail(st, XFER_DOWN, "cannot rename into %s: %s", dst, strerror(errno));
		st->session = true;
		unlink(tmp);
		goto out;
	}
	int dfd = open(newdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	st->result = XFER_SENT;
out:
	free(env);
	free(newdir);
	free(dst);
	free(tmp);
	free(name);
	return st->result;
}

/* ---- smtp --------------------------------------------------------------- */

static enum cmd classify_cmd(const char *s, size_t n)
{
	static const struct { const char *w; enum cmd c; } words[] = {
		{"EHLO", CMD_EHLO}, {"HELO", CMD_EHLO}, {"STARTTLS", CMD_STARTTLS}, {"AUTH", CMD_AUTH},
		{"MAIL", CMD_MAIL}, {"RCPT", CMD_RCPT}, {"DATA", CMD_DATA}, {"QUIT", CMD_QUIT},
	};
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		size_t k = strlen(words[i].w);
		if (n >= k && !strncasecmp(s, words[i].w, k) &&
		    (n == k || s[k] == ' ' || s[k] == '\r' || s[k] == '\n'))
			return words[i].c;
	}
	return CMD_OTHER;
}

static void reply_line(struct transport *t, const char *s, size_t n)
{
	while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	if (n < 3 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
	    !isdigit((unsigned char)s[2]))
		return;
	int code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	t->reply_code = code;
	if (t->reply.len == 0)
		buf_add(&t->reply, s, n);             /* "550 5.1.1 unknown user" */
	else if (n > 4) {
		buf_addc(&t->reply, ' ');             /* continuation: text only */
		buf_add(&t->reply, s + 4, n - 4);
	}
	if (t->last_cmd == CMD_AUTH && code == 235)
		t->authed = true;
}

/* libcurl is loaded when a transport is opened, not linked: it brings some
 * thirty libraries (GnuTLS, Kerberos, LDAP, ...) whose loading would be most
 * of the time of every `dealmail ingest` on the MTA pipe, which never sends. */
static struct {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	void (*easy_cleanup)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
} C;

static int curl_load(char **err_r)
{
	static const char *const names[] = {"libcurl-gnutls.so.4", "libcurl.so.4"};
	static bool loaded;
	void *h = NULL;
	if (loaded)
		return 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0] && !h; i++)
		h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		*err_r = xasprintf("cannot load libcurl (%s): install libcurl3-gnutls", dlerror());
		return -1;
	}
	struct { const char *name; void **fn; } syms[] = {
		{"curl_global_init", (void **)&C.global_init},
		{"curl_easy_init", (void **)&C.easy_init},
		{"curl_easy_setopt", (void **)&C.easy_setopt},
		{"curl_easy_perform", (void **)&C.easy_perform},
		{"curl_easy_cleanup", (void **)&C.easy_cleanup},
		{"curl_easy_strerror", (void **)&C.easy_strerror},
		{"curl_slist_append", (void **)&C.slist_append},
		{"curl_slist_free_all", (void **)&C.slist_free_all},
	};
	for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++)
		if (!(*syms[i].fn = dlsym(h, syms[i].name))) {
			*err_r = xasprintf("libcurl: no %s: %s", syms[i].name, dlerror());
			dlclose(h);
			return -1;
		}
	C.global_init(CURL_GLOBAL_DEFAULT);
	loaded = true;  /* kept loaded for the life of the process */
	return 0;
}

static int debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *userp)
{
	struct transport *t = userp;
	(void)h;
	if (type == CURLINFO_HEADER_OUT) {
		/* a SASL continuation (answer to 334) is not a new command */
		if (t->last_cmd == CMD_AUTH && t->reply_code == 334)
			return 0;
		enum cmd c = classify_cmd(data, size);
		/* libcurl says QUIT when it drops a connection after an error: keep
		 * the answer that caused it, not "221 Bye" */
		t->quitting = c == CMD_QUIT;
		if (t->quitting)
			return 0;
		t->last_cmd = c;
		if (t->last_cmd == CMD_EHLO)
			t->authed = false;   /* a new session (or after STARTTLS) */
		if (t->last_cmd == CMD_MAIL)
			t->mail_sent = true;
		t->reply_code = 0;
		buf_reset(&t->reply);
	} else if (type == CURLINFO_HEADER_IN && !t->quitting) {
		const char *p = data, *end = data + size;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p + 1) : (size_t)(end - p);
			reply_line(t, p, n);
			p += n;
		}
	}
	return 0;
}

static int prereq_cb(void *userp, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
	struct transport *t = userp;
	(void)primary_ip;
	(void)local_ip;
	(void)primary_port;
	(void)local_port;
	if (t->need_auth && !t->authed)
		return CURL_PREREQFUNC_ABORT;
	return CURL_PREREQFUNC_OK;
}

static size_t read_cb(char *out, size_t size, size_t nitems, void *userp)
{
	struct transport *t = userp;
	size_t want = size * nitems, left = t->len - t->pos;
	if (want > left)
		want = left;
	memcpy(out, t->data + t->pos, want);
	t->pos += want;
	return want;
}

static struct transport *smtp_open(const struct endpoint *ep, char **err_r)
{
	const char *url = ep->url;
	bool implicit = !strncasecmp(url, "smtps://", 8);
	if (!implicit && strncasecmp(url, "smtp://", 7)) {
		*err_r = xasprintf("[smtp] url %s: use smtp://, smtps:// or maildir:", url);
		return NULL;
	}
	if (implicit && (ep->tls == TLS_STARTTLS || ep->tls == TLS_NONE)) {
		*err_r = xasprintf("[smtp] url %s is implicit TLS: tls = starttls/none does not apply", url);
		return NULL;
	}
	struct transport *t = xcalloc(1, sizeof *t);
	t->kind = T_SMTP;
	buf_init(&t->reply);
	t->reply.max = 512;
	if (ep->tls == TLS_IMPLICIT && !implicit) {
		t->url = xasprintf("smtps://%s", url + 7);
		implicit = true;
	} else
		t->url = xstrdup(url);
	const char *mode = implicit ? "TLS" : ep->tls == TLS_NONE ? "plain text" : "STARTTLS";
	if (ep->user && *ep->user) {
		t->user = xstrdup(ep->user);
		t->need_auth = true;
		const char *env = getenv("DEALMAIL_SMTP_PASSWORD");
		if (ep->auth && !strcasecmp(ep->auth, "xoauth2")) {
			if (!ep->token_file) {
				*err_r = xstrdup("[smtp] auth = xoauth2 needs token_file");
				goto fail;
			}
			if (!(t->bearer = read_secret_file(ep->token_file, err_r)))
				goto fail;
		} else if (env && *env)
			t->password = xstrdup(env);
		else if (ep->password_file && *ep->password_file) {
			if (!(t->password = read_secret_file(ep->password_file, err_r)))
				goto fail;
		} else {
			*err_r = xasprintf("[smtp] user %s has no password: set password_file or "
					   "DEALMAIL_SMTP_PASSWORD", ep->user);
			goto fail;
		}
	}
	t->desc = xasprintf("%s (%s%s)", t->url, mode, t->need_auth ? ", AUTH" : "");

	if (curl_load(err_r) < 0)
		goto fail;
	CURL *c = t->curl = C.easy_init();
	if (!c) {
		*err_r = xstrdup("cannot initialise libcurl");
		goto fail;
	}
	C.easy_setopt(c, CURLOPT_URL, t->url);
	C.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	C.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	C.easy_setopt(c, CURLOPT_USE_SSL, (long)(implicit || ep->tls != TLS_NONE ? CURLUSESSL_ALL
										      : CURLUSESSL_NONE));
	C.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	C.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ep->ca_file && *ep->ca_file)
		C.easy_setopt(c, CURLOPT_CAINFO, ep->ca_file);
	if (t->need_auth) {
		C.easy_setopt(c, CURLOPT_USERNAME, t->user);
		if (t->bearer) {
			C.easy_setopt(c, CURLOPT_XOAUTH2_BEARER, t->bearer);
			C.easy_setopt(c, CURLOPT_LOGIN_OPTIONS, "AUTH=XOAUTH2");
		} else {
			C.easy_setopt(c, CURLOPT_PASSWORD, t->password);
			if (ep->auth && !strcasecmp(ep->auth, "plain"))
				C.easy_setopt(c, CURLOPT_LOGIN_OPTIONS, "AUTH=PLAIN");
			else if (ep->auth && !strcasecmp(ep->auth, "login"))
				C.easy_setopt(c, CURLOPT_LOGIN_OPTIONS, "AUTH=LOGIN");
		}
	}
	C.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	/* a server that stops answering: give up after 60 s below 1 byte/s */
	C.easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	C.easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	C.easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	C.easy_setopt(c, CURLOPT_ERRORBUFFER, t->errbuf);
	C.easy_setopt(c, CURLOPT_VERBOSE, 1L);
	C.easy_setopt(c, CURLOPT_DEBUGFUNCTION, debug_cb);
	C.easy_setopt(c, CURLOPT_DEBUGDATA, t);
	C.easy_setopt(c, CURLOPT_PREREQFUNCTION, prereq_cb);
	C.easy_setopt(c, CURLOPT_PREREQDATA, t);
	C.easy_setopt(c, CURLOPT_UPLOAD, 1L);
	C.easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
	C.easy_setopt(c, CURLOPT_READDATA, t);
	return t;
fail:
	transport_close(t);
	return NULL;
}

static enum xfer_result smtp_send(struct transport *t, const char *from, const char *rcpt,
				  const char *raw, size_t len, struct xfer_status *st)
{
	struct curl_slist *to = C.slist_append(NULL, rcpt);
	CURL *c = t->curl;
	t->data = raw;
	t->len = len;
	t->pos = 0;
	t->mail_sent = false;
	t->quitting = false;
	t->reply_code = 0;
	t->last_cmd = CMD_NONE;
	buf_reset(&t->reply);
	t->errbuf[0] = '\0';
	C.easy_setopt(c, CURLOPT_MAIL_FROM, from ? from : "");
	C.easy_setopt(c, CURLOPT_MAIL_RCPT, to);
	C.easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	CURLcode rc = C.easy_perform(c);
	C.easy_setopt(c, CURLOPT_MAIL_RCPT, NULL);
	C.slist_free_all(to);
	st->code = t->reply_code;
	if (rc == CURLE_OK) {
		st->result = XFER_SENT;
		return st->result;
	}
	const char *reply = t->reply.len ? t->reply.s : "";
	int cls = t->reply_code / 100;
	if (t->need_auth && !t->authed && !t->mail_sent &&
	    (rc == CURLE_ABORTED_BY_CALLBACK || rc == CURLE_LOGIN_DENIED)) {
		fail(st, XFER_DOWN, "%s did not authenticate us (AUTH %s); not sending without it",
		     t->url, rc == CURLE_ABORTED_BY_CALLBACK ? "not offered by the server" : "failed");
		if (rc == CURLE_LOGIN_DENIED && *reply)
			snprintf(st->error + strlen(st->error), sizeof st->error - strlen(st->error),
				 ": %s", reply);
		st->session = true;
		return st->result;
	}
	/* an answer to one of this message's commands: 4xx or 5xx for this message */
	if (t->mail_sent && (t->last_cmd == CMD_MAIL || t->last_cmd == CMD_RCPT || t->last_cmd == CMD_DATA ||
			     t->last_cmd == CMD_OTHER) && (cls == 4 || cls == 5)) {
		if (t->reply_code == 530) {   /* "authentication required": our configuration */
			fail(st, XFER_DOWN, "%s requires AUTH (set [smtp] user): %s", t->url, reply);
			st->session = true;
			return st->result;
		}
		fail(st, cls == 4 ? XFER_TEMP : XFER_PERM, "%s", reply);
		st->rcpt_rejected = cls == 5 && t->last_cmd == CMD_RCPT;
		return st->result;
	}
	fail(st, XFER_DOWN, "%s: %s%s%s%s", t->url, t->errbuf[0] ? t->errbuf : C.easy_strerror(rc),
	     *reply ? " (last reply: " : "", reply, *reply ? ")" : "");
	st->session = !t->mail_sent;
	return st->result;
}

/* ---- interface ---------------------------------------------------------- */

struct transport *transport_open(const struct config *cfg, char **err_r)
{
	const char *url = cfg->smtp.url;
	*err_r = NULL;
	if (url && *url && strncasecmp(url, "maildir:", 8))
		return smtp_open(&cfg->smtp, err_r);
	if (url && *url) {
		const char *dir = url + 8;
		if (!strncmp(dir, "//", 2))
			dir += 2;
		if (!*dir) {
			*err_r = xstrdup("[smtp] url maildir: needs a path");
			return NULL;
		}
		return maildir_open(dir, err_r);
	}
	/* default: beside the database */
	char *db = xstrdup(cfg->database ? cfg->database : "dealmail.db");
	char *dir = xasprintf("%s/outbox-maildir", dirname(db));
	struct transport *t = maildir_open(dir, err_r);
	free(dir);
	free(db);
	return t;
}

enum xfer_result transport_send(struct transport *t, const char *from, const char *rcpt,
				const char *raw, size_t len, struct xfer_status *st)
{
	memset(st, 0, sizeof *st);
	if (!address_ok(rcpt, false)) {
		fail(st, XFER_PERM, "invalid recipient address");
		st->rcpt_rejected = true;
		return st->result;
	}
	if (!address_ok(from, true)) {
		fail(st, XFER_PERM, "invalid envelope sender");
		return st->result;
	}
	if (t->kind == T_MAILDIR)
		return maildir_send(t, from, rcpt, raw, len, st);
	return smtp_send(t, from, rcpt, raw, len, st);
}

const char *transport_describe(const struct transport *t)
{
	return t->desc ? t->desc : "?";
}

void transport_close(struct transport *t)
{
	if (!t)
		return;
	if (t->curl)
		C.easy_cleanup(t->curl);   /* sends QUIT on an open connection */
	wipe_free(t->password);
	wipe_free(t->bearer);
	free(t->user);
	free(t->url);
	free(t->dir);
	free(t->desc);
	buf_release(&t->reply);
	free(t);
}
