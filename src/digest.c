/* digest.c — the daily digest (SPEC §5); see digest.h.
 *
 * One digest = one set of template variables (digest.*) filled from:
 *   - report_build() over the recipient's scope (funnel, metrics, target);
 *   - a few scoped, LIMITed queries for the lists: what needs the rep today
 *     (tasks due and overdue, stalled and silent deals), movements since the
 *     previous digest (stage changes, won and lost with reasons), new deals,
 *     failed deliveries.
 * The scope is a JSON array of owner addresses bound as one parameter
 * (owner IN json_each(?1)), so the index deals_owner(owner, status) drives
 * every list; a manager without a team sees every deal (?1 NULL).
 * templates/<lang>/digest.txt and digest.html lay it out; numbers are
 * formatted here in the recipient's language (12.345,50 for es/pt). */
#include "digest.h"
#include "app.h"
#include "cli.h"
#include "deliver.h"
#include "report.h"
#include "template.h"
#include "util.h"
#include <getopt.h>
#include <signal.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LIST_MAX 25     /* items per list in one digest */

struct target {
	const struct rep *rep;
	bool team;              /* the team's digest (a manager's) */
};

/* ---- formatting ------------------------------------------------------------ */

static const char *fmt_dec(enum lang l, double v, int decimals, char *out, size_t n)
{
	if (isnan(v)) {
		snprintf(out, n, "–");
		return out;
	}
	snprintf(out, n, "%.*f", decimals, v);
	if (l != LANG_EN)
		for (char *p = out; *p; p++)
			if (*p == '.')
				*p = ',';
	return out;
}

static void set_money(struct tvars *v, const char *name, enum lang l, double x)
{
	char b[64];
	tvars_set(v, name, fmt_money(l, x, b, sizeof b));
}

/* A figure in the team's currency with the others' beside it
 * (report_money_cur()), as language l writes amounts. */
static void set_money_cur(struct tvars *v, const char *name, enum lang l, const struct report *r, const double *vc,
			  double mult)
{
	char b[512];
	tvars_set(v, name, report_money_cur(l, "–", r, vc, mult, b, sizeof b));
}

static void set_int(struct tvars *v, const char *name, int64_t x)
{
	tvars_setf(v, name, "%lld", (long long)x);
}

static int days_between(time_t now, const char *iso)
{
	time_t t = iso ? iso_parse(iso) : -1;
	return t < 0 ? 0 : (int)((now - t) / 86400);
}

/* "label          12       34.500  ████" with code-point padding. */
static void text_row(char *out, size_t n, const char *label, int64_t count, const char *value, const char *bar)
{
	int w = 0;
	for (const char *p = label; *p; p++)
		w += ((unsigned char)*p & 0xc0) != 0x80;
	int padn = w < 22 ? 22 - w : 1;
	snprintf(out, n, "%s%*s%5lld %14s  %s", label, padn, "", (long long)count, value, bar);
}

/* Fill tag, id, title, mailto of one deal item. */
static void deal_item(struct app *app, struct tvars *it, int64_t id, const char *title)
{
	tvars_setf(it, "id", "%lld", (long long)id);
	tvars_setf(it, "tag", "[deal #%lld]", (long long)id);
	tvars_set(it, "title", title ? title : "");
	/* a reply starting from this link lands on the deal (subject tag) */
	tvars_setf(it, "mailto", "mailto:%s?subject=%%5Bdeal%%20%%23%lld%%5D", app->cfg->address, (long long)id);
}

static const char *stage_label(const struct config *cfg, const char *key, enum lang l)
{
	int s = key ? config_stage_find(cfg, key) : -1;
	return s >= 0 ? stage_name(cfg, s, l) : key ? key : "";
}

/* ---- composing ----------------------------------------------------------------- */

static char *scope_json(const struct config *cfg, const struct target *t, const char ***owners_r, size_t *n_r)
{
	*owners_r = NULL;
	*n_r = 0;
	if (t->team && !t->rep->team)
		return NULL;            /* a manager without a team: every deal */
	if (t->team)
		*owners_r = report_team_owners(cfg, t->rep->team, n_r);
	else {
		*owners_r = xcalloc(1, sizeof **owners_r);
		(*owners_r)[0] = t->rep->email;
		*n_r = 1;
	}
	struct buf j;
	buf_init(&j);
	buf_addc(&j, '[');
	for (size_t i = 0; i < *n_r; i++) {
		if (i)
			buf_addc(&j, ',');
		json_str(&j, (*owners_r)[i]);
	}
	buf_addc(&j, ']');
	return buf_detach(&j);
}

