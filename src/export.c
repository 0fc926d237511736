/* export.c — `export --json`: the whole database as the JSON of SPEC §7.
 * Streams: the buffer is written out whenever it passes 64 KiB, so memory
 * stays flat however large the database is. */
#include "app.h"
#include "util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static FILE *sink;

static void flush_if_big(struct buf *b)
{
	if (b->len >= 65536) {
		fwrite(b->s, 1, b->len, sink);
		buf_reset(b);
	}
}

static void num(struct buf *b, struct dbq *q, int i)
{
	if (db_col_null(q, i)) {
		buf_adds(b, "null");
		return;
	}
	double v = db_col_double(q, i);
	if (isfinite(v) && v == floor(v) && fabs(v) < 1e15)
		buf_addf(b, "%.1f", v);
	else {
		/* the shortest form that reads back as the same double: 3199.99,
		 * not 3199.9899999999998 */
		char t[32];
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(t, sizeof t, "%.*g", prec, v);
			if (strtod(t, NULL) == v)
				break;
		}
		buf_adds(b, t);
	}
}

static void intcol(struct buf *b, struct dbq *q, int i)
{
	if (db_col_null(q, i))
		buf_adds(b, "null");
	else
		buf_addf(b, "%lld", (long long)db_col_int(q, i));
}

static void key(struct buf *b, const char *k, bool first)
{
	if (!first)
		buf_addc(b, ',');
	json_str(b, k);
	buf_addc(b, ':');
}

static void deals(struct app *app, struct buf *b)
{
	struct dbq *q = db_query(app->db,
		"SELECT d.id, d.title, d.stage, d.status, d.reason, d.value, d.currency, d.owner, c.email, "
		"d.close_date, d.probability, d.score, d.created_at, d.source, d.stage_since, d.last_activity, "
		"(SELECT json_group_array(rep) FROM (SELECT rep FROM deal_shares s WHERE s.deal_id = d.id AND s.rep IS NOT d.owner ORDER BY rep)), "
		"c.name FROM deals d LEFT JOIN contacts c ON c.id = d.contact_id ORDER BY d.id", "");
	bool first = true;
	buf_adds(b, "\"deals\":[");
	while (db_next(q)) {
		buf_adds(b, first ? "\n {" : ",\n {");
		first = false;
		key(b, "id", true); intcol(b, q, 0);
		key(b, "title", false); json_str(b, db_col_text(q, 1));
		key(b, "stage", false); json_str(b, db_col_text(q, 2));
		key(b, "status", false); json_str(b, db_col_text(q, 3));
		key(b, "reason", false); json_str(b, db_col_text(q, 4));
		key(b, "value", false); num(b, q, 5);
		key(b, "currency", false); json_str(b, db_col_text(q, 6));
		key(b, "owner", false); json_str(b, db_col_text(q, 7));
		key(b, "shared_with", false); buf_adds(b, db_col_text(q, 16) ? db_col_text(q, 16) : "[]");
		key(b, "contact", false); json_str(b, db_col_text(q, 8));
		key(b, "close_date", false); json_str(b, db_col_text(q, 9));
		/* the deal's own probability, else its stage's */
		key(b, "probability", false);
		if (!db_col_null(q, 10))
			intcol(b, q, 10);
		else {
			int s = config_stage_find(app->cfg, db_col_text(q, 2));
			if (s >= 0 && app->cfg->stages[s].probability >= 0)
				buf_addf(b, "%d", app->cfg->stages[s].probability);
			else
				buf_adds(b, "null");
		}
		key(b, "score", false); intcol(b, q, 11);
		key(b, "created_at", false); json_str(b, db_col_text(q, 12));
		key(b, "source", false); json_str(b, db_col_text(q, 13));
		key(b, "stage_since", false); json_str(b, db_col_text(q, 14));
		key(b, "last_activity", false); json_str(b, db_col_text(q, 15));
		key(b, "contact_name", false); json_str(b, db_col_text(q, 17));
		buf_addc(b, '}');
		flush_if_big(b);
	}
	db_done(q);
	buf_adds(b, "]");
}

static void contacts(struct app *app, struct buf *b)
{
	struct dbq *q = db_query(app->db, "SELECT email, name, owner, bouncing, unsubscribed, created_at FROM contacts "
				 "ORDER BY id", "");
	bool first = true;
	buf_adds(b, ",\n\"contacts\":[");
	while (db_next(q)) {
		buf_adds(b, first ? "\n {" : ",\n {");
		first = false;
		key(b, "email", true); json_str(b, db_col_text(q, 0));
		key(b, "name", false); json_str(b, db_col_text(q, 1));
		key(b, "owner", false); json_str(b, db_col_text(q, 2));
		key(b, "bouncing", false); buf_adds(b, db_col_int(q, 3) ? "true" : "false");
		key(b, "unsubscribed", false); buf_adds(b, db_col_int(q, 4) ? "true" : "false");
		buf_addc(b, '}');
		flush_if_big(b);
	}
	db_done(q);
	buf_adds(b, "]");
}

