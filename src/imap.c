/* imap.c — the IMAP source: connection, certificate check, authentication,
 * passes over what is new, acknowledgement after the durable commit, IDLE.
 * See imap.h for the contract.  Every libetpan call of the program is here.
 *
 * Order of a pass, and why:
 *   1. read the checkpoint (uidvalidity, last_uid) of this mailbox;
 *   2. catch up marks lost earlier (a connection that dropped between the
 *      commit and the STORE/MOVE): everything at or below last_uid is
 *      processed, so it may be marked once the database is durable;
 *   3. UID SEARCH UID start:* (the answer may hold the highest UID even when
 *      it is below start: filtered);
 *   4. per chunk, RFC822.SIZE so that a batch stays bounded in bytes, then
 *      UID FETCH (UID BODY.PEEK[]) of the batch — PEEK: reading a message
 *      never sets \Seen by itself;
 *   5. one transaction per batch (batch_begin), process_message() on each
 *      in UID order inside a savepoint of its own; it writes the checkpoint
 *      with the message's effects.  A temporary failure stops the pass at the
 *      failing message: it and those after it stay unmarked and are fetched
 *      again next time;
 *   6. batch_commit(), synced: the batch is on disk;
 *   7. only now mark the batch on the server.  A crash before 6 loses the
 *      batch's work, never a message: nothing of it was marked. */
#include "imap.h"
#include "buf.h"
#include "util.h"
#include <libetpan/libetpan.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define IMAP_TIMEOUT  60            /* seconds: connect, TLS handshake, each read */
#define IDLE_PERIOD   (25 * 60)     /* re-issue IDLE well before RFC 2177's 29 minutes */
#define NOOP_PERIOD   15            /* seconds between NOOPs without IDLE */
#define BATCH_COUNT   100           /* messages per durable batch */
#define BATCH_BYTES   (16u << 20)   /* bytes fetched at once (one message may exceed it) */
#define SIZE_CHUNK    1000          /* UIDs per RFC822.SIZE lookup */
#define MARK_RANGES   256           /* ranges per STORE / MOVE command */
#define SECRET_MAX    65536
#define KEYWORD       "$Dealmail"

enum mark_mode { MARK_FLAG, MARK_MOVE };

struct imap {
	mailimap *s;
	char *host, *mailbox, *user, *key, *folder;
	char *qfolder;          /* [imap] quarantine: where unparseable messages go, or NULL */
	char *wmailbox, *wfolder, *wqfolder;   /* the three as the wire has them (modified UTF-7) */
	uint16_t port;
	enum mark_mode mark;
	bool has_move, has_uidplus, has_idle;
	bool broken, idling, need_catchup, warned_expunge;
	uint32_t uidvalidity;
	time_t idle_since, last_noop;
};

struct url {
	bool imaps;
	char *host, *user, *mailbox;
	uint16_t port;
};

static time_t mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* ---- settings ------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 32);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static char *pct_decode(const char *s, size_t n)
{
	char *out = xmalloc(n + 1), *o = out;
	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 && (lo = hexval(s[i + 2])) >= 0) {
			*o++ = (char)(hi * 16 + lo);
			i += 2;
		} else
			*o++ = s[i];
	}
	*o = '\0';
	return out;
}

static void url_clear(struct url *u)
{
	free(u->host);
	free(u->user);
	free(u->mailbox);
	memset(u, 0, sizeof *u);
}

/* imap[s]://[user@]host[:port][/mailbox] — mailbox percent-decoded, INBOX
 * when empty.  0 or -1 with *why_r. */
static int url_parse(const char *s, struct url *u, const char **why_r)
{
	memset(u, 0, sizeof *u);
	if (!s || !*s) {
		*why_r = "[imap] url is not set";
		return -1;
	}
	if (!strncasecmp(s, "imaps://", 8)) {
		u->imaps = true;
		s += 8;
	} else if (!strncasecmp(s, "imap://", 7))
		s += 7;
	else {
		*why_r = "[imap] url must start with imap:// or imaps://";
		return -1;
	}
	size_t alen = strcspn(s, "/?#");
	const char *auth = s, *path = s + alen;
	const char *at = NULL;
	for (const char *p = auth; p < auth + alen; p++)
		if (*p == '@')
			at = p;
	if (at) {
		size_t ul = (size_t)(at - auth);
		const char *semi = memchr(auth, ';', ul);  /* ;AUTH=… is not ours */
		u->user = pct_decode(auth, semi ? (size_t)(semi - auth) : ul);
		auth = at + 1;
		alen = (size_t)(path - auth);
	}
	const char *hend = auth + alen, *port = NULL;
	if (alen && auth[0] == '[') {
		const char *rb = memchr(auth, ']', alen);
		if (!rb) {
			*why_r = "[imap] url: unterminated [IPv6] address";
			goto bad;
		}
		u->host = xstrndup(auth + 1, (size_t)(rb - auth - 1));
		if (rb + 1 < hend && rb[1] == ':')
			port = rb + 2;
	} else {
		const char *colon = memchr(auth, ':', alen);
		u->host = xstrndup(auth, colon ? (size_t)(colon - auth) : alen);
		if (colon)
			port = colon + 1;
	}
	if (!*u->host) {
		*why_r = "[imap] url has no host";
		goto bad;
	}
	u->port = u->imaps ? 993 : 143;
	if (port) {
		long v = 0;
		const char *p = port;
		for (; p < hend && *p >= '0' && *p <= '9' && v <= 65535; p++)
			v = v * 10 + (*p - '0');
		if (p != hend || p == port || v < 1 || v > 65535) {
			*why_r = "[imap] url has a bad port";
			goto bad;
		}
		u->port = (uint16_t)v;
	}
	if (*path == '/')
		path++;
	size_t plen = strcspn(path, "?#");
	u->mailbox = plen ? pct_decode(path, plen) : xstrdup("INBOX");
	return 0;
bad:
	url_clear(u);
	return -1;
}

static char *cfg_path(const struct config *cfg, const char *p)
{
	if (!p || !*p)
		return NULL;
	if (p[0] == '/' || !cfg->dir)
		return xstrdup(p);
	return xasprintf("%s/%s", cfg->dir, p);
}

/* A password or token file: whole file, trailing white space cut. */
static char *read_secret(const char *path, const char *what)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_error("cannot read the IMAP %s file %s: %s", what, path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && (st.st_mode & 077))
		log_verbose("%s is readable by others (mode %03o): chmod 600 it", path,
			    (unsigned)(st.st_mode & 0777));
	char *b = xmalloc(SECRET_MAX + 1);
	size_t n = 0;
	ssize_t r;
	while (n < SECRET_MAX && (r = read(fd, b + n, SECRET_MAX - n)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			log_error("cannot read %s: %s", path, strerror(errno));
			close(fd);
			free(b);
			return NULL;
		}
		n += (size_t)r;
	}
	close(fd);
	while (n && (b[n - 1] == '\n' || b[n - 1] == '\r' || b[n - 1] == ' ' || b[n - 1] == '\t'))
		n--;
	b[n] = '\0';
	if (!n) {
		log_error("the IMAP %s file %s is empty", what, path);
		free(b);
		return NULL;
	}
	return b;
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* `processed` = flag | move:FOLDER.  0 or -1. */
static int parse_processed(struct imap *m, const char *v)
{
	if (!v || !*v || !strcasecmp(v, "flag")) {
		m->mark = MARK_FLAG;
		return 0;
	}
	if (!strncasecmp(v, "move:", 5) && v[5]) {
		m->mark = MARK_MOVE;
		m->folder = xstrdup(v + 5);
		return 0;
	}
	log_error("[imap] processed = %s: expected flag or move:FOLDER", v);
	return -1;
}