struct attention {
	int64_t id;
	char *title, *stage;
	int days;
};

static int att_cmp(const void *x, const void *y)
{
	const struct attention *a = x, *b = y;
	return a->days != b->days ? (a->days > b->days ? -1 : 1) : (a->id < b->id ? -1 : a->id > b->id);
}

/* Stalled and silent lists from one pass over the scope's open deals that
 * are old enough to be either. */
static void attention_lists(struct app *app, struct tvars *v, const char *oj, time_t now, enum lang l)
{
	const struct config *cfg = app->cfg;
	int min_stale = 0;
	for (size_t s = 0; s < cfg->nstages; s++)
		if (cfg->stages[s].stale_days > 0 && (!min_stale || cfg->stages[s].stale_days < min_stale))
			min_stale = cfg->stages[s].stale_days;
	char stale_cut[21], silent_cut[21];
	iso_format(min_stale ? now - (time_t)min_stale * 86400 : 0, stale_cut);
	iso_format(cfg->silent_days > 0 ? now - (time_t)cfg->silent_days * 86400 : 0, silent_cut);
	struct dbq *q = db_query(app->db, oj ?
		"SELECT id, title, stage, stage_since, last_activity FROM deals d "
		"WHERE d.owner IN (SELECT value FROM json_each(?1)) AND d.status = 'open' "
		"AND (d.stage_since <= ?2 OR d.last_activity <= ?3)" :
		"SELECT id, title, stage, stage_since, last_activity FROM deals d "
		"WHERE ?1 IS NULL AND d.status = 'open' AND (d.stage_since <= ?2 OR d.last_activity <= ?3)",
		"ttt", oj, stale_cut, silent_cut);
	struct attention *st = NULL, *si = NULL;
	size_t nst = 0, nsi = 0;
	while (db_next(q)) {
		int s = config_stage_find(cfg, db_col_text(q, 2));
		int in_stage = days_between(now, db_col_text(q, 3));
		time_t since = iso_parse(db_col_text(q, 3));
		time_t act = iso_parse(db_col_text(q, 4));
		if (s >= 0 && cfg->stages[s].stale_days > 0 && since >= 0 &&
		    since <= now - (time_t)cfg->stages[s].stale_days * 86400) {
			st = xrealloc(st, (nst + 1) * sizeof *st);
			st[nst++] = (struct attention){db_col_int(q, 0), xstrdup(db_col_text(q, 1)),
						       xstrdup(stage_label(cfg, db_col_text(q, 2), l)), in_stage};
		}
		if (cfg->silent_days > 0 && act >= 0 && act <= now - (time_t)cfg->silent_days * 86400) {
			si = xrealloc(si, (nsi + 1) * sizeof *si);
			si[nsi++] = (struct attention){db_col_int(q, 0), xstrdup(db_col_text(q, 1)),
						       xstrdup(stage_label(cfg, db_col_text(q, 2), l)),
						       days_between(now, db_col_text(q, 4))};
		}
	}
	db_done(q);
	for (int pass = 0; pass < 2; pass++) {
		struct attention *a = pass ? si : st;
		size_t n = pass ? nsi : nst;
		if (n)
			qsort(a, n, sizeof *a, att_cmp);
		for (size_t i = 0; i < n; i++) {
			if (i < LIST_MAX) {
				struct tvars *it = tvars_push(v, pass ? "digest.silent" : "digest.stalled");
				deal_item(app, it, a[i].id, a[i].title);
				tvars_set(it, "stage", a[i].stage);
				tvars_setf(it, "days", "%d", a[i].days);
			}
			free(a[i].title);
			free(a[i].stage);
		}
		set_int(v, pass ? "digest.silent_count" : "digest.stalled_count", (int64_t)n);
		if (n > LIST_MAX)
			set_int(v, pass ? "digest.silent_more" : "digest.stalled_more", (int64_t)(n - LIST_MAX));
	}
	free(st);
	free(si);
}

/* Everything but the report figures; returns how many items need attention
 * or are news (0 = an empty digest). */
