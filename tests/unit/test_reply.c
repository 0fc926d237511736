/* test_reply.c — reply.c: the visible text of real-shaped replies (Gmail,
 * Outlook desktop/365, Apple Mail, Thunderbird, iOS/Android; es, pt, en, fr)
 * and the parse of inline forwarded blocks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "reply.h"

static void visible_is(const char *body, const char *want)
{
	char *v = reply_visible(body);
	if (strcmp(v, want) != 0)
		print_error("reply_visible:\n---- body\n%s\n---- got\n%s\n---- want\n%s\n----\n",
			    body, v, want);
	assert_string_equal(v, want);
	free(v);
}

#define NEW "etapa: propuesta\nvalor: 12.000 EUR"

/* ------------------------------------------------------------- attributions */

static void test_gmail_en(void **state)
{
	(void)state;
	visible_is(NEW "\n\nOn Mon, Nov 23, 2026 at 10:00 AM Ana <ana@acme.mx> wrote:\n"
		       "> Hola,\n> etapa: perdido\n> \n> -- \n> Ana\n",
		   NEW);
}

static void test_gmail_wrapped_attribution(void **state)
{
	(void)state;
	/* Gmail wraps long attributions; the quote itself may be unprefixed
	 * after HTML->text conversion. */
	visible_is(NEW "\n\nOn Mon, 23 Nov 2026 at 10:00, Cliente Ejemplo <\n"
		       "cliente@acme.mx> wrote:\n\n"
		       "lost: price\nBuenos días\n",
		   NEW);
	visible_is(NEW "\n\nOn Mon, 23 Nov 2026 at 10:00, Cliente Ejemplo <\n"
		       "cliente@acme.mx> wrote:\n"
		       "> lost: price\n",
		   NEW);
	visible_is(NEW "\n\nEl lun, 23 nov 2026 a las 10:00, Cliente Ejemplo con Nombre Largo (<\n"
		       "cliente@acme.mx>) escribió:\n\nperdido: precio\n",
		   NEW);
	visible_is(NEW "\n\nEm seg., 23 de nov. de 2026 às 10:00, Fulano de Tal da Silva <\n"
		       "fulano@empresa.com.br> escreveu:\n\nperdido: preço\n",
		   NEW);
	/* wrapped over three lines */
	visible_is(NEW "\nOn Mon, 23 Nov 2026 at 10:00, Cliente Ejemplo Con Un Nombre\n"
		       "Muy Largo De Verdad <cliente.con.nombre.largo@empresa-ejemplo.com.mx>\n"
		       "wrote:\n\nlost: price\n",
		   NEW);
}

static void test_gmail_es(void **state)
{
	(void)state;
	visible_is("Hola Ana,\n\n" NEW "\n\nSaludos\n\n"
		   "El lun, 23 nov 2026 a las 10:00, Cliente (<c@x.mx>) escribió:\n\n"
		   "> etapa: ganado\n> Gracias\n",
		   "Hola Ana,\n\n" NEW "\n\nSaludos");
	visible_is(NEW "\n\nEl lun., 23 nov. 2026 10:00, Cliente <c@x.mx> escribió:\n"
		       "perdido: precio\n",
		   NEW);
	visible_is(NEW "\n\nEL LUN, 23 NOV 2026 A LAS 10:00, CLIENTE <C@X.MX> ESCRIBIÓ:\n"
		       "perdido: precio\n",
		   NEW);
}

static void test_gmail_pt(void **state)
{
	(void)state;
	visible_is("estágio: proposta\n\n"
		   "Em seg., 23 de nov. de 2026 às 10:00, Fulano <f@x.br> escreveu:\n\n"
		   "> estágio: perdido\n",
		   "estágio: proposta");
	visible_is("estágio: proposta\n\n"
		   "Em seg., 23 de nov. de 2026 às 10:00, Fulano <f@x.br> escreveu:\n"
		   "perdido: preço\n",
		   "estágio: proposta");
}

