/* message.c — one inbound RFC 5322 message, parsed and decoded (see message.h).
 *
 * The path of a message through this file:
 *
 *   1. normalise(): drop a leading mbox "From " line, turn LF / CRLF / mixed
 *      line ends into CRLF, drop stray CRs and NUL bytes (libetpan wants CRLF
 *      and C strings come out of it).  As in Postfix, the first line of the
 *      top-level header block that is not a field starts the body (an empty
 *      line is inserted there, so that libetpan and we agree).
 *   2. prescan(): one linear pass over the normalised bytes that bounds what
 *      libetpan will see: line length, header fields per block and bytes per
 *      field, MIME nesting (multipart boundaries and message/rfc822) and the
 *      number of parts.  It follows the boundary structure the way a MIME
 *      parser does, with a stack no deeper than max_depth, so a 1000-deep
 *      nesting or 100,000 parts are refused after reading just enough.  It
 *      also notices a multipart whose closing boundary never comes
 *      (msg->truncated).
 *   3. mailmime_parse() on the message's MIME view (mime_view(): the body and
 *      only the top-level fields libetpan's MIME parser needs); we walk the tree to pick the
 *      best text, the DSN parts and the first forwarded message/rfc822.
 *      Header fields are split and RFC 2047-decoded by our own code (libetpan
 *      is strict about address syntax that real mail gets wrong).
 *
 * Text decoding: charset_to_utf8() (own Windows-1252 table, iconv for the
 * rest, U+FFFD for invalid bytes), flowed_unwrap() (RFC 3676) and
 * html_to_text() (libxml2's HTML parser in recover mode, read through its SAX
 * events; plain HTML by html.c's reader, which gives the same events).
 *
 * html_to_text() and Outlook: Outlook's HTML has no <blockquote> around the
 * quoted conversation; it separates it with <div id="appendonsend">,
 * <div id="divRplyFwdMsg"> or a <div style="border-top:solid #E1E1E1 ...">
 * (older versions #B5C4DF).  Before the first such element we emit a line
 * "-----Original Message-----", which the reply stripper (reply.c) already
 * cuts at, so everything quoted below it disappears from the visible text.
 * Gmail, Apple Mail and Thunderbird quote with <blockquote>, whose lines we
 * prefix with "> ".
 *
 * A message/rfc822 inside a multipart/report (the returned message of a
 * bounce) is not reported as a forwarded message (has_forwarded stays
 * false); its Message-ID goes to dsn_original_id. */
#include "message.h"
#include "buf.h"
#include "command.h"
#include "html.h"
#include "reply.h"

#include <errno.h>
#include <iconv.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libetpan/libetpan.h>
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <dlfcn.h>
#include <pthread.h>

/* ------------------------------------------------------------------ */
/* small ASCII helpers (locale independent) */

static int lc(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static bool is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

static bool is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static bool mem_ieq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lc((unsigned char)a[i]) != lc((unsigned char)b[i]))
			return false;
	return true;
}

/* Does s[0..n) start with the NUL-terminated prefix p (case-insensitive)? */
static bool has_iprefix(const char *s, size_t n, const char *p)
{
	size_t m = strlen(p);
	return n >= m && mem_ieq(s, p, m);
}

static void lower_ascii(char *s)
{
	for (; s && *s; s++)
		*s = (char)lc((unsigned char)*s);
}

static char *trim_dup(const char *s, size_t n)
{
	while (n && is_space((unsigned char)*s))
		s++, n--;
	while (n && is_space((unsigned char)s[n - 1]))
		n--;
	return xstrndup(s, n);
}

/* Blank: white space only, the Unicode kinds included (Outlook's text
 * alternative of an HTML-only reply is often a lone no-break space). */
static bool is_blank(const char *s)
{
	static const char *const uspace[] = {
		"\xC2\xA0", "\xE2\x80\x8B", "\xE2\x80\xAF", "\xE3\x80\x80", "\xEF\xBB\xBF",
	};
	while (s && *s) {
		if (is_space((unsigned char)*s)) {
			s++;
			continue;
		}
		size_t k = 0;
		for (size_t i = 0; i < sizeof uspace / sizeof uspace[0] && !k; i++)
			if (!strncmp(s, uspace[i], strlen(uspace[i])))
				k = strlen(uspace[i]);
		if (!k && (unsigned char)s[0] == 0xE2 && (unsigned char)s[1] == 0x80 &&
		    (unsigned char)s[2] >= 0x80 && (unsigned char)s[2] <= 0x8A)
			k = 3;   /* U+2000..U+200A */
		if (!k)
			return false;
		s += k;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* UTF-8 */

static void utf8_put(struct buf *b, uint32_t cp)
{
	char t[4];
	size_t n;
	if (cp < 0x80) {
		t[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		t[0] = (char)(0xC0 | (cp >> 6));
		t[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		t[0] = (char)(0xE0 | (cp >> 12));
		t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		t[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		t[0] = (char)(0xF0 | (cp >> 18));
		t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		t[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		t[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	buf_add(b, t, n);
}

/* Length of the valid UTF-8 sequence at s (n bytes available), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	uint32_t v, min;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2, v = c & 0x1F, min = 0x80;
	else if (c >= 0xE0 && c <= 0xEF)
		len = 3, v = c & 0x0F, min = 0x800;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4, v = c & 0x07, min = 0x10000;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	return len;
}

static bool utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		size_t l = utf8_seq(p + i, n - i);
		if (!l)
			return false;
		i += l;
	}
	return true;
}

/* libetpan decodes encoded words in MIME parameters with charconv(), which
 * opens and closes an iconv descriptor for each (a twentieth of the parsing
 * thread in a batch: mostly "charset=UTF-8" itself).  It offers a hook:
 * the conversions that change nothing (valid UTF-8, or ASCII, into UTF-8)
 * are a copy here, and anything else is MAIL_CHARCONV_ERROR_UNKNOWN_CHARSET,
 * on which libetpan goes on to iconv as before. */
static bool is_utf8_name(const char *c)
{
	return !strcasecmp(c, "utf-8") || !strcasecmp(c, "utf8");
}

static int etpan_identity_conv(const char *tocode, const char *fromcode, const char *str, size_t length,
			       char *result, size_t *result_len)
{
	if (!tocode || !fromcode || !is_utf8_name(tocode) || length > *result_len)
		return MAIL_CHARCONV_ERROR_UNKNOWN_CHARSET;
	bool ascii = !strcasecmp(fromcode, "us-ascii") || !strcasecmp(fromcode, "ascii");
	if (!ascii && !is_utf8_name(fromcode))
		return MAIL_CHARCONV_ERROR_UNKNOWN_CHARSET;
	for (size_t i = 0; ascii && i < length; i++)
		if ((unsigned char)str[i] >= 0x80)
			return MAIL_CHARCONV_ERROR_UNKNOWN_CHARSET;
	if (!ascii && !utf8_valid(str, length))
		return MAIL_CHARCONV_ERROR_UNKNOWN_CHARSET;
	memcpy(result, str, length);
	*result_len = length;
	return MAIL_CHARCONV_NO_ERROR;
}

static void install_charconv(void)
{
	extended_charconv = etpan_identity_conv;
}

/* Append UTF-8, replacing invalid sequences by U+FFFD and dropping NULs;
 * *bad_r and *multi_r (when given) say whether an invalid sequence and a
 * valid multi-byte one were seen. */
static void utf8_sanitize_seen(struct buf *b, const char *s, size_t n, bool *bad_r, bool *multi_r)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;
	bool bad = false, multi = false;
	const uint64_t high = 0x8080808080808080u, ones = 0x0101010101010101u;
	while (i < n) {
		/* eight ASCII bytes, none NUL, at a time (most of a mail) */
		if (n - i >= 8) {
			uint64_t w;
			memcpy(&w, p + i, 8);
			if (!(w & high) && !((w - ones) & ~w & high)) {
				i += 8;
				continue;
			}
		}
		if (p[i] >= 0x01 && p[i] < 0x80) {
			i++;
			continue;
		}
		if (p[i] == 0) {
			buf_add(b, s + run, i - run);
			run = ++i;
			continue;
		}
		size_t l = utf8_seq(p + i, n - i);
		if (l) {
			multi = true;   /* p[i] >= 0x80 here: a sequence of two or more */
			i += l;
			continue;
		}
		bad = true;
		buf_add(b, s + run, i - run);
		utf8_put(b, 0xFFFD);
		run = ++i;
	}
	buf_add(b, s + run, n - run);
	if (bad_r)
		*bad_r = bad;
	if (multi_r)
		*multi_r = multi;
}

static void utf8_sanitize(struct buf *b, const char *s, size_t n)
{
	utf8_sanitize_seen(b, s, n, NULL, NULL);
}

/* ------------------------------------------------------------------ */
/* charsets */

static const uint16_t cp1252_80[32] = {
	0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
	0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,
};

static void cp1252_to_utf8(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned c = (unsigned char)s[i];
		if (c == 0)
			continue;
		if (c < 0x80)
			buf_addc(b, (char)c);
		else if (c < 0xA0)
			utf8_put(b, cp1252_80[c - 0x80]);
		else
			utf8_put(b, c);
	}
}

enum cs_kind { CS_AUTO, CS_UTF8, CS_CP1252, CS_ICONV };

/* Classify a charset label; for CS_ICONV the iconv name goes to name[]. */
static enum cs_kind charset_kind(const char *label, char *name, size_t namesz)
{
	char l[48];
	size_t n = 0;
	if (!label)
		return CS_AUTO;
	while (*label && (is_space((unsigned char)*label) || *label == '"' || *label == '\''))
		label++;
	for (; *label && *label != '"' && *label != '\'' && !is_space((unsigned char)*label); label++) {
		int c = lc((unsigned char)*label);
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.' || c == ':' || c == '+' || c == '(' || c == ')'))
			return CS_AUTO;
		if (n + 1 >= sizeof l)
			return CS_AUTO;
		l[n++] = (char)c;
	}
	l[n] = '\0';
	if (n == 0)
		return CS_AUTO;
	static const char *const utf8[] = {"utf-8", "utf8", "unicode-1-1-utf-8", "x-unicode20utf8", NULL};
	static const char *const ascii[] = {"us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "us",
					    "default", "x-unknown", "unknown", "unknown-8bit", "x-user-defined", NULL};
	static const char *const w1252[] = {"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1",
					    "windows-1252", "cp1252", "x-cp1252", "cp819", "ibm819",
					    "iso-ir-100", "iso_8859-1:1987", "csisolatin1", "win-1252", NULL};
	static const char *const alias[][2] = {
		{"gb2312", "GB18030"}, {"gbk", "GB18030"}, {"x-gbk", "GB18030"}, {"cp936", "GB18030"},
		{"ks_c_5601-1987", "CP949"}, {"euc-kr", "CP949"}, {"ks_c_5601", "CP949"},
		{"shift_jis", "CP932"}, {"shift-jis", "CP932"}, {"sjis", "CP932"}, {"x-sjis", "CP932"},
		{"ms_kanji", "CP932"}, {"windows-31j", "CP932"}, {"iso-8859-8-i", "ISO-8859-8"},
		{"x-mac-roman", "MACINTOSH"}, {"macintosh", "MACINTOSH"}, {"latin9", "ISO-8859-15"},
		{"latin-9", "ISO-8859-15"}, {"iso8859-15", "ISO-8859-15"}, {"tis-620", "TIS-620"},
		{"windows-874", "CP874"}, {"big5-hkscs", "BIG5-HKSCS"},
		/* UTF-7 as Outlook Express (and Windows' other code) labels it */
		{"unicode-1-1-utf-7", "UTF-7"}, {"unicode-2-0-utf-7", "UTF-7"}, {"x-unicode-1-1-utf-7", "UTF-7"},
		{"x-unicode-2-0-utf-7", "UTF-7"}, {"csunicode11utf7", "UTF-7"},
		{NULL, NULL},
	};
	for (size_t i = 0; utf8[i]; i++)
		if (!strcmp(l, utf8[i]))
			return CS_UTF8;
	for (size_t i = 0; ascii[i]; i++)
		if (!strcmp(l, ascii[i]))
			return CS_AUTO;
	for (size_t i = 0; w1252[i]; i++)
		if (!strcmp(l, w1252[i]))
			return CS_CP1252;
	for (size_t i = 0; alias[i][0]; i++)
		if (!strcmp(l, alias[i][0])) {
			snprintf(name, namesz, "%s", alias[i][1]);
			return CS_ICONV;
		}
	snprintf(name, namesz, "%s", l);
	return CS_ICONV;
}

static void auto_to_utf8(struct buf *b, const char *in, size_t len)
{
	if (utf8_valid(in, len))
		utf8_sanitize(b, in, len); /* drops NULs */
	else
		cp1252_to_utf8(b, in, len);
}

/* Returns false when iconv does not know the charset (nothing appended). */
static bool iconv_to_utf8(struct buf *b, const char *name, const char *in, size_t len)
{
	iconv_t cd = iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1)
		return false;
	struct buf tmp;
	buf_init(&tmp);
	char out[4096];
	char *ip = (char *)in;
	size_t il = len;
	for (;;) {
		char *op = out;
		size_t ol = sizeof out;
		size_t r = il ? iconv(cd, &ip, &il, &op, &ol) : iconv(cd, NULL, NULL, &op, &ol);
		int e = errno;
		buf_add(&tmp, out, (size_t)(op - out));
		if (r != (size_t)-1) {
			if (!il)
				break;
			continue;
		}
		if (e == E2BIG)
			continue;
		if (e == EILSEQ && il) {
			utf8_put(&tmp, 0xFFFD);
			ip++, il--;
			continue;
		}
		/* EINVAL: incomplete sequence at the end */
		if (il)
			utf8_put(&tmp, 0xFFFD);
		break;
	}
	iconv_close(cd);
	utf8_sanitize(b, tmp.s, tmp.len);
	buf_release(&tmp);
	return true;
}

static void charset_add(struct buf *b, const char *charset, const char *in, size_t len)
{
	char name[64];
	switch (charset_kind(charset, name, sizeof name)) {
	case CS_UTF8:
		/* labelled UTF-8 but written in Latin-1 or Windows-1252 (an old
		 * client, or a server's footer): not one byte above ASCII forms a
		 * UTF-8 sequence, so none of it is UTF-8; a text with some UTF-8
		 * and a stray byte keeps its UTF-8 */
	{
		size_t at = b->len;
		bool bad, multi;
		utf8_sanitize_seen(b, in, len, &bad, &multi);
		if (bad && !multi) {
			b->len = at;
			b->s[at] = '\0';
			cp1252_to_utf8(b, in, len);
		}
		return;
	}
	case CS_CP1252:
		/* and the reverse: labelled Latin-1 (a client's default) but
		 * written in UTF-8 -- every byte above ASCII is in a well-formed
		 * UTF-8 sequence, which Latin-1 text ("Ã³" for "ó") never is */
	{
		size_t at = b->len;
		bool bad, multi;
		utf8_sanitize_seen(b, in, len, &bad, &multi);
		if (bad || !multi) {
			b->len = at;
			b->s[at] = '\0';
			cp1252_to_utf8(b, in, len);
		}
		return;
	}
	case CS_ICONV:
		if (!iconv_to_utf8(b, name, in, len))
			auto_to_utf8(b, in, len); /* unknown label */
		return;
	case CS_AUTO:
	default:
		auto_to_utf8(b, in, len);
		return;
	}
}

char *charset_to_utf8(const char *charset, const char *in, size_t len)
{
	struct buf b;
	buf_init(&b);
	if (in && len)
		charset_add(&b, charset, in, len);
	return buf_detach(&b);
}

/* ------------------------------------------------------------------ */
/* RFC 2047 */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lc(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The base64 alphabet's values, -1 for any other byte (encoded words here,
 * bodies in b64_body()). */
static const signed char b64tab[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
	-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
	-1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

static int b64val(int c)
{
	return b64tab[(unsigned char)c];
}

static void b64_decode(struct buf *b, const char *s, size_t n)
{
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=')
			break;
		int v = b64val((unsigned char)s[i]);
		if (v < 0)
			continue;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_addc(b, (char)((acc >> bits) & 0xFF));
		}
	}
}

static void q_decode(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '_') {
			buf_addc(b, ' ');
		} else if (s[i] == '=' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
			   hexval((unsigned char)s[i + 2]) >= 0) {
			buf_addc(b, (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2])));
			i += 2;
		} else {
			buf_addc(b, s[i]);
		}
	}
}