/* ---- errors ---------------------------------------------------------- */

static bool conn_error(int r)
{
	return r == MAILIMAP_ERROR_STREAM || r == MAILIMAP_ERROR_PARSE || r == MAILIMAP_ERROR_FATAL ||
	       r == MAILIMAP_ERROR_CONNECTION_REFUSED || r == MAILIMAP_ERROR_MEMORY ||
	       r == MAILIMAP_ERROR_SSL || r == MAILIMAP_ERROR_BAD_STATE;
}

/* The server's own words for the last response, or a description. */
static const char *server_says(struct imap *m, int r)
{
	if (!conn_error(r) && m->s && m->s->imap_response && *m->s->imap_response)
		return m->s->imap_response;
	switch (r) {
	case MAILIMAP_ERROR_STREAM: return "connection lost or timed out";
	case MAILIMAP_ERROR_PARSE: return "unreadable response from the server";
	case MAILIMAP_ERROR_CONNECTION_REFUSED: return "connection refused or host unreachable";
	case MAILIMAP_ERROR_SSL: return "TLS handshake failed";
	case MAILIMAP_ERROR_BAD_STATE: return "command not allowed in this state";
	default: return "the server refused the command";
	}
}

/* Record a failed call: connection errors break the session. */
static int failed(struct imap *m, int r, const char *what)
{
	if (conn_error(r)) {
		if (!m->broken)
			log_error("IMAP %s:%u: %s: %s", m->host, m->port, what, server_says(m, r));
		m->broken = true;
		m->idling = false;
	} else
		log_error("IMAP %s:%u: %s: %s", m->host, m->port, what, server_says(m, r));
	return -1;
}

/* ---- end of stream ---------------------------------------------------- */

/* libetpan (1.9.4, and its upstream) reads the rest of a literal in a loop
 * that takes only -1 from mailstream_read() as an error: when the connection
 * ends in the middle of a literal (a server or a proxy gone during a FETCH
 * of BODY[]), every read returns 0 and the loop spins at 100% CPU for ever;
 * `watch --once` never returns, `run` never reconnects.  So the stream gets a
 * layer below it that reports the end of the connection as the error it is
 * here: the server never closes a connection in the middle of a response
 * that we are still reading. */
static ssize_t eof_read(mailstream_low *s, void *buf, size_t n)
{
	ssize_t r = mailstream_low_read(s->data, buf, n);
	return r == 0 && n > 0 ? -1 : r;
}

static ssize_t eof_write(mailstream_low *s, const void *buf, size_t n)
{
	return mailstream_low_write(s->data, buf, n);
}

static int eof_close(mailstream_low *s) { return mailstream_low_close(s->data); }
static int eof_get_fd(mailstream_low *s) { return mailstream_low_get_fd(s->data); }
static void eof_cancel(mailstream_low *s) { mailstream_low_cancel(s->data); }
static struct mailstream_cancel *eof_get_cancel(mailstream_low *s) { return mailstream_low_get_cancel(s->data); }
static carray *eof_chain(mailstream_low *s) { return mailstream_low_get_certificate_chain(s->data); }
static int eof_setup_idle(mailstream_low *s) { return mailstream_low_setup_idle(s->data); }
static int eof_unsetup_idle(mailstream_low *s) { return mailstream_low_unsetup_idle(s->data); }
static int eof_interrupt_idle(mailstream_low *s) { return mailstream_low_interrupt_idle(s->data); }

static void eof_free(mailstream_low *s)
{
	mailstream_low_free(s->data);   /* the driver below frees its own */
	free(s);
}

static mailstream_low_driver eof_driver = {
	.mailstream_read = eof_read,
	.mailstream_write = eof_write,
	.mailstream_close = eof_close,
	.mailstream_get_fd = eof_get_fd,
	.mailstream_free = eof_free,
	.mailstream_cancel = eof_cancel,
	.mailstream_get_cancel = eof_get_cancel,
	.mailstream_get_certificate_chain = eof_chain,
	.mailstream_setup_idle = eof_setup_idle,
	.mailstream_unsetup_idle = eof_unsetup_idle,
	.mailstream_interrupt_idle = eof_interrupt_idle,
};

/* Put the layer under the session's stream (after STARTTLS, which replaces
 * the stream's lower part).  False when out of memory. */
static bool eof_is_error(struct imap *m)
{
	mailstream_low *below = mailstream_get_low(m->s->imap_stream);
	mailstream_low *low = mailstream_low_new(below, &eof_driver);
	if (!low)
		return false;
	mailstream_low_set_timeout(low, mailstream_low_get_timeout(below));
	mailstream_set_low(m->s->imap_stream, low);
	return true;
}

/* ---- TLS ------------------------------------------------------------- */

static bool is_ip(const char *h)
{
	unsigned char b[16];
	return inet_pton(AF_INET, h, b) == 1 || inet_pton(AF_INET6, h, b) == 1;
}

/* TLS is OpenSSL's, under libetpan's stream: a mailstream_low driver of our
 * own.  The peer is verified during the handshake (chain against ca_file or
 * the system store, purpose "TLS server", the URL's host name or address),
 * so nothing is ever sent to an unverified server.  Debian's libetpan would
 * do TLS with GnuTLS and verify nothing, and linking it would load GnuTLS
 * and its nine libraries into every `dealmail ingest` on the MTA pipe. */
struct tls {
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
};

/* OpenSSL is loaded when a TLS connection is first needed (do_connect, before
 * connecting), not linked: loading libssl and libcrypto would be a good part
 * of the time of every `dealmail ingest` on the MTA pipe, which never opens
 * IMAP.  The headers give the types (the table's pointers have the headers'
 * own prototypes, by __typeof__) and constants; the macros the code would use
 * (SSL_CTX_set_min_proto_version, SSL_set_tlsext_host_name) are their
 * SSL_CTX_ctrl / SSL_ctrl calls, written out.  libcrypto's functions (ERR_*,
 * X509_*) are found through libssl's handle: libcrypto is its dependency. */
#define SSL_FN(f) __typeof__(f) *f
static struct {
	SSL_FN(TLS_client_method);
	SSL_FN(SSL_CTX_new);
	SSL_FN(SSL_CTX_free);
	SSL_FN(SSL_CTX_ctrl);
	SSL_FN(SSL_CTX_load_verify_locations);
	SSL_FN(SSL_CTX_set_default_verify_paths);
	SSL_FN(SSL_CTX_set_verify);
	SSL_FN(SSL_new);
	SSL_FN(SSL_free);
	SSL_FN(SSL_set_fd);
	SSL_FN(SSL_ctrl);
	SSL_FN(SSL_get0_param);
	SSL_FN(SSL_connect);
	SSL_FN(SSL_read);
	SSL_FN(SSL_write);
	SSL_FN(SSL_pending);
	SSL_FN(SSL_get_error);
	SSL_FN(SSL_get_verify_result);
	SSL_FN(X509_VERIFY_PARAM_set_purpose);
	SSL_FN(X509_VERIFY_PARAM_set1_ip_asc);
	SSL_FN(X509_VERIFY_PARAM_set_hostflags);
	SSL_FN(X509_VERIFY_PARAM_set1_host);
	SSL_FN(X509_verify_cert_error_string);
	SSL_FN(ERR_peek_error);
	SSL_FN(ERR_reason_error_string);
	SSL_FN(ERR_clear_error);
} S;
#undef SSL_FN