static void test_gmail_fr(void **state)
{
	(void)state;
	visible_is(NEW "\n\nLe lun. 23 nov. 2026 à 10:00, X <x@y.fr> a écrit :\n"
		       "lost: price\n",
		   NEW);
	/* NBSP before the colon */
	visible_is(NEW "\n\nLe lun. 23 nov. 2026 à 10:00, X <x@y.fr> a écrit\xC2\xA0:\n"
		       "lost: price\n",
		   NEW);
}

static void test_apple_mail(void **state)
{
	(void)state;
	visible_is(NEW "\n\n> On 23 Nov 2026, at 10:00, Ana <a@x.com> wrote:\n>\n> lost: price\n",
		   NEW);
	visible_is(NEW "\n\nOn 23 Nov 2026, at 10:00, Ana <a@x.com> wrote:\n\nlost: price\n", NEW);
	visible_is(NEW "\n\nEl 23 nov 2026, a las 10:00, Cliente <c@x.mx> escribió:\n\n"
		       "perdido: precio\n",
		   NEW);
	visible_is(NEW "\n\nEm 23 de nov. de 2026, à(s) 10:00, Fulano <f@x.br> escreveu:\n\n"
		       "perdido: preço\n",
		   NEW);
}

static void test_thunderbird(void **state)
{
	(void)state;
	visible_is(NEW "\n\nOn 11/23/26 10:00 AM, Ana wrote:\n> lost: price\n", NEW);
	visible_is(NEW "\n\nEl 23/11/26 a las 10:00, Ana escribió:\n> perdido: precio\n", NEW);
	visible_is(NEW "\n\nEm 23/11/2026 10:00, Fulano escreveu:\nperdido: preço\n", NEW);
	/* old style "Name wrote:" followed by a '>' quote */
	visible_is(NEW "\n\nAna Pérez wrote:\n> lost: price\n", NEW);
}

static void test_interleaved(void **state)
{
	(void)state;
	/* a manager answering a digest line by line */
	visible_is("On Mon, 23 Nov 2026 at 09:00, dealmail <sales@example.com> wrote:\n"
		   "> [deal #12] Acme — propuesta, 12.000 EUR\n"
		   "#12 etapa: negociación\n"
		   "> [deal #13] Globex — demo\n"
		   "> etapa: demo\n"
		   "#13 lost: precio\n"
		   ">> nested quote\n"
		   "   > indented quote\n",
		   "#12 etapa: negociación\n#13 lost: precio");
}

static void test_quoted_lines(void **state)
{
	(void)state;
	visible_is(NEW "\n> etapa: perdido\n>> won: x\n  > lost: y\n>>> note: z", NEW);
	visible_is("> all quoted\n> etapa: perdido\n", "");
	visible_is("", "");
	visible_is("\n\n\n", "");
	visible_is(NEW "   \n\t\n  \n", NEW);
	visible_is("etapa: demo   \r\nvalor: 5000\t\r\n", "etapa: demo\nvalor: 5000");
	/* a line merely mentioning "wrote:" stays */
	visible_is("Lo que el cliente escribió: que quiere descuento\netapa: demo",
		   "Lo que el cliente escribió: que quiere descuento\netapa: demo");
	/* a prose line starting with "On" is kept when no attribution follows */
	visible_is("On Monday we meet with the client.\netapa: demo",
		   "On Monday we meet with the client.\netapa: demo");
}

/* ----------------------------------------------------------------- Outlook */

