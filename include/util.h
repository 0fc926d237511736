/* util.h — clock (with DEALMAIL_NOW), dates in the configured time zone,
 * ISO-8601 formatting, SHA-256, random ids, HMAC tokens, JSON escaping,
 * logging.  Small things that every module needs. */
#ifndef DEALMAIL_UTIL_H
#define DEALMAIL_UTIL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "buf.h"

/* Now, or DEALMAIL_NOW (ISO 8601, e.g. 2026-11-23T09:00:00Z) when set. */
time_t clock_now(void);
/* Parse "YYYY-MM-DDTHH:MM:SSZ" (also with +hh:mm offset, or a bare date
 * meaning 00:00Z).  -1 when invalid. */
time_t iso_parse(const char *s);
/* Format as "YYYY-MM-DDTHH:MM:SSZ" into out[21]. */
void iso_format(time_t t, char out[21]);
/* Set the zone used by local_date()/local_tm(); NULL or "" = UTC. */
void tz_set(const char *tz);
/* Date in the configured zone as YYYY-MM-DD into out[11]. */
void local_date(time_t t, char out[11]);
void local_tm(time_t t, struct tm *tm);
/* An ISO 8601 UTC time as "YYYY-MM-DD HH:MM" in the configured zone into
 * out[20] (what a person reads); a string that is not one is copied. */
void local_stamp(const char *iso, char out[20]);
/* Add days to a YYYY-MM-DD date. */
void date_add_days(const char *date, int days, char out[11]);
/* RFC 5322 Date header value for t in the configured zone. */
void rfc5322_date(time_t t, char out[64]);

/* lower-case hex SHA-256 of bytes into out[65] */
void sha256_hex(const void *p, size_t n, char out[65]);
/* n random bytes as lower-case hex (2n chars + NUL) */
void random_hex(char *out, size_t nbytes);

/* n in decimal ("%lld") into out[21]; returns its length.  For the
 * numbers written per queued message, where snprintf() shows. */
size_t dec_format(int64_t n, char out[21]);

/* HMAC tokens (key = the secret).  deal_token: "<n>-<10 hex>" for deal n;
 * verify returns the deal number or 0.  Tags separate token kinds ("d" deal
 * reply, "b" bounce/outbox, "u" unsubscribe). */
void token_make(const unsigned char *key, size_t klen, char tag, int64_t n, char out[48]);
int64_t token_verify(const unsigned char *key, size_t klen, char tag, const char *token);

/* JSON string literal (with quotes) of UTF-8 text; NULL -> null */
void json_str(struct buf *b, const char *s);

/* logging */
extern int log_level;  /* 0 quiet, 1 normal, 2 verbose */
/* Send log lines to syslog (facility mail) instead of stderr (`--syslog`). */
void log_to_syslog(void);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
