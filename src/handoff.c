/* handoff.c — see handoff.h.  dealmail-pipe links this file with its own
 * small runtime instead of libc (src/pipe/rt.c: a static program that starts
 * in a fraction of glibc's time), so it calls only what that runtime has:
 * the memory and string functions, malloc/free, getenv, and system calls.
 * No stdio, no printf: the digest's numbers are written by our own code on
 * both sides of the socket. */
#include "handoff.h"
#include "sha256.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

const char *handoff_config_path(const char *given)
{
	const char *e = getenv("DEALMAIL_CONFIG");
	if (given)
		return given;
	if (e && *e)
		return e;
	if (access("dealmail.conf", F_OK) == 0)
		return "dealmail.conf";
	if (access("/etc/dealmail/dealmail.conf", F_OK) == 0)
		return "/etc/dealmail/dealmail.conf";
	return NULL;
}

/* ---- the three keys, as config.c reads them -------------------------------- */

static char *dup_n(const char *s, size_t n)
{
	char *r = malloc(n + 1);
	if (r) {
		memcpy(r, s, n);
		r[n] = '\0';
	}
	return r;
}

static char *dup_trim(const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t' || *s == '\r'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	return dup_n(s, n);
}

/* ASCII case-insensitive equality (the section and key names) */
static bool same_word(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
		char y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
		if (x != y)
			return false;
	}
	return *a == *b;
}

/* A value: "quoted" (with \" and \\), or up to an inline comment (a `;`, or
 * a `#` followed by a blank, at the start or after a blank). */
static char *conf_value(const char *v)
{
	if (*v == '"') {
		const char *close = v + 1;
		while (*close && *close != '"')
			close += close[0] == '\\' && (close[1] == '"' || close[1] == '\\') ? 2 : 1;
		if (*close == '"') {
			char *r = malloc(strlen(v)), *o = r;
			if (!r)
				return NULL;
			for (const char *p = v + 1; p < close; p++) {
				if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
					p++;
				*o++ = *p;
			}
			*o = '\0';
			return r;
		}
	}
	size_t n = strlen(v);
	bool inq = false;
	for (size_t i = 0; v[i]; i++) {
		if (v[i] == '"')
			inq = !inq;
		if (inq || (i && v[i - 1] != ' ' && v[i - 1] != '\t'))
			continue;
		if (v[i] == ';' || (v[i] == '#' && (!v[i + 1] || v[i + 1] == ' ' || v[i + 1] == '\t'))) {
			n = i;
			break;
		}
	}
	return dup_trim(v, n);
}

static char *join_dir(const char *dir, char *p)
{
	if (!p || !*p || p[0] == '/')
		return p;
	size_t d = strlen(dir), n = strlen(p);
	char *r = malloc(d + n + 2);
	if (r) {
		memcpy(r, dir, d);
		r[d] = '/';
		memcpy(r + d + 1, p, n + 1);
	}
	free(p);
	return r;
}

/* pipe_timeout's value: 1 to 3600, digits after an optional `+` (as
 * config.c takes it) */
static int timeout_of(const char *v)
{
	long t = 0;
	if (*v == '+')
		v++;
	if (!*v)
		return -1;
	for (; *v; v++) {
		if (*v < '0' || *v > '9' || (t = t * 10 + (*v - '0')) > 3600)
			return -1;
	}
	return t >= 1 ? (int)t : -1;
}

/* The whole file, NUL-terminated (a configuration is small: the client
 * gives up on one over 1 MiB, and dealmail then reads it). */
static char *slurp(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	char *s = NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < (1 << 20) &&
	    (s = malloc((size_t)st.st_size + 1))) {
		size_t have = 0;
		for (;;) {
			ssize_t n = read(fd, s + have, (size_t)st.st_size - have);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				free(s);
				s = NULL;
				break;
			}
			have += (size_t)n;
			if (n == 0 || have == (size_t)st.st_size)
				break;
		}
		if (s)
			s[have] = '\0';
	}
	close(fd);
	return s;
}