static int64_t digest_lists(struct app *app, struct tvars *v, const char *oj, const char *prev, time_t now,
			    const char *today, enum lang l)
{
	const struct config *cfg = app->cfg;
	int64_t news = 0;
	struct dbq *q;
	int n;

	/* tasks due today or overdue */
	q = db_query(app->db, oj ?
		"SELECT t.deal_id, d.title, t.text, t.due FROM deals d CROSS JOIN tasks t ON t.deal_id = d.id "
		"WHERE d.owner IN (SELECT value FROM json_each(?1)) AND +t.done = 0 AND +t.due <= ?2 AND d.status = 'open' "
		"ORDER BY t.due, t.id LIMIT 26" :
		"SELECT t.deal_id, d.title, t.text, t.due FROM tasks t JOIN deals d ON d.id = t.deal_id "
		"WHERE ?1 IS NULL AND t.done = 0 AND t.due <= ?2 AND d.status = 'open' ORDER BY t.due, t.id LIMIT 26",
		"tt", oj, today);
	for (n = 0; db_next(q); n++) {
		if (n == LIST_MAX) {
			tvars_set(v, "digest.tasks_more", "1");
			break;
		}
		struct tvars *it = tvars_push(v, "digest.tasks");
		deal_item(app, it, db_col_int(q, 0), db_col_text(q, 1));
		tvars_set(it, "text", db_col_text(q, 2));
		tvars_set(it, "due", db_col_text(q, 3));
		if (db_col_text(q, 3) && strcmp(db_col_text(q, 3), today) < 0)
			tvars_set(it, "overdue", "1");
	}
	db_done(q);
	news += n;
	set_int(v, "digest.tasks_count", n);

	attention_lists(app, v, oj, now, l);

	/* stage movements since the previous digest */
	q = db_query(app->db, oj ?
		/* from the scope's deals (deals_owner), each probed for its stage
		 * changes of the period (events_stage_deal): a rep's few hundred
		 * deals, not every stage change of the whole team since then */
		"SELECT e.deal_id, d.title, e.from_val, e.to_val, e.reason, e.by, e.at FROM deals d "
		"CROSS JOIN events e ON e.deal_id = d.id WHERE d.owner IN (SELECT value FROM json_each(?1)) "
		"AND e.type = 'stage' AND e.undone = 0 AND e.at > ?2 ORDER BY e.at, e.id LIMIT 26" :
		"SELECT e.deal_id, d.title, e.from_val, e.to_val, e.reason, e.by, e.at FROM events e "
		"JOIN deals d ON d.id = e.deal_id WHERE e.at > ?2 AND e.type = 'stage' AND e.undone = 0 "
		"AND ?1 IS NULL ORDER BY e.at, e.id LIMIT 26",
		"tt", oj, prev);
	int nwon = 0, nlost = 0;
	for (n = 0; db_next(q); n++) {
		if (n == LIST_MAX) {
			tvars_set(v, "digest.moves_more", "1");
			break;
		}
		struct tvars *it = tvars_push(v, "digest.moves");
		deal_item(app, it, db_col_int(q, 0), db_col_text(q, 1));
		const char *to = db_col_text(q, 3);
		int ts = to ? config_stage_find(cfg, to) : -1;
		tvars_set(it, "from", stage_label(cfg, db_col_text(q, 2), l));
		tvars_set(it, "to", stage_label(cfg, to, l));
		tvars_set(it, "reason", config_reason_name(db_col_text(q, 4), l));
		const struct rep *by = db_col_text(q, 5) ? config_rep_find(cfg, db_col_text(q, 5)) : NULL;
		tvars_set(it, "by", by ? by->name : db_col_text(q, 5));
		char when[20];
		local_stamp(db_col_text(q, 6), when);
		tvars_set(it, "at", when);
		if (ts >= 0 && ts == cfg->won_stage) {
			tvars_set(it, "won", "1");
			nwon++;
		} else if (ts >= 0 && ts == cfg->lost_stage) {
			tvars_set(it, "lost", "1");
			nlost++;
		}
	}
	db_done(q);
	news += n;
	set_int(v, "digest.moves_count", n);
	set_int(v, "digest.moves_won", nwon);
	set_int(v, "digest.moves_lost", nlost);

	/* new deals since the previous digest */
	q = db_query(app->db, oj ?
		"SELECT d.id, d.title, c.email, d.source, d.owner FROM deals d LEFT JOIN contacts c ON c.id = d.contact_id "
		/* by the deals_created range (what is new since the last digest is a
		 * handful of rows): the unary + keep SQLite from walking the whole
		 * table in id order or the owners' deals instead */
		"WHERE +d.owner IN (SELECT value FROM json_each(?1)) AND d.created_at > ?2 ORDER BY +d.id LIMIT 26" :
		"SELECT d.id, d.title, c.email, d.source, d.owner FROM deals d LEFT JOIN contacts c ON c.id = d.contact_id "
		"WHERE ?1 IS NULL AND d.created_at > ?2 ORDER BY +d.id LIMIT 26",
		"tt", oj, prev);
	for (n = 0; db_next(q); n++) {
		if (n == LIST_MAX) {
			tvars_set(v, "digest.new_more", "1");
			break;
		}
		struct tvars *it = tvars_push(v, "digest.new");
		deal_item(app, it, db_col_int(q, 0), db_col_text(q, 1));
		tvars_set(it, "contact", db_col_text(q, 2));
		tvars_set(it, "source", db_col_text(q, 3));
		const struct rep *ow = db_col_text(q, 4) ? config_rep_find(cfg, db_col_text(q, 4)) : NULL;
		tvars_set(it, "owner", ow ? ow->name : db_col_text(q, 4));
	}
	db_done(q);
	news += n;
	set_int(v, "digest.new_count", n);

	/* deliveries that failed since the previous digest (at its second or
	 * later: a tick queues the digest, then delivers in the same second) */
	q = db_query(app->db, oj ?
		"SELECT o.id, o.rcpt, o.subject, o.last_error, o.deal_id FROM outbox o LEFT JOIN deals d ON d.id = o.deal_id "
		"WHERE o.status = 'failed' AND COALESCE(o.failed_at, o.created_at) >= ?2 "
		"AND COALESCE(d.owner, o.rcpt) IN (SELECT value FROM json_each(?1)) ORDER BY o.id LIMIT 11" :
		"SELECT o.id, o.rcpt, o.subject, o.last_error, o.deal_id FROM outbox o "
		"WHERE o.status = 'failed' AND COALESCE(o.failed_at, o.created_at) >= ?2 AND ?1 IS NULL "
		"ORDER BY o.id LIMIT 11",
		"tt", oj, prev);
	for (n = 0; db_next(q); n++) {
		if (n == 10) {
			tvars_set(v, "digest.failed_more", "1");
			break;
		}
		struct tvars *it = tvars_push(v, "digest.failed");
		tvars_set(it, "to", db_col_text(q, 1));
		tvars_set(it, "subject", db_col_text(q, 2));
		tvars_set(it, "error", db_col_text(q, 3));
		if (!db_col_null(q, 4))
			tvars_setf(it, "tag", "[deal #%lld]", (long long)db_col_int(q, 4));
	}
	db_done(q);
	news += n;
	set_int(v, "digest.failed_count", n);
	return news;
}