/* 0, or -1 with *err_r; once loaded, kept loaded for the life of the process */
static int ssl_load(char **err_r)
{
	static bool loaded;
	if (loaded)
		return 0;
	void *h = dlopen("libssl.so.3", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		*err_r = xasprintf("cannot load OpenSSL (%s): install libssl3", dlerror());
		return -1;
	}
#define SYM(f) {#f, (void **)&S.f}
	struct { const char *name; void **fn; } syms[] = {
		SYM(TLS_client_method), SYM(SSL_CTX_new), SYM(SSL_CTX_free), SYM(SSL_CTX_ctrl),
		SYM(SSL_CTX_load_verify_locations), SYM(SSL_CTX_set_default_verify_paths),
		SYM(SSL_CTX_set_verify), SYM(SSL_new), SYM(SSL_free), SYM(SSL_set_fd), SYM(SSL_ctrl),
		SYM(SSL_get0_param), SYM(SSL_connect), SYM(SSL_read), SYM(SSL_write), SYM(SSL_pending),
		SYM(SSL_get_error), SYM(SSL_get_verify_result), SYM(X509_VERIFY_PARAM_set_purpose),
		SYM(X509_VERIFY_PARAM_set1_ip_asc), SYM(X509_VERIFY_PARAM_set_hostflags),
		SYM(X509_VERIFY_PARAM_set1_host), SYM(X509_verify_cert_error_string),
		SYM(ERR_peek_error), SYM(ERR_reason_error_string), SYM(ERR_clear_error),
	};
#undef SYM
	for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++)
		if (!(*syms[i].fn = dlsym(h, syms[i].name))) {
			*err_r = xasprintf("cannot load OpenSSL (%s): install libssl3", dlerror());
			dlclose(h);
			return -1;
		}
	loaded = true;
	return 0;
}

static ssize_t tls_read(mailstream_low *s, void *buf, size_t n)
{
	struct tls *t = s->data;
	int r = S.SSL_read(t->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
	if (r > 0)
		return r;
	int e = S.SSL_get_error(t->ssl, r);
	S.ERR_clear_error();
	return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}

static ssize_t tls_write(mailstream_low *s, const void *buf, size_t n)
{
	struct tls *t = s->data;
	int r = S.SSL_write(t->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
	if (r > 0)
		return r;
	S.ERR_clear_error();
	return -1;
}

static int tls_close(mailstream_low *s)
{
	struct tls *t = s->data;
	if (t->fd >= 0) {
		close(t->fd);  /* no close_notify: a dead peer must not block us */
		t->fd = -1;
	}
	return 0;
}

static int tls_get_fd(mailstream_low *s)
{
	return ((struct tls *)s->data)->fd;
}

static void tls_free(mailstream_low *s)
{
	struct tls *t = s->data;
	S.SSL_free(t->ssl);
	S.SSL_CTX_free(t->ctx);
	free(t);
	free(s);  /* a driver's free releases the low itself (libetpan's rule) */
}

static void tls_cancel(mailstream_low *s)
{
	(void)s;
}

static struct mailstream_cancel *tls_get_cancel(mailstream_low *s)
{
	(void)s;
	return NULL;
}

static carray *tls_get_chain(mailstream_low *s)
{
	(void)s;
	return NULL;
}

static mailstream_low_driver tls_driver = {
	.mailstream_read = tls_read,
	.mailstream_write = tls_write,
	.mailstream_close = tls_close,
	.mailstream_get_fd = tls_get_fd,
	.mailstream_free = tls_free,
	.mailstream_cancel = tls_cancel,
	.mailstream_get_cancel = tls_get_cancel,
	.mailstream_get_certificate_chain = tls_get_chain,
};

/* A TCP connection to host:port within timeout seconds (each address in turn);
 * the socket is returned in blocking mode, or -1 with errno. */
static int tcp_connect(const char *host, unsigned port, int timeout)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
	char serv[8];
	int fd = -1, err = ECONNREFUSED;
	snprintf(serv, sizeof serv, "%u", port);
	int g = getaddrinfo(host, serv, &hints, &res);
	if (g != 0) {
		errno = g == EAI_SYSTEM ? errno : EHOSTUNREACH;
		return -1;
	}
	for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		int r = connect(fd, a->ai_addr, a->ai_addrlen);
		if (r < 0 && errno == EINPROGRESS) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			socklen_t len = sizeof err;
			r = poll(&p, 1, timeout * 1000);
			if (r == 0)
				err = ETIMEDOUT, r = -1;
			else if (r > 0 && (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0))
				r = -1;
			else if (r > 0)
				r = 0;
			else
				err = errno;
		} else if (r < 0)
			err = errno;
		if (r < 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0)
		errno = err;
	return fd;
}

/* The TLS handshake on a connected socket.  Returns the stream's low layer
 * (which owns fd from then on), or NULL with *st_r: IMAP_REFUSED for a
 * certificate that does not verify, IMAP_CONFIG for an unreadable ca_file,
 * IMAP_TEMP otherwise; fd is then still the caller's.  ssl_load() has
 * succeeded. */
static mailstream_low *tls_start(struct imap *m, int fd, const char *ca_file, enum imap_status *st_r)
{
	struct tls *t = xcalloc(1, sizeof *t);
	struct timeval tv = {.tv_sec = IMAP_TIMEOUT};
	mailstream_low *low = NULL;
	t->fd = fd;
	*st_r = IMAP_TEMP;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (!(t->ctx = S.SSL_CTX_new(S.TLS_client_method()))) {
		log_error("IMAP %s:%u: cannot set up TLS", m->host, m->port);
		goto fail;
	}
	/* SSL_CTX_set_min_proto_version(), as the macro expands */
	S.SSL_CTX_ctrl(t->ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, NULL);
	if (ca_file) {
		if (S.SSL_CTX_load_verify_locations(t->ctx, ca_file, NULL) != 1) {
			log_error("[imap] ca_file %s: cannot load it as PEM certificates", ca_file);
			*st_r = IMAP_CONFIG;
			goto fail;
		}
	} else if (S.SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
		log_error("IMAP %s:%u: certificate refused: cannot load the system's CA certificates", m->host,
			  m->port);
		*st_r = IMAP_REFUSED;
		goto fail;
	}
	S.SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
	if (!(t->ssl = S.SSL_new(t->ctx)) || S.SSL_set_fd(t->ssl, fd) != 1) {
		log_error("IMAP %s:%u: cannot set up TLS", m->host, m->port);
		goto fail;
	}
	X509_VERIFY_PARAM *param = S.SSL_get0_param(t->ssl);
	S.X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
	if (is_ip(m->host))
		S.X509_VERIFY_PARAM_set1_ip_asc(param, m->host);
	else {
		S.X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		S.X509_VERIFY_PARAM_set1_host(param, m->host, 0);
		/* SNI: host names only, never an address; SSL_set_tlsext_host_name(), as the macro expands */
		S.SSL_ctrl(t->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, (void *)m->host);
	}
	if (S.SSL_connect(t->ssl) != 1) {
		long v = S.SSL_get_verify_result(t->ssl);
		unsigned long e = S.ERR_peek_error();
		if (v != X509_V_OK) {
			log_error("IMAP %s:%u: certificate refused: %s%s", m->host, m->port,
				  S.X509_verify_cert_error_string(v),
				  ca_file ? "" : " (a private CA? set [imap] ca_file)");
			*st_r = IMAP_REFUSED;
		} else
			log_error("IMAP %s:%u: TLS handshake failed: %s", m->host, m->port,
				  e ? S.ERR_reason_error_string(e) : "the connection was closed");
		goto fail;
	}
	if (!(low = mailstream_low_new(t, &tls_driver))) {
		log_error("out of memory");
		goto fail;
	}
	mailstream_low_set_timeout(low, IMAP_TIMEOUT);
	S.ERR_clear_error();
	return low;
fail:
	S.ERR_clear_error();
	S.SSL_free(t->ssl);
	S.SSL_CTX_free(t->ctx);
	free(t);
	return NULL;
}

