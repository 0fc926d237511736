/* text.c — see text.h.  UTF-8 folding for case- and accent-insensitive
 * matching (libunistring), validation, small string helpers. */
#include "text.h"
#include "buf.h"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

static bool ascii_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool zero_width(ucs4_t uc)
{
	return (uc >= 0x200B && uc <= 0x200D) || uc == 0xFEFF || uc == 0x2060;
}

static bool uni_space(ucs4_t uc)
{
	return uc < 0x80 ? ascii_space((unsigned char)uc) : uc_is_property_white_space(uc);
}

static char *fold_unicode(const char *s, size_t n);

/* U+00C0..U+00FF: the ASCII letter an accented Latin-1 letter folds to, or 0
 * where folding is not a single ASCII letter (Æ, Ð, ×, Ø, Þ, ß, …). */
static const char latin1_fold[64] = {
	'a', 'a', 'a', 'a', 'a', 'a', 0, 'c', 'e', 'e', 'e', 'e', 'i', 'i', 'i', 'i',
	0, 'n', 'o', 'o', 'o', 'o', 'o', 0, 0, 'u', 'u', 'u', 'u', 'y', 0, 0,
	'a', 'a', 'a', 'a', 'a', 'a', 0, 'c', 'e', 'e', 'e', 'e', 'i', 'i', 'i', 'i',
	0, 'n', 'o', 'o', 'o', 'o', 'o', 0, 0, 'u', 'u', 'u', 'u', 'y', 0, 'y',
};

/* A byte folded on its own: ASCII lower-cased, ' ' for the six ASCII white
 * spaces (no other byte folds to ' '), 0 from 0x80 up.  Control characters
 * and NUL stay themselves, below ' ', so that the common case (a letter,
 * digit or mark) is the one test `> ' '`. */
#define AF(c) ((unsigned char)((c) >= 0x80 ? 0 : ascii_space_c(c) ? ' ' : (c) >= 'A' && (c) <= 'Z' ? (c) + 32 : (c)))
#define ascii_space_c(c) ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r' || (c) == '\v' || (c) == '\f')
#define AF4(c) AF(c), AF((c) + 1), AF((c) + 2), AF((c) + 3)
#define AF16(c) AF4(c), AF4((c) + 4), AF4((c) + 8), AF4((c) + 12)
#define AF64(c) AF16(c), AF16((c) + 16), AF16((c) + 32), AF16((c) + 48)
static const unsigned char ascii_fold[256] = {AF64(0), AF64(64), AF64(128), AF64(192)};
#undef AF64
#undef AF16
#undef AF4
#undef ascii_space_c
#undef AF

/* Space between two words of the output: one, and none at its start (the
 * one at its end is taken back at the end).  No folded character is a
 * space but this one. */
static char *fold_space(char *o, const char *out)
{
	if (o != out && o[-1] != ' ')
		*o++ = ' ';
	return o;
}

/* Fast path for the text our users write (Spanish, Portuguese, English):
 * ASCII plus accented Latin-1 letters, NBSP, ¡ ¿ « ».  Gives exactly what the
 * libunistring path gives for such text, into `out` (n + 1 bytes: folding
 * such text never lengthens it); false for anything else.  Pure ASCII is
 * the same fold (lower-case, one space for a run of white space, trimmed).
 * Every message's lines go through here (reply.c): a table does ASCII. */
static bool fold_latin_to(const char *s, size_t n, char *out)
{
	const unsigned char *p = (const unsigned char *)s;
	char *o = out;
	size_t stop = 0;   /* bytes before it go one at a time */
	for (size_t i = 0; i < n; i++) {
		/* eight bytes at once where the fold is the bytes themselves,
		 * lower-cased: ASCII from ' ' up, no two spaces together, none
		 * at the start of the output or after a space; where not, the
		 * eight go one at a time (the rest of the loop).  The first of
		 * the eight must be the word's lowest byte (`sp & 0x80`): on a
		 * big-endian machine they all go one at a time */
		if (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && i >= stop && n - i >= 8) {
			const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u, low7 = 0x7F * ones;
			uint64_t w, z, sp;
			memcpy(&w, p + i, 8);
			z = w ^ (0x20 * ones);
			sp = ~(((z & low7) + low7) | z | low7);   /* 0x80 in each byte that is ' ' */
			if (!((w | ((w - 0x20 * ones) & ~w)) & high) && !(sp & (sp << 8)) &&
			    !((sp & 0x80) && (o == out || o[-1] == ' '))) {
				w |= ((w + 0x3F * ones) & ~(w + 0x25 * ones) & high) >> 2;   /* 'A'..'Z' */
				memcpy(o, &w, 8);
				o += 8;
				i += 7;
				continue;
			}
			stop = i + 8;
		}
		unsigned char c = p[i], f = ascii_fold[c];
		if (f > ' ') {
			*o++ = (char)f;
			continue;
		}
		if (f == ' ') {
			o = fold_space(o, out);
			continue;
		}
		if (c < 0x80) {            /* a control character or NUL */
			*o++ = (char)c;
			continue;
		}
		unsigned char d = i + 1 < n ? p[i + 1] : 0;
		if (c == 0xC3 && d >= 0x80 && d <= 0xBF && latin1_fold[d - 0x80]) {
			*o++ = latin1_fold[d - 0x80];
			i++;
		} else if (c == 0xC2 && d == 0xA0) {
			i++;               /* NBSP is a space */
			o = fold_space(o, out);
		} else if (c == 0xC2 && (d == 0xA1 || d == 0xBF || d == 0xAB || d == 0xBB)) {
			*o++ = (char)c;    /* ¡ ¿ « » fold to themselves */
			*o++ = (char)d;
			i++;
		} else
			return false;
	}
	if (o != out && o[-1] == ' ')
		o--;
	*o = '\0';
	return true;
}