static void digest_figures(struct app *app, struct tvars *v, const struct report *r, enum lang l)
{
	const struct config *cfg = app->cfg;
	char b[64], bar[256];
	set_int(v, "digest.open_deals", r->open_deals);
	if (r->open_deals == 1)   /* "1 abierta", not "1 abiertas" */
		tvars_set(v, "digest.open_one", "yes");
	set_money_cur(v, "digest.open_value", l, r, r->open_value_c, 1);
	set_money_cur(v, "digest.weighted", l, r, r->weighted_c, 1);
	set_money_cur(v, "digest.avg_deal", l, r, r->avg_deal_c, 1);
	tvars_set(v, "digest.cycle_days", fmt_dec(l, r->cycle_days, 1, b, sizeof b));
	tvars_set(v, "digest.close_ratio", isnan(r->close_ratio) ? "–" : fmt_dec(l, r->close_ratio * 100, 0, b, sizeof b));
	tvars_set(v, "digest.avg_age", fmt_dec(l, r->avg_age_days, 1, b, sizeof b));
	set_money_cur(v, "digest.velocity_day", l, r, r->velocity_c, 1);
	set_money_cur(v, "digest.velocity_month", l, r, r->velocity_c, 30);
	set_int(v, "digest.won", r->won);
	set_int(v, "digest.lost", r->lost);
	if (r->won == 1)   /* "1 ganada", not "1 ganadas" */
		tvars_set(v, "digest.won_one", "yes");
	if (r->lost == 1)
		tvars_set(v, "digest.lost_one", "yes");
	set_int(v, "digest.tasks_due", r->tasks_due);
	set_int(v, "digest.tasks_overdue", r->tasks_overdue);

	/* funnel: open deals per stage, bars relative to the fullest stage */
	int64_t maxc = 0;
	double maxv = 0;
	for (size_t i = 0; i < r->nstages; i++) {
		if (r->stages[i].count > maxc)
			maxc = r->stages[i].count;
		if (r->stages[i].value > maxv)
			maxv = r->stages[i].value;
	}
	for (size_t i = 0; i < r->nstages; i++) {
		if ((int)i == cfg->won_stage || (int)i == cfg->lost_stage)
			continue;
		const struct report_stage *s = &r->stages[i];
		struct tvars *it = tvars_push(v, "digest.funnel");
		tvars_set(it, "stage", stage_name(cfg, (int)i, l));
		set_int(it, "count", s->count);
		set_money_cur(it, "value", l, r, s->value_c, 1);
		set_money_cur(it, "weighted", l, r, s->weighted_c, 1);
		report_bar(maxc ? (double)s->count / (double)maxc : 0, 20, bar, sizeof bar);
		tvars_set(it, "bar", bar);
		char line[512], money_v[64], money_w[64], both[140], others[256];
		/* SPEC §5: count, value and weighted value (the team's currency;
		 * the others' values after the bar) */
		snprintf(both, sizeof both, "%s%14s", fmt_money(l, s->value, money_v, sizeof money_v),
			 fmt_money(l, s->weighted, money_w, sizeof money_w));
		text_row(line, sizeof line, stage_name(cfg, (int)i, l), s->count, both, bar);
		report_money_others(l, r, s->value_c, 1, others, sizeof others);
		if (others[0])
			tvars_setf(it, "line", "%s%s", line, others);
		else
			tvars_set(it, "line", line);
		tvars_setf(it, "pct", "%d", maxc ? (int)lround(100.0 * (double)s->count / (double)maxc) : 0);
		tvars_setf(it, "wpct", "%d", maxv > 0 ? (int)lround(100.0 * s->weighted / maxv) : 0);
		tvars_setf(it, "vpct", "%d", maxv > 0 ? (int)lround(100.0 * (s->value - s->weighted) / maxv) : 0);
	}
	for (size_t i = 0; i < r->nconv; i++) {
		struct tvars *it = tvars_push(v, "digest.conversion");
		tvars_set(it, "from", stage_label(cfg, r->conv[i].from, l));
		tvars_set(it, "to", stage_label(cfg, r->conv[i].to, l));
		tvars_set(it, "rate", isnan(r->conv[i].rate) ? "–" : fmt_dec(l, r->conv[i].rate * 100, 0, b, sizeof b));
		tvars_setf(it, "pct", "%d", isnan(r->conv[i].rate) ? 0 : (int)lround(r->conv[i].rate * 100));
	}
	set_int(v, "digest.conv_count", (int64_t)r->nconv);
	set_int(v, "digest.won_reasons_count", (int64_t)r->nwon_reasons);
	set_int(v, "digest.lost_reasons_count", (int64_t)r->nlost_reasons);
	for (int w = 1; w >= 0; w--) {
		const struct report_reason *rs = w ? r->won_reasons : r->lost_reasons;
		size_t n = w ? r->nwon_reasons : r->nlost_reasons;
		for (size_t i = 0; i < n && i < 8; i++) {
			struct tvars *it = tvars_push(v, w ? "digest.won_reasons" : "digest.lost_reasons");
			tvars_set(it, "reason", rs[i].reason ? config_reason_name(rs[i].reason, l) : "–");
			set_int(it, "count", rs[i].count);
			set_money_cur(it, "value", l, r, rs[i].value_c, 1);
		}
	}

	/* forecast against the target: weighted, open, monthly target as bars */
	double top = r->open_value;
	if (r->has_target && r->target_monthly > top)
		top = r->target_monthly;
	if (top > 0) {
		tvars_setf(v, "digest.forecast_pct", "%d", (int)lround(100.0 * r->weighted_forecast / top));
		tvars_setf(v, "digest.open_pct", "%d", (int)lround(100.0 * r->open_value / top));
		report_bar(r->weighted_forecast / top, 20, bar, sizeof bar);
		tvars_set(v, "digest.forecast_bar", bar);
		report_bar(r->open_value / top, 20, bar, sizeof bar);
		tvars_set(v, "digest.open_bar", bar);
	}
	if (r->has_target) {
		tvars_set(v, "digest.target", "1");
		set_money(v, "digest.target_monthly", l, r->target_monthly);
		tvars_setf(v, "digest.target_pct", "%d", top > 0 ? (int)lround(100.0 * r->target_monthly / top) : 0);
		report_bar(top > 0 ? r->target_monthly / top : 0, 20, bar, sizeof bar);
		tvars_set(v, "digest.target_bar", bar);
		tvars_set(v, "digest.wins_needed", fmt_dec(l, ceil(r->wins_needed), 0, b, sizeof b));
		if (ceil(r->wins_needed) == 1)
			tvars_set(v, "digest.wins_one", "yes");
		tvars_set(v, "digest.deals_needed", fmt_dec(l, ceil(r->deals_needed), 0, b, sizeof b));
		tvars_set(v, "digest.per_rep", fmt_dec(l, ceil(r->per_rep), 0, b, sizeof b));
	}
}

