/* imap.h — the IMAP source: one connection to the mailbox of [imap] url.
 *
 * Owns every libetpan mailimap_* call and the certificate check (OpenSSL:
 * Debian's libetpan verifies nothing itself, so the peer chain is verified
 * against the system CAs or [imap] ca_file, host name or IP included, before
 * any credential is sent).  Authentication: LOGIN, AUTHENTICATE PLAIN, or
 * XOAUTH2 with a token read from token_file at every connection; passwords
 * come from $DEALMAIL_IMAP_PASSWORD or password_file, never from argv.
 *
 * The record of what was done is the database, not the mailbox: table
 * mailboxes(name, uidvalidity, last_uid) is written by process_message() in
 * the transaction of each message.  A pass fetches every UID above the
 * checkpoint (from UID 1 when UIDVALIDITY changed: Message-ID dedupe makes
 * the rescan a no-op for what was already applied) in batches bounded in
 * count and bytes, processes them in UID order, makes the batch durable
 * (one synced commit per batch) and only then marks it on the server (`processed = flag`:
 * \Seen and $Dealmail; `move:FOLDER`: UID MOVE, or UID COPY + \Deleted +
 * UID EXPUNGE).  Marks lost to a dropped connection are caught up at the
 * next pass.  Between passes the connection waits in IDLE (re-issued every
 * 25 minutes), or polls with NOOP where the server has no IDLE.
 *
 * No libetpan type appears here.  Nothing here calls exit(). */
#ifndef DEALMAIL_IMAP_H
#define DEALMAIL_IMAP_H
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include "app.h"

struct imap;

enum imap_status {
	IMAP_OK = 0,
	IMAP_TEMP,      /* network, timeout, server unavailable: try again later */
	IMAP_REFUSED,   /* certificate or credentials refused: needs an admin */
	IMAP_CONFIG,    /* unusable [imap] settings (url, password file, processed) */
};

/* Connect, verify TLS, authenticate, select the mailbox (creating the
 * `move:` folder when missing).  On success *imap_r is set.  Errors are
 * logged with the server's words. */
enum imap_status imap_open(const struct config *cfg, struct imap **imap_r);
/* A mailbox name as IMAP writes it (RFC 3501 5.1.3, modified UTF-7):
 * "Año" -> "A&APE-o", "Negociação" -> "Negocia&AOcA4w-o", "R&D" -> "R&-D".
 * Text that is not UTF-8 is taken as Latin-1.  malloc'd. */
char *imap_mutf7(const char *utf8);
/* LOGOUT (best effort) and free; sets *imap to NULL. */
void imap_close(struct imap **imap);
/* The connection failed and must be reopened. */
bool imap_broken(const struct imap *imap);
/* "user@host/INBOX": the key of the mailbox's checkpoint row. */
const char *imap_mailbox_key(const struct imap *imap);

struct imap_stats {
	size_t fetched, done, duplicates_or_applied, quarantined;
	size_t marked;          /* flagged or moved on the server */
};

/* One pass: everything new, processed, made durable, then marked.
 * `stop` is asked after each message (SIGTERM: finish the message in hand,
 * acknowledge, return).  Returns 0, 75 (temporary: database busy, or the
 * connection failed — see imap_broken()), or 74 (database error). */
int imap_pass(struct imap *imap, struct app *app, bool (*stop)(void *), void *ctx,
	      struct imap_stats *st);

enum imap_wait {
	IMAP_WAIT_NEWS,     /* the server reported something: run a pass */
	IMAP_WAIT_TIMEOUT,  /* timeout_ms passed (still idling: call again) */
	IMAP_WAIT_SIGNAL,   /* a signal arrived (delivered while waiting) */
	IMAP_WAIT_LOST,     /* the connection failed */
};
/* Wait in IDLE (entered if not yet) or with NOOP polling, at most
 * timeout_ms (-1: no limit other than the re-IDLE period).  Signals blocked
 * by the caller are delivered during the wait only when `waitmask`
 * (as for ppoll) unblocks them. */
enum imap_wait imap_wait(struct imap *imap, int timeout_ms, const sigset_t *waitmask);

#endif
