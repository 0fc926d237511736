/* serve.c — `dealmail serve`: the MTA pipe's messages, handed over the Unix
 * socket of [dealmail] socket by `dealmail ingest` and dealmail-pipe (the
 * protocol and why: handoff.h).
 *
 * One message at a time, in the order the clients connect; each is what the
 * pipe would have done (source_pipe_message: one transaction, synced), and
 * the verdict goes back only after that commit.  Clients wait in the
 * socket's queue under their own deadline (pipe_timeout).  Before each
 * message the configuration, database and secret files are looked at again:
 * a change reloads them, and a client whose context differs from ours (its
 * digest covers the same files and the environment) processes the message
 * itself.  A crash of serve costs nothing: a client that had handed its
 * message over answers 75 (the MTA retries; a message committed before the
 * crash is then a duplicate), the next ones find nobody listening and
 * process their messages themselves. */
#include "app.h"
#include "cli.h"
#include "handoff.h"
#include "serve.h"
#include "source.h"
#include "template.h"
#include "util.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal, reload_signal;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_signal = 1;
	else
		stop_signal = sig;
}

/* a file as we loaded it: a change of any of these reloads */
struct ident {
	bool present;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

static struct ident ident_of(const char *path, bool content)
{
	struct ident id;
	struct stat st;
	memset(&id, 0, sizeof id);
	if (path && stat(path, &st) == 0) {
		id.present = true;
		id.dev = st.st_dev;
		id.ino = st.st_ino;
		if (content) {   /* the database's size and time change with every commit */
			id.size = st.st_size;
			id.mtime = st.st_mtim;
		}
	}
	return id;
}

static bool ident_same(const struct ident *a, const struct ident *b)
{
	return a->present == b->present && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

struct server {
	const char *config_path;
	int (*open)(struct app *);
	struct app app;
	bool open_ok;
	struct ident conf, db, secret;
	unsigned char ctx[32];
	unsigned long served, declined;
};

static struct ident secret_ident(const struct server *s)
{
	const char *env = getenv("DEALMAIL_SECRET");
	return ident_of(env && *env ? NULL : s->app.cfg->secret_file, true);
}

static void server_close(struct server *s)
{
	if (s->open_ok)
		app_close(&s->app);
	s->open_ok = false;
}

/* (Re)open when anything we loaded has changed on disk since. */
static void refresh(struct server *s)
{
	struct ident conf = ident_of(s->config_path, true);
	if (s->open_ok) {
		struct ident db = ident_of(s->app.cfg->database, false), secret = secret_ident(s);
		if (!reload_signal && ident_same(&conf, &s->conf) && ident_same(&db, &s->db) &&
		    ident_same(&secret, &s->secret))
			return;
		log_info("serve: %s: reloading", reload_signal ? "SIGHUP" : "the configuration, database or secret changed");
		server_close(s);
	}
	reload_signal = 0;
	template_cache_clear();   /* templates are read again too */
	s->conf = conf;
	if (s->open(&s->app) != 0) {
		log_error("serve: cannot load the configuration and database; clients process their messages "
			  "themselves until that changes");
		return;
	}
	s->open_ok = true;
	s->db = ident_of(s->app.cfg->database, false);
	s->secret = secret_ident(s);
	handoff_context(s->ctx, s->config_path, s->app.cfg->database);
}

static void say(int c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(int c, const char *fmt, ...)
{
	char line[600];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n > 0)
		(void)!send(c, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1, MSG_NOSIGNAL);
}

static long ms_left(const struct timespec *deadline)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long)(deadline->tv_sec - t.tv_sec) * 1000 + (deadline->tv_nsec - t.tv_nsec) / 1000000;
}

/* The message from the client's stdin: at most `max` bytes kept (the rest
 * read and counted), by the deadline.  NULL with errno (ETIMEDOUT). */
static char *read_message(int fd, size_t max, const struct timespec *deadline, size_t *len_r, size_t *total_r)
{
	struct buf b;
	char chunk[65536];
	buf_init(&b);
	*total_r = 0;
	for (;;) {
		long left = ms_left(deadline);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = left > 0 ? poll(&p, 1, (int)left) : 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			buf_release(&b);
			errno = r == 0 ? ETIMEDOUT : errno;
			return NULL;
		}
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			int e = errno;
			buf_release(&b);
			errno = e;
			return NULL;
		}
		if (n == 0)
			break;
		*total_r += (size_t)n;
		if (b.len < max)
			buf_add(&b, chunk, (size_t)n < max - b.len ? (size_t)n : max - b.len);
	}
	*len_r = b.len;
	return buf_detach(&b);
}

/* One client: its request and stdin, then the verdict. */
struct waiter {
	int c;        /* the client's connection */
	bool gone;    /* it had given up when the commit came */
};

/* before_commit for a handed-over message: the client is still connected
 * (it has not given up), and now knows that the commit is under way. */
static bool client_waits(void *arg)
{
	struct waiter *w = arg;
	struct pollfd p = {.fd = w->c, .events = POLLRDHUP};
	w->gone = poll(&p, 1, 0) != 0 || send(w->c, "C\n", 2, MSG_NOSIGNAL) != 2;
	return !w->gone;
}

