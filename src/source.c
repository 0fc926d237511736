/* source.c — see source.h.
 *
 * Durability: the pipe path commits each message with synchronous=FULL before
 * exiting 0.  Batch sources (Maildir, mbox) open one transaction per batch
 * of messages (see BATCH_MAX); each message is still all-or-nothing: in an
 * mbox it has a savepoint of its own, in a Maildir a failed message rolls
 * back its whole batch (the files stay for the next run).  The batch's
 * commit is synced (FULL) and only then are its Maildir files marked (new/
 * -> cur/ with the S flag).  A crash loses at most the uncommitted batch,
 * which the next run re-reads and de-duplicates. */
#include "source.h"
#include "util.h"
#include "message.h"
#include "text.h"
#include <dirent.h>
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A batch's transaction ends after BATCH_MAX messages or BATCH_MS of work,
 * whichever comes first.  Each commit writes every page its batch dirtied
 * (index pages, the tail of each table) to the WAL once: 4,096 messages
 * instead of 1,024 took 10,000 from 0.79 to 0.69 s (256: 0.89 s; 16,384
 * with 2 s: 0.77 s, the WAL and the cache spill grow).  The time
 * bound keeps the write lock, which a piped delivery waits for, short on a
 * slow machine. */
#define BATCH_MAX 4096
#define BATCH_MS 250

/* DEALMAIL_BATCH_MAX lowers the count (README; t-crash.sh uses it so that a
 * short Maildir still acknowledges batches while it is being killed). */
static size_t batch_max(void)
{
	static size_t n;
	if (!n) {
		const char *e = getenv("DEALMAIL_BATCH_MAX");
		char *end;
		unsigned long v = e && *e ? strtoul(e, &end, 10) : 0;
		n = v >= 1 && v <= BATCH_MAX && !*end ? (size_t)v : BATCH_MAX;
	}
	return n;
}

static double elapsed_ms(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) * 1e3 + (double)(now.tv_nsec - since->tv_nsec) / 1e6;
}

char *read_file(const char *path, size_t *len_r)
{
	size_t total;
	return read_file_max(path, 0, len_r, &total);
}

static char *read_fd_max(int fd, size_t max, size_t *len_r, size_t *total_r);

char *read_file_max(const char *path, size_t max, size_t *len_r, size_t *total_r)
{
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : 0;
	return read_fd_max(fd, max, len_r, total_r);
}

/* A file of a directory already open: no path walk from the root each time.
 * O_NOATIME where the files are ours: a read does not make the kernel
 * write each file's inode back (its access time), and nothing reads the
 * access time of a Maildir file.  Files of another owner refuse it (EPERM):
 * from the first such file on, they are opened as usual. */
static atomic_bool noatime_refused;

static char *read_file_at(int dirfd, const char *name, bool regular, size_t *len_r)
{
	size_t total;
	int fd = -1;
	/* O_NONBLOCK: a FIFO that readdir() could not tell apart must not
	 * block the run at its open; O_NOFOLLOW: a symlink is not a message
	 * of this Maildir (one to /etc/passwd was read as one) */
	if (!atomic_load_explicit(&noatime_refused, memory_order_relaxed)) {
		fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOATIME | O_NONBLOCK | O_NOFOLLOW);
		if (fd < 0 && errno == EPERM)
			atomic_store_explicit(&noatime_refused, true, memory_order_relaxed);
	}
	if (fd < 0 && (errno == EPERM || atomic_load_explicit(&noatime_refused, memory_order_relaxed)))
		fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
	if (fd >= 0 && !regular) {
		/* readdir() did not say it is a file (DT_UNKNOWN, a symlink) */
		struct stat st;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			errno = EINVAL;
			return NULL;
		}
	}
	if (fd >= 0 && regular) {
		/* A mail file is mostly a few KiB: one read() into the stack sees
		 * all of it (a regular file reads short only at its end), with no
		 * fstat() for its size first.  One that fills the chunk is read
		 * again from the start, the general way. */
		char chunk[65536];
		ssize_t n;
		do
			n = read(fd, chunk, sizeof chunk);
		while (n < 0 && errno == EINTR);
		if (n >= 0 && (size_t)n < sizeof chunk) {
			char *s = xmalloc((size_t)n + 1);
			memcpy(s, chunk, (size_t)n);
			s[n] = '\0';
			close(fd);
			*len_r = (size_t)n;
			return s;
		}
		if (n < 0 || lseek(fd, 0, SEEK_SET) != 0) {
			int e = n < 0 ? errno : EIO;
			close(fd);
			errno = e;
			return NULL;
		}
	}
	return read_fd_max(fd, 0, len_r, &total);
}

/* Read fd (0: stdin, left open; any other is closed) to its end. */
/* What the pipe's worker has left of pipe_timeout once the message is read
 * (not a local of source_pipe(): vfork() could clobber it). */