/* bytes OpenSSL has decrypted but libetpan has not read yet: invisible to poll */
static bool tls_pending(struct imap *m)
{
	mailstream_low *low = m->s->imap_stream ? mailstream_get_low(m->s->imap_stream) : NULL;
	if (low && low->driver == &eof_driver)  /* the layer of eof_is_error() */
		low = low->data;
	return low && low->driver == &tls_driver && S.SSL_pending(((struct tls *)low->data)->ssl) > 0;
}

static void keepalive(struct imap *m)
{
	int fd = mailstream_low_get_fd(mailstream_get_low(m->s->imap_stream));
	int on = 1, idle = 60, intvl = 15, cnt = 4;
	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
}

static int refresh_capabilities(struct imap *m)
{
	struct mailimap_capability_data *cap = NULL;
	int r = mailimap_capability(m->s, &cap);
	if (cap)
		mailimap_capability_data_free(cap);
	return r == MAILIMAP_NO_ERROR ? 0 : failed(m, r, "CAPABILITY");
}

/* ---- connection ------------------------------------------------------ */

static enum imap_status do_connect(struct imap *m, const struct config *cfg, const struct url *u)
{
	const struct endpoint *ep = &cfg->imap;
	enum tls_mode tls = ep->tls;
	char *ca = cfg_path(cfg, ep->ca_file);
	char *pass = NULL;
	enum imap_status st = IMAP_TEMP;
	int r;

	if (tls == TLS_DEFAULT)
		tls = u->imaps ? TLS_IMPLICIT : TLS_STARTTLS;
	if (tls != TLS_NONE) {
		/* before connecting: never a STARTTLS we could not go through with.
		 * A missing library is IMAP_TEMP like any TLS set-up failure (see
		 * tls_start): the daemon tries again, and once it is installed the
		 * next attempt loads it */
		char *err = NULL;
		if (ssl_load(&err) < 0) {
			log_error("IMAP %s:%u: %s", m->host, m->port, err);
			free(err);
			goto out;
		}
	}
	m->s = mailimap_new(0, NULL);
	if (!m->s) {
		log_error("out of memory");
		goto out;
	}
	mailimap_set_timeout(m->s, IMAP_TIMEOUT);
	int fd = tcp_connect(m->host, m->port, IMAP_TIMEOUT);
	if (fd < 0) {
		log_error("IMAP %s:%u: cannot connect: %s", m->host, m->port, strerror(errno));
		goto out;
	}
	mailstream *stream = NULL;
	if (tls == TLS_IMPLICIT) {
		mailstream_low *low = tls_start(m, fd, ca, &st);
		if (!low) {  /* tls_start said why */
			close(fd);
			goto out;
		}
		if (!(stream = mailstream_new(low, 8192)))
			mailstream_low_close(low), mailstream_low_free(low);
	} else if (!(stream = mailstream_socket_open_timeout(fd, IMAP_TIMEOUT)))
		close(fd);
	if (!stream) {
		log_error("out of memory");
		goto out;
	}
	r = mailimap_connect(m->s, stream);  /* the session owns the stream now */
	if (r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED && r != MAILIMAP_NO_ERROR_AUTHENTICATED) {
		log_error("IMAP %s:%u: cannot connect: %s", m->host, m->port,
			  r == MAILIMAP_ERROR_DONT_ACCEPT_CONNECTION ? "the server refuses connections"
								    : server_says(m, MAILIMAP_ERROR_CONNECTION_REFUSED));
		goto out;
	}
	bool preauth = r == MAILIMAP_NO_ERROR_AUTHENTICATED;
	keepalive(m);
	if (tls == TLS_STARTTLS) {
		if (preauth) {  /* PREAUTH in plain text would skip STARTTLS: an old downgrade trick */
			log_error("IMAP %s:%u: the server pre-authenticated a plain-text connection; STARTTLS "
				  "is required (use imaps://, or tls = none only for a server you trust on the path)",
				  m->host, m->port);
			st = IMAP_REFUSED;
			goto out;
		}
		if (refresh_capabilities(m) < 0)
			goto out;
		if (!mailimap_has_extension(m->s, "STARTTLS")) {
			log_error("IMAP %s:%u: the server offers no STARTTLS; use imaps://, or tls = none only "
				  "for a server you trust on the path", m->host, m->port);
			st = IMAP_REFUSED;
			goto out;
		}
		r = mailimap_starttls(m->s);
		if (r != MAILIMAP_NO_ERROR) {
			failed(m, r, "STARTTLS");
			goto out;
		}
		/* anything already buffered came in plain text after our STARTTLS:
		 * an injection on the path, never to be read as the server's words */
		if (m->s->imap_stream->read_buffer_len > 0) {
			log_error("IMAP %s:%u: the server sent data after STARTTLS before the TLS handshake; "
				  "refusing the connection", m->host, m->port);
			st = IMAP_REFUSED;
			goto out;
		}
		mailstream_low *plain = mailstream_get_low(m->s->imap_stream);
		mailstream_low *low = tls_start(m, mailstream_low_get_fd(plain), ca, &st);
		if (!low)
			goto out;
		mailstream_low_free(plain);  /* frees the plain layer, leaves the socket to TLS */
		mailstream_set_low(m->s->imap_stream, low);
	}
	st = IMAP_TEMP;
	if (!eof_is_error(m)) {
		log_error("out of memory");
		goto out;
	}
	if (refresh_capabilities(m) < 0)
		goto out;

