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

/* Pure-ASCII fast path: lower-case, collapse whitespace, trim. */
static char *fold_ascii(const char *s, size_t n)
{
	char *out = xmalloc(n + 1), *o = out;
	bool pending = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (ascii_space(c)) {
			pending = o != out;
			continue;
		}
		if (pending) {
			*o++ = ' ';
			pending = false;
		}
		*o++ = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	*o = '\0';
	return out;
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

/* Fast path for the text our users write (Spanish, Portuguese, English):
 * ASCII plus accented Latin-1 letters, NBSP, ¡ ¿ « ».  Gives exactly what the
 * libunistring path gives for such text, into `out` (n + 1 bytes: folding
 * such text never lengthens it); false for anything else. */
static bool fold_latin_to(const char *s, size_t n, char *out)
{
	char *o = out;
	bool pending = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char put[2];
		size_t np = 1;
		if (c < 0x80) {
			if (ascii_space(c)) {
				pending = o != out;
				continue;
			}
			put[0] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		} else if (c == 0xC3 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
			   (unsigned char)s[i + 1] <= 0xBF && latin1_fold[(unsigned char)s[i + 1] - 0x80]) {
			put[0] = latin1_fold[(unsigned char)s[i + 1] - 0x80];
			i++;
		} else if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] == 0xA0) {
			i++;               /* NBSP is a space */
			pending = o != out;
			continue;
		} else if (c == 0xC2 && i + 1 < n && ((unsigned char)s[i + 1] == 0xA1 || (unsigned char)s[i + 1] == 0xBF ||
						      (unsigned char)s[i + 1] == 0xAB || (unsigned char)s[i + 1] == 0xBB)) {
			put[0] = (char)c;  /* ¡ ¿ « » fold to themselves */
			put[1] = s[++i];
			np = 2;
		} else
			return false;
		if (pending) {
			*o++ = ' ';
			pending = false;
		}
		memcpy(o, put, np);
		o += np;
	}
	*o = '\0';
	return true;
}

static char *fold_latin(const char *s, size_t n)
{
	char *out = xmalloc(n + 1);
	if (fold_latin_to(s, n, out))
		return out;
	free(out);
	return NULL;
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
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			break;
	if (i == n)
		return fold_ascii(s, n);
	char *fast = fold_latin(s, n);
	if (fast)
		return fast;
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
