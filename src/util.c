/* util.c — see util.h. */
#include "util.h"
#include "text.h"
#include <nettle/hmac.h>
#include <nettle/sha2.h>
#include <stdarg.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <strings.h>
#include <syslog.h>

int log_level = 1;

static bool use_syslog;

void log_to_syslog(void)
{
	openlog("dealmail", LOG_PID, LOG_MAIL);
	use_syslog = true;
}

static void vlog(int priority, const char *prefix, const char *fmt, va_list ap)
{
	if (use_syslog) {
		struct buf b;
		buf_init(&b);
		buf_adds(&b, prefix ? prefix : "");
		buf_vaddf(&b, fmt, ap);
		syslog(priority, "%s", b.s);
		buf_release(&b);
		return;
	}
	fputs("dealmail: ", stderr);
	if (prefix)
		fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void log_info(const char *fmt, ...)
{
	va_list ap;
	if (log_level < 1)
		return;
	va_start(ap, fmt);
	vlog(LOG_INFO, NULL, fmt, ap);
	va_end(ap);
}

void log_verbose(const char *fmt, ...)
{
	va_list ap;
	if (log_level < 2)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_ERR, "error: ", fmt, ap);
	va_end(ap);
}

static time_t utc_mktime(struct tm *tm)
{
	return timegm(tm);
}

/* n decimal digits at s, or -1 */
static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* UTC fields (seconds up to 60, a leap second) less a zone offset; -1 if out
 * of range */
static time_t from_fields(int y, int mo, int d, int h, int mi, int se, long off)
{
	struct tm tm;
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h < 0 || h > 23 || mi < 0 || mi > 59 ||
	    se < 0 || se > 60)
		return -1;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -1;   /* 2026-02-29, 2026-11-31: not dates, not the next month's first days */
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	return utc_mktime(&tm) - off;
}

time_t iso_parse(const char *s)
{
	int y, mo, d, h = 0, mi = 0, se = 0, n = 0;
	if (!s)
		return -1;
	/* the form we store ("2026-11-23T15:00:00Z") and plain dates, without
	 * sscanf: reports and digests parse a few per deal, for every deal */
	size_t len = strlen(s);
	if ((len == 20 || len == 10) && s[4] == '-' && s[7] == '-' &&
	    (len == 10 || (s[10] == 'T' && s[13] == ':' && s[16] == ':' && s[19] == 'Z'))) {
		y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
		if (len == 20)
			h = digits(s + 11, 2), mi = digits(s + 14, 2), se = digits(s + 17, 2);
		if (y >= 0 && mo >= 0 && d >= 0 && h >= 0 && mi >= 0 && se >= 0)
			return from_fields(y, mo, d, h, mi, se, 0);
		h = mi = se = 0;   /* not all digits: the general reading decides */
	}
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
		return -1;
	const char *p = s + n;
	if (*p == 'T' || *p == ' ') {
		int m2 = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &m2) != 2)
			return -1;
		p += 1 + m2;
		if (*p == ':') {
			int m3 = 0;
			if (sscanf(p + 1, "%2d%n", &se, &m3) != 1)
				return -1;
			p += 1 + m3;
			if (*p == '.')
				for (p++; *p >= '0' && *p <= '9'; p++)
					;
		}
	}
	long off = 0;
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		int oh = 0, om = 0;
		if (sscanf(p + 1, "%2d:%2d", &oh, &om) < 1)
			return -1;
		off = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
		p += strlen(p);
	}
	if (*p)
		return -1;
	return from_fields(y, mo, d, h, mi, se, off);
}

time_t clock_now(void)
{
	/* the tests' fixed clock; parsed once per distinct value (a batch asks
	 * for the time several times per message), per thread (a batch's
	 * read-ahead threads ask too) */
	static _Thread_local char last[32];
	static _Thread_local time_t last_t = (time_t)-1;
	const char *e = getenv("DEALMAIL_NOW");
	if (e && *e) {
		if (last_t != (time_t)-1 && strncmp(e, last, sizeof last) == 0)
			return last_t;
		time_t t = iso_parse(e);
		if (t != (time_t)-1) {
			snprintf(last, sizeof last, "%s", e);
			last_t = strlen(e) < sizeof last ? t : (time_t)-1;
			return t;
		}
	}
	return time(NULL);
}

/* "YYYY-MM-DD" into out[0..9] (no NUL) for years 0..9999; false otherwise.
 * By hand: strftime() is the most expensive part of stamping the dozen
 * timestamps a message writes. */
static bool put_ymd(const struct tm *tm, char *out)
{
	int y = tm->tm_year + 1900;
	if (y < 0 || y > 9999)
		return false;
	const int v[3] = {y, tm->tm_mon + 1, tm->tm_mday};
	out[0] = (char)('0' + y / 1000);
	out[1] = (char)('0' + y / 100 % 10);
	out[2] = (char)('0' + y / 10 % 10);
	out[3] = (char)('0' + y % 10);
	for (int i = 1; i < 3; i++) {
		out[3 * i + 1] = '-';
		out[3 * i + 2] = (char)('0' + v[i] / 10);
		out[3 * i + 3] = (char)('0' + v[i] % 10);
	}
	return true;
}