/* Recognise an encoded-word at s[i]; on success fill the pieces. */
struct ew {
	size_t cs, cs_len; /* charset (without RFC 2231 language) */
	char enc;
	size_t txt, txt_len;
	size_t end; /* index after "?=" */
};

static bool parse_ew(const char *s, size_t n, size_t i, struct ew *w)
{
	if (i + 1 >= n || s[i] != '=' || s[i + 1] != '?')
		return false;
	size_t j = i + 2;
	while (j < n && s[j] != '?' && !is_space((unsigned char)s[j]) && j - (i + 2) <= 64)
		j++;
	if (j >= n || s[j] != '?' || j == i + 2)
		return false;
	w->cs = i + 2;
	w->cs_len = j - w->cs;
	for (size_t k = w->cs; k < j; k++)
		if (s[k] == '*') {
			w->cs_len = k - w->cs;
			break;
		}
	if (j + 2 >= n || s[j + 2] != '?')
		return false;
	w->enc = (char)lc((unsigned char)s[j + 1]);
	if (w->enc != 'b' && w->enc != 'q')
		return false;
	size_t k = j + 3;
	while (k < n && s[k] != '?' && s[k] != '\r' && s[k] != '\n')
		k++;
	if (k + 1 >= n || s[k] != '?' || s[k + 1] != '=')
		return false;
	w->txt = j + 3;
	w->txt_len = k - w->txt;
	w->end = k + 2;
	return true;
}

/* Append decoded UTF-8 text to out, turning CR/LF into spaces. */
static void add_nocrlf(struct buf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_addc(out, (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i]);
}

static void flush_words(struct buf *out, struct buf *bytes, char *cs)
{
	if (!bytes->len)
		return;
	struct buf t;
	buf_init(&t);
	charset_add(&t, cs, bytes->s, bytes->len);
	add_nocrlf(out, t.s, t.len);
	buf_release(&t);
	buf_reset(bytes);
}

static void add_plain(struct buf *out, const char *s, size_t n)
{
	/* unfold: CRLF + WSP -> WSP; any other CR/LF -> space */
	struct buf t;
	buf_init(&t);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' || s[i] == '\n') {
			size_t j = i;
			while (j < n && (s[j] == '\r' || s[j] == '\n'))
				j++;
			if (!(j < n && is_wsp((unsigned char)s[j])))
				buf_addc(&t, ' ');
			i = j - 1;
			continue;
		}
		buf_addc(&t, s[i]);
	}
	struct buf u;
	buf_init(&u);
	auto_to_utf8(&u, t.s, t.len);
	buf_add(out, u.s, u.len);
	buf_release(&u);
	buf_release(&t);
}

static char *header_decode_n(const char *v, size_t n)
{
	/* most fields are one line of printable ASCII without an encoded-word:
	 * nothing to decode, unfold or convert (the loops below would copy
	 * them byte by byte into three buffers) */
	size_t k = 0;
	while (k < n && (((unsigned char)v[k] >= 0x20 && (unsigned char)v[k] < 0x7f) || v[k] == '\t') &&
	       !(v[k] == '=' && k + 1 < n && v[k + 1] == '?'))
		k++;
	if (k == n)
		return trim_dup(v, n);

	struct buf out, bytes;
	char cs[72] = "";
	buf_init(&out);
	buf_init(&bytes);
	size_t i = 0, plain = 0;
	bool after_word = false;
	while (i < n) {
		struct ew w;
		if (v[i] != '=' || !parse_ew(v, n, i, &w)) {
			i++;
			continue;
		}
		/* the plain text between the previous word (or start) and this one */
		bool only_ws = true;
		for (size_t k = plain; k < i; k++)
			if (!is_space((unsigned char)v[k])) {
				only_ws = false;
				break;
			}
		if (!(after_word && only_ws) && i > plain) {
			flush_words(&out, &bytes, cs);
			add_plain(&out, v + plain, i - plain);
		}
		char wcs[72];
		size_t cl = w.cs_len < sizeof wcs - 1 ? w.cs_len : sizeof wcs - 1;
		memcpy(wcs, v + w.cs, cl);
		wcs[cl] = '\0';
		if (bytes.len && strcasecmp(wcs, cs) != 0)
			flush_words(&out, &bytes, cs);
		memcpy(cs, wcs, cl + 1);
		if (w.enc == 'b')
			b64_decode(&bytes, v + w.txt, w.txt_len);
		else
			q_decode(&bytes, v + w.txt, w.txt_len);
		i = plain = w.end;
		after_word = true;
	}
	flush_words(&out, &bytes, cs);
	if (n > plain)
		add_plain(&out, v + plain, n - plain);
	buf_release(&bytes);
	char *r = trim_dup(out.s, out.len);
	buf_release(&out);
	return r;
}

char *header_decode(const char *value)
{
	if (!value)
		return xstrdup("");
	return header_decode_n(value, strlen(value));
}

/* ------------------------------------------------------------------ */
/* addresses */

void addrlist_free(struct addrlist *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].email);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void addr_clean_email(char *e)
{
	/* remove whitespace, Outlook's autolink, surrounding brackets and
	 * quotes, "mailto:", a source route */
	char *w = e;
	for (char *r = e; *r; r++)
		if (!is_space((unsigned char)*r))
			*w++ = *r;
	*w = '\0';
	/* "x@y<mailto:x@y>": Outlook links every address it writes in a plain
	 * text part, inside the angle brackets of a forwarded header block too */
	char *lt = strchr(e, '<');
	if (lt && lt > e && memchr(e, '@', (size_t)(lt - e)))
		*lt = '\0';
	size_t n = strlen(e);
	size_t s = 0;
	while (e[s] == '<' || e[s] == '\'' || e[s] == '[' || e[s] == '(')
		s++;
	if (s) {
		memmove(e, e + s, n - s + 1);
		n -= s;
	}
	/* "[mailto:x@y]": Outlook's forwarded header block */
	if (n >= 7 && mem_ieq(e, "mailto:", 7)) {
		memmove(e, e + 7, n - 7 + 1);
		n -= 7;
	}
	if (e[0] == '@') {
		char *c = strchr(e, ':');
		if (c) {
			memmove(e, c + 1, strlen(c + 1) + 1);
			n = strlen(e);
		}
	}
	while (n && (e[n - 1] == '>' || e[n - 1] == '.' || e[n - 1] == ';' || e[n - 1] == ',' ||
		     e[n - 1] == ']' || e[n - 1] == ')' || e[n - 1] == '\''))
		e[--n] = '\0';
	lower_ascii(e);
}

static char *addr_clean_name(const char *raw)
{
	if (!raw || !*raw)
		return NULL;
	char *d = header_decode(raw);
	size_t n = strlen(d);
	/* Outlook's 'Name' and stray quotes */
	while (n >= 2 && ((d[0] == '\'' && d[n - 1] == '\'') || (d[0] == '"' && d[n - 1] == '"'))) {
		memmove(d, d + 1, n - 2);
		n -= 2;
		d[n] = '\0';
	}
	char *t = trim_dup(d, n);
	free(d);
	if (!*t) {
		free(t);
		return NULL;
	}
	return t;
}

static void addr_push(struct addrlist *out, char *name, char *email)
{
	if ((out->n & (out->n - 1)) == 0) /* capacity is the next power of two */
		out->v = xrealloc(out->v, (out->n ? out->n * 2 : 1) * sizeof *out->v);
	out->v[out->n].name = name;
	out->v[out->n].email = email;
	out->n++;
}

struct mbox_acc {
	struct buf phrase;  /* words and quoted strings, single-spaced */
	struct buf comment; /* first comment */
	struct buf angle;
	bool have_angle, have_comment, space;
};

static void mb_word_sep(struct mbox_acc *m)
{
	if (m->space && m->phrase.len)
		buf_addc(&m->phrase, ' ');
	m->space = false;
}

static void mb_finish(struct mbox_acc *m, struct addrlist *out)
{
	if (m->have_angle) {
		char *e = xstrndup(m->angle.s, m->angle.len);
		addr_clean_email(e);
		if (*e) {
			char *name = addr_clean_name(m->phrase.s);
			if (!name && m->have_comment)
				name = addr_clean_name(m->comment.s);
			addr_push(out, name, e);
		} else {
			free(e);
		}
	} else if (memchr(m->phrase.s, '@', m->phrase.len)) {
		/* bare addr-spec; if there are several words, the one with '@' */
		const char *p = m->phrase.s, *end = p + m->phrase.len, *at = memchr(p, '@', m->phrase.len);
		const char *ws = at, *we = at;
		while (ws > p && ws[-1] != ' ')
			ws--;
		while (we < end && *we != ' ')
			we++;
		char *e = xstrndup(ws, (size_t)(we - ws));
		addr_clean_email(e);
		char *name = NULL;
		if (m->have_comment)
			name = addr_clean_name(m->comment.s);
		if (!name && (ws > p || we < end)) {
			struct buf rest;
			buf_init(&rest);
			buf_add(&rest, p, (size_t)(ws - p));
			buf_add(&rest, we, (size_t)(end - we));
			name = addr_clean_name(rest.s);
			buf_release(&rest);
		}
		if (*e && strcmp(e, "@"))
			addr_push(out, name, e);
		else {
			free(e);
			free(name);
		}
	}
	buf_reset(&m->phrase);
	buf_reset(&m->comment);
	buf_reset(&m->angle);
	m->have_angle = m->have_comment = m->space = false;
}

/* "Jane Doe [mailto:jane@x.com]" (Outlook's forwarded headers): that colon
 * does not end a group's display name */
static bool ends_mailto(const struct buf *phrase)
{
	size_t n = phrase->len;
	return n >= 6 && mem_ieq(phrase->s + n - 6, "mailto", 6);
}

void addrlist_parse(const char *value, struct addrlist *out)
{
	if (!value || !out)
		return;
	struct mbox_acc m;
	memset(&m, 0, sizeof m);
	buf_init(&m.phrase);
	buf_init(&m.comment);
	buf_init(&m.angle);
	const char *s = value;
	size_t n = strlen(value);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (is_space((unsigned char)c)) {
			m.space = true;
		} else if (c == '"') {
			mb_word_sep(&m);
			for (i++; i < n && s[i] != '"'; i++) {
				if (s[i] == '\\' && i + 1 < n)
					i++;
				buf_addc(&m.phrase, (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i]);
			}
		} else if (c == '(') {
			int depth = 1;
			struct buf *cb = m.have_comment ? NULL : &m.comment;
			for (i++; i < n && depth; i++) {
				if (s[i] == '\\' && i + 1 < n) {
					i++;
				} else if (s[i] == '(') {
					depth++;
				} else if (s[i] == ')') {
					if (--depth == 0)
						break;
				}
				if (cb)
					buf_addc(cb, (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i]);
			}
			m.have_comment = true;
			m.space = true;
		} else if (c == '<') {
			buf_reset(&m.angle);
			int depth = 1;   /* "<x@y<mailto:x@y>>": Outlook's autolink inside */
			for (i++; i < n; i++) {
				if (s[i] == '<' && n - i > 7 && mem_ieq(s + i + 1, "mailto:", 7))
					depth++;
				else if (s[i] == '>' && --depth == 0)
					break;
				if (s[i] == '"') { /* quoted local part */
					for (i++; i < n && s[i] != '"'; i++) {
						if (s[i] == '\\' && i + 1 < n)
							i++;
						buf_addc(&m.angle, s[i]);
					}
					continue;
				}
				buf_addc(&m.angle, s[i]);
			}
			m.have_angle = true;
		} else if (c == ',' || c == ';') {
			mb_finish(&m, out);
		} else if (c == ':' && !m.have_angle && !ends_mailto(&m.phrase)) {
			/* group display name: forget it, members follow */
			buf_reset(&m.phrase);
			buf_reset(&m.comment);
			m.have_comment = m.space = false;
		} else {
			mb_word_sep(&m);
			buf_addc(&m.phrase, c);
		}
	}
	mb_finish(&m, out);
	buf_release(&m.phrase);
	buf_release(&m.comment);
	buf_release(&m.angle);
}

/* ------------------------------------------------------------------ */
/* format=flowed (RFC 3676) */

