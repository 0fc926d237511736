/* test_command.c — command.c: SPEC §3.5 grammar, aliases, typed values. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "command.h"

#define TODAY "2026-11-23"

/* Parse one text that must yield exactly one command; returns it in *l. */
static struct command *one(struct command_list *l, const char *text)
{
	commands_parse(text, TODAY, l);
	if (l->n != 1)
		print_error("\"%s\": %zu commands\n", text, l->n);
	assert_int_equal(l->n, 1);
	return &l->v[0];
}

static void none(const char *text)
{
	struct command_list l;
	commands_parse(text, TODAY, &l);
	if (l.n != 0)
		print_error("\"%s\": expected no command, got %s\n", text,
			    command_keyword(l.v[0].kind));
	assert_int_equal(l.n, 0);
	commands_free(&l);
}

static void kind_is(const char *text, enum cmd_kind kind)
{
	struct command_list l;
	struct command *c = one(&l, text);
	if (c->kind != kind)
		print_error("\"%s\": kind %s, want %s\n", text, command_keyword(c->kind),
			    command_keyword(kind));
	assert_int_equal(c->kind, kind);
	commands_free(&l);
}

static void test_aliases(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		enum cmd_kind kind;
	} t[] = {
		{"stage: demo", CMD_STAGE}, {"etapa: propuesta", CMD_STAGE},
		{"estágio: proposta", CMD_STAGE}, {"estagio: proposta", CMD_STAGE},
		{"Estágio: proposta", CMD_STAGE}, {"ESTÁGIO: proposta", CMD_STAGE},
		{"Esta\xCC\x81gio: proposta", CMD_STAGE}, /* NFD */
		{"fase: demo", CMD_STAGE}, {"ETAPA: propuesta", CMD_STAGE}, {"Stage: demo", CMD_STAGE},
		{"won: price", CMD_WON}, {"ganado: precio", CMD_WON}, {"ganho: preço", CMD_WON},
		{"Ganamos: relación", CMD_WON},
		{"lost: price", CMD_LOST}, {"perdido: precio", CMD_LOST}, {"perdida: precio", CMD_LOST},
		{"Perdemos: competencia", CMD_LOST},
		{"value: 12000", CMD_VALUE}, {"valor: 12.000", CMD_VALUE}, {"importe: 5000", CMD_VALUE},
		{"amount: 5000", CMD_VALUE}, {"Monto: 5000", CMD_VALUE},
		{"close: 2026-12-15", CMD_CLOSE}, {"cierre: 15/12/2026", CMD_CLOSE},
		{"fechamento: 15/12/2026", CMD_CLOSE}, {"Fecha: +14d", CMD_CLOSE},
		{"probability: 60%", CMD_PROBABILITY}, {"probabilidad: 60%", CMD_PROBABILITY},
		{"Probabilidade: 60%", CMD_PROBABILITY},
		{"owner: ana@example.com", CMD_OWNER}, {"asignar: Ana", CMD_OWNER},
		{"responsable: Ana", CMD_OWNER}, {"responsável: Ana", CMD_OWNER},
		{"RESPONSAVEL: Ana", CMD_OWNER},
		{"share: bob", CMD_SHARE}, {"compartir: bob", CMD_SHARE},
		{"compartilhar: bob", CMD_SHARE},
		{"task: call", CMD_TASK}, {"tarea: llamar", CMD_TASK}, {"tarefa: ligar", CMD_TASK},
		{"note: hi", CMD_NOTE}, {"nota: hola", CMD_NOTE},
		{"score: +5", CMD_SCORE}, {"puntos: +5", CMD_SCORE}, {"pontos: -3", CMD_SCORE},
		{"deal: Acme", CMD_DEAL}, {"oportunidad: Acme", CMD_DEAL},
		{"oportunidade: Acme", CMD_DEAL},
		{"drip: stop", CMD_DRIP}, {"secuencia: parar", CMD_DRIP},
		{"sequência: parar", CMD_DRIP}, {"SEQUENCIA: stop", CMD_DRIP},
		{"help:", CMD_HELP}, {"ayuda:", CMD_HELP}, {"ajuda:", CMD_HELP},
		{"undo:", CMD_UNDO}, {"deshacer:", CMD_UNDO}, {"desfazer:", CMD_UNDO},
		{"history:", CMD_HISTORY}, {"historial:", CMD_HISTORY}, {"histórico:", CMD_HISTORY},
		{"Historico:", CMD_HISTORY},
		{"list:", CMD_LIST}, {"lista: propuesta", CMD_LIST}, {"deals:", CMD_LIST},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		kind_is(t[i].line, t[i].kind);
}

static void test_standalone(void **state)
{
	(void)state;
	kind_is("help", CMD_HELP);
	kind_is("Ayuda", CMD_HELP);
	kind_is("AJUDA", CMD_HELP);
	kind_is("undo", CMD_UNDO);
	kind_is("Deshacer", CMD_UNDO);
	kind_is("desfazer", CMD_UNDO);
	kind_is("history", CMD_HISTORY);
	kind_is("Histórico", CMD_HISTORY);
	kind_is("lista", CMD_LIST);
	kind_is("deals", CMD_LIST);
	kind_is("  help  ", CMD_HELP);
	kind_is("help.", CMD_HELP);
	kind_is("- lista", CMD_LIST);
	kind_is("#12 history", CMD_HISTORY);
	/* other keywords need a ':' */
	none("etapa");
	kind_is("Ganamos", CMD_WON);   /* won and lost alone: a reason may follow */
	none("nota");
	none("valor");
	none("help me please");
	none("lista de precios");
}

static void test_not_commands(void **state)
{
	(void)state;
	none("");
	none("Hola Juan, te escribo para confirmar la reunión.");
	none("Hola:");
	none("Saludos");
	none("Re: propuesta");
	none("https://example.com/a:b");
	none("La etapa: propuesta");      /* keyword must start the line */
	none("estado: propuesta");        /* not an alias */
	none("stages: demo");
	none("12:30 reunión");
	none("> etapa: propuesta");       /* quoted (reply.c drops it anyway) */
	none("Deal #12 — etapa propuesta");
	none("\xFF\xFE garbage: x");
}

static void test_fields(void **state)
{
	(void)state;
	struct command_list l;
	struct command *c = one(&l, "  Etapa : Propuesta enviada.  ");
	assert_int_equal(c->kind, CMD_STAGE);
	assert_int_equal(c->line_no, 1);
	assert_string_equal(c->line, "Etapa : Propuesta enviada.");
	assert_string_equal(c->keyword, "Etapa");
	assert_string_equal(c->value, "Propuesta enviada.");
	assert_string_equal(c->text, "Propuesta enviada");
	assert_int_equal(c->deal_tag, 0);
	assert_int_equal(c->error, CMDERR_NONE);
	commands_free(&l);
	assert_null(l.v);
	assert_int_equal(l.n, 0);

	c = one(&l, "estágio=negociação");
	assert_string_equal(c->keyword, "estágio");
	assert_string_equal(c->text, "negociação");
	commands_free(&l);

	c = one(&l, "etapa\xEF\xBC\x9A propuesta"); /* full-width colon */
	assert_int_equal(c->kind, CMD_STAGE);
	assert_string_equal(c->text, "propuesta");
	commands_free(&l);

	c = one(&l, "etapa:\xC2\xA0propuesta\xC2\xA0"); /* NBSP */
	assert_string_equal(c->text, "propuesta");
	commands_free(&l);

	c = one(&l, "*Etapa:* demo"); /* bold from HTML */
	assert_int_equal(c->kind, CMD_STAGE);
	assert_string_equal(c->text, "demo");
	commands_free(&l);

	c = one(&l, "etapa: demo\r");
	assert_string_equal(c->text, "demo");
	commands_free(&l);
}

static void test_bullets_and_tags(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		long tag;
		enum cmd_kind kind;
	} t[] = {
		{"- etapa: demo", 0, CMD_STAGE},
		{"* etapa: demo", 0, CMD_STAGE},
		{"• etapa: demo", 0, CMD_STAGE},
		{"   - etapa: demo", 0, CMD_STAGE},
		{"#12 stage: demo", 12, CMD_STAGE},
		{"#12 lost: price", 12, CMD_LOST},
		{"[#12] lost: price", 12, CMD_LOST},
		{"[deal #12] lost: price", 12, CMD_LOST},
		{"[Deal #7] etapa: demo", 7, CMD_STAGE},
		{"[DEAL#7] etapa: demo", 7, CMD_STAGE},
		{"[oportunidad #345] etapa: demo", 345, CMD_STAGE},
		{"[Oportunidade #9] estágio: demo", 9, CMD_STAGE},
		{"- [deal #12] valor: 5000", 12, CMD_VALUE},
		{"• #40 ganado: precio", 40, CMD_WON},
		{"[ deal # 12 ] etapa: demo", 12, CMD_STAGE},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct command_list l;
		struct command *c = one(&l, t[i].line);
		if (c->deal_tag != t[i].tag || c->kind != t[i].kind)
			print_error("\"%s\": tag %ld kind %s\n", t[i].line, c->deal_tag,
				    command_keyword(c->kind));
		assert_int_equal(c->deal_tag, t[i].tag);
		assert_int_equal(c->kind, t[i].kind);
		commands_free(&l);
	}
	none("[proyecto #12] etapa: demo");
	none("-etapa demo");
}

