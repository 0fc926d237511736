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

static void visible_is(const char *body, const char *want)
{
	char *v = reply_visible(body);
	if (strcmp(v, want) != 0)
		print_error("reply_visible:\n---- body\n%s\n---- got\n%s\n---- want\n%s\n----\n", body, v,
			    want);
	assert_string_equal(v, want);
	free(v);
}

/* "El gerente me escribió:" in the rep's own text is not an attribution:
 * one has a date, a time or an address (or a quote after it). */
static void test_prose_wrote(void **state)
{
	(void)state;
	static const char *const prose[] = {
		"etapa: negociación\nEl gerente de compras me escribió:\n\"Si bajan un 10% firmamos\"\n"
		"valor: 10.800 EUR",
		"nota: El cliente dijo: \"vamos a firmar en enero\"\nEl director de compras escribió:\n"
		"\"Necesitamos 10% de descuento\"\nvalor: 10.800 EUR",
		"stage: negotiation\nOn Monday the buyer wrote:\n\"We need 10% off\"\nvalue: 10800 USD",
		"etapa: demo\nEm resumo, o comprador escreveu:\n\nvalor: 10.800 EUR",
	};
	for (size_t i = 0; i < sizeof prose / sizeof prose[0]; i++)
		visible_is(prose[i], prose[i]);
	/* attributions still end the new text */
	visible_is("etapa: demo\n\nOn Monday, Nov 23, 2026 the buyer wrote:\n\nvalue: 1\n", "etapa: demo");
	visible_is("etapa: demo\n\nAna López <ana@acme.mx> escribió:\nperdido: precio\n", "etapa: demo");
	/* a long name pushes the verb alone onto the next line */
	visible_is("etapa: demo\n\nAna María Fernández de la Torre <ana.maria@acme.mx>\nescribió:\n\n"
		   "perdido: precio\n",
		   "etapa: demo");
	visible_is("etapa: demo\n\nEl lun, 23 nov 2026 a las 10:12, Ana María Fernández de la\n"
		   "Torre escribió:\n\nperdido: precio\n",
		   "etapa: demo");
	/* an address on the line before a sentence, or in a command */
	visible_is("compartir: bob@example.com\nEl gerente me escribió:\n\"Si bajan un 10%\"\nvalor: 1",
		   "compartir: bob@example.com\nEl gerente me escribió:\n\"Si bajan un 10%\"\nvalor: 1");
	visible_is("Le escribí a compras@acme.mx ayer\nEl gerente de compras me escribió:\nvalor: 1",
		   "Le escribí a compras@acme.mx ayer\nEl gerente de compras me escribió:\nvalor: 1");
	visible_is("El cliente me llamó el 23/11\nEl gerente de compras me escribió:\nvalor: 1",
		   "El cliente me llamó el 23/11\nEl gerente de compras me escribió:\nvalor: 1");
	/* an address inside the line before, not ending it */
	visible_is("Hablé con Carlos <carlos@acme.mx> ayer\ny me escribió:\netapa: propuesta",
		   "Hablé con Carlos <carlos@acme.mx> ayer\ny me escribió:\netapa: propuesta");
	/* the rep's text quoted with '>' after a line without any of them */
	visible_is("etapa: demo\nEl gerente me escribió:\n> Si bajan un 10% firmamos\nvalor: 1",
		   "etapa: demo\nvalor: 1");
}

/* Gmail in Portuguese (Portugal) and Proton Mail's footers in es/pt. */
static void test_ptpt_attribution_proton_footer(void **state)
{
	(void)state;
	visible_is("etapa: propuesta\n\nAsistente de ventas <ventas@example.com> escreveu no dia segunda,\n"
		   "23/11/2026 à(s) 08:02:\n\n> Olá Ana,\n> etapa: perdido\n",
		   "etapa: propuesta");
	visible_is("etapa: propuesta\n\nAsistente <ventas@example.com> escreveu no dia segunda, 23/11/2026 "
		   "à(s) 08:02:\nOlá Ana,\netapa: perdido\n",
		   "etapa: propuesta");
	/* the rep writing */
	visible_is("etapa: propuesta\nO comprador escreveu no dia 20:\nvalor: 10.800 EUR",
		   "etapa: propuesta\nO comprador escreveu no dia 20:\nvalor: 10.800 EUR");
	visible_is("etapa: propuesta\n\nEnviado con el correo electrónico seguro de Proton Mail.\n\n"
		   "valor: 1\n",
		   "etapa: propuesta");
	visible_is("etapa: proposta\n\nEnviado com o e-mail seguro do Proton Mail.\n\nvalor: 1\n",
		   "etapa: proposta");
}

