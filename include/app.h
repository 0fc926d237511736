/* app.h — the running application: config, database, secret, clock, and the
 * one path every inbound message takes (process.c), plus the outbox queue
 * (outbox.c) and the JSON export (export.c).  Commands in main.c build one
 * struct app and call these; nothing here calls exit(). */
#ifndef DEALMAIL_APP_H
#define DEALMAIL_APP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include "buf.h"
#include "config.h"
#include "db.h"

struct app {
	struct config *cfg;
	struct db *db;
	unsigned char secret[64];
	size_t secret_len;
	bool batch;             /* a batch source is running (Maildir, mbox, IMAP) */
	bool in_batch_tx;       /* an outer transaction is open: each message is a
	                           savepoint inside it (see batch_begin) */
	bool batch_whole;       /* ... or, set by a source that can re-read its
	                           messages, no savepoint: a message that fails
	                           makes the source roll the whole batch back */
	/* Recipients at their cap of automatic replies (confirm_per_hour), and
	 * until when: outbox.c skips the count while it cannot have changed.
	 * Valid for db_rollbacks() == capped_gen (a rollback can remove rows). */
	struct { char rcpt[120]; time_t until; } capped[8];
	unsigned capped_gen, capped_next;
	unsigned scheduled;     /* tasks and enrolments inserted so far (a
	                           confirmation lists a message's only if any) */
	/* Asked right before a message's own commit (not in a batch): false
	 * rolls it back as a temporary failure.  serve's: is the client that
	 * handed the message over still waiting for the verdict? */
	bool (*before_commit)(void *arg);
	void *before_commit_arg;
	/* The stage and owner of the deals one message reads (store.c
	 * deal_row()), while rows_on: process_parsed() turns it on for the
	 * message and off (forgetting them) before it ends; rows_gen is
	 * db_rollbacks() when they were read. */
	struct deal_row {
		int64_t id;
		char *stage, *owner;
		char active[21];       /* its last_activity, when known ("": not) */
	} rows[4];
	unsigned rows_gen, rows_next;
	bool rows_on;
};

/* sysexits */
enum {
	EXIT_OK = 0, EXIT_USAGE = 64, EXIT_DATAERR = 65, EXIT_NOINPUT = 66,
	EXIT_SOFTWARE = 70, EXIT_CANTCREAT = 73, EXIT_IOERR = 74, EXIT_TEMPFAIL = 75,
	EXIT_CONFIG = 78,
};

/* Load the HMAC secret ($DEALMAIL_SECRET, else secret_file; `create` makes a
 * new 0600 file when missing).  0 or -1 with a message on stderr. */
int app_load_secret(struct app *app, bool create);

/* ---- process.c ---------------------------------------------------- */
struct source_ack {                 /* where the message came from */
	const char *mailbox;        /* IMAP mailbox, or NULL */
	uint32_t uidvalidity, uid;  /* IMAP checkpoint written in the same transaction */
};

/* Process one raw message: parse, classify, route, apply, queue replies,
 * record it as processed, all in one transaction.  Returns an exit code:
 * 0 (applied, refused-and-answered, duplicate, ignored), 65 (quarantined),
 * 75 (temporary: nothing applied), 74 (database error). */
int process_message(struct app *app, const char *raw, size_t len, const struct source_ack *src);
/* The same, for a message already parsed by message_parse_for() (msg, or NULL
 * and why): batch sources parse ahead on another thread.  msg stays the
 * caller's (the batch gives it back to the thread that allocated it). */
struct message;
struct message *message_parse_for(const struct app *app, const char *raw, size_t len, const char **why_r);
int process_parsed(struct app *app, const char *raw, size_t len, struct message *msg, const char *why,
		   const struct source_ack *src);

/* Keep raw bytes in the quarantine (deduplicated like any message without
 * Message-ID, by SHA-256); returns 65, or 75/74 when the database cannot
 * take them.  total is the message's size: more than len when the source
 * could read only its head.  All of it is kept up to config_quarantine_max()
 * bytes; of a larger one the head, with the reason and the log saying so. */
int quarantine_message(struct app *app, const char *raw, size_t len, size_t total, const char *why,
		       const struct source_ack *src);

/* Batches: one transaction around many messages, each message a savepoint
 * (still all-or-nothing on its own).  batch_commit() is durable (FULL sync)
 * and only after it may the batch's messages be acknowledged.  Both return
 * 0 or an exit code (75 temporary, 74). */
int batch_begin(struct app *app);
int batch_commit(struct app *app);
void batch_abort(struct app *app);

/* explain: the same analysis without writing; JSON or text into out.
 * total: the message's size (more than len when only its head was read).
 * Returns 0, or 65 when the message would be quarantined. */
int explain_message(struct app *app, const char *raw, size_t len, size_t total, bool json, struct buf *out);