static void test_multi_line(void **state)
{
	(void)state;
	struct command_list l;
	commands_parse("Hola equipo,\n\n"
		       "etapa: propuesta\n"
		       "valor: 12.000,50 EUR\r\n"
		       "cierre: 15/12/2026\n"
		       "Gracias!\n"
		       "#13 lost: precio\n"
		       "tarea: llamar a Ana @ mañana",
		       TODAY, &l);
	assert_int_equal(l.n, 5);
	assert_int_equal(l.v[0].kind, CMD_STAGE);
	assert_int_equal(l.v[0].line_no, 3);
	assert_int_equal(l.v[1].kind, CMD_VALUE);
	assert_int_equal(l.v[1].line_no, 4);
	assert_true(fabs(l.v[1].amount - 12000.5) < 1e-9);
	assert_string_equal(l.v[1].currency, "EUR");
	assert_int_equal(l.v[2].kind, CMD_CLOSE);
	assert_string_equal(l.v[2].date, "2026-12-15");
	assert_int_equal(l.v[3].kind, CMD_LOST);
	assert_int_equal(l.v[3].deal_tag, 13);
	assert_int_equal(l.v[3].line_no, 7);
	assert_string_equal(l.v[3].text, "precio");
	assert_int_equal(l.v[4].kind, CMD_TASK);
	assert_string_equal(l.v[4].text, "llamar a Ana");
	assert_string_equal(l.v[4].date, "2026-11-24");
	commands_free(&l);

	commands_parse("", TODAY, &l);
	assert_int_equal(l.n, 0);
	commands_free(&l);
	commands_parse(NULL, TODAY, &l);
	assert_int_equal(l.n, 0);
	commands_free(&l);
}

static void test_values_text(void **state)
{
	(void)state;
	struct command_list l;
	struct command *c;

	c = one(&l, "lost: price.");
	assert_string_equal(c->text, "price");
	assert_string_equal(c->value, "price.");
	assert_int_equal(c->error, CMDERR_NONE);
	commands_free(&l);

	c = one(&l, "won:");
	assert_string_equal(c->text, "");
	assert_int_equal(c->error, CMDERR_NONE);
	commands_free(&l);

	c = one(&l, "perdido:   ");
	assert_string_equal(c->text, "");
	assert_int_equal(c->error, CMDERR_NONE);
	commands_free(&l);

	c = one(&l, "owner: ana@example.com");
	assert_string_equal(c->text, "ana@example.com");
	commands_free(&l);

	c = one(&l, "compartir: Bob Pérez");
	assert_string_equal(c->text, "Bob Pérez");
	commands_free(&l);

	c = one(&l, "nota: el cliente pide descuento: 10%");
	assert_string_equal(c->text, "el cliente pide descuento: 10%");
	commands_free(&l);

	c = one(&l, "list: propuesta");
	assert_string_equal(c->text, "propuesta");
	commands_free(&l);

	c = one(&l, "list");
	assert_string_equal(c->text, "");
	assert_string_equal(c->value, "");
	commands_free(&l);

	c = one(&l, "help");
	assert_non_null(c->text);
	assert_int_equal(c->error, CMDERR_NONE);
	commands_free(&l);
}

static void test_empty_values(void **state)
{
	(void)state;
	static const char *const lines[] = {
		"stage:", "etapa: .", "value:", "close:", "probability:", "owner:", "share:",
		"task:", "note:", "score:", "deal:", "drip:", "tarea:   ",
	};
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		struct command_list l;
		struct command *c = one(&l, lines[i]);
		if (c->error != CMDERR_EMPTY)
			print_error("\"%s\": error %d\n", lines[i], c->error);
		assert_int_equal(c->error, CMDERR_EMPTY);
		assert_non_null(c->text);
		commands_free(&l);
	}
}

static void test_value_command(void **state)
{
	(void)state;
	struct command_list l;
	struct command *c = one(&l, "valor: R$ 3.200,00");
	assert_int_equal(c->error, CMDERR_NONE);
	assert_true(fabs(c->amount - 3200) < 1e-9);
	assert_string_equal(c->currency, "BRL");
	commands_free(&l);

	c = one(&l, "valor: 12.000 EUR.");
	assert_int_equal(c->error, CMDERR_NONE);
	assert_true(fabs(c->amount - 12000) < 1e-9);
	assert_string_equal(c->currency, "EUR");
	commands_free(&l);

	c = one(&l, "valor: 12..");
	assert_int_equal(c->error, CMDERR_AMOUNT);
	commands_free(&l);

	c = one(&l, "valor: doce mil");
	assert_int_equal(c->error, CMDERR_AMOUNT);
	commands_free(&l);

	c = one(&l, "importe: -500");
	assert_int_equal(c->error, CMDERR_AMOUNT);
	commands_free(&l);

	/* NFD accents, remarks, "mil", Latin American signs, as a rep's line */
	static const struct {
		const char *line;
		double want;
		const char *cur;
	} ok[] = {
		{"valor: 1.500 do\xCC\x81lares", 1500, "USD"},
		{"valor: 15.000 \xE2\x82\xAC + IVA", 15000, "EUR"},
		{"valor: 15.000 EUR sin IVA.", 15000, "EUR"},
		{"valor: 15.000 \xE2\x82\xAC, sin IVA (precio de lista)", 15000, "EUR"},
		{"valor: R$ 3.200,00 + impostos", 3200, "BRL"},
		{"amount: USD 1,500 plus tax", 1500, "USD"},
		{"valor: R$ 15 mil", 15000, "BRL"},
		{"valor: 15 mil euros.", 15000, "EUR"},
		{"importe: 1,5 millones", 1500000, ""},
		{"valor: U$ 1.500", 1500, "USD"},
		{"valor: $15,000.00 M.N.", 15000, "MXN"},
		{"valor: S/. 1.500", 1500, "PEN"},
		{"valor: \"15.000 EUR + IVA\"", 15000, "EUR"},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		c = one(&l, ok[i].line);
		if (c->error != CMDERR_NONE || fabs(c->amount - ok[i].want) > 1e-6 || strcmp(c->currency, ok[i].cur))
			print_error("\"%s\": error %d, %f \"%s\"\n", ok[i].line, c->error, c->amount, c->currency);
		assert_int_equal(c->error, CMDERR_NONE);
		assert_true(fabs(c->amount - ok[i].want) < 1e-6);
		assert_string_equal(c->currency, ok[i].cur);
		commands_free(&l);
	}

	/* "15m": its own error, saying how to write it */
	static const char *const small_m[] = {"valor: 15m", "valor: 15m.", "valor: 1,5m EUR", "valor: $15m"};
	for (size_t i = 0; i < sizeof small_m / sizeof small_m[0]; i++) {
		c = one(&l, small_m[i]);
		assert_int_equal(c->error, CMDERR_AMOUNT_M);
		commands_free(&l);
	}
	c = one(&l, "valor: 15M");
	assert_int_equal(c->error, CMDERR_NONE);
	assert_true(fabs(c->amount - 15e6) < 1e-6);
	commands_free(&l);
	c = one(&l, "valor: 15m 25");
	assert_int_equal(c->error, CMDERR_AMOUNT);
	commands_free(&l);

	c = one(&l, "valor: 15.000 25.000");
	assert_int_equal(c->error, CMDERR_AMOUNT);
	commands_free(&l);
	c = one(&l, "valor: 15.000 + IVA 16%");
	assert_int_equal(c->error, CMDERR_AMOUNT);
	commands_free(&l);
}

/* A currency in the remark in parentheses is the amount's: never a bare
 * "$"'s dollar when the rep named another one. */
