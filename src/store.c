/* store.c — deals, contacts, stage moves, triggers, enrolments, round-robin.
 *
 * Every function here runs inside the caller's transaction and only writes
 * rows (outgoing mail becomes outbox rows through outbox_queue()).  SQL text
 * is always a literal with bound parameters. */
#include "app.h"
#include "process.h"
#include "text.h"
#include "drip.h"
#include "template.h"
#include "util.h"
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void app_today(char out[11])
{
	local_date(clock_now(), out);
}

void app_now_iso(char out[21])
{
	iso_format(clock_now(), out);
}

int app_load_secret(struct app *app, bool create)
{
	const char *env = getenv("DEALMAIL_SECRET");
	if (env && *env) {
		size_t n = strlen(env);
		if (n > sizeof app->secret)
			n = sizeof app->secret;
		memcpy(app->secret, env, n);
		app->secret_len = n;
		return 0;
	}
	const char *path = app->cfg->secret_file;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && create) {
		char hexs[65];
		random_hex(hexs, 32);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			if (write(fd, hexs, 64) != 64 || fsync(fd) < 0) {
				close(fd);
				unlink(path);
				log_error("cannot write secret file %s", path);
				return -1;
			}
			close(fd);
		}
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		log_error("cannot read secret file %s (run `dealmail init`, or set DEALMAIL_SECRET)", path);
		return -1;
	}
	ssize_t n = read(fd, app->secret, sizeof app->secret);
	close(fd);
	while (n > 0 && (app->secret[n - 1] == '\n' || app->secret[n - 1] == '\r' ||
			 app->secret[n - 1] == ' '))
		n--;
	if (n < 16) {
		log_error("secret file %s is too short (at least 16 bytes)", path);
		return -1;
	}
	app->secret_len = (size_t)n;
	return 0;
}

int64_t contact_ensure(struct app *app, const char *email, const char *name, const char *owner)
{
	char now[21];
	int64_t id = db_int(app->db, 0, "SELECT id FROM contacts WHERE email = ?", "t", email);
	if (id > 0) {
		if (name && *name)
			db_exec(app->db, "UPDATE contacts SET name = ? WHERE id = ? AND (name IS NULL OR name = '')",
				"ti", name, id);
		return id;
	}
	app_now_iso(now);
	if (db_exec(app->db, "INSERT INTO contacts(email, name, owner, created_at) VALUES(?, ?, ?, ?)",
		    "tttt", email, name && *name ? name : NULL, owner, now) < 0)
		return -1;
	return db_last_id(app->db);
}

const char *distribution_pick(struct app *app)
{
	const struct config *cfg = app->cfg;
	const char *cand[512];
	size_t n = 0;
	if (cfg->dist_mode && !strncmp(cfg->dist_mode, "owner:", 6)) {
		const struct rep *r = config_rep_find(cfg, cfg->dist_mode + 6);
		if (r)
			return r->email;
	}
	for (int pass = 0; pass < 2 && n == 0; pass++)
		for (size_t i = 0; i < cfg->nreps && n < 512; i++) {
			const struct rep *r = &cfg->reps[i];
			if (cfg->dist_team && (!r->team || strcmp(r->team, cfg->dist_team)))
				continue;
			if (pass == 0 && r->manager)
				continue;
			cand[n++] = r->email;
		}
	if (n == 0)
		return NULL;
	int64_t k = db_int(app->db, 0, "SELECT value FROM state WHERE key = 'rr'", "");
	db_exec(app->db, "INSERT INTO state(key, value) VALUES('rr', ?) "
		"ON CONFLICT(key) DO UPDATE SET value = excluded.value", "i", (int64_t)((k + 1) % (int64_t)n));
	return cand[k % (int64_t)n];
}

