/* config.h — the INI configuration (SPEC §6) as a struct, and its checks.
 *
 * Owns: reading the file (sections [dealmail] [imap] [smtp] [pipeline]
 * [stage "key"] [sequence "name"] [rep "email"] [scoring] [distribution]
 * [digest] [limits]), the built-in default pipeline (nine stages of SPEC §1
 * with es/pt/en names and aliases) when no [pipeline] is given, and every
 * validation, each reported with file:line.  Also stage/reason/rep lookup
 * by key, name or alias, case- and accent-insensitive (text_fold). */
#ifndef DEALMAIL_CONFIG_H
#define DEALMAIL_CONFIG_H
#include <stddef.h>
#include <stdbool.h>

enum lang { LANG_ES = 0, LANG_PT = 1, LANG_EN = 2 };
#define NLANG 3

enum action_kind { ACT_SEQUENCE, ACT_TASK, ACT_NOTIFY, ACT_SCORE, ACT_STAGE };
enum notify_target { NOTIFY_OWNER, NOTIFY_MANAGER };

struct action {
	enum action_kind kind;
	char *arg;          /* SEQUENCE: name; TASK: text; STAGE: stage key */
	int days;           /* TASK: due in +N days (0 = today) */
	int delta;          /* SCORE */
	enum notify_target target; /* NOTIFY */
};

struct stage {
	char *key;                  /* "proposal" */
	char *name[NLANG];          /* display names; never NULL (falls back to key) */
	char **aliases;             /* extra names, as written */
	size_t naliases;
	int probability;            /* 0..100; -1 when not set */
	int stale_days;             /* 0 = never stale */
	bool active;                /* in [pipeline] active */
	struct action *on_enter, *on_stale;
	size_t non_enter, non_stale;
	/* text_fold() of key, names and aliases, made once at load for
	 * config_stage_find(); NULL when not made (it then folds them itself) */
	char *fold_key;
	char *fold_name[NLANG];
	char **fold_aliases;
};

struct seq_step {
	long delay;                 /* seconds after enrolment */
	char *tmpl;                 /* template name */
};

struct sequence {
	char *name;
	struct seq_step *steps;
	size_t nsteps;
	int window_start, window_end; /* minutes since midnight; 0,1440 = always */
	unsigned days_mask;         /* bit 0 = Sunday … bit 6 = Saturday; 0x7f = every day */
	int line;                   /* of its `steps` in the config file, for config check */
};

struct rep {
	char *email;                /* lower-cased */
	char *name;                 /* display name, defaults to email */
	bool manager;
	char *team;                 /* or NULL */
	enum lang lang;
};

enum tls_mode { TLS_DEFAULT, TLS_IMPLICIT, TLS_STARTTLS, TLS_NONE };

struct endpoint {                   /* [imap] and [smtp] */
	char *url, *user, *password_file, *ca_file, *token_file, *auth, *processed;
	char *quarantine;           /* [imap] folder for messages that cannot be parsed, or NULL */
	enum tls_mode tls;
};

enum confirm_mode { CONFIRM_ALWAYS, CONFIRM_ERRORS, CONFIRM_NEVER };

struct config {
	char *path;                 /* file loaded, or NULL for built-in defaults */
	char *dir;                  /* directory of path, or "." */

	/* [dealmail] */
	char *database;             /* default: "dealmail.db" beside the config, else ./dealmail.db */
	char *address;              /* assistant's address, lower-cased; default "dealmail@localhost" */
	char *name;                 /* display name for outgoing mail, default "dealmail" */
	enum lang language;         /* default LANG_EN */
	char *timezone;             /* default "UTC" */
	char *secret_file;          /* default "secret" beside the database */
	enum confirm_mode confirm;
	bool require_auth;
	char *authserv_id;
	char *templates;            /* override dir, default "<dir>/templates" */
	int templates_line;         /* of `templates =`, 0 when not written */
	int require_auth_line;      /* of `require_auth =`, 0 when not written */
	char *currency;             /* default currency for bare amounts, or NULL */
	int undo_minutes;           /* default 60 */
	char *unsubscribe_url;      /* RFC 8058 one-click endpoint (https://), or NULL */
	int pipe_timeout;           /* seconds, default 8 */
	char *socket;               /* `serve` listens here, the pipe hands off here; NULL: none */
	int busy_timeout_ms;        /* default 5000 */
	int confirm_per_hour;       /* cap of automatic replies per sender, default 30 */