static int worker_timeout;

/* The pipe's deadline for reading its message (tv_sec 0: none): a writer
 * that stalls must not keep the MTA waiting past pipe_timeout. */
static struct timespec read_deadline;

/* Wait until fd is readable or read_deadline passes: false (ETIMEDOUT) then. */
static bool readable_in_time(int fd)
{
	if (!read_deadline.tv_sec)
		return true;
	for (;;) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long ms = (long)(read_deadline.tv_sec - now.tv_sec) * 1000 +
			  (read_deadline.tv_nsec - now.tv_nsec) / 1000000;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = ms > 0 ? poll(&p, 1, (int)ms) : 0;
		if (r > 0)
			return true;
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			errno = ETIMEDOUT;
		return false;
	}
}

static char *read_fd_max(int fd, size_t max, size_t *len_r, size_t *total_r)
{
	struct buf b;
	char chunk[65536];
	ssize_t n;
	struct stat st;
	if (fd < 0)
		return NULL;
	buf_init(&b);
	b.max = max;
	*total_r = 0;
	/* a regular file: one allocation of the right size, read into directly
	 * (the loop below then only sees its end, or what was appended) */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		size_t want = (size_t)st.st_size;
		if (max && want > max)
			want = max;
		b.s = xmalloc(want + 1);
		b.cap = want + 1;
		while (b.len < want) {
			n = read(fd, b.s + b.len, want - b.len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;   /* an error is seen again by the loop below */
			b.len += (size_t)n;
		}
		b.s[b.len] = '\0';
		*total_r = b.len;
		/* all of it: no read to see the end (a syscall per file; a file
		 * of a Maildir is complete before it is in new/ or cur/) */
		if (b.len == (size_t)st.st_size)
			goto done;
	}
	while ((n = readable_in_time(fd) ? read(fd, chunk, sizeof chunk) : -1) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			if (fd)
				close(fd);
			buf_release(&b);
			errno = e;
			return NULL;
		}
		*total_r += (size_t)n;
		if (max && b.len + (size_t)n > max)
			buf_add(&b, chunk, max - b.len);  /* keep the head, drop the rest */
		else
			buf_add(&b, chunk, (size_t)n);
	}
done:
	if (fd)
		close(fd);
	*len_r = b.len;
	return buf_detach(&b);
}

/* The worker's verdict once its commit is durable, seen by the parent
 * through the memory vfork() shares (-1: none yet). */
static volatile sig_atomic_t pipe_verdict = -1;

/* In the worker: the verdict is final.  Should the worker die after it (the
 * deadline or a crash while closing the database), the parent still answers
 * with it.  Nothing of ours may reach the MTA after it (the database's close
 * may still log): stdio goes to /dev/null. */
void source_pipe_release(int code)
{
	pipe_verdict = code;
	fflush(NULL);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		close(null);
	}
}

/* The worker's life, in the vfork()ed child.  The deadline is its own:
 * SIGALRM, whose default action ends it (the MTA may have started us with
 * SIGALRM ignored or blocked: both are undone). */
static volatile sig_atomic_t worker_started;

static int pipe_worker(int (*work)(void *ctx, const char *raw, size_t len, size_t total), void *ctx,
		       char *raw, size_t len, size_t total, int timeout)
{
	worker_started = 1;   /* seen by the parent when vfork() shares memory */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGALRM, &sa, NULL);
	sigset_t alrm;
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	sigprocmask(SIG_UNBLOCK, &alrm, NULL);
	if (timeout > 0)
		alarm((unsigned)timeout);
	int code = work(ctx, raw, len, total);
	free(raw);
	fflush(NULL);
	return code;
}

/* What the parent says to the MTA: written with write(2) from a buffer on
 * its stack, since after a vfork()ed worker the heap and stdio are the
 * worker's (it may have died holding one of their locks). */
static void pipe_say(const char *fmt, int n)
{
	char line[200];
	int k = snprintf(line, sizeof line, fmt, n);
	if (k > 0) {
		ssize_t w = write(STDOUT_FILENO, line, (size_t)k < sizeof line ? (size_t)k : sizeof line - 1);
		(void)w;
	}
}