static void test_value_remark_currency(void **state)
{
	(void)state;
	struct command_list l;
	struct command *c;
	static const struct {
		const char *line;
		double want;
		const char *cur;
	} ok[] = {
		{"Valor: $450.000.000 (COP)", 450000000, "COP"},
		{"Valor: 185.000 (MXN)", 185000, "MXN"},
		{"Valor: $185,000.00 (pesos mexicanos)", 185000, "MXN"},
		{"Valor: $12.500.000 (ARS, sin IVA)", 12500000, "ARS"},
		{"Valor: 48.500 (EUR)", 48500, "EUR"},
		{"Valor: 450.000.000 COP (COP)", 450000000, "COP"},
		{"Valor: R$ 15.000 (reais, com impostos)", 15000, "BRL"},
		/* remarks that name no currency, as before */
		{"Valor: 15.000 EUR (sin IVA)", 15000, "EUR"},
		{"Valor: 15.000 (valor real)", 15000, ""},
		{"Valor: 15.000 (all taxes)", 15000, ""},
		{"Valor: $15,000 (con descuento)", 15000, "USD"},
		/* a conversion beside an amount that names its own */
		{"Valor: 15.000 EUR (aprox. 16.000 USD)", 15000, "EUR"},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		c = one(&l, ok[i].line);
		if (c->error != CMDERR_NONE || fabs(c->amount - ok[i].want) > 1e-6 || strcmp(c->currency, ok[i].cur))
			print_error("\"%s\": error %d, %f \"%s\"\n", ok[i].line, c->error, c->amount, c->currency);
		assert_int_equal(c->error, CMDERR_NONE);
		assert_true(fabs(c->amount - ok[i].want) < 1e-6);
		assert_string_equal(c->currency, ok[i].cur);
		commands_free(&l);
	}
	c = one(&l, "Valor: $450.000.000 (COP)");
	assert_false(c->bare_dollar);   /* not the team's "$" either */
	commands_free(&l);
	/* an acronym in capitals is no currency code */
	c = one(&l, "value: $12,000 (ALL IN)");
	assert_int_equal(c->error, CMDERR_NONE);
	assert_string_equal(c->currency, "USD");
	commands_free(&l);
	c = one(&l, "value: $12.000 (TOP PRIORITY)");
	assert_string_equal(c->currency, "USD");
	commands_free(&l);
	c = one(&l, "Valor: $12.500.000 (ARS, sin IVA)");
	assert_string_equal(c->currency, "ARS");
	commands_free(&l);
	static const char *const bad[] = {
		"Valor: US$ 15.000 (COP)",              /* two currencies */
		"Valor: 15.000 EUR (USD)",
		"Valor: $15.000 (COP o MXN)",
		"Valor: $15.000 (pesos)",                /* which pesos? */
		"Valor: 15.000 (aprox. 16.000 USD)",     /* which one is it in? */
		"Valor: $15.000 (USD 15.000)",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		c = one(&l, bad[i]);
		if (c->error != CMDERR_AMOUNT)
			print_error("\"%s\": error %d, %f \"%s\"\n", bad[i], c->error, c->amount, c->currency);
		assert_int_equal(c->error, CMDERR_AMOUNT);
		commands_free(&l);
	}
}

/* "pesos" alone is the team's currency when that is a peso, and refused
 * otherwise (which pesos?) */
static void test_pesos_of_the_team(void **state)
{
	(void)state;
	struct command_list l;
	struct command *c;
	static const char *const lines[] = {"Valor: 15.000 pesos", "Valor: $15.000 (pesos)", "Valor: 15 mil pesos",
					    "Valor: $15,000.00 pesos"};
	command_set_team_currency("mxn");
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		c = one(&l, lines[i]);
		if (c->error != CMDERR_NONE || strcmp(c->currency, "MXN"))
			print_error("\"%s\": error %d, %f \"%s\"\n", lines[i], c->error, c->amount, c->currency);
		assert_int_equal(c->error, CMDERR_NONE);
		assert_true(fabs(c->amount - 15000) < 1e-6);
		assert_string_equal(c->currency, "MXN");
		commands_free(&l);
	}
	c = one(&l, "Valor: 15.000 pesos colombianos");   /* the country still wins */
	assert_string_equal(c->currency, "COP");
	commands_free(&l);
	command_set_team_currency("EUR");
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		c = one(&l, lines[i]);
		assert_int_equal(c->error, CMDERR_AMOUNT);
		commands_free(&l);
	}
	command_set_team_currency(NULL);
	c = one(&l, lines[0]);
	assert_int_equal(c->error, CMDERR_AMOUNT);
	commands_free(&l);
}