int enroll(struct app *app, int64_t deal, const struct sequence *seq, const char *message_id)
{
	char now[21], next[21];
	time_t t = clock_now();
	if (!seq || seq->nsteps == 0)
		return 0;
	/* one active enrolment per sequence and deal */
	if (db_int(app->db, 0, "SELECT COUNT(*) FROM enrollments WHERE deal_id = ? AND sequence = ? "
		   "AND status = 'active'", "it", deal, seq->name) > 0)
		return 0;
	iso_format(t, now);
	iso_format(window_adjust(seq, t + seq->steps[0].delay), next);
	app->scheduled++;
	return db_exec(app->db, "INSERT INTO enrollments(deal_id, sequence, step, status, started_at, next_at, "
		       "message_id) VALUES(?, ?, 1, 'active', ?, ?, ?)", "ittt" "t",
		       deal, seq->name, now, next, message_id);
}

int64_t contact_stop_sequences(struct app *app, const char *email, const char *why)
{
	int64_t ids[64];
	size_t n = 0;
	struct dbq *q = db_query(app->db, "SELECT d.id FROM deals d JOIN contacts c ON c.id = d.contact_id "
				 "WHERE c.email = ? ORDER BY d.last_activity DESC, d.id DESC", "t", email);
	while (db_next(q) && n < 64)
		ids[n++] = db_col_int(q, 0);
	db_done(q);
	for (size_t i = 0; i < n; i++)
		stop_enrollments(app, ids[i], why);
	return n ? ids[0] : 0;
}

int contact_bounced(struct app *app, const char *email, int64_t deal, const char *message_id)
{
	db_exec(app->db, "UPDATE contacts SET bouncing = 1 WHERE email = ?", "t", email);
	int64_t recent = contact_stop_sequences(app, email, "bounce");
	if (deal <= 0)
		deal = recent;
	if (deal > 0 && deal_notify(app, deal, NOTIFY_OWNER, "notify-bounce", message_id, 0) < 0)
		return -1;
	return db_error(app->db) ? -1 : 0;
}

int contact_unsubscribe(struct app *app, const char *email, int64_t deal, const char *by, const char *message_id)
{
	bool first = db_int(app->db, 0, "SELECT COUNT(*) FROM contacts WHERE email = ? AND unsubscribed = 0", "t",
			    email) > 0;
	db_exec(app->db, "UPDATE contacts SET unsubscribed = 1 WHERE email = ?", "t", email);
	contact_stop_sequences(app, email, "unsubscribe");
	int pts = app->cfg->score_unsubscribe;
	if (first && pts) {
		if (deal > 0)
			deal_add_score(app, deal, pts, by, message_id);
		else {
			struct dbq *q = db_query(app->db, "SELECT d.id FROM deals d JOIN contacts c ON c.id = d.contact_id "
						 "WHERE c.email = ? AND d.status = 'open' ORDER BY d.id", "t", email);
			int64_t ids[64];
			size_t n = 0;
			while (db_next(q) && n < sizeof ids / sizeof ids[0])
				ids[n++] = db_col_int(q, 0);
			db_done(q);
			for (size_t i = 0; i < n; i++)
				deal_add_score(app, ids[i], pts, by, message_id);
		}
	}
	return db_error(app->db) ? -1 : 0;
}

void stop_enrollments(struct app *app, int64_t deal, const char *why)
{
	/* every stage change comes here, and most deals have no sequence
	 * running: an UPDATE that finds nothing still opens the table and its
	 * four indexes for writing (1.7 us, against 0.3 for this look) */
	if (db_int(app->db, 0, "SELECT EXISTS(SELECT 1 FROM enrollments WHERE deal_id = ? AND status = 'active')",
		   "i", deal) > 0)
		db_exec(app->db, "UPDATE enrollments SET status = 'stopped', stopped_reason = ?, next_at = NULL "
			"WHERE deal_id = ? AND status = 'active'", "ti", why, deal);
}

static int64_t deal_insert(struct app *app, const struct deal_new *d, const char **err_r);

/* A title and a name are stored on one line (text_one_line()): a CR LF
 * typed into a `deal add --title` reached digests, replies and exports as a
 * line "Bcc: x" of a body (headers were safe already, compose.c). */