int source_pipe(int (*work)(void *ctx, const char *raw, size_t len, size_t total), void *ctx,
		int timeout, size_t max)
{
	size_t len, total;
	/* pipe_timeout counts from here: the message's arrival too (a writer
	 * that stalls), then the worker has what is left of it */
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (timeout > 0) {
		read_deadline = t0;
		read_deadline.tv_sec += timeout;
	}
	char *raw = read_file_max("-", max, &len, &total);
	read_deadline.tv_sec = 0;
	if (!raw) {
		if (errno == ETIMEDOUT)
			printf("4.3.0 dealmail: the message did not arrive within %d s; it will be retried\n", timeout);
		else
			printf("4.3.0 dealmail: cannot read the message: %s\n", strerror(errno));
		fflush(stdout);   /* the caller ends with _exit() */
		return EXIT_TEMPFAIL;
	}
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	int spent = (int)(t1.tv_sec - t0.tv_sec);
	worker_timeout = timeout > 0 && timeout - spent > 1 ? timeout - spent : timeout > 0 ? 1 : timeout;
	/* The worker is a vfork()ed child: it shares our memory and we sleep
	 * until it exits, so starting it copies no page table and its writes
	 * fault no copy-on-write page (fork() did both: ~2 ms of a 12 ms
	 * message on a small VM).  It is still a process of its own: a crash,
	 * an abort or the deadline ends it alone, and its exit status is the
	 * verdict.  From here on the parent touches only its stack (see
	 * pipe_say); the caller must _exit() with what we return without
	 * freeing anything.  (Valgrind runs vfork() as fork(): then the worker's
	 * mark is not in our memory and we free our copy of the message.) */
	fflush(NULL);
	pid_t pid = vfork();
	if (pid == 0)
		_exit(pipe_worker(work, ctx, raw, len, total, worker_timeout));
	if (pid < 0) {
		pipe_say("4.3.0 dealmail: cannot start the worker (errno %d); the message will be retried\n", errno);
		return EXIT_TEMPFAIL;
	}
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			pipe_say("4.3.0 dealmail: lost the worker (errno %d); the message will be retried\n", errno);
			return EXIT_TEMPFAIL;
		}
	}
	if (!worker_started)
		free(raw);   /* vfork() ran as fork() (Valgrind does): our own copy */
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (pipe_verdict >= 0)
		return pipe_verdict;   /* died after its commit: the verdict stands */
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		pipe_say("4.3.0 dealmail: processing took longer than %d s; the message will be retried\n", timeout);
	else
		pipe_say("4.3.0 dealmail: processing crashed (signal %d); the message will be retried\n",
			 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return EXIT_TEMPFAIL;
}

int pipe_verdict_of(int rc, char *line, size_t linesz)
{
	line[0] = '\0';
	if (rc == EXIT_OK || rc == EXIT_DATAERR || rc == EXIT_TEMPFAIL)
		return rc;
	snprintf(line, linesz, "4.3.0 dealmail: cannot process the message now (exit %d); it will be retried", rc);
	return EXIT_TEMPFAIL;
}

int source_pipe_message(struct app *app, const char *raw, size_t len, size_t total, char *line, size_t linesz)
{
	int rc;
	if (total > len) {
		/* larger than the quarantine keeps: only its head was read (see
		 * config_quarantine_max()); it goes to the quarantine with the real
		 * size in the reason */
		char why[200];
		snprintf(why, sizeof why, "message of %zu bytes is over the %zu-byte limit ([limits] max_message_bytes)",
			 total, app->cfg->max_message_bytes);
		rc = quarantine_message(app, raw, len, total, why, NULL);
	} else   /* one over max_message_bytes is quarantined whole, unparsed */
		rc = process_message(app, raw, len, NULL);
	return pipe_verdict_of(rc, line, linesz);
}

static int worst(int a, int b)
{
	/* temporary beats everything: the caller must retry */
	if (a == EXIT_TEMPFAIL || b == EXIT_TEMPFAIL)
		return EXIT_TEMPFAIL;
	return a ? a : b;
}

int source_files(struct app *app, char **files, int n)
{
	int code = 0;
	for (int i = 0; i < n; i++) {
		size_t len;
		char *raw = read_file(files[i], &len);
		if (!raw) {
			log_error("%s: %s", files[i], strerror(errno));
			code = worst(code, EXIT_NOINPUT);
			continue;
		}
		int c = process_message(app, raw, len, NULL);
		free(raw);
		code = worst(code, c);
		if (c == EXIT_TEMPFAIL)
			break;
	}
	return code;
}

struct entry {
	char *dir, *name;
	bool regular;   /* readdir() said so (d_type) */
	bool unread;    /* could not be read: left where it is, not marked */
	unsigned char keyed;   /* 0, or how many of k[] the name starts with */
	uint64_t k[2];
};

/* Delivery order, as far as the names tell it: the deliverers' names carry
 * numbers that are not zero-padded (Dovecot's "<secs>.M<usecs>P<pid>.<host>",
 * mbsync's "<secs>.<pid>_<n>.<host>"), so "...M102345P1" came after
 * "...M98765P1" and "_10" after "_9": runs of digits compare by value. */