static void test_outlook_en(void **state)
{
	(void)state;
	visible_is(NEW "\n\n-----Original Message-----\nFrom: Ana <a@x.com>\n"
		       "Sent: Monday, November 23, 2026 10:00 AM\nTo: Bob <b@y.com>\n"
		       "Subject: RE: Proposal\n\nlost: price\n",
		   NEW);
	visible_is(NEW "\n\n________________________________\nFrom: Ana <a@x.com>\n"
		       "Sent: Monday, November 23, 2026 10:00 AM\nTo: Bob <b@y.com>\n"
		       "Subject: RE: Proposal\n\nlost: price\n",
		   NEW);
	/* no separator line at all (Outlook 365) */
	visible_is(NEW "\n\nFrom: Ana <a@x.com>\nSent: Monday, November 23, 2026 10:00 AM\n"
		       "To: Bob <b@y.com>\nSubject: RE: Proposal\n\nlost: price\n",
		   NEW);
	/* bold markers from HTML->text */
	visible_is(NEW "\n\n*From:* Ana <a@x.com>\n*Sent:* Monday, November 23, 2026 10:00 AM\n"
		       "*To:* Bob <b@y.com>\n*Subject:* RE: Proposal\n\nlost: price\n",
		   NEW);
	/* Outlook for Mac: From / Date / To / Subject */
	visible_is(NEW "\n\nFrom: Ana <a@x.com>\nDate: Monday, 23 November 2026 at 10:00\n"
		       "To: Bob <b@y.com>\nSubject: Re: Proposal\n\nlost: price\n",
		   NEW);
}

static void test_outlook_es(void **state)
{
	(void)state;
	visible_is(NEW "\n\n-----Mensaje original-----\nDe: Cliente <c@x.mx>\n"
		       "Enviado el: lunes, 23 de noviembre de 2026 10:00\nPara: Ana <a@x.com>\n"
		       "Asunto: RE: Propuesta\n\nperdido: precio\n",
		   NEW);
	visible_is(NEW "\n\nDe: Cliente <c@x.mx>\nEnviado el: lunes, 23 de noviembre de 2026 10:00\n"
		       "Para: Ana <a@x.com>\nCC: Jefe <j@x.com>\nAsunto: RE: Propuesta\n\n"
		       "perdido: precio\n",
		   NEW);
	visible_is(NEW "\n\n________________________________\n"
		       "De: Cliente <c@x.mx>\nEnviado: lunes, 23 de noviembre de 2026 10:00\n"
		       "Para: Ana <a@x.com>\nAsunto: RE: Propuesta\n\nperdido: precio\n",
		   NEW);
	/* a wrapped From value between De: and Enviado: */
	visible_is(NEW "\n\nDe: Cliente Ejemplo Con Nombre Largo\n<cliente@x.mx>\n"
		       "Enviado el: lunes, 23 de noviembre de 2026 10:00\nPara: Ana\n\nperdido: precio\n",
		   NEW);
	/* Samsung / Android style */
	visible_is(NEW "\n\n-------- Mensaje original --------\nDe: Cliente <c@x.mx>\n"
		       "Fecha: 23/11/26 10:00 (GMT-06:00)\nPara: Ana <a@x.com>\nAsunto: Propuesta\n\n"
		       "perdido: precio\n",
		   NEW);
}

static void test_outlook_pt(void **state)
{
	(void)state;
	visible_is(NEW "\n\n-----Mensagem original-----\nDe: Fulano <f@x.br>\n"
		       "Enviado: segunda-feira, 23 de novembro de 2026 10:00\nPara: Ana <a@x.com>\n"
		       "Assunto: RES: Proposta\n\nperdido: preço\n",
		   NEW);
	visible_is(NEW "\n\nDe: Fulano <f@x.br>\nEnviado: segunda-feira, 23 de novembro de 2026 10:00\n"
		       "Para: Ana <a@x.com>\nAssunto: RES: Proposta\n\nperdido: preço\n",
		   NEW);
	visible_is(NEW "\n\n**De:** Fulano <f@x.br>\n**Data:** 23/11/2026 10:00\n"
		       "**Para:** Ana\n\nperdido: preço\n",
		   NEW);
}

static void test_de_not_header(void **state)
{
	(void)state;
	/* "De:" followed by prose is not a header block */
	visible_is("De: parte de Juan, saludos.\nEl cliente quiere avanzar.\n\netapa: demo",
		   "De: parte de Juan, saludos.\nEl cliente quiere avanzar.\n\netapa: demo");
	/* underscores as decoration are kept */
	visible_is("Resumen\n__________\netapa: demo", "Resumen\n__________\netapa: demo");
}

/* ------------------------------------------------------- signatures, mobile */