static void test_parse_amount(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		double want;
		const char *cur;
	} ok[] = {
		{"12000", 12000, ""},
		{"12.000", 12000, ""},
		{"12,000", 12000, ""},
		{"12.000,50 EUR", 12000.50, "EUR"},
		{"12,000.50", 12000.50, ""},
		{"$12,000.50", 12000.50, "USD"},
		{"€ 1.500", 1500, "EUR"},
		{"1.500 €", 1500, "EUR"},
		{"1.500\xC2\xA0€", 1500, "EUR"},
		{"1.500€", 1500, "EUR"},
		{"R$ 3.200,00", 3200, "BRL"},
		{"R$3.200,00", 3200, "BRL"},
		{"USD 5,000", 5000, "USD"},
		{"usd 5,000", 5000, "USD"},
		{"5,000 usd", 5000, "USD"},
		{"MXN 250,000", 250000, "MXN"},
		{"250.000 MXN", 250000, "MXN"},
		{"MX$ 250,000", 250000, "MXN"},
		{"US$ 1,000", 1000, "USD"},
		{"£500", 500, "GBP"},
		{"$250,000 MXN", 250000, "MXN"},
		{"12k", 12000, ""},
		{"12K EUR", 12000, "EUR"},
		{"€12k", 12000, "EUR"},
		{"12k€", 12000, "EUR"},
		{"12k\xC2\xA0€", 12000, "EUR"},
		{"1.5k", 1500, ""},
		{"2M", 2000000, ""},
		{"12,5", 12.5, ""},
		{"12.5", 12.5, ""},
		{"12.50", 12.5, ""},
		{"1.234.567", 1234567, ""},
		{"1,234,567.89", 1234567.89, ""},
		{"1.234.567,89", 1234567.89, ""},
		{"0,500", 0.5, ""},
		{"0", 0, ""},
		{"  7000  ", 7000, ""},
		{"EUR12000", 12000, "EUR"},
		{"12000EUR", 12000, "EUR"},
		{"COP 15.000.000", 15000000, "COP"},
		{"ARS 1.000,5", 1000.5, "ARS"},
		{"12 000 \xE2\x82\xAC", 12000, "EUR"},              /* space-grouped thousands */
		{"R$ 3 200,00", 3200, "BRL"},
		{"1\xC2\xA0" "234\xC2\xA0" "567,89", 1234567.89, ""},        /* NBSP */
		{"12\xE2\x80\xAF" "000 EUR", 12000, "EUR"},             /* narrow NBSP (fr) */
		{"12 000 000", 12000000, ""},
		/* the currency in words */
		{"12.000 dolares", 12000, "USD"},
		{"12.000 d\xC3\xB3lares", 12000, "USD"},
		{"12 EUROS", 12, "EUR"},
		{"1.500 euro", 1500, "EUR"},
		{"R$ 500 reais", 500, "BRL"},
		{"2,500 dollars", 2500, "USD"},
		/* ... however the accent is encoded: NFD "o" + U+0301 as macOS sends it */
		{"1.500 do\xCC\x81lares", 1500, "USD"},
		{"1.500 DO\xCC\x81LARES", 1500, "USD"},
		{"1.500 D\xC3\x93" "LAR", 1500, "USD"},
		{"1.500 Euros", 1500, "EUR"},
		{"800 soles", 800, "PEN"},
		/* a remark after the amount, without parentheses */
		{"15.000 \xE2\x82\xAC + IVA", 15000, "EUR"},
		{"15.000 \xE2\x82\xAC +IVA", 15000, "EUR"},
		{"R$ 3.200,00 + impostos", 3200, "BRL"},
		{"15.000 EUR sin IVA", 15000, "EUR"},
		{"15.000 \xE2\x82\xAC, sin IVA", 15000, "EUR"},
		{"15.000, sin IVA", 15000, ""},
		{"15.000 EUR m\xC3\xA1s IVA", 15000, "EUR"},
		{"15.000 EUR ma\xCC\x81s IVA", 15000, "EUR"},
		{"15.000 EUR mas IVA", 15000, "EUR"},
		{"USD 1,500 plus tax", 1500, "USD"},
		{"$1,500 plus taxes", 1500, "USD"},
		{"12.000 EUR; IVA incluido", 12000, "EUR"},
		{"12.000 EUR - IVA incluido", 12000, "EUR"},
		{"12.000 EUR \xE2\x80\x93 sin IVA", 12000, "EUR"},
		{"12.000 EUR \xE2\x80\x94 aprox.", 12000, "EUR"},
		{"R$ 5.000 sem impostos", 5000, "BRL"},
		{"R$ 5.000 com impostos", 5000, "BRL"},
		{"R$ 5.000 mais impostos", 5000, "BRL"},
		{"5,000 USD excl. VAT", 5000, "USD"},
		{"5,000 USD incl. VAT", 5000, "USD"},
		{"5,000 USD approx", 5000, "USD"},
		{"12 000 \xE2\x82\xAC + IVA", 12000, "EUR"},
		/* thousands and millions in words */
		{"12 mil", 12000, ""},
		{"15 mil", 15000, ""},
		{"15mil", 15000, ""},
		{"R$ 15 mil", 15000, "BRL"},
		{"15 mil euros", 15000, "EUR"},
		{"15 MIL EUROS", 15000, "EUR"},
		{"US$ 20 mil", 20000, "USD"},
		{"1,5 mil", 1500, ""},
		{"15 mil + IVA", 15000, ""},
		{"1,5 millones", 1500000, ""},
		{"1,5 millo\xCC\x81n", 1500000, ""},
		{"1 mill\xC3\xB3n", 1000000, ""},
		{"2 millones de d\xC3\xB3lares", 2000000, "USD"},
		{"2 millones de euros", 2000000, "EUR"},
		{"2 millones EUR", 2000000, "EUR"},
		{"R$ 1,5 milh\xC3\xA3o", 1500000, "BRL"},
		{"R$ 2 milh\xC3\xB5" "es", 2000000, "BRL"},
		{"1,5 milh\xC3\xA3o de reais", 1500000, "BRL"},
		{"USD 2 million", 2000000, "USD"},
		{"3 millions dollars", 3000000, "USD"},
		{"2.5 million of dollars", 2500000, "USD"},
		{"1,5M \xE2\x82\xAC", 1500000, "EUR"},
		{"1,5M\xE2\x82\xAC", 1500000, "EUR"},
		/* Latin American notations */
		{"U$ 1.500", 1500, "USD"},
		{"u$ 1.500", 1500, "USD"},
		{"U$S 1.500", 1500, "USD"},
		{"MXN$ 15,000", 15000, "MXN"},
		{"MXN$15,000", 15000, "MXN"},
		{"$15,000.00 M.N.", 15000, "MXN"},
		{"$15,000.00 M.N", 15000, "MXN"},
		{"$15,000.00 MN", 15000, "MXN"},
		{"$15,000.00 m.n.", 15000, "MXN"},
		{"15,000 M.N.", 15000, "MXN"},
		{"S/ 1.500", 1500, "PEN"},
		{"S/. 1.500", 1500, "PEN"},
		{"S/1.500", 1500, "PEN"},
		{"s/ 1.500", 1500, "PEN"},
		{"COL$ 15.000.000", 15000000, "COP"},
		{"COP$ 15.000.000", 15000000, "COP"},
		{"CLP$ 1.500.000", 1500000, "CLP"},
		{"AR$ 150.000", 150000, "ARS"},
		{"ARS$ 150.000", 150000, "ARS"},
		{"UYU$ 15.000", 15000, "UYU"},
		{"CA$ 1,500", 1500, "CAD"},
		{"A$ 1,500", 1500, "AUD"},
		{"NZ$ 1,500", 1500, "NZD"},
		{"HK$ 1,500", 1500, "HKD"},
		{"RD$ 15,000", 15000, "DOP"},
		{"$15,000 USD", 15000, "USD"},
		/* the code before the sign, as quotes and invoices write it */
		{"COP $450.000.000", 450000000, "COP"},
		{"MXN $185,000.00", 185000, "MXN"},
		{"ARS $12.500.000", 12500000, "ARS"},
		{"USD $15,000", 15000, "USD"},
		{"usd $15,000", 15000, "USD"},
		/* Argentina's ".-" after a round amount */
		{"$ 15.000.-", 15000, "USD"},
		{"USD 15.000.-", 15000, "USD"},
		/* pesos and dollars with their country */
		{"185 mil pesos mexicanos", 185000, "MXN"},
		{"450 millones de pesos colombianos", 450000000, "COP"},
		{"12.500.000 pesos argentinos", 12500000, "ARS"},
		{"3.000.000 pesos chilenos", 3000000, "CLP"},
		{"1 peso mexicano", 1, "MXN"},
		{"15.000 d\xC3\xB3lares americanos", 15000, "USD"},
		{"15.000 dolares canadienses", 15000, "CAD"},
		/* MM and mi: a million in LatAm and Brazilian business writing */
		{"USD 1.2MM", 1200000, "USD"},
		{"R$ 1,5MM", 1500000, "BRL"},
		{"USD 1.2 MM", 1200000, "USD"},
		{"R$ 1,2 mi", 1200000, "BRL"},
		/* a period or an approximation: a remark */
		{"R$ 2.500/m\xC3\xAAs", 2500, "BRL"},
		{"96.000 \xE2\x82\xAC/a\xC3\xB1o", 96000, "EUR"},
		{"96.000 \xE2\x82\xAC anuales", 96000, "EUR"},
		{"15.000 EUR mensuales", 15000, "EUR"},
		{"15.000 EUR/mes", 15000, "EUR"},
		{"USD 1,500 per month", 1500, "USD"},
		{"aprox. 96.000 \xE2\x82\xAC", 96000, "EUR"},
		{"Aprox 96.000", 96000, ""},
		{"unos 15.000 EUR", 15000, "EUR"},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		double v = -1;
		char cur[4] = "zz";
		bool r = parse_amount(ok[i].in, &v, cur);
		if (!r || fabs(v - ok[i].want) > 1e-6 || strcmp(cur, ok[i].cur))
			print_error("parse_amount(\"%s\") = %d %f \"%s\"\n", ok[i].in, r, v, cur);
		assert_true(r);
		assert_true(fabs(v - ok[i].want) < 1e-6);
		assert_string_equal(cur, ok[i].cur);
	}
	static const char *const bad[] = {
		"", "   ", "abc", "-500", "- 500", "12.000 pesos", "12,00,0",
		"1.2.3,4,5", "12..000", ",5", "12.", "12,", "EUR", "$", "12 euroz", "12 XYZ",
		"12 reais USD", "euros", "12 realmente",
		"€ 12 USD", "12k k", "1e5", "0x10", "1 2", "12 0000", "12 00", "five", "12/12", "12%",
		"$-5", "USD USD 5", "12kg", "12 k", "1,2.3", "12.000,50,10",
		/* a remainder that is not clearly a remark: digits, symbols, a currency
		 * or a multiplier, a word that is not one of a remark's */
		"15.000 25.000", "15.000, 25.000", "15.000 + 500", "15.000 + IVA 16%", "15.000 - 500",
		"15.000 EUR + 2.000", "15.000 + $", "15.000 + USD", "15.000 sin IVA EUR", "15.000 + pesos",
		"15.000 - mil", "15.000 \xE2\x82\xAC +", "15.000 +",
		"15.000 ,", "15.000 pesos + IVA", "15.000 + IVA x 2",
		"15.000 all taxes included", "15.000 usd plus tax", "15.000 Usd + tax",
		/* lower-case m: thousands (es "miles") or millions? */
		"15m", "15m \xE2\x82\xAC", "1,5m", "$15m",
		/* thousands or millions: one of them; "de" only before a currency */
		"15 mil millones", "2 millones de pesos", "2 millones de", "15k mil", "15 mil mil",
		"doce mil", "mil", "15 miles",
		/* S/ only before the amount, M.N. only after it */
		"1.500 S/", "M.N. 15,000", "MN 15,000",
		"U$ 1.500 EUR", "S/ 1.500 USD",
		/* "pesos" still needs its country; "mm" is no million in lower case;
		 * "/" only before a period; ".-" only right after the number */
		"12.000 pesos argentos", "15.000 pesos de", "1.2mm", "15.000/2", "15.000/mesa", "15.000 .-",
		"15.000.-500", "COP $ USD 5", "aprox.", "aprox. 15.000 25.000",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		double v;
		char cur[4];
		bool r = parse_amount(bad[i], &v, cur);
		if (r)
			print_error("parse_amount(\"%s\") accepted: %f %s\n", bad[i], v, cur);
		assert_false(r);
	}
	assert_false(parse_amount(NULL, NULL, NULL));
}