char *flowed_unwrap(const char *text, bool delsp)
{
	struct buf out, para;
	buf_init(&out);
	buf_init(&para);
	if (!text)
		return buf_detach(&out);
	int pdepth = -1; /* quote depth of the open paragraph, -1 = none */
	const char *p = text;
	bool ends_nl = false;
	while (*p) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		const char *next = e ? e + 1 : p + n;
		ends_nl = e != NULL;
		while (n && p[n - 1] == '\r')
			n--;
		int depth = 0;
		size_t i = 0;
		while (i < n && p[i] == '>')
			depth++, i++;
		if (i < n && p[i] == ' ')
			i++; /* space-stuffing */
		const char *c = p + i;
		size_t cn = n - i;
		bool sig = cn == 3 && !memcmp(c, "-- ", 3);
		bool flowed = !sig && cn > 0 && c[cn - 1] == ' ';
		if (pdepth >= 0 && (depth != pdepth || sig)) {
			/* quote depth changed (or a signature): close the paragraph */
			buf_add(&out, para.s, para.len);
			buf_addc(&out, '\n');
			buf_reset(&para);
			pdepth = -1;
		}
		if (pdepth < 0) {
			for (int d = 0; d < depth; d++)
				buf_addc(&para, '>');
			if (depth)
				buf_addc(&para, ' ');
			pdepth = depth;
		}
		if (flowed && delsp)
			cn--;
		buf_add(&para, c, cn);
		if (!flowed) {
			buf_add(&out, para.s, para.len);
			if (*next || ends_nl)
				buf_addc(&out, '\n');
			buf_reset(&para);
			pdepth = -1;
		}
		p = next;
	}
	if (pdepth >= 0) {
		buf_add(&out, para.s, para.len);
		if (ends_nl)
			buf_addc(&out, '\n');
	}
	buf_release(&para);
	return buf_detach(&out);
}

/* ------------------------------------------------------------------ */
/* HTML -> text
 *
 * libxml2's HTML parser reports what it reads as SAX events (its implied
 * html/body/p elements and the elements it closes by itself among them) and
 * we write the text as they come: no tree is built.  The events are the ones
 * libxml2's own tree builder receives, and a few rules of that builder are
 * mirrored below so that the text is the one a walk of its tree gave: an
 * element's name loses its prefix (Outlook's <o:p> is a "p"), text outside
 * any element is dropped, and the parse stops at an element nested deeper
 * than 257 or at a text node growing past XML_MAX_TEXT_LENGTH.
 *
 * libxml2 reads ~150 instructions a byte: plain HTML (most mail) is read by
 * html_sax_fast() (html.c) instead, which calls the same callbacks with the
 * same arguments and declines anything else, which libxml2 then reads. */

/* libxml2's xmlParserMaxDepth: with more elements than this open, its
 * nodePush() refuses the next one */
#define H_MAX_DEPTH 256

/* an open element: its h_kind, and what its end needs to know */
#define H_KIND 0x0f
#define H_SKIPPED 0x10 /* HK_SKIP or inside one: no text, no line breaks */
#define H_P 0x20       /* named "p" */
#define H_LINES 6      /* shift of h_para()'s line breaks (0..2) */

struct h2t {
	struct buf out;
	int quote, pre, list;
	int pending; /* newlines wanted before the next content */
	int nl;      /* newlines emitted since the last content */
	size_t col;  /* content bytes on the current line */
	bool space, started, orig_done;
	bool sig_done;  /* the "-- " line before the writer's signature is out */
	bool cell_fresh; /* in the cell after a label's cell, no content yet:
			  * its paragraph does not break the row's line
			  * (Outlook's <td><p class=MsoNormal>etapa:</p></td>
			  * <td><p class=MsoNormal>negociación</p></td>) */
	bool cell_started, cell_broke; /* the current cell has content; it
			  * wrote a line break after it */
	bool after_label; /* the cell that just ended was a label's */
	bool half_nbsp; /* the last text piece ended in 0xC2, not yet written */
	bool stopped;   /* where libxml2's tree builder stopped: ignore the rest */
	htmlParserCtxtPtr ctxt;
	int depth, skip;
	int text;        /* type of the text node being appended to, 0 if none */
	size_t text_len; /* its length so far */
	unsigned char open[H_MAX_DEPTH + 1];
};

static void h_prefix(struct h2t *h, bool trailing_space)
{
	for (int d = 0; d < h->quote; d++) {
		buf_addc(&h->out, '>');
		if (d + 1 < h->quote || trailing_space)
			buf_addc(&h->out, ' ');
	}
}

static void h_newline(struct h2t *h)
{
	if (h->col == 0 && h->quote > 0)
		h_prefix(h, false);
	buf_addc(&h->out, '\n');
	h->col = 0;
	h->nl++;
	if (h->cell_started)   /* not the break before the cell's first text */
		h->cell_broke = true;
}

static void h_flush(struct h2t *h)
{
	if (h->started)
		while (h->nl < h->pending)
			h_newline(h);
	h->pending = 0;
}

static void h_block(struct h2t *h, int n)
{
	if (h->cell_fresh)
		return;
	if (h->pending < n)
		h->pending = n;
	h->space = false;
}

static void h_put(struct h2t *h, const char *s, size_t n)
{
	h_flush(h);
	if (h->col == 0 && h->quote > 0)
		h_prefix(h, true);
	buf_add(&h->out, s, n);
	h->col += n;
	h->nl = 0;
	h->started = true;
	h->cell_fresh = false;
	h->cell_started = true;
}

/* a word, or a piece of one, outside <pre> */
static void h_word(struct h2t *h, const char *s, size_t n)
{
	if (h->space && h->col > 0 && h->pending == 0)
		h_put(h, " ", 1);
	h->space = false;
	h_put(h, s, n);
}

/* One piece of a text node: libxml2 hands a node over in pieces (at most
 * ~1000 bytes each, entities apart), and the output must not depend on where
 * it cuts.  Only a nbsp (0xC2 0xA0) needs care: a valid one is never cut, but
 * a stray 0xC2 ending a piece could meet a stray 0xA0 starting the next when
 * a tag the parser ignores stood between them, so it waits for that byte. */
static void h_text(struct h2t *h, const char *s, size_t n)
{
	size_t i = 0;
	if (h->half_nbsp && n) {
		h->half_nbsp = false;
		if ((unsigned char)s[0] == 0xA0) {
			h_word(h, " ", 1);
			i = 1;
		} else {
			h_word(h, "\xC2", 1);
		}
	}
	if (h->pre) {
		while (i < n) {
			if (s[i] == '\n') {
				h_flush(h);
				if (h->started)
					h_newline(h);
				i++;
			} else if (s[i] == '\r') {
				i++;
			} else {
				size_t j = i;
				while (j < n && s[j] != '\n' && s[j] != '\r')
					j++;
				h_put(h, s + i, j - i);
				i = j;
			}
		}
		return;
	}
	/* until the line has content and no line break is pending: h_word() */
	while (i < n && (h->col == 0 || h->pending)) {
		unsigned char c = (unsigned char)s[i];
		if (is_space(c)) {
			h->space = true;
			i++;
		} else if (c == 0xC2 && i + 1 == n) {
			h->half_nbsp = true;
			return;
		} else if (c == 0xC2 && (unsigned char)s[i + 1] == 0xA0) {
			h_word(h, " ", 1);
			i += 2;
		} else {
			size_t j = i + 1;
			while (j < n && !is_space((unsigned char)s[j]) && (unsigned char)s[j] != 0xC2)
				j++;
			h_word(h, s + i, j - i);
			i = j;
		}
	}
	/* then a word is bytes added, after a space if white space came first:
	 * they go through run[], not through h_put() one by one */
	char run[512];
	size_t r = 0, added = 0;
	bool space = h->space;
	while (i < n) {
		unsigned char c = (unsigned char)s[i++];
		if (is_space(c)) {
			space = true;
			continue;
		}
		if (c == 0xC2) {
			if (i == n) {
				h->half_nbsp = true;
				break;
			}
			if ((unsigned char)s[i] == 0xA0) {
				c = ' ';
				i++;
			}
		}
		if (r + 2 > sizeof run) {
			buf_add(&h->out, run, r);
			added += r;
			r = 0;
		}
		if (space) {
			run[r++] = ' ';
			space = false;
		}
		run[r++] = (char)c;
	}
	buf_add(&h->out, run, r);
	h->col += added + r;
	h->space = space;
	if (added + r)
		h->cell_fresh = false, h->cell_started = true;
}

/* The text node ends (an element, a comment...): a held 0xC2 was a word. */
static void h_text_end(struct h2t *h)
{
	if (h->half_nbsp) {
		h->half_nbsp = false;
		h_word(h, "\xC2", 1);
	}
	h->text = 0;
}

/* libxml2 is loaded the first time a message needs its HTML read, not linked:
 * it brings ICU and the C++ runtime, whose loading would cost every
 * `dealmail ingest` on the MTA pipe, most of which carry a text/plain part.
 * A missing library is an installation fault: say so and exit 75
 * (EX_TEMPFAIL) so that the MTA keeps the message and retries. */
static struct {
	void (*init_parser)(void);
	htmlParserCtxtPtr (*new_ctxt)(void);
	htmlDocPtr (*read_memory)(htmlParserCtxtPtr, const char *, int, const char *, const char *, int);
	void (*free_ctxt)(htmlParserCtxtPtr);
	void (*stop_parser)(xmlParserCtxtPtr);
	void (*free_doc)(xmlDocPtr);
	const htmlEntityDesc *(*entity_lookup)(const xmlChar *);
	bool loaded;
	bool other_version; /* not the libxml2 html.c mirrors */
} X;

static void xml_load_once(void)
{
	void *h = dlopen("libxml2.so.2", RTLD_NOW | RTLD_LOCAL);
	if (h) {
		*(void **)&X.init_parser = dlsym(h, "xmlInitParser");
		*(void **)&X.new_ctxt = dlsym(h, "htmlNewParserCtxt");
		*(void **)&X.read_memory = dlsym(h, "htmlCtxtReadMemory");
		*(void **)&X.free_ctxt = dlsym(h, "htmlFreeParserCtxt");
		*(void **)&X.stop_parser = dlsym(h, "xmlStopParser");
		*(void **)&X.free_doc = dlsym(h, "xmlFreeDoc");
		*(void **)&X.entity_lookup = dlsym(h, "htmlEntityLookup");
	}
	if (!h || !X.init_parser || !X.new_ctxt || !X.read_memory || !X.free_ctxt || !X.stop_parser ||
	    !X.free_doc || !X.entity_lookup) {
		fprintf(stderr, "dealmail: cannot load libxml2 to read an HTML message (%s): install libxml2\n",
			dlerror());
		exit(75);
	}
	const char *const *version = dlsym(h, "xmlParserVersion");
	X.other_version = !version || !*version || strcmp(*version, "20914") != 0;
	X.init_parser();
	__atomic_store_n(&X.loaded, true, __ATOMIC_RELEASE);
}

/* batch sources parse on a second thread: load once, whoever comes first */
static void xml_load(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, xml_load_once);
}

/* An attribute's value as xmlGetProp() gave it: "" for one without a value
 * (none of ours is one of HTML's boolean attributes, which get their name). */
static const char *attr_get(const xmlChar **atts, const char *attr)
{
	for (; atts && atts[0]; atts += 2)
		if (!strcmp((const char *)atts[0], attr))
			return atts[1] ? (const char *)atts[1] : "";
	return NULL;
}

/* Does the value, lower-cased and (squash) without white space, contain
 * needle?  Compared in place: the value is not copied. */
static bool attr_contains(const xmlChar **atts, const char *attr, const char *needle, bool squash)
{
	const char *v = attr_get(atts, attr);
	if (!v)
		return false;
	for (; *v; v++) {
		if (squash && is_space((unsigned char)*v))
			continue;
		const char *r = v, *k = needle;
		while (*k && *r) {
			if (squash && is_space((unsigned char)*r)) {
				r++;
				continue;
			}
			if (lc((unsigned char)*r) != (unsigned char)*k)
				break;
			r++;
			k++;
		}
		if (!*k)
			return true;
	}
	return false;
}

static bool attr_is(const xmlChar **atts, const char *attr, const char *val)
{
	const char *v = attr_get(atts, attr);
	return v && !strcasecmp(v, val);
}

/* What an element does to the text, looked up once per element (libxml2's
 * HTML parser gives lower-case names; the table is sorted for bsearch). */
enum h_kind { HK_OTHER, HK_SKIP, HK_BLOCK, HK_PARA, HK_BR, HK_QUOTE, HK_LI, HK_LIST, HK_CELL, HK_PRE };
static const struct h_tag {
	const char *name;
	enum h_kind kind;
} h_tags[] = {
	{"address", HK_BLOCK}, {"article", HK_BLOCK}, {"aside", HK_BLOCK}, {"blockquote", HK_QUOTE},
	{"body", HK_BLOCK}, {"br", HK_BR}, {"caption", HK_BLOCK}, {"center", HK_BLOCK}, {"dd", HK_BLOCK},
	{"details", HK_BLOCK}, {"div", HK_BLOCK}, {"dl", HK_BLOCK}, {"dt", HK_BLOCK}, {"fieldset", HK_BLOCK},
	{"figcaption", HK_BLOCK}, {"figure", HK_BLOCK}, {"footer", HK_BLOCK}, {"form", HK_BLOCK},
	{"h1", HK_PARA}, {"h2", HK_PARA}, {"h3", HK_PARA}, {"h4", HK_PARA}, {"h5", HK_PARA}, {"h6", HK_PARA},
	{"head", HK_SKIP}, {"header", HK_BLOCK}, {"hr", HK_BLOCK}, {"html", HK_BLOCK}, {"li", HK_LI},
	{"main", HK_BLOCK}, {"nav", HK_BLOCK}, {"noscript", HK_SKIP}, {"ol", HK_LIST}, {"p", HK_PARA},
	{"pre", HK_PRE}, {"script", HK_SKIP}, {"section", HK_BLOCK}, {"style", HK_SKIP}, {"summary", HK_BLOCK},
	{"table", HK_BLOCK}, {"tbody", HK_BLOCK}, {"td", HK_CELL}, {"template", HK_SKIP}, {"tfoot", HK_BLOCK},
	{"th", HK_CELL}, {"thead", HK_BLOCK}, {"title", HK_SKIP}, {"tr", HK_BLOCK}, {"ul", HK_LIST},
	{"xml", HK_SKIP},
};