	if (!preauth) {
		const char *mech = ep->auth && *ep->auth ? ep->auth : "login";
		if (!strcasecmp(mech, "xoauth2")) {
			char *tf = cfg_path(cfg, ep->token_file);
			if (!tf) {
				log_error("[imap] auth = xoauth2 needs token_file");
				st = IMAP_CONFIG;
				goto out;
			}
			pass = read_secret(tf, "token");
			free(tf);
			if (!pass) {
				st = IMAP_CONFIG;
				goto out;
			}
			r = mailimap_oauth2_authenticate(m->s, m->user, pass);
		} else {
			const char *env = getenv("DEALMAIL_IMAP_PASSWORD");
			if (env && *env)
				pass = xstrdup(env);
			else {
				char *pf = cfg_path(cfg, ep->password_file);
				if (!pf) {
					log_error("no IMAP password: set [imap] password_file or DEALMAIL_IMAP_PASSWORD");
					st = IMAP_CONFIG;
					goto out;
				}
				pass = read_secret(pf, "password");
				free(pf);
				if (!pass) {
					st = IMAP_CONFIG;
					goto out;
				}
			}
			if (!strcasecmp(mech, "plain"))
				r = mailimap_authenticate(m->s, "PLAIN", m->host, NULL, NULL, m->user, m->user, pass, NULL);
			else if (!strcasecmp(mech, "login"))
				r = mailimap_login(m->s, m->user, pass);
			else {
				log_error("[imap] auth = %s: expected login, plain or xoauth2", mech);
				st = IMAP_CONFIG;
				goto out;
			}
		}
		if (r != MAILIMAP_NO_ERROR) {
			if (conn_error(r))
				failed(m, r, "authentication");
			else {
				log_error("IMAP %s:%u: authentication as %s refused: %s", m->host, m->port, m->user,
					  server_says(m, r));
				st = IMAP_REFUSED;
			}
			goto out;
		}
		/* the mechanisms may leave the state alone; the server said OK */
		m->s->imap_state = MAILIMAP_STATE_AUTHENTICATED;
		if (refresh_capabilities(m) < 0)
			goto out;
	}
	m->has_idle = mailimap_has_idle(m->s);
	m->has_move = mailimap_has_extension(m->s, "MOVE");
	m->has_uidplus = mailimap_has_extension(m->s, "UIDPLUS");

	/* "Dealmail/Done" is written with '/', as SPEC's example does; a server
	 * whose hierarchy separator is another (Dovecot's Maildir++ layout:
	 * '.') refuses '/' in a name, and every MOVE failed.  LIST "" "" names
	 * the separator (RFC 3501 §6.3.8). */
	clist *sep = NULL;
	if (mailimap_list(m->s, "", "", &sep) == MAILIMAP_NO_ERROR && sep && clist_begin(sep)) {
		const struct mailimap_mailbox_list *mb = clist_content(clist_begin(sep));
		char d = mb ? mb->mb_delimiter : 0;
		if (d && d != '/') {
			char *names[] = {m->wmailbox, m->wfolder, m->wqfolder};
			for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
				for (char *c = names[k]; c && *c; c++)
					if (*c == '/')
						*c = d;
		}
	}
	if (sep)
		mailimap_list_result_free(sep);
	for (int k = 0; k < 2; k++) {
		const char *f = k == 0 ? (m->mark == MARK_MOVE ? m->wfolder : NULL) : m->wqfolder;
		if (!f)
			continue;
		r = mailimap_create(m->s, f);  /* NO [ALREADYEXISTS] is fine */
		if (r != MAILIMAP_NO_ERROR && conn_error(r)) {
			failed(m, r, "CREATE");
			goto out;
		}
	}
	r = mailimap_select(m->s, m->wmailbox);
	if (r != MAILIMAP_NO_ERROR) {
		if (!conn_error(r)) {
			log_error("IMAP %s:%u: cannot select %s: %s", m->host, m->port, m->mailbox, server_says(m, r));
			st = IMAP_CONFIG;
		} else
			failed(m, r, "SELECT");
		goto out;
	}
	m->uidvalidity = m->s->imap_selection_info ? m->s->imap_selection_info->sel_uidvalidity : 0;
	if (!m->uidvalidity) {
		log_error("IMAP %s:%u: the server gave no UIDVALIDITY for %s", m->host, m->port, m->mailbox);
		goto out;
	}
	m->last_noop = mono();
	m->need_catchup = true;
	log_verbose("IMAP %s:%u: %s selected as %s (UIDVALIDITY %u%s%s%s)", m->host, m->port, m->mailbox, m->user,
		    m->uidvalidity, m->has_idle ? ", IDLE" : "", m->has_move ? ", MOVE" : "",
		    m->has_uidplus ? ", UIDPLUS" : "");
	st = IMAP_OK;
out:
	wipe_free(pass);
	free(ca);
	return st;
}

char *imap_mutf7(const char *utf8)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
	struct buf out;
	buf_init(&out);
	const unsigned char *p = (const unsigned char *)(utf8 ? utf8 : "");
	while (*p) {
		if (*p >= 0x20 && *p < 0x7f) {
			if (*p == '&')
				buf_adds(&out, "&-");
			else
				buf_addc(&out, (char)*p);
			p++;
			continue;
		}
		/* a run of other characters: UTF-16, base64 with ',' for '/' */
		uint32_t bits = 0;
		int nbits = 0;
		buf_addc(&out, '&');
		while (*p && (*p < 0x20 || *p >= 0x7f)) {
			uint32_t cp = *p;
			int len = 1;
			if (cp >= 0xC2 && cp < 0xE0 && (p[1] & 0xC0) == 0x80) {
				cp = (cp & 0x1F) << 6 | (p[1] & 0x3F);
				len = 2;
			} else if (cp >= 0xE0 && cp < 0xF0 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80) {
				cp = (cp & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
				len = 3;
			} else if (cp >= 0xF0 && cp < 0xF5 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80 &&
				   (p[3] & 0xC0) == 0x80) {
				cp = (cp & 0x07) << 18 | (uint32_t)(p[1] & 0x3F) << 12 | (uint32_t)(p[2] & 0x3F) << 6 |
				     (p[3] & 0x3F);
				len = 4;
			}   /* else a byte that is not UTF-8: Latin-1 */
			p += len;
			uint16_t units[2];
			int nu = 1;
			if (cp >= 0x10000) {
				cp -= 0x10000;
				units[0] = (uint16_t)(0xD800 | (cp >> 10));
				units[1] = (uint16_t)(0xDC00 | (cp & 0x3FF));
				nu = 2;
			} else
				units[0] = (uint16_t)cp;
			for (int u = 0; u < nu; u++) {
				bits = bits << 16 | units[u];
				nbits += 16;
				while (nbits >= 6) {
					nbits -= 6;
					buf_addc(&out, b64[(bits >> nbits) & 0x3F]);
				}
			}
		}
		if (nbits)
			buf_addc(&out, b64[(bits << (6 - nbits)) & 0x3F]);
		buf_addc(&out, '-');
	}
	return buf_detach(&out);
}

static void imap_free(struct imap *m)
{
	if (!m)
		return;
	if (m->s)
		mailimap_free(m->s);
	free(m->host);
	free(m->mailbox);
	free(m->user);
	free(m->key);
	free(m->folder);
	free(m->qfolder);
	free(m->wmailbox);
	free(m->wfolder);
	free(m->wqfolder);
	free(m);
}