/* Build the variables of one digest.  *news_r = number of list items (0 =
 * nothing to report).  -1 on a database error. */
static int digest_vars(struct app *app, const struct report_base *base, const struct target *t, time_t now,
		       struct tvars *v, int64_t *news_r)
{
	const struct config *cfg = app->cfg;
	enum lang l = t->rep->lang;
	const char **owners;
	size_t nowners;
	char *oj = scope_json(cfg, t, &owners, &nowners);
	char today[11], prev_buf[21];
	local_date(now, today);
	/* the previous digest: not the row a scheduled one has just written
	 * for itself (sent_at = now), or its "since" would be now */
	char now_iso[21];
	iso_format(now, now_iso);
	char *prev = db_text(app->db, "SELECT MAX(sent_at) FROM digests WHERE recipient = ? AND sent_at < ?", "tt",
			     t->rep->email, now_iso);
	if (!prev) {
		iso_format(now - 86400, prev_buf);
		prev = xstrdup(prev_buf);
	}
	struct report r;
	struct report_scope sc = {.owners = oj ? owners : NULL, .nowners = nowners, .ids = false,
				  .team = t->team ? t->rep->team : NULL};
	int rc = report_build(app, base, &sc, &r);
	if (rc == 0) {
		char stamp[20];
		tvars_set(v, "rep.name", t->rep->name);
		tvars_set(v, "rep.email", t->rep->email);
		tvars_set(v, "digest.date", today);
		local_stamp(prev, stamp);
		tvars_set(v, "digest.since", stamp);
		tvars_set(v, "digest.address", cfg->address);
		tvars_set(v, "assistant.address", cfg->address);
		tvars_set(v, "assistant.name", cfg->name);
		if (t->team) {
			tvars_set(v, "digest.manager", "1");
			tvars_set(v, "digest.team", t->rep->team ? t->rep->team : "*");
		}
		digest_figures(app, v, &r, l);
		int64_t news = digest_lists(app, v, oj, prev, now, today, l) + r.nstalled + r.nsilent;
		set_int(v, "digest.attention", r.nstalled + r.nsilent + r.tasks_due + r.tasks_overdue);
		if (r.nstalled + r.nsilent + r.tasks_due + r.tasks_overdue == 1)
			tvars_set(v, "digest.attention_one", "yes");
		if (!news)
			tvars_set(v, "digest.empty", "1");
		*news_r = news;
		rc = db_error(app->db) ? -1 : 0;
	}
	report_release(&r);
	free(prev);
	free(owners);
	free(oj);
	return rc;
}