static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	/* the leading "<secs>" or "<secs>.<n>" as numbers settle most
	 * comparisons as text_natcmp() would (10,000 names: 41 -> 6 million
	 * instructions, before any message can be read) */
	if (x->keyed && y->keyed) {
		if (x->k[0] != y->k[0])
			return x->k[0] < y->k[0] ? -1 : 1;
		if (x->keyed == 2 && y->keyed == 2 && x->k[1] != y->k[1])
			return x->k[1] < y->k[1] ? -1 : 1;
	}
	return text_natcmp(x->name, y->name);
}

/* A run of at most 18 digits at *p, as a number (false: none, or longer). */
static bool digits_at(const char **p, uint64_t *v)
{
	const char *s = *p;
	uint64_t n = 0;
	size_t len = 0;
	while (*s >= '0' && *s <= '9' && len < 19) {
		n = n * 10 + (uint64_t)(*s++ - '0');
		len++;
	}
	if (len == 0 || len > 18)
		return false;
	*p = s;
	*v = n;
	return true;
}

static void entry_key(struct entry *e)
{
	const char *p = e->name;
	e->keyed = 0;
	if (!digits_at(&p, &e->k[0]))
		return;
	e->keyed = 1;
	if (*p == '.') {
		p++;
		if (digits_at(&p, &e->k[1]))
			e->keyed = 2;
	}
}

static void progress(size_t done, size_t total)
{
	static bool tty = false, checked = false;
	if (!checked) {
		tty = isatty(2);
		checked = true;
	}
	if (tty && log_level > 0 && (done % 100 == 0 || done == total))
		fprintf(stderr, "\r%zu/%zu messages", done, total);
	if (tty && log_level > 0 && done == total)
		fputc('\n', stderr);
}

/* The Maildir's cur/ and new/, open once: each read and rename is then
 * relative to its directory instead of a walk of the whole path. */
struct mdirs {
	const char *root;
	int cur, new;
};

static int entry_dirfd(const struct mdirs *d, const struct entry *e)
{
	return strcmp(e->dir, "new") ? d->cur : d->new;
}

/* Mark a message of new/ as seen by moving it to cur/. */
static void ack_maildir(const struct mdirs *d, const struct entry *e)
{
	if (strcmp(e->dir, "new") || e->unread)
		return;
	char *to = xasprintf("%s%s", e->name, strchr(e->name, ':') ? "" : ":2,S");
	if (renameat(d->new, e->name, d->cur, to) < 0)
		log_verbose("cannot mark %s/new/%s: %s", d->root, e->name, strerror(errno));
	free(to);
}

/* ---- Maildir: mark what is committed -----------------------------------
 * A rename from new/ to cur/ is a lookup and a write in two large
 * directories for every message: a third thread marks each committed batch
 * while this one goes on with the next.  That thread runs at SCHED_IDLE:
 * the renames wait for a core the other two leave free, instead of taking
 * turns with them on two cores.  So that a busy machine cannot keep the
 * run from ending, the thread takes the work a few files at a time, and
 * source_maildir() does what is left itself before it returns: a finished
 * run has marked everything it committed. */
#define MARK_CHUNK 16

struct marker {
	const struct mdirs *dirs;
	const struct entry *v;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t upto;           /* entries [0, upto) are committed */
	bool done;
	bool threaded;
	size_t next;           /* the first not yet taken */
};

/* Mark the next few committed entries, if any (called and returning with
 * the lock held). */
static bool mark_some(struct marker *m)
{
	size_t from = m->next, to = m->upto - from > MARK_CHUNK ? from + MARK_CHUNK : m->upto;
	if (from == to)
		return false;
	m->next = to;
	pthread_mutex_unlock(&m->mu);
	for (size_t i = from; i < to; i++)
		ack_maildir(m->dirs, &m->v[i]);
	pthread_mutex_lock(&m->mu);
	return true;
}