enum imap_status imap_open(const struct config *cfg, struct imap **imap_r)
{
	struct url u;
	const char *why = NULL;
	*imap_r = NULL;
	if (url_parse(cfg->imap.url, &u, &why) < 0) {
		log_error("%s", why);
		return IMAP_CONFIG;
	}
	struct imap *m = xcalloc(1, sizeof *m);
	m->host = u.host;
	m->port = u.port;
	m->mailbox = u.mailbox;
	m->user = cfg->imap.user && *cfg->imap.user ? xstrdup(cfg->imap.user) : u.user;
	if (m->user != u.user)
		free(u.user);
	if (!m->user) {
		log_error("[imap] user is not set");
		imap_free(m);
		return IMAP_CONFIG;
	}
	if (parse_processed(m, cfg->imap.processed) < 0) {
		imap_free(m);
		return IMAP_CONFIG;
	}
	m->qfolder = xstrdup(cfg->imap.quarantine);
	/* "Año", "Negociação": names go out in modified UTF-7 (raw UTF-8 is
	 * refused by servers as an invalid name) */
	if (m->mark == MARK_MOVE && m->folder &&
	    (!strcmp(m->folder, m->mailbox) || (!strcasecmp(m->folder, "INBOX") && !strcasecmp(m->mailbox, "INBOX")))) {
		log_error("[imap] processed = move:%s is the mailbox dealmail reads: each pass would fetch "
			  "its messages again", m->folder);
		imap_free(m);
		return IMAP_CONFIG;
	}
	m->wmailbox = imap_mutf7(m->mailbox);
	m->wfolder = m->folder ? imap_mutf7(m->folder) : NULL;
	m->wqfolder = m->qfolder ? imap_mutf7(m->qfolder) : NULL;
	m->key = xasprintf("%s@%s/%s", m->user, m->host, m->mailbox);
	enum imap_status st = do_connect(m, cfg, &u);
	if (st != IMAP_OK) {
		imap_free(m);
		return st;
	}
	*imap_r = m;
	return IMAP_OK;
}

static int idle_leave(struct imap *m)
{
	if (!m->idling)
		return 0;
	m->idling = false;
	int r = mailimap_idle_done(m->s);
	return r == MAILIMAP_NO_ERROR ? 0 : failed(m, r, "IDLE DONE");
}

void imap_close(struct imap **mp)
{
	struct imap *m = *mp;
	if (!m)
		return;
	if (!m->broken && m->s && idle_leave(m) == 0) {
		mailimap_set_timeout(m->s, 5);
		mailimap_logout(m->s);
	}
	imap_free(m);
	*mp = NULL;
}

bool imap_broken(const struct imap *m)
{
	return !m || m->broken;
}

const char *imap_mailbox_key(const struct imap *m)
{
	return m->key;
}

/* ---- UID sets -------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* uids[0..n) sorted: a set of at most MARK_RANGES ranges; *used_r = how many
 * UIDs it covers. */
static struct mailimap_set *make_set(const uint32_t *uids, size_t n, size_t *used_r)
{
	struct mailimap_set *set = mailimap_set_new_empty();
	size_t i = 0, ranges = 0;
	while (i < n && ranges < MARK_RANGES) {
		size_t j = i;
		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		mailimap_set_add_interval(set, uids[i], uids[j]);
		ranges++;
		i = j + 1;
	}
	*used_r = i;
	return set;
}

/* UID SEARCH with a key; sorted UIDs in [lo, hi] (hi 0 = no limit). */
static int search(struct imap *m, struct mailimap_search_key *key, uint32_t lo, uint32_t hi,
		  uint32_t **uids_r, size_t *n_r)
{
	clist *res = NULL;
	*uids_r = NULL;
	*n_r = 0;
	int r = mailimap_uid_search(m->s, NULL, key, &res);
	mailimap_search_key_free(key);
	if (r != MAILIMAP_NO_ERROR)
		return failed(m, r, "UID SEARCH");
	uint32_t *v = xmalloc((clist_count(res) + 1) * sizeof *v);
	size_t n = 0;
	for (clistiter *it = clist_begin(res); it; it = clist_next(it)) {
		uint32_t u = *(uint32_t *)clist_content(it);
		if (u >= lo && (!hi || u <= hi))  /* "n:*" includes the highest UID even below n */
			v[n++] = u;
	}
	mailimap_search_result_free(res);
	qsort(v, n, sizeof *v, cmp_u32);
	*uids_r = v;
	*n_r = n;
	return 0;
}

static struct mailimap_search_key *key_uids(uint32_t lo, uint32_t hi)
{
	return mailimap_search_key_new_uid(mailimap_set_new_interval(lo, hi));
}

/* ---- marking --------------------------------------------------------- */

static int store_flags(struct imap *m, struct mailimap_set *set, bool deleted)
{
	struct mailimap_flag_list *fl = mailimap_flag_list_new_empty();
	if (deleted)
		mailimap_flag_list_add(fl, mailimap_flag_new_deleted());
	else {
		mailimap_flag_list_add(fl, mailimap_flag_new_seen());
		mailimap_flag_list_add(fl, mailimap_flag_new_flag_keyword(xstrdup(KEYWORD)));
	}
	struct mailimap_store_att_flags *att = mailimap_store_att_flags_new_add_flags_silent(fl);
	int r = mailimap_uid_store(m->s, set, att);
	mailimap_store_att_flags_free(att);
	return r == MAILIMAP_NO_ERROR ? 0 : failed(m, r, "UID STORE");
}

/* Mark processed messages on the server.  Called only after the commits of
 * these UIDs are durable.  A failure leaves need_catchup set. */
static int mark_to(struct imap *m, const uint32_t *uids, size_t n, struct imap_stats *st, const char *folder);

static int mark(struct imap *m, const uint32_t *uids, size_t n, struct imap_stats *st)
{
	return mark_to(m, uids, n, st, m->mark == MARK_MOVE ? m->wfolder : NULL);
}

/* Flag the UIDs (folder NULL) or move them to `folder`. */
static int mark_to(struct imap *m, const uint32_t *uids, size_t n, struct imap_stats *st, const char *folder)
{
	size_t done = 0;
	while (done < n) {
		size_t used;
		struct mailimap_set *set = make_set(uids + done, n - done, &used);
		int r = 0;
		if (!folder)
			r = store_flags(m, set, false);
		else if (m->has_move) {
			int e = mailimap_uid_move(m->s, set, folder);
			r = e == MAILIMAP_NO_ERROR ? 0 : failed(m, e, "UID MOVE");
		} else {
			int e = mailimap_uid_copy(m->s, set, folder);
			r = e == MAILIMAP_NO_ERROR ? 0 : failed(m, e, "UID COPY");
			if (r == 0)
				r = store_flags(m, set, true);
			if (r == 0 && m->has_uidplus) {
				e = mailimap_uid_expunge(m->s, set);
				r = e == MAILIMAP_NO_ERROR ? 0 : failed(m, e, "UID EXPUNGE");
			} else if (r == 0 && !m->warned_expunge) {
				log_info("IMAP %s: no MOVE and no UIDPLUS: copied messages are left marked \\Deleted "
					 "(an EXPUNGE would also remove messages others deleted)", m->host);
				m->warned_expunge = true;
			}
		}
		mailimap_set_free(set);
		if (r < 0) {
			m->need_catchup = true;
			return -1;
		}
		done += used;
		if (st)
			st->marked += used;
	}
	return 0;
}

/* Marks lost earlier: every message at or below the checkpoint that is still
 * here unmarked (flag: without $Dealmail; move: not \Deleted). */