int64_t deal_create(struct app *app, const struct deal_new *d0, const char **err_r)
{
	struct deal_new dd = *d0;
	char *title = text_one_line(d0->title), *cname = text_one_line(d0->contact_name);
	dd.title = title;
	dd.contact_name = cname;
	int64_t id = deal_insert(app, &dd, err_r);
	free(title);
	free(cname);
	return id;
}

static int64_t deal_insert(struct app *app, const struct deal_new *d, const char **err_r)
{
	const struct config *cfg = app->cfg;
	char now[21];
	int stage = d->stage && *d->stage ? config_stage_find(cfg, d->stage) : cfg->default_stage;
	*err_r = NULL;
	if (stage < 0) {
		*err_r = "unknown stage";
		return -1;
	}
	const char *owner = d->owner;
	if (owner && *owner) {
		const struct rep *r = config_rep_find(cfg, owner);
		if (!r) {
			*err_r = "owner is not a configured rep";
			return -1;
		}
		owner = r->email;
	} else
		owner = NULL;
	app_now_iso(now);
	int64_t contact = 0;
	if (d->contact && *d->contact) {
		contact = contact_ensure(app, d->contact, d->contact_name, owner);
		if (contact < 0)
			return -1;
		if (owner && cfg->sync_contact_owner)
			db_exec(app->db, "UPDATE contacts SET owner = ? WHERE id = ?", "ti", owner, contact);
	}
	const char *status = stage == cfg->won_stage ? "won" : stage == cfg->lost_stage ? "lost" : "open";
	/* a closed deal's reason, as a rep's "lost: price" gives it */
	const char *reason = NULL;
	if (strcmp(status, "open") && d->reason && *d->reason) {
		bool won = stage == cfg->won_stage;
		reason = config_reason_find(cfg, won, d->reason);
		if (!reason && cfg->strict_reasons) {
			*err_r = "unknown reason (strict_reasons: one of won_reasons/lost_reasons)";
			return -1;
		}
		if (!reason)
			reason = d->reason;
	}
	if (db_exec(app->db, "INSERT INTO deals(title, contact_id, stage, initial_stage, status, value, currency, "
		    "owner, close_date, source, created_at, stage_since, last_activity, closed_at, reason) "
		    "VALUES(?, NULLIF(?, 0), ?, ?, ?, CASE WHEN ? THEN ? END, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		    "titttIdttttttt" "tt", d->title, contact, cfg->stages[stage].key,
		    cfg->stages[stage].key, status, (int)d->has_value, d->value,
		    d->currency && *d->currency ? d->currency : (d->has_value ? cfg->currency : NULL),
		    owner, d->close_date && *d->close_date ? d->close_date : NULL,
		    d->source ? d->source : "manual", now, now, now,
		    strcmp(status, "open") ? now : NULL, reason) < 0)
		return -1;
	int64_t id = db_last_id(app->db);
	if (deal_fire(app, id, cfg->stages[stage].on_enter, cfg->stages[stage].non_enter, d->by,
		      d->message_id, 0) < 0)
		return -1;
	return db_error(app->db) ? -1 : id;
}

/* ---- the deal rows of one message ---------------------------------- */

/* Routing, the permission checks, the moves, the triggers and the answers
 * of one message read the same deal's stage and owner again and again
 * (four statements a message in a batch).  While a message is processed
 * they are read once and kept: every statement that writes a deal's stage
 * or owner goes through deal_row_forget() (or sets the new stage,
 * deal_move()), a rollback forgets them all, and so does the end of
 * the message (another process may change the deal before the next).  Its
 * last_activity is known only once this process wrote it (deal_move(),
 * touch() in apply.c: no other statement writes it but a deal's INSERT). */
#define ROWS (sizeof ((struct app *)0)->rows / sizeof ((struct app *)0)->rows[0])

static void row_drop(struct deal_row *r)
{
	free(r->stage);
	free(r->owner);
	*r = (struct deal_row){0};
}

static void rows_clear(struct app *app)
{
	for (size_t i = 0; i < ROWS; i++)
		row_drop(&app->rows[i]);
}

