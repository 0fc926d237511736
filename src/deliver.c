/* deliver.c — `send` and `tick`: the outbox delivered through the
 * configured transport (see deliver.h for a row's life), and tick's round of
 * due work (drip.c) followed by delivery.
 *
 * Concurrency: `send` holds an exclusive flock on "<database>-send.lock" for
 * the whole batch, so two sends (cron tick, a manual send, the daemon) never
 * pick the same row; ingest only inserts rows and is never blocked by it.
 * Every row update is its own short transaction, taken after the answer. */
#include "deliver.h"
#include "digest.h"
#include "cli.h"
#include "drip.h"
#include "process.h"
#include "smtp.h"
#include "util.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

void retry_policy_default(struct retry_policy *p, const struct config *cfg)
{
	p->base = cfg && cfg->smtp_retry_base ? cfg->smtp_retry_base : 300;
	p->cap = cfg && cfg->smtp_retry_max ? cfg->smtp_retry_max : 3600;
	p->give_up = cfg && cfg->smtp_give_up ? cfg->smtp_give_up : 4 * 86400;
	if (p->cap < p->base)
		p->cap = p->base;
}

/* min(cap, base * 2^(attempts-1)), +-10% so that rows deferred together do
 * not come back together. */
static long retry_delay(const struct retry_policy *rp, int attempts)
{
	long d = rp->base;
	for (int i = 1; i < attempts && d < rp->cap; i++)
		d *= 2;
	if (d > rp->cap)
		d = rp->cap;
	unsigned char r;
	char hx[3];
	random_hex(hx, 1);
	r = (unsigned char)strtoul(hx, NULL, 16);
	long jitter = d / 10;
	return d - jitter + (long)(2 * jitter * (long)r / 255);
}

/* Run one row update, retrying a few times while the database is busy: after
 * the server accepted a message, giving up here means sending it again. */
#define UPDATE_RETRIES 5
static int with_retry(struct app *app, int (*fn)(struct app *, void *), void *ctx)
{
	for (int i = 0;; i++) {
		if (fn(app, ctx) == 0)
			return 0;
		bool temp = db_tempfail(app->db);
		if (!temp || i == UPDATE_RETRIES) {
			log_error("outbox: %s", db_error(app->db) ? db_error(app->db) : "database error");
			db_clear_error(app->db);
			return temp ? EXIT_TEMPFAIL : EXIT_IOERR;
		}
		db_clear_error(app->db);
		usleep(200000);
	}
}

struct row {
	int64_t id, deal;
	char *rcpt, *from, *kind, *created_at;
	char *raw;
	size_t len;
	int attempts;
};

static void row_free(struct row *r)
{
	free(r->rcpt);
	free(r->from);
	free(r->kind);
	free(r->created_at);
	free(r->raw);
	memset(r, 0, sizeof *r);
}

struct answer {
	const struct row *row;
	const struct xfer_status *xs;
	const struct retry_policy *rp;
	time_t now;
	bool gave_up;
};

static int record(struct app *app, void *ctx)
{
	struct answer *o = ctx;
	const struct row *r = o->row;
	char now[21], next[21];
	iso_format(o->now, now);
	switch (o->xs->result) {
	case XFER_SENT:
		return db_exec(app->db, "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1, "
			       "last_error = NULL, next_attempt = NULL WHERE id = ? AND status = 'queued'", "ti",
			       now, r->id);
	case XFER_PERM:
		return db_exec(app->db, "UPDATE outbox SET status = 'failed', attempts = attempts + 1, "
			       "last_error = ?, next_attempt = NULL, failed_at = ? WHERE id = ? AND status = 'queued'",
			       "tti", o->xs->error, now, r->id);
	case XFER_TEMP:
	case XFER_DOWN: {
		time_t created = iso_parse(r->created_at);
		int attempts = r->attempts + 1;
		o->gave_up = created >= 0 && o->now - created >= o->rp->give_up;
		if (o->gave_up) {
			char *why = xasprintf("gave up after %d attempts over %.1f days: %s", attempts,
					      (double)(o->now - created) / 86400.0, o->xs->error);
			int rc = db_exec(app->db, "UPDATE outbox SET status = 'failed', attempts = ?, last_error = ?, "
					 "next_attempt = NULL, failed_at = ? WHERE id = ? AND status = 'queued'", "Itti",
					 attempts, why, now, r->id);
			free(why);
			return rc;
		}
		iso_format(o->now + retry_delay(o->rp, attempts), next);
		return db_exec(app->db, "UPDATE outbox SET attempts = ?, last_error = ?, next_attempt = ? "
			       "WHERE id = ? AND status = 'queued'", "Itti", attempts, o->xs->error, next, r->id);
	}
	}
	return -1;
}

/* A 5xx to RCPT TO: the address does not exist.  Treat it like the bounce it
 * would have become: the contact is bouncing, its sequences stop, the owner
 * hears of it.  Best effort, in its own transaction after the row's. */
