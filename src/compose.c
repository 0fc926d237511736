/* compose.c — outgoing MIME; see compose.h.  The one place where text
 * becomes header bytes, so the injection rules live here only. */
#include "compose.h"
#include "text.h"
#include "buf.h"
#include "util.h"
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <stdlib.h>

static bool needs_encoding(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p >= 0x80 || *p < 0x20 || *p == 0x7f)
			return true;
	/* a literal "=?" would be decoded by readers as an encoded-word */
	return strstr(s, "=?") != NULL;
}

/* Copy with controls (CR, LF, TAB, …) turned into spaces; "" for NULL. */
static char *clean_value(const char *s)
{
	return text_one_line(s ? s : "");
}

/* s itself when it has no controls (the usual case: a header is composed
 * by the dozen per queued message), else a clean copy in *copy_r to free. */
static const char *clean_or_same(const char *s, char **copy_r)
{
	*copy_r = NULL;
	if (!s)
		return "";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return *copy_r = clean_value(s);
	return s;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void base64_add(struct buf *b, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		buf_addc(b, b64[(v >> 18) & 63]);
		buf_addc(b, b64[(v >> 12) & 63]);
		buf_addc(b, i + 1 < n ? b64[(v >> 6) & 63] : '=');
		buf_addc(b, i + 2 < n ? b64[v & 63] : '=');
	}
}

/* Length of the UTF-8 sequence starting at p (1 for invalid bytes). */
static size_t u8len(const unsigned char *p)
{
	if (*p < 0x80) return 1;
	if ((*p & 0xe0) == 0xc0 && (p[1] & 0xc0) == 0x80) return 2;
	if ((*p & 0xf0) == 0xe0 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80) return 3;
	if ((*p & 0xf8) == 0xf0 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 &&
	    (p[3] & 0xc0) == 0x80) return 4;
	return 1;
}

/* Encoded-words split only between UTF-8 characters and separated by CRLF
 * SP (folding), each as long as the line it starts at allows: a line that
 * holds an encoded-word is at most 76 characters (RFC 2047 §2), and an
 * encoded-word is its base64 and 12 characters around it.  col is where the
 * first one starts; returns the column after the last. */
static size_t encode_words(struct buf *b, const char *s, size_t col)
{
	const unsigned char *p = (const unsigned char *)s;
	bool first = true;
	while (*p) {
		if (!first) {
			buf_adds(b, "\r\n ");
			col = 1;
		}
		size_t room = col + 12 < 76 ? (76 - col - 12) / 4 * 3 : 0;
		if (room < 4) {   /* not one character fits here: on the next line */
			buf_adds(b, "\r\n ");
			col = 1;
			room = (76 - 1 - 12) / 4 * 3;
		}
		size_t n = 0;
		while (p[n]) {
			size_t l = u8len(p + n);
			if (n + l > room)
				break;
			n += l;
		}
		buf_adds(b, "=?UTF-8?B?");
		base64_add(b, p, n);
		buf_adds(b, "?=");
		col += 12 + (n + 2) / 3 * 4;
		p += n;
		first = false;
	}
	return col;
}

/* Append s (which starts with the space that separates it from what is
 * before it, or is preceded by one more when `space`: no copy of the value
 * with a space before it is made), folded -- CRLF inserted before a run of
 * spaces -- where the next word would take the line past 76 columns.  The
 * first word stays on the field's first line however long
 * ("List-Unsubscribe: <mailto:…>" is read as one line by many a filter):
 * `start` is the column right after "Name:".  Returns the column at the
 * end. */
static size_t add_folded(struct buf *b, const char *s, size_t col, size_t start, bool space)
{
	while (*s || space) {
		size_t sp = strspn(s, " "), w = strcspn(s + sp, " ");
		if (sp + space && col + sp + space + w > 76 && col > start) {
			buf_adds(b, "\r\n");
			col = 0;
		}
		if (space)
			buf_addc(b, ' ');
		buf_add(b, s, sp + w);
		col += sp + space + w;
		s += sp + w;
		space = false;
	}
	return col;
}

/* The longest run without a space: a header line may not exceed 998 octets
 * (RFC 5322 §2.1.1), and ASCII text is folded only at spaces. */