void deal_rows_begin(struct app *app)
{
	rows_clear(app);
	app->rows_gen = db_rollbacks(app->db);
	app->rows_on = true;
}

void deal_rows_end(struct app *app)
{
	rows_clear(app);
	app->rows_on = false;
}

void deal_row_forget(struct app *app, int64_t deal)
{
	for (size_t i = 0; i < ROWS; i++)
		if (app->rows[i].id == deal)
			row_drop(&app->rows[i]);
}

struct deal_row *deal_row_kept(struct app *app, int64_t deal)
{
	if (!app->rows_on)
		return NULL;
	if (app->rows_gen != db_rollbacks(app->db)) {
		rows_clear(app);
		app->rows_gen = db_rollbacks(app->db);
	}
	for (size_t i = 0; i < ROWS; i++)
		if (app->rows[i].id == deal && deal > 0)
			return &app->rows[i];
	return NULL;
}

const struct deal_row *deal_row(struct app *app, int64_t deal)
{
	struct deal_row *r = deal_row_kept(app, deal);
	if (r)
		return r;
	struct dbq *q = db_query(app->db, "SELECT stage, owner FROM deals WHERE id = ?", "i", deal);
	if (db_next(q)) {
		r = &app->rows[app->rows_next++ % ROWS];
		row_drop(r);
		*r = (struct deal_row){
			.id = deal, .stage = xstrdup(db_col_text(q, 0)),
			.owner = db_col_null(q, 1) ? NULL : xstrdup(db_col_text(q, 1)),
		};
	}
	db_done(q);
	return r;
}

char *deal_owner(struct app *app, int64_t deal)
{
	if (!app->rows_on)
		return db_text(app->db, "SELECT owner FROM deals WHERE id = ?", "i", deal);
	const struct deal_row *r = deal_row(app, deal);
	return r && r->owner ? xstrdup(r->owner) : NULL;
}

char *deal_stage(struct app *app, int64_t deal)
{
	if (!app->rows_on)
		return db_text(app->db, "SELECT stage FROM deals WHERE id = ?", "i", deal);
	const struct deal_row *r = deal_row(app, deal);
	return r && r->stage ? xstrdup(r->stage) : NULL;
}

static void managers_of(const struct config *cfg, const char *owner, const char **out, size_t *n)
{
	const struct rep *o = owner ? config_rep_find(cfg, owner) : NULL;
	*n = 0;
	for (size_t i = 0; i < cfg->nreps && *n < 16; i++) {
		const struct rep *r = &cfg->reps[i];
		if (!r->manager)
			continue;
		if (o && o->team && r->team && strcmp(o->team, r->team))
			continue;
		out[(*n)++] = r->email;
	}
}

/* Fill deal.*, contact.*, owner.* variables. */
void deal_vars(struct app *app, int64_t deal, struct tvars *v, enum lang lang);

static int notify_by(struct app *app, int64_t deal, const char *to, const char *tmpl, const char *message_id,
		     int days, const char *by)
{
	const struct rep *r = config_rep_find(app->cfg, to);
	enum lang lang = r ? r->lang : app->cfg->language;
	struct tvars *v = tvars_new();
	deal_vars(app, deal, v, lang);
	tvars_set(v, "rep.name", r ? r->name : to);
	if (by) {
		const struct rep *b = config_rep_find(app->cfg, by);
		tvars_set(v, "message.by", b ? b->name : by);
	}
	if (days)
		tvars_setf(v, "deal.days", "%d", days);
	struct outbox_item it = {
		.kind = "notification", .deal_id = deal, .to_addr = to, .to_name = r ? r->name : NULL,
		.tmpl = tmpl, .lang = lang_code(lang), .vars = v, .cause_message_id = message_id,
	};
	int64_t id = outbox_queue(app, &it);
	tvars_free(v);
	return id < 0 ? -1 : 0;
}

static int notify(struct app *app, int64_t deal, const char *to, const char *tmpl, const char *message_id,
		  int days)
{
	return notify_by(app, deal, to, tmpl, message_id, days, NULL);
}

