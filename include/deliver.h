/* deliver.h — delivering the outbox, and `tick`'s round of due work.
 *
 * Owns the life of an outbox row after it was queued: picked when
 * status = 'queued' AND next_attempt <= now, handed to the transport
 * (smtp.h), then updated in its own small transaction after the server's
 * answer:
 *   2xx                    -> 'sent', sent_at
 *   4xx, connection errors -> attempts + 1, next_attempt = now + min(cap,
 *                             base * 2^(attempts-1)) +-10% jitter; 'failed'
 *                             once the row is older than the give-up age
 *   5xx                    -> 'failed', last_error = the server's reply; a
 *                             5xx to RCPT TO also marks the contact bouncing
 *                             and stops its sequences, like a bounce would
 * A row is marked sent only after the server accepted it, so a crash between
 * the two can re-send that one message, never lose one.  One `send` runs at a
 * time per database (an flock beside it); a second one returns at once. */
#ifndef DEALMAIL_DELIVER_H
#define DEALMAIL_DELIVER_H
#include <stdbool.h>
#include "app.h"

struct retry_policy {
	long base;              /* first retry after this many seconds (default 300) */
	long cap;               /* longest interval between tries (default 3600) */
	long give_up;           /* a row older than this is failed at its next failure (default 4 days) */
};

/* The policy of [smtp] retry_base, retry_max, give_up_after, or the defaults
 * above for what is not set (cfg may be NULL). */
void retry_policy_default(struct retry_policy *p, const struct config *cfg);

struct deliver_stats {
	int sent, deferred, failed;
	bool down;              /* the transport was unusable: delivery stopped early */
	bool busy;              /* another `send` holds the lock: nothing done */
};

/* Deliver what is due.  Returns 0, 75 (transport down or database busy: try
 * later), 78 (the [smtp] configuration cannot work) or 74. */
int outbox_deliver(struct app *app, const struct retry_policy *rp, struct deliver_stats *st);
/* The same for these rows only (those still queued; `digest --send`). */
int outbox_deliver_ids(struct app *app, const struct retry_policy *rp, const int64_t *ids, size_t n,
		       struct deliver_stats *st);
/* One log line: what a delivery run sent, deferred and failed. */
void report_send(const struct deliver_stats *st);

/* One `tick`: stale deals, due sequence steps, then delivery.  Returns the
 * worst exit code of the three. */
int tick_run(struct app *app);

#endif