static size_t longest_word(const char *s)
{
	size_t best = 0;
	while (*s) {
		size_t n = strcspn(s, " ");
		if (n > best)
			best = n;
		s += n;
		s += strspn(s, " ");
	}
	return best;
}

void compose_header(struct buf *b, const char *name, const char *value)
{
	char *copy;
	const char *v = clean_or_same(value, &copy);
	size_t start = strlen(name) + 1;
	buf_add(b, name, start - 1);
	buf_addc(b, ':');
	/* a word too long to fold goes in encoded-words, which are split (no
	 * word is longer than the value) */
	size_t len = strlen(v);
	if (needs_encoding(v) || (len > 900 && longest_word(v) > 900)) {
		buf_addc(b, ' ');
		encode_words(b, v, start + 1);
	} else if (start + 1 + len <= 76) {
		/* fits on the line: add_folded() would not fold it */
		buf_addc(b, ' ');
		buf_add(b, v, len);
	} else
		add_folded(b, v, start, start, true);
	buf_adds(b, "\r\n");
	free(copy);
}

/* A msg-id as RFC 5322 §3.6.4 writes it: "<" dot-atom-text "@" dot-atom-text
 * or [no-fold-literal] ">" (atext with RFC 6532's UTF-8; dots not checked:
 * real ids break that rule harmlessly), and no "=?" that a reader would decode as an
 * encoded-word (Python's email package turns <=?utf-8?q?a=0D=0ABcc:...?=>
 * into a value holding CR LF). */
static bool atext_run(const char *p, const char *end)
{
	static const char atext[] = "!#$%&'*+-/=?^_`{|}~.";
	if (p == end)
		return false;
	for (; p < end; p++)
		if (!(isalnum((unsigned char)*p) || (unsigned char)*p >= 0x80 || strchr(atext, *p)) ||
		    (p[0] == '=' && p + 1 < end && p[1] == '?'))
			return false;
	return true;
}

static bool valid_msgid(const char *p, size_t n)
{
	if (n < 5 || p[0] != '<' || p[n - 1] != '>')
		return false;
	const char *end = p + n - 1, *at = memchr(p, '@', n);
	if (!at || !atext_run(p + 1, at))
		return false;
	if (at[1] != '[')
		return atext_run(at + 1, end);
	if (end[-1] != ']' || end - 1 == at + 1)
		return false;
	for (const char *q = at + 2; q < end - 1; q++)   /* dtext */
		if (*q < 33 || *q > 126 || *q == '[' || *q == ']' || *q == '\\')
			return false;
	return true;
}

/* Message-ID, In-Reply-To, References: msg-ids are never encoded-words
 * (RFC 2047 §5): written as they are, folded between ids.  An id that is
 * not a msg-id (a sender's Message-ID is copied into our threading headers)
 * is left out, and the header with it when none is left. */
static void id_header(struct buf *b, const char *name, const char *value)
{
	char *copy;
	const char *v = clean_or_same(value, &copy);
	size_t start = b->len;
	buf_adds(b, name);
	buf_adds(b, ":");
	size_t col = strlen(name) + 1;
	bool any = false;
	for (const char *p = v; *p;) {
		p += strspn(p, " ");
		size_t n = strcspn(p, " ");
		if (!n)
			break;
		if (valid_msgid(p, n)) {
			if (col > strlen(name) + 1 && col + 1 + n > 76) {
				buf_adds(b, "\r\n");
				col = 0;
			}
			buf_addc(b, ' ');
			buf_add(b, p, n);
			col += 1 + n;
			any = true;
		}
		p += n;
	}
	if (any)
		buf_adds(b, "\r\n");
	else {
		b->len = start;
		b->s[start] = '\0';
	}
	free(copy);
}

static bool is_atext_phrase(const char *s)
{
	for (const char *p = s; *p; p++)
		if (!(isalnum((unsigned char)*p) || strchr(" !#$%&'*+-/=?^_`{|}~", *p)))
			return false;
	return true;
}