int deal_notify_rep(struct app *app, int64_t deal, const char *to, const char *tmpl, const char *message_id,
		    const char *by)
{
	if (!to || (by && !strcasecmp(to, by)))
		return 0;
	return notify_by(app, deal, to, tmpl, message_id, 0, by);
}

int deal_notify(struct app *app, int64_t deal, enum notify_target target, const char *tmpl,
		const char *message_id, int days)
{
	char *owner = deal_owner(app, deal);
	int rc = 0;
	if (target == NOTIFY_OWNER) {
		if (owner)
			rc = notify(app, deal, owner, tmpl, message_id, days);
	} else {
		const char *m[16];
		size_t n;
		managers_of(app->cfg, owner, m, &n);
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = notify(app, deal, m[i], tmpl, message_id, days);
	}
	free(owner);
	return rc;
}

int deal_add_score(struct app *app, int64_t deal, int delta, const char *by, const char *message_id)
{
	char now[21];
	int64_t before = db_int(app->db, 0, "SELECT score FROM deals WHERE id = ?", "i", deal);
	int64_t after = before + delta;
	app_now_iso(now);
	char f[24], t[24];
	snprintf(f, sizeof f, "%lld", (long long)before);
	snprintf(t, sizeof t, "%lld", (long long)after);
	if (db_exec(app->db, "UPDATE deals SET score = ? WHERE id = ?", "ii", after, deal) < 0 ||
	    db_exec(app->db, "INSERT INTO events(deal_id, type, from_val, to_val, by, at, message_id) "
		    "VALUES(?, 'score', ?, ?, ?, ?, ?)", "ittttt", deal, f, t, by, now, message_id) < 0)
		return -1;
	int th = app->cfg->score_threshold;
	if (th > 0 && before < th && after >= th)
		return deal_notify(app, deal, NOTIFY_OWNER, "notify-score", message_id, 0);
	return 0;
}

int deal_fire(struct app *app, int64_t deal, const struct action *acts, size_t n,
	      const char *by, const char *message_id, int depth)
{
	char today[11], due[11], now[21];
	for (size_t i = 0; i < n; i++) {
		const struct action *a = &acts[i];
		int rc = 0;
		switch (a->kind) {
		case ACT_SEQUENCE:
			rc = enroll(app, deal, config_sequence_find(app->cfg, a->arg), message_id);
			break;
		case ACT_TASK: {
			char *owner = deal_owner(app, deal);
			app_today(today);
			date_add_days(today, a->days, due);
			app_now_iso(now);
			app->scheduled++;
			rc = db_exec(app->db, "INSERT INTO tasks(deal_id, owner, text, due, created_at, message_id) "
				     "VALUES(?, ?, ?, ?, ?, ?)", "ittttt", deal, owner, a->arg, due, now, message_id);
			if (rc == 0)
				rc = db_exec(app->db, "INSERT INTO events(deal_id, type, to_val, by, at, message_id) "
					     "VALUES(?, 'task', ?, ?, ?, ?)", "itttt", deal, a->arg,
					     "dealmail", now, message_id);
			free(owner);
			break;
		}
		case ACT_NOTIFY: {
			/* a won or lost stage's "notify owner" for a move someone
			 * else made: run_command() tells the owner with
			 * notify-closed (who, and why), not twice */
			const struct config *cfg = app->cfg;
			bool closing = (cfg->won_stage >= 0 && acts == cfg->stages[cfg->won_stage].on_enter) ||
				       (cfg->lost_stage >= 0 && acts == cfg->stages[cfg->lost_stage].on_enter);
			if (a->target == NOTIFY_OWNER && closing && by && strcmp(by, "dealmail")) {
				char *owner = deal_owner(app, deal);
				bool other = owner && strcasecmp(owner, by);
				free(owner);
				if (other)
					break;
			}
			rc = deal_notify(app, deal, a->target, "notify-stage", message_id, 0);
			break;
		}
		case ACT_SCORE:
			rc = deal_add_score(app, deal, a->delta, "dealmail", message_id);
			break;
		case ACT_STAGE: {
			int s = config_stage_find(app->cfg, a->arg);
			if (s >= 0 && depth < 4)
				rc = deal_move(app, deal, s, NULL, "dealmail", message_id, depth + 1);
			break;
		}
		}
		if (rc < 0 || db_error(app->db))
			return -1;
	}
	return 0;
}