/* Queue one digest (outbox row) and record the day; inside a transaction the
 * caller opened.  Returns 1 queued, 0 skipped (empty with skip_empty, or the
 * day already has a row when `once`), -1 error. */
static int digest_queue(struct app *app, const struct report_base *base, const struct target *t, time_t now,
			bool once, int64_t *outbox_id_r)
{
	char day[11], iso[21];
	local_date(now, day);
	iso_format(now, iso);
	if (once) {
		if (db_exec(app->db, "INSERT OR IGNORE INTO digests(recipient, day, sent_at) VALUES(?, ?, ?)", "ttt",
			    t->rep->email, day, iso) < 0)
			return -1;
		if (db_changes(app->db) == 0)
			return 0;       /* another tick did it */
	}
	struct tvars *v = tvars_new();
	int64_t news = 0;
	int rc = digest_vars(app, base, t, now, v, &news);
	if (rc == 0 && !news && app->cfg->digest_skip_empty && once)
		rc = 0;         /* nothing to say: the row alone marks the day done */
	else if (rc == 0) {
		struct outbox_item it = {
			.kind = "digest", .to_addr = t->rep->email, .to_name = t->rep->name,
			.tmpl = "digest", .lang = lang_code(t->rep->lang), .vars = v,
		};
		int64_t id = outbox_queue(app, &it);
		if (id < 0)
			rc = -1;
		else {
			rc = id > 0;
			if (outbox_id_r)
				*outbox_id_r = id;
		}
	}
	if (rc >= 0 && !once &&
	    db_exec(app->db, "INSERT INTO digests(recipient, day, sent_at) VALUES(?, ?, ?) "
		    "ON CONFLICT(recipient, day) DO UPDATE SET sent_at = excluded.sent_at", "ttt",
		    t->rep->email, day, iso) < 0)
		rc = -1;
	tvars_free(v);
	return rc;
}