static void *marker_run(void *arg)
{
	struct marker *m = arg;
	struct sched_param sp = {0};
	pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);   /* best effort */
	pthread_mutex_lock(&m->mu);
	for (;;) {
		while (m->next == m->upto && !m->done)
			pthread_cond_wait(&m->cv, &m->mu);
		/* at the end, what is left is source_maildir()'s alone: a rename
		 * between two directories takes the file system's rename lock,
		 * and two threads renaming at once spun on it (4 % of the run's
		 * CPU) for no more renames a second than one */
		if (m->done)
			break;
		mark_some(m);
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

static void marker_start(struct marker *m, pthread_t *th, const struct mdirs *dirs, const struct entry *v)
{
	*m = (struct marker){.dirs = dirs, .v = v};
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	m->threaded = pthread_create(th, NULL, marker_run, m) == 0;
}

/* Entries [0, upto) are committed: mark them (in the thread, or here when
 * it could not be started). */
static void marker_commit(struct marker *m, size_t upto)
{
	if (!m->threaded) {
		for (; m->next < upto; m->next++)
			ack_maildir(m->dirs, &m->v[m->next]);
		return;
	}
	pthread_mutex_lock(&m->mu);
	m->upto = upto;
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

static void marker_finish(struct marker *m, pthread_t th)
{
	if (m->threaded) {
		pthread_mutex_lock(&m->mu);
		m->done = true;
		pthread_cond_signal(&m->cv);
		while (mark_some(m))
			;
		pthread_mutex_unlock(&m->mu);
		pthread_join(th, NULL);
	}
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->cv);
}

/* ---- Maildir: read and parse ahead -------------------------------------
 * Reading a file and parsing it touch no database, so other threads do that
 * for the messages ahead while this one applies the current message.  There
 * is one such thread per core (at most AHEAD_MAX_WORKERS): parsing is the
 * larger half of the work, and with one parsing thread the applying thread
 * waited for it.  Each worker takes the next message number, reads and
 * parses it, and puts it in the ring at its number; this thread takes the
 * ring's items strictly in order.  The order, the transactions and the
 * acknowledgements are this thread's, as without it.  The read-ahead is
 * bounded in messages and in bytes: 512 messages let the workers go on
 * through a commit and its checkpoint (some 25 ms of syncs on this thread);
 * 64 left them waiting (10,000 messages 0.75 -> 0.71 s, peak RSS +3 MiB). */
#define AHEAD_SLOTS 512
#define AHEAD_BYTES ((size_t)64 << 20)
#define AHEAD_TRASH 128
#define AHEAD_MAX_WORKERS 4
#define AHEAD_NICE 5

struct ahead_item {
	char *raw;
	size_t len;
	int err;               /* errno when raw is NULL */
	struct message *msg;   /* parsed, or NULL with why */
	char *why;
	int worker;            /* the worker that read it, and frees it */
	bool ready;            /* in the ring: parsed and there */
};

struct ahead;
struct ahead_worker {
	struct ahead *a;
	pthread_t th;
	int id;
	/* Applied items go back to the worker that read them, which frees
	 * them: memory is best freed by the thread whose malloc arena it came
	 * from (a free from another thread takes that arena's lock, and the
	 * threads then contend for it on every message). */
	struct ahead_item trash[AHEAD_TRASH];
	size_t ntrash;
};

struct ahead {
	const struct app *app;
	const struct mdirs *dirs;
	const struct entry *v;
	size_t n;
	pthread_mutex_t mu;
	pthread_cond_t more, room;
	struct ahead_item ring[AHEAD_SLOTS];
	size_t next;           /* the first message no worker has taken */
	size_t tail;           /* the next one this thread takes */
	size_t bytes;          /* of the ready items */
	bool stop;
	/* A waiting side is woken when there is a good stretch of work for it,
	 * not for every message: each wake-up is a futex call and a context
	 * switch on both sides. */
	int workers_wait;
	bool applier_waits;
	int nworkers;
	struct ahead_worker w[AHEAD_MAX_WORKERS];
};
#define AHEAD_WAKE 8           /* items ready, or slots free, for a wake-up */

static void item_free(struct ahead_item *it)
{
	message_free(it->msg);
	free(it->raw);
	free(it->why);
}

/* The applied items handed back to worker w so far (called with the lock
 * held; the caller frees them after unlocking). */
static size_t trash_take(struct ahead_worker *w, struct ahead_item *out)
{
	size_t n = w->ntrash;
	memcpy(out, w->trash, n * sizeof *out);
	w->ntrash = 0;
	return n;
}

/* Wake this thread if it waits and the ring holds a stretch of ready items
 * from its tail, or all there will be (called with the lock held). */
static void wake_applier(struct ahead *a, bool anyway)
{
	if (!a->applier_waits || !a->ring[a->tail % AHEAD_SLOTS].ready)
		return;
	size_t k = 1;
	while (k < AHEAD_WAKE && a->tail + k < a->n && a->ring[(a->tail + k) % AHEAD_SLOTS].ready)
		k++;
	if (anyway || k == AHEAD_WAKE || a->tail + k == a->n || a->next >= a->n) {
		a->applier_waits = false;
		pthread_cond_signal(&a->more);
	}
}

static void worker_wait(struct ahead *a)
{
	wake_applier(a, true);   /* fewer than AHEAD_WAKE ready, but no more coming soon */
	a->workers_wait++;
	pthread_cond_wait(&a->room, &a->mu);
	a->workers_wait--;
}

static void *ahead_run(void *arg)
{
	struct ahead_worker *w = arg;
	struct ahead *a = w->a;
	struct ahead_item *mine = xmalloc(AHEAD_TRASH * sizeof *mine);
	/* this thread (not the process) a little nicer: the applying thread is
	 * the one the others wait for */
	setpriority(PRIO_PROCESS, (id_t)gettid(), AHEAD_NICE);   /* best effort */
	pthread_mutex_lock(&a->mu);
	for (;;) {
		while (!a->stop && a->next < a->n && a->next - a->tail >= AHEAD_SLOTS)
			worker_wait(a);
		if (a->stop || a->next >= a->n)
			break;
		size_t i = a->next++;
		size_t nt = trash_take(w, mine);
		pthread_mutex_unlock(&a->mu);
		for (size_t k = 0; k < nt; k++)
			item_free(&mine[k]);

		struct ahead_item it = {.worker = w->id};
		it.raw = read_file_at(entry_dirfd(a->dirs, &a->v[i]), a->v[i].name, a->v[i].regular, &it.len);
		if (!it.raw)
			it.err = errno;
		else {
			const char *why = NULL;
			it.msg = message_parse_for(a->app, it.raw, it.len, &why);
			if (!it.msg)
				it.why = xstrdup(why ? why : "cannot parse the message");
		}

		pthread_mutex_lock(&a->mu);
		/* the item this thread waits for always goes in; later ones wait
		 * while the ready ones hold too many bytes */
		while (!a->stop && i != a->tail && a->bytes + it.len > AHEAD_BYTES)
			worker_wait(a);
		if (a->stop) {
			item_free(&it);
			break;
		}
		it.ready = true;
		a->ring[i % AHEAD_SLOTS] = it;
		a->bytes += it.len;
		wake_applier(a, false);
	}
	/* the last worker out wakes this thread for what is left */
	wake_applier(a, true);
	size_t nt = trash_take(w, mine);
	pthread_mutex_unlock(&a->mu);
	for (size_t k = 0; k < nt; k++)
		item_free(&mine[k]);
	free(mine);
	return NULL;
}

/* The next item; done (the applied one, or NULL) goes back to its worker. */
static void ahead_take(struct ahead *a, struct ahead_item *it, struct ahead_item *done)
{
	pthread_mutex_lock(&a->mu);
	bool kept = false;
	if (done) {
		struct ahead_worker *w = &a->w[done->worker];
		if (w->ntrash < AHEAD_TRASH) {
			w->trash[w->ntrash++] = *done;
			kept = true;
		}
	}
	struct ahead_item *slot = &a->ring[a->tail % AHEAD_SLOTS];
	while (!slot->ready) {
		a->applier_waits = true;
		pthread_cond_wait(&a->more, &a->mu);
	}
	*it = *slot;
	slot->ready = false;
	a->tail++;
	a->bytes -= it->len;
	/* the next item not there yet always wakes the workers: one may be
	 * waiting on bytes for one large message */
	if (a->workers_wait && (AHEAD_SLOTS - (a->next - a->tail) >= AHEAD_WAKE ||
				!a->ring[a->tail % AHEAD_SLOTS].ready))
		pthread_cond_broadcast(&a->room);
	pthread_mutex_unlock(&a->mu);
	if (done && !kept)
		item_free(done);   /* the worker is behind on freeing: here, then */
}

/* Start the workers; false when none could be started. */
static bool ahead_start(struct ahead *a)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int want = cores < 1 ? 1 : cores > AHEAD_MAX_WORKERS ? AHEAD_MAX_WORKERS : (int)cores;
	if ((size_t)want > a->n)
		want = (int)a->n;
	for (int k = 0; k < want; k++) {
		a->w[k].a = a;
		a->w[k].id = k;
		if (pthread_create(&a->w[k].th, NULL, ahead_run, &a->w[k]) != 0)
			break;
		a->nworkers++;
	}
	return a->nworkers > 0;
}

