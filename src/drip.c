/* drip.c — due sequence steps and stale deals (see drip.h).
 *
 * A step is due when enrollments.next_at <= now.  For each due enrolment,
 * in one transaction that re-reads the row under the write lock:
 *   contact bouncing / unsubscribed / gone, or sequence no longer configured
 *     -> the enrolment is stopped (leaving the stage and a reply from the
 *        contact already stopped it in the transaction that caused them);
 *   otherwise the step's template becomes an outbox row (kind "drip", from
 *     the owner's name, threaded under the previous steps, with a
 *     List-Unsubscribe token) and the enrolment moves to its next step, or
 *     to 'done' after the last one.
 * The next step is due at started_at + its delay, moved into the window;
 * when a tick ran late, never sooner than half the configured gap after the
 * step just sent, so a contact does not get two steps within minutes. */
#include "drip.h"
#include "process.h"
#include "template.h"
#include "util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

time_t window_adjust(const struct sequence *seq, time_t t)
{
	/* at most 8 days of 15-minute-or-larger jumps: a window always exists */
	for (int i = 0; i < 8 * 24 * 60 / 15; i++) {
		struct tm tm;
		local_tm(t, &tm);
		int min = tm.tm_hour * 60 + tm.tm_min;
		bool day_ok = seq->days_mask == 0 || (seq->days_mask & (1u << tm.tm_wday));
		if (day_ok && min >= seq->window_start && min < seq->window_end)
			return t;
		if (day_ok && min < seq->window_start) {
			t += (time_t)(seq->window_start - min) * 60 - tm.tm_sec;
			continue;
		}
		/* to the next midnight, then to the window start */
		t += (time_t)(24 * 60 - min) * 60 - tm.tm_sec;
	}
	return t;
}

/* The worse of two exit codes: temporary beats everything (try again), then
 * configuration, then I/O. */
static int worse(int a, int b)
{
	static const int order[] = {EXIT_TEMPFAIL, EXIT_IOERR, EXIT_CONFIG, EXIT_SOFTWARE};
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
		if (a == order[i] || b == order[i])
			return order[i];
	return a ? a : b;
}

/* After a failed unit: roll back, keep the database usable, map to a code. */
static int unit_failed(struct app *app, const char *what, int64_t id, int dflt)
{
	const char *err = db_error(app->db);
	int rc = err ? (db_tempfail(app->db) ? EXIT_TEMPFAIL : EXIT_IOERR) : dflt;
	if (err)
		log_error("%s %lld: %s", what, (long long)id, err);
	db_rollback(app->db);
	db_clear_error(app->db);
	return rc;
}

/* "local+suffix@domain" from the assistant's address. */
static char *plus_address(const char *address, const char *suffix)
{
	const char *at = strrchr(address, '@');
	if (!at)
		return xasprintf("%s+%s", address, suffix);
	return xasprintf("%.*s+%s%s", (int)(at - address), address, suffix, at);
}

struct due {
	int64_t id, deal, contact;
	char *sequence, *started_at, *cause, *owner, *email, *name;
	int step;
	bool bouncing, unsubscribed;
	time_t due;             /* next_at, or -1 */
};

static void due_free(struct due *d)
{
	free(d->sequence);
	free(d->started_at);
	free(d->cause);
	free(d->owner);
	free(d->email);
	free(d->name);
}

static int stop(struct app *app, int64_t id, const char *why, struct tick_stats *st)
{
	st->enrollments_stopped++;
	log_verbose("enrolment %lld stopped: %s", (long long)id, why);
	return db_exec(app->db, "UPDATE enrollments SET status = 'stopped', stopped_reason = ?, next_at = NULL "
		       "WHERE id = ?", "ti", why, id);
}

