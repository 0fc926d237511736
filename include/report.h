/* report.h — pipeline metrics (SPEC §1) computed from SQL over the deals and
 * their stage history, for `dealmail report` and for the digests.
 *
 * Owns: the metric definitions (written out in report.c's header comment and
 * in README "Metrics"), the per-owner tallies they are merged from, and the
 * text and JSON renderings of `report`.
 *
 * Two steps.  report_base_load() runs every aggregate query once, grouped by
 * deal owner, plus one pass over the stage events for the conversion; the
 * result is additive per owner.  report_build() merges the owners of a scope
 * (everything, one rep, a team) and derives the ratios.  A morning of digests
 * loads the base once and builds one report per recipient, so 200 digests cost
 * one scan of the history, not 200.
 *
 * Missing values (no won deal, no closed deal, no cycle) are NAN and print as
 * JSON null / "-".
 *
 * Currencies are never converted: every amount is summed per currency.  The
 * report's currencies are cur[0..ncur): cur[0] is the team's (`[dealmail]
 * currency`, else the one most deals with a value carry; "" when no deal has
 * one), and amounts without a currency count in it.  The plain figures
 * (open_value, stages[].value, avg_deal_size…) are cur[0]'s; each `_c` array
 * holds one figure per currency, in cur's order. */
#ifndef DEALMAIL_REPORT_H
#define DEALMAIL_REPORT_H
#include "config.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

struct app;
struct config;
struct report_base;

struct report_stage {
	const char *key;            /* borrowed from the config */
	int64_t count;              /* open deals in the stage */
	double value, weighted;     /* in the team's currency (cur[0]) */
	double *value_c, *weighted_c;  /* per currency */
};

struct report_conv {
	const char *from, *to;      /* consecutive funnel stages */
	int64_t reached_from;       /* deals that were in `from` */
	int64_t reached_to;         /* … and later in `to` or a later funnel stage */
	double rate;                /* reached_to / reached_from, NAN when 0/0 */
};

struct report_reason {
	char *reason;               /* NULL = none given */
	int64_t count;
	double value;               /* in the team's currency (cur[0]) */
	double *value_c;            /* per currency */
};

struct report_source {
	char *source;               /* manual, import, mail */
	int64_t count;
};

struct report {
	char now[21];               /* ISO UTC */
	char since[21];             /* lower bound of flow metrics, "" = all time */
	char today[11];             /* local date */
	char **cur;                 /* currencies; cur[0] the team's (may be "") */
	size_t ncur;

	/* stock: now, whatever --since says */
	int64_t open_deals;
	double open_value, weighted_forecast, avg_age_days;
	double *open_value_c, *weighted_c;  /* per currency */
	struct report_stage *stages;    /* every stage, pipeline order */
	size_t nstages;
	int64_t nstalled, nsilent;      /* counts; ids below when asked for */
	int64_t *stalled, *silent;
	int64_t tasks_due, tasks_overdue;

	/* flow: deals closed (or created) since `since` */
	int64_t won, lost, new_deals;
	double won_value;
	double avg_deal_size;           /* mean value of won deals; else of open deals */
	const char *avg_deal_basis;     /* "won", "open" or "none" */
	double cycle_days, close_ratio;
	double velocity_per_day, velocity_per_month;
	double *won_value_c, *avg_deal_c, *velocity_c;  /* per currency (velocity per day) */
	struct report_conv *conv;
	size_t nconv;
	struct report_reason *won_reasons, *lost_reasons;
	size_t nwon_reasons, nlost_reasons;
	struct report_source *sources;
	size_t nsources;
	int64_t failed_deliveries;

	/* sizing against [digest] monthly_target */
	bool has_target;
	double target_monthly, wins_needed, deals_needed, per_rep;
	int target_reps;
};

struct report_scope {
	const char *const *owners;  /* deal owners included; NULL = every deal */
	size_t nowners;
	bool ids;                   /* fill stalled[] / silent[] (report) */
	const char *team;           /* a team's scope: its reps share the target */
};

/* Run the aggregates.  `since` = UTC lower bound of flow metrics or 0 for all
 * time; `now` = the clock.  NULL on a database error (logged). */
/* " + USD 12,800, MXN 250,000": a figure's amounts (vc[], × mult) in the
 * report's currencies other than the team's, as language l writes amounts
 * (none are converted); "" when there are none. */
const char *report_money_others(enum lang l, const struct report *r, const double *vc, double mult, char *out,
				size_t n);
/* The figure in the team's currency with the others beside it ("BRL 85,000 +
 * USD 12,800"; "USD 12,800" when the team's is 0; the bare number when it is
 * the only one; `nan` for a figure there is none of). */
const char *report_money_cur(enum lang l, const char *nan, const struct report *r, const double *vc, double mult,
			     char *out, size_t n);
struct report_base *report_base_load(struct app *app, time_t since, time_t now);
void report_base_free(struct report_base *b);

/* Merge a scope into *r (zeroed first).  0, or -1 on a database error. */
int report_build(struct app *app, const struct report_base *b, const struct report_scope *sc,
		 struct report *r);
void report_release(struct report *r);

/* Owners of a scope: a rep's address, or every rep of a team (a manager's
 * team for a manager).  Returns a malloc'd array of borrowed strings. */
const char **report_team_owners(const struct config *cfg, const char *team, size_t *n_r);

/* Renderings. */
void report_print_json(const struct report *r, const char *rep, const char *team, FILE *out);
void report_print_text(const struct app *app, const struct report *r, const char *rep,
		       const char *team, bool color, FILE *out);

/* Funnel bar of `frac` (0..1) in `width` cells with Unicode eighth blocks. */
void report_bar(double frac, int width, char *out, size_t n);

/* `dealmail report [--since DATE] [--rep EMAIL] [--team NAME] [--format text|json]` */
int cmd_report(int argc, char **argv);

#endif