static int h_tag_cmp(const void *key, const void *elem)
{
	return strcasecmp(key, ((const struct h_tag *)elem)->name);
}

static enum h_kind h_kind_of(const char *name)
{
	const struct h_tag *t = bsearch(name, h_tags, sizeof h_tags / sizeof *h_tags, sizeof *h_tags, h_tag_cmp);
	return t ? t->kind : HK_OTHER;
}

/* The name libxml2's tree builder gives an element (xmlSplitQName()): what
 * follows the first ':', unless that ':' starts or ends the name. */
static const char *h_local_name(const char *name)
{
	const char *c = name[0] == ':' ? NULL : strchr(name, ':');
	return c && c[1] ? c + 1 : name;
}

static bool h_is_outlook_sep(const xmlChar **atts)
{
	return attr_is(atts, "id", "divRplyFwdMsg") || attr_is(atts, "id", "appendonsend") ||
	       attr_contains(atts, "style", "border-top:solid#e1e1e1", true) ||
	       attr_contains(atts, "style", "border-top:solid#b5c4df", true);
}

/* The signature a client inserts, marked in its HTML: Gmail's <div
 * class="gmail_signature">, (new) Outlook's <div id="Signature">. */
static bool h_is_signature(const xmlChar **atts)
{
	return attr_is(atts, "id", "Signature") || attr_contains(atts, "class", "gmail_signature", false);
}

/* The line breaks around a paragraph or heading, on the way in and out;
 * in_p: the parent element is a "p". */
static int h_para(bool is_p, bool in_p, const xmlChar **atts)
{
	/* libxml2 turns Outlook's <o:p> into a <p> nested in the real one */
	if (is_p && in_p)
		return 0;
	if (is_p && (attr_contains(atts, "class", "msonormal", false) ||
		     attr_contains(atts, "class", "msoplaintext", false) ||
		     attr_contains(atts, "style", "margin:0", true)))
		return 1;
	return 2;
}

/* returns h_para()'s line breaks, kept for the element's end */
static int h_enter(struct h2t *h, enum h_kind kind, bool is_p, bool in_p, const xmlChar **atts)
{
	if (!h->orig_done && h_is_outlook_sep(atts)) {
		h->orig_done = true;
		h_block(h, 1);
		h_put(h, "-----Original Message-----", 26);
		h_block(h, 1);
	}
	/* the writer's signature (not one in a quoted message) starts with the
	 * "-- " line the reply stripper cuts at, as in a plain text part: a
	 * "Nota: …" in it is no note command */
	if (!h->sig_done && h->quote == 0 && h_is_signature(atts)) {
		h->sig_done = true;
		h_block(h, 1);
		h_put(h, "-- ", 3);
		h_block(h, 1);
	}
	int lines = 0;
	switch (kind) {
	case HK_BR:
		h_flush(h);
		h->space = false;
		if (h->started)
			h_newline(h);
		break;
	case HK_QUOTE:
		h_block(h, 1);
		h_flush(h);
		h->quote++;
		break;
	case HK_LI:
		h_block(h, 1);
		h_flush(h);
		for (int i = 1; i < h->list; i++)
			h_put(h, "  ", 2);
		h_put(h, "- ", 2);
		h->space = false;
		break;
	case HK_LIST:
		h_block(h, 1);
		h->list++;
		break;
	case HK_CELL:
		if (h->col > 0)
			h->space = true;
		h->cell_fresh = h->after_label;
		h->after_label = h->cell_started = h->cell_broke = false;
		break;
	case HK_PRE:
		h_block(h, 1);
		h->pre++;
		break;
	case HK_PARA:
		lines = h_para(is_p, in_p, atts);
		if (lines)
			h_block(h, lines);
		break;
	case HK_BLOCK:
		h_block(h, 1);
		break;
	case HK_SKIP:
	case HK_OTHER:
		break;
	}
	return lines;
}

static void h_leave(struct h2t *h, unsigned e)
{
	switch (e & H_KIND) {
	case HK_QUOTE:
		h_block(h, 1);
		h_flush(h);
		if (h->quote > 0)
			h->quote--;
		break;
	case HK_LIST:
		if (h->list > 0)
			h->list--;
		h_block(h, 1);
		break;
	case HK_PRE:
		if (h->pre > 0)
			h->pre--;
		h_block(h, 1);
		break;
	case HK_LI:
	case HK_BLOCK:
		h_block(h, 1);
		break;
	case HK_PARA:
		if (e >> H_LINES)
			h_block(h, (int)(e >> H_LINES));
		break;
	case HK_CELL:
		/* a label's cell ("etapa:", one line ending in a colon): the next
		 * cell, its value, goes on on the same line (the row's end breaks
		 * it); other cells keep their breaks (a text beside a
		 * signature's cell, a cell of paragraphs) */
		if (h->cell_started && !h->cell_broke && h->col > 0 && h->out.len &&
		    h->out.s[h->out.len - 1] == ':') {
			h->pending = 0;
			h->space = true;
			h->after_label = true;
		}
		h->cell_fresh = false;
		break;
	default:
		break;
	}
}

/* The element on top ends: the tree builder pops its node whatever the name. */
static void h_pop(struct h2t *h)
{
	unsigned e = h->open[--h->depth];
	if (e & H_SKIPPED)
		h->skip--;
	else
		h_leave(h, e);
}

static void h_sax_start(void *ud, const xmlChar *name, const xmlChar **atts)
{
	struct h2t *h = ud;
	if (h->stopped)
		return;
	h_text_end(h);
	if (h->depth > H_MAX_DEPTH) {
		/* the tree builder halts the parser here and keeps what it has */
		h->stopped = true;
		X.stop_parser(h->ctxt);
		return;
	}
	const char *local = h_local_name((const char *)name);
	enum h_kind kind = h_kind_of(local);
	unsigned e = kind;
	if (h->skip || kind == HK_SKIP) {
		h->skip++;
		e |= H_SKIPPED;
	} else {
		bool is_p = !strcasecmp(local, "p");
		bool in_p = h->depth > 0 && (h->open[h->depth - 1] & H_P);
		if (is_p)
			e |= H_P;
		e |= (unsigned)h_enter(h, kind, is_p, in_p, atts) << H_LINES;
	}
	h->open[h->depth++] = (unsigned char)e;
}

static void h_sax_end(void *ud, const xmlChar *name)
{
	struct h2t *h = ud;
	(void)name;
	if (h->stopped)
		return;
	h_text_end(h);
	if (h->depth > 0)
		h_pop(h);
}

/* Text and CDATA (what libxml2 reads in <script> and <style>): each makes its
 * own node in the tree, adjacent pieces of one kind join. */
static void h_chars(struct h2t *h, const char *s, int len, int type)
{
	if (h->stopped || h->depth == 0) /* outside any element: the tree builder drops it */
		return;
	if (h->text != type) {
		h_text_end(h);
		h->text = type;
		h->text_len = 0;
	} else if (h->text_len + (size_t)len > XML_MAX_TEXT_LENGTH) {
		/* the tree builder refuses to grow a text node further and stops
		 * the parse as it does (xmlSAX2ErrMemory()) */
		h->stopped = true;
		h->ctxt->instate = XML_PARSER_EOF;
		h->ctxt->disableSAX = 1;
		return;
	}
	h->text_len += (size_t)len;
	if (!h->skip)
		h_text(h, s, (size_t)len);
}

static void h_sax_text(void *ud, const xmlChar *s, int len)
{
	h_chars(ud, (const char *)s, len, XML_TEXT_NODE);
}

static void h_sax_cdata(void *ud, const xmlChar *s, int len)
{
	h_chars(ud, (const char *)s, len, XML_CDATA_SECTION_NODE);
}

/* comments and processing instructions are nodes between two texts */
static void h_sax_comment(void *ud, const xmlChar *value)
{
	(void)value;
	if (!((struct h2t *)ud)->stopped)
		h_text_end(ud);
}

static void h_sax_pi(void *ud, const xmlChar *target, const xmlChar *data)
{
	(void)data;
	h_sax_comment(ud, target);
}

/* Trim trailing blanks of each line, keep at most one empty line in a row,
 * drop leading and trailing empty lines; end with one LF. */
static char *h_tidy(const char *s, size_t n)
{
	struct buf out;
	buf_init(&out);
	int empties = 0;
	bool any = false;
	size_t i = 0;
	while (i < n) {
		const char *e = memchr(s + i, '\n', n - i);
		size_t len = e ? (size_t)(e - (s + i)) : n - i;
		while (len && is_space((unsigned char)s[i + len - 1]))
			len--;
		if (len == 0) {
			empties++;
		} else {
			if (any && empties)
				buf_addc(&out, '\n');
			buf_add(&out, s + i, len);
			buf_addc(&out, '\n');
			any = true;
			empties = 0;
		}
		i = e ? (size_t)(e - s) + 1 : n;
	}
	return buf_detach(&out);
}

/* SAX1-style callbacks, as in libxml2's own HTML handler (initialized = 1);
 * no error callbacks: HTML_PARSE_NOERROR and NOWARNING clear them anyway.
 * Ignorable white space is not asked for: with keepBlanks (no
 * HTML_PARSE_NOBLANKS) the parser gives all of it to characters(). */
static const xmlSAXHandler h_sax = {
	.startElement = h_sax_start,
	.endElement = h_sax_end,
	.characters = h_sax_text,
	.cdataBlock = h_sax_cdata,
	.comment = h_sax_comment,
	.processingInstruction = h_sax_pi,
	.initialized = 1,
};

/* Outlook's downlevel-revealed conditionals, "<![if !supportLists]>·
 * <![endif]>" around every list bullet: libxml2 keeps the markers as text.
 * A copy without the markers (what they enclose stays), or NULL when there
 * are none. */
static char *drop_conditionals(const char *html, size_t len, size_t *len_r)
{
	if (!memmem(html, len, "<![", 3))
		return NULL;
	char *out = xmalloc(len + 1);
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		if (len - i >= 5 && !memcmp(html + i, "<![if", 5)) {
			const char *e = memmem(html + i, len - i, "]>", 2);
			if (e) {
				i = (size_t)(e - html) + 2;
				continue;
			}
		} else if (len - i >= 10 && !memcmp(html + i, "<![endif]>", 10)) {
			i += 10;
			continue;
		}
		out[o++] = html[i++];
	}
	out[o] = '\0';
	if (o == len) {   /* "<![" but no marker (CDATA, say): nothing to drop */
		free(out);
		return NULL;
	}
	*len_r = o;
	return out;
}

/* Which reader html_to_text_of() uses: html_sax_fast() when it takes the
 * input, else libxml2's parser (H_ANY, what html_to_text() does); one of them
 * only for tests/unit/test_html.c, which holds them to the same text. */
enum h_reader { H_ANY, H_LIBXML2, H_FAST };

static char *html_to_text_of(const char *html, size_t len, enum h_reader reader);

static char *html_to_text_with(const char *html, size_t len, enum h_reader reader)
{
	if (!html || !len || len > INT_MAX)
		return xstrdup("");
	size_t flen;
	char *filtered = drop_conditionals(html, len, &flen);
	if (!filtered)
		return html_to_text_of(html, len, reader);
	char *r = flen ? html_to_text_of(filtered, flen, reader) : xstrdup("");
	free(filtered);
	return r;
}

char *html_to_text(const char *html, size_t len)
{
	return html_to_text_with(html, len, H_ANY);
}

char *html_to_text_by(const char *html, size_t len, bool fast)
{
	return html_to_text_with(html, len, fast ? H_FAST : H_LIBXML2);
}

static void h_init(struct h2t *h)
{
	memset(h, 0, sizeof *h);
	buf_init(&h->out);
}

/* the text once the reader is done: the walk of the tree left every element
 * still open at the end */
static char *h_finish(struct h2t *h)
{
	h_text_end(h);
	while (h->depth > 0)
		h_pop(h);
	char *r = h_tidy(h->out.s, h->out.len);
	buf_release(&h->out);
	return r;
}

/* libxml2's table of entities, loaded with libxml2 the first time the fast
 * reader meets a named entity: a part without one (and with nothing the
 * fast reader declines) is read without loading libxml2, ICU and libstdc++
 * at all, which costs a piped message some 4 ms */
static const htmlEntityDesc *entity_lookup(const xmlChar *name)
{
	xml_load();
	return X.entity_lookup(name);
}

/* html_sax_fast() gives the callbacks of libxml2 2.9.14 (Debian 12's),
 * whose HTML rules (auto-closing, comments, character data) other versions
 * changed: with other headers at build time, or another library found at
 * run time (it is loaded only when a part needs it: from then on), libxml2
 * reads every part itself.  X.loaded is set last, and read, atomically: a
 * parsing thread may ask while another loads the library. */
static bool fast_reader_ok(void)
{
#if LIBXML_VERSION == 20914
	return !__atomic_load_n(&X.loaded, __ATOMIC_ACQUIRE) || !X.other_version;
#else
	return false;
#endif
}

static char *html_to_text_of(const char *html, size_t len, enum h_reader reader)
{
	struct h2t h;
	h_init(&h);
	if (reader == H_FAST || (reader == H_ANY && fast_reader_ok())) {
		/* h.ctxt stays NULL: html_sax_fast() declines documents deeper
		 * than H_MAX_DEPTH or longer than XML_MAX_TEXT_LENGTH, where
		 * the callbacks would stop libxml2's parser */
		if (html_sax_fast(html, len, &h_sax, &h, entity_lookup))
			return h_finish(&h);
		/* what it wrote is thrown away: libxml2 starts over */
		buf_release(&h.out);
		h_init(&h);
		if (reader == H_FAST)
			return NULL;
	}
	xml_load();
	htmlParserCtxtPtr ctxt = X.new_ctxt();
	if (!ctxt) {
		buf_release(&h.out);
		return xstrdup("");
	}
	h.ctxt = ctxt;
	*ctxt->sax = h_sax; /* the context's own copy of the default handler, freed with it */
	ctxt->userData = &h;
	/* as htmlReadMemory() reads: the same options and "UTF-8" switched to */
	htmlDocPtr doc = X.read_memory(ctxt, html, (int)len, NULL, "UTF-8",
				       HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
					       HTML_PARSE_NONET | HTML_PARSE_IGNORE_ENC | HTML_PARSE_COMPACT);
	if (doc) /* none: no startDocument callback, no document */
		X.free_doc(doc);
	X.free_ctxt(ctxt);
	return h_finish(&h);
}