/* Queue step d->step of `seq`; 0, or -1 (template or database error). */
static int queue_step(struct app *app, const struct due *d, const struct sequence *seq)
{
	const struct config *cfg = app->cfg;
	const struct rep *owner = d->owner ? config_rep_find(cfg, d->owner) : NULL;
	enum lang lang = owner ? owner->lang : cfg->language;
	char tok[48];

	/* threading: under the steps already sent */
	struct buf refs;
	buf_init(&refs);
	char *last = NULL;
	struct dbq *q = db_query(app->db, "SELECT message_id FROM outbox WHERE enrollment_id = ? AND step < ? "
				 "ORDER BY step", "iI", d->id, d->step);
	while (db_next(q)) {
		const char *m = db_col_text(q, 0);
		if (!m)
			continue;
		if (refs.len)
			buf_addc(&refs, ' ');
		buf_adds(&refs, m);
		free(last);
		last = xstrdup(m);
	}
	db_done(q);

	token_make(app->secret, app->secret_len, 'u', d->contact, tok);
	char *suffix = xasprintf("u.%s", tok);
	char *unsub_addr = plus_address(cfg->address, suffix);
	/* RFC 2369 mailto, and with an endpoint configured the RFC 8058
	 * one-click URL first (a mail client POSTs to it; the endpoint runs
	 * `dealmail unsubscribe TOKEN`) */
	char *unsub = cfg->unsubscribe_url
			      ? xasprintf("<%s?token=%s>, <mailto:%s?subject=unsubscribe>", cfg->unsubscribe_url, suffix,
					  unsub_addr)
			      : xasprintf("<mailto:%s?subject=unsubscribe>", unsub_addr);

	struct tvars *v = tvars_new();
	deal_vars(app, d->deal, v, lang);
	tvars_set(v, "rep.name", owner ? owner->name : cfg->name);
	tvars_set(v, "rep.email", owner ? owner->email : cfg->address);
	tvars_set(v, "sequence.name", seq->name);
	tvars_setf(v, "sequence.step", "%d", d->step);
	tvars_setf(v, "sequence.steps", "%zu", seq->nsteps);
	tvars_set(v, "unsubscribe.address", unsub_addr);
	struct outbox_item it = {
		.kind = "drip",
		.deal_id = d->deal,
		.to_addr = d->email,
		.to_name = d->name,
		.tmpl = seq->steps[d->step - 1].tmpl,
		.lang = lang_code(lang),
		.vars = v,
		.in_reply_to = last,
		.references = refs.len ? refs.s : NULL,
		.cause_message_id = d->cause,
		.from_name = owner ? owner->name : NULL,
		.enrollment_id = d->id,
		.step = d->step,
		.list_unsubscribe = unsub,
		.list_unsubscribe_post = cfg->unsubscribe_url ? "List-Unsubscribe=One-Click" : NULL,
	};
	int64_t id = outbox_queue(app, &it);
	tvars_free(v);
	free(unsub);
	free(unsub_addr);
	free(suffix);
	free(last);
	buf_release(&refs);
	return id < 0 || db_error(app->db) ? -1 : 0;
}

/* When step `next` (1-based) is due, after sending step next-1 at `now`. */
static time_t next_due(const struct sequence *seq, time_t started, int next, time_t now)
{
	long d_next = seq->steps[next - 1].delay;
	long d_prev = next >= 2 ? seq->steps[next - 2].delay : 0;
	long gap = d_next > d_prev ? d_next - d_prev : 0;
	time_t t = started + d_next;
	if (t < now + gap / 2)
		t = now + gap / 2;
	return window_adjust(seq, t);
}

