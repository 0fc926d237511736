/* smtp.h — handing one composed message to the next hop: the transports.
 *
 * Owns every libcurl call.  Two transports behind one interface:
 *   smtp://host[:port]   STARTTLS required (CURLUSESSL_ALL) unless tls = none
 *   smtps://host[:port]  implicit TLS
 *   maildir:/path        each message written to a Maildir (tmp/, fsync,
 *                        rename into new/); the default when [smtp] url is
 *                        unset: <directory of the database>/outbox-maildir
 * Certificates are always verified (ca_file adds a private CA).  AUTH uses
 * [smtp] user with the password from $DEALMAIL_SMTP_PASSWORD or
 * password_file (never argv); when a user is configured and the server did
 * not authenticate us (libcurl silently skips AUTH when it is not offered),
 * the transfer is stopped before MAIL FROM.
 *
 * One transport is opened per batch and its connection is reused for every
 * message (one recipient per SMTP transaction).  It does not touch the
 * database: the caller (deliver.c) decides what an answer means for a row. */
#ifndef DEALMAIL_SMTP_H
#define DEALMAIL_SMTP_H
#include <stdbool.h>
#include <stddef.h>
#include "config.h"

struct transport;

enum xfer_result {
	XFER_SENT = 0,  /* the server accepted the message (250 after DATA), or it is in the Maildir */
	XFER_TEMP,      /* this message got a 4xx answer: try it again later */
	XFER_PERM,      /* this message got a 5xx answer: do not retry */
	XFER_DOWN,      /* the transport failed (connection, TLS, AUTH, dropped mid-transaction,
			   local I/O): the message was not accepted; try again later */
};

struct xfer_status {
	enum xfer_result result;
	int code;               /* the last SMTP reply code seen, 0 when none */
	bool rcpt_rejected;     /* PERM was the answer to RCPT TO: the address itself is bad */
	bool session;           /* DOWN before MAIL FROM (connect, TLS, EHLO, AUTH): the next
				   message would fail the same way, so the batch should stop */
	char error[600];        /* the server's reply, or what went wrong; "" when SENT */
};

/* Open the transport configured in cfg->smtp (cfg->database places the
 * default Maildir).  Reads the password now.  Returns NULL with *err_r
 * (malloc'd) when the configuration cannot work (unknown scheme, unreadable
 * password file, no such Maildir parent); nothing is connected yet. */
struct transport *transport_open(const struct config *cfg, char **err_r);

/* Deliver one message: envelope sender `from` (bare address, may be "" for
 * the null sender), one recipient `rcpt`, `raw` the complete message with
 * CRLF line ends.  Fills *st and returns st->result. */
enum xfer_result transport_send(struct transport *t, const char *from, const char *rcpt,
				const char *raw, size_t len, struct xfer_status *st);

/* A short description for logs, e.g. "smtp://mail.example.com:587 (STARTTLS)". */
const char *transport_describe(const struct transport *t);

/* Close the connection (QUIT) and free; the password is wiped.  NULL is fine. */
void transport_close(struct transport *t);

#endif