/* ------------------------------------------------------------------ */
/* header blocks */

struct rawfield {
	char *name;
	char *value; /* unfolded, not decoded, trimmed */
};

struct rawfields {
	struct rawfield *v;
	size_t n;
};

static void rawfields_free(struct rawfields *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].name);
		free(f->v[i].value);
	}
	free(f->v);
	f->v = NULL;
	f->n = 0;
}

/* Length of the field name if line[0..n) starts "name:" (WSP allowed before
 * the colon), else 0. */
static size_t field_name_len(const char *line, size_t n, size_t *colon_r)
{
	size_t i = 0;
	while (i < n && (unsigned char)line[i] > 32 && (unsigned char)line[i] < 127 && line[i] != ':')
		i++;
	size_t name = i;
	if (!name)
		return 0;
	while (i < n && is_wsp((unsigned char)line[i]))
		i++;
	if (i >= n || line[i] != ':')
		return 0;
	if (colon_r)
		*colon_r = i;
	return name;
}

/* Next line of s[0..n) from *pos: its content (without CR/LF) in *len;
 * returns the start, advances *pos.  Handles LF and CRLF. */
static const char *next_line(const char *s, size_t n, size_t *pos, size_t *len)
{
	const char *start = s + *pos;
	const char *e = memchr(start, '\n', n - *pos);
	size_t l = e ? (size_t)(e - start) : n - *pos;
	*pos += e ? l + 1 : l;
	while (l && start[l - 1] == '\r')
		l--;
	*len = l;
	return start;
}

/* Split the header block at the start of s into fields; returns the offset
 * of the body (after the empty line, or n). */
/* Append one header field (name taken over) unless `max` fields are there. */
static void add_field(struct rawfields *out, size_t max, char *name, const struct buf *value)
{
	if (out->n >= max) {
		free(name);
		return;
	}
	out->v = xrealloc(out->v, (out->n + 1) * sizeof *out->v);
	out->v[out->n].name = name;
	out->v[out->n].value = trim_dup(value->s, value->len);
	out->n++;
}

static size_t split_headers(const char *s, size_t n, struct rawfields *out, size_t max)
{
	size_t pos = 0;
	struct buf cur;
	char *curname = NULL;
	buf_init(&cur);
	while (pos < n) {
		size_t len, save = pos;
		const char *line = next_line(s, n, &pos, &len);
		if (len == 0)
			break;
		if (is_wsp((unsigned char)line[0])) {
			if (curname)
				buf_add(&cur, line, len);
			continue;
		}
		size_t colon, nl = field_name_len(line, len, &colon);
		if (!nl) { /* the body began without an empty line */
			pos = save;
			break;
		}
		if (curname)
			add_field(out, max, curname, &cur);
		curname = xstrndup(line, nl);
		buf_reset(&cur);
		buf_add(&cur, line + colon + 1, len - colon - 1);
	}
	if (curname)
		add_field(out, max, curname, &cur);
	buf_release(&cur);
	return pos;
}

/* fill_headers() asks for seven fields by name, each a pass over all of
 * them: the first letter (any case) rules most out without a call, as in
 * message_header_next() */
static const char *raw_get(const struct rawfields *f, const char *name)
{
	unsigned char first = (unsigned char)name[0] | 0x20;
	for (size_t i = 0; i < f->n; i++)
		if (((unsigned char)f->v[i].name[0] | 0x20) == first && !strcasecmp(f->v[i].name, name))
			return f->v[i].value;
	return NULL;
}

/* The field is To: or Cc: (0, 't' or 'c'). */
static int to_or_cc(const char *name)
{
	unsigned char first = (unsigned char)name[0] | 0x20;
	if (first == 't' && !strcasecmp(name, "To"))
		return 't';
	if (first == 'c' && !strcasecmp(name, "Cc"))
		return 'c';
	return 0;
}

/* A plain text Gmail hard-wrapped at 78 columns (not format=flowed): the
 * client that does it (Gmail's Message-IDs end "@mail.gmail.com"), and no
 * line of the rep's longer than that (iPhone and Outlook plain text are not
 * wrapped: a long line there says so).  Quoted lines do not count. */
static int hard_wrapped(const struct message *msg, const char *text)
{
	const char *id = msg->message_id;
	size_t il = id ? strlen(id) : 0, width = 78;
	if (il && id[il - 1] == '>')
		il--;
	if (il < 15 || strncasecmp(id + il - 15, "@mail.gmail.com", 15) != 0) {
		/* Outlook (and Outlook Express) sending a plain text reply over
		 * SMTP, which names itself in X-Mailer, wraps it at 76 columns
		 * ("Automatically wrap text at 76 characters"); through Exchange,
		 * with no X-Mailer, it does not */
		const char *xm = message_header(msg, "X-Mailer");
		if (!xm || !strcasestr(xm, "Outlook"))
			return 0;
		width = 76;
	}
	for (const char *p = text; *p;) {
		size_t n = strcspn(p, "\n"), chars = 0;
		for (size_t i = 0; i < n; i++)
			if (((unsigned char)p[i] & 0xC0) != 0x80)
				chars++;
		if (p[0] != '>' && chars > width + 1)   /* a CR or a trailing space may be left */
			return 0;
		p += n + (p[n] == '\n');
	}
	return (int)width;
}

/* First "<...>" in v, or a bare token containing '@' wrapped in <>. */
static char *msgid_first(const char *v, const char **end_r)
{
	if (!v)
		return NULL;
	const char *p = v;
	while (*p) {
		if (*p == '<') {
			const char *e = strchr(p, '>');
			if (!e)
				break;
			if (end_r)
				*end_r = e + 1;
			struct buf b;
			buf_init(&b);
			for (const char *q = p; q <= e; q++)
				if (!is_space((unsigned char)*q))
					buf_addc(&b, *q);
			if (b.len > 2)
				return buf_detach(&b);
			buf_release(&b);
			p = e + 1;
			continue;
		}
		if (*p == '(') { /* skip comments */
			const char *e = strchr(p, ')');
			p = e ? e + 1 : p + strlen(p);
			continue;
		}
		if (!is_space((unsigned char)*p)) {
			const char *e = p;
			while (*e && !is_space((unsigned char)*e) && *e != '<' && *e != '(')
				e++;
			if (memchr(p, '@', (size_t)(e - p))) {
				if (end_r)
					*end_r = e;
				return xasprintf("<%.*s>", (int)(e - p), p);
			}
			p = e;
			continue;
		}
		p++;
	}
	if (end_r)
		*end_r = v + strlen(v);
	return NULL;
}

static void addr_first(const char *v, struct addr *a)
{
	struct addrlist l = {NULL, 0};
	addrlist_parse(v, &l);
	if (l.n) {
		a->name = l.v[0].name;
		a->email = l.v[0].email;
		l.v[0].name = l.v[0].email = NULL;
	} else {
		a->name = NULL;
		a->email = xstrdup("");
	}
	addrlist_free(&l);
}

/* ------------------------------------------------------------------ */
/* normalisation and pre-scan */

static _Thread_local char why_buf[128];

static const char *why_fmt(const char *fmt, long long v)
{
	snprintf(why_buf, sizeof why_buf, fmt, v);
	return why_buf;
}

/* Input -> CRLF bytes, no NULs, no stray CR, mbox "From " line dropped.
 * `lines` is at least the number of LFs in the input (message_parse()
 * counted them all already), for the size of the copy. */
static char *normalise(const char *in, size_t len, size_t lines, size_t *out_len)
{
	size_t i = 0;
	if (len >= 3 && !memcmp(in, "\xEF\xBB\xBF", 3)) /* a UTF-8 byte order mark */
		i = 3;
	if (len - i >= 5 && !memcmp(in + i, "From ", 5)) {
		const char *e = memchr(in + i, '\n', len - i);
		i = e ? (size_t)(e - in) + 1 : len;
	}
	char *out = xmalloc(len - i + lines + 3);
	size_t o = 0;
	/* a line at a time: copied whole when it has no NUL and no CR but
	 * the one before its LF (most lines), else byte by byte.  The next CR
	 * and the next NUL are looked for once each and again only when passed
	 * (a mail without NULs is searched for one once, not line by line) */
	const char *cr = i < len ? memchr(in + i, '\r', len - i) : NULL;
	const char *nul = i < len ? memchr(in + i, '\0', len - i) : NULL;
	while (i < len) {
		const char *nl = memchr(in + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - in) : len, body = end;
		if (body > i && in[body - 1] == '\r')
			body--;
		if (cr && cr < in + i)
			cr = memchr(in + i, '\r', len - i);
		if (nul && nul < in + i)
			nul = memchr(in + i, '\0', len - i);
		if (!(cr && cr < in + body) && !(nul && nul < in + body)) {
			memcpy(out + o, in + i, body - i);
			o += body - i;
		} else {
			for (size_t k = i; k < body; k++)
				if (in[k] != '\0' && in[k] != '\r')
					out[o++] = in[k];
		}
		if (!nl)
			break;
		out[o++] = '\r';
		out[o++] = '\n';
		i = end + 1;
	}
	if (o && out[o - 1] != '\n') { /* libetpan wants every line ended */
		out[o++] = '\r';
		out[o++] = '\n';
	}
	out[o] = '\0';
	*out_len = o;
	return out;
}

/* Make the end of the top-level header block unambiguous: like Postfix's
 * cleanup, the first line that is neither a field nor a continuation starts
 * the body, and an empty line is inserted before it so that libetpan and
 * split_headers() agree.  Returns the (possibly new) buffer. */
static char *clean_header_block(char *s, size_t *n)
{
	size_t pos = 0;
	while (pos < *n) {
		size_t start = pos, len;
		next_line(s, *n, &pos, &len);
		if (len == 0)
			return s;
		if (field_name_len(s + start, len, NULL) || (start > 0 && is_wsp((unsigned char)s[start])))
			continue;
		char *out = xmalloc(*n + 3);
		memcpy(out, s, start);
		memcpy(out + start, "\r\n", 2);
		memcpy(out + start + 2, s + start, *n - start);
		*n += 2;
		out[*n] = '\0';
		free(s);
		return out;
	}
	return s;
}

struct scan_frame {
	char *boundary; /* NULL: a message/rfc822 level */
	size_t blen;
	bool digest;
};

/* Parse a Content-Type value: lower-case "type/subtype" into type[], the
 * boundary parameter (malloc'd) into *bnd. */
static void ct_parse(const char *v, size_t n, char *type, size_t tsz, char **bnd)
{
	size_t i = 0, t = 0;
	*bnd = NULL;
	while (i < n && is_space((unsigned char)v[i]))
		i++;
	while (i < n && v[i] != ';' && !is_space((unsigned char)v[i]) && v[i] != '(') {
		if (t + 1 < tsz)
			type[t++] = (char)lc((unsigned char)v[i]);
		i++;
	}
	type[t] = '\0';
	while (i < n) {
		/* skip to next ';' outside quotes */
		while (i < n && v[i] != ';') {
			if (v[i] == '"') {
				for (i++; i < n && v[i] != '"'; i++)
					if (v[i] == '\\')
						i++;
			}
			i++;
		}
		if (i >= n)
			break;
		i++;
		while (i < n && is_space((unsigned char)v[i]))
			i++;
		size_t ns = i;
		while (i < n && v[i] != '=' && v[i] != ';' && !is_space((unsigned char)v[i]))
			i++;
		size_t nl = i - ns;
		while (i < n && is_space((unsigned char)v[i]))
			i++;
		if (i >= n || v[i] != '=')
			continue;
		i++;
		while (i < n && is_space((unsigned char)v[i]))
			i++;
		struct buf val;
		buf_init(&val);
		if (i < n && v[i] == '"') {
			for (i++; i < n && v[i] != '"'; i++) {
				if (v[i] == '\\' && i + 1 < n)
					i++;
				buf_addc(&val, v[i]);
			}
			if (i < n)
				i++;
		} else {
			while (i < n && v[i] != ';' && !is_space((unsigned char)v[i]))
				buf_addc(&val, v[i++]);
		}
		if (nl == 8 && mem_ieq(v + ns, "boundary", 8) && val.len && !*bnd)
			*bnd = buf_detach(&val);
		buf_release(&val);
	}
}

struct scan {
	const struct message_limits *lim;
	struct scan_frame *st;
	int depth;
	long parts;
	bool truncated;
};

static void scan_free(struct scan *sc)
{
	for (int i = 0; i < sc->depth; i++)
		free(sc->st[i].boundary);
	free(sc->st);
}

/* Match a boundary line against the stack, innermost first: returns the
 * frame index or -1; *close set for "--boundary--". */
static int scan_match(const struct scan *sc, const char *line, size_t len, bool *close)
{
	if (len < 2 || line[0] != '-' || line[1] != '-')
		return -1;
	for (int i = sc->depth - 1; i >= 0; i--) {
		const struct scan_frame *f = &sc->st[i];
		if (!f->boundary || len - 2 < f->blen || memcmp(line + 2, f->boundary, f->blen))
			continue;
		/* like libetpan: the boundary, then "--" (anything after), or
		 * only transport padding */
		size_t k = 2 + f->blen;
		*close = len >= k + 2 && line[k] == '-' && line[k + 1] == '-';
		if (!*close) {
			while (k < len && is_wsp((unsigned char)line[k]))
				k++;
			if (k < len)
				continue;
		}
		return i;
	}
	return -1;
}

/* A multipart is open: a boundary line can still change something.
 * Outside a header block and without one, prescan() has nothing more to
 * see (no line is longer than the limit: message_parse() checked). */
static bool scan_open(const struct scan *sc)
{
	for (int i = 0; i < sc->depth; i++)
		if (sc->st[i].boundary)
			return true;
	return false;
}

static void scan_pop_to(struct scan *sc, int keep)
{
	while (sc->depth > keep) {
		struct scan_frame *f = &sc->st[--sc->depth];
		if (f->boundary)
			sc->truncated = true; /* a multipart that was never closed */
		free(f->boundary);
	}
}