static void ahead_stop(struct ahead *a)
{
	pthread_mutex_lock(&a->mu);
	a->stop = true;
	pthread_cond_broadcast(&a->room);
	pthread_mutex_unlock(&a->mu);
	for (int k = 0; k < a->nworkers; k++)
		pthread_join(a->w[k].th, NULL);
	for (size_t i = 0; i < AHEAD_SLOTS; i++)
		if (a->ring[i].ready)
			item_free(&a->ring[i]);
	for (int k = 0; k < a->nworkers; k++) {
		for (size_t j = 0; j < a->w[k].ntrash; j++)
			item_free(&a->w[k].trash[j]);
		a->w[k].ntrash = 0;
	}
}

int source_maildir(struct app *app, const char *root)
{
	static const char *const subs[] = {"cur", "new"};
	struct entry *v = NULL;
	size_t n = 0, cap = 0;
	int code = 0;
	/* each directory is opened once: listed through a duplicate of its
	 * descriptor, and kept open for the reads and renames (struct mdirs) */
	struct mdirs dirs = {root, -1, -1};
	for (int s = 0; s < 2; s++) {
		char *d = xasprintf("%s/%s", root, subs[s]);
		int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		free(d);
		int lfd = fd < 0 ? -1 : dup(fd);
		DIR *dir = lfd < 0 ? NULL : fdopendir(lfd);
		if (!dir) {
			int e = errno;
			if (lfd >= 0)
				close(lfd);
			if (fd >= 0)
				close(fd);
			if (s == 0 || e != ENOENT) {
				log_error("%s is not a Maildir (no %s/): %s", root, subs[s], strerror(e));
				if (dirs.cur >= 0)
					close(dirs.cur);
				for (size_t i = 0; i < n; i++)
					free(v[i].name);
				free(v);
				return EXIT_NOINPUT;
			}
			continue;
		}
		*(s == 0 ? &dirs.cur : &dirs.new) = fd;
		struct dirent *de;
		while ((de = readdir(dir))) {
			if (de->d_name[0] == '.')
				continue;
			/* a Maildir holds files: a directory, a FIFO (whose open
			 * would block for ever), a socket or a device is not mail
			 * and is left alone */
			if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN && de->d_type != DT_LNK) {
				log_error("%s/%s/%s: not a file, left alone", root, subs[s], de->d_name);
				continue;
			}
			if (n == cap) {
				cap = cap ? cap * 2 : 1024;
				v = xrealloc(v, cap * sizeof *v);
			}
			v[n].dir = (char *)subs[s];
			v[n].name = xstrdup(de->d_name);
			v[n].regular = de->d_type == DT_REG;
			v[n].unread = false;
			entry_key(&v[n]);
			n++;
		}
		closedir(dir);
	}
	if (n)   /* qsort() of a NULL array is undefined */
		qsort(v, n, sizeof *v, cmp_entry);
	app->batch = true;
	struct ahead *ah = xcalloc(1, sizeof *ah);
	ah->app = app;
	ah->dirs = &dirs;
	ah->v = v;
	ah->n = n;
	pthread_mutex_init(&ah->mu, NULL);
	pthread_cond_init(&ah->more, NULL);
	pthread_cond_init(&ah->room, NULL);
	bool threaded = n > 1 && ahead_start(ah);
	struct marker mark;
	pthread_t mark_th;
	marker_start(&mark, &mark_th, &dirs, v);
	size_t in_batch = 0;
	/* Messages share their batch's transaction without a savepoint each:
	 * the savepoints copied every page a message touched, an eighth of the
	 * applying thread's work.  Each message is still all-or-nothing: one
	 * that fails takes its whole (uncommitted, unmarked) batch with it,
	 * and the files are still in the Maildir for the next run. */
	app->batch_whole = true;
	struct ahead_item done;
	bool have_done = false;
	struct timespec batch_start = {0};
	for (size_t i = 0; i < n; i++) {
		if (!app->in_batch_tx) {
			int b = batch_begin(app);
			if (b) {
				code = worst(code, b);
				break;
			}
			clock_gettime(CLOCK_MONOTONIC, &batch_start);
		}
		struct ahead_item it = {0};
		if (threaded) {
			ahead_take(ah, &it, have_done ? &done : NULL);
			have_done = false;
		} else {
			if (!(it.raw = read_file_at(entry_dirfd(&dirs, &v[i]), v[i].name, v[i].regular, &it.len)))
				it.err = errno;
		}
		int c;
		if (!it.raw) {
			/* ENOENT: moved by a mail client; ELOOP, EINVAL: a symlink or
			 * not a file, which is not mail (left alone, as a directory
			 * is); anything else could not be read (66) */
			c = it.err == ENOENT || it.err == ELOOP || it.err == EINVAL ? 0 : EXIT_NOINPUT;
			if (it.err != ENOENT) {
				/* not read, not applied: not marked either */
				v[i].unread = true;
				log_error("%s/%s/%s: %s (left in place)", root, v[i].dir, v[i].name,
					  it.err == ELOOP || it.err == EINVAL ? "not a file" : strerror(it.err));
			}
		} else if (threaded)
			c = process_parsed(app, it.raw, it.len, it.msg, it.why, NULL);
		else
			c = process_message(app, it.raw, it.len, NULL);
		if (threaded) {
			done = it;   /* freed by the reader, with the next take */
			have_done = true;
		} else
			item_free(&it);
		in_batch++;
		if (c == EXIT_DATAERR)
			c = 0;  /* kept in the quarantine: the batch goes on */
		code = worst(code, c);
		bool stop = c == EXIT_TEMPFAIL || c == EXIT_IOERR;
		progress(i + 1, n);
		if (stop) {
			/* the failed message's changes are in the batch's transaction
			 * (no savepoint, see below): all of it goes, none of its files
			 * is marked, and the next run applies them */
			batch_abort(app);
			break;
		}
		if (in_batch == batch_max() || i + 1 == n || elapsed_ms(&batch_start) >= BATCH_MS) {
			int b = batch_commit(app);
			if (b) {
				code = worst(code, b);
				break;
			}
			marker_commit(&mark, i + 1);
			in_batch = 0;
		}
	}
	app->batch_whole = false;
	if (have_done)
		item_free(&done);
	if (threaded)
		ahead_stop(ah);
	marker_finish(&mark, mark_th);
	pthread_mutex_destroy(&ah->mu);
	pthread_cond_destroy(&ah->more);
	pthread_cond_destroy(&ah->room);
	free(ah);
	if (app->in_batch_tx)
		batch_abort(app);
	close(dirs.cur);
	if (dirs.new >= 0)
		close(dirs.new);
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	return code;
}