static struct target target_of(const struct rep *r)
{
	return (struct target){r, r->manager};
}

int digest_due(struct app *app)
{
	const struct config *cfg = app->cfg;
	time_t now = clock_now();
	struct tm tm;
	char day[11];
	local_tm(now, &tm);
	if (tm.tm_hour * 60 + tm.tm_min < cfg->digest_time)
		return 0;
	local_date(now, day);
	/* anything to do?  (cheap: one indexed probe per recipient) */
	bool pending = false;
	for (size_t i = 0; i < cfg->nreps && !pending; i++)
		pending = !db_int(app->db, 0, "SELECT 1 FROM digests WHERE recipient = ? AND day = ?", "tt",
				  cfg->reps[i].email, day);
	if (!pending)
		return db_error(app->db) ? -1 : 0;
	struct report_base *base = report_base_load(app, 0, now);
	if (!base)
		return -1;
	int queued = 0, rc = 0;
	for (size_t i = 0; i < cfg->nreps; i++) {
		const struct rep *r = &cfg->reps[i];
		if (db_int(app->db, 0, "SELECT 1 FROM digests WHERE recipient = ? AND day = ?", "tt", r->email, day))
			continue;
		if (db_begin(app->db) < 0) {
			rc = -1;
			break;
		}
		struct target t = target_of(r);
		int k = digest_queue(app, base, &t, now, true, NULL);
		if (k < 0 || db_commit(app->db) < 0) {
			log_error("digest for %s: %s; will retry on the next tick", r->email,
				  db_error(app->db) ? db_error(app->db) : "template error");
			db_rollback(app->db);
			db_clear_error(app->db);
			rc = -1;
			continue;
		}
		if (k > 0) {
			queued++;
			log_verbose("digest queued for %s", r->email);
		}
	}
	report_base_free(base);
	return rc < 0 ? -1 : queued;
}

/* ---- command ------------------------------------------------------------------ */

static int digest_usage(const char *msg)
{
	fprintf(stderr, "dealmail: %s\nusage: dealmail digest [--rep EMAIL | --manager EMAIL] [--print | --send]\n",
		msg);
	return EXIT_USAGE;
}

static int print_one(struct app *app, const struct report_base *base, const struct target *t, time_t now, bool first)
{
	struct tvars *v = tvars_new();
	struct rendered out = {0};
	char *err = NULL;
	int64_t news = 0;
	int rc = digest_vars(app, base, t, now, v, &news);
	if (rc == 0 && template_render(app->cfg->templates, lang_code(t->rep->lang), "digest", v, &out, &err) < 0) {
		log_error("template digest: %s", err ? err : "cannot render");
		free(err);
		rc = EXIT_CONFIG;
	} else if (rc == 0) {
		printf("%sTo: %s <%s>\nSubject: %s\n\n%s", first ? "" : "\n\f\n", t->rep->name, t->rep->email,
		       out.subject, out.text);
	} else
		rc = db_tempfail(app->db) ? EXIT_TEMPFAIL : EXIT_IOERR;
	rendered_free(&out);
	tvars_free(v);
	return rc;
}