static int catch_up(struct imap *m, uint32_t last, struct imap_stats *st)
{
	uint32_t *uids;
	size_t n;
	struct mailimap_search_key *k = mailimap_search_key_new_multiple_empty();
	mailimap_search_key_multiple_add(k, key_uids(1, last));
	if (m->mark == MARK_FLAG)
		mailimap_search_key_multiple_add(k, mailimap_search_key_new_unkeyword(xstrdup(KEYWORD)));
	else
		mailimap_search_key_multiple_add(k, mailimap_search_key_new(MAILIMAP_SEARCH_KEY_UNDELETED,
			NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0,
			NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL));
	if (search(m, k, 1, last, &uids, &n) < 0)
		return -1;
	int r = 0;
	if (n) {
		log_info("%s: marking %zu message(s) processed earlier", m->key, n);
		r = mark(m, uids, n, st);
	}
	free(uids);
	if (r == 0)
		m->need_catchup = false;
	return r;
}

/* ---- a pass ------------------------------------------------------------ */

struct fetched {
	uint32_t uid;
	const char *raw;
	size_t len;
};

static int cmp_fetched(const void *a, const void *b)
{
	return cmp_u32(&((const struct fetched *)a)->uid, &((const struct fetched *)b)->uid);
}

/* RFC822.SIZE of uids[0..n) into sizes (0 = gone, expunged meanwhile). */
static int fetch_sizes(struct imap *m, const uint32_t *uids, size_t n, uint32_t *sizes)
{
	struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty();
	mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_uid());
	mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_rfc822_size());
	memset(sizes, 0, n * sizeof *sizes);
	size_t done = 0;
	int rc = 0;
	while (done < n && rc == 0) {
		size_t used;
		struct mailimap_set *set = make_set(uids + done, n - done, &used);
		clist *res = NULL;
		int r = mailimap_uid_fetch(m->s, set, ft, &res);
		mailimap_set_free(set);
		if (r != MAILIMAP_NO_ERROR) {
			rc = failed(m, r, "UID FETCH (RFC822.SIZE)");
			break;
		}
		for (clistiter *it = clist_begin(res); it; it = clist_next(it)) {
			struct mailimap_msg_att *ma = clist_content(it);
			uint32_t uid = 0, size = 0;
			for (clistiter *a = clist_begin(ma->att_list); a; a = clist_next(a)) {
				struct mailimap_msg_att_item *item = clist_content(a);
				if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
					continue;
				if (item->att_data.att_static->att_type == MAILIMAP_MSG_ATT_UID)
					uid = item->att_data.att_static->att_data.att_uid;
				else if (item->att_data.att_static->att_type == MAILIMAP_MSG_ATT_RFC822_SIZE)
					size = item->att_data.att_static->att_data.att_rfc822_size;
			}
			const uint32_t *p = bsearch(&uid, uids + done, used, sizeof *uids, cmp_u32);
			if (p)
				sizes[p - uids] = size ? size : 1;
		}
		mailimap_fetch_list_free(res);
		done += used;
	}
	mailimap_fetch_type_free(ft);
	return rc;
}

static void progress(size_t done, size_t total, bool end)
{
	static bool shown;
	if (total < 50 || log_level < 1 || !isatty(2))
		return;
	if (!end && done % 25 && done != total)
		return;
	fprintf(stderr, "\rdealmail: %zu/%zu messages", done, total);
	shown = true;
	if (end && shown) {
		fputc('\n', stderr);
		shown = false;
	}
}

/* Fetch, process and mark one batch.  Returns 0 or an exit code; *stopped
 * when asked to stop. */
static int run_batch(struct imap *m, struct app *app, const uint32_t *uids, size_t n,
		     bool (*stop)(void *), void *ctx, struct imap_stats *st, bool *stopped,
		     size_t *progress_done, size_t total)
{
	struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty();
	mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_uid());
	mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_body_peek_section(
		mailimap_section_new(NULL)));
	size_t used;
	struct mailimap_set *set = make_set(uids, n, &used);  /* n ≤ BATCH_COUNT < MARK_RANGES */
	clist *res = NULL;
	int r = mailimap_uid_fetch(m->s, set, ft, &res);
	mailimap_set_free(set);
	mailimap_fetch_type_free(ft);
	if (r != MAILIMAP_NO_ERROR) {
		failed(m, r, "UID FETCH (BODY.PEEK[])");
		return EXIT_TEMPFAIL;
	}
	struct fetched *v = xcalloc(clist_count(res) + 1, sizeof *v);
	size_t nv = 0;
	for (clistiter *it = clist_begin(res); it; it = clist_next(it)) {
		struct mailimap_msg_att *ma = clist_content(it);
		struct fetched f = {0};
		for (clistiter *a = clist_begin(ma->att_list); a; a = clist_next(a)) {
			struct mailimap_msg_att_item *item = clist_content(a);
			if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
				continue;
			struct mailimap_msg_att_static *s = item->att_data.att_static;
			if (s->att_type == MAILIMAP_MSG_ATT_UID)
				f.uid = s->att_data.att_uid;
			else if (s->att_type == MAILIMAP_MSG_ATT_BODY_SECTION && s->att_data.att_body_section) {
				f.raw = s->att_data.att_body_section->sec_body_part;
				f.len = s->att_data.att_body_section->sec_length;
			}
		}
		/* only what was asked for: a server may add unsolicited FETCH responses */
		if (f.uid && f.raw && bsearch(&f.uid, uids, n, sizeof *uids, cmp_u32))
			v[nv++] = f;
	}
	qsort(v, nv, sizeof *v, cmp_fetched);

	uint32_t *acked = xmalloc((nv + 1) * sizeof *acked);
	uint32_t *qacked = xmalloc((nv + 1) * sizeof *qacked);  /* quarantined, for [imap] quarantine */
	size_t nacked = 0, nqacked = 0;
	int code = batch_begin(app);
	for (size_t i = 0; i < nv && !code; i++) {
		if (i && v[i].uid == v[i - 1].uid)
			continue;
		struct source_ack src = {m->key, m->uidvalidity, v[i].uid};
		int c = process_message(app, v[i].raw, v[i].len, &src);
		st->fetched++;
		if (c == EXIT_OK || c == EXIT_DATAERR) {
			if (c == EXIT_DATAERR && m->qfolder)
				qacked[nqacked++] = v[i].uid;
			else
				acked[nacked++] = v[i].uid;
			if (c == EXIT_OK)
				st->done++;
			else
				st->quarantined++;
		} else {
			log_error("%s: UID %u: %s; it stays on the server and is tried again", m->key, v[i].uid,
				  c == EXIT_TEMPFAIL ? "temporary failure" : "database error");
			code = c == EXIT_TEMPFAIL ? EXIT_TEMPFAIL : EXIT_IOERR;
			break;
		}
		progress(++*progress_done, total, false);
		if (stop && stop(ctx)) {
			*stopped = true;
			break;
		}
	}
	mailimap_fetch_list_free(res);
	free(v);
	if (app->in_batch_tx) {
		/* a failed message was rolled back to its savepoint: those before it
		 * are good.  The commit is synced: only after it may they be marked. */
		int b = batch_commit(app);
		if (b) {
			log_error("%s: cannot commit the batch (exit %d); it is fetched again later", m->key, b);
			nacked = nqacked = 0;
			if (!code)
				code = b;
		}
	}
	if (nacked && mark(m, acked, nacked, st) < 0 && m->broken && !code)
		code = EXIT_TEMPFAIL;
	/* messages kept in the quarantine go to the quarantine folder, where a
	 * person looks at them; the database keeps their bytes either way */
	if (nqacked && !m->broken && mark_to(m, qacked, nqacked, st, m->wqfolder) < 0 && m->broken && !code)
		code = EXIT_TEMPFAIL;
	free(acked);
	free(qacked);
	return code;
}