void iso_format(time_t t, char out[21])
{
	/* a message stamps the same second a dozen times: the last one is
	 * kept, per thread */
	static _Thread_local time_t last_t = (time_t)-1;
	static _Thread_local char last[21];
	if (t == last_t && t != (time_t)-1) {
		memcpy(out, last, 21);
		return;
	}
	struct tm tm;
	gmtime_r(&t, &tm);
	if (!put_ymd(&tm, out)) {
		strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
		return;
	}
	const int v[3] = {tm.tm_hour, tm.tm_min, tm.tm_sec};
	for (int i = 0; i < 3; i++) {
		out[10 + 3 * i] = i ? ':' : 'T';
		out[11 + 3 * i] = (char)('0' + v[i] / 10);
		out[12 + 3 * i] = (char)('0' + v[i] % 10);
	}
	out[19] = 'Z';
	out[20] = '\0';
	memcpy(last, out, 21);
	last_t = t;
}

static atomic_uint tz_generation;   /* rfc5322_date()'s cache is of one zone */

void tz_set(const char *tz)
{
	setenv("TZ", tz && *tz ? tz : "UTC", 1);
	tzset();
	atomic_fetch_add(&tz_generation, 1);
}

void local_tm(time_t t, struct tm *tm)
{
	localtime_r(&t, tm);
}

void local_date(time_t t, char out[11])
{
	struct tm tm;
	localtime_r(&t, &tm);
	if (put_ymd(&tm, out))
		out[10] = '\0';
	else
		strftime(out, 11, "%Y-%m-%d", &tm);
}