static void rcpt_rejected(struct app *app, const struct row *r)
{
	int64_t contact = db_int(app->db, 0, "SELECT id FROM contacts WHERE email = ?", "t", r->rcpt);
	if (contact <= 0 || db_begin(app->db) < 0)
		goto out;
	contact_bounced(app, r->rcpt, r->deal, NULL);
	if (db_error(app->db) || db_commit(app->db) < 0) {
		log_error("outbox %lld: marking %s as bouncing failed: %s", (long long)r->id, r->rcpt,
			  db_error(app->db) ? db_error(app->db) : "?");
		db_rollback(app->db);
	}
out:
	db_clear_error(app->db);
}

/* Read one due row; false when it is gone (sent by someone else, or not due). */
static bool load_row(struct app *app, int64_t id, struct row *r)
{
	struct dbq *q = db_query(app->db, "SELECT rcpt, envelope_from, raw, attempts, created_at, kind, deal_id "
				 "FROM outbox WHERE id = ? AND status = 'queued'", "i", id);
	bool ok = db_next(q);
	if (ok) {
		size_t n;
		const void *p = db_col_blob(q, 2, &n);
		r->id = id;
		r->rcpt = xstrdup(db_col_text(q, 0));
		r->from = xstrdup(db_col_text(q, 1));
		r->raw = xmalloc(n + 1);
		if (n)
			memcpy(r->raw, p, n);
		r->raw[n] = '\0';
		r->len = n;
		r->attempts = (int)db_col_int(q, 3);
		r->created_at = xstrdup(db_col_text(q, 4));
		r->kind = xstrdup(db_col_text(q, 5));
		r->deal = db_col_int(q, 6);
	}
	db_done(q);
	return ok && r->rcpt && r->len > 0;
}

static int lock_send(struct app *app, int *fd_r)
{
	char *path = xasprintf("%s-send.lock", app->cfg->database);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_error("cannot open %s: %s", path, strerror(errno));
		free(path);
		return EXIT_IOERR;
	}
	free(path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return EXIT_TEMPFAIL;
	}
	*fd_r = fd;
	return 0;
}

static int deliver(struct app *app, const struct retry_policy *rp, const int64_t *only, size_t nonly,
		   struct deliver_stats *st)
{
	size_t taken = 0;
	struct transport *t = NULL;
	int lockfd = -1, rc = 0, down_in_a_row = 0;
	int64_t after = 0;
	char now_iso[21];

	memset(st, 0, sizeof *st);
	rc = lock_send(app, &lockfd);
	if (rc == EXIT_TEMPFAIL) {
		st->busy = true;
		log_verbose("send: another send is running; leaving the outbox to it");
		return 0;
	}
	if (rc)
		return rc;
	/* Each row's new status is committed on its own right after the server's
	 * answer.  synchronous=NORMAL: a crash of this process loses none of those
	 * commits (WAL), so a kill re-sends at most the message in flight; only a
	 * power loss could forget the last marks and re-send those few messages
	 * (never lose one).  An fsync per message would halve the rate. */
	db_set_sync(app->db, false);
	iso_format(clock_now(), now_iso);
	for (;;) {
		int64_t ids[256];
		size_t n = 0;
		if (only) {   /* these rows (load_row() takes only the queued ones) */
			while (n < 256 && taken < nonly)
				ids[n++] = only[taken++];
		} else {
			struct dbq *q = db_query(app->db, "SELECT id FROM outbox WHERE status = 'queued' AND "
						 "next_attempt <= ? AND id > ? ORDER BY id LIMIT 256", "ti", now_iso, after);
			while (db_next(q))
				ids[n++] = db_col_int(q, 0);
			db_done(q);
		}
		if (db_error(app->db)) {
			log_error("outbox: %s", db_error(app->db));
			rc = db_tempfail(app->db) ? EXIT_TEMPFAIL : EXIT_IOERR;
			db_clear_error(app->db);
			goto out;
		}
		if (n == 0)
			break;
		after = ids[n - 1];
		for (size_t i = 0; i < n; i++) {
			struct row r = {0};
			if (!load_row(app, ids[i], &r)) {
				row_free(&r);
				continue;
			}
			if (!t) {
				char *err = NULL;
				if (!(t = transport_open(app->cfg, &err))) {
					log_error("%s", err);
					free(err);
					row_free(&r);
					rc = EXIT_CONFIG;
					goto out;
				}
				log_verbose("send: delivering through %s", transport_describe(t));
			}
			struct xfer_status xs;
			transport_send(t, r.from, r.rcpt, r.raw, r.len, &xs);
			struct answer o = {.row = &r, .xs = &xs, .rp = rp, .now = clock_now()};
			int urc = with_retry(app, record, &o);
			switch (xs.result) {
			case XFER_SENT:
				st->sent++;
				log_verbose("outbox %lld: sent to %s", (long long)r.id, r.rcpt);
				break;
			case XFER_PERM:
				st->failed++;
				log_info("outbox %lld: %s refused: %s", (long long)r.id, r.rcpt, xs.error);
				break;
			case XFER_TEMP:
			case XFER_DOWN:
				if (o.gave_up)
					st->failed++;
				else
					st->deferred++;
				log_info("outbox %lld: %s %s: %s", (long long)r.id, r.rcpt,
					 o.gave_up ? "given up" : "deferred", xs.error);
				break;
			}
			if (urc) {
				if (xs.result == XFER_SENT)
					log_error("outbox %lld was accepted but could not be marked sent: it may be "
						  "sent again", (long long)r.id);
				rc = urc;
				row_free(&r);
				goto out;
			}
			if (xs.result == XFER_PERM && xs.rcpt_rejected)
				rcpt_rejected(app, &r);
			row_free(&r);
			down_in_a_row = xs.result == XFER_DOWN ? down_in_a_row + 1 : 0;
			/* the server is unusable (cannot connect, TLS, AUTH) or went away
			 * twice: the rest waits for the next run, untouched */
			if (xs.result == XFER_DOWN && (xs.session || down_in_a_row >= 2)) {
				st->down = true;
				rc = EXIT_TEMPFAIL;
				goto out;
			}
		}
	}
out:
	transport_close(t);
	db_set_sync(app->db, true);
	db_checkpoint(app->db);  /* make this run's marks durable before we return */
	if (lockfd >= 0)
		close(lockfd);   /* releases the flock */
	return rc;
}

