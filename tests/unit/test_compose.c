/* Unit tests: compose.c — outgoing headers can never be injected, non-ASCII
 * is RFC 2047 encoded, bodies are quoted-printable with CRLF. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "compose.h"
#include "util.h"

static size_t count_lines_starting(const char *msg, const char *prefix)
{
	size_t n = 0;
	const char *hdr_end = strstr(msg, "\r\n\r\n");
	for (const char *p = msg; p && p < hdr_end; p = strstr(p, "\r\n")) {
		if (p != msg)
			p += 2;
		if (!strncmp(p, prefix, strlen(prefix)))
			n++;
		if (p == msg)
			p++;
	}
	return n;
}

static void test_no_header_injection(void **state)
{
	(void)state;
	struct outmsg m = {
		.from_name = "Ana\r\nBcc: victim@evil.example", .from_addr = "ventas@example.com",
		.to_name = "Bob\nX-Injected: 1", .to_addr = "bob@example.com\r\nCc: x@evil.example",
		.subject = "Hola\r\nBcc: a@evil.example\r\n\r\nbody", .message_id = "<a@b>",
		.text = "line\n", .date = 0,
	};
	size_t len;
	char *raw = compose_message(&m, &len);
	assert_int_equal(count_lines_starting(raw, "Bcc:"), 0);
	assert_int_equal(count_lines_starting(raw, "Cc:"), 0);
	assert_int_equal(count_lines_starting(raw, "X-Injected:"), 0);
	/* every header line is a header or a continuation */
	const char *end = strstr(raw, "\r\n\r\n");
	assert_non_null(end);
	for (const char *p = raw; p < end;) {
		const char *nl = strstr(p, "\r\n");
		assert_true(*p == ' ' || *p == '\t' || memchr(p, ':', (size_t)(nl - p)) != NULL);
		p = nl + 2;
	}
	/* no bare LF or CR anywhere */
	for (size_t i = 0; i < len; i++) {
		if (raw[i] == '\n')
			assert_true(i > 0 && raw[i - 1] == '\r');
		if (raw[i] == '\r')
			assert_true(raw[i + 1] == '\n');
	}
	free(raw);
}

static void test_rfc2047(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b);
	compose_header(&b, "Subject", "Propuesta enviada — Negociación ✓");
	assert_non_null(strstr(b.s, "=?UTF-8?B?"));
	for (size_t i = 0; i < b.len; i++)
		assert_true((unsigned char)b.s[i] < 0x80);
	buf_reset(&b);
	compose_addr_header(&b, "From", "Ana López", "ana@example.com");
	assert_non_null(strstr(b.s, "=?UTF-8?B?"));
	assert_non_null(strstr(b.s, "<ana@example.com>"));
	buf_reset(&b);
	compose_addr_header(&b, "To", "Smith, Bob", "bob@example.com");
	assert_string_equal(b.s, "To: \"Smith, Bob\" <bob@example.com>\r\n");
	buf_reset(&b);
	/* a literal encoded-word in a value is itself encoded, not passed through */
	compose_header(&b, "Subject", "=?UTF-8?B?QmNjOiB4?=");
	assert_null(strstr(b.s, "Subject: =?UTF-8?B?QmNjOiB4?="));
	assert_non_null(strstr(b.s, "=?UTF-8?B?PT9"));
	buf_release(&b);
}

static void test_long_words_split_on_characters(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b);
	compose_header(&b, "Subject", "ééééééééééééééééééééééééééééééééééééééééééééééééééééé");
	/* each encoded word is at most 75 characters */
	for (char *p = b.s; (p = strstr(p, "=?UTF-8?B?"));) {
		char *e = strstr(p, "?=");
		assert_non_null(e);
		assert_true(e + 2 - p <= 75);
		p = e;
	}
	buf_release(&b);
}

