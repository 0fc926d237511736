/* message.h — one inbound RFC 5322 message, parsed and decoded.
 *
 * Owns: the pre-scan that bounds hostile input before libetpan sees it, the
 * libetpan MIME parse, RFC 2047 header decoding, transfer decoding
 * (quoted-printable, base64), charset conversion to UTF-8, format=flowed
 * (RFC 3676) unwrapping, HTML -> text (libxml2), and the headers of a
 * forwarded message attached as message/rfc822.  No libetpan or libxml2 type
 * appears here.  Everything in struct message is UTF-8, NUL-terminated, with
 * LF line ends; addresses are lower-cased. */
#ifndef DEALMAIL_MESSAGE_H
#define DEALMAIL_MESSAGE_H
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

struct fwd_block;
struct command_list;

struct addr {
	char *name;   /* decoded display name, or NULL */
	char *email;  /* lower-cased addr-spec, never NULL */
};

struct addrlist {
	struct addr *v;
	size_t n;
};

struct header {
	char *name;   /* as written, e.g. "Auto-Submitted" */
	char *value;  /* unfolded, RFC 2047 decoded, trimmed */
};

/* Limits for the pre-scan; see message_limits_default(). */
struct message_limits {
	size_t max_bytes;        /* whole message, default 64 MiB */
	size_t max_headers;      /* header fields at top level, default 1000 */
	size_t max_header_bytes; /* one (unfolded) header field, default 256 KiB */
	size_t max_line;         /* any line, default 1 MiB (real mail breaks 998) */
	int max_depth;           /* MIME nesting, default 20 */
	int max_parts;           /* MIME parts, default 500 */
};

struct message {
	/* the raw bytes as given (after the optional mbox "From " line is
	 * dropped and line ends normalised to CRLF for libetpan) */
	char *raw;
	size_t raw_len;

	struct header *headers;  /* top-level header fields, in order */
	size_t nheaders;

	char *message_id;        /* "<id@host>" with angle brackets, or NULL */
	char *subject;           /* decoded, or "" */
	struct addr from;        /* first From mailbox; email "" when none */
	struct addrlist to, cc;
	char *in_reply_to;       /* first msg-id "<…>", or NULL */
	char **references;       /* msg-ids "<…>", oldest first */
	size_t nreferences;
	char *return_path;       /* value inside <>, "" for the null path, NULL when absent */
	char *date;              /* Date header as written, or NULL */

	/* body */
	char *text;              /* best text of the message: text/plain preferred,
	                            else HTML converted to text; "" when none */
	bool text_from_html;     /* text came from an HTML part */
	int text_wrapped;        /* text came from text/plain parts none of them
	                            format=flowed, and its long lines were wrapped
	                            by the client at this many columns (Gmail's
	                            78, Outlook's 76); 0 when not */
	char *visible;           /* not set by message_parse(): room for the
	                            reply's new text (reply_visible() of text)
	                            when the caller works it out early; freed by
	                            message_free() */
	struct fwd_block *inline_fwd; /* not set by message_parse() either: the
	                            inline forwarded block of text (reply_forwarded())
	                            when the caller works it out early, with
	                            inline_fwd_done; freed by message_free() */
	bool inline_fwd_done;
	struct command_list *cmds; /* not set by message_parse(): the commands of
	                            visible when the caller parses them early (a
	                            rep's message, in a batch's read-ahead), as of
	                            the date cmds_today; freed by message_free() */
	char cmds_today[11];
	/* not set by message_parse(): process.c's classification of the
	 * message (cls, a value of its enum cls, and its two flags) when the
	 * caller works it out early, with cls_done (a batch's read-ahead: it
	 * reads nothing but the message) */
	bool cls_done, cls_bounce, cls_by_subject;
	int cls;
	/* not set by message_parse(): what process.c's scan of the recipients
	 * found (one of ours among To and Cc, the tokens of our plus-addresses),
	 * when the caller works it out early, with rcpt_done */
	struct rcpt_scan {
		bool addressed;
		int64_t bounce_outbox, unsubscribe_contact, token_deal;
	} rcpt;
	bool rcpt_done;
	bool truncated;          /* MIME structure was broken; best effort used */

	/* delivery status notification (multipart/report; report-type=delivery-status) */
	bool is_dsn;
	struct addrlist dsn_failed;  /* Final-Recipient / Original-Recipient addresses */
	char *dsn_original_id;       /* Message-ID of the returned message, if included */
	char *dsn_status;            /* e.g. "5.1.1", or NULL */

	/* an iTIP reply (RFC 5546: text/calendar; METHOD:REPLY) whose attendee
	 * accepted the meeting */
	bool meeting_accepted;
	bool calendar_reply;        /* an iTIP METHOD:REPLY (accepted, declined or tentative) */
	char *meeting_uid;          /* the accepted event's UID, when it has one */

	/* first attached message/rfc822, if any (a forwarded conversation) */
	bool has_forwarded;
	struct addr fwd_from;
	struct addrlist fwd_to, fwd_cc;
	char *fwd_subject;
};

enum message_status {
	MESSAGE_OK = 0,
	MESSAGE_TOO_BIG,       /* pre-scan: a limit was exceeded */
	MESSAGE_UNPARSEABLE,   /* no header block at all / libetpan gave up */
};

void message_limits_default(struct message_limits *lim);

/* Parse raw bytes (LF, CRLF or mixed; a leading mbox "From " line is
 * skipped).  On MESSAGE_OK *msg_r is set and must be freed with
 * message_free().  On failure *msg_r is NULL and *why_r (if non-NULL) gets
 * a static English description such as "MIME nesting deeper than 20". */
enum message_status message_parse(const char *raw, size_t len,
				  const struct message_limits *lim,
				  struct message **msg_r, const char **why_r);
void message_free(struct message *msg);

/* First header with this name (case-insensitive), decoded value; NULL if none. */
const char *message_header(const struct message *msg, const char *name);
/* Iterate: returns the next header named `name` after index *pos (start with 0). */
const char *message_header_next(const struct message *msg, const char *name, size_t *pos);

/* Helpers exposed for other modules and tests. */
/* HTML (UTF-8) -> readable text: block elements become line breaks, <br> a
 * newline, lists "- ", blockquote lines prefixed "> ", scripts/styles
 * dropped, entities decoded; a "-- " line before the writer's signature that
 * Gmail or Outlook marks.  Returns malloc'd UTF-8. */
char *html_to_text(const char *html, size_t len);
/* html_to_text() by one reader only, for tests: libxml2's parser, or
 * (fast) html_sax_fast() (html.h), NULL when that one declines the input. */
char *html_to_text_by(const char *html, size_t len, bool fast);
/* Undo format=flowed (RFC 3676): soft line breaks (trailing space) joined,
 * space-stuffing removed, delsp honoured.  Returns malloc'd. */
char *flowed_unwrap(const char *text, bool delsp);
/* Convert bytes in `charset` to UTF-8 (unknown charset: treated as
 * Windows-1252 if not valid UTF-8); invalid sequences become U+FFFD.
 * Returns malloc'd, NUL-terminated. */
char *charset_to_utf8(const char *charset, const char *in, size_t len);
/* Decode an RFC 2047 header value to UTF-8 (malloc'd); CR/LF become spaces. */
char *header_decode(const char *value);
/* Parse an address list header value into *out (appends). */
void addrlist_parse(const char *value, struct addrlist *out);
void addrlist_free(struct addrlist *l);

#endif
