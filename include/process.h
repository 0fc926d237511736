/* process.h — internals of the inbound path shared by process.c (classify,
 * route, validate) and apply.c (write).  Not for other modules. */
#ifndef DEALMAIL_PROCESS_H
#define DEALMAIL_PROCESS_H
#include "app.h"
#include "command.h"
#include "message.h"

enum cls { C_REP, C_CONTACT, C_UNKNOWN, C_AUTOREPLY, C_BOUNCE, C_LIST };
enum route { R_NONE, R_TOKEN, R_THREAD, R_TAG, R_CONTACT, R_DEAL_LINE, R_NEW_LEAD };
enum outcome { O_APPLY, O_REFUSE, O_LOG, O_LEAD, O_IGNORE, O_QUARANTINE };

enum err_code {
	E_NONE, E_VALUE, E_UNKNOWN_STAGE, E_REASON_REQUIRED, E_UNKNOWN_REASON, E_STAGE_NEEDS_REASON,
	E_NO_PERMISSION, E_NO_DEAL, E_UNKNOWN_DEAL, E_UNKNOWN_REP, E_OWNER_PERM, E_UNKNOWN_SEQUENCE,
	E_UNDO_NOTHING, E_UNDO_EXPIRED, E_PROBABILITY_STAGE, E_UNDO_DONE, E_UNDO_LATER, E_AMBIGUOUS_REP,
	E_UNDO_NOT_YOURS,
};

struct cmdres {
	int64_t deal;               /* target deal; 0 = the deal this message creates */
	int stage;                  /* STAGE/WON/LOST: stage index */
	const char *reason;         /* canonical reason, or the text as written */
	const struct rep *rep;      /* OWNER/SHARE */
	const struct sequence *seq; /* DRIP start */
	enum err_code err;
	char *error;                /* English explanation (explain), or NULL */
	char *choices;              /* valid choices, comma-separated, or NULL */
	const char *suggest;        /* did you mean, or NULL */
};

/* A message is known by its Message-ID (without the angle brackets) when it
 * has one of up to this many bytes less one (a header line's limit; Office
 * 365's ids are some 85), else by the SHA-256 of its bytes. */
#define MESSAGE_KEY_MAX 1000

struct analysis {
	enum cls cls;
	char *sender, *sender_name;
	int auth;                   /* -1 not checked, 0 false, 1 true */
	const struct rep *rep;
	int64_t deal;
	enum route route;
	bool picked;                /* chosen among several open deals of the contact */
	int ncandidates;
	char *contact, *contact_name;  /* the client this message is about */
	char *visible;
	struct command_list cmds;
	bool cmds_borrowed;      /* cmds are the message's (parsed ahead): not freed here */
	struct cmdres *res;
	enum outcome outcome;
	bool addressed;             /* our address is in To/Cc */
	bool forwarded;
	bool external;              /* a client (not us, not a rep) is in To/Cc */
	bool create_deal;           /* a deal is created (deal: line, lead, forwarded contact) */
	char *new_title;
	bool unsubscribe;
	int64_t unsubscribe_contact;  /* contact named by a valid u. token, or 0 */
	char *unsub_email;          /* whom an unsubscribe is for, when not the sender */
	char *undo_of;              /* message-id whose changes `undo` reverts */
	int64_t bounce_outbox;
	char *bounce_addr;
	const char *note;           /* why, for explain (static English) */
	char key[MESSAGE_KEY_MAX];  /* processed key: Message-ID or sha256 */
};

void analysis_free(struct analysis *a);
/* Read-only: classify, route, parse and validate commands. */
int analyze(struct app *app, const struct message *msg, struct analysis *a);
/* Write everything the analysis decided (inside a transaction). */
int apply_analysis(struct app *app, const struct message *msg, struct analysis *a);

const char *cls_name(enum cls c);
const char *route_name(enum route r);
const char *outcome_name(enum outcome o);
/* Localized error text for a command result; malloc'd. */
char *err_text(const struct cmdres *r, const struct command *c, enum lang l);
void deal_vars(struct app *app, int64_t deal, struct tvars *v, enum lang lang);
int deal_add_score(struct app *app, int64_t deal, int delta, const char *by, const char *message_id);


#endif