static enum message_status prescan(const char *s, size_t n, const struct message_limits *lim,
				   bool *truncated, const char **why)
{
	struct scan sc = {lim, NULL, 0, 0, false};
	int maxd = lim->max_depth > 0 ? lim->max_depth : 1;
	sc.st = xcalloc((size_t)maxd + 1, sizeof *sc.st);
	bool in_headers = true, digest_default = false;
	size_t nfields = 0, fbytes = 0;
	struct buf ct; /* Content-Type of the current header block */
	bool in_ct = false, have_ct = false;
	enum message_status st = MESSAGE_OK;
	buf_init(&ct);
	size_t pos = 0;
	while (pos < n) {
		size_t len;
		const char *line = next_line(s, n, &pos, &len);
		if (len > lim->max_line) {
			*why = why_fmt("a line longer than %lld bytes", (long long)lim->max_line);
			st = MESSAGE_TOO_BIG;
			goto out;
		}
		bool close = false;
		int fi = scan_match(&sc, line, len, &close);
		if (fi >= 0) {
			scan_pop_to(&sc, fi + 1);
			if (close) {
				free(sc.st[fi].boundary);
				sc.st[fi].boundary = NULL;
				sc.depth = fi;
				in_headers = false;
				if (!scan_open(&sc))
					break;   /* the epilogue */
			} else {
				if (++sc.parts > lim->max_parts) {
					*why = why_fmt("more than %lld MIME parts", (long long)lim->max_parts);
					st = MESSAGE_TOO_BIG;
					goto out;
				}
				in_headers = true;
				digest_default = sc.st[fi].digest;
				nfields = fbytes = 0;
				buf_reset(&ct);
				in_ct = have_ct = false;
			}
			continue;
		}
		if (!in_headers)
			continue;
		if (len > 0 && is_wsp((unsigned char)line[0]) && nfields > 0) {
			fbytes += len;
			if (fbytes > lim->max_header_bytes)
				goto too_long_field;
			if (in_ct)
				buf_add(&ct, line, len);
			continue;
		}
		size_t colon;
		if (len > 0 && field_name_len(line, len, &colon)) {
			if (++nfields > lim->max_headers) {
				*why = why_fmt("more than %lld header fields", (long long)lim->max_headers);
				st = MESSAGE_TOO_BIG;
				goto out;
			}
			fbytes = len;
			if (fbytes > lim->max_header_bytes)
				goto too_long_field;
			in_ct = false;
			if (!have_ct && has_iprefix(line, len, "content-type") &&
			    field_name_len(line, len, NULL) == 12) {
				in_ct = have_ct = true;
				buf_add(&ct, line + colon + 1, len - colon - 1);
			}
			continue;
		}
		/* end of a header block (empty line, or the body began without one) */
		in_headers = false;
		char type[64];
		char *bnd = NULL;
		if (have_ct)
			ct_parse(ct.s, ct.len, type, sizeof type, &bnd);
		else
			snprintf(type, sizeof type, "%s", digest_default ? "message/rfc822" : "text/plain");
		bool multi = !strncmp(type, "multipart/", 10) && bnd;
		bool msg = !strcmp(type, "message/rfc822") || !strcmp(type, "message/global");
		if (multi || msg) {
			if (sc.depth >= maxd) {
				free(bnd);
				*why = why_fmt("MIME nesting deeper than %lld", (long long)lim->max_depth);
				st = MESSAGE_TOO_BIG;
				goto out;
			}
			struct scan_frame *f = &sc.st[sc.depth++];
			f->boundary = multi ? bnd : NULL;
			f->blen = multi ? strlen(bnd) : 0;
			f->digest = multi && !strcmp(type, "multipart/digest");
			if (!multi)
				free(bnd);
			if (msg) {
				if (++sc.parts > lim->max_parts) {
					*why = why_fmt("more than %lld MIME parts", (long long)lim->max_parts);
					st = MESSAGE_TOO_BIG;
					goto out;
				}
				in_headers = true; /* the enclosed message's header block */
				nfields = fbytes = 0;
				digest_default = false;
				if (len > 0) /* that line was already its first header? no: body */
					in_headers = false;
			}
		} else {
			free(bnd);
		}
		buf_reset(&ct);
		in_ct = have_ct = false;
		if (!in_headers && !scan_open(&sc))
			break;   /* a single part's body: nothing in it to scan */
		continue;
	too_long_field:
		*why = why_fmt("a header field longer than %lld bytes", (long long)lim->max_header_bytes);
		st = MESSAGE_TOO_BIG;
		goto out;
	}
	for (int i = 0; i < sc.depth; i++)
		if (sc.st[i].boundary)
			sc.truncated = true;
out:
	*truncated = sc.truncated;
	buf_release(&ct);
	scan_free(&sc);
	return st;
}

/* ------------------------------------------------------------------ */
/* the MIME tree */

struct walk {
	struct message *msg;
	bool flowed;   /* a text/plain part read was format=flowed */
};

/* s lower-cased into out from o on, up to cap bytes; the new length */
static size_t put_lower(char *out, size_t o, size_t cap, const char *s)
{
	for (; *s && o < cap; s++)
		out[o++] = (char)lc((unsigned char)*s);
	return o;
}

/* lower-case "type/subtype" of a part */
static void mime_type(const struct mailmime *m, char *out, size_t sz)
{
	const struct mailmime_content *c = m->mm_content_type;
	const char *t = "text", *sub = "plain";
	if (c && c->ct_type) {
		const struct mailmime_type *ty = c->ct_type;
		if (ty->tp_type == MAILMIME_TYPE_DISCRETE_TYPE && ty->tp_data.tp_discrete_type) {
			const struct mailmime_discrete_type *d = ty->tp_data.tp_discrete_type;
			switch (d->dt_type) {
			case MAILMIME_DISCRETE_TYPE_TEXT: t = "text"; break;
			case MAILMIME_DISCRETE_TYPE_IMAGE: t = "image"; break;
			case MAILMIME_DISCRETE_TYPE_AUDIO: t = "audio"; break;
			case MAILMIME_DISCRETE_TYPE_VIDEO: t = "video"; break;
			case MAILMIME_DISCRETE_TYPE_APPLICATION: t = "application"; break;
			default: t = d->dt_extension ? d->dt_extension : "x-unknown"; break;
			}
		} else if (ty->tp_type == MAILMIME_TYPE_COMPOSITE_TYPE && ty->tp_data.tp_composite_type) {
			const struct mailmime_composite_type *d = ty->tp_data.tp_composite_type;
			switch (d->ct_type) {
			case MAILMIME_COMPOSITE_TYPE_MESSAGE: t = "message"; break;
			case MAILMIME_COMPOSITE_TYPE_MULTIPART: t = "multipart"; break;
			default: t = d->ct_token ? d->ct_token : "x-unknown"; break;
			}
		}
		sub = c->ct_subtype ? c->ct_subtype : "";
	} else if (m->mm_type == MAILMIME_MESSAGE && m->mm_parent) {
		t = "message", sub = "rfc822";
	}
	/* what snprintf("%s/%s") and lower_ascii() made, truncation included,
	 * without going through printf for every part of every message */
	size_t o = put_lower(out, 0, sz - 1, t);
	if (o < sz - 1)
		out[o++] = '/';
	o = put_lower(out, o, sz - 1, sub);
	out[o] = '\0';
}

static const char *mime_param(const struct mailmime *m, const char *name)
{
	if (!m->mm_content_type || !m->mm_content_type->ct_parameters)
		return NULL;
	for (clistiter *it = clist_begin(m->mm_content_type->ct_parameters); it; it = clist_next(it)) {
		struct mailmime_parameter *p = clist_content(it);
		if (p && p->pa_name && p->pa_value && !strcasecmp(p->pa_name, name))
			return p->pa_value;
	}
	return NULL;
}

/* An attachment: so disposed, or a named part (Content-Type: …; name=
 * "notas.txt" without a Content-Disposition, as some clients attach a file)
 * after the first of its multipart (which is the body). */
static bool mime_is_attachment(const struct mailmime *m)
{
	const struct mailmime *p = m->mm_parent;
	if (p && p->mm_type == MAILMIME_MULTIPLE && mime_param(m, "name")) {
		clist *l = p->mm_data.mm_multipart.mm_mp_list;
		if (!l || !clist_begin(l) || clist_content(clist_begin(l)) != m)
			return true;
	}
	if (!m->mm_mime_fields)
		return false;
	for (clistiter *it = clist_begin(m->mm_mime_fields->fld_list); it; it = clist_next(it)) {
		struct mailmime_field *f = clist_content(it);
		if (f && f->fld_type == MAILMIME_FIELD_DISPOSITION && f->fld_data.fld_disposition &&
		    f->fld_data.fld_disposition->dsp_type &&
		    f->fld_data.fld_disposition->dsp_type->dsp_type == MAILMIME_DISPOSITION_TYPE_ATTACHMENT)
			return true;
	}
	return false;
}

/* Quoted-printable and base64 bodies, decoded exactly as libetpan's
 * mailmime_part_parse() decoded them (malformed input included: a message's
 * text must not change with the decoder; the exceptions, where libetpan's
 * text was garbage, are said below), but into one buffer; libetpan
 * appended to an MMAPString piece by piece.  It failed only when out of
 * memory, where xmalloc() aborts. */

/* Every character outside the alphabet is skipped, and whatever follows a
 * '=' is read too.  A '=' ends the group it pads: its whole bytes are kept
 * and the next character starts a new one (a body encoded a line at a
 * time, each line padded: libetpan ran on across the padding and garbled
 * the rest). */
static char *b64_body(const char *src, size_t n, size_t *len, size_t *chars_r)
{
	const unsigned char *s = (const unsigned char *)src;
	char *out = xmalloc(n / 4 * 3 + 3);
	size_t i = 0, o = 0, chars = 0;
	uint32_t acc = 0;
	int k = 0;
	while (i < n) {
		/* groups of four characters of the alphabet: a -1 (any other
		 * byte) sets the top bits */
		if (k == 0)
			while (n - i >= 4) {
				uint32_t v = (uint32_t)b64tab[s[i]] << 18 | (uint32_t)b64tab[s[i + 1]] << 12 |
					     (uint32_t)b64tab[s[i + 2]] << 6 | (uint32_t)b64tab[s[i + 3]];
				if (v >> 24)
					break;
				out[o] = (char)(v >> 16);
				out[o + 1] = (char)(v >> 8);
				out[o + 2] = (char)v;
				o += 3;
				i += 4;
				chars += 4;
			}
		if (i == n)
			break;
		int v = b64tab[s[i++]];
		if (v < 0) {
			if (s[i - 1] == '=' && k) {   /* padding: the group ends here */
				if (k == 2)
					out[o++] = (char)(acc >> 4);
				else if (k == 3) {
					out[o++] = (char)(acc >> 10);
					out[o++] = (char)(acc >> 2);
				}
				acc = 0;
				k = 0;
			}
			continue;
		}
		chars++;
		acc = acc << 6 | (uint32_t)v;
		if (++k == 4) {
			out[o] = (char)(acc >> 16);
			out[o + 1] = (char)(acc >> 8);
			out[o + 2] = (char)acc;
			o += 3;
			acc = 0;
			k = 0;
		}
	}
	*chars_r = chars;   /* characters of the alphabet */
	/* libetpan keeps the bits of a last, incomplete group: one byte for one
	 * or two characters (a lone one shifted left by 2), two for three */
	if (k == 1)
		out[o++] = (char)(acc << 2);
	else if (k == 2)
		out[o++] = (char)(acc >> 4);
	else if (k == 3) {
		out[o++] = (char)(acc >> 10);
		out[o++] = (char)(acc >> 2);
	}
	out[o] = '\0';
	*len = o;
	return out;
}

/* libetpan reads a digit that is not hex as 0 */
static unsigned qp_hex(unsigned char c)
{
	int v = hexval(c);
	return v < 0 ? 0 : (unsigned)v;
}

/* '=' at s[i] followed by blanks up to the end of its line or of the input:
 * a soft line break with transport padding (RFC 2045 6.7 (3), which a
 * decoder must take as a soft break: "negociaci=C3= \t" and "=B3n" on the
 * next line are "negociación").  The index past it, or 0 when it is not. */
static size_t qp_padded_break(const unsigned char *s, size_t i, size_t n)
{
	size_t j = i + 1;
	if (j == n || (s[j] != ' ' && s[j] != '\t'))
		return 0;
	while (j < n && (s[j] == ' ' || s[j] == '\t'))
		j++;
	if (j < n && s[j] == '\r')
		j++;
	if (j < n && s[j] == '\n')
		j++;
	else if (j < n && s[j - 1] != '\r')
		return 0;   /* more text on the line: not a break */
	return j;
}

/* s[n] must be readable (see the '=' before the last byte). */
static char *qp_body(const char *src, size_t n, size_t *len)
{
	const unsigned char *s = (const unsigned char *)src;
	const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
	/* a bare CR or LF becomes CRLF, so the text can outgrow the input
	 * (never in a normalised message): then the buffer takes 2n */
	char *out = xmalloc(n + 1);
	bool grown = false;
	size_t i = 0, o = 0;
	while (i < n) {
		if (n - i >= 8) {
			uint64_t w, q, m;
			memcpy(&w, s + i, 8);
			memcpy(out + o, &w, 8);
			/* m flags each '=' and byte below 14 (CR, LF): none, and the
			 * eight bytes are text, already copied */
			q = w ^ (ones * '=');
			m = (((w - ones * 14) & ~w) | ((q - ones) & ~q)) & high;
			if (!m) {
				i += 8;
				o += 8;
				continue;
			}
			/* on to the first one (the lowest flag is a true one: a false
			 * flag needs a borrow from a lower byte found) */
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			size_t k = (size_t)__builtin_ctzll(m) >> 3;
#else
			size_t k = 0;
			while (s[i + k] != '=' && s[i + k] >= 14)
				k++;
#endif
			i += k;
			o += k;
		}
		unsigned char c = s[i];
		if (c != '=' && c != '\r' && c != '\n') {
			out[o++] = (char)c;
			i++;
		} else if (c == '=') {
			size_t past = qp_padded_break(s, i, n);
			if (past) {
				i = past;
			} else if (i + 1 == n) {           /* kept */
				out[o++] = '=';
				i++;
			} else if (s[i + 1] == '\n') { /* soft line break */
				i += 2;
			} else if (s[i + 1] == '\r') { /* soft line break, "=\r" at the end dropped */
				i += (i + 2 < n && s[i + 2] == '\n') ? 3 : 2;
			} else if (i + 2 == n) {
				/* libetpan's quirk: one byte after '=' at the end comes out
				 * followed by the byte past the input (s[n]), "==" as "==" */
				out[o++] = (char)s[i + 1];
				out[o++] = s[i + 1] == '=' ? '=' : (char)s[n];
				i = n;
			} else {
				out[o++] = (char)(qp_hex(s[i + 1]) << 4 | qp_hex(s[i + 2]));
				i += 3;
			}
		} else {
			/* CRLF, bare LF and bare CR all end a line with CRLF; a CR
			 * at the very end is dropped */
			bool crlf = c == '\r' && i + 1 < n && s[i + 1] == '\n';
			if (c == '\r' && i + 1 == n) {
				i++;
				break;
			}
			if (!crlf && !grown) {
				out = xrealloc(out, 2 * n + 1);
				grown = true;
			}
			out[o++] = '\r';
			out[o++] = '\n';
			i += crlf ? 2 : 1;
		}
	}
	out[o] = '\0';
	*len = o;
	return out;
}