bool handoff_conf_read(const char *path, struct handoff_conf *hc)
{
	memset(hc, 0, sizeof *hc);
	hc->pipe_timeout = 8;
	char *text = path ? slurp(path) : NULL;
	if (!text)
		return false;
	bool ours = false;
	for (char *l = text, *next; l; l = next) {
		char *nl = strchr(l, '\n');
		next = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		if (l == text && !strncmp(l, "\xEF\xBB\xBF", 3))
			l += 3;
		while (*l == ' ' || *l == '\t')
			l++;
		if (!*l || *l == ';' || *l == '#')
			continue;
		if (*l == '[') {
			char *close = strchr(l + 1, ']');
			char *name = dup_trim(l + 1, close ? (size_t)(close - l - 1) : strlen(l + 1));
			ours = name && same_word(name, "dealmail");
			free(name);
			continue;
		}
		char *eq = strchr(l, '=');
		if (!ours || !eq)
			continue;
		char *key = dup_trim(l, (size_t)(eq - l));
		char *raw = dup_trim(eq + 1, strlen(eq + 1));
		char *v = raw ? conf_value(raw) : NULL;
		free(raw);
		if (key && v && same_word(key, "database")) {
			free(hc->database);
			hc->database = v, v = NULL;
		} else if (key && v && same_word(key, "socket")) {
			free(hc->socket);
			hc->socket = v, v = NULL;
		} else if (key && v && same_word(key, "pipe_timeout")) {
			int t = timeout_of(v);
			if (t > 0)
				hc->pipe_timeout = t;
		}
		free(key);
		free(v);
	}
	free(text);
	/* paths are relative to the file's folder, the database defaults there */
	const char *slash = strrchr(path, '/');
	char *dir = slash ? (slash == path ? dup_n("/", 1) : dup_n(path, (size_t)(slash - path))) : dup_n(".", 1);
	if (!dir) {
		handoff_conf_free(hc);
		return false;
	}
	if (!hc->database || !*hc->database) {
		free(hc->database);
		hc->database = dup_n("dealmail.db", 11);
	}
	hc->database = join_dir(dir, hc->database);
	hc->socket = join_dir(dir, hc->socket);
	free(dir);
	return true;
}

void handoff_conf_free(struct handoff_conf *hc)
{
	free(hc->database);
	free(hc->socket);
	memset(hc, 0, sizeof *hc);
}

/* ---- the context ------------------------------------------------------------- */

static void ctx_add(struct dm_sha256 *c, const char *label, const char *s)
{
	dm_sha256_update(c, label, strlen(label) + 1);
	if (s)
		dm_sha256_update(c, s, strlen(s) + 1);
	else
		dm_sha256_update(c, "\x01", 1);
}

