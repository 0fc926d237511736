/* test_text.c — text.c: folding, distance, UTF-8 validation and repair. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "text.h"

static void fold_is(const char *in, const char *want)
{
	char *f = text_fold(in);
	if (strcmp(f, want) != 0)
		print_error("text_fold(\"%s\") = \"%s\", want \"%s\"\n", in, f, want);
	assert_string_equal(f, want);
	free(f);
}

static void test_fold_basic(void **state)
{
	(void)state;
	fold_is("  Negociação ", "negociacao");
	fold_is("ESTÁGIO", "estagio");
	fold_is("Estágio", "estagio");
	fold_is("estagio", "estagio");
	fold_is("Propuesta", "propuesta");
	fold_is("MAÑANA", "manana");
	fold_is("amanhã", "amanha");
	fold_is("Histórico", "historico");
	fold_is("Sequência", "sequencia");
	fold_is("Responsável", "responsavel");
	fold_is("Écrit", "ecrit");
	fold_is("Straße", "strasse");
	fold_is("", "");
	fold_is("   ", "");
	fold_is(NULL, "");
	fold_is("ﬁnal", "final"); /* ligature (NFKD) */
	fold_is("ＥＴＡＰＡ", "etapa"); /* full-width */
}

static void test_fold_nfd_input(void **state)
{
	(void)state;
	/* decomposed input: e + U+0301 */
	fold_is("este\xCC\x81gio", "estegio");
	fold_is("Esta\xCC\x81gio", "estagio");
	fold_is("Negocia\xC3\xA7\xC3\xA3o", "negociacao");
}

static void test_fold_spaces(void **state)
{
	(void)state;
	fold_is("a\xC2\xA0" "b", "a b");            /* NBSP */
	fold_is("a\xE2\x80\xAF" "b", "a b");        /* narrow NBSP */
	fold_is("a\xE2\x80\x83" "b", "a b");        /* em space */
	fold_is("a\xE3\x80\x80" "b", "a b");        /* ideographic space */
	fold_is("a \t\n  b", "a b");
	fold_is("\xEF\xBB\xBFhola", "hola");        /* BOM */
	fold_is("ho\xE2\x80\x8Bla", "hola");        /* ZWSP */
	fold_is("ho\xE2\x80\x8Dla\xE2\x81\xA0", "hola"); /* ZWJ, WJ */
	fold_is("  Fecha de  Cierre  ", "fecha de cierre");
	fold_is("\xC2\xA0 Ganado \xC2\xA0", "ganado");
}

/* The Latin fast path (ASCII, accented Latin-1 letters, NBSP, ¡ ¿ « ») and
 * the libunistring one give the same folds; text leaving the first for the
 * second part-way (a curly quote, an emoji, Æ, ©) is folded whole by it. */
static void test_fold_mixed(void **state)
{
	(void)state;
	fold_is("Hola,  MUNDO\t\n  adi\xC3\xB3s ", "hola, mundo adios");
	fold_is("\xC2\xBFQu\xC3\xA9 tal?\xC2\xA0\xC2\xA0\xC2\xA1" "BIEN!", "\xC2\xBFque tal? \xC2\xA1" "bien!");
	fold_is("\xC2\xAB Cita \xC2\xBB", "\xC2\xAB cita \xC2\xBB");
	fold_is("\xC3\x86ON \xC3\x9F", "\xC3\xA6on ss");                     /* Æ, ß */
	fold_is("Se\xC3\xB1or \xE2\x80\x99OK\xE2\x80\x99 \xC3\x89XITO", "senor \xE2\x80\x99ok\xE2\x80\x99 exito");
	fold_is("Caf\xC3\xA9 \xF0\x9F\x91\x8D  Listo ", "cafe \xF0\x9F\x91\x8D listo");
	fold_is("x\xC2\xA9y", "x\xC2\xA9y");                                  /* © */
	fold_is(" \xC3\x98ystein ", "\xC3\xB8ystein");                        /* Ø */
	fold_is("a\x01" "B\x7F", "a\x01" "b\x7F");       /* control characters stay */
	fold_is("\xC2\xA0 \t\xC2\xA0", "");
	fold_is("\r\n\v\fX\r\n\v\f", "x");
	fold_is("A-Z_a@z 0:9", "a-z_a@z 0:9");
	/* eight bytes at a time: the letters' neighbours, spaces at and
	 * across the edges of the eight, DEL */
	fold_is("@AZ[`az{ @AZ[`az{", "@az[`az{ @az[`az{");
	fold_is("        HOLA MUNDO  ADIOS", "hola mundo adios");
	fold_is("abcdefg  hijklmno p", "abcdefg hijklmno p");
	fold_is("ABCDEFGH IJKLMNOP", "abcdefgh ijklmnop");
	fold_is("abcdefgh\x7F\x7F\x7F\x7F\x7F\x7F\x7F\x7F", "abcdefgh\x7F\x7F\x7F\x7F\x7F\x7F\x7F\x7F");
	fold_is("abcdefg\tXYZWVUT ", "abcdefg xyzwvut");
}