static void test_qp_body(void **state)
{
	(void)state;
	struct outmsg m = {.from_addr = "a@b.c", .to_addr = "d@e.f", .subject = "s", .message_id = "<x@y>",
			   .text = "From the start\nValor: 12.000,50 €\ntrailing space \n.\n", .date = 0};
	size_t len;
	char *raw = compose_message(&m, &len);
	assert_non_null(strstr(raw, "Content-Transfer-Encoding: quoted-printable"));
	assert_non_null(strstr(raw, "=46rom the start\r\n"));
	assert_non_null(strstr(raw, "12.000,50 =E2=82=AC\r\n"));
	assert_non_null(strstr(raw, "trailing space=20\r\n"));
	assert_non_null(strstr(raw, "\r\n=2E\r\n"));
	free(raw);
}

/* Long lines: every encoded line fits in 76 characters, and decoding the body
 * gives the text back (runs of plain ASCII are copied whole: the soft breaks
 * must still fall at the limit, between characters, never inside =XX). */
static void test_qp_long_lines(void **state)
{
	(void)state;
	struct buf t;
	buf_init(&t);
	for (int i = 0; i < 40; i++)
		buf_addf(&t, "word%d=x ação. From %d ", i, i);
	buf_adds(&t, "\n");
	for (int i = 0; i < 300; i++)
		buf_addc(&t, (char)('a' + i % 26));
	buf_adds(&t, "\n.dot start\nend  \n");
	struct outmsg m = {.from_addr = "a@b.c", .to_addr = "d@e.f", .subject = "s", .message_id = "<x@y>",
			   .text = t.s, .date = 0};
	size_t len;
	char *raw = compose_message(&m, &len);
	const char *body = strstr(raw, "\r\n\r\n");
	assert_non_null(body);
	body += 4;
	struct buf dec;
	buf_init(&dec);
	for (const char *p = body; *p;) {
		const char *e = strstr(p, "\r\n");
		assert_non_null(e);
		assert_true(e - p <= 76);
		bool soft = e > p && e[-1] == '=';
		for (const char *q = p; q < e - (soft ? 1 : 0); q++) {
			if (*q == '=') {
				unsigned v;
				assert_int_equal(sscanf(q + 1, "%2X", &v), 1);
				buf_addc(&dec, (char)v);
				q += 2;
			} else
				buf_addc(&dec, *q);
		}
		if (!soft)
			buf_addc(&dec, '\n');
		p = e + 2;
	}
	assert_string_equal(dec.s, t.s);
	buf_release(&dec);
	buf_release(&t);
	free(raw);
}

static void test_alternative(void **state)
{
	(void)state;
	struct outmsg m = {.from_addr = "a@b.c", .to_addr = "d@e.f", .subject = "s", .message_id = "<x@y>",
			   .text = "hi", .html = "<p>hi</p>", .auto_submitted = "auto-replied", .date = 0};
	size_t len;
	char *raw = compose_message(&m, &len);
	assert_non_null(strstr(raw, "multipart/alternative"));
	assert_non_null(strstr(raw, "Content-Type: text/html; charset=UTF-8"));
	assert_non_null(strstr(raw, "Auto-Submitted: auto-replied\r\n"));
	free(raw);
}

static void test_reply_subject(void **state)
{
	(void)state;
	char *s = compose_reply_subject("Re: [deal #1] x");
	assert_string_equal(s, "Re: [deal #1] x");
	free(s);
	s = compose_reply_subject("[deal #1] x");
	assert_string_equal(s, "Re: [deal #1] x");
	free(s);
}