int cmd_digest(int argc, char **argv)
{
	static const struct option lo[] = {
		{"rep", required_argument, 0, 'r'}, {"manager", required_argument, 0, 'm'},
		{"print", no_argument, 0, 'p'}, {"send", no_argument, 0, 's'}, {0, 0, 0, 0}};
	const char *who = NULL;
	bool as_manager = false, print = false, send = false;
	int64_t *queued = NULL;   /* the digests queued: delivered with --send */
	size_t nq = 0, capq = 0;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		switch (c) {
		case 'r':
		case 'm':
			if (who)
				return digest_usage("one --rep or --manager");
			who = optarg;
			as_manager = c == 'm';
			break;
		case 'p': print = true; break;
		case 's': send = true; break;
		default: return digest_usage("unknown option");
		}
	}
	if (optind < argc)
		return digest_usage("unexpected argument");
	if (print && send)
		return digest_usage("--print or --send, not both");
	if (!send)
		print = true;

	struct app app;
	int rc = app_open(&app, false);
	if (rc)
		return rc;
	const struct config *cfg = app.cfg;
	struct target *ts = xcalloc(cfg->nreps + 1, sizeof *ts);
	size_t nt = 0;
	if (who) {
		const struct rep *r = config_rep_find(cfg, who);
		if (!r || (as_manager && !r->manager)) {
			free(ts);
			app_close(&app);
			return digest_usage(r ? "--manager names a rep who is not a manager: use --rep"
					      : "not a configured rep or manager");
		}
		ts[nt++] = (struct target){r, as_manager};
	} else
		for (size_t i = 0; i < cfg->nreps; i++)
			ts[nt++] = target_of(&cfg->reps[i]);

	time_t now = clock_now();
	db_exec(app.db, "PRAGMA cache_size = -32768", "");   /* 32 MiB: the lists re-read the same pages */
	struct report_base *base = report_base_load(&app, 0, now);
	if (!base) {
		rc = db_tempfail(app.db) ? EXIT_TEMPFAIL : EXIT_IOERR;
		goto out;
	}
	/* one small transaction per recipient, not synced one by one: a crash of
	 * the process loses none (WAL); the checkpoint below makes them durable */
	if (send)
		db_set_sync(app.db, false);
	for (size_t i = 0; i < nt && !rc; i++) {
		if (print) {
			rc = print_one(&app, base, &ts[i], now, i == 0);
			continue;
		}
		int64_t id = 0;
		if (db_begin(app.db) < 0) {
			rc = db_tempfail(app.db) ? EXIT_TEMPFAIL : EXIT_IOERR;
			break;
		}
		/* SPEC §5: once per recipient per day, by tick or by hand */
		char day[11];
		local_date(now, day);
		if (db_int(app.db, 0, "SELECT COUNT(*) FROM digests WHERE recipient = ? AND day = ?", "tt",
			   ts[i].rep->email, day) > 0) {
			db_rollback(app.db);
			printf("digest for %s already sent today (%s)\n", ts[i].rep->email, day);
			continue;
		}
		int k = digest_queue(&app, base, &ts[i], now, false, &id);
		if (k < 0 || db_commit(app.db) < 0) {
			db_rollback(app.db);
			log_error("digest for %s: %s", ts[i].rep->email,
				  db_error(app.db) ? db_error(app.db) : "template error");
			rc = db_tempfail(app.db) ? EXIT_TEMPFAIL : db_error(app.db) ? EXIT_IOERR : EXIT_CONFIG;
			break;
		}
		if (k > 0) {
			printf("digest for %s queued (outbox #%lld)\n", ts[i].rep->email, (long long)id);
			if (nq == capq) {
				capq = capq ? 2 * capq : 16;
				queued = xrealloc(queued, capq * sizeof *queued);
			}
			queued[nq++] = id;
		}
	}
	report_base_free(base);
	if (send) {
		db_set_sync(app.db, true);
		if (db_checkpoint(app.db) < 0 && !rc)
			rc = EXIT_TEMPFAIL;
		/* --send sends: the digests just queued are delivered now (a
		 * server that is down leaves them queued for the next tick: 75) */
		if (!rc && nq) {
			struct retry_policy rp;
			struct deliver_stats ds;
			retry_policy_default(&rp, app.cfg);
			signal(SIGPIPE, SIG_IGN);
			rc = outbox_deliver_ids(&app, &rp, queued, nq, &ds);
			report_send(&ds);
		}
	}
out:
	free(queued);
	free(ts);
	app_close(&app);
	return rc;
}
