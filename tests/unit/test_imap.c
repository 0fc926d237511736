/* test_imap.c — mailbox names on the wire: modified UTF-7 (RFC 3501 5.1.3).
 * The vectors were checked against Python's UTF-16 and base64, and include
 * RFC 3501's own example. */
#include "imap.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

static void check(const char *in, const char *want)
{
	char *got = imap_mutf7(in);
	assert_string_equal(got, want);
	free(got);
}

static void test_mutf7(void **state)
{
	(void)state;
	check("INBOX", "INBOX");
	check("", "");
	check("Año", "A&APE-o");
	check("Negociação", "Negocia&AOcA4w-o");
	check("R&D", "R&-D");
	check("Procesados/Año", "Procesados/A&APE-o");
	check("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
	      "~peter/mail/&U,BTFw-/&ZeVnLIqe-");   /* RFC 3501's example */
	check("\xf0\x9f\x98\x80 ok", "&2D3eAA- ok");  /* outside the BMP: a surrogate pair */
	check("A\xe7\xe3o", "A&AOcA4w-o");           /* Latin-1, not UTF-8 */
	check("Ação/Ganhos & Perdas", "A&AOcA4w-o/Ganhos &- Perdas");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mutf7),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