/* A bare "$" is USD, unless the team's currency is one written "$". */
static void test_dollar_currency(void **state)
{
	(void)state;
	static const char *const dollar_sign[] = {"MXN", "COP", "CLP", "ARS", "UYU", "CAD", "AUD",
						  "NZD", "SGD", "HKD", "DOP", "USD"};
	for (size_t i = 0; i < sizeof dollar_sign / sizeof dollar_sign[0]; i++)
		assert_string_equal(dollar_currency(dollar_sign[i]), dollar_sign[i]);
	static const char *const other[] = {"EUR", "BRL", "GBP", "PEN", "JPY", "", "MX"};
	for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
		assert_string_equal(dollar_currency(other[i]), "USD");
	assert_string_equal(dollar_currency(NULL), "USD");

	static const struct {
		const char *in, *dollar, *cur;
	} cases[] = {
		{"$15,000.00", "MXN", "MXN"},
		{"$ 15,000", "COP", "COP"},
		{"$15k", "CLP", "CLP"},
		{"$15,000.00", NULL, "USD"},
		{"$15,000.00", "", "USD"},
		{"$15,000.00", "USD", "USD"},
		{"US$ 15,000", "MXN", "USD"},
		{"U$ 15,000", "MXN", "USD"},
		{"USD 15,000", "MXN", "USD"},
		{"$15,000 USD", "MXN", "USD"},
		{"15,000 dollars", "MXN", "USD"},
		{"$15,000 CAD", "MXN", "CAD"},
		{"15,000", "MXN", ""},
		{"15.000 EUR", "MXN", "EUR"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		double v = 0;
		char cur[4] = "zz";
		bool r = parse_amount_dollar(cases[i].in, cases[i].dollar, &v, cur);
		if (!r || strcmp(cur, cases[i].cur))
			print_error("parse_amount_dollar(\"%s\", %s) = %d \"%s\"\n", cases[i].in,
				    cases[i].dollar ? cases[i].dollar : "NULL", r, cur);
		assert_true(r);
		assert_string_equal(cur, cases[i].cur);
	}

	/* a value line says that its "$" was bare; apply resolves it */
	struct command_list l;
	struct command *c = one(&l, "valor: $15,000.00");
	assert_int_equal(c->error, CMDERR_NONE);
	assert_true(c->bare_dollar);
	assert_string_equal(c->currency, "USD");
	commands_free(&l);
	static const char *const not_bare[] = {
		"valor: US$ 15,000", "valor: $15,000 USD", "valor: 15.000 EUR", "valor: 15000",
		"valor: $15,000.00 M.N.",
	};
	for (size_t i = 0; i < sizeof not_bare / sizeof not_bare[0]; i++) {
		c = one(&l, not_bare[i]);
		assert_int_equal(c->error, CMDERR_NONE);
		assert_false(c->bare_dollar);
		commands_free(&l);
	}
}

static void date_is(const char *in, const char *want)
{
	char d[11] = "x";
	bool r = parse_date(in, TODAY, d);
	if (!r || strcmp(d, want))
		print_error("parse_date(\"%s\") = %d \"%s\", want \"%s\"\n", in, r, d, want);
	assert_true(r);
	assert_string_equal(d, want);
}

static void test_parse_date(void **state)
{
	(void)state;
	date_is("2026-12-15", "2026-12-15");
	date_is("2027-01-05", "2027-01-05");
	date_is("15/12/2026", "2026-12-15");
	date_is("12/15/2026", "2026-12-15");   /* second > 12: MM/DD */
	date_is("05/03/2027", "2027-03-05");   /* ambiguous: DD/MM */
	date_is("5/3/2027", "2027-03-05");
	date_is("15-12-2026", "2026-12-15");
	date_is("15.12.2026", "2026-12-15");
	date_is("15/12/26", "2026-12-15");
	date_is("1/2/27", "2027-02-01");
	date_is("29/02/2028", "2028-02-29");   /* leap year */
	date_is("15/12/2026.", "2026-12-15");
	date_is("+14d", "2026-12-07");
	date_is("+0d", "2026-11-23");
	date_is("+2w", "2026-12-07");
	date_is("+1m", "2026-12-23");
	date_is("+2m", "2027-01-23");
	date_is("+14 dias", "2026-12-07");
	date_is("+2 semanas", "2026-12-07");
	date_is("today", "2026-11-23");
	date_is("Hoy", "2026-11-23");
	date_is("hoje", "2026-11-23");
	date_is("tomorrow", "2026-11-24");
	date_is("mañana", "2026-11-24");
	date_is("MAÑANA", "2026-11-24");
	date_is("amanhã", "2026-11-24");
	date_is("manana", "2026-11-24");
	date_is("15/12", "2026-12-15");        /* no year: the next one */
	date_is("15/01", "2027-01-15");
	/* month names, en/es/pt */
	date_is("15 dic 2026", "2026-12-15");
	date_is("15 de diciembre de 2026", "2026-12-15");
	date_is("15 de Dezembro de 2026", "2026-12-15");
	date_is("15 dez. 2026", "2026-12-15");
	date_is("Dec 15, 2026", "2026-12-15");
	date_is("December 15th, 2026", "2026-12-15");
	date_is("1º de março de 2027", "2027-03-01");
	date_is("lunes 14 de diciembre", "2026-12-14");
	date_is("15 de enero", "2027-01-15");
	date_is("3 sept 2027", "2027-09-03");
	date_is("3-ago-27", "2027-08-03");
	/* days of the week: the next one after today (a Monday) */
	date_is("viernes", "2026-11-27");
	date_is("el martes", "2026-11-24");
	date_is("Miércoles", "2026-11-25");
	date_is("lunes", "2026-11-30");
	date_is("el lunes que viene", "2026-11-30");
	date_is("próximo domingo", "2026-11-29");
	date_is("sexta-feira", "2026-11-27");
	date_is("terça", "2026-11-24");
	date_is("next Friday", "2026-11-27");
	date_is("thu", "2026-11-26");
	date_is("sexta que vem", "2026-11-27");
	date_is("segunda-feira que vem", "2026-11-30");
	/* a day of the week before a date: the date's */
	date_is("viernes 27/11", "2026-11-27");
	date_is("vie 27/11", "2026-11-27");
	date_is("Vie. 27/11", "2026-11-27");
	date_is("viernes 18/12/2026", "2026-12-18");
	date_is("Viernes, 18/12/2026", "2026-12-18");
	date_is("el viernes 27", "2026-11-27");
	date_is("el jueves 3", "2026-12-03");
	date_is("sexta-feira, 27/11", "2026-11-27");
	date_is("Fri 11/27", "2026-11-27");
	date_is("viernes 27 de noviembre", "2026-11-27");
	date_is("mar 15", "2027-03-15");      /* March, not Tuesday */
	/* a time of day after it: a task has a day */
	date_is("27/11 10:00", "2026-11-27");
	date_is("27/11 \xC3\xA0s 10h", "2026-11-27");
	date_is("27/11 a las 10", "2026-11-27");
	date_is("27/11 10h", "2026-11-27");
	date_is("27/11 10hs", "2026-11-27");
	date_is("27/11 10h30", "2026-11-27");
	date_is("27/11, 9:30 a. m.", "2026-11-27");
	date_is("27/11 9:30am", "2026-11-27");
	date_is("27/11 3 pm", "2026-11-27");
	date_is("viernes 27/11 a las 10:30", "2026-11-27");
	date_is("ma\xC3\xB1" "ana a las 10", "2026-11-24");
	date_is("friday at 10am", "2026-11-27");
	{
		char d0[11];
		assert_false(parse_date("viernes negro", TODAY, d0));
	}

	char d[11];
	assert_true(parse_date("+1m", "2026-01-31", d));
	assert_string_equal(d, "2026-02-28");
	assert_true(parse_date("+1m", "2028-01-31", d));
	assert_string_equal(d, "2028-02-29");
	assert_true(parse_date("+1d", "2026-12-31", d));
	assert_string_equal(d, "2027-01-01");
	assert_true(parse_date("+1d", "2028-02-28", d));
	assert_string_equal(d, "2028-02-29");
	assert_true(parse_date("+12m", "2026-11-23", d));
	assert_string_equal(d, "2027-11-23");

	static const char *const bad[] = {
		"", "30/02/2026", "29/02/2027", "31/04/2026", "2026-13-01", "2026-02-30",
		"2026-00-10", "32/01/2026", "13/13/2026", "00/01/2026", "15/12/026",
		"15/12-2026", "next week", "+14", "+d", "+14x", "-14d", "2026/12", "15 dicxx 2026",
		"31 de noviembre de 2026", "15 foo 2026", "dic 2026", "15 15 dic", "15 dic jan",
		"2026-12-15T10:00", "yesterday", "+99999d", "12345", "1/2/3/4",
		/* a time alone, or a number that is no time; a weekday before a
		 * relative date */
		"10:00", "a las 10", "27/11 10", "27/11 25:00", "27/11 13pm", "27/11 10:75", "15/12 2026",
		"viernes ma\xC3\xB1" "ana", "viernes +2d", "viernes 32", "el viernes 27 negro",
		/* a day of the week that is not the date's */
		"jueves 27/11", "el jueves 27", "martes 14 de diciembre",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		bool r = parse_date(bad[i], TODAY, d);
		if (r)
			print_error("parse_date(\"%s\") accepted: %s\n", bad[i], d);
		assert_false(r);
	}
	/* no `today`: still reads absolute dates and relative ones from now */
	assert_true(parse_date("2026-12-15", NULL, d));
	assert_string_equal(d, "2026-12-15");
	assert_true(parse_date("+1d", NULL, d));
	assert_int_equal(strlen(d), 10);
}

static void test_close_command(void **state)
{
	(void)state;
	struct command_list l;
	struct command *c = one(&l, "cierre: 30/02/2026");
	assert_int_equal(c->error, CMDERR_DATE);
	commands_free(&l);
	c = one(&l, "fechamento: +14d");
	assert_int_equal(c->error, CMDERR_NONE);
	assert_string_equal(c->date, "2026-12-07");
	commands_free(&l);
	c = one(&l, "close: someday");
	assert_int_equal(c->error, CMDERR_DATE);
	commands_free(&l);
	/* a day of the week and a date that do not agree: its own error */
	c = one(&l, "Cierre: jueves 18/12/2026");
	assert_int_equal(c->error, CMDERR_WEEKDAY);
	commands_free(&l);
	c = one(&l, "Cierre: viernes 18/12/2026");
	assert_int_equal(c->error, CMDERR_NONE);
	assert_string_equal(c->date, "2026-12-18");
	commands_free(&l);
	c = one(&l, "Tarea: llamar a Valentina @ jueves 27/11");
	assert_int_equal(c->error, CMDERR_WEEKDAY);
	commands_free(&l);
	c = one(&l, "tarefa: ligar para o Jo\xC3\xA3o @ 27/11 \xC3\xA0s 10h");
	assert_int_equal(c->error, CMDERR_NONE);
	assert_string_equal(c->date, "2026-11-27");
	assert_string_equal(c->text, "ligar para o Jo\xC3\xA3o");
	commands_free(&l);
}

static void test_probability(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		int pct;
		enum cmd_error err;
	} t[] = {
		{"probability: 60%", 60, CMDERR_NONE},
		{"probabilidad: 60", 60, CMDERR_NONE},
		{"probabilidade: 60 %", 60, CMDERR_NONE},
		{"probability: 0%", 0, CMDERR_NONE},
		{"probability: 100%", 100, CMDERR_NONE},
		{"probability: 101%", 0, CMDERR_PERCENT},
		{"probability: -5%", 0, CMDERR_PERCENT},
		{"probability: alta", 0, CMDERR_PERCENT},
		{"probability: 60.5%", 0, CMDERR_PERCENT},
		{"probability: 1000", 0, CMDERR_PERCENT},
		{"probability: %60", 0, CMDERR_PERCENT},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct command_list l;
		struct command *c = one(&l, t[i].line);
		assert_int_equal(c->kind, CMD_PROBABILITY);
		if (c->error != t[i].err)
			print_error("\"%s\": error %d\n", t[i].line, c->error);
		assert_int_equal(c->error, t[i].err);
		if (t[i].err == CMDERR_NONE)
			assert_int_equal(c->percent, t[i].pct);
		commands_free(&l);
	}
}