/* A signature without "-- " ending with a legal or environmental notice
 * labelled "Nota:"/"Note:": not a note command, and where the signature is
 * cut. */
static void test_disclaimer_notes(void **state)
{
	(void)state;
	visible_is("etapa: propuesta\n\nSaludos cordiales,\nAna López\nEjecutiva de Ventas\n\n"
		   "NOTA: Este mensaje y sus anexos son confidenciales y para uso exclusivo del destinatario.\n"
		   "AVISO DE CONFIDENCIALIDAD: La información contenida en este correo es privada.\n",
		   "etapa: propuesta\n\nSaludos cordiales,\nAna López\nEjecutiva de Ventas");
	visible_is("etapa: propuesta\n\nSaludos,\nAna\nNota: Antes de imprimir este correo, piense en el "
		   "medio ambiente.\n",
		   "etapa: propuesta\n\nSaludos,\nAna");
	visible_is("etapa: proposta\n\nLuís\nNota: Esta mensagem e os seus anexos são confidenciais.\n",
		   "etapa: proposta\n\nLuís");
	visible_is("stage: proposal\n\nBob\nNote: This email and any attachments are confidential and\n"
		   "intended solely for the addressee.\n",
		   "stage: proposal\n\nBob");
	visible_is("etapa: propuesta\n\nNota legal: este mensaje es confidencial.\n", "etapa: propuesta");
	/* a note, then a notice of its own without a label */
	visible_is("nota: llamar al cliente el lunes\nEste mensaje es confidencial y para el destinatario.",
		   "nota: llamar al cliente el lunes\nEste mensaje es confidencial y para el destinatario.");
	/* the rep's notes stay */
	static const char *const notes[] = {
		"nota: el cliente quiere que la propuesta sea confidencial",
		"nota: este correo lo reenvío a compras",
		"Note: this email confirms the call on Monday",
		"nota: el cliente pidió revisar los anexos del contrato",
		"nota: le reenvié este correo con los adjuntos al director de compras",
		"nota: el contrato es confidencial, lo firman el lunes\nLos anexos llegan mañana.",
	};
	for (size_t i = 0; i < sizeof notes / sizeof notes[0]; i++) {
		visible_is(notes[i], notes[i]);
		struct command_list l;
		parse_n(&l, notes[i], 1);
		assert_int_equal(l.v[0].kind, CMD_NOTE);
		commands_free(&l);
	}
}

/* What a client marks as the writer's signature in its HTML starts with a
 * "-- " line: Gmail's gmail_signature, new Outlook's id="Signature".  Not
 * one inside a quote. */
static void test_html_signature(void **state)
{
	(void)state;
	static const char *const html[] = {
		"<div dir=\"ltr\"><div>etapa: propuesta</div><div><br></div><div>Saludos,</div><div>"
		"<div dir=\"ltr\" class=\"gmail_signature\" data-smartmail=\"gmail_signature\"><div dir=\"ltr\">"
		"Ana López<div>Nota: Antes de imprimir este correo, piense en el medio ambiente.</div></div></div>"
		"</div></div>",
		"<div class=\"elementToProof\">etapa: propuesta</div><div class=\"elementToProof\"><br></div>"
		"<div id=\"Signature\" class=\"elementToProof\"><p style=\"margin:0\">Saludos,</p>"
		"<p style=\"margin:0\">Nota: quieren demo</p></div>",
	};
	for (size_t i = 0; i < sizeof html / sizeof html[0]; i++) {
		char *t = html_to_text(html[i], strlen(html[i]));
		char *v = reply_visible(t);
		if (strncmp(v, "etapa: propuesta", 16) || strstr(v, "Nota"))
			print_error("---- text\n%s\n---- visible\n%s\n", t, v);
		assert_null(strstr(v, "Nota"));
		assert_int_equal(strncmp(v, "etapa: propuesta", 16), 0);
		free(v);
		free(t);
	}
	/* a signature in the quoted message: the new text keeps its lines */
	const char *q = "<div>etapa: propuesta</div><blockquote><div class=\"gmail_signature\">Cliente</div>"
			"</blockquote><div>valor: 1</div><div class=\"gmail_signature\">Ana</div>";
	char *t = html_to_text(q, strlen(q));
	char *v = reply_visible(t);
	assert_string_equal(v, "etapa: propuesta\nvalor: 1");
	free(v);
	free(t);
}

static void parse_wrapped_n(struct command_list *l, const char *text, bool wrapped, size_t n)
{
	commands_parse_wrapped(text, TODAY, wrapped ? 78 : 0, l);
	if (l->n != n)
		print_error("\"%s\": %zu commands, want %zu\n", text, l->n, n);
	assert_int_equal(l->n, n);
}

