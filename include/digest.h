/* digest.h — the daily digest (SPEC §5): per manager (the team's deals) and
 * per rep (their own deals, what needs them today first), in the recipient's
 * language, text + HTML, written to the outbox as kind "digest".
 *
 * Owns: the table digests(recipient, day, sent_at), one row per recipient and
 * local day, inserted in the same transaction as the outbox row.  That row is
 * what makes a digest go out once per day across restarts, clock jumps and a
 * change of time zone (the day is the local date in the zone in force; a day
 * that already has a row never gets a second digest).  Movements are those
 * since the recipient's previous digest (sent_at of its latest row), or the
 * last 24 hours for a first digest.
 *
 * Metrics come from report.h: the aggregates are loaded once per run and
 * merged per recipient. */
#ifndef DEALMAIL_DIGEST_H
#define DEALMAIL_DIGEST_H
#include <stdbool.h>

struct app;

/* Queue every digest due now: when the local time (configured zone) has
 * passed [digest] time, each rep and manager without a digests row for
 * today gets one (or, with skip_empty and nothing to report, only the row).
 * For `tick`.  Returns the number of digests queued, or -1 on a database
 * error (logged; the recipient being handled is rolled back and retried on
 * the next tick).  Each recipient is its own transaction: do not call inside
 * one. */
int digest_due(struct app *app);

/* `dealmail digest [--rep EMAIL | --manager EMAIL] [--print | --send]` */
int cmd_digest(int argc, char **argv);

#endif
