/* command.h — `KEYWORD: VALUE` lines of a rep's visible text.
 *
 * Owns the grammar of SPEC §3.5: keywords and their es/pt/en aliases (case-
 * and accent-insensitive, PCRE2 UTF+UCP, JIT), an optional leading deal tag
 * (`#12`, `[#12]`, `[deal #12]`, `[oportunidad #12]`, `[oportunidade #12]`,
 * `Deal #12`, `#12:`, `#12 -`),
 * and typed values: amounts with locale-aware separators and currency,
 * dates, percentages, score deltas.  Stage, reason and rep names are NOT
 * resolved here (they need the config): `text` carries them. */
#ifndef DEALMAIL_COMMAND_H
#define DEALMAIL_COMMAND_H
#include <stddef.h>
#include <stdbool.h>

enum cmd_kind {
	CMD_STAGE, CMD_WON, CMD_LOST, CMD_VALUE, CMD_CLOSE, CMD_PROBABILITY,
	CMD_OWNER, CMD_SHARE, CMD_TASK, CMD_NOTE, CMD_SCORE, CMD_DEAL, CMD_DRIP,
	CMD_HELP, CMD_UNDO, CMD_HISTORY, CMD_LIST,
};

enum cmd_error {
	CMDERR_NONE = 0,
	CMDERR_EMPTY,     /* a value is required and none was given */
	CMDERR_AMOUNT,    /* value: not an amount */
	CMDERR_DATE,      /* close / task @: not a date (or an impossible one) */
	CMDERR_PERCENT,   /* probability: not 0..100 */
	CMDERR_SCORE,     /* score: not +N / -N */
	CMDERR_DEAL,      /* deal: "#x" that is not a number */
	CMDERR_DRIP,      /* drip: neither stop nor start NAME */
	CMDERR_AMOUNT_M,  /* value: "15m", thousands (es "miles") or millions? */
	CMDERR_WEEKDAY,   /* close / task @: "jueves 27/11", and the 27th is a Friday */
};

struct command {
	enum cmd_kind kind;
	int line_no;          /* 1-based line number in the visible text */
	char *line;           /* the whole line, trimmed */
	char *keyword;        /* the keyword as written */
	char *value;          /* the value as written, trimmed; "" when none */
	long deal_tag;        /* > 0 when the line starts with a deal tag */
	enum cmd_error error; /* CMDERR_NONE when the value was read */

	/* typed values (by kind) */
	double amount;        /* CMD_VALUE */
	char currency[4];     /* CMD_VALUE: ISO 4217 ("EUR", "USD", "BRL", "MXN", …) or "" */
	bool bare_dollar;     /* CMD_VALUE: written with a bare "$": "USD" in currency, but
	                         the team's own currency when that is written "$"
	                         (dollar_currency()) */
	char date[11];        /* CMD_CLOSE, CMD_TASK (due; "" if none): YYYY-MM-DD */
	int percent;          /* CMD_PROBABILITY: 0..100 */
	int delta;            /* CMD_SCORE */
	long deal_ref;        /* CMD_DEAL "#12" -> 12; 0 when it names a new title */
	bool drip_stop;       /* CMD_DRIP: true = stop, false = start `text` */
	char *text;           /* CMD_STAGE stage name; CMD_WON/LOST reason ("" if none);
	                         CMD_OWNER/SHARE rep; CMD_TASK text; CMD_NOTE text;
	                         CMD_DEAL title; CMD_DRIP sequence name; CMD_LIST stage */
	char *aside;          /* CMD_WON/LOST written "¡Perdimos! Se fueron con la
	                         competencia": the sentence after it, the reason
	                         only if it names a configured one; else NULL */
};

/* A line that looks like a command whose keyword is mistyped ("valr: 15.000
 * EUR"): not a command, but the confirmation says it was not understood. */
struct near_miss {
	int line_no;
	char *line;             /* the whole line, trimmed */
	const char *keyword;    /* the keyword it is one typo away from */
};

struct command_list {
	struct command *v;
	size_t n;
	struct near_miss *near;
	size_t nnear;
};

/* Parse every command line of `visible`.  `today` (YYYY-MM-DD) anchors
 * relative dates (`+14d`, `+2w`).  Lines that are not commands are skipped.
 * Never fails; values that cannot be read carry an error. */
void commands_parse(const char *visible, const char *today, struct command_list *out);
/* The same for a text the client may have hard-wrapped (a text/plain part
 * not format=flowed: Gmail wraps at 78 columns, Outlook at 76; wrap_columns,
 * 0 for a text not wrapped): a long note, task, won/lost
 * reason or deal title line is joined with the line(s) that are its wrapped
 * end — the first word of each would not have fitted on the line before, and
 * it is no command, label, list item or sign-off. */
void commands_parse_wrapped(const char *visible, const char *today, int wrap_columns, struct command_list *out);
void commands_free(struct command_list *l);

/* Lower-level parsers (exposed for tests and the CSV import). */
bool parse_amount(const char *s, double *amount_r, char currency_r[4]);
/* parse_amount() where a bare "$" means `dollar` (NULL or "": USD). */
bool parse_amount_dollar(const char *s, const char *dollar, double *amount_r, char currency_r[4]);
/* The currency a bare "$" means for a team whose default currency is `cur`
 * (NULL when none): `cur` when its own sign is "$" (MXN, COP, CLP, ARS, UYU,
 * CAD, AUD…), else USD. */
const char *dollar_currency(const char *cur);
/* The team's currency ([dealmail] currency; NULL when none): "pesos" without
 * the country ("15.000 pesos", "$15.000 (pesos)") is that currency when it is
 * a peso (MXN, COP, ARS, CLP, UYU, DOP, CUP, PHP), and refused otherwise, as
 * it names too many currencies.  Set once, before any parsing. */
void command_set_team_currency(const char *cur);
bool parse_date(const char *s, const char *today, char date_r[11]);
/* English keyword of a kind, e.g. "stage". */
const char *command_keyword(enum cmd_kind kind);

#endif