/* Gmail's text/plain alternative is hard-wrapped at 78 columns: a long
 * note's or task's end is on the next line(s). */
static void test_wrapped_free_text(void **state)
{
	(void)state;
	const char *gmail = "nota: El cliente pidió revisar los términos de pago antes de firmar el\n"
			    "contrato en enero\n"
			    "tarea: Enviar la propuesta revisada con el descuento del 10% al área de\n"
			    "compras @ viernes\n"
			    "etapa: negociación\n";
	struct command_list l;
	/* a command under a long line is one, also with an invisible
	 * character or underlined: not the line's wrapped end */
	parse_wrapped_n(&l, "nota: El cliente pidi\xC3\xB3 revisar los t\xC3\xA9rminos de pago antes de firmar el\n"
			    "\xE2\x80\x8B" "cierre: 15/12/2026\n", true, 2);
	assert_int_equal(l.v[1].kind, CMD_CLOSE);
	commands_free(&l);
	parse_wrapped_n(&l, "nota: El cliente pidi\xC3\xB3 revisar los t\xC3\xA9rminos de pago antes de firmar el\n"
			    "_cierre: 15/12/2026_\n", true, 2);
	assert_int_equal(l.v[1].kind, CMD_CLOSE);
	commands_free(&l);
	/* Gmail wraps a line onto two or three: a fourth is prose */
	parse_wrapped_n(&l, "nota: El cliente pidi\xC3\xB3 revisar los t\xC3\xA9rminos de pago antes de firmar el\n"
			    "contratoxxxxxxxxxxxxx aaaaaaaaa bbbbbbbbbb ccccccccccc dddddddddd eeeeeeeeee\n"
			    "contratoxxxxxxxxxxxxx aaaaaaaaa bbbbbbbbbb ccccccccccc dddddddddd eeeeeeeeee\n"
			    "contratoxxxxxxxxxxxxx aaaaaaaaa bbbbbbbbbb ccccccccccc dddddddddd eeeeeeeeee\n"
			    "contratoxxxxxxxxxxxxx aaaaaaaaa bbbbbbbbbb ccccccccccc dddddddddd eeeeeeeeee\n",
			true, 1);
	assert_int_equal(l.v[0].line_no, 1);
	{
		const char *t = l.v[0].text;
		int k = 0;
		for (const char *q = t; (q = strstr(q, "contratoxx")); q++)
			k++;
		assert_int_equal(k, 3);
	}
	commands_free(&l);
	parse_wrapped_n(&l, gmail, true, 3);
	assert_int_equal(l.v[0].kind, CMD_NOTE);
	assert_string_equal(l.v[0].text,
			    "El cliente pidió revisar los términos de pago antes de firmar el contrato en enero");
	assert_int_equal(l.v[0].line_no, 1);
	assert_int_equal(l.v[1].kind, CMD_TASK);
	assert_int_equal(l.v[1].error, CMDERR_NONE);
	assert_string_equal(l.v[1].text, "Enviar la propuesta revisada con el descuento del 10% al área de compras");
	assert_string_equal(l.v[1].date, "2026-11-27");
	assert_int_equal(l.v[1].line_no, 3);
	assert_int_equal(l.v[2].kind, CMD_STAGE);
	assert_int_equal(l.v[2].line_no, 5);
	commands_free(&l);
	/* not for a format=flowed or HTML text: the rep broke those lines */
	parse_wrapped_n(&l, gmail, false, 3);
	assert_string_equal(l.v[0].text, "El cliente pidió revisar los términos de pago antes de firmar el");
	assert_string_equal(l.v[1].date, "");
	commands_free(&l);
	/* wrapped twice; a lost reason */
	parse_wrapped_n(&l,
			"perdido: El cliente eligió a la competencia porque ofrecía soporte local en\n"
			"Monterrey y un precio un 15% menor en la licencia anual, según nos dijo el\n"
			"director de compras\n\nSaludos,\nAna",
			true, 1);
	assert_string_equal(l.v[0].text, "El cliente eligió a la competencia porque ofrecía soporte local en "
					 "Monterrey y un precio un 15% menor en la licencia anual, según nos dijo el "
					 "director de compras");
	commands_free(&l);
	/* lines the rep broke: a short line, a word that would have fitted, a
	 * command, a label, a list item, a sign-off, an indented line */
	static const char *const broken[] = {
		"nota: Quieren demo\nantes de fin de mes",
		"nota: El cliente pidió revisar los términos de pago antes de firmar\nel contrato",
		"nota: El cliente pidió revisar los términos de pago antes de firmar el\nvalor: 15.000 EUR",
		"nota: El cliente pidió revisar los términos de pago antes de firmar el\nTeléfono: 555 1234",
		"nota: El cliente pidió revisar los términos de pago antes de firmar el\n- contrato en enero",
		"nota: El cliente pidió revisar los términos de pago antes de firmar el\nSaludos cordiales,",
		"nota: El cliente pidió revisar los términos de pago antes de firmar el\n  contrato en enero",
		"nota: El cliente pidió revisar los términos de pago antes de firmar el\nDeshacer",
	};
	for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
		commands_parse_wrapped(broken[i], TODAY, 78, &l);
		assert_true(l.n >= 1);
		const char *nl = strchr(broken[i], '\n');
		if (strlen(l.v[0].line) != (size_t)(nl - broken[i]))
			print_error("\"%s\": joined to \"%s\"\n", broken[i], l.v[0].line);
		assert_int_equal(strlen(l.v[0].line), (size_t)(nl - broken[i]));
		commands_free(&l);
	}
	/* a task whose date is on its line, then the rep's prose: kept alone */
	parse_wrapped_n(&l,
			"tarea: Enviar la propuesta revisada con el descuento al área @ viernes\n"
			"Seguimiento de la reunión con el director",
			true, 1);
	assert_int_equal(l.v[0].error, CMDERR_NONE);
	assert_string_equal(l.v[0].date, "2026-11-27");
	commands_free(&l);
	/* values that are not free text are not joined */
	parse_wrapped_n(&l,
			"etapa: propuesta enviada al cliente después de la reunión del lunes\n"
			"posteriormente con el director",
			true, 1);
	assert_string_equal(l.v[0].value, "propuesta enviada al cliente después de la reunión del lunes");
	commands_free(&l);
	/* the same line as a note is joined (the test above is not vacuous) */
	parse_wrapped_n(&l,
			"nota: propuesta enviada al cliente después de la reunión del lunes\n"
			"posteriormente con el director",
			true, 1);
	assert_string_equal(l.v[0].text, "propuesta enviada al cliente después de la reunión del lunes "
					 "posteriormente con el director");
	commands_free(&l);
}

