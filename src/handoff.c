/* handoff.c — see handoff.h.  Only libc and Nettle: dealmail-pipe links this
 * file statically and nothing else of dealmail. */
#include "handoff.h"
#include <errno.h>
#include <nettle/sha2.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

static char *dup_trim(const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t' || *s == '\r'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	char *r = malloc(n + 1);
	if (r) {
		memcpy(r, s, n);
		r[n] = '\0';
	}
	return r;
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
	size_t n = strlen(dir) + strlen(p) + 2;
	char *r = malloc(n);
	if (r)
		snprintf(r, n, "%s/%s", dir, p);
	free(p);
	return r;
}

bool handoff_conf_read(const char *path, struct handoff_conf *hc)
{
	memset(hc, 0, sizeof *hc);
	hc->pipe_timeout = 8;
	FILE *f = path ? fopen(path, "re") : NULL;
	if (!f)
		return false;
	char line[4096];
	bool ours = false;
	while (fgets(line, sizeof line, f)) {
		char *l = line;
		if (!strncmp(l, "\xEF\xBB\xBF", 3))
			l += 3;
		l[strcspn(l, "\n")] = '\0';
		while (*l == ' ' || *l == '\t')
			l++;
		if (!*l || *l == ';' || *l == '#')
			continue;
		if (*l == '[') {
			char *name = dup_trim(l + 1, strcspn(l + 1, "]"));
			ours = name && !strcasecmp(name, "dealmail");
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
		if (key && v && !strcasecmp(key, "database")) {
			free(hc->database);
			hc->database = v, v = NULL;
		} else if (key && v && !strcasecmp(key, "socket")) {
			free(hc->socket);
			hc->socket = v, v = NULL;
		} else if (key && v && !strcasecmp(key, "pipe_timeout")) {
			char *end;
			long t = strtol(v, &end, 10);
			if (*v && !*end && t >= 1 && t <= 3600)
				hc->pipe_timeout = (int)t;
		}
		free(key);
		free(v);
	}
	fclose(f);
	/* paths are relative to the file's folder, the database defaults there */
	const char *slash = strrchr(path, '/');
	char *dir = slash ? (slash == path ? strdup("/") : strndup(path, (size_t)(slash - path))) : strdup(".");
	if (!dir)
		return false;
	if (!hc->database || !*hc->database) {
		free(hc->database);
		hc->database = strdup("dealmail.db");
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

static void ctx_add(struct sha256_ctx *c, const char *label, const char *s)
{
	sha256_update(c, strlen(label) + 1, (const uint8_t *)label);
	if (s)
		sha256_update(c, strlen(s) + 1, (const uint8_t *)s);
	else
		sha256_update(c, 1, (const uint8_t *)"\x01");
}

void handoff_context(unsigned char out[32], const char *config_path, const char *database)
{
	struct sha256_ctx c;
	struct stat st;
	char tmp[160];
	sha256_init(&c);
	ctx_add(&c, "dealmail pipe context 1", NULL);
	if (config_path && stat(config_path, &st) == 0)
		snprintf(tmp, sizeof tmp, "%ju:%ju:%jd:%jd.%09ld", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino,
			 (intmax_t)st.st_size, (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	else
		snprintf(tmp, sizeof tmp, "none");
	ctx_add(&c, "config", tmp);
	if (database && stat(database, &st) == 0)
		snprintf(tmp, sizeof tmp, "%ju:%ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
	else
		snprintf(tmp, sizeof tmp, "none");
	ctx_add(&c, "database", tmp);
	/* the secret itself stays out of the message: its digest goes in */
	const char *secret = getenv("DEALMAIL_SECRET");
	if (secret && *secret) {
		uint8_t d[SHA256_DIGEST_SIZE];
		struct sha256_ctx s;
		sha256_init(&s);
		sha256_update(&s, strlen(secret), (const uint8_t *)secret);
		sha256_digest(&s, sizeof d, d);
		for (size_t i = 0; i < sizeof d; i++)
			snprintf(tmp + 2 * i, 3, "%02x", d[i]);
		ctx_add(&c, "secret", tmp);
	} else
		ctx_add(&c, "secret", NULL);
	ctx_add(&c, "now", getenv("DEALMAIL_NOW"));
	ctx_add(&c, "templates", getenv("DEALMAIL_TEMPLATES_DIR"));
	ctx_add(&c, "tzdir", getenv("TZDIR"));
	sha256_digest(&c, 32, out);
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
	if (s < 0)
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
	 * deadline covers the wait in serve's queue too. */
	char buf[600];
	size_t have = 0;
	bool taken = false;
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
			} else if (taken && buf[0] == 'V' && buf[1] == ' ') {
				char *end;
				long code = strtol(buf + 2, &end, 10);
				if (end > buf + 2 && (code == 0 || code == 65 || code == 75)) {
					snprintf(line, linesz, "%s", *end == ' ' ? end + 1 : end);
					close(s);
					return (int)code;
				}
			}
			memmove(buf, buf + used, have - used);
			have -= used;
		}
		long left = (long)timeout * 1000 - ms_since(&t0);
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
		if (r == 0)
			snprintf(line, linesz,
				 "4.3.0 dealmail: serve did not answer within %d s; the message will be retried", timeout);
		else
			snprintf(line, linesz, "4.3.0 dealmail: serve ended without a verdict; the message will be retried");
		return 75;
	}
}