/* An mbox separator: "From SENDER DATE", the date as ctime() writes it
 * ("From ana@x.com Mon Nov 23 09:00:00 2026") or near it ("Mon, 23 Nov
 * 2026 09:00:00"): a month's name and a time after the sender.  A line of
 * a message's body that starts with "From " unescaped (mboxo, a file made
 * by hand: "From the start of the year…") has neither, and does not split
 * the message. */
static bool from_line(const char *p, size_t n)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	const char *e = memchr(p, '\n', n);
	size_t len = e ? (size_t)(e - p) : n;
	size_t i = 5;
	while (i < len && p[i] != ' ' && p[i] != '\t')   /* the sender */
		i++;
	bool month = false, time = false;
	for (size_t k = i; k < len; k++) {
		bool word_start = k > 0 && !isalpha((unsigned char)p[k - 1]);
		if (word_start && k + 3 <= len && (k + 3 == len || !isalpha((unsigned char)p[k + 3])))
			for (size_t m = 0; m < 36 && !month; m += 3)
				month = !strncmp(p + k, months + m, 3);
		if (k + 5 <= len && isdigit((unsigned char)p[k]) && isdigit((unsigned char)p[k + 1]) && p[k + 2] == ':' &&
		    isdigit((unsigned char)p[k + 3]) && isdigit((unsigned char)p[k + 4]))
			time = true;
	}
	return month && time;
}