/* The decoded bytes of a part's body (transfer encoding undone). */
static char *mime_decode(struct walk *w, const struct mailmime *m, size_t *len)
{
	const struct mailmime_data *d = m->mm_type == MAILMIME_SINGLE ? m->mm_data.mm_single : m->mm_body;
	*len = 0;
	if (!d || d->dt_type != MAILMIME_DATA_TEXT || !d->dt_data.dt_text.dt_data)
		return xstrdup("");
	const char *s = d->dt_data.dt_text.dt_data;
	size_t n = d->dt_data.dt_text.dt_length;
	int enc = d->dt_encoded ? d->dt_encoding : MAILMIME_MECHANISM_8BIT;
	if (enc == MAILMIME_MECHANISM_BASE64 || enc == MAILMIME_MECHANISM_QUOTED_PRINTABLE) {
		if (enc == MAILMIME_MECHANISM_BASE64) {
			/* characters of the alphabet not a multiple of four, and no
			 * padding: the part was cut */
			size_t chars;
			char *r = b64_body(s, n, len, &chars);
			if (chars % 4 && !memchr(s, '=', n))
				w->msg->truncated = true;
			return r;
		}
		/* the MIME view is NUL-terminated: s[n] can be read */
		return qp_body(s, n, len);
	}
	*len = n;
	return xstrndup(s, n);
}

/* CRLF -> LF, stray CR dropped */
static void crlf_to_lf(char *s)
{
	char *r = strchr(s, '\r');
	if (!r)
		return;
	char *w = r;
	while (*r) {
		r++;   /* past the CR */
		size_t n = strcspn(r, "\r");
		memmove(w, r, n);
		w += n;
		r += n;
	}
	*w = '\0';
}

static const char *sniff_html_charset(const char *s, size_t n, char *out, size_t sz)
{
	size_t lim = n < 4096 ? n : 4096;
	for (size_t i = 0; i + 8 <= lim; i++) {
		if (!mem_ieq(s + i, "charset=", 8))
			continue;
		size_t j = i + 8, k = 0;
		while (j < lim && (s[j] == '"' || s[j] == '\'' || is_space((unsigned char)s[j])))
			j++;
		while (j < lim && k + 1 < sz &&
		       (((unsigned char)s[j] >= 'a' && (unsigned char)s[j] <= 'z') ||
			((unsigned char)s[j] >= 'A' && (unsigned char)s[j] <= 'Z') ||
			((unsigned char)s[j] >= '0' && (unsigned char)s[j] <= '9') || s[j] == '-' || s[j] == '_' ||
			s[j] == '.' || s[j] == ':'))
			out[k++] = s[j++];
		out[k] = '\0';
		return k ? out : NULL;
	}
	return NULL;
}

#define HTML_MAX ((size_t)4 << 20)

/* Text of a leaf part (text/plain or text/html), NULL for anything else. */
static char *leaf_text(struct walk *w, const struct mailmime *m, bool *html)
{
	char type[128];
	mime_type(m, type, sizeof type);
	bool is_plain = !strcmp(type, "text/plain");
	bool is_html = !strcmp(type, "text/html");
	if ((!is_plain && !is_html) || mime_is_attachment(m))
		return NULL;
	size_t n;
	char *raw = mime_decode(w, m, &n);
	const char *cs = mime_param(m, "charset");
	char sniff[48];
	if (is_html && !cs)
		cs = sniff_html_charset(raw, n, sniff, sizeof sniff);
	char *u = charset_to_utf8(cs, raw, n);
	free(raw);
	/* a byte order mark starts many parts written on Windows: it is not
	 * text, and before a command it would hide it */
	if (!strncmp(u, "\xEF\xBB\xBF", 3))
		memmove(u, u + 3, strlen(u + 3) + 1);
	*html = is_html;
	if (is_html) {
		/* libxml2 needs ~1 s per 8 MB of tag soup; the new text of a reply
		 * is at the top, so a huge HTML part is cut (at a tag) to bound
		 * the time spent on hostile input. */
		size_t ul = strlen(u);
		if (ul > HTML_MAX) {
			const char *lt = memrchr(u, '<', HTML_MAX);
			ul = lt && lt > u ? (size_t)(lt - u) : HTML_MAX;
			while (ul && ((unsigned char)u[ul] & 0xC0) == 0x80) /* not inside a UTF-8 char */
				ul--;
		}
		char *t = html_to_text(u, ul);
		free(u);
		return t;
	}
	crlf_to_lf(u);
	const char *fmt = mime_param(m, "format");
	if (fmt && !strcasecmp(fmt, "flowed")) {
		w->flowed = true;
		const char *ds = mime_param(m, "delsp");
		char *f = flowed_unwrap(u, ds && !strcasecmp(ds, "yes"));
		free(u);
		u = f;
	}
	return u;
}

static char *pick_text(struct walk *w, const struct mailmime *m, bool *html, int depth)
{
	if (!m || depth > 64)
		return NULL;
	if (m->mm_type == MAILMIME_SINGLE)
		return leaf_text(w, m, html);
	if (m->mm_type == MAILMIME_MESSAGE)
		return NULL; /* a forwarded message: not the body of this one */
	if (m->mm_type != MAILMIME_MULTIPLE || !m->mm_data.mm_multipart.mm_mp_list)
		return NULL;
	char type[128];
	mime_type(m, type, sizeof type);
	clist *l = m->mm_data.mm_multipart.mm_mp_list;
	if (!strcmp(type, "multipart/alternative")) {
		char *plain = NULL, *htm = NULL;
		/* a non-blank text/plain alternative wins: find it before paying
		 * for any HTML conversion */
		for (clistiter *it = clist_begin(l); it; it = clist_next(it)) {
			const struct mailmime *c = clist_content(it);
			char ct[128];
			if (!c || c->mm_type != MAILMIME_SINGLE)
				continue;
			mime_type(c, ct, sizeof ct);
			if (strcmp(ct, "text/plain"))
				continue;
			bool h = false;
			char *t = leaf_text(w, c, &h);
			if (t && !h && !is_blank(t)) {
				*html = false;
				return t;
			}
			free(t);
		}
		for (clistiter *it = clist_begin(l); it; it = clist_next(it)) {
			bool h = false;
			char *t = pick_text(w, clist_content(it), &h, depth + 1);
			if (!t)
				continue;
			if (!h && !plain)
				plain = t;
			else if (h && (!htm || is_blank(htm))) {
				free(htm);
				htm = t;
			} else
				free(t);
		}
		if (plain && (!is_blank(plain) || !htm)) {
			free(htm);
			*html = false;
			return plain;
		}
		free(plain);
		*html = htm != NULL;
		return htm;
	}
	/* mixed, related, signed, report, ...: the non-empty text parts in
	 * order, joined (an iPhone puts a photo between two parts of what the
	 * rep typed, each its own text/plain); the first decides plain or HTML
	 * and later parts of the other kind are left out */
	char *first = NULL;
	bool first_html = false, have = false;
	struct buf acc;
	buf_init(&acc);
	for (clistiter *it = clist_begin(l); it; it = clist_next(it)) {
		bool h = false;
		char *t = pick_text(w, clist_content(it), &h, depth + 1);
		if (!t)
			continue;
		if (!is_blank(t)) {
			if (!have) {
				have = true;
				first_html = h;
				buf_adds(&acc, t);
			} else if (h == first_html) {
				if (acc.len && acc.s[acc.len - 1] != '\n')
					buf_addc(&acc, '\n');
				buf_adds(&acc, t);
			}
			free(t);
		} else if (!first && !have) {
			first = t;
			first_html = h;
		} else {
			free(t);
		}
	}
	if (have) {
		free(first);
		*html = first_html;
		return buf_detach(&acc);
	}
	buf_release(&acc);
	*html = first_html;
	return first;
}

/* The raw bytes (transfer-decoded) of an enclosed message or header part. */
static void headers_of_part(struct walk *w, const struct mailmime *m, struct rawfields *f)
{
	size_t n;
	char *b = mime_decode(w, m, &n);
	split_headers(b, n, f, 10000);
	free(b);
}

static void dsn_add(struct message *msg, const char *v)
{
	if (!v)
		return;
	const char *semi = strchr(v, ';');
	const char *a = semi ? semi + 1 : v;
	char *e = trim_dup(a, strlen(a));
	addr_clean_email(e);
	if (!*e || !strchr(e, '@')) {
		free(e);
		return;
	}
	for (size_t i = 0; i < msg->dsn_failed.n; i++)
		if (!strcmp(msg->dsn_failed.v[i].email, e)) {
			free(e);
			return;
		}
	addr_push(&msg->dsn_failed, NULL, e);
}

/* message/delivery-status: per-message fields, then per-recipient blocks */
static void parse_delivery_status(struct walk *w, const struct mailmime *m)
{
	size_t n;
	char *b = mime_decode(w, m, &n);
	char *first_status = NULL;
	size_t pos = 0;
	while (pos < n) {
		struct rawfields f = {NULL, 0};
		size_t used = split_headers(b + pos, n - pos, &f, 1000);
		if (used == 0) { /* an empty line or garbage: skip one line */
			size_t len;
			next_line(b, n, &pos, &len);
			rawfields_free(&f);
			continue;
		}
		pos += used;
		const char *fr = raw_get(&f, "Final-Recipient");
		const char *orr = raw_get(&f, "Original-Recipient");
		const char *action = raw_get(&f, "Action");
		const char *status = raw_get(&f, "Status");
		if (status && !first_status) {
			first_status = trim_dup(status, strcspn(status, " \t("));
		}
		if ((fr || orr) && (!action || has_iprefix(action, strlen(action), "failed"))) {
			dsn_add(w->msg, fr);
			dsn_add(w->msg, orr);
			if (status && !w->msg->dsn_status)
				w->msg->dsn_status = trim_dup(status, strcspn(status, " \t("));
		}
		rawfields_free(&f);
	}
	if (!w->msg->dsn_status)
		w->msg->dsn_status = first_status;
	else
		free(first_status);
	free(b);
}

static void walk_dsn(struct walk *w, const struct mailmime *report)
{
	w->msg->is_dsn = true;
	clist *l = report->mm_data.mm_multipart.mm_mp_list;
	for (clistiter *it = l ? clist_begin(l) : NULL; it; it = clist_next(it)) {
		const struct mailmime *c = clist_content(it);
		char type[128];
		mime_type(c, type, sizeof type);
		if (!strcmp(type, "message/delivery-status") || !strcmp(type, "message/global-delivery-status")) {
			parse_delivery_status(w, c);
		} else if (!w->msg->dsn_original_id &&
			   (!strcmp(type, "text/rfc822-headers") || !strcmp(type, "message/rfc822") ||
			    !strcmp(type, "message/rfc822-headers") || !strcmp(type, "message/global") ||
			    !strcmp(type, "message/global-headers"))) {
			struct rawfields f = {NULL, 0};
			headers_of_part(w, c, &f);
			w->msg->dsn_original_id = msgid_first(raw_get(&f, "Message-ID"), NULL);
			rawfields_free(&f);
		}
	}
}

static void set_forwarded(struct walk *w, const struct mailmime *m)
{
	struct message *msg = w->msg;
	struct rawfields f = {NULL, 0};
	headers_of_part(w, m, &f);
	msg->has_forwarded = true;
	addr_first(raw_get(&f, "From"), &msg->fwd_from);
	for (size_t i = 0; i < f.n; i++) {
		int k = to_or_cc(f.v[i].name);
		if (k == 't')
			addrlist_parse(f.v[i].value, &msg->fwd_to);
		else if (k == 'c')
			addrlist_parse(f.v[i].value, &msg->fwd_cc);
	}
	const char *s = raw_get(&f, "Subject");
	msg->fwd_subject = s ? header_decode(s) : xstrdup("");
	rawfields_free(&f);
}

/* A forwarded message attached as a file ("x.eml" sent as
 * application/octet-stream, as some clients and web mail do). */
static bool is_eml_file(const struct mailmime *m, const char *type)
{
	if (strcmp(type, "application/octet-stream"))
		return false;
	const char *name = mime_param(m, "name");
	if (!name && m->mm_mime_fields)
		for (clistiter *it = clist_begin(m->mm_mime_fields->fld_list); it && !name; it = clist_next(it)) {
			struct mailmime_field *f = clist_content(it);
			if (!f || f->fld_type != MAILMIME_FIELD_DISPOSITION || !f->fld_data.fld_disposition)
				continue;
			clist *pl = f->fld_data.fld_disposition->dsp_parms;
			for (clistiter *j = pl ? clist_begin(pl) : NULL; j && !name; j = clist_next(j)) {
				struct mailmime_disposition_parm *dp = clist_content(j);
				if (dp && dp->pa_type == MAILMIME_DISPOSITION_PARM_FILENAME)
					name = dp->pa_data.pa_filename;
			}
		}
	size_t n = name ? strlen(name) : 0;
	return n > 4 && !strcasecmp(name + n - 4, ".eml");
}

/* A calendar reply (iTIP, RFC 5546): METHOD:REPLY and an attendee whose
 * PARTSTAT is ACCEPTED -- what Outlook, Gmail and Apple Calendar send when
 * the contact accepts a meeting invitation. */