static int drip_one(struct app *app, int64_t id, time_t now, const char *now_iso, struct tick_stats *st)
{
	const struct config *cfg = app->cfg;
	struct due d = {.id = id};
	int rc = 0;

	if (db_begin(app->db) < 0)
		return unit_failed(app, "enrolment", id, EXIT_IOERR);
	struct dbq *q = db_query(app->db,
				 "SELECT e.deal_id, e.sequence, e.step, e.started_at, e.message_id, d.owner, "
				 "c.id, c.email, c.name, c.bouncing, c.unsubscribed, e.next_at "
				 "FROM enrollments e JOIN deals d ON d.id = e.deal_id "
				 "LEFT JOIN contacts c ON c.id = d.contact_id "
				 "WHERE e.id = ? AND e.status = 'active' AND e.next_at <= ?", "it", id, now_iso);
	bool found = db_next(q);
	if (found) {
		d.deal = db_col_int(q, 0);
		d.sequence = xstrdup(db_col_text(q, 1));
		d.step = (int)db_col_int(q, 2);
		d.started_at = xstrdup(db_col_text(q, 3));
		d.cause = xstrdup(db_col_text(q, 4));
		d.owner = xstrdup(db_col_text(q, 5));
		d.contact = db_col_int(q, 6);
		d.email = xstrdup(db_col_text(q, 7));
		d.name = xstrdup(db_col_text(q, 8));
		d.bouncing = db_col_int(q, 9) != 0;
		d.unsubscribed = db_col_int(q, 10) != 0;
		d.due = db_col_text(q, 11) ? iso_parse(db_col_text(q, 11)) : -1;
	}
	db_done(q);
	if (!found) {   /* another tick did it, or it was stopped meanwhile */
		if (db_error(app->db))
			rc = unit_failed(app, "enrolment", id, EXIT_IOERR);
		else
			db_rollback(app->db);
		goto out;
	}

	const struct sequence *seq = config_sequence_find(cfg, d.sequence);
	if (!seq) {
		if (stop(app, id, "sequence not configured", st) < 0)
			goto fail;
	} else if (!d.email || !*d.email) {
		if (stop(app, id, "no contact", st) < 0)
			goto fail;
	} else if (d.bouncing) {
		if (stop(app, id, "bounce", st) < 0)
			goto fail;
	} else if (d.unsubscribed) {
		if (stop(app, id, "unsubscribe", st) < 0)
			goto fail;
	} else if (d.step < 1 || (size_t)d.step > seq->nsteps) {
		if (db_exec(app->db, "UPDATE enrollments SET status = 'done', next_at = NULL WHERE id = ?", "i",
			    id) < 0)
			goto fail;
		st->enrollments_done++;
	} else if (window_adjust(seq, now) > now && d.due > 0) {
		/* due, but this tick is outside the sequence's window (a daemon
		 * that was down, a tick on a Saturday): a tick inside it sends it,
		 * however late the step is -- the window is the promise that
		 * prospects are not written to at 07:30 (a cron that only ever
		 * runs outside it holds the sequence: run one inside it) */
		db_rollback(app->db);
		log_verbose("deal %lld: %s step %d waits for its window", (long long)d.deal, seq->name, d.step);
		goto out;
	} else {
		/* the UNIQUE index forbids a second copy; a row already there means a
		 * previous run queued it and did not get to advance the enrolment */
		if (db_int(app->db, 0, "SELECT COUNT(*) FROM outbox WHERE enrollment_id = ? AND step = ?", "iI", id,
			   d.step) == 0) {
			if (queue_step(app, &d, seq) < 0) {
				rc = unit_failed(app, "enrolment", id, EXIT_CONFIG);
				log_error("sequence %s step %d (%s) for deal %lld not sent; will retry on the next tick",
					  seq->name, d.step, seq->steps[d.step - 1].tmpl, (long long)d.deal);
				st->errors++;
				goto out;
			}
			st->steps_queued++;
			log_verbose("deal %lld: %s step %d queued to %s", (long long)d.deal, seq->name, d.step,
				    d.email);
		}
		if ((size_t)d.step < seq->nsteps) {
			char next[21];
			time_t started = iso_parse(d.started_at);
			iso_format(next_due(seq, started < 0 ? now : started, d.step + 1, now), next);
			if (db_exec(app->db, "UPDATE enrollments SET step = step + 1, next_at = ? WHERE id = ?", "ti",
				    next, id) < 0)
				goto fail;
		} else {
			if (db_exec(app->db, "UPDATE enrollments SET status = 'done', next_at = NULL WHERE id = ?", "i",
				    id) < 0)
				goto fail;
			st->enrollments_done++;
		}
	}
	if (db_commit(app->db) < 0)
		goto fail;
out:
	due_free(&d);
	return rc;
fail:
	st->errors++;
	rc = unit_failed(app, "enrolment", id, EXIT_IOERR);
	goto out;
}