int deal_move(struct app *app, int64_t deal, int stage, const char *reason,
	      const char *by, const char *message_id, int depth)
{
	const struct config *cfg = app->cfg;
	char now[21];
	char *from = deal_stage(app, deal);
	if (!from)
		return -1;
	const char *to = cfg->stages[stage].key;
	if (!strcmp(from, to)) {
		/* same stage: only a reason may change */
		if (reason && *reason)
			db_exec(app->db, "UPDATE deals SET reason = ? WHERE id = ?", "ti", reason, deal);
		free(from);
		return db_error(app->db) ? -1 : 0;
	}
	const char *status = stage == cfg->won_stage ? "won" : stage == cfg->lost_stage ? "lost" : "open";
	app_now_iso(now);
	/* a rep's probability was an estimate for the stage the deal was in:
	 * the new stage's own applies (a won deal is not "70 %"); the event
	 * lets an undo of this message put the estimate back */
	/* (not one the same message gives: "probabilidad: 80%" above "etapa:
	 * negociación" is the estimate for the new stage) */
	char *prob = db_text(app->db, "SELECT probability FROM deals WHERE id = ?1 AND probability IS NOT NULL AND "
			     "NOT EXISTS(SELECT 1 FROM events WHERE deal_id = ?1 AND type = 'probability' AND "
			     "message_id IS ?2 AND to_val IS NOT NULL AND undone = 0)", "it", deal, message_id);
	int rc = 0;
	if (prob) {
		rc = db_exec(app->db, "UPDATE deals SET probability = NULL WHERE id = ?", "i", deal);
		if (rc == 0)
			rc = db_exec(app->db, "INSERT INTO events(deal_id, type, from_val, to_val, by, at, message_id) "
				     "VALUES(?, 'probability', ?, NULL, ?, ?, ?)", "ittt" "t", deal, prob, by, now,
				     message_id);
		free(prob);
		if (rc < 0) {
			free(from);
			return -1;
		}
	}
	rc = db_exec(app->db, "UPDATE deals SET stage = ?, status = ?, reason = ?, stage_since = ?, "
			 "last_activity = ?, stale_fired = 0, closed_at = CASE WHEN ? = 'open' THEN NULL "
			 "ELSE ? END WHERE id = ?", "tttttttI" , to, status,
			 strcmp(status, "open") && reason && *reason ? reason : NULL, now, now, status, now,
			 (int)deal);
	/* the row kept for the message has the new stage and activity */
	struct deal_row *kept = deal_row_kept(app, deal);
	if (kept && rc == 0) {
		free(kept->stage);
		kept->stage = xstrdup(to);
		memcpy(kept->active, now, sizeof kept->active);
	} else
		deal_row_forget(app, deal);
	if (rc == 0)
		rc = db_exec(app->db, "INSERT INTO events(deal_id, type, from_val, to_val, reason, by, at, message_id) "
			     "VALUES(?, 'stage', ?, ?, ?, ?, ?, ?)", "ittttt" "t", deal, from, to,
			     reason && *reason ? reason : NULL, by, now, message_id);
	free(from);
	if (rc < 0)
		return -1;
	stop_enrollments(app, deal, "stage");
	return deal_fire(app, deal, cfg->stages[stage].on_enter, cfg->stages[stage].non_enter, by,
			 message_id, depth);
}