static void test_score(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		int delta;
		enum cmd_error err;
	} t[] = {
		{"score: +5", 5, CMDERR_NONE},
		{"puntos: -10", -10, CMDERR_NONE},
		{"pontos: 5", 5, CMDERR_NONE},
		{"score: +1000", 1000, CMDERR_NONE},
		{"score: -1000", -1000, CMDERR_NONE},
		{"score: \xE2\x88\x92" "3", -3, CMDERR_NONE},
		{"score: +1001", 0, CMDERR_SCORE},
		{"score: mucho", 0, CMDERR_SCORE},
		{"score: +5.5", 0, CMDERR_SCORE},
		{"score: ++5", 0, CMDERR_SCORE},
		{"score: 5 puntos", 0, CMDERR_SCORE},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct command_list l;
		struct command *c = one(&l, t[i].line);
		if (c->error != t[i].err)
			print_error("\"%s\": error %d\n", t[i].line, c->error);
		assert_int_equal(c->error, t[i].err);
		if (t[i].err == CMDERR_NONE)
			assert_int_equal(c->delta, t[i].delta);
		commands_free(&l);
	}
}

static void test_task(void **state)
{
	(void)state;
	struct command_list l;
	struct command *c = one(&l, "task: call Ana @ 2026-12-01");
	assert_int_equal(c->error, CMDERR_NONE);
	assert_string_equal(c->text, "call Ana");
	assert_string_equal(c->date, "2026-12-01");
	commands_free(&l);

	c = one(&l, "tarea: enviar propuesta a ana@acme.mx");
	assert_int_equal(c->error, CMDERR_NONE);
	assert_string_equal(c->text, "enviar propuesta a ana@acme.mx");
	assert_string_equal(c->date, "");
	commands_free(&l);

	c = one(&l, "tarefa: ligar @ escritório @ +2d");
	assert_int_equal(c->error, CMDERR_NONE);
	assert_string_equal(c->text, "ligar @ escritório");
	assert_string_equal(c->date, "2026-11-25");
	commands_free(&l);

	c = one(&l, "task: demo @ 31/11/2026");
	assert_int_equal(c->error, CMDERR_DATE);
	commands_free(&l);

	c = one(&l, "task: demo @ someday");
	assert_int_equal(c->error, CMDERR_DATE);
	commands_free(&l);

	c = one(&l, "tarea: llamar @ hoy");
	assert_string_equal(c->date, "2026-11-23");
	commands_free(&l);
}

static void test_deal(void **state)
{
	(void)state;
	struct command_list l;
	struct command *c = one(&l, "deal: #12");
	assert_int_equal(c->error, CMDERR_NONE);
	assert_int_equal(c->deal_ref, 12);
	commands_free(&l);

	c = one(&l, "oportunidad: [deal #40]");
	assert_int_equal(c->deal_ref, 40);
	commands_free(&l);

	c = one(&l, "oportunidade: Acme Brasil — 50 licenças");
	assert_int_equal(c->error, CMDERR_NONE);
	assert_int_equal(c->deal_ref, 0);
	assert_string_equal(c->text, "Acme Brasil — 50 licenças");
	commands_free(&l);

	c = one(&l, "deal: #abc");
	assert_int_equal(c->error, CMDERR_DEAL);
	commands_free(&l);

	c = one(&l, "deal: #0");
	assert_int_equal(c->error, CMDERR_DEAL);
	commands_free(&l);
}

static void test_drip(void **state)
{
	(void)state;
	struct command_list l;
	struct command *c = one(&l, "drip: stop");
	assert_int_equal(c->error, CMDERR_NONE);
	assert_true(c->drip_stop);
	commands_free(&l);

	c = one(&l, "secuencia: Detener");
	assert_true(c->drip_stop);
	commands_free(&l);

	c = one(&l, "sequência: parar");
	assert_true(c->drip_stop);
	commands_free(&l);

	c = one(&l, "drip: start Bienvenida Clientes");
	assert_int_equal(c->error, CMDERR_NONE);
	assert_false(c->drip_stop);
	assert_string_equal(c->text, "Bienvenida Clientes");
	commands_free(&l);

	c = one(&l, "secuencia: iniciar nurture-es");
	assert_string_equal(c->text, "nurture-es");
	commands_free(&l);

	c = one(&l, "drip: start");
	assert_int_equal(c->error, CMDERR_DRIP);
	commands_free(&l);

	c = one(&l, "drip: maybe later");
	assert_int_equal(c->error, CMDERR_DRIP);
	commands_free(&l);
}

static void test_keyword_names(void **state)
{
	(void)state;
	assert_string_equal(command_keyword(CMD_STAGE), "stage");
	assert_string_equal(command_keyword(CMD_PROBABILITY), "probability");
	assert_string_equal(command_keyword(CMD_LIST), "list");
	assert_string_equal(command_keyword(CMD_DRIP), "drip");
}

/* Rough throughput check: a typical visible text, many times. */
static void test_speed(void **state)
{
	(void)state;
	const char *msg =
		"Hola equipo,\n\nHablé con el cliente hoy, está muy interesado.\n"
		"Dice que el presupuesto está aprobado para el Q1.\n\n"
		"etapa: propuesta\nvalor: 12.000 EUR\ncierre: 15/12/2026\n\n"
		"Saludos,\nAna\n";
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	int n = 20000;
	for (int i = 0; i < n; i++) {
		struct command_list l;
		commands_parse(msg, TODAY, &l);
		assert_int_equal(l.n, 3);
		commands_free(&l);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	print_message("commands_parse: %.0f msgs/s\n", n / s);
}

/* What reps add around a command: quotes, a remark in parentheses, "por
 * favor"; a deal number without '#'; won/lost alone on their line. */
static void test_rep_phrasing(void **state)
{
	(void)state;
	struct command_list l;
	struct command *c = one(&l, "\"deshacer\"");
	assert_int_equal(c->kind, CMD_UNDO);
	commands_free(&l);
	kind_is("«Deshacer»", CMD_UNDO);
	kind_is("Deshacer, por favor.", CMD_UNDO);
	kind_is("ajuda, obrigado!", CMD_HELP);
	c = one(&l, "Ganamos!");
	assert_int_equal(c->kind, CMD_WON);
	assert_string_equal(c->text, "");
	commands_free(&l);
	kind_is("Perdido.", CMD_LOST);
	c = one(&l, "Ganamos!\n\nganado: referido");   /* one command, with its reason */
	assert_string_equal(c->text, "referido");
	commands_free(&l);
	c = one(&l, "Ganamos!\nGanado.\nganado: referido");   /* two alone, one with its reason */
	assert_string_equal(c->text, "referido");
	commands_free(&l);
	none("Ganamos el partido del viernes");
	none("Deshacer lo de ayer no se puede");
	c = one(&l, "etapa: \"propuesta\"");
	assert_string_equal(c->text, "propuesta");
	commands_free(&l);
	c = one(&l, "etapa: propuesta (enviada hoy)");
	assert_string_equal(c->text, "propuesta");
	commands_free(&l);
	c = one(&l, "valor: 15.000 EUR (sin IVA)");
	assert_int_equal(c->error, CMDERR_NONE);
	assert_true(c->amount == 15000.0);
	assert_string_equal(c->currency, "EUR");
	commands_free(&l);
	c = one(&l, "deal: 2");
	assert_int_equal(c->deal_ref, 2);
	commands_free(&l);
	c = one(&l, "oportunidad: 2024 renovación");
	assert_int_equal(c->deal_ref, 0);
	assert_string_equal(c->text, "2024 renovación");
	commands_free(&l);
	c = one(&l, "tarea: @ +2d");
	assert_int_equal(c->error, CMDERR_EMPTY);
	commands_free(&l);
	commands_parse("etapa: demo\nvalr: 15.000 EUR\netpa: x\nNome: João\nTel: 555\ntareas: llamar", TODAY, &l);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.nnear, 3);
	assert_string_equal(l.near[0].keyword, "valor");
	assert_int_equal(l.near[0].line_no, 2);
	assert_string_equal(l.near[1].keyword, "etapa");
	assert_string_equal(l.near[2].keyword, "tarea");
	commands_free(&l);
	c = one(&l, "tarea: Enviar propuesta @ viernes");
	assert_string_equal(c->text, "Enviar propuesta");
	assert_string_equal(c->date, "2026-11-27");
	commands_free(&l);
}