void date_add_days(const char *date, int days, char out[11])
{
	struct tm tm;
	int y = 1970, m = 1, d = 1;
	memset(&tm, 0, sizeof tm);
	sscanf(date, "%d-%d-%d", &y, &m, &d);
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d + days;
	tm.tm_hour = 12;
	time_t t = timegm(&tm);
	gmtime_r(&t, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

void rfc5322_date(time_t t, char out[64])
{
	static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	/* a batch dates every message it queues, many in the same second */
	static _Thread_local time_t last_t = (time_t)-1;
	static _Thread_local unsigned last_gen;
	static _Thread_local char last[64];
	unsigned gen = atomic_load(&tz_generation);
	if (t == last_t && gen == last_gen) {
		memcpy(out, last, sizeof last);
		return;
	}
	struct tm tm;
	localtime_r(&t, &tm);
	long off = tm.tm_gmtoff / 60;
	char sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	snprintf(out, 64, "%s, %d %s %04d %02d:%02d:%02d %c%02ld%02ld", wd[tm.tm_wday], tm.tm_mday,
		 mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 60,
		 off % 60);
	memcpy(last, out, sizeof last);
	last_t = t;
	last_gen = gen;
}

static void hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void sha256_hex(const void *p, size_t n, char out[65])
{
	/* Nettle, not OpenSSL: libcrypto's loading and initialisation were a
	 * third of the time of a one-message `ingest` on the MTA pipe */
	struct sha256_ctx c;
	unsigned char md[SHA256_DIGEST_SIZE];
	sha256_init(&c);
	sha256_update(&c, n, p);
	sha256_digest(&c, sizeof md, md);
	hex(md, sizeof md, out);
}

/* Random bytes come from the kernel's CSPRNG directly (OpenSSL's DRBG would
 * be seeded from it anyway, at a cost that shows on the one-message pipe),
 * a few hundred at a time: a batch takes some for every message it queues
 * (Message-ID, MIME boundary), and a getrandom() call each was 3,500 system
 * calls per 10,000 messages.  Each thread draws from its own pool; a forked
 * child starts with an empty one, so that it never repeats its parent's. */
static _Thread_local unsigned char rnd_pool[512];
static _Thread_local size_t rnd_left;

static void rnd_forget(void)
{
	explicit_bzero(rnd_pool, sizeof rnd_pool);
	rnd_left = 0;
}

static void rnd_atfork(void)
{
	pthread_atfork(NULL, NULL, rnd_forget);
}

static void rnd_fill(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, rnd_atfork);
	size_t got = 0;
	while (got < sizeof rnd_pool) {
		ssize_t n = getrandom(rnd_pool + got, sizeof rnd_pool - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fputs("dealmail: no randomness available\n", stderr);
			abort();
		}
		got += (size_t)n;
	}
	rnd_left = sizeof rnd_pool;
}

void random_hex(char *out, size_t nbytes)
{
	unsigned char r[64];
	if (nbytes > sizeof r)
		nbytes = sizeof r;
	for (size_t got = 0; got < nbytes;) {
		if (!rnd_left)
			rnd_fill();
		size_t k = nbytes - got < rnd_left ? nbytes - got : rnd_left;
		unsigned char *from = rnd_pool + sizeof rnd_pool - rnd_left;
		memcpy(r + got, from, k);
		explicit_bzero(from, k);   /* used bytes do not stay behind */
		rnd_left -= k;
		got += k;
	}
	hex(r, nbytes, out);
	explicit_bzero(r, nbytes);
}

size_t dec_format(int64_t n, char out[21])
{
	char t[20];
	size_t k = 0, len = 0;
	uint64_t u = n < 0 ? -(uint64_t)n : (uint64_t)n;
	do
		t[k++] = (char)('0' + u % 10);
	while (u /= 10);
	if (n < 0)
		out[len++] = '-';
	while (k)
		out[len++] = t[--k];
	out[len] = '\0';
	return len;
}

void token_make(const unsigned char *key, size_t klen, char tag, int64_t n, char out[48])
{
	char msg[40];
	unsigned char md[SHA256_DIGEST_SIZE];
	struct hmac_sha256_ctx c;
	/* "<tag>:<n>", by hand: snprintf was a quarter of a token */
	msg[0] = tag;
	msg[1] = ':';
	size_t len = 2 + dec_format(n, msg + 2);
	/* keying hashes two blocks, as much as the token itself: a batch
	 * signs two tokens per queued message with the same key */
	static _Thread_local struct {
		unsigned char key[128];
		size_t klen;
		struct hmac_sha256_ctx ctx;
	} keyed;
	/* and the last token of a deal (every answer about it carries the same
	 * reply address), slot by number, for the key in `keyed` */
	struct memo {
		char tag;
		int64_t n;
		char out[48];
	};
	static _Thread_local struct memo memo[256];
	struct memo *slot = NULL;
	if (klen > sizeof keyed.key)
		hmac_sha256_set_key(&c, klen, key);
	else {
		if (!keyed.klen || keyed.klen != klen || memcmp(keyed.key, key, klen)) {
			hmac_sha256_set_key(&keyed.ctx, klen, key);
			memcpy(keyed.key, key, klen);
			keyed.klen = klen;
			memset(memo, 0, sizeof memo);
		}
		c = keyed.ctx;
		if (tag == 'd') {
			slot = &memo[(uint64_t)n % 256];
			if (slot->tag == tag && slot->n == n) {
				memcpy(out, slot->out, 48);
				return;
			}
		}
	}
	hmac_sha256_update(&c, len, (const uint8_t *)msg);
	hmac_sha256_digest(&c, sizeof md, md);
	/* "<n>-<10 hex>" */
	size_t k = dec_format(n, out);
	out[k] = '-';
	hex(md, 5, out + k + 1);
	if (slot) {
		slot->tag = tag;
		slot->n = n;
		memcpy(slot->out, out, 48);
	}
}

int64_t token_verify(const unsigned char *key, size_t klen, char tag, const char *token)
{
	char *end;
	char want[48];
	if (!token || !*token || *token == '-' )
		return 0;
	long long n = strtoll(token, &end, 10);
	if (n <= 0 || *end != '-')
		return 0;
	token_make(key, klen, tag, n, want);
	if (strlen(token) != strlen(want))
		return 0;
	/* constant-time compare, case-insensitive hex */
	unsigned diff = 0;
	for (size_t i = 0; want[i]; i++) {
		char c = token[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		diff |= (unsigned)(c ^ want[i]);
	}
	return diff ? 0 : n;
}

void json_str(struct buf *b, const char *s)
{
	if (!s) {
		buf_adds(b, "null");
		return;
	}
	/* JSON is UTF-8: a stored string that is not (a title given on the
	 * command line in Latin-1, say) is written with U+FFFD for its bad bytes */
	char *clean = NULL;
	if (!text_valid_utf8(s, strlen(s)))
		s = clean = text_sanitize_utf8(s, strlen(s));
	buf_addc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': buf_adds(b, "\\\""); break;
		case '\\': buf_adds(b, "\\\\"); break;
		case '\n': buf_adds(b, "\\n"); break;
		case '\r': buf_adds(b, "\\r"); break;
		case '\t': buf_adds(b, "\\t"); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				buf_addf(b, "\\u%04x", *p);
			else
				buf_addc(b, (char)*p);
		}
	}
	buf_addc(b, '"');
	free(clean);
}

void local_stamp(const char *iso, char out[20])
{
	time_t t = iso ? iso_parse(iso) : -1;
	struct tm tm;
	if (t < 0) {
		snprintf(out, 20, "%s", iso ? iso : "");
		return;
	}
	local_tm(t, &tm);
	strftime(out, 20, "%Y-%m-%d %H:%M", &tm);
}