static void test_signatures(void **state)
{
	(void)state;
	visible_is(NEW "\n\n-- \nAna Pérez\nVentas\netapa: perdido\n", NEW);
	visible_is(NEW "\n\n--\nAna Pérez\nlost: x\n", NEW);
	visible_is(NEW "\n--\xC2\xA0\nAna\nlost: x", NEW);
	/* a longer dash line is not a signature marker */
	visible_is("a\n---\nb", "a\n---\nb");
}

static void test_sent_from(void **state)
{
	(void)state;
	static const char *const lines[] = {
		"Sent from my iPhone", "Sent from my Android", "Sent from my Galaxy",
		"Get Outlook for iOS", "Get Outlook for Android", "Enviado desde mi iPhone",
		"Enviado desde mi teléfono Huawei", "Enviado desde Outlook",
		"Enviado do meu iPhone", "Enviado do meu smartphone", "Obtener Outlook para iOS",
		"Obter o Outlook para Android", "Envoyé de mon iPhone", "Sent from Mail for Windows",
		"Enviado desde mi smartphone Samsung Galaxy.", "Sent from Yahoo Mail on Android",
	};
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		char body[512];
		snprintf(body, sizeof body, "%s\n\n%s\n\nlost: price\n> x\n", NEW, lines[i]);
		visible_is(body, NEW);
	}
	/* iOS: "Sent from" then the attribution and an unprefixed quote */
	visible_is("etapa: demo\n\nEnviado desde mi iPhone\n\n"
		   "El 23 nov 2026, a las 10:00, Cliente <c@x.mx> escribió:\n\n"
		   "\xEF\xBB\xBF" "perdido: precio\n",
		   "etapa: demo");
	/* a prose sentence that starts alike is kept */
	visible_is("Enviado desde mi casa el contrato firmado, revisalo por favor cuando puedas hoy mismo.\n"
		   "etapa: demo",
		   "Enviado desde mi casa el contrato firmado, revisalo por favor cuando puedas hoy mismo.\n"
		   "etapa: demo");
	/* a prefix is the whole of it, its last space too: a line that is
	 * only its start is kept */
	visible_is("etapa: demo\nSent from my\nEnviado do\n", "etapa: demo\nSent from my\nEnviado do");
	/* an attribution's verb ends the line (its colon last) */
	visible_is("etapa: demo\nOn Mon, 23 Nov 2026 Ana <a@x.com> wrote: hi\n> x\n",
		   "etapa: demo\nOn Mon, 23 Nov 2026 Ana <a@x.com> wrote: hi");
}

/* ----------------------------------------------------------------- forwards */

static void test_forward_markers(void **state)
{
	(void)state;
	static const char *const markers[] = {
		"---------- Forwarded message ---------", "---------- Mensaje reenviado ---------",
		"---------- Mensagem encaminhada ---------", "-------- Mensaje reenviado --------",
		"-------- Forwarded Message --------", "Begin forwarded message:",
		"Inicio del mensaje reenviado:", "Início da mensagem encaminhada:",
		"---------- Message transféré ---------", "-----Original Message-----",
		"-----Mensaje original-----", "-----Mensagem original-----",
		"-------- Original message --------",
	};
	for (size_t i = 0; i < sizeof markers / sizeof markers[0]; i++) {
		char body[512];
		snprintf(body, sizeof body,
			 "%s\n\n%s\nFrom: Cliente <c@x.mx>\nDate: Mon, Nov 23, 2026\n"
			 "Subject: Propuesta\nTo: <ana@x.com>\n\nlost: price\n",
			 NEW, markers[i]);
		visible_is(body, NEW);
	}
}