/* Bidirectional controls pasted with a line (LRM/RLM, the embeddings and
 * overrides, the isolates, the Arabic letter mark) hide nothing, as
 * zero-width characters do not. */
static void test_bidi_controls(void **state)
{
	(void)state;
	static const char *const marks[] = {
		"\xE2\x80\x8E", "\xE2\x80\x8F",                                         /* U+200E, U+200F */
		"\xE2\x80\xAA", "\xE2\x80\xAB", "\xE2\x80\xAC", "\xE2\x80\xAD", "\xE2\x80\xAE", /* U+202A-E */
		"\xE2\x81\xA6", "\xE2\x81\xA7", "\xE2\x81\xA8", "\xE2\x81\xA9",     /* U+2066-9 */
		"\xD8\x9C",                                                             /* U+061C */
	};
	for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++) {
		char line[64];
		struct command_list l;
		snprintf(line, sizeof line, "%setapa:%s propuesta%s", marks[i], marks[i], marks[i]);
		struct command *c = one(&l, line);
		assert_int_equal(c->kind, CMD_STAGE);
		assert_string_equal(c->text, "propuesta");
		commands_free(&l);
	}
	kind_is("\xE2\x81\xA8" "etapa: propuesta\xE2\x81\xA9", CMD_STAGE);   /* FSI ... PDI */
	kind_is("\xE2\x80\xAA" "etapa: propuesta\xE2\x80\xAC", CMD_STAGE);   /* LRE ... PDF */
}

/* A query command as reps ask for it: "please"/"por favor"/"favor" before
 * it, a remark after punctuation ("Deshacer, gracias", "Undo please - wrong
 * deal"); never prose that opens with the word ("Lista de precios
 * adjunta", "Undo the damage they did"), nor another command after
 * "please" ("Please note: …"). */
static void test_polite_queries(void **state)
{
	(void)state;
	kind_is("Please undo", CMD_UNDO);
	kind_is("Please undo.", CMD_UNDO);
	kind_is("Por favor, deshacer", CMD_UNDO);
	kind_is("Por favor deshacer", CMD_UNDO);
	kind_is("Favor desfazer", CMD_UNDO);
	kind_is("Por favor, historial", CMD_HISTORY);
	kind_is("Please list", CMD_LIST);
	kind_is("Undo please - wrong deal", CMD_UNDO);
	kind_is("Deshacer, gracias", CMD_UNDO);
	kind_is("Deshacer por favor, todav\xC3\xAD" "a no tuvimos la demo", CMD_UNDO);
	kind_is("Deshacer (me equivoqu\xC3\xA9 de oportunidad)", CMD_UNDO);
	none("Historial por favor, \xC2\xBFqui\xC3\xA9n la marc\xC3\xB3 como ganada?");   /* only undo goes on */
	/* prose that opens with a query's word; an undo asked and answered */
	none("\xC2\xA1Lista! Se la mand\xC3\xA9 a Juan esta ma\xC3\xB1" "ana");
	none("\xC2\xA1Lista!");                          /* "ready!" */
	none("Lista, ya qued\xC3\xB3 la propuesta");
	none("Help! Jane says legal needs two more weeks");
	none("History, in short: they churned in 2024");
	none("Deals, in summary: two this quarter");
	none("\xC2\xBF" "Deshacer? No hace falta, est\xC3\xA1 perfecto");
	none("Undo? No need, all good. Thanks!");
	none("Deshacer? No!");
	/* a close date with a time of day is an appointment: refused, as a task's is not */
	struct command_list l;
	struct command *c = one(&l, "Fecha: jueves 26/11 a las 10:00");
	assert_int_equal(c->kind, CMD_CLOSE);
	assert_int_equal(c->error, CMDERR_DATE);
	commands_free(&l);
	c = one(&l, "tarea: llamar a Juan @ jueves 26/11 a las 10:00");
	assert_int_equal(c->error, CMDERR_NONE);
	assert_string_equal(c->date, "2026-11-26");
	commands_free(&l);
	kind_is("Lista", CMD_LIST);
	kind_is("Help!", CMD_HELP);
	kind_is("Undo \xE2\x80\x94 wrong deal", CMD_UNDO);
	none("Lista de precios adjunta");
	none("Undo the damage they did");
	none("Please note: call them on Monday");
	none("Por favor, etapa: demo");
	none("Ganada, pero falta firmar");      /* won and lost: not after a comma */
	none("Perdido! No encuentro el archivo");
	kind_is("\xC2\xA1Ganada! \xF0\x9F\x8E\x89 Firmaron esta ma\xC3\xB1" "ana.", CMD_WON);
	/* the sentence after "¡…!" is kept aside: the reason, if it names one */
	c = one(&l, "\xC2\xA1Perdimos! Se fueron con la competencia.");
	assert_int_equal(c->kind, CMD_LOST);
	assert_string_equal(c->value, "");
	assert_non_null(c->aside);
	assert_string_equal(c->aside, "Se fueron con la competencia.");
	commands_free(&l);
}

/* Keywords with the words reps and forms add ("Valor final:", "Asignar a:",
 * "status: ganho"); a keyword with other words before the separator is no
 * command, but is named as not understood. */
static void test_qualified_keywords(void **state)
{
	(void)state;
	struct command_list l;
	kind_is("Valor final: R$ 12.300,00", CMD_VALUE);
	kind_is("valor total: 15.000 EUR", CMD_VALUE);
	kind_is("valor fechado: 9000", CMD_VALUE);
	kind_is("Valor estimado: 20000", CMD_VALUE);
	kind_is("fechamento previsto: 15/01/2027", CMD_CLOSE);
	kind_is("previs\xC3\xA3o de fechamento: 15/01/2027", CMD_CLOSE);
	kind_is("data prevista de fechamento: 15/01/2027", CMD_CLOSE);
	kind_is("Fecha estimada de cierre: 15/01/2027", CMD_CLOSE);
	kind_is("Cierre estimado: 15/01/2027", CMD_CLOSE);
	kind_is("Asignar a: Diego", CMD_OWNER);
	kind_is("Compartir con: Ana", CMD_SHARE);
	kind_is("compartilhar com: Rafael", CMD_SHARE);
	/* "Status:" is won or lost only: the rest is a report's prose */
	commands_parse("Status: propuesta\nStatus: won't sign before January\nStatus: lost contact with Jane\n"
		       "Status: ganho de produtividade com o novo sistema\nStatus: waiting on their legal team\n"
		       "Status: perdido por enquanto, mas v\xC3\xA3o reabrir", TODAY, &l);
	if (l.n)
		print_error("\"%s\" read as %s\n", l.v[0].line, command_keyword(l.v[0].kind));
	assert_int_equal(l.n, 0);
	commands_free(&l);
	struct command *c = one(&l, "Status: ganho.");
	assert_int_equal(c->kind, CMD_WON);
	commands_free(&l);
	c = one(&l, "status: ganho");
	assert_int_equal(c->kind, CMD_WON);
	assert_string_equal(c->text, "");
	commands_free(&l);
	c = one(&l, "Status: perdido - precio");
	assert_int_equal(c->kind, CMD_LOST);
	assert_string_equal(c->text, "precio");
	commands_free(&l);
	c = one(&l, "Valor final: R$ 12.300,00");
	assert_true(c->amount == 12300.0);
	assert_string_equal(c->currency, "BRL");
	commands_free(&l);
	commands_parse("etapa: demo\nValor da proposta: 20000\nNota importante: llamar\n"
		       "La fecha que pidieron: viernes\nLista de precios: adjunta", TODAY, &l);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.nnear, 3);
	assert_int_equal(l.near[0].line_no, 2);
	assert_string_equal(l.near[0].keyword, "valor");
	assert_string_equal(l.near[1].keyword, "nota");
	assert_string_equal(l.near[2].keyword, "lista");
	commands_free(&l);
}