static void test_tokens(void **state)
{
	(void)state;
	const unsigned char key[] = "0123456789abcdef0123456789abcdef";
	char t[48], t2[48];
	token_make(key, 32, 'd', 12, t);
	/* HMAC-SHA256(key, "d:12") as Python's hmac module computes it: tokens
	 * in mail already sent must keep verifying whatever library computes them */
	assert_string_equal(t, "12-2d64c70406");
	assert_int_equal(token_verify(key, 32, 'd', t), 12);
	assert_int_equal(token_verify(key, 32, 'b', t), 0);       /* other kind */
	token_make(key, 32, 'd', 13, t2);
	char forged[48];
	memcpy(forged, t2, sizeof forged);
	forged[0] = '1';
	forged[1] = '2';                                          /* 13's mac on 12 */
	assert_int_equal(token_verify(key, 32, 'd', forged), 0);
	for (char *p = t; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	assert_int_equal(token_verify(key, 32, 'd', t), 12);     /* MTAs may upper-case */
	assert_int_equal(token_verify(key, 32, 'd', "12"), 0);
	assert_int_equal(token_verify(key, 32, 'd', ""), 0);
	assert_int_equal(token_verify(key, 32, 'd', "-1-abc"), 0);
}

static void test_sha256(void **state)
{
	(void)state;
	char h[65], a[1000];
	sha256_hex("abc", 3, h);   /* FIPS 180-2, appendix B.1 */
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	memset(a, 'a', sizeof a);  /* more than one block */
	sha256_hex(a, sizeof a, h);
	assert_string_equal(h, "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

static void test_iso(void **state)
{
	(void)state;
	char out[21];
	time_t t = iso_parse("2026-11-23T09:00:00Z");
	iso_format(t, out);
	assert_string_equal(out, "2026-11-23T09:00:00Z");
	assert_int_equal(iso_parse("2026-11-23T10:00:00+01:00"), t);
	assert_int_equal(iso_parse("2026-13-01"), -1);
	assert_int_equal(iso_parse("garbage"), -1);
	/* the stored form's fast path agrees with the general one */
	assert_int_equal(t, 1795424400);
	assert_int_equal(iso_parse("2026-11-23 09:00:00"), t);
	assert_int_equal(iso_parse("2026-11-23T09:00Z"), t);
	assert_int_equal(iso_parse("2026-11-23"), t - 9 * 3600);
	assert_int_equal(iso_parse("2026-11-23T00:00:00+00:00"), t - 9 * 3600);
	assert_int_equal(iso_parse("2028-02-29T23:59:60Z"), iso_parse("2028-03-01T00:00:00Z"));
	assert_int_equal(iso_parse("2026-11-23T24:00:00Z"), -1);
	assert_int_equal(iso_parse("2026-11-2xT09:00:00Z"), -1);
	assert_int_equal(iso_parse("2026-00-10"), -1);
	assert_int_equal(iso_parse("2026-11-31"), -1);
	assert_int_equal(iso_parse("2026-02-29"), -1);
	assert_true(iso_parse("2028-02-29") > 0);
	assert_true(iso_parse("2000-02-29") > 0);
	assert_int_equal(iso_parse("2100-02-29"), -1);
	char d[11];
	date_add_days("2026-12-30", 3, d);
	assert_string_equal(d, "2027-01-02");
	/* the digits by hand agree with strftime(), from 1970 to 9999 */
	for (time_t s = 0; s < (time_t)253402300800; s += (time_t)86399 * 377 + 4321) {
		char want[32];
		struct tm tm;
		gmtime_r(&s, &tm);
		strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%SZ", &tm);
		iso_format(s, out);
		assert_string_equal(out, want);
		local_date(s, d);
		localtime_r(&s, &tm);
		strftime(want, sizeof want, "%Y-%m-%d", &tm);
		assert_string_equal(d, want);
	}
}

/* RFC 5322 §2.1.1: no line over 998 octets, even for a subject with a word
 * longer than that (a pasted URL, a deal title of one long word); and
 * msg-ids are never encoded-words (RFC 2047 §5), even when not ASCII. */
static void test_long_header_lines_and_ids(void **state)
{
	(void)state;
	char word[1301];
	memset(word, 'X', 1300);
	word[1300] = '\0';
	char *subject = xasprintf("Re: [deal #1] %s la propuesta", word);
	struct outmsg m = {.from_addr = "a@b.c", .to_addr = "d@e.f", .subject = subject,
			   .message_id = "<x@y>", .in_reply_to = "<\xC3\xB1" "and\xC3\xBA@x.example>",
			   .references = "<r1@x> <\xC3\xB1" "and\xC3\xBA@x.example>", .text = "hi", .date = 0};
	size_t len;
	char *raw = compose_message(&m, &len);
	size_t longest = 0;
	for (const char *p = raw; *p;) {
		size_t n = strcspn(p, "\r\n");
		if (n > longest)
			longest = n;
		p += n;
		p += strspn(p, "\r\n");
	}
	if (longest > 998)
		print_error("a line of %zu octets\n", longest);
	assert_true(longest <= 998);
	assert_non_null(strstr(raw, "Subject: =?UTF-8?"));
	assert_non_null(strstr(raw, "In-Reply-To: <\xC3\xB1" "and\xC3\xBA@x.example>\r\n"));
	assert_non_null(strstr(raw, "References: <r1@x> <\xC3\xB1" "and\xC3\xBA@x.example>\r\n"));
	free(raw);
	free(subject);
}

/* Every header line fits in 76 columns (but a single word too long for
 * its field's first line): encoded-words (RFC 2047 §2), long ASCII names
 * folded at their spaces; threading ids that are not msg-ids are left out. */
static size_t longest_header_line(const char *raw)
{
	size_t longest = 0;
	const char *end = strstr(raw, "\r\n\r\n");
	for (const char *p = raw; p < end;) {
		size_t n = strcspn(p, "\r\n");
		if (n > longest && strncmp(p, "List-Unsubscribe: ", 18))
			longest = n;
		p += n;
		p += strspn(p, "\r\n");
	}
	return longest;
}

static void test_header_lines_fit(void **state)
{
	(void)state;
	struct buf name;
	buf_init(&name);
	for (int i = 0; i < 200; i++)
		buf_addf(&name, "%sWord%d", i ? " " : "", i);
	struct outmsg m = {.from_name = "Asistente de ventas — Distribuidora Ñandú del Norte, S.A. de C.V.",
			   .from_addr = "ventas@example.com", .to_name = name.s, .to_addr = "longname@x.com",
			   .subject = "Tu embudo 2026-11-23: 1 abiertas, 0 requieren atención — revisión semanal",
			   .message_id = "<x@y>",
			   .list_unsubscribe = "<mailto:ventas+u.17.0123456789@example.com?subject=unsubscribe>",
			   .in_reply_to = "<=?utf-8?q?a=0D=0ABcc:_x?=@evil.com>",
			   .references = "<r1@x.example> <=?utf-8?q?=0D=0ABcc:_y@evil?=> junk <r2@[10.0.0.1]>",
			   .text = "hi", .date = 0};
	size_t len;
	char *raw = compose_message(&m, &len);
	/* List-Unsubscribe's one long word stays on the field's first line */
	assert_non_null(strstr(raw, "\r\nList-Unsubscribe: <mailto:ventas+u.17.0123456789@example.com"
				    "?subject=unsubscribe>\r\n"));
	size_t longest = longest_header_line(raw);
	if (longest > 76)
		print_error("a header line of %zu characters:\n%s\n", longest, raw);
	assert_true(longest <= 76);
	assert_null(strstr(raw, "In-Reply-To"));
	assert_null(strstr(raw, "evil"));
	assert_non_null(strstr(raw, "References: <r1@x.example> <r2@[10.0.0.1]>\r\n"));
	assert_non_null(strstr(raw, "Word199 <longname@x.com>") ||
			strstr(raw, "Word199\r\n <longname@x.com>") ? raw : NULL);
	free(raw);
	buf_release(&name);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_long_header_lines_and_ids), cmocka_unit_test(test_header_lines_fit),
		cmocka_unit_test(test_no_header_injection), cmocka_unit_test(test_rfc2047),
		cmocka_unit_test(test_long_words_split_on_characters), cmocka_unit_test(test_qp_body), cmocka_unit_test(test_qp_long_lines),
		cmocka_unit_test(test_alternative), cmocka_unit_test(test_reply_subject),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_sha256), cmocka_unit_test(test_iso),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