static void test_forwarded_gmail(void **state)
{
	(void)state;
	struct fwd_block f;
	const char *body =
		"Les reenvío esto, es un lead nuevo.\n\n"
		"---------- Forwarded message ---------\n"
		"From: Cliente Ejemplo <cliente@acme.mx>\n"
		"Date: Mon, Nov 23, 2026 at 10:00 AM\n"
		"Subject: Cotización 50 licencias\n"
		"To: Ana <ana@example.com>\n"
		"Cc: Jefe <jefe@acme.mx>, otro@acme.mx\n\n"
		"Hola, queremos una cotización.\n";
	assert_true(reply_forwarded(body, &f));
	assert_string_equal(f.from, "Cliente Ejemplo <cliente@acme.mx>");
	assert_string_equal(f.date, "Mon, Nov 23, 2026 at 10:00 AM");
	assert_string_equal(f.subject, "Cotización 50 licencias");
	assert_string_equal(f.to, "Ana <ana@example.com>");
	assert_string_equal(f.cc, "Jefe <jefe@acme.mx>, otro@acme.mx");
	fwd_block_free(&f);
	assert_null(f.from);

	char *v = reply_visible(body);
	assert_string_equal(v, "Les reenvío esto, es un lead nuevo.");
	free(v);

	/* Gmail es with bold markers from HTML */
	body = "---------- Mensaje reenviado ---------\n"
	       "*De:* *Cliente Ejemplo* <cliente@acme.mx>\n"
	       "*Date:* lun, 23 nov 2026 a las 10:00\n"
	       "*Subject:* Cotización\n"
	       "*To:* <ana@example.com>\n\nHola\n";
	assert_true(reply_forwarded(body, &f));
	assert_string_equal(f.from, "Cliente Ejemplo <cliente@acme.mx>");
	assert_string_equal(f.subject, "Cotización");
	assert_string_equal(f.to, "<ana@example.com>");
	assert_null(f.cc);
	fwd_block_free(&f);
}

static void test_forwarded_outlook(void **state)
{
	(void)state;
	struct fwd_block f;
	const char *body =
		"FYI\n\n________________________________\n"
		"De: Fulano da Silva <fulano@empresa.com.br>\n"
		"Enviado: segunda-feira, 23 de novembro de 2026 10:00\n"
		"Para: Ana <ana@example.com>; Bob <bob@example.com>;\n"
		"  Carla <carla@example.com>\n"
		"Assunto: Proposta comercial\n\nOlá\n";
	assert_true(reply_forwarded(body, &f));
	assert_string_equal(f.from, "Fulano da Silva <fulano@empresa.com.br>");
	assert_string_equal(f.date, "segunda-feira, 23 de novembro de 2026 10:00");
	assert_string_equal(f.to, "Ana <ana@example.com>; Bob <bob@example.com>; "
				  "Carla <carla@example.com>");
	assert_string_equal(f.subject, "Proposta comercial");
	fwd_block_free(&f);

	body = "-----Mensaje original-----\n"
	       "De: Cliente <c@x.mx>\n"
	       "Enviado el: lunes, 23 de noviembre de 2026 10:00\n"
	       "Para: Ana <a@x.com>\n"
	       "CC: Jefe <j@x.mx>\n"
	       "Asunto: RE: Propuesta\n\ntexto\n";
	assert_true(reply_forwarded(body, &f));
	assert_string_equal(f.from, "Cliente <c@x.mx>");
	assert_string_equal(f.date, "lunes, 23 de noviembre de 2026 10:00");
	assert_string_equal(f.cc, "Jefe <j@x.mx>");
	assert_string_equal(f.subject, "RE: Propuesta");
	fwd_block_free(&f);

	/* header block without any marker line */
	body = "mira esto\n\nFrom: Ana <a@x.com>\nSent: Monday, November 23, 2026 10:00 AM\n"
	       "To: Bob <b@y.com>\nSubject: Hello\n\nbody\n";
	assert_true(reply_forwarded(body, &f));
	assert_string_equal(f.from, "Ana <a@x.com>");
	assert_string_equal(f.date, "Monday, November 23, 2026 10:00 AM");
	assert_string_equal(f.subject, "Hello");
	fwd_block_free(&f);
}