int outbox_deliver(struct app *app, const struct retry_policy *rp, struct deliver_stats *st)
{
	return deliver(app, rp, NULL, 0, st);
}

int outbox_deliver_ids(struct app *app, const struct retry_policy *rp, const int64_t *ids, size_t n,
		       struct deliver_stats *st)
{
	if (!n) {
		memset(st, 0, sizeof *st);
		return 0;
	}
	return deliver(app, rp, ids, n, st);
}

void report_send(const struct deliver_stats *st)
{
	if (st->sent || st->deferred || st->failed)
		log_info("send: %d sent, %d deferred, %d failed%s", st->sent, st->deferred, st->failed,
			 st->down ? "; the mail server is unreachable, the rest waits" : "");
}

static int worse(int a, int b)
{
	static const int order[] = {EXIT_TEMPFAIL, EXIT_IOERR, EXIT_CONFIG, EXIT_SOFTWARE};
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
		if (a == order[i] || b == order[i])
			return order[i];
	return a ? a : b;
}

int tick_run(struct app *app)
{
	struct tick_stats ts = {0};
	struct deliver_stats ds;
	struct retry_policy rp;
	int rc = stale_run(app, &ts);
	if (rc != EXIT_TEMPFAIL)
		rc = worse(rc, drip_run(app, &ts));
	if (ts.steps_queued || ts.stale_fired || ts.enrollments_stopped || ts.errors)
		log_info("tick: %d sequence steps queued, %d sequences finished, %d stopped, %d stale deals%s",
			 ts.steps_queued, ts.enrollments_done, ts.enrollments_stopped, ts.stale_fired,
			 ts.errors ? " (some work failed and is left for the next tick)" : "");
	if (rc != EXIT_TEMPFAIL) {
		int n = task_reminders(app);
		if (n < 0)
			rc = worse(rc, EXIT_TEMPFAIL);
		else if (n > 0)
			log_info("tick: %d task reminder%s queued", n, n == 1 ? "" : "s");
	}
	/* the morning digests that are due (once per recipient per day) */
	if (rc != EXIT_TEMPFAIL && app->cfg->digest_enabled) {
		int n = digest_due(app);
		if (n < 0)
			rc = worse(rc, EXIT_TEMPFAIL);
		else if (n > 0)
			log_info("tick: %d digest%s queued", n, n == 1 ? "" : "s");
	}
	retry_policy_default(&rp, app->cfg);
	rc = worse(rc, outbox_deliver(app, &rp, &ds));
	report_send(&ds);
	return rc;
}

int cmd_send(int argc, char **argv)
{
	struct app app;
	struct deliver_stats ds;
	struct retry_policy rp;
	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "dealmail: send takes no arguments (see `dealmail help`)\n");
		return EXIT_USAGE;
	}
	signal(SIGPIPE, SIG_IGN);
	int rc = app_open(&app, false);
	if (rc)
		return rc;
	retry_policy_default(&rp, app.cfg);
	rc = outbox_deliver(&app, &rp, &ds);
	report_send(&ds);
	app_close(&app);
	return rc;
}

int cmd_tick(int argc, char **argv)
{
	struct app app;
	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "dealmail: tick takes no arguments (see `dealmail help`)\n");
		return EXIT_USAGE;
	}
	signal(SIGPIPE, SIG_IGN);
	int rc = app_open(&app, false);
	if (rc)
		return rc;
	rc = tick_run(&app);
	app_close(&app);
	return rc;
}
