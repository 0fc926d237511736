/* compose.h — building outgoing RFC 5322/MIME messages.
 *
 * Every header value passes through here: non-ASCII is RFC 2047 encoded
 * (UTF-8, B), CR/LF and other controls become spaces, so no value can inject
 * a header.  Bodies are UTF-8 quoted-printable with CRLF line ends; with an
 * HTML part the message is multipart/alternative. */
#ifndef DEALMAIL_COMPOSE_H
#define DEALMAIL_COMPOSE_H
#include <stddef.h>
#include <time.h>

struct outmsg {
	const char *from_name, *from_addr;
	const char *to_name, *to_addr;
	const char *reply_to;          /* address, optional */
	const char *subject;
	const char *message_id;        /* "<…>" */
	const char *in_reply_to;       /* "<…>", optional */
	const char *references;        /* space-separated "<…>" list, optional */
	const char *auto_submitted;    /* "auto-replied" / "auto-generated" */
	const char *list_unsubscribe;  /* full header value, optional */
	const char *list_unsubscribe_post; /* optional (RFC 8058) */
	const char *text;
	const char *html;              /* optional */
	const char *extra_name, *extra_value; /* one extra header, e.g. X-Dealmail-Deal */
	time_t date;
};

/* The whole message (CRLF), malloc'd; *len_r its size. */
char *compose_message(const struct outmsg *m, size_t *len_r);
/* A fresh Message-ID "<hex.dealmail@domain>" (malloc'd). */
char *compose_message_id(const char *domain);
/* Append a header field "Name: value" with RFC 2047 encoding and folding. */
struct buf;
void compose_header(struct buf *b, const char *name, const char *value);
/* Append a mailbox "name <addr>" header (name encoded/quoted as needed). */
void compose_addr_header(struct buf *b, const char *name, const char *display, const char *addr);
/* The subject without leading Re:/Fwd:/RES:/RV:/ENC: prefixes (malloc'd). */
char *compose_strip_prefixes(const char *subject);
/* "Re: subject" unless it already starts with Re:/RE:/Res:/Fwd:-style prefix. */
char *compose_reply_subject(const char *subject);

#endif