/* Folding non-ASCII text through libunistring costs microseconds; the same
 * short strings (stage names, aliases, reasons, keywords) are folded again
 * and again, so short inputs are remembered in a small direct-mapped cache.
 * The batch's parsing threads (reply.c) and its applying thread (commands)
 * fold at the same time: the cache has a lock. */
#define FOLD_CACHE 512
#define FOLD_CACHE_MAXLEN 64
static struct {
	char in[FOLD_CACHE_MAXLEN + 1];
	char *out;
} fold_cache[FOLD_CACHE];
static pthread_mutex_t fold_cache_mu = PTHREAD_MUTEX_INITIALIZER;

char *text_fold(const char *s)
{
	if (!s)
		return xstrdup("");
	size_t n = strlen(s), i;
	char *fast = xmalloc(n + 1);
	if (fold_latin_to(s, n, fast))
		return fast;
	free(fast);
	if (n > FOLD_CACHE_MAXLEN)
		return fold_unicode(s, n);
	uint32_t h = 2166136261u;
	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	size_t slot = h % FOLD_CACHE;
	char *hit = NULL;
	pthread_mutex_lock(&fold_cache_mu);
	if (fold_cache[slot].out && !strcmp(fold_cache[slot].in, s))
		hit = xstrdup(fold_cache[slot].out);
	pthread_mutex_unlock(&fold_cache_mu);
	if (hit)
		return hit;
	char *f = fold_unicode(s, n);
	char *keep = xstrdup(f), *old;
	pthread_mutex_lock(&fold_cache_mu);
	old = fold_cache[slot].out;
	memcpy(fold_cache[slot].in, s, n + 1);
	fold_cache[slot].out = keep;
	pthread_mutex_unlock(&fold_cache_mu);
	free(old);
	return f;
}

static char *fold_unicode(const char *s, size_t n)
{

	char *clean = NULL;
	const uint8_t *in = (const uint8_t *)s;
	if (u8_check(in, n)) {
		clean = text_sanitize_utf8(s, n);
		in = (const uint8_t *)clean;
		n = strlen(clean);
	}
	size_t flen = 0;
	uint8_t *f = u8_casefold(in, n, NULL, UNINORM_NFKD, NULL, &flen);
	free(clean);
	if (!f)
		return xstrdup("");

	char *out = xmalloc(flen + 1), *o = out;
	bool pending = false;
	size_t pos = 0;
	while (pos < flen) {
		ucs4_t uc;
		int len = u8_mbtouc(&uc, f + pos, flen - pos);
		if (len <= 0)
			len = 1;
		if (zero_width(uc) || (uc >= 0x80 && uc_is_general_category(uc, UC_CATEGORY_M))) {
			pos += (size_t)len;
			continue;
		}
		if (uni_space(uc)) {
			pending = o != out;
			pos += (size_t)len;
			continue;
		}
		if (pending) {
			*o++ = ' ';
			pending = false;
		}
		memcpy(o, f + pos, (size_t)len);
		o += len;
		pos += (size_t)len;
	}
	*o = '\0';
	free(f);
	return out;
}

size_t text_word_len(const char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t n = 0;
	for (;;) {
		if (p[n] < 0x80) {
			if ((p[n] | 0x20) >= 'a' && (p[n] | 0x20) <= 'z') {
				n++;
				continue;
			}
			return n;
		}
		ucs4_t uc;
		int len = u8_strmbtouc(&uc, p + n);
		if (len <= 0 || (!uc_is_general_category(uc, UC_CATEGORY_L) &&
				 !(n > 0 && uc_is_general_category(uc, UC_CATEGORY_M))))
			return n;
		n += (size_t)len;
	}
}