int drip_run(struct app *app, struct tick_stats *st)
{
	char now_iso[21];
	time_t now = clock_now();
	int rc = 0;
	int64_t after = 0;
	iso_format(now, now_iso);
	for (;;) {
		int64_t ids[256];
		size_t n = 0;
		/* by id, past the last one seen: a step that becomes due again in this
		 * run (a late tick) waits for the next run */
		struct dbq *q = db_query(app->db, "SELECT id FROM enrollments WHERE status = 'active' AND "
					 "next_at <= ? AND id > ? ORDER BY id LIMIT 256", "ti", now_iso, after);
		while (db_next(q))
			ids[n++] = db_col_int(q, 0);
		db_done(q);
		if (db_error(app->db))
			return worse(rc, unit_failed(app, "enrolments", 0, EXIT_IOERR));
		if (n == 0)
			break;
		for (size_t i = 0; i < n; i++) {
			int r = drip_one(app, ids[i], now, now_iso, st);
			rc = worse(rc, r);
			if (r == EXIT_TEMPFAIL)
				return rc;   /* the database is busy: leave the rest to the next tick */
		}
		after = ids[n - 1];
	}
	return rc;
}

/* ---- stale deals ---------------------------------------------------------- */

static int stale_one(struct app *app, int64_t deal, int stage, const char *cutoff, struct tick_stats *st)
{
	const struct config *cfg = app->cfg;
	const struct stage *s = &cfg->stages[stage];
	if (db_begin(app->db) < 0)
		return unit_failed(app, "deal", deal, EXIT_IOERR);
	if (db_int(app->db, 0, "SELECT COUNT(*) FROM deals WHERE id = ? AND stage = ? AND stale_fired = 0 AND "
		   "stage_since <= ?", "itt", deal, s->key, cutoff) == 0) {
		if (db_error(app->db))
			return unit_failed(app, "deal", deal, EXIT_IOERR);
		db_rollback(app->db);   /* moved or fired meanwhile */
		return 0;
	}
	if (db_exec(app->db, "UPDATE deals SET stale_fired = 1 WHERE id = ?", "i", deal) < 0)
		goto fail;
	/* the notifications first, while the deal is still in the stage they
	 * are about ("stage delayed; notify owner" told the owner the deal had
	 * been in Delayed too long); then the rest in order: "stage delayed;
	 * sequence nurture" moves first, then enrols */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < s->non_stale; i++) {
			const struct action *a = &s->on_stale[i];
			if ((a->kind == ACT_NOTIFY) != (pass == 0))
				continue;
			int r = a->kind == ACT_NOTIFY
				? deal_notify(app, deal, a->target, "notify-stale", NULL, s->stale_days)
				: deal_fire(app, deal, a, 1, "dealmail", NULL, 0);
			if (r < 0 || db_error(app->db))
				goto fail;
		}
	if (db_commit(app->db) < 0)
		goto fail;
	st->stale_fired++;
	log_verbose("deal %lld: %d days in %s, on_stale fired", (long long)deal, s->stale_days, s->key);
	return 0;
fail:
	st->errors++;
	log_error("on_stale for deal %lld (stage %s) failed; will retry on the next tick", (long long)deal, s->key);
	return unit_failed(app, "deal", deal, EXIT_CONFIG);
}

int stale_run(struct app *app, struct tick_stats *st)
{
	const struct config *cfg = app->cfg;
	time_t now = clock_now();
	int rc = 0;
	for (size_t s = 0; s < cfg->nstages; s++) {
		const struct stage *sg = &cfg->stages[s];
		if (sg->stale_days <= 0 || sg->non_stale == 0)
			continue;
		char cutoff[21];
		iso_format(now - (time_t)sg->stale_days * 86400, cutoff);
		int64_t after = 0;
		for (;;) {
			int64_t ids[256];
			size_t n = 0;
			struct dbq *q = db_query(app->db, "SELECT id FROM deals WHERE stage = ? AND stale_fired = 0 AND "
						 "stage_since <= ? AND id > ? ORDER BY id LIMIT 256", "tti",
						 sg->key, cutoff, after);
			while (db_next(q))
				ids[n++] = db_col_int(q, 0);
			db_done(q);
			if (db_error(app->db))
				return worse(rc, unit_failed(app, "deals", 0, EXIT_IOERR));
			if (n == 0)
				break;
			for (size_t i = 0; i < n; i++) {
				int r = stale_one(app, ids[i], (int)s, cutoff, st);
				rc = worse(rc, r);
				if (r == EXIT_TEMPFAIL)
					return rc;
			}
			after = ids[n - 1];
		}
	}
	return rc;
}