static void test_fold_invalid_utf8(void **state)
{
	(void)state;
	char *f = text_fold("Caf\xE9 ETAPA");
	assert_non_null(f);
	assert_non_null(strstr(f, "etapa"));
	assert_true(text_valid_utf8(f, strlen(f)));
	free(f);
}

static void test_fold_eq(void **state)
{
	(void)state;
	assert_true(text_fold_eq("Negociação", "NEGOCIACAO"));
	assert_true(text_fold_eq("Cierre ", " cierre"));
	assert_true(text_fold_eq("Esta\xCC\x81gio", "ESTÁGIO"));
	assert_false(text_fold_eq("propuesta", "propuestas"));
	assert_false(text_fold_eq("demo", "domo"));
}

static void test_distance(void **state)
{
	(void)state;
	assert_int_equal(text_distance("propuesta", "propuesta"), 0);
	assert_int_equal(text_distance("propuesta", "Propuesta"), 0);
	assert_int_equal(text_distance("propusta", "propuesta"), 1);
	assert_int_equal(text_distance("negociación", "negociacion"), 0);
	assert_int_equal(text_distance("kitten", "sitting"), 3);
	assert_int_equal(text_distance("", "abc"), 3);
	assert_int_equal(text_distance("abc", ""), 3);
	assert_int_equal(text_distance("", ""), 0);
	/* by code point, not by byte */
	assert_int_equal(text_distance("ñu", "nu"), 0); /* folded first */
	assert_int_equal(text_distance("€5", "$5"), 1);
	assert_int_equal(text_distance("日本", "日本語"), 1);
}

static void test_valid_utf8(void **state)
{
	(void)state;
	assert_true(text_valid_utf8("hola", 4));
	assert_true(text_valid_utf8("señor", strlen("señor")));
	assert_true(text_valid_utf8("", 0));
	assert_false(text_valid_utf8("\xC3", 1));              /* truncated */
	assert_false(text_valid_utf8("\xC0\xAF", 2));          /* overlong */
	assert_false(text_valid_utf8("\xED\xA0\x80", 3));      /* surrogate */
	assert_false(text_valid_utf8("\xF4\x90\x80\x80", 4));  /* > U+10FFFF */
	assert_false(text_valid_utf8("ab\xFF", 3));
	assert_true(text_valid_utf8("\xF0\x9F\x98\x80", 4));   /* emoji */
}

static void test_sanitize(void **state)
{
	(void)state;
	char *s = text_sanitize_utf8("ab\xFF" "cd", 5);
	assert_string_equal(s, "ab\xEF\xBF\xBD" "cd");
	free(s);
	s = text_sanitize_utf8("a\0b", 3);
	assert_string_equal(s, "ab");
	free(s);
	s = text_sanitize_utf8("señor", strlen("señor"));
	assert_string_equal(s, "señor");
	free(s);
	s = text_sanitize_utf8("x\xC3", 2);
	assert_string_equal(s, "x\xEF\xBF\xBD");
	free(s);
	s = text_sanitize_utf8("\xE2\x82", 2); /* truncated 3-byte sequence: one U+FFFD */
	assert_true(text_valid_utf8(s, strlen(s)));
	free(s);
	s = text_sanitize_utf8("", 0);
	assert_string_equal(s, "");
	free(s);
}