bool text_fold_eq(const char *a, const char *b)
{
	/* names, aliases, keywords: short Latin text, compared again and again
	 * (config loading, stage lookups), folded on the stack */
	char sa[128], sb[128];
	size_t na = a ? strlen(a) : 0, nb = b ? strlen(b) : 0;
	if (a && b && na < sizeof sa && nb < sizeof sb && fold_latin_to(a, na, sa) && fold_latin_to(b, nb, sb))
		return strcmp(sa, sb) == 0;
	char *fa = text_fold(a), *fb = text_fold(b);
	bool eq = strcmp(fa, fb) == 0;
	free(fa);
	free(fb);
	return eq;
}

static uint32_t *to_u32(const char *s, size_t *n)
{
	size_t len = 0;
	uint32_t *u = u8_to_u32((const uint8_t *)s, strlen(s), NULL, &len);
	if (!u) {
		*n = 0;
		return xmalloc(sizeof(uint32_t));
	}
	*n = len;
	return u;
}

int text_distance(const char *a, const char *b)
{
	char *fa = text_fold(a), *fb = text_fold(b);
	size_t na, nb;
	uint32_t *ua = to_u32(fa, &na), *ub = to_u32(fb, &nb);
	free(fa);
	free(fb);
	size_t *row = xmalloc((nb + 1) * sizeof *row);
	for (size_t j = 0; j <= nb; j++)
		row[j] = j;
	for (size_t i = 1; i <= na; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= nb; j++) {
			size_t up = row[j];
			size_t best = diag + (ua[i - 1] != ub[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	int d = (int)row[nb];
	free(row);
	free(ua);
	free(ub);
	return d;
}

bool text_valid_utf8(const char *s, size_t n)
{
	if (!s)
		return n == 0;
	return u8_check((const uint8_t *)s, n) == NULL;
}

char *text_sanitize_utf8(const char *s, size_t n)
{
	struct buf b;
	buf_init(&b);
	if (!s)
		return buf_detach(&b);
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0;
	while (i < n) {
		if (p[i] < 0x80) {
			size_t j = i;
			while (j < n && p[j] < 0x80 && p[j] != 0)
				j++;
			buf_add(&b, p + i, j - i);
			if (j < n && p[j] == 0)
				j++;
			i = j;
			continue;
		}
		ucs4_t uc;
		int len = u8_mbtoucr(&uc, p + i, n - i);
		if (len > 0) {
			buf_add(&b, p + i, (size_t)len);
			i += (size_t)len;
		} else {
			buf_add(&b, "\xEF\xBF\xBD", 3);
			i++;
			/* skip the continuation bytes of this broken sequence */
			while (i < n && (p[i] & 0xC0) == 0x80)
				i++;
		}
	}
	return buf_detach(&b);
}

/* Length of the whitespace character at s (0 if none); ASCII and Unicode
 * white space, plus the zero-width characters. */
static size_t space_at(const char *s, size_t n)
{
	unsigned char c = (unsigned char)s[0];
	if (c < 0x80)
		return ascii_space(c) ? 1 : 0;
	ucs4_t uc;
	int len = u8_mbtoucr(&uc, (const uint8_t *)s, n);
	if (len <= 0)
		return 0;
	return (uc_is_property_white_space(uc) || zero_width(uc)) ? (size_t)len : 0;
}

char *text_one_line(const char *s)
{
	if (!s)
		return NULL;
	char *t = xstrdup(s);
	for (unsigned char *p = (unsigned char *)t; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return t;
}

char *text_trim(char *s)
{
	if (!s)
		return s;
	size_t n = strlen(s), start = 0, l;
	while (start < n && (l = space_at(s + start, n - start)))
		start += l;
	size_t end = n;
	while (end > start) {
		/* find the start of the last character */
		size_t k = end - 1;
		while (k > start && ((unsigned char)s[k] & 0xC0) == 0x80)
			k--;
		if (space_at(s + k, end - k) == end - k)
			end = k;
		else
			break;
	}
	if (start)
		memmove(s, s + start, end - start);
	s[end - start] = '\0';
	return s;
}

bool text_istarts(const char *s, const char *prefix)
{
	if (!s || !prefix)
		return false;
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static bool ascii_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

int text_natcmp(const char *a, const char *b)
{
	const unsigned char *p = (const unsigned char *)a, *q = (const unsigned char *)b;
	while (*p && *q) {
		if (ascii_digit(*p) && ascii_digit(*q)) {
			while (*p == '0')
				p++;
			while (*q == '0')
				q++;
			size_t lp = 0, lq = 0;
			while (ascii_digit(p[lp]))
				lp++;
			while (ascii_digit(q[lq]))
				lq++;
			if (lp != lq)
				return lp < lq ? -1 : 1;
			int c = memcmp(p, q, lp);
			if (c)
				return c < 0 ? -1 : 1;
			p += lp;
			q += lq;
			continue;
		}
		if (*p != *q)
			return *p < *q ? -1 : 1;
		p++;
		q++;
	}
	if (*p || *q)
		return *p ? 1 : -1;
	int c = strcmp(a, b);
	return c < 0 ? -1 : c > 0;
}