int source_mbox(struct app *app, const char *path)
{
	size_t len;
	char *all = read_file(path, &len);
	int code = 0;
	if (!all) {
		log_error("%s: %s", path, strerror(errno));
		return EXIT_NOINPUT;
	}
	app->batch = true;
	size_t start = 0, count = 0;
	struct timespec batch_start = {0};
	struct buf m;
	buf_init(&m);
	while (start < len) {
		/* a message starts at a "From " line; find the next one */
		size_t body = start;
		if (len - start >= 5 && !memcmp(all + start, "From ", 5)) {
			const char *nl = memchr(all + start, '\n', len - start);
			body = nl ? (size_t)(nl - all) + 1 : len;
		}
		size_t end = body;
		for (;;) {
			const char *nl = memchr(all + end, '\n', len - end);
			if (!nl) {
				end = len;
				break;
			}
			end = (size_t)(nl - all) + 1;
			if (end + 5 <= len && !memcmp(all + end, "From ", 5) && from_line(all + end, len - end))
				break;
		}
		/* mboxrd: ">From " -> "From " */
		buf_reset(&m);
		for (size_t p = body; p < end;) {
			const char *nl = memchr(all + p, '\n', end - p);
			size_t e = nl ? (size_t)(nl - all) + 1 : end;
			size_t q = p;
			while (q < e && all[q] == '>')
				q++;
			if (q > p && e - q >= 5 && !memcmp(all + q, "From ", 5))
				p++;
			buf_add(&m, all + p, e - p);
			p = e;
		}
		/* the blank line before the next "From " line (or at the end of
		 * the file) separates messages: it is not a line of this one */
		if (m.len >= 4 && !memcmp(m.s + m.len - 4, "\r\n\r\n", 4))
			m.s[m.len -= 2] = '\0';
		else if (m.len >= 2 && !memcmp(m.s + m.len - 2, "\n\n", 2))
			m.s[m.len -= 1] = '\0';
		start = end;
		if (!m.len)
			continue;
		if (!app->in_batch_tx) {
			if ((code = worst(code, batch_begin(app))) == EXIT_TEMPFAIL)
				break;
			clock_gettime(CLOCK_MONOTONIC, &batch_start);
			count = 0;
		}
		int c = process_message(app, m.s, m.len, NULL);
		if (c == EXIT_DATAERR)
			c = 0;
		code = worst(code, c);
		bool stop = c == EXIT_TEMPFAIL || c == EXIT_IOERR;
		if (stop || ++count == batch_max() || elapsed_ms(&batch_start) >= BATCH_MS) {
			int b = batch_commit(app);
			code = worst(code, b);
			if (b)
				break;
		}
		if (stop)
			break;
	}
	if (app->in_batch_tx)
		code = worst(code, batch_commit(app));
	buf_release(&m);
	free(all);
	return code;
}