static void test_forwarded_apple(void **state)
{
	(void)state;
	struct fwd_block f;
	const char *body =
		"Nuevo lead\n\nSent from my iPhone\n\nBegin forwarded message:\n\n"
		"From: Ana <a@x.com>\nDate: 23 November 2026 at 10:00:00 GMT-6\n"
		"To: Bob <b@y.com>\nSubject: Re: Demo\n\nHi\n";
	assert_true(reply_forwarded(body, &f));
	assert_string_equal(f.from, "Ana <a@x.com>");
	assert_string_equal(f.to, "Bob <b@y.com>");
	assert_string_equal(f.subject, "Re: Demo");
	fwd_block_free(&f);

	body = "Início da mensagem encaminhada:\n\n"
	       "De: Fulano <f@x.br>\nData: 23 de novembro de 2026 10:00:00 BRT\n"
	       "Para: Ana <a@x.com>\nAssunto: Orçamento\n\nOi\n";
	assert_true(reply_forwarded(body, &f));
	assert_string_equal(f.from, "Fulano <f@x.br>");
	assert_string_equal(f.date, "23 de novembro de 2026 10:00:00 BRT");
	assert_string_equal(f.subject, "Orçamento");
	fwd_block_free(&f);

	/* quoted forward */
	body = "> ---------- Forwarded message ---------\n> From: X <x@y.com>\n"
	       "> Subject: S\n>\n> body\n";
	assert_true(reply_forwarded(body, &f));
	assert_string_equal(f.from, "X <x@y.com>");
	assert_string_equal(f.subject, "S");
	fwd_block_free(&f);
}

/* A header key's colon is looked for within 26 bytes of the key's start
 * (after blanks and '*'): "Enviado" and "el" with 16 spaces between them is
 * a key, with 17 it is not (and ends the block). */
static void test_forwarded_key_reach(void **state)
{
	(void)state;
	struct fwd_block f;
	assert_true(reply_forwarded("-----Mensaje original-----\nDe: X <x@y.com>\n"
				    "  **Enviado                el: lunes\nAsunto: S\n\nbody\n", &f));
	assert_string_equal(f.date, "lunes");
	assert_string_equal(f.subject, "S");
	fwd_block_free(&f);
	assert_true(reply_forwarded("-----Mensaje original-----\nDe: X <x@y.com>\n"
				    "**Enviado                 el: lunes\nAsunto: S\n\nbody\n", &f));
	assert_string_equal(f.from, "X <x@y.com>");
	assert_null(f.date);
	assert_null(f.subject);
	fwd_block_free(&f);
	/* a key never starts at the colon */
	assert_false(reply_forwarded("-----Mensaje original-----\n: X <x@y.com>\n\nbody\n", &f));
}

static void same_or_null(const char *a, const char *b)
{
	if (!a || !b)
		assert_true(a == b);
	else
		assert_string_equal(a, b);
}

/* reply_visible_forwarded() is reply_visible() and reply_forwarded() */
static void test_visible_forwarded(void **state)
{
	(void)state;
	static const char *const bodies[] = {
		"FYI\n\n________________________________\nDe: Fulano <f@x.br>\nEnviado: segunda\n"
		"Para: Ana <a@x.com>\nAssunto: Proposta\n\nOla\n",
		"Nuevo lead\n\nSent from my iPhone\n\nBegin forwarded message:\n\nFrom: Ana <a@x.com>\n"
		"Subject: Re: Demo\n\nHi\n",
		"etapa: demo\n\nOn Mon, 23 Nov 2026 Ana <a@x.com> wrote:\n> x\n",
		"", "just a message\n",
	};
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		struct fwd_block a, b;
		bool fa = reply_forwarded(bodies[i], &a), fb = false;
		char *va = reply_visible(bodies[i]), *vb = reply_visible_forwarded(bodies[i], &b, &fb);
		assert_string_equal(va, vb);
		assert_int_equal(fa, fb);
		same_or_null(a.from, b.from);
		same_or_null(a.to, b.to);
		same_or_null(a.cc, b.cc);
		same_or_null(a.subject, b.subject);
		same_or_null(a.date, b.date);
		fwd_block_free(&a);
		fwd_block_free(&b);
		free(va);
		free(vb);
	}
	struct fwd_block n;
	bool fn = true;
	char *v = reply_visible_forwarded(NULL, &n, &fn);
	assert_string_equal(v, "");
	assert_false(fn);
	assert_null(n.from);
	free(v);
}