static void test_trim(void **state)
{
	(void)state;
	char a[] = "  hola  ";
	assert_string_equal(text_trim(a), "hola");
	char b[] = "\xC2\xA0\xE2\x80\x83 propuesta\xC2\xA0\t\r\n";
	assert_string_equal(text_trim(b), "propuesta");
	char c[] = "   ";
	assert_string_equal(text_trim(c), "");
	char d[] = "señor ñ";
	assert_string_equal(text_trim(d), "señor ñ");
	char e[] = "";
	assert_string_equal(text_trim(e), "");
	char f[] = "\xEF\xBB\xBFvalor";
	assert_string_equal(text_trim(f), "valor");
	char g[] = "a b";
	assert_string_equal(text_trim(g), "a b");
}

static void test_word_len(void **state)
{
	(void)state;
	assert_int_equal(text_word_len("euros + IVA"), 5);
	assert_int_equal(text_word_len("d\xC3\xB3lares."), 8);          /* NFC ó */
	assert_int_equal(text_word_len("do\xCC\x81lares 2"), 9);        /* NFD o + U+0301 */
	assert_int_equal(text_word_len("milh\xC3\xB5" "es"), 8);
	assert_int_equal(text_word_len("EUR12000"), 3);
	assert_int_equal(text_word_len("12 EUR"), 0);
	assert_int_equal(text_word_len("\xE2\x82\xAC 12"), 0);          /* € is no letter */
	assert_int_equal(text_word_len("\xCC\x81" "a"), 0);               /* a mark alone starts none */
	assert_int_equal(text_word_len("$"), 0);
	assert_int_equal(text_word_len(""), 0);
}

static void test_istarts(void **state)
{
	(void)state;
	assert_true(text_istarts("From: x", "from:"));
	assert_true(text_istarts("RE: hola", "re:"));
	assert_false(text_istarts("Fro", "from"));
	assert_false(text_istarts(NULL, "a"));
	assert_true(text_istarts("abc", ""));
}

static int sign(int v)
{
	return (v > 0) - (v < 0);
}

static void test_natcmp(void **state)
{
	(void)state;
	/* Dovecot: unpadded microseconds */
	assert_int_equal(sign(text_natcmp("1700000000.M98765P1.h", "1700000000.M102345P1.h")), -1);
	assert_int_equal(sign(text_natcmp("1700000000.M102345P1.h", "1700000000.M98765P1.h")), 1);
	/* mbsync: _9 before _10 */
	assert_int_equal(sign(text_natcmp("1700000000.4242_9.laptop", "1700000000.4242_10.laptop")), -1);
	/* the seconds first */
	assert_int_equal(sign(text_natcmp("999999999.M9P1.h", "1000000000.M1P1.h")), -1);
	/* leading zeros do not count, strcmp() breaks the tie */
	assert_int_equal(sign(text_natcmp("x007", "x7")), -1);
	assert_int_equal(sign(text_natcmp("x7", "x007")), 1);
	assert_int_equal(sign(text_natcmp("x007", "x8")), -1);
	assert_int_equal(sign(text_natcmp("x00", "x0")), 1);   /* strcmp(): "x0" is a prefix */
	assert_int_equal(text_natcmp("a1b", "a1b"), 0);
	/* other bytes bytewise, unsigned; a prefix first */
	assert_int_equal(sign(text_natcmp("a", "b")), -1);
	assert_int_equal(sign(text_natcmp("a", "ab")), -1);
	assert_int_equal(sign(text_natcmp("a\xc3", "a~")), 1);
	assert_int_equal(sign(text_natcmp("1.h:2,S", "1.h")), 1);
	assert_int_equal(sign(text_natcmp("12", "12a")), -1);
	assert_int_equal(sign(text_natcmp("a9", "a:")), -1);
	assert_int_equal(sign(text_natcmp("a10", "a/")), 1);
	/* numbers past 64 bits */
	assert_int_equal(sign(text_natcmp("n123456789012345678901", "n123456789012345678902")), -1);
	assert_int_equal(sign(text_natcmp("n99999999999999999999", "n123456789012345678901")), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fold_basic),
		cmocka_unit_test(test_fold_nfd_input),
		cmocka_unit_test(test_fold_spaces),
		cmocka_unit_test(test_fold_mixed),
		cmocka_unit_test(test_fold_invalid_utf8),
		cmocka_unit_test(test_fold_eq),
		cmocka_unit_test(test_distance),
		cmocka_unit_test(test_valid_utf8),
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_trim),
		cmocka_unit_test(test_istarts),
		cmocka_unit_test(test_word_len),
		cmocka_unit_test(test_natcmp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
