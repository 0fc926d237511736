/* watch.c — `watch [--once]` and `run`: the IMAP source as a cron job or as
 * the daemon.
 *
 * The process:
 *   - holds an exclusive flock on "<database>.lock" (its pid inside) for its
 *     whole life, so two watchers never work on one database's mailbox;
 *   - keeps SIGTERM, SIGINT and SIGHUP blocked except while it waits (IDLE,
 *     backoff): a signal never interrupts a network read or a transaction.
 *     During a pass they are looked at after every message: TERM/INT finish
 *     the message in hand, make the batch durable, mark it, log out, exit 0;
 *     HUP reloads the configuration (a bad one is refused and the running
 *     one kept) and reconnects;
 *   - reconnects after a failure with growing delays (1 s doubling to 5 min,
 *     with jitter), catching up on all that arrived meanwhile;
 *   - `run` also calls tick_run() (stale deals, drips, outbox delivery) at
 *     start and every TICK_PERIOD seconds, while the IMAP connection idles;
 *     without an [imap] url it only ticks.
 * Logging goes to stderr (journald under systemd); -v and -q set the level. */
#include "app.h"
#include "cli.h"
#include "deliver.h"
#include "imap.h"
#include "util.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define TICK_PERIOD   60          /* seconds between ticks in `run` */
#define BACKOFF_MAX   300         /* seconds */
#define EXIT_NOPERM   77          /* certificate or credentials refused (--once) */

static volatile sig_atomic_t got_stop, got_hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_stop = 1;
}

/* Block TERM/INT/HUP; *waitmask_r is the mask to wait with (them unblocked). */
static void signals_setup(sigset_t *waitmask_r)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, waitmask_r);
	sigdelset(waitmask_r, SIGTERM);
	sigdelset(waitmask_r, SIGINT);
	sigdelset(waitmask_r, SIGHUP);
}

/* Take signals that arrived while blocked. */
static void signals_poll(void)
{
	sigset_t set;
	struct timespec zero = {0, 0};
	int sig;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	while ((sig = sigtimedwait(&set, NULL, &zero)) > 0)
		on_signal(sig);
}

static bool should_stop(void *ctx)
{
	(void)ctx;
	signals_poll();
	return got_stop;
}

static time_t mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Sleep up to `ms` with signals deliverable.  false when a signal came. */
static bool nap(long ms, const sigset_t *waitmask)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	if (ms <= 0)
		return true;
	return !(ppoll(NULL, 0, &ts, waitmask) < 0 && errno == EINTR);
}

/* ---- the lock -------------------------------------------------------- */

static int lock_take(const struct config *cfg, int *fd_r)
{
	char *path = xasprintf("%s.lock", cfg->database);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_error("cannot open the lock file %s: %s", path, strerror(errno));
		free(path);
		return EXIT_CANTCREAT;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		char pid[32] = "";
		ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
		if (n > 0) {
			pid[n] = '\0';
			pid[strcspn(pid, "\n")] = '\0';
		}
		if (errno == EWOULDBLOCK || errno == EAGAIN || n >= 0)
			log_error("another dealmail watch or run%s%s%s is working on this database (lock %s)",
				  *pid ? " (pid " : "", pid, *pid ? ")" : "", path);
		close(fd);
		free(path);
		return EXIT_TEMPFAIL;
	}
	char pid[32];
	int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len)
		log_error("cannot write the pid to %s: %s", path, strerror(errno));
	free(path);
	*fd_r = fd;
	return 0;
}

static void lock_release(int fd)
{
	if (fd >= 0) {
		if (ftruncate(fd, 0) < 0) {
			/* the lock goes with the descriptor anyway */
		}
		close(fd);
	}
}

/* ---- the loop -------------------------------------------------------- */

struct daemon {
	struct app app;
	struct imap *imap;
	bool once, with_tick;
	sigset_t waitmask;
	unsigned failures;
	time_t next_tick;
	unsigned seed;
};

static long backoff_ms(struct daemon *d)
{
	long base = 1000L << (d->failures < 9 ? d->failures : 9);
	if (base > BACKOFF_MAX * 1000L)
		base = BACKOFF_MAX * 1000L;
	d->failures++;
	/* jitter: uniform in [base/2, base] so that many clients do not align */
	return base / 2 + (long)(rand_r(&d->seed) % (unsigned)(base / 2 + 1));
}

static void do_tick(struct daemon *d)
{
	if (!d->with_tick)
		return;
	time_t now = mono();
	if (now < d->next_tick)
		return;
	d->next_tick = now + TICK_PERIOD;
	int rc = tick_run(&d->app);
	if (rc)
		log_error("tick failed (exit %d); trying again in %d s", rc, TICK_PERIOD);
}

/* ms until the next tick, or -1 when none. */
static long tick_wait_ms(const struct daemon *d)
{
	if (!d->with_tick)
		return -1;
	long s = (long)(d->next_tick - mono());
	return s > 0 ? s * 1000 : 0;
}