static void serve_one(struct server *s, int c)
{
	struct ucred uc = {.pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1};
	socklen_t ul = sizeof uc;
	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &uc, &ul) < 0 || (uc.uid != geteuid() && uc.uid != 0)) {
		log_error("serve: refused a client of user %ld (only our own user and root may hand mail over)",
			  (long)uc.uid);
		return;
	}
	struct handoff_req req;
	struct iovec iov;
	union handoff_ctrl u;
	struct msghdr mh;
	handoff_msg(&mh, &iov, &req, &u);
	struct pollfd p = {.fd = c, .events = POLLIN};
	if (poll(&p, 1, 2000) <= 0)
		return;   /* a client sends its request right after connecting */
	ssize_t n = recvmsg(c, &mh, MSG_CMSG_CLOEXEC);
	int fd = -1;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)) && fd < 0)
			memcpy(&fd, CMSG_DATA(cm), sizeof fd);
	if (n != (ssize_t)sizeof req || (mh.msg_flags & MSG_CTRUNC) || fd < 0 ||
	    memcmp(req.magic, HANDOFF_MAGIC, sizeof req.magic)) {
		say(c, "N\n");
		if (fd >= 0)
			close(fd);
		return;
	}
	refresh(s);
	if (!s->open_ok || memcmp(req.ctx, s->ctx, sizeof s->ctx)) {
		/* another config, database or environment: the client does it */
		s->declined++;
		log_verbose("serve: a client with another configuration, database or environment: declined");
		say(c, "N\n");
		close(fd);
		return;
	}
	/* a client that gave up (its deadline) is gone: then its stdin is not ours */
	if (send(c, "Y\n", 2, MSG_NOSIGNAL) != 2) {
		close(fd);
		return;
	}
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += s->app.cfg->pipe_timeout;
	size_t len = 0, total = 0;
	char *raw = read_message(fd, config_quarantine_max(s->app.cfg) + 1, &deadline, &len, &total);
	close(fd);
	char line[256] = "";
	int rc;
	if (!raw) {
		snprintf(line, sizeof line, "4.3.0 dealmail: cannot read the message: %s; it will be retried",
			 strerror(errno));
		rc = EXIT_TEMPFAIL;
	} else {
		/* A client past its deadline has answered 75 and is gone: the MTA
		 * retries, and then closes the pipe -- what we read may be the
		 * head of the message only.  So nothing commits unless the client
		 * still waits, and it is told first ("C"): it then waits a moment
		 * past its deadline for the verdict instead of answering 75 for a
		 * message that is being applied. */
		struct waiter w = {.c = c};
		s->app.before_commit = client_waits;
		s->app.before_commit_arg = &w;
		rc = source_pipe_message(&s->app, raw, len, total, line, sizeof line);
		s->app.before_commit = NULL;
		if (w.gone)
			log_info("serve: the client gave up before the commit (its deadline): nothing applied, "
				 "the MTA retries");
		free(raw);
		if (rc == EXIT_TEMPFAIL && !*line)
			snprintf(line, sizeof line, "4.3.0 dealmail: temporary failure; the message will be retried");
		if (*line)   /* a database error may have left the handle unusable: open anew */
			server_close(s);
	}
	s->served++;
	log_verbose("serve: message %lu: exit %d", s->served, rc);
	say(c, "V %d %s\n", rc, line);
}

/* Bind `path`, replacing only a socket nobody listens on. */
static int listen_on(const char *path, struct ident *bound)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa.sun_path) {
		log_error("serve: socket path %s is too long", path);
		return -EXIT_CONFIG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_error("serve: %s exists and is not a socket; not touching it", path);
			return -EXIT_CANTCREAT;
		}
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0;
		if (probe >= 0)
			close(probe);
		if (live) {
			log_error("serve: another dealmail serve is listening on %s", path);
			return -EXIT_TEMPFAIL;
		}
		unlink(path);   /* left by a serve that ended without cleaning up */
	}
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		log_error("serve: socket: %s", strerror(errno));
		return -EXIT_TEMPFAIL;
	}
	mode_t old = umask(0177);   /* 0600: our own user only (root passes anyway) */
	int r = bind(s, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (r < 0 || listen(s, 128) < 0) {
		log_error("serve: cannot listen on %s: %s", path, strerror(errno));
		close(s);
		return -EXIT_CANTCREAT;
	}
	*bound = ident_of(path, false);
	return s;
}

int serve_run(const char *config_path, int (*open)(struct app *))
{
	struct server s;
	memset(&s, 0, sizeof s);
	s.config_path = config_path;
	s.open = open;
	refresh(&s);
	if (!s.open_ok)
		return EXIT_CONFIG;
	if (!s.app.cfg->socket) {
		log_error("serve: no socket to listen on: set [dealmail] socket in %s",
			  config_path ? config_path : "the configuration");
		server_close(&s);
		return EXIT_CONFIG;
	}
	char *path = xstrdup(s.app.cfg->socket);
	struct ident bound;
	int l = listen_on(path, &bound);
	if (l < 0) {
		free(path);
		server_close(&s);
		return -l;
	}
	/* The signals arrive only while we wait for a client (ppoll): a
	 * message in hand is finished, its verdict given. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigset_t block, waitmask;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGHUP);
	log_info("serve: listening on %s (database %s)", path, s.app.cfg->database);
	while (!stop_signal) {
		if (reload_signal)
			refresh(&s);   /* now, so that its errors show now */
		struct pollfd p = {.fd = l, .events = POLLIN};
		if (ppoll(&p, 1, NULL, &waitmask) < 0)
			continue;   /* EINTR: a signal; the loop looks at it */
		int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		serve_one(&s, c);
		close(c);
	}
	close(l);
	struct ident now = ident_of(path, false);
	if (ident_same(&now, &bound))
		unlink(path);   /* ours still: no client may find a dead socket */
	log_info("serve: stopped by signal %d after %lu messages (%lu clients declined)", (int)stop_signal,
		 s.served, s.declined);
	free(path);
	server_close(&s);
	return 0;
}
