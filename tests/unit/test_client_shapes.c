/* test_client_shapes.c — what an audit of real clients' reply formats found
 * (reply.c, command.c, message.c): command lines as Gmail, Outlook and
 * Thunderbird write them, and the prose and signatures around them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "command.h"
#include "message.h"
#include "reply.h"

#define TODAY "2026-11-23"

/* Parse text that must yield exactly n commands. */
static void parse_n(struct command_list *l, const char *text, size_t n)
{
	commands_parse(text, TODAY, l);
	if (l->n != n)
		print_error("\"%s\": %zu commands, want %zu\n", text, l->n, n);
	assert_int_equal(l->n, n);
}

/* "Fecha de cierre:", "Data de fechamento:", "Close date:": a form's or a
 * CRM's label for the close date is the close keyword. */
static void test_close_date_labels(void **state)
{
	(void)state;
	static const char *const lines[] = {
		"Fecha de cierre: 15/12/2026", "fecha cierre: 15/12/2026", "FECHA DE CIERRE: 15/12/2026",
		"Data de fechamento: 15/12/2026", "Data de fecho: 15/12/2026", "Close date: 2026-12-15",
		"Closing date: 15 Dec 2026", "Expected close date: 2026-12-15", "*Fecha de cierre:* 15/12/2026",
		"- Fecha  de  cierre: 15/12/2026", "#1 Close date: 2026-12-15",
	};
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		struct command_list l;
		parse_n(&l, lines[i], 1);
		assert_int_equal(l.v[0].kind, CMD_CLOSE);
		assert_int_equal(l.v[0].error, CMDERR_NONE);
		assert_string_equal(l.v[0].date, "2026-12-15");
		commands_free(&l);
	}
	/* not a label: other words after "close" or "fecha" */
	static const char *const not[] = {
		"Close dates: 2026-12-15", "Fecha de cierre estimada", "Fecha de cierre", "Closing the deal: soon",
	};
	for (size_t i = 0; i < sizeof not / sizeof not[0]; i++) {
		struct command_list l;
		parse_n(&l, not[i], 0);
		commands_free(&l);
	}
}

/* A whole line in bold (Gmail's plain part: "*cierre: 15/12/2026*"),
 * underlined or in italics (Thunderbird: "_…_", "/…/") reads as without. */
static void test_emphasised_line(void **state)
{
	(void)state;
	struct command_list l;
	parse_n(&l, "*etapa: propuesta*\n*valor:* 15.000 EUR\n*cierre: 15/12/2026*\n"
		    "**probabilidad: 60%**\n_cierre: 15/12/2026_\n/valor: 15.000 EUR/\n"
		    "  *tarea: Llamar a compras @ viernes*  ",
		7);
	assert_int_equal(l.v[0].kind, CMD_STAGE);
	assert_string_equal(l.v[0].text, "propuesta");
	assert_int_equal(l.v[1].error, CMDERR_NONE);
	assert_int_equal(l.v[2].error, CMDERR_NONE);
	assert_string_equal(l.v[2].date, "2026-12-15");
	assert_int_equal(l.v[3].error, CMDERR_NONE);
	assert_int_equal(l.v[3].percent, 60);
	assert_string_equal(l.v[4].date, "2026-12-15");
	assert_int_equal(l.v[5].error, CMDERR_NONE);
	assert_true(l.v[5].amount == 15000.0);
	assert_int_equal(l.v[6].error, CMDERR_NONE);
	assert_string_equal(l.v[6].text, "Llamar a compras");
	assert_string_equal(l.v[6].date, "2026-11-27");
	commands_free(&l);
	/* emphasis of a part of the line stays in the value */
	parse_n(&l, "*nota:* muy *importante*", 1);
	assert_string_equal(l.v[0].text, "muy *importante*");
	commands_free(&l);
	parse_n(&l, "nota: ver archivo_final_v2_", 1);
	assert_string_equal(l.v[0].text, "ver archivo_final_v2_");
	commands_free(&l);
	parse_n(&l, "*Saludos*\n__________\n/home/ana/", 0);
	commands_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_close_date_labels),
		cmocka_unit_test(test_emphasised_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