/* The checkpoint of this mailbox; false when none. */
static bool read_checkpoint(struct app *app, const char *key, uint32_t *uv_r, uint32_t *last_r)
{
	bool found = false;
	struct dbq *q = db_query(app->db, "SELECT uidvalidity, last_uid FROM mailboxes WHERE name = ?", "t", key);
	if (q && db_next(q)) {
		*uv_r = (uint32_t)db_col_int(q, 0);
		*last_r = (uint32_t)db_col_int(q, 1);
		found = true;
	}
	if (q)
		db_done(q);
	return found;
}

int imap_pass(struct imap *m, struct app *app, bool (*stop)(void *), void *ctx, struct imap_stats *st)
{
	struct imap_stats dummy;
	if (!st)
		st = &dummy;
	memset(st, 0, sizeof *st);
	if (m->broken || idle_leave(m) < 0)
		return EXIT_TEMPFAIL;

	uint32_t uv = 0, last = 0, start = 1;
	if (read_checkpoint(app, m->key, &uv, &last)) {
		if (uv == m->uidvalidity)
			start = last + 1;
		else
			log_info("%s: UIDVALIDITY changed (%u -> %u): rescanning from UID 1; messages already "
				 "applied are recognised by Message-ID and skipped", m->key, uv, m->uidvalidity);
	}
	if (db_error(app->db)) {
		log_error("%s: %s", m->key, db_error(app->db));
		bool temp = db_tempfail(app->db);
		db_clear_error(app->db);
		return temp ? EXIT_TEMPFAIL : EXIT_IOERR;
	}
	if (start > 1 && m->need_catchup && catch_up(m, start - 1, st) < 0 && m->broken)
		return EXIT_TEMPFAIL;
	if (start == 0)  /* last_uid was 2^32-1 */
		return 0;

	uint32_t *uids;
	size_t n;
	if (search(m, key_uids(start, UINT32_MAX), start, 0, &uids, &n) < 0)
		return EXIT_TEMPFAIL;
	if (!n) {
		free(uids);
		return 0;
	}
	log_verbose("%s: %zu new message(s) from UID %u", m->key, n, uids[0]);

	bool was_batch = app->batch, stopped = false;
	app->batch = true;
	uint32_t *sizes = xmalloc(SIZE_CHUNK * sizeof *sizes);
	uint32_t *batch = xmalloc(BATCH_COUNT * sizeof *batch);
	size_t pdone = 0;
	int code = 0;
	for (size_t i = 0; i < n && !code && !stopped; i += SIZE_CHUNK) {
		size_t chunk = n - i < SIZE_CHUNK ? n - i : SIZE_CHUNK;
		if (fetch_sizes(m, uids + i, chunk, sizes) < 0) {
			code = EXIT_TEMPFAIL;
			break;
		}
		size_t j = 0;
		while (j < chunk && !code && !stopped) {
			size_t nb = 0;
			uint64_t bytes = 0;
			for (; j < chunk && nb < BATCH_COUNT; j++) {
				if (!sizes[j])
					continue;  /* expunged meanwhile */
				if (nb && bytes + sizes[j] > BATCH_BYTES)
					break;
				bytes += sizes[j];
				batch[nb++] = uids[i + j];
			}
			if (nb)
				code = run_batch(m, app, batch, nb, stop, ctx, st, &stopped, &pdone, n);
		}
	}
	progress(pdone, n, true);
	app->batch = was_batch;
	free(batch);
	free(sizes);
	free(uids);
	if (st->fetched)
		log_info("%s: %zu message(s) fetched: %zu processed, %zu quarantined%s", m->key, st->fetched,
			 st->done, st->quarantined, stopped ? " (stopping)" : "");
	return code;
}

/* ---- waiting ----------------------------------------------------------- */

static enum imap_wait wait_fd(int fd, int timeout_ms, const sigset_t *waitmask)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	struct timespec ts, *tsp = NULL;
	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
		tsp = &ts;
	}
	int r = ppoll(&p, 1, tsp, waitmask);
	if (r < 0)
		return errno == EINTR ? IMAP_WAIT_SIGNAL : IMAP_WAIT_LOST;
	return r == 0 ? IMAP_WAIT_TIMEOUT : IMAP_WAIT_NEWS;
}

static int min_ms(int a, long b)
{
	if (b < 0)
		b = 0;
	if (b > 24L * 3600 * 1000)
		b = 24L * 3600 * 1000;
	return a < 0 || b < a ? (int)b : a;
}

enum imap_wait imap_wait(struct imap *m, int timeout_ms, const sigset_t *waitmask)
{
	if (m->broken)
		return IMAP_WAIT_LOST;
	time_t now = mono();
	if (m->has_idle) {
		if (!m->idling) {
			int r = mailimap_idle(m->s);
			if (r != MAILIMAP_NO_ERROR) {
				failed(m, r, "IDLE");
				if (m->broken)
					return IMAP_WAIT_LOST;
				m->has_idle = false;  /* refused: poll with NOOP instead */
				return IMAP_WAIT_NEWS;
			}
			m->idling = true;
			m->idle_since = now;
			log_verbose("%s: IDLE, waiting for new mail", m->key);
		}
		/* a response already read into libetpan's or OpenSSL's buffer is invisible to poll */
		if ((m->s->imap_stream && m->s->imap_stream->read_buffer_len > 0) || tls_pending(m))
			return IMAP_WAIT_NEWS;
		long left = (long)(m->idle_since + IDLE_PERIOD - now) * 1000;
		if (left <= 0)
			return IMAP_WAIT_NEWS;  /* the pass ends this IDLE; the next wait starts another */
		int t = min_ms(timeout_ms, left);
		enum imap_wait w = wait_fd(mailimap_idle_get_fd(m->s), t, waitmask);
		if (w == IMAP_WAIT_TIMEOUT && t == left)
			return IMAP_WAIT_NEWS;
		if (w == IMAP_WAIT_LOST)
			m->broken = true;
		return w;
	}
	long left = (long)(m->last_noop + NOOP_PERIOD - now) * 1000;
	int t = min_ms(timeout_ms, left);
	enum imap_wait w = IMAP_WAIT_NEWS;
	if (left > 0) {
		if ((m->s->imap_stream && m->s->imap_stream->read_buffer_len > 0) || tls_pending(m))
			w = IMAP_WAIT_NEWS;
		else
			w = wait_fd(mailstream_low_get_fd(mailstream_get_low(m->s->imap_stream)), t, waitmask);
		if (w == IMAP_WAIT_TIMEOUT && t == left)
			w = IMAP_WAIT_NEWS;
	}
	if (w != IMAP_WAIT_NEWS)
		return w;
	int r = mailimap_noop(m->s);
	m->last_noop = mono();
	if (r != MAILIMAP_NO_ERROR) {
		failed(m, r, "NOOP");
		return IMAP_WAIT_LOST;
	}
	return IMAP_WAIT_NEWS;
}