static void reload(struct daemon *d)
{
	struct app fresh;
	got_hup = 0;
	log_info("SIGHUP: reloading the configuration");
	int rc = app_open(&fresh, false);
	if (rc) {
		log_error("the new configuration cannot be used (exit %d); keeping the running one", rc);
		return;
	}
	imap_close(&d->imap);
	app_close(&d->app);
	d->app = fresh;
	d->failures = 0;
	log_info("configuration reloaded");
}

/* Wait `ms` (backoff) while ticking and heeding signals. */
static void wait_backoff(struct daemon *d, long ms)
{
	time_t until = mono() * 1000 + ms;
	for (;;) {
		signals_poll();
		if (got_stop || got_hup)
			return;
		do_tick(d);
		long left = until - mono() * 1000;
		if (left <= 0)
			return;
		long t = tick_wait_ms(d);
		nap(t >= 0 && t < left ? (t ? t : 1) : left, &d->waitmask);
	}
}

static int status_code(enum imap_status st)
{
	switch (st) {
	case IMAP_OK: return EXIT_OK;
	case IMAP_TEMP: return EXIT_TEMPFAIL;
	case IMAP_REFUSED: return EXIT_NOPERM;
	default: return EXIT_CONFIG;
	}
}

static int loop(struct daemon *d)
{
	bool ever_connected = false;
	while (!got_stop) {
		signals_poll();
		if (got_stop)
			break;
		if (got_hup)
			reload(d);
		do_tick(d);
		if (d->with_tick && !d->app.cfg->imap.url) {
			/* run without [imap]: tick only */
			long t = tick_wait_ms(d);
			nap(t >= 0 ? (t ? t : 1) : 3600 * 1000L, &d->waitmask);
			continue;
		}
		if (!d->imap) {
			enum imap_status st = imap_open(d->app.cfg, &d->imap);
			if (st != IMAP_OK) {
				if (d->once || (st == IMAP_CONFIG && !ever_connected))
					return status_code(st);
				long ms = backoff_ms(d);
				log_info("IMAP: trying again in %.1f s", ms / 1000.0);
				wait_backoff(d, ms);
				continue;
			}
			if (ever_connected)
				log_info("IMAP: reconnected to %s", imap_mailbox_key(d->imap));
			ever_connected = true;
		}
		struct imap_stats st;
		int rc = imap_pass(d->imap, &d->app, should_stop, NULL, &st);
		if (imap_broken(d->imap)) {
			imap_close(&d->imap);
			if (d->once)
				return EXIT_TEMPFAIL;
			if (got_stop)
				break;
			/* the first attempt is immediate: a server restart is usually over */
			if (d->failures)
				wait_backoff(d, backoff_ms(d));
			else
				d->failures++;
			continue;
		}
		if (rc) {
			if (d->once)
				return rc;
			long ms = backoff_ms(d);
			log_info("trying the pass again in %.1f s", ms / 1000.0);
			wait_backoff(d, ms);
			continue;
		}
		d->failures = 0;
		if (d->once || got_stop)
			break;
		/* Mail that arrived during the pass may have been announced in the
		 * answer to our FETCH/STORE/MOVE, and IDLE would not announce it
		 * again: pass until a pass finds nothing (its SEARCH is then
		 * current, and IDLE reports what comes after it). */
		if (st.fetched || st.marked)
			continue;
		/* wait for news, ticking meanwhile */
		for (;;) {
			signals_poll();
			if (got_stop || got_hup)
				break;
			do_tick(d);
			enum imap_wait w = imap_wait(d->imap, (int)tick_wait_ms(d), &d->waitmask);
			if (w == IMAP_WAIT_TIMEOUT || w == IMAP_WAIT_SIGNAL)
				continue;
			if (w == IMAP_WAIT_LOST) {
				log_info("IMAP: connection to %s lost; reconnecting", imap_mailbox_key(d->imap));
				imap_close(&d->imap);
			}
			break;
		}
	}
	if (got_stop)
		log_info("stopping: signal received");
	return EXIT_OK;
}

static int start(bool once, bool with_tick)
{
	struct daemon d;
	int lock = -1;
	memset(&d, 0, sizeof d);
	d.once = once;
	d.with_tick = with_tick;
	d.seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	signals_setup(&d.waitmask);
	int rc = app_open(&d.app, false);
	if (rc)
		return rc;
	if (!with_tick && !d.app.cfg->imap.url) {
		log_error("watch: no [imap] url in the configuration");
		app_close(&d.app);
		return EXIT_CONFIG;
	}
	rc = lock_take(d.app.cfg, &lock);
	if (rc) {
		app_close(&d.app);
		return rc;
	}
	rc = loop(&d);
	imap_close(&d.imap);
	app_close(&d.app);
	lock_release(lock);
	return rc;
}

int cmd_watch(int argc, char **argv)
{
	bool once = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--once"))
			once = true;
		else {
			fprintf(stderr, "dealmail: watch: unknown argument %s (see `dealmail help watch`)\n", argv[i]);
			return EXIT_USAGE;
		}
	}
	return start(once, false);
}

int cmd_run(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "dealmail: run takes no arguments (see `dealmail help run`)\n");
		return EXIT_USAGE;
	}
	return start(false, true);
}