/* "Ganada" (la oportunidad), pt-BR's "Fechamos!", and a won or lost line's
 * reason on the line after it ("Perdemos." / "Motivo: preço"). */
static void test_won_lost_words(void **state)
{
	(void)state;
	struct command_list l;
	kind_is("Ganada", CMD_WON);
	kind_is("\xC2\xA1Ganada! \xF0\x9F\x8E\x89", CMD_WON);
	kind_is("Fechamos!", CMD_WON);
	struct command *c = one(&l, "Ganada: referido");
	assert_int_equal(c->kind, CMD_WON);
	assert_string_equal(c->text, "referido");
	commands_free(&l);
	c = one(&l, "Perdemos.\nMotivo: pre\xC3\xA7o");
	assert_int_equal(c->kind, CMD_LOST);
	assert_string_equal(c->text, "pre\xC3\xA7o");
	commands_free(&l);
	c = one(&l, "\xC2\xA1Ganamos!\nRaz\xC3\xB3n: referido");
	assert_string_equal(c->text, "referido");
	commands_free(&l);
	/* only on the next line: a meeting's "Motivo:" further down is not the
	 * win's reason */
	c = one(&l, "\xC2\xA1Ganamos! \xF0\x9F\x8E\x89\n\nD\xC3\xAD" "a: lunes 30/11\nLugar: sus oficinas\n"
		    "Motivo: kick-off con el equipo de TI");
	assert_int_equal(c->kind, CMD_WON);
	assert_string_equal(c->text, "");
	commands_free(&l);
	/* not after a reason given already, nor after another command */
	c = one(&l, "perdido: precio\nMotivo: tiempo");
	assert_string_equal(c->text, "precio");
	commands_free(&l);
	c = one(&l, "etapa: demo\nMotivo: precio");
	assert_int_equal(c->kind, CMD_STAGE);
	commands_free(&l);
}

/* Tags as a manager writes them answering a digest: "Deal #4 stage: …",
 * "#3: value: …", "#2 - stage: …", "Oportunidad #4 etapa: …". */
static void test_tag_variants(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		long tag;
		enum cmd_kind kind;
	} t[] = {
		{"Deal #4 stage: negotiation", 4, CMD_STAGE}, {"#3: value: 24000 USD", 3, CMD_VALUE},
		{"#2 - stage: demo", 2, CMD_STAGE},           {"Oportunidad #4 etapa: demo", 4, CMD_STAGE},
		{"Oportunidade #5 valor: 100", 5, CMD_VALUE}, {"[deal #6]: lost: price", 6, CMD_LOST},
		{"#7 \xE2\x80\x93 etapa: demo", 7, CMD_STAGE},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct command_list l;
		struct command *c = one(&l, t[i].line);
		assert_int_equal(c->deal_tag, t[i].tag);
		assert_int_equal(c->kind, t[i].kind);
		commands_free(&l);
	}
}

/* "Compartir: Ana y Diego", "share: ana@x.com, dave@x.com": one share
 * each; a name written "Last, First <address>" stays one. */
static void test_share_list(void **state)
{
	(void)state;
	struct command_list l;
	commands_parse("Compartir: ana@example.com, diego@example.com", TODAY, &l);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].text, "ana@example.com");
	assert_string_equal(l.v[1].text, "diego@example.com");
	assert_int_equal(l.v[1].line_no, 1);
	commands_free(&l);
	static const char *const two[] = {"Compartir: Ana y Diego", "Share: Ana and Dave", "Compartilhar: Ana e Lu\xC3\xADs",
					  "share: Ana <ana@x.com>; Dave <dave@x.com>"};
	for (size_t i = 0; i < sizeof two / sizeof two[0]; i++) {
		commands_parse(two[i], TODAY, &l);
		assert_int_equal(l.n, 2);
		assert_int_equal(l.v[0].kind, CMD_SHARE);
		assert_int_equal(l.v[1].kind, CMD_SHARE);
		commands_free(&l);
	}
	struct command *c = one(&l, "compartir: Souza, Lu\xC3\xADs <luis@example.com>");
	assert_string_equal(c->text, "luis@example.com");
	commands_free(&l);
	c = one(&l, "compartilhar: Maria Silva e Souza");
	assert_string_equal(c->text, "Maria Silva e Souza");
	commands_free(&l);
}

/* A lone won/lost/help line as reps write it in Spanish and Portuguese:
 * opening "¡" and "¿", an emoji, an ellipsis or more punctuation after it;
 * "Ganhamos" is Portuguese's "Ganamos".  A "¿" before a `keyword: value`
 * line is a question, not a command. */
static void test_lone_keyword_dressing(void **state)
{
	(void)state;
	struct command_list l;
	struct command *c = one(&l, "\xC2\xA1Ganamos!");
	assert_int_equal(c->kind, CMD_WON);
	assert_string_equal(c->text, "");
	commands_free(&l);
	kind_is("\xC2\xA1Perdemos!", CMD_LOST);
	kind_is("\xC2\xBF" "ayuda?", CMD_HELP);
	kind_is("\xC2\xBF" "Ayuda, por favor?", CMD_HELP);
	kind_is("Ganamos \xF0\x9F\x8E\x89", CMD_WON);                        /* party popper */
	kind_is("Ganamos\xF0\x9F\x8E\x89\xF0\x9F\x8E\x89", CMD_WON);
	kind_is("\xC2\xA1Ganamos!! \xF0\x9F\x99\x8C\xF0\x9F\x8F\xBD", CMD_WON); /* raised hands, skin tone */
	kind_is("Ganamos \xF0\x9F\x87\xB2\xF0\x9F\x87\xBD", CMD_WON);          /* a flag */
	kind_is("Ganamos \xE2\x9C\x8C\xEF\xB8\x8F", CMD_WON);                    /* U+270C U+FE0F */
	kind_is("Ganamos\xE2\x80\xA6", CMD_WON);                                    /* ellipsis */
	kind_is("Perdemos...", CMD_LOST);
	kind_is("\"\xC2\xA1Ganamos!\"", CMD_WON);
	kind_is("Ganhamos!", CMD_WON);
	kind_is("Perdemos", CMD_LOST);
	kind_is("\xC2\xA1Perdimos!", CMD_LOST);   /* Spanish's past tense */
	/* a question is not a command: "¿Ganamos?" asks */
	struct command_list q;
	commands_parse("\xC2\xBFGanamos?", "2026-11-23", &q);
	assert_int_equal(q.n, 0);
	commands_free(&q);
	commands_parse("Perdimos?", "2026-11-23", &q);
	assert_int_equal(q.n, 0);
	commands_free(&q);
	kind_is("perdimos: precio", CMD_LOST);
	c = one(&l, "ganhamos: indica\xC3\xA7\xC3\xA3o");
	assert_int_equal(c->kind, CMD_WON);
	assert_string_equal(c->text, "indica\xC3\xA7\xC3\xA3o");
	commands_free(&l);
	c = one(&l, "\xC2\xA1Ganamos! \xF0\x9F\x8E\x89\n\nganado: referido");   /* one command, with its reason */
	assert_string_equal(c->text, "referido");
	commands_free(&l);
	none("\xC2\xA1Ganamos el partido!");
	none("Ganamos \xF0\x9F\x8E\x89 el contrato");
	none("\xC2\xBF" "etapa: propuesta?");
	none("\xC2\xA1nota: hola");
	none("\xC2\xA1Hola!");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_standalone),
		cmocka_unit_test(test_not_commands),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_bullets_and_tags),
		cmocka_unit_test(test_multi_line),
		cmocka_unit_test(test_values_text),
		cmocka_unit_test(test_empty_values),
		cmocka_unit_test(test_value_command),
		cmocka_unit_test(test_parse_amount),
		cmocka_unit_test(test_value_remark_currency),
		cmocka_unit_test(test_pesos_of_the_team),
		cmocka_unit_test(test_dollar_currency),
		cmocka_unit_test(test_parse_date),
		cmocka_unit_test(test_close_command),
		cmocka_unit_test(test_probability),
		cmocka_unit_test(test_score),
		cmocka_unit_test(test_task),
		cmocka_unit_test(test_deal),
		cmocka_unit_test(test_drip),
		cmocka_unit_test(test_keyword_names),
		cmocka_unit_test(test_rep_phrasing),
		cmocka_unit_test(test_bidi_controls),
		cmocka_unit_test(test_lone_keyword_dressing),
		cmocka_unit_test(test_polite_queries),
		cmocka_unit_test(test_qualified_keywords),
		cmocka_unit_test(test_won_lost_words),
		cmocka_unit_test(test_tag_variants),
		cmocka_unit_test(test_share_list),
		cmocka_unit_test(test_speed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