/* Which texts may be hard-wrapped: a text/plain part that is not
 * format=flowed (Gmail's), not a flowed one (Thunderbird, Apple Mail), not
 * HTML. */
static void test_text_wrapped(void **state)
{
	(void)state;
	/* only Gmail hard-wraps (its Message-IDs), and only a text with no line
	 * longer than 78 columns was wrapped at all (iPhone, Outlook: long lines) */
	static const char *const long_line = "nota: una nota larga que el iPhone no corta en ninguna columna, como "
					     "tampoco lo hace Outlook";
	static const struct {
		const char *ct, *id, *body;
		bool wrapped;
	} t[] = {
		{"text/plain; charset=UTF-8", "<CAF0x@mail.gmail.com>", "nota: hola", true},
		{"text/plain; charset=UTF-8", "<A1B2@iphone.example.com>", "nota: hola", false},
		{"text/plain; charset=UTF-8", "<CAF0x@mail.gmail.com>", long_line, false},
		{"text/plain; charset=UTF-8; format=flowed", "<CAF0x@mail.gmail.com>", "nota: hola", false},
		{"text/plain; charset=UTF-8; format=flowed; delsp=yes", "<CAF0x@mail.gmail.com>", "nota: hola", false},
		{"text/html; charset=UTF-8", "<CAF0x@mail.gmail.com>", "nota: hola", false},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char raw[512];
		snprintf(raw, sizeof raw,
			 "From: Ana <ana@example.com>\r\nTo: ventas@example.com\r\nSubject: x\r\nMessage-ID: %s\r\n"
			 "MIME-Version: 1.0\r\nContent-Type: %s\r\n\r\n%s\r\n",
			 t[i].id, t[i].ct, t[i].body);
		struct message *m = NULL;
		assert_int_equal(message_parse(raw, strlen(raw), NULL, &m, NULL), MESSAGE_OK);
		assert_int_equal(m->text_wrapped != 0, t[i].wrapped);
		message_free(m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_close_date_labels),
		cmocka_unit_test(test_emphasised_line),
		cmocka_unit_test(test_prose_wrote),
		cmocka_unit_test(test_ptpt_attribution_proton_footer),
		cmocka_unit_test(test_disclaimer_notes),
		cmocka_unit_test(test_html_signature),
		cmocka_unit_test(test_wrapped_free_text),
		cmocka_unit_test(test_text_wrapped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