const char *fmt_money(enum lang l, double v, char *out, size_t n)
{
	if (isnan(v)) {
		snprintf(out, n, "–");
		return out;
	}
	char th = l == LANG_EN ? ',' : '.', dec = l == LANG_EN ? '.' : ',';
	char raw[64];
	bool whole = fabs(v - round(v)) < 0.005;
	snprintf(raw, sizeof raw, whole ? "%.0f" : "%.2f", fabs(v));
	char *dot = strchr(raw, '.');
	size_t intlen = dot ? (size_t)(dot - raw) : strlen(raw), k = 0;
	if (v < 0 && strspn(raw, "0.") != strlen(raw))
		out[k++] = '-';
	for (size_t i = 0; i < intlen && k + 2 < n; i++) {
		if (i && (intlen - i) % 3 == 0)
			out[k++] = th;
		out[k++] = raw[i];
	}
	if (dot && k + 4 < n) {
		out[k++] = dec;
		out[k++] = dot[1];
		out[k++] = dot[2];
	}
	out[k] = '\0';
	return out;
}

const char *fmt_amount_lang(double v, const char *cur, enum lang l, char *out, size_t n)
{
	char num[64];
	fmt_money(l, v, num, sizeof num);
	snprintf(out, n, "%s%s%s", num, cur && *cur ? " " : "", cur ? cur : "");
	return out;
}

const char *fmt_amount(double v, const char *cur, char *out, size_t n)
{
	const char *sp = cur && *cur ? " " : "";
	if (v == (double)(long long)v)
		snprintf(out, n, "%lld%s%s", (long long)v, sp, cur ? cur : "");
	else
		snprintf(out, n, "%.2f%s%s", v, sp, cur ? cur : "");
	return out;
}

void deal_vars(struct app *app, int64_t deal, struct tvars *v, enum lang lang)
{
	struct dbq *q = db_query(app->db,
				 "SELECT d.id, d.title, d.stage, d.value, d.currency, d.close_date, d.owner, "
				 "d.score, c.email, c.name, d.status, d.reason FROM deals d "
				 "LEFT JOIN contacts c ON c.id = d.contact_id WHERE d.id = ?", "i", deal);
	if (db_next(q)) {
		char num[64];
		/* the numbers by dec_format() and "name <address>" by hand, not by
		 * tvars_setf(): its vsnprintf() was a quarter of this, which runs for
		 * every message queued about a deal */
		size_t k = dec_format(db_col_int(q, 0), num + 7);
		tvars_set(v, "deal.id", num + 7);
		memcpy(num, "[deal #", 7);
		memcpy(num + 7 + k, "]", 2);
		tvars_set(v, "deal.tag", num);
		tvars_set(v, "deal.title", db_col_text(q, 1));
		int s = config_stage_find(app->cfg, db_col_text(q, 2));
		tvars_set(v, "deal.stage", s >= 0 ? stage_name(app->cfg, s, lang) : db_col_text(q, 2));
		tvars_set(v, "deal.stage_key", db_col_text(q, 2));
		if (!db_col_null(q, 3))
			tvars_set(v, "deal.value", fmt_money(lang, db_col_double(q, 3), num, sizeof num));
		tvars_set(v, "deal.currency", db_col_text(q, 4));
		tvars_set(v, "deal.close_date", db_col_text(q, 5));
		const char *owner = db_col_text(q, 6);
		const struct rep *r = owner ? config_rep_find(app->cfg, owner) : NULL;
		tvars_set(v, "deal.owner", owner);
		tvars_set(v, "owner.email", owner);
		tvars_set(v, "owner.name", r ? r->name : owner);
		dec_format(db_col_int(q, 7), num);
		tvars_set(v, "deal.score", num);
		tvars_set(v, "deal.status", db_col_text(q, 10));
		tvars_set(v, "deal.reason", config_reason_name(db_col_text(q, 11), lang));
		const char *ce = db_col_text(q, 8), *cn = db_col_text(q, 9);
		tvars_set(v, "contact.email", ce);
		tvars_set(v, "contact.name", cn ? cn : ce);
		/* "Ana Pérez <ana@acme.mx>", or the address alone when no name is known */
		if (cn && *cn && ce && strcmp(cn, ce)) {
			size_t cnl = strlen(cn), cel = strlen(ce);
			char who[256];
			if (cnl + 2 + cel + 2 <= sizeof who) {
				memcpy(who, cn, cnl);
				memcpy(who + cnl, " <", 2);
				memcpy(who + cnl + 2, ce, cel);
				memcpy(who + cnl + 2 + cel, ">", 2);
				tvars_set(v, "contact.who", who);
			} else
				tvars_setf(v, "contact.who", "%s <%s>", cn, ce);
		} else
			tvars_set(v, "contact.who", ce);
		if (cn && *cn) {
			char first[128];
			/* "Pérez, José" (as directories write it): José */
			const char *comma = strstr(cn, ", ");
			if (comma && comma[2] && !strchr(comma + 2, ','))
				cn = comma + 2;
			size_t k = strcspn(cn, " ");
			if (k >= sizeof first)
				k = sizeof first - 1;
			memcpy(first, cn, k);
			first[k] = '\0';
			tvars_set(v, "contact.first_name", first);
		}
	}
	db_done(q);
	tvars_set(v, "assistant.address", app->cfg->address);
	tvars_set(v, "assistant.name", app->cfg->name);
	tvars_set(v, "lang", lang_code(lang));
}

