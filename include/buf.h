/* buf.h — growable, always NUL-terminated byte buffer.
 *
 * Rules: after buf_init() `s` is never NULL and s[len] == '\0'.  Allocation
 * failure aborts (we are a short-lived mail filter; there is nothing sane to
 * do on OOM but let the MTA retry).  A buffer may carry a maximum size
 * (`max`, 0 = unlimited): appends past it set `overflow` and are dropped, so
 * hostile input cannot grow a buffer without bound; check `overflow` once at
 * the end. */
#ifndef DEALMAIL_BUF_H
#define DEALMAIL_BUF_H
#include <stddef.h>
#include <stdbool.h>
#include <stdarg.h>

struct buf {
	char *s;
	size_t len, cap, max;
	bool overflow;
};

void buf_init(struct buf *b);
void buf_release(struct buf *b);           /* frees, leaves b re-initialised */
void buf_reset(struct buf *b);             /* len = 0, keeps memory */
void buf_add(struct buf *b, const void *p, size_t n);
void buf_adds(struct buf *b, const char *s);
/* One byte: inline, for the byte-at-a-time loops (quoted-printable,
 * addresses, HTML text), with the growing out of line. */
static inline void buf_addc(struct buf *b, char c)
{
	if (b->len + 2 <= b->cap && (!b->max || b->len < b->max)) {
		b->s[b->len++] = c;
		b->s[b->len] = '\0';
		return;
	}
	buf_add(b, &c, 1);
}
void buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vaddf(struct buf *b, const char *fmt, va_list ap);
char *buf_detach(struct buf *b);           /* caller frees; b re-initialised */
void buf_trim(struct buf *b);              /* strip trailing ASCII whitespace */

/* Helpers used everywhere. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);              /* NULL -> NULL */
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