	struct endpoint imap, smtp;
	/* [smtp] retry_base, retry_max, give_up_after: seconds, 0 = default
	 * (5 minutes doubling to 1 hour, given up after 4 days) */
	long smtp_retry_base, smtp_retry_max, smtp_give_up;

	/* [pipeline] */
	struct stage *stages;       /* in pipeline order */
	size_t nstages;
	int default_stage, won_stage, lost_stage; /* indexes into stages */
	bool require_won_reason, require_lost_reason, strict_reasons, sync_contact_owner;
	char **won_reasons, **lost_reasons;
	size_t nwon_reasons, nlost_reasons;

	struct sequence *sequences;
	size_t nsequences;
	struct rep *reps;
	size_t nreps;

	/* [scoring] */
	int score_reply, score_meeting, score_unsubscribe, score_no_show, score_threshold;
	/* [distribution] */
	char *dist_mode;            /* "round-robin" (default) or "owner:EMAIL" */
	char *dist_team;            /* NULL = all reps */
	/* [digest] */
	bool digest_enabled;        /* a [digest] section exists: tick sends digests */
	int digest_time;            /* minutes since midnight, default 7*60+30 */
	int silent_days;            /* default 10 */
	double monthly_target;      /* 0 = unset */
	bool digest_skip_empty;
	/* [limits] → message_limits */
	size_t max_message_bytes;       /* default 64 MiB: larger is quarantined unparsed */
	size_t max_quarantine_bytes;    /* default 128 MiB: the quarantine keeps this much of one */
	int max_mime_depth, max_mime_parts;
};

struct diag {                       /* list of "file:line: message" */
	char **v;
	size_t n;
};
void diag_add(struct diag *d, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void diag_free(struct diag *d);

/* Load `path` (NULL: built-in defaults only).  Returns NULL on an unreadable
 * file or when any problem was found; every problem is appended to `d`.
 * With `d->n == 0` and a non-NULL return, the config is valid. */
struct config *config_load(const char *path, struct diag *d);
/* The same, but the config is returned even with problems found (NULL only
 * for an unreadable file): for `config check`, which goes on to check the
 * templates the config names, so that every problem is reported at once. */
struct config *config_load_all(const char *path, struct diag *d);
void config_free(struct config *cfg);

/* Lookups: key, any language's name, or alias, folded.  -1 when none. */
/* The most [limits] may ask the quarantine to keep of one message: SQLite
 * keeps at most 1,000,000,000 bytes in one value (SQLITE_MAX_LENGTH), and
 * the row has other columns. */
#define QUARANTINE_CEILING ((size_t)950 << 20)
/* How much of one message the quarantine keeps: max_quarantine_bytes, and
 * never less than max_message_bytes (a message under that limit that does
 * not parse is kept whole). */
size_t config_quarantine_max(const struct config *cfg);
int config_stage_find(const struct config *cfg, const char *name);
/* Canonical reason for a won/lost reason as written (folded compare against the
 * list and the built-in es/pt synonyms of the default reasons), or NULL. */
const char *config_reason_find(const struct config *cfg, bool won, const char *reason);
/* A reason as a rep reading l names it: a default reason's (price) es/pt
 * name (precio, preço); any other as it is written. */
const char *config_reason_name(const char *reason, enum lang l);
/* A rep by address (case-insensitive) or by name (folded); NULL when none. */
const struct rep *config_rep_find(const struct config *cfg, const char *who);
/* The reps a bare first name or local part ("Ana") could mean when it means
 * more than one ("Ana López <ana@…>, Ana Souza <asouza@…>"), malloc'd; else NULL. */
char *config_rep_ambiguous(const struct config *cfg, const char *who);
/* The rep a sender's address is: the rep's address (case-insensitive), or
 * a sub-address of it, "ana+crm@example.com" for "ana@example.com" (the same
 * mailbox for Gmail, Microsoft 365 and Postfix's recipient_delimiter);
 * never by name.  NULL when none. */
const struct rep *config_rep_by_address(const struct config *cfg, const char *email);
const struct sequence *config_sequence_find(const struct config *cfg, const char *name);
/* "did you mean": the closest candidate within a small edit distance, or NULL.
 * kind 0 = stage (keys and names), 1 = won reason, 2 = lost reason, 3 = rep. */
const char *config_suggest(const struct config *cfg, int kind, const char *wrong);
const char *lang_code(enum lang l);           /* "es", "pt", "en" */
bool lang_parse(const char *s, enum lang *l_r);
/* Stage display name in a language. */
const char *stage_name(const struct config *cfg, int stage, enum lang l);

#endif