/* `v` in decimal at `o`, at least `width` digits; the end */
static char *put_num(char *o, uintmax_t v, int width)
{
	char d[24];
	int n = 0;
	do
		d[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (n < width)
		d[n++] = '0';
	while (n)
		*o++ = d[--n];
	*o = '\0';
	return o;
}

static char *put_signed(char *o, intmax_t v)
{
	if (v < 0) {
		*o++ = '-';
		return put_num(o, -(uintmax_t)v, 0);
	}
	return put_num(o, (uintmax_t)v, 0);
}

void handoff_context(unsigned char out[32], const char *config_path, const char *database)
{
	struct dm_sha256 c;
	struct stat st;
	char tmp[160], *o;
	dm_sha256_init(&c);
	ctx_add(&c, "dealmail pipe context 1", NULL);
	/* device:inode:size:seconds.nanoseconds of the config's mtime */
	if (config_path && stat(config_path, &st) == 0) {
		o = put_num(tmp, (uintmax_t)st.st_dev, 0);
		*o++ = ':';
		o = put_num(o, (uintmax_t)st.st_ino, 0);
		*o++ = ':';
		o = put_signed(o, (intmax_t)st.st_size);
		*o++ = ':';
		o = put_signed(o, (intmax_t)st.st_mtim.tv_sec);
		*o++ = '.';
		put_num(o, (uintmax_t)st.st_mtim.tv_nsec, 9);
	} else
		memcpy(tmp, "none", 5);
	ctx_add(&c, "config", tmp);
	if (database && stat(database, &st) == 0) {
		o = put_num(tmp, (uintmax_t)st.st_dev, 0);
		*o++ = ':';
		put_num(o, (uintmax_t)st.st_ino, 0);
	} else
		memcpy(tmp, "none", 5);
	ctx_add(&c, "database", tmp);
	/* the secret itself stays out of the message: its digest goes in */
	const char *secret = getenv("DEALMAIL_SECRET");
	if (secret && *secret) {
		unsigned char d[32];
		struct dm_sha256 s;
		dm_sha256_init(&s);
		dm_sha256_update(&s, secret, strlen(secret));
		dm_sha256_final(&s, d);
		for (size_t i = 0; i < sizeof d; i++) {
			tmp[2 * i] = "0123456789abcdef"[d[i] >> 4];
			tmp[2 * i + 1] = "0123456789abcdef"[d[i] & 15];
		}
		tmp[64] = '\0';
		ctx_add(&c, "secret", tmp);
	} else
		ctx_add(&c, "secret", NULL);
	ctx_add(&c, "now", getenv("DEALMAIL_NOW"));
	ctx_add(&c, "templates", getenv("DEALMAIL_TEMPLATES_DIR"));
	ctx_add(&c, "tzdir", getenv("TZDIR"));
	dm_sha256_final(&c, out);
}

/* ---- the client ---------------------------------------------------------------- */

void handoff_msg(struct msghdr *mh, struct iovec *iov, struct handoff_req *req, union handoff_ctrl *ctrl)
{
	memset(ctrl, 0, sizeof *ctrl);
	memset(mh, 0, sizeof *mh);
	iov->iov_base = req;
	iov->iov_len = sizeof *req;
	mh->msg_iov = iov;
	mh->msg_iovlen = 1;
	mh->msg_control = ctrl->buf;
	mh->msg_controllen = sizeof ctrl->buf;
}

/* a, b and c (those given) one after the other in line[linesz], cut to fit */
static void copy_line(char *line, size_t linesz, const char *a, const char *b, const char *c)
{
	size_t n = 0;
	const char *parts[3] = {a, b, c};
	for (int i = 0; i < 3; i++)
		for (const char *p = parts[i]; p && *p && n + 1 < linesz; p++)
			line[n++] = *p;
	line[n] = '\0';
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long)(t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

int handoff_try(const char *path, int timeout, const unsigned char ctx[32], char *line, size_t linesz)
{
	struct sockaddr_un sa;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	line[0] = '\0';
	if (!path || !*path || strlen(path) >= sizeof sa.sun_path)
		return -1;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* descriptor 0 for the socket: there is no stdin to pass (it would be
	 * the socket itself, and serve would wait for it to send a message) */
	if (s == STDIN_FILENO)
		close(s);
	if (s <= STDIN_FILENO)
		return -1;
	if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(s);
		return -1;
	}
	/* only a serve of our own user (or root) gets our mail */
	struct ucred uc;
	socklen_t ul = sizeof uc;
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &uc, &ul) < 0 || (uc.uid != geteuid() && uc.uid != 0)) {
		close(s);
		return -1;
	}
	struct handoff_req req;
	memcpy(req.magic, HANDOFF_MAGIC, sizeof req.magic);
	memcpy(req.ctx, ctx, sizeof req.ctx);
	struct iovec iov;
	union handoff_ctrl u;
	struct msghdr mh;
	handoff_msg(&mh, &iov, &req, &u);
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	int in = STDIN_FILENO;
	memcpy(CMSG_DATA(cm), &in, sizeof in);
	if (sendmsg(s, &mh, MSG_NOSIGNAL) != (ssize_t)sizeof req) {
		close(s);
		return -1;
	}
	/* "N\n": not ours, stdin untouched.  "Y\n": serve has taken the
	 * message, then "V <code> <line>\n" once its commit is durable.  The
	 * deadline covers the wait in serve's queue too.  "C\n" before "V":
	 * serve is committing (it commits nothing for a client that is gone):
	 * the verdict is then waited for a moment past the deadline, so that
	 * a message being applied is not answered 75. */
	char buf[600];
	size_t have = 0;
	bool taken = false, committing = false;
	for (;;) {
		char *nl;
		while ((nl = memchr(buf, '\n', have))) {
			*nl = '\0';
			size_t used = (size_t)(nl - buf) + 1;
			if (!taken && !strcmp(buf, "N")) {
				close(s);
				return -1;
			}
			if (!taken && !strcmp(buf, "Y")) {
				taken = true;
			} else if (taken && !strcmp(buf, "C")) {
				committing = true;
			} else if (taken && buf[0] == 'V' && buf[1] == ' ') {
				const char *end = buf + 2;
				int code = 0;
				while (*end >= '0' && *end <= '9' && code < 1000)
					code = code * 10 + (*end++ - '0');
				if (end > buf + 2 && (code == 0 || code == 65 || code == 75)) {
					copy_line(line, linesz, *end == ' ' ? end + 1 : end, NULL, NULL);
					close(s);
					return code;
				}
			}
			memmove(buf, buf + used, have - used);
			have -= used;
		}
		long left = (long)timeout * 1000 + (committing ? HANDOFF_COMMIT_GRACE_MS : 0) - ms_since(&t0);
		struct pollfd p = {.fd = s, .events = POLLIN};
		int r = left > 0 ? poll(&p, 1, (int)left) : 0;
		if (r < 0 && errno == EINTR)
			continue;
		ssize_t n = r > 0 ? read(s, buf + have, sizeof buf - 1 - have) : -1;
		if (n < 0 && r > 0 && errno == EINTR)
			continue;
		if (n > 0) {
			have += (size_t)n;
			if (have < sizeof buf - 1)
				continue;
		}
		close(s);
		/* serve went away (or refused us) before it took the message: what
		 * it says comes in order, so it has not read our stdin.  Past the
		 * deadline we may not know that any more: it may be sending "Y"
		 * right now, and then it reads stdin while we would. */
		if (!taken && r > 0)
			return -1;
		if (r == 0) {
			char secs[24];
			put_num(secs, (uintmax_t)(timeout > 0 ? timeout : 0), 0);
			copy_line(line, linesz, "4.3.0 dealmail: serve did not answer within ", secs,
				  " s; the message will be retried");
		} else
			copy_line(line, linesz, "4.3.0 dealmail: serve ended without a verdict; the message will be retried",
				  NULL, NULL);
		return 75;
	}
}