int task_reminders(struct app *app)
{
	char today[11];
	int n = 0;
	app_today(today);
	if (db_begin(app->db) < 0)
		goto fail;
	/* tasks of open deals only: a won or lost deal's follow-up call is noise */
	struct dbq *q = db_query(app->db, "SELECT t.id, t.deal_id, t.owner, t.text, t.due FROM tasks t WHERE t.done = 0 "
				 "AND t.reminded = 0 AND t.due IS NOT NULL AND t.due <= ? AND EXISTS(SELECT 1 FROM deals d "
				 "WHERE d.id = t.deal_id AND d.status = 'open') ORDER BY t.id LIMIT 500",
				 "t", today);
	struct rem { int64_t id, deal; char *owner, *text, *due; } r[500];
	size_t k = 0;
	while (db_next(q) && k < 500) {
		r[k].id = db_col_int(q, 0);
		r[k].deal = db_col_int(q, 1);
		r[k].owner = xstrdup(db_col_text(q, 2));
		r[k].text = xstrdup(db_col_text(q, 3));
		r[k].due = xstrdup(db_col_text(q, 4));
		k++;
	}
	db_done(q);
	for (size_t i = 0; i < k; i++) {
		/* the task's owner, else the deal's */
		char *to = r[i].owner ? xstrdup(r[i].owner)
				      : db_text(app->db, "SELECT owner FROM deals WHERE id = ?", "i", r[i].deal);
		if (to) {
			const struct rep *rep = config_rep_find(app->cfg, to);
			enum lang lang = rep ? rep->lang : app->cfg->language;
			struct tvars *v = tvars_new();
			deal_vars(app, r[i].deal, v, lang);
			tvars_set(v, "rep.name", rep ? rep->name : to);
			tvars_set(v, "item.text", r[i].text);
			tvars_set(v, "item.due", r[i].due);
			struct outbox_item it = {
				.kind = "notification", .deal_id = r[i].deal, .to_addr = to,
				.to_name = rep ? rep->name : NULL, .tmpl = "notify-task", .lang = lang_code(lang), .vars = v,
			};
			if (outbox_queue(app, &it) >= 0)
				n++;
			tvars_free(v);
			free(to);
		}
		db_exec(app->db, "UPDATE tasks SET reminded = 1 WHERE id = ?", "i", r[i].id);
	}
	for (size_t i = 0; i < k; i++) {
		free(r[i].owner);
		free(r[i].text);
		free(r[i].due);
	}
	if (db_error(app->db) || db_commit(app->db) < 0)
		goto fail;
	return n;
fail:
	log_error("task reminders: %s", db_error(app->db) ? db_error(app->db) : "?");
	db_rollback(app->db);
	db_clear_error(app->db);
	return -1;
}