static void events(struct app *app, struct buf *b)
{
	struct dbq *q = db_query(app->db, "SELECT deal_id, type, from_val, to_val, by, at, message_id, reason, undone "
				 "FROM events WHERE type <> 'probability' ORDER BY id", "");
	/* SPEC §7 lists the event types a script may meet; a probability
	 * override (and its reset by a stage change) is kept for `history` and
	 * `undo` but is not one of them: the deal's "probability" says it */
	bool first = true;
	buf_adds(b, ",\n\"events\":[");
	while (db_next(q)) {
		buf_adds(b, first ? "\n {" : ",\n {");
		first = false;
		key(b, "deal", true); intcol(b, q, 0);
		key(b, "type", false); json_str(b, db_col_text(q, 1));
		key(b, "from", false); json_str(b, db_col_text(q, 2));
		key(b, "to", false); json_str(b, db_col_text(q, 3));
		key(b, "by", false); json_str(b, db_col_text(q, 4));
		key(b, "at", false); json_str(b, db_col_text(q, 5));
		key(b, "message_id", false); json_str(b, db_col_text(q, 6));
		key(b, "reason", false); json_str(b, db_col_text(q, 7));
		key(b, "undone", false); buf_adds(b, db_col_int(q, 8) ? "true" : "false");
		buf_addc(b, '}');
		flush_if_big(b);
	}
	db_done(q);
	buf_adds(b, "]");
}

static void tasks(struct app *app, struct buf *b)
{
	struct dbq *q = db_query(app->db, "SELECT deal_id, text, due, done, owner FROM tasks ORDER BY id", "");
	bool first = true;
	buf_adds(b, ",\n\"tasks\":[");
	while (db_next(q)) {
		buf_adds(b, first ? "\n {" : ",\n {");
		first = false;
		key(b, "deal", true); intcol(b, q, 0);
		key(b, "text", false); json_str(b, db_col_text(q, 1));
		key(b, "due", false); json_str(b, db_col_text(q, 2));
		key(b, "done", false); buf_adds(b, db_col_int(q, 3) ? "true" : "false");
		key(b, "owner", false); json_str(b, db_col_text(q, 4));
		buf_addc(b, '}');
		flush_if_big(b);
	}
	db_done(q);
	buf_adds(b, "]");
}

static void enrollments(struct app *app, struct buf *b)
{
	struct dbq *q = db_query(app->db, "SELECT deal_id, sequence, step, status, next_at, stopped_reason "
				 "FROM enrollments ORDER BY id", "");
	bool first = true;
	buf_adds(b, ",\n\"enrollments\":[");
	while (db_next(q)) {
		buf_adds(b, first ? "\n {" : ",\n {");
		first = false;
		key(b, "deal", true); intcol(b, q, 0);
		key(b, "sequence", false); json_str(b, db_col_text(q, 1));
		key(b, "step", false); intcol(b, q, 2);
		key(b, "status", false); json_str(b, db_col_text(q, 3));
		key(b, "next_at", false); json_str(b, db_col_text(q, 4));
		key(b, "stopped_reason", false); json_str(b, db_col_text(q, 5));
		buf_addc(b, '}');
		flush_if_big(b);
	}
	db_done(q);
	buf_adds(b, "]");
}

static void outbox(struct app *app, struct buf *b)
{
	struct dbq *q = db_query(app->db, "SELECT id, rcpt, subject, kind, status, message_id, deal_id, attempts, "
				 "last_error, created_at, sent_at FROM outbox ORDER BY id", "");
	bool first = true;
	buf_adds(b, ",\n\"outbox\":[");
	while (db_next(q)) {
		buf_adds(b, first ? "\n {" : ",\n {");
		first = false;
		key(b, "id", true); intcol(b, q, 0);
		key(b, "to", false); json_str(b, db_col_text(q, 1));
		key(b, "subject", false); json_str(b, db_col_text(q, 2));
		key(b, "kind", false); json_str(b, db_col_text(q, 3));
		key(b, "status", false); json_str(b, db_col_text(q, 4));
		key(b, "message_id", false); json_str(b, db_col_text(q, 5));
		key(b, "deal", false); intcol(b, q, 6);
		key(b, "attempts", false); intcol(b, q, 7);
		key(b, "error", false); json_str(b, db_col_text(q, 8));
		key(b, "created_at", false); json_str(b, db_col_text(q, 9));
		key(b, "sent_at", false); json_str(b, db_col_text(q, 10));
		buf_addc(b, '}');
		flush_if_big(b);
	}
	db_done(q);
	buf_adds(b, "]");
}

static void quarantine(struct app *app, struct buf *b)
{
	struct dbq *q = db_query(app->db, "SELECT id, reason, bytes, at, sha256 FROM quarantine ORDER BY id", "");
	bool first = true;
	buf_adds(b, ",\n\"quarantine\":[");
	while (db_next(q)) {
		buf_adds(b, first ? "\n {" : ",\n {");
		first = false;
		key(b, "id", true); intcol(b, q, 0);
		key(b, "reason", false); json_str(b, db_col_text(q, 1));
		key(b, "bytes", false); intcol(b, q, 2);
		key(b, "at", false); json_str(b, db_col_text(q, 3));
		key(b, "sha256", false); json_str(b, db_col_text(q, 4));
		buf_addc(b, '}');
		flush_if_big(b);
	}
	db_done(q);
	buf_adds(b, "]");
}

int export_json(struct app *app, FILE *f)
{
	struct buf b, *out = &b;
	buf_init(&b);
	sink = f;
	buf_adds(out, "{");
	deals(app, out);
	contacts(app, out);
	events(app, out);
	tasks(app, out);
	enrollments(app, out);
	outbox(app, out);
	quarantine(app, out);
	buf_adds(out, "}\n");
	fwrite(b.s, 1, b.len, f);
	buf_release(&b);
	return db_error(app->db) || fflush(f) ? -1 : 0;
}