static void walk_calendar(struct walk *w, const struct mailmime *m)
{
	size_t n;
	char *b = mime_decode(w, m, &n);
	/* unfold first (RFC 5545 3.1): a line break followed by a space or a
	 * tab continues the line, anywhere, even inside a word
	 * ("PARTST\r\n AT=ACCEPTED" from Apple Calendar's 75-octet folds) */
	size_t u = 0;
	for (size_t i = 0; i < n; i++) {
		if (b[i] == '\r' && i + 1 < n && b[i + 1] == '\n')
			continue;
		if (b[i] == '\n' && i + 1 < n && (b[i + 1] == ' ' || b[i + 1] == '\t')) {
			i++;
			continue;
		}
		b[u++] = b[i];
	}
	n = u;
	bool reply = false, accepted = false;
	const char *uid = NULL;
	size_t uid_len = 0;
	for (size_t pos = 0; pos < n;) {
		const char *line = b + pos;
		size_t len = 0;
		while (pos + len < n && b[pos + len] != '\n')
			len++;
		pos += len + 1;
		if (len >= 12 && !strncasecmp(line, "METHOD:REPLY", 12))
			reply = true;
		else if (!uid && len > 4 && !strncasecmp(line, "UID:", 4)) {
			uid = line + 4;   /* the event's: one meeting, however often accepted */
			uid_len = len - 4;
			while (uid_len && (uid[uid_len - 1] == '\r' || uid[uid_len - 1] == ' '))
				uid_len--;
			if (uid_len > 255)
				uid_len = 255;
		}
		else if (len >= 8 && !strncasecmp(line, "ATTENDEE", 8)) {
			/* the parameters end at the first ':' outside quotes */
			bool quoted = false;
			for (size_t i = 0; i < len && (quoted || line[i] != ':'); i++) {
				if (line[i] == '"')
					quoted = !quoted;
				else if (!quoted && i + 17 <= len && !strncasecmp(line + i, "PARTSTAT=ACCEPTED", 17))
					accepted = true;
			}
		}
	}
	if (reply)
		w->msg->calendar_reply = true;
	if (reply && accepted) {
		w->msg->meeting_accepted = true;
		if (uid && uid_len)
			w->msg->meeting_uid = xstrndup(uid, uid_len);
	}
	free(b);
}

/* Depth-first: the DSN report, a calendar reply and the first forwarded
 * message. */
static void walk_tree(struct walk *w, const struct mailmime *m, bool in_report, int depth)
{
	if (!m || depth > 64)
		return;
	char type[128];
	mime_type(m, type, sizeof type);
	if (m->mm_type == MAILMIME_SINGLE && !strcmp(type, "text/calendar") && !w->msg->meeting_accepted) {
		const char *meth = mime_param(m, "method");
		if (!meth || !strcasecmp(meth, "reply"))
			walk_calendar(w, m);
		return;
	}
	if (m->mm_type == MAILMIME_MULTIPLE) {
		if (!strcmp(type, "multipart/report")) {
			const char *rt = mime_param(m, "report-type");
			if (rt && (!strcasecmp(rt, "delivery-status") || !strcasecmp(rt, "global-delivery-status")) &&
			    !w->msg->is_dsn) {
				walk_dsn(w, m);
			}
			in_report = true;
		}
		clist *l = m->mm_data.mm_multipart.mm_mp_list;
		for (clistiter *it = l ? clist_begin(l) : NULL; it; it = clist_next(it))
			walk_tree(w, clist_content(it), in_report, depth + 1);
		return;
	}
	bool is_msg = m->mm_type == MAILMIME_MESSAGE ||
		      (m->mm_type == MAILMIME_SINGLE &&
		       (!strcmp(type, "message/rfc822") || is_eml_file(m, type)));
	if (is_msg && depth > 0 && !in_report && !w->msg->has_forwarded) {
		set_forwarded(w, m);
		return;
	}
	if (m->mm_type == MAILMIME_MESSAGE && depth == 0)
		walk_tree(w, m->mm_data.mm_message.mm_msg_mime, in_report, depth + 1);
}

/* ------------------------------------------------------------------ */
/* the message */

void message_limits_default(struct message_limits *lim)
{
	lim->max_bytes = 64u << 20;
	lim->max_headers = 1000;
	lim->max_header_bytes = 256u << 10;
	lim->max_line = 1u << 20;
	lim->max_depth = 20;
	lim->max_parts = 500;
}

void message_free(struct message *msg)
{
	if (!msg)
		return;
	free(msg->raw);
	for (size_t i = 0; i < msg->nheaders; i++) {
		free(msg->headers[i].name);
		free(msg->headers[i].value);
	}
	free(msg->headers);
	free(msg->message_id);
	free(msg->meeting_uid);
	free(msg->subject);
	free(msg->visible);
	free(msg->from.name);
	free(msg->from.email);
	addrlist_free(&msg->to);
	addrlist_free(&msg->cc);
	free(msg->in_reply_to);
	for (size_t i = 0; i < msg->nreferences; i++)
		free(msg->references[i]);
	free(msg->references);
	free(msg->return_path);
	free(msg->date);
	free(msg->text);
	if (msg->cmds) {
		commands_free(msg->cmds);
		free(msg->cmds);
	}
	if (msg->inline_fwd) {
		fwd_block_free(msg->inline_fwd);
		free(msg->inline_fwd);
	}
	addrlist_free(&msg->dsn_failed);
	free(msg->dsn_original_id);
	free(msg->dsn_status);
	free(msg->fwd_from.name);
	free(msg->fwd_from.email);
	addrlist_free(&msg->fwd_to);
	addrlist_free(&msg->fwd_cc);
	free(msg->fwd_subject);
	free(msg);
}

const char *message_header_next(const struct message *msg, const char *name, size_t *pos)
{
	if (!msg || !name || !pos)
		return NULL;
	/* classification asks for a dozen fields by name, each a pass over all
	 * of them: the first letter (any case) rules most out without a call */
	unsigned char first = (unsigned char)name[0] | 0x20;
	for (size_t i = *pos; i < msg->nheaders; i++)
		if (((unsigned char)msg->headers[i].name[0] | 0x20) == first && !strcasecmp(msg->headers[i].name, name)) {
			*pos = i + 1;
			return msg->headers[i].value;
		}
	*pos = msg->nheaders;
	return NULL;
}

const char *message_header(const struct message *msg, const char *name)
{
	size_t pos = 0;
	return message_header_next(msg, name, &pos);
}

static void fill_headers(struct message *msg, const struct rawfields *f)
{
	msg->headers = xcalloc(f->n ? f->n : 1, sizeof *msg->headers);
	msg->nheaders = f->n;
	for (size_t i = 0; i < f->n; i++) {
		msg->headers[i].name = xstrdup(f->v[i].name);
		msg->headers[i].value = header_decode(f->v[i].value);
	}
	const char *v;
	msg->message_id = msgid_first(raw_get(f, "Message-ID"), NULL);
	v = raw_get(f, "Subject");
	msg->subject = v ? header_decode(v) : xstrdup("");
	addr_first(raw_get(f, "From"), &msg->from);
	for (size_t i = 0; i < f->n; i++) {
		int k = to_or_cc(f->v[i].name);
		if (k == 't')
			addrlist_parse(f->v[i].value, &msg->to);
		else if (k == 'c')
			addrlist_parse(f->v[i].value, &msg->cc);
	}
	msg->in_reply_to = msgid_first(raw_get(f, "In-Reply-To"), NULL);
	v = raw_get(f, "References");
	if (v) {
		size_t cap = 0;
		for (;;) {
			const char *end = NULL;
			char *id = msgid_first(v, &end);
			if (!id)
				break;
			if (msg->nreferences == cap) {
				cap = cap ? cap * 2 : 8;
				msg->references = xrealloc(msg->references, cap * sizeof *msg->references);
			}
			msg->references[msg->nreferences++] = id;
			v = end;
		}
	}
	v = raw_get(f, "Return-Path");
	if (v) {
		const char *lt = strchr(v, '<');
		char *rp;
		if (lt) {
			const char *gt = strchr(lt, '>');
			rp = trim_dup(lt + 1, gt ? (size_t)(gt - lt - 1) : strlen(lt + 1));
		} else {
			rp = trim_dup(v, strlen(v));
		}
		addr_clean_email(rp);
		msg->return_path = rp;
	}
	v = raw_get(f, "Date");
	msg->date = v ? xstrdup(v) : NULL;
}

/* What libetpan's MIME parser needs of the message: the top-level fields
 * that say MIME things (Content-*, MIME-Version), the empty line and the
 * body.  Given the whole header block, mailmime_parse() also parses every
 * address, date and Message-ID field into structures that nothing here
 * reads (the fields are ours: split_headers()), a tenth of a message's
 * parsing.  The MIME tree then points into this copy, which lives as long
 * as the tree. */
static char *mime_view(const char *s, size_t n, size_t *vn)
{
	char *out = xmalloc(n + 3);
	size_t o = 0, pos = 0;
	bool keep = false;
	while (pos < n) {
		size_t start = pos, len;
		const char *line = next_line(s, n, &pos, &len);
		if (len == 0) {            /* the empty line: the body follows */
			memcpy(out + o, "\r\n", 2);
			o += 2;
			memcpy(out + o, s + pos, n - pos);
			o += n - pos;
			break;
		}
		if (!is_wsp((unsigned char)line[0])) {
			size_t nl = field_name_len(line, len, NULL);
			keep = (nl >= 8 && !strncasecmp(line, "Content-", 8)) ||
			       (nl == 12 && !strncasecmp(line, "MIME-Version", 12));
		}
		if (keep) {
			memcpy(out + o, s + start, pos - start);
			o += pos - start;
		}
	}
	out[o] = '\0';
	*vn = o;
	return out;
}

enum message_status message_parse(const char *raw, size_t len, const struct message_limits *lim,
				  struct message **msg_r, const char **why_r)
{
	struct message_limits deflim;
	const char *why = NULL;
	enum message_status st = MESSAGE_OK;
	char *norm = NULL;
	size_t nlen = 0;
	struct message *msg = NULL;
	struct mailmime *mime = NULL;
	char *view = NULL;
	struct rawfields f = {NULL, 0};
	bool truncated = false;

	static pthread_once_t charconv_once = PTHREAD_ONCE_INIT;
	pthread_once(&charconv_once, install_charconv);
	*msg_r = NULL;
	if (!lim) {
		message_limits_default(&deflim);
		lim = &deflim;
	}
	if (!raw)
		len = 0;
	if (len > lim->max_bytes) {
		snprintf(why_buf, sizeof why_buf, "message of %zu bytes is over the %zu-byte limit ([limits] max_message_bytes)",
			 len, lim->max_bytes);
		why = why_buf;
		st = MESSAGE_TOO_BIG;
		goto out;
	}
	/* refuse an over-long line before copying anything (and count the
	 * lines for normalise()) */
	size_t lines = 0;
	for (size_t p = 0; p < len;) {
		const char *e = memchr(raw + p, '\n', len - p);
		size_t l = e ? (size_t)(e - (raw + p)) : len - p;
		lines += e != NULL;
		size_t real = l;
		if (l > lim->max_line) /* NULs and CRs are dropped later: do not count them */
			for (size_t k = 0; k < l; k++)
				real -= raw[p + k] == '\0' || raw[p + k] == '\r';
		if (real > lim->max_line) {
			why = why_fmt("a line longer than %lld bytes", (long long)lim->max_line);
			st = MESSAGE_TOO_BIG;
			goto out;
		}
		p += l + 1;
	}
	norm = normalise(raw ? raw : "", len, lines, &nlen);
	{
		size_t l1, p = 0;
		const char *line = nlen ? next_line(norm, nlen, &p, &l1) : NULL;
		if (!line || l1 > lim->max_line || !field_name_len(line, l1, NULL)) {
			if (line && l1 > lim->max_line) {
				why = why_fmt("a line longer than %lld bytes", (long long)lim->max_line);
				st = MESSAGE_TOO_BIG;
			} else {
				why = "no header block";
				st = MESSAGE_UNPARSEABLE;
			}
			goto out;
		}
	}
	norm = clean_header_block(norm, &nlen);
	st = prescan(norm, nlen, lim, &truncated, &why);
	if (st != MESSAGE_OK)
		goto out;

	size_t idx = 0, vlen;
	view = mime_view(norm, nlen, &vlen);
	if (mailmime_parse(view, vlen, &idx, &mime) != MAILIMF_NO_ERROR || !mime) {
		why = "the MIME parser gave up";
		st = MESSAGE_UNPARSEABLE;
		goto out;
	}
	split_headers(norm, nlen, &f, (size_t)-1);
	if (f.n == 0) {
		why = "no header block";
		st = MESSAGE_UNPARSEABLE;
		goto out;
	}

	msg = xcalloc(1, sizeof *msg);
	msg->raw = norm;
	msg->raw_len = nlen;
	norm = NULL;
	msg->truncated = truncated;
	fill_headers(msg, &f);

	struct walk w = {msg, false};
	const struct mailmime *body = mime->mm_type == MAILMIME_MESSAGE ? mime->mm_data.mm_message.mm_msg_mime : mime;
	bool html = false;
	char *text = body ? pick_text(&w, body, &html, 0) : NULL;
	if (text) { /* one LF at the end, whatever the MIME structure left */
		size_t tl = strlen(text);
		while (tl && is_space((unsigned char)text[tl - 1]))
			tl--;
		text[tl] = '\0';
		if (tl) {
			text = xrealloc(text, tl + 2);
			text[tl] = '\n';
			text[tl + 1] = '\0';
		}
	}
	msg->text = text ? text : xstrdup("");
	msg->text_from_html = text && html;
	msg->text_wrapped = text && !html && !w.flowed ? hard_wrapped(msg, msg->text) : 0;
	walk_tree(&w, mime, false, 0);
	if (!msg->fwd_from.email)
		msg->fwd_from.email = xstrdup("");

out:
	if (mime)
		mailmime_free(mime);
	free(view);
	rawfields_free(&f);
	free(norm);
	if (st != MESSAGE_OK) {
		message_free(msg);
		msg = NULL;
	}
	*msg_r = msg;
	if (why_r)
		*why_r = st == MESSAGE_OK ? NULL : why;
	return st;
}