void compose_addr_header(struct buf *b, const char *name, const char *display, const char *addr)
{
	char *a = clean_value(addr);
	/* an address never contains spaces, angle brackets or commas */
	for (char *p = a; *p; p++)
		if (*p == ' ' || *p == '<' || *p == '>' || *p == ',' || *p == '"')
			*p = '_';
	size_t start = strlen(name) + 1, col = start;
	buf_adds(b, name);
	buf_addc(b, ':');
	if (display && *display) {
		char *dcopy;
		const char *d = clean_or_same(display, &dcopy);
		size_t dlen = strlen(d);
		if (needs_encoding(d) || (dlen > 900 && longest_word(d) > 900)) {
			buf_addc(b, ' ');
			col = encode_words(b, d, col + 1);
		} else if (col + 1 + dlen <= 76 && is_atext_phrase(d)) {
			/* fits on the line as it is: add_folded() would not fold it */
			buf_addc(b, ' ');
			buf_add(b, d, dlen);
			col += 1 + dlen;
		} else {
			struct buf q;
			buf_init(&q);
			buf_addc(&q, ' ');
			if (is_atext_phrase(d))
				buf_adds(&q, d);
			else {
				/* a quoted-string, folded at its spaces like a phrase
				 * (RFC 5322 §3.2.4: FWS inside the quotes) */
				buf_addc(&q, '"');
				for (const char *p = d; *p; p++) {
					if (*p == '"' || *p == '\\')
						buf_addc(&q, '\\');
					buf_addc(&q, *p);
				}
				buf_addc(&q, '"');
			}
			col = add_folded(b, q.s, col, start, false);
			buf_release(&q);
		}
		/* " <a>" is one word (a has no spaces): folded before it or not */
		size_t alen = strlen(a);
		if (col + 1 + alen + 2 > 76 && col > start)
			buf_adds(b, "\r\n");
		buf_adds(b, " <");
		buf_add(b, a, alen);
		buf_addc(b, '>');
		free(dcopy);
	} else {
		/* one word, first on the line: never folded */
		buf_addc(b, ' ');
		buf_adds(b, a);
	}
	buf_adds(b, "\r\n");
	free(a);
}

/* Quoted-printable (RFC 2045) of UTF-8 text; LF or CRLF in, CRLF out.
 * Written into one array sized for the worst case (a byte becomes at most
 * "=\r\n=XX") and appended once: an append per byte or run of bytes was
 * half of quoting a confirmation. */
static void qp_add(struct buf *b, const char *text)
{
	static const char hx[] = "0123456789ABCDEF";
	size_t col = 0;
	char *out = xmalloc(6 * strlen(text) + 3), *o = out;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p == '\r' && p[1] == '\n')
			continue;
		if (*p == '\n') {
			*o++ = '\r';
			*o++ = '\n';
			col = 0;
			continue;
		}
		bool trailing_ws = (*p == ' ' || *p == '\t') && (p[1] == '\n' || p[1] == '\0' ||
								 (p[1] == '\r' && p[2] == '\n'));
		bool lit = (*p >= 33 && *p <= 126 && *p != '=') || ((*p == ' ' || *p == '\t') && !trailing_ws);
		/* a line starting with "From " or "." is safer encoded */
		if (col == 0 && (*p == '.' || (*p == 'F' && !strncmp((const char *)p, "From ", 5))))
			lit = false;
		size_t w = lit ? 1 : 3;
		if (col + w > 75) {
			memcpy(o, "=\r\n", 3);
			o += 3;
			col = 0;
		}
		if (lit) {
			/* a run of literal bytes (the bulk of a Latin text) in one
			 * copy: printable ASCII and the spaces between words, up to
			 * the next byte that needs a look, or the line's limit (past
			 * the first byte none is at the start of a line, where '.'
			 * and "From " are encoded) */
			size_t k = 1, room = 75 - col;
			while (k < room) {
				unsigned char c = p[k];
				if (c >= 33 && c <= 126 && c != '=')
					k++;
				else if ((c == ' ' || c == '\t') && p[k + 1] != '\n' && p[k + 1] != '\0' &&
					 !(p[k + 1] == '\r' && p[k + 2] == '\n'))
					k++;
				else
					break;
			}
			memcpy(o, p, k);
			o += k;
			col += k;
			p += k - 1;
			continue;
		}
		*o++ = '=';
		*o++ = hx[*p >> 4];
		*o++ = hx[*p & 15];
		col += w;
	}
	if (col) {
		*o++ = '\r';
		*o++ = '\n';
	}
	buf_add(b, out, (size_t)(o - out));
	free(out);
}