/* ---- outbox.c ----------------------------------------------------- */
struct tvars;
struct outbox_item {
	const char *kind;           /* confirmation, error, reply, drip, notification, digest */
	int64_t deal_id;            /* 0 = none */
	const char *to_addr, *to_name;
	const char *tmpl;           /* template name */
	const char *lang;           /* "es"/"pt"/"en" */
	const struct tvars *vars;
	const char *in_reply_to;    /* "<…>" */
	const char *references;     /* space-separated, optional */
	const char *cause_message_id;
	const char *from_name;      /* default: [dealmail] name */
	bool auto_replied;          /* Auto-Submitted: auto-replied (else auto-generated) */
	int64_t enrollment_id;      /* drips */
	int step;
	const char *list_unsubscribe;
	const char *list_unsubscribe_post;   /* RFC 8058, with list_unsubscribe */
	time_t when;                /* due time (0 = now) */
	bool cap_checked;           /* the caller asked outbox_capped() already */
};
/* Would an automatic answer (confirmation, error, reply) of `kind` to `rcpt`
 * be over the hourly cap (confirm_per_hour)?  Logs it when so.  Callers
 * ask before they gather an answer's contents, not to gather them in vain. */
bool outbox_capped(struct app *app, const char *kind, const char *rcpt);
/* May this rep change this deal (a manager, its owner, a rep it is shared
 * with)?  SPEC §3.2: a reply token is handed only to whom may use it. */
bool rep_may_change(struct app *app, const struct rep *rep, int64_t deal);
/* Render and queue; returns the outbox id, 0 when nothing was queued (our own
 * address, the hourly cap, or a template error, logged), -1 on a database error. */
int64_t outbox_queue(struct app *app, const struct outbox_item *it);

/* ---- export.c ----------------------------------------------------- */
int export_json(struct app *app, FILE *out);

/* ---- deals (store.c) ---------------------------------------------- */
struct deal_new {
	const char *title, *contact, *contact_name, *owner, *stage, *currency, *close_date;
	const char *reason;         /* won/lost reason (deal add --reason) */
	double value;
	bool has_value;
	const char *source;         /* manual, import, mail */
	const char *by, *message_id;
};
/* Create a deal (and its contact when new); fires on_enter of its stage.
 * Returns the new id, or -1 with *err_r (static English text). */
int64_t deal_create(struct app *app, const struct deal_new *d, const char **err_r);
/* Move a deal to a stage: status, reason, history event, leaving-stage stops,
 * on_enter triggers (recursion bounded).  0 or -1. */
int deal_move(struct app *app, int64_t deal, int stage, const char *reason,
	      const char *by, const char *message_id, int depth);
/* The deal's row (stage, owner), NULL when there is no such deal.  Only
 * while app->rows_on; valid until the next deal_row() call. */
const struct deal_row *deal_row(struct app *app, int64_t deal);
void deal_rows_begin(struct app *app);
void deal_rows_end(struct app *app);
/* The deal's row if one is kept (no statement), else NULL. */
struct deal_row *deal_row_kept(struct app *app, int64_t deal);
/* A statement changed the deal's stage or owner. */
void deal_row_forget(struct app *app, int64_t deal);
/* The deal's owner, its stage (allocated; NULL: none, or no such deal). */
char *deal_owner(struct app *app, int64_t deal);
char *deal_stage(struct app *app, int64_t deal);
/* Fire a list of actions for a deal. */
int deal_fire(struct app *app, int64_t deal, const struct action *acts, size_t n,
	      const char *by, const char *message_id, int depth);
int64_t contact_ensure(struct app *app, const char *email, const char *name, const char *owner);
const char *distribution_pick(struct app *app);   /* next rep email, or NULL */
int enroll(struct app *app, int64_t deal, const struct sequence *seq, const char *message_id);
void stop_enrollments(struct app *app, int64_t deal, const char *why);
/* Stop the sequences of every deal of a contact; returns the contact's most
 * recently active deal, or 0. */
int64_t contact_stop_sequences(struct app *app, const char *email, const char *why);
/* Unsubscribe a contact (by mail, by the List-Unsubscribe address, by the
 * one-click `unsubscribe TOKEN`): marked, sequences stopped, and the first
 * time the unsubscribe score on `deal`, or on each of the contact's open
 * deals when it is 0.  0 or -1. */
int contact_unsubscribe(struct app *app, const char *email, int64_t deal, const char *by, const char *message_id);
/* A contact's address bounced: mark it, stop its sequences, tell the owner of
 * `deal` (or of the contact's most recent deal when 0).  0 or -1. */
int contact_bounced(struct app *app, const char *email, int64_t deal, const char *message_id);
/* Queue a notification (template `tmpl`) about a deal to its owner or to the
 * managers of the owner's team.  0 or -1. */
/* Tell the rep `to` (not the sender) of a change another made to their
 * deal: a reassignment to them (notify-owner), a share (notify-share). */
int deal_notify_rep(struct app *app, int64_t deal, const char *to, const char *tmpl, const char *message_id,
		    const char *by);
int deal_notify(struct app *app, int64_t deal, enum notify_target target, const char *tmpl,
		const char *message_id, int days);

/* tick: one reminder to the owner of each open task due today or earlier,
 * once per task, in one transaction.  Returns how many, or -1. */
int task_reminders(struct app *app);

/* "12000 EUR", "12000.50" (no currency when cur is NULL or ""); returns out. */
const char *fmt_amount(double v, const char *cur, char *out, size_t n);
/* 12.345,50 (es, pt) or 12,345.50 (en); "–" for NaN; returns out. */
const char *fmt_money(enum lang l, double v, char *out, size_t n);
/* An amount as the rep's language writes it: "48.500 BRL", "12,000.50 USD". */
const char *fmt_amount_lang(double v, const char *cur, enum lang l, char *out, size_t n);

void app_today(char out[11]);       /* today in the configured zone */
void app_now_iso(char out[21]);

#endif
