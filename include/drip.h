/* drip.h — the work `tick` finds due in the database: sequence steps
 * (drips) and stale deals (on_stale).
 *
 * Owns: when a sequence step is due (the delay after enrolment, moved into
 * the sequence's window and days in the configured time zone), turning a
 * due step into an outbox row, stopping a sequence whose contact bounced or
 * unsubscribed, and firing on_stale once per stay in a stage.
 *
 * Every unit of work (one enrolment step, one stale deal) is one BEGIN
 * IMMEDIATE transaction that re-reads its row under the write lock, so two
 * ticks (or a tick and an ingest) never do the same work twice; the UNIQUE
 * index on outbox(enrollment_id, step) makes a second copy of a step
 * impossible even so.  Nothing here sends mail: it only writes outbox rows. */
#ifndef DEALMAIL_DRIP_H
#define DEALMAIL_DRIP_H
#include <time.h>
#include "app.h"

/* Earliest time >= t that falls inside the sequence's window (minutes since
 * local midnight, [start, end)) on one of its days, in the configured zone. */
time_t window_adjust(const struct sequence *seq, time_t t);

struct tick_stats {
	int steps_queued;       /* drip messages written to the outbox */
	int enrollments_done;   /* sequences that sent their last step */
	int enrollments_stopped;/* stopped here (bounce, unsubscribe, no contact, unknown sequence) */
	int stale_fired;        /* deals whose on_stale fired */
	int errors;             /* units left for the next tick (template or database error) */
};

/* Send every due sequence step (as outbox rows).  Returns 0, or the sysexits
 * code of the worst failure (75 database busy, 78 template error, 74). */
int drip_run(struct app *app, struct tick_stats *st);

/* Fire on_stale for deals that have stayed stale_days in their stage.
 * Same return convention. */
int stale_run(struct app *app, struct tick_stats *st);

#endif