static void text_part(struct buf *b, const char *type, const char *body)
{
	buf_adds(b, "Content-Type: ");
	buf_adds(b, type);
	buf_adds(b, "; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
	qp_add(b, body ? body : "");
}

char *compose_message_id(const char *domain)
{
	char r[33];
	random_hex(r, 16);
	const char *at = domain ? strrchr(domain, '@') : NULL;
	const char *d = at ? at + 1 : (domain && *domain ? domain : "localhost");
	/* "<" r ".dealmail@" d ">", with only characters valid in a dot-atom
	 * in d (put together by hand: one per queued message) */
	size_t dl = strlen(d);
	char *id = xmalloc(1 + 32 + 10 + dl + 2), *dom = id + 1 + 32 + 10;
	memcpy(id, "<", 1);
	memcpy(id + 1, r, 32);
	memcpy(id + 33, ".dealmail@", 10);
	for (size_t i = 0; i < dl; i++)
		dom[i] = isalnum((unsigned char)d[i]) || d[i] == '.' || d[i] == '-' ? d[i] : '-';
	memcpy(dom + dl, ">", 2);
	return id;
}

char *compose_strip_prefixes(const char *subject)
{
	static const char *const pre[] = {"re:", "res:", "rv:", "fw:", "fwd:", "enc:", "tr:", "aw:", "wg:", NULL};
	const char *s = subject ? subject : "";
	for (bool again = true; again;) {
		again = false;
		while (*s == ' ' || *s == '\t')
			s++;
		for (const char *const *p = pre; *p; p++)
			if (!strncasecmp(s, *p, strlen(*p))) {
				s += strlen(*p);
				again = true;
				break;
			}
	}
	char *r = xstrdup(s);
	size_t n = strlen(r);
	while (n && (r[n - 1] == ' ' || r[n - 1] == '\t'))
		r[--n] = '\0';
	return r;
}

char *compose_reply_subject(const char *subject)
{
	const char *s = subject ? subject : "";
	while (*s == ' ')
		s++;
	if (!strncasecmp(s, "re:", 3) || !strncasecmp(s, "res:", 4) || !strncasecmp(s, "rv:", 3))
		return xstrdup(s);
	return xasprintf("Re: %s", s);
}

char *compose_message(const struct outmsg *m, size_t *len_r)
{
	struct buf b;
	char date[64];
	buf_init(&b);
	rfc5322_date(m->date, date);
	compose_header(&b, "Date", date);
	compose_addr_header(&b, "From", m->from_name, m->from_addr);
	compose_addr_header(&b, "To", m->to_name, m->to_addr);
	if (m->reply_to)
		compose_addr_header(&b, "Reply-To", NULL, m->reply_to);
	compose_header(&b, "Subject", m->subject ? m->subject : "");
	id_header(&b, "Message-ID", m->message_id);
	if (m->in_reply_to)
		id_header(&b, "In-Reply-To", m->in_reply_to);
	if (m->references && *m->references)
		id_header(&b, "References", m->references);
	compose_header(&b, "Auto-Submitted", m->auto_submitted ? m->auto_submitted : "auto-generated");
	if (m->list_unsubscribe)
		compose_header(&b, "List-Unsubscribe", m->list_unsubscribe);
	if (m->list_unsubscribe_post)
		compose_header(&b, "List-Unsubscribe-Post", m->list_unsubscribe_post);
	if (m->extra_name && m->extra_value)
		compose_header(&b, m->extra_name, m->extra_value);
	compose_header(&b, "X-Auto-Response-Suppress", "All");
	compose_header(&b, "MIME-Version", "1.0");
	if (m->html) {
		char bnd[25];
		random_hex(bnd, 12);
		buf_addf(&b, "Content-Type: multipart/alternative; boundary=\"=_dm_%s\"\r\n\r\n", bnd);
		buf_addf(&b, "--=_dm_%s\r\n", bnd);
		text_part(&b, "text/plain", m->text);
		buf_addf(&b, "--=_dm_%s\r\n", bnd);
		text_part(&b, "text/html", m->html);
		buf_addf(&b, "--=_dm_%s--\r\n", bnd);
	} else
		text_part(&b, "text/plain", m->text);
	*len_r = b.len;
	return buf_detach(&b);
}