static void test_forwarded_none(void **state)
{
	(void)state;
	struct fwd_block f;
	assert_false(reply_forwarded("just a message\netapa: demo\n", &f));
	assert_null(f.from);
	assert_false(reply_forwarded("", &f));
	assert_false(reply_forwarded(NULL, &f));
	assert_false(reply_forwarded("De: parte de Juan\nsaludos\n", &f));
	assert_false(reply_forwarded("---------- Forwarded message ---------\n\n\n\nhola\n", &f));
	fwd_block_free(&f);
	fwd_block_free(NULL);
}

static void test_big_body(void **state)
{
	(void)state;
	/* a long body with a huge line: no crash, nothing quadratic */
	size_t n = 2 * 1024 * 1024;
	char *body = malloc(n + 64);
	memset(body, 'a', n);
	memcpy(body + 100, "\n", 1);
	strcpy(body + n, "\n-- \nsig\n");
	char *v = reply_visible(body);
	assert_int_equal(strlen(v), n);
	free(v);
	free(body);
}

/* a body of many lines (the line table grows as it is split) */
static void test_many_lines(void **state)
{
	(void)state;
	char body[4096] = "", line[32];
	for (int i = 0; i < 300; i++) {
		snprintf(line, sizeof line, i == 150 ? "-- \n" : "linea %d\n", i);
		strcat(body, line);
	}
	char *v = reply_visible(body);
	assert_int_equal(strlen(v), strlen("linea 0\n") * 10 + strlen("linea 10\n") * 90 + strlen("linea 100\n") * 50 - 1);
	assert_non_null(strstr(v, "\nlinea 149"));
	assert_null(strstr(v, "linea 150"));
	free(v);
}

/* device lines: a phone's or a webmail's, however long; "Sent from my …"
 * only as a few words (a longer one is the rep writing) */
static void test_device_lines(void **state)
{
	(void)state;
	visible_is("stage: proposal\n\nSent via the Samsung Galaxy S23 Ultra, an AT&T 5G smartphone\n",
		   "stage: proposal");
	visible_is("estágio: proposta\n\nEnviado a partir do meu smartphone Samsung Galaxy.\n", "estágio: proposta");
	visible_is("etapa: propuesta\n\nSent with Proton Mail secure email.\n", "etapa: propuesta");
	visible_is("Sent from my personal account because Outlook is down.\nstage: proposal\n",
		   "Sent from my personal account because Outlook is down.\nstage: proposal");
	visible_is("stage: demo\n\nSent from my Verizon, Samsung Galaxy smartphone\n> quoted\n", "stage: demo");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gmail_en),
		cmocka_unit_test(test_gmail_wrapped_attribution),
		cmocka_unit_test(test_gmail_es),
		cmocka_unit_test(test_gmail_pt),
		cmocka_unit_test(test_gmail_fr),
		cmocka_unit_test(test_apple_mail),
		cmocka_unit_test(test_thunderbird),
		cmocka_unit_test(test_interleaved),
		cmocka_unit_test(test_quoted_lines),
		cmocka_unit_test(test_outlook_en),
		cmocka_unit_test(test_outlook_es),
		cmocka_unit_test(test_outlook_pt),
		cmocka_unit_test(test_de_not_header),
		cmocka_unit_test(test_signatures),
		cmocka_unit_test(test_sent_from),
		cmocka_unit_test(test_forward_markers),
		cmocka_unit_test(test_forwarded_gmail),
		cmocka_unit_test(test_forwarded_outlook),
		cmocka_unit_test(test_forwarded_apple),
		cmocka_unit_test(test_forwarded_key_reach),
		cmocka_unit_test(test_visible_forwarded),
		cmocka_unit_test(test_forwarded_none),
		cmocka_unit_test(test_big_body),
		cmocka_unit_test(test_many_lines),
		cmocka_unit_test(test_device_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
