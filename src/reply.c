/* reply.c — see reply.h.
 *
 * The body is split into lines and scanned once.  Each line is classified
 * (quoted, signature, "sent from", forward/original marker, Outlook header
 * block, attribution) on its folded form (text_fold: case, accents and odd
 * spaces gone), so "Escribió", "escribio" and "ESCRIBIÓ" are the same.
 *
 * Quoting rule: lines starting with '>' are always dropped.  An attribution
 * ("On … wrote:") that is followed by '>' lines only introduces them: it is
 * dropped and the scan continues, so that an inline (interleaved) answer —
 * a manager answering a digest line by line — keeps its unquoted lines.  An
 * attribution followed by anything else (clients that quote without '>'),
 * an Outlook header block, a signature, a "Sent from my…" line and a
 * forwarded-message marker end the visible text. */
#include "reply.h"
#include "buf.h"
#include "text.h"
#include <stdlib.h>
#include <ctype.h>
#include <string.h>

struct line {
	const char *s;
	size_t n;
};

struct lines {
	struct line *v;
	size_t n;
};

static void split_lines(const char *text, struct lines *L)
{
	const char *end = text + strlen(text);
	/* grown as it goes: counting the lines first was a second memchr a line */
	size_t cap = 64;
	L->v = xmalloc(cap * sizeof *L->v);
	L->n = 0;
	const char *p = text;
	while (*p) {
		if (L->n == cap) {
			cap *= 2;
			L->v = xrealloc(L->v, cap * sizeof *L->v);
		}
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
		size_t m = n;
		if (m && p[m - 1] == '\r')
			m--;
		L->v[L->n].s = p;
		L->v[L->n].n = m;
		L->n++;
		p += n;
		if (*p == '\n')
			p++;
	}
}

static bool hspace(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_blank(const struct line *l)
{
	for (size_t i = 0; i < l->n; i++) {
		unsigned char c = (unsigned char)l->s[i];
		if (hspace((char)c))
			continue;
		if (c == 0xC2 && i + 1 < l->n && (unsigned char)l->s[i + 1] == 0xA0) {
			i++;
			continue;
		}
		return false;
	}
	return true;
}

static bool is_quoted(const struct line *l)
{
	size_t i = 0;
	while (i < l->n && hspace(l->s[i]))
		i++;
	return i < l->n && l->s[i] == '>';
}

/* Folded copy of a line; "" for very long lines (prose, never a marker). */
static char *fold_line(const struct line *l)
{
	if (l->n > 1000)
		return xstrdup("");
	char small[1001];
	memcpy(small, l->s, l->n);
	small[l->n] = '\0';
	return text_fold(small);
}

/* strncmp(s, prefix, strlen(prefix)) == 0, a byte at a time: a line is
 * tried against some sixty prefixes, and most differ at the first byte */
static bool starts(const char *s, const char *prefix)
{
	for (; *prefix; s++, prefix++)
		if (*s != *prefix)
			return false;
	return true;
}

static bool ends(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

static bool is_signature(const char *f)
{
	return !strcmp(f, "--");
}

static bool is_sent_from(const char *f)
{
	static const char *const prefixes[] = {
		"sent from my ", "sent from outlook", "sent from mail for ", "sent from yahoo",
		"sent from samsung", "sent from the all new aol", "sent from gmail",
		"get outlook for ", "obtener outlook para ", "obtenga outlook para ",
		"descargar outlook para ", "descargue outlook para ", "obter o outlook para ",
		"obter outlook para ", "baixe o outlook para ", "baixar o outlook para ",
		"enviado desde mi ", "enviado desde outlook", "enviado desde yahoo",
		"enviado desde correo", "enviado desde el correo", "enviado desde mail",
		"enviado desde gmail", "enviado desde samsung", "enviado desde huawei",
		"enviado do meu ", "enviado de meu ", "enviado do outlook", "enviado do yahoo",
		"enviado do email", "enviado do e-mail", "enviado do gmail", "enviado pelo ",
		"envoye de mon ", "envoye depuis mon ", "envoye a partir de ", "envoye depuis outlook",
		"telecharger outlook pour ", "sent with proton mail", "sent via superhuman", "sent via the samsung",
		"enviado a partir do ", "enviado a partir de ", "enviado con proton mail",
		"enviado con el correo electronico seguro de proton", "enviado com o e-mail seguro do proton",
		"enviado com o email seguro do proton", NULL,
	};
	if (strlen(f) > 80)
		return false;
	/* "Sent from my …" is a device's line of a few words ("Sent from my
	 * Verizon, Samsung Galaxy smartphone"); "Sent from my personal account
	 * because Outlook is down." is the rep writing */
	int words = 0;
	for (const char *p = f; *p; p++)
		if (*p != ' ' && (p == f || p[-1] == ' '))
			words++;
	if (words > 8 && (starts(f, "sent from my ") || starts(f, "enviado desde mi ") ||
			  starts(f, "enviado do meu ") || starts(f, "envoye de mon ")))
		return false;
	for (const char *const *p = prefixes; *p; p++)
		if (starts(f, *p))
			return true;
	return false;
}

/* A legal or environmental notice that a signature without "-- " ends
 * with (Outlook never writes one, Gmail can be told not to): "NOTA: Este
 * mensaje y sus anexos son confidenciales…", "Nota: Antes de imprimir este
 * correo, piense en el medio ambiente", "Note: This email and any
 * attachments are confidential…".  A label ("nota", "note", "aviso de
 * confidencialidad", …) and a colon, then two of the phrases such notices
 * are made of, on the line or one there and one on the next (a wrapped
 * one); it is not a `note:` command.  f is line i folded. */
static bool is_disclaimer(const struct lines *L, size_t i, const char *f)
{
	static const char *const labels[] = {
		"nota", "note", "notice", "aviso", "advertencia", "disclaimer", "importante", "important",
		"legal", "confidencial", "confidential", NULL,
	};
	static const char *const phrases[] = {
		"confidenci", "confidential", "destinatario", "intended recipient", "addressee", "privileged",
		"privilegiad", "antes de imprimir", "medio ambiente", "meio ambiente", "before printing",
		"the environment", "prohibid", "proibid", "unauthori", "no autorizad", "nao autorizad",
#define STRONG 17
		"este mensaje", "este correo", "este e-mail", "este email", "este mail", "esta mensagem",
		"this email", "this e-mail", "this message", "anexos", "adjuntos", "attachments", NULL,
	};
	while (*f == '*' || *f == '_' || *f == ' ')
		f++;
	const char *colon = strchr(f, ':');
	if (!colon || colon - f > 40)
		return false;
	bool label = false;
	for (const char *const *l = labels; *l && !label; l++) {
		size_t n = strlen(*l);
		label = !strncmp(f, *l, n) && (f[n] == ' ' || f[n] == ':' || f[n] == '*');
	}
	if (!label)
		return false;
	/* the phrases before STRONG are what a rep's own note says too ("le
	 * reenvié este correo con los adjuntos"): they count only beside a
	 * legal or environmental one */
	int clues = 0, strong = 0;
	for (const char *const *p = phrases; *p; p++)
		if (strstr(f, *p)) {
			clues++;
			strong += p - phrases < STRONG;
		}
	/* the line ends a sentence ("nota: el contrato es confidencial." then
	 * "Los anexos llegan mañana."): what follows is not its wrapped end */
	const struct line *li = &L->v[i];
	size_t e = li->n;
	while (e && (li->s[e - 1] == ' ' || li->s[e - 1] == '\r' || li->s[e - 1] == '\t'))
		e--;
	bool sentence_end = e && (strchr(".!?", li->s[e - 1]) ||
				  (e >= 3 && !memcmp(li->s + e - 3, "\xE2\x80\xA6", 3)));   /* … */
	/* and a next line that opens with a capital is a sentence of its own */
	bool next_capital = i + 1 < L->n && L->v[i + 1].n && isupper((unsigned char)L->v[i + 1].s[0]);
	if (clues >= 1 && clues <= 2 && !sentence_end && !next_capital && i + 1 < L->n && !is_blank(&L->v[i + 1]) &&
	    !is_quoted(&L->v[i + 1])) {
		/* a notice wrapped after its first phrases; a note followed by a
		 * notice of its own is not one */
		char *next = fold_line(&L->v[i + 1]);
		for (const char *const *p = phrases; *p; p++)
			if (!strstr(f, *p) && strstr(next, *p)) {
				clues++;
				strong += p - phrases < STRONG;
			}
		free(next);
	}
	return clues >= 2 && strong >= 1;
}

/* "---------- Forwarded message ---------", "-----Original Message-----",
 * "Begin forwarded message:", … */
static bool is_marker(const char *f)
{
	static const char *const dashed[] = {
		"forwarded message", "mensaje reenviado", "mensagem encaminhada",
		"mensagem reencaminhada", "message transfere", "original message",
		"mensaje original", "mensagem original", "message d'origine", "message original",
		"weitergeleitete nachricht", "ursprungliche nachricht", "messaggio inoltrato",
		"messaggio originale", NULL,
	};
	static const char *const colon[] = {
		"begin forwarded message", "inicio del mensaje reenviado",
		"inicio da mensagem encaminhada", "inicio da mensagem reencaminhada",
		"comienzo del mensaje reenviado", "debut du message reexpedie",
		"debut du message transfere", "mensaje reenviado", "mensagem encaminhada",
		"forwarded message", "message transfere", "anfang der weitergeleiteten nachricht",
		NULL,
	};
	size_t n = strlen(f);
	if (n > 120)
		return false;
	if (f[0] == '-' || f[0] == '=') {
		size_t a = 0, b = n;
		while (a < n && (f[a] == '-' || f[a] == '=' || f[a] == ' '))
			a++;
		while (b > a && (f[b - 1] == '-' || f[b - 1] == '=' || f[b - 1] == ' '))
			b--;
		if (a < 2 || b == a || b - a > 120)
			return false;
		char inner[128];
		memcpy(inner, f + a, b - a);
		inner[b - a] = '\0';
		/* Horde, SquirrelMail: "----- Mensaje reenviado de x@y -----" */
		static const char *const of[] = {
			"mensaje de ", "mensaje reenviado de ", "mensagem de ", "mensagem encaminhada de ",
			"message from ", "forwarded message from ", "message de ", "message transfere de ", NULL,
		};
		for (const char *const *p = of; *p; p++)
			if (starts(inner, *p))
				return true;
		return b - a <= 60 && in_list(inner, dashed);
	}
	if (n >= 2 && f[n - 1] == ':') {
		char inner[128];
		size_t m = n - 1;
		while (m && f[m - 1] == ' ')
			m--;
		memcpy(inner, f, m);
		inner[m] = '\0';
		return in_list(inner, colon);
	}
	return false;
}

static bool is_underscores(const char *f)
{
	size_t n = 0;
	for (; *f; f++) {
		if (*f != '_')
			return false;
		n++;
	}
	return n >= 10;
}

enum hkey { HK_NONE, HK_FROM, HK_TO, HK_CC, HK_SUBJECT, HK_DATE };

/* "From: x", "*De:* x", "Enviado el: x", "À : x" -> key and value offset. */
static enum hkey header_key(const struct line *l, size_t *val_r)
{
	static const struct {
		const char *k;
		enum hkey key;
	} keys[] = {
		{"from", HK_FROM}, {"de", HK_FROM}, {"von", HK_FROM},
		/* Outlook in Italian, Catalan and Basque: a rep's UI
		 * language need not be the team's */
		{"da", HK_FROM}, {"nork", HK_FROM},
		{"to", HK_TO}, {"para", HK_TO}, {"a", HK_TO}, {"an", HK_TO}, {"pour", HK_TO},
		{"per a", HK_TO}, {"nori", HK_TO},
		{"cc", HK_CC},
		{"subject", HK_SUBJECT}, {"asunto", HK_SUBJECT}, {"assunto", HK_SUBJECT},
		{"objet", HK_SUBJECT}, {"sujet", HK_SUBJECT}, {"betreff", HK_SUBJECT},
		{"oggetto", HK_SUBJECT}, {"assumpte", HK_SUBJECT},
		{"gaia", HK_SUBJECT},
		{"date", HK_DATE}, {"sent", HK_DATE}, {"fecha", HK_DATE}, {"enviado", HK_DATE},
		{"enviado el", HK_DATE}, {"enviada", HK_DATE}, {"enviado em", HK_DATE},
		{"enviada em", HK_DATE}, {"data", HK_DATE}, {"envoye", HK_DATE},
		{"envoye le", HK_DATE}, {"gesendet", HK_DATE}, {"datum", HK_DATE},
		{"inviato", HK_DATE}, {"enviat", HK_DATE}, {"enviat el", HK_DATE},
		{"noiz", HK_DATE},
	};
	const char *s = l->s;
	size_t n = l->n, i = 0;
	while (i < n && (hspace(s[i]) || s[i] == '*'))
		i++;
	size_t k0 = i;
	/* the colon within 26 bytes of the key's start: every line of a
	 * forwarded history is asked, memchr finds it (or not) at once */
	const char *colon = memchr(s + k0, ':', n - k0 < 26 ? n - k0 : 26);
	if (!colon || colon == s + k0)
		return HK_NONE;
	i = (size_t)(colon - s);
	size_t k1 = i;
	while (k1 > k0 && (s[k1 - 1] == '*' || hspace(s[k1 - 1])))
		k1--;
	/* a non-breaking space before the colon (French) is folded away below */
	char key[32];
	memcpy(key, s + k0, k1 - k0);
	key[k1 - k0] = '\0';
	char *f = text_fold(key);
	enum hkey r = HK_NONE;
	for (size_t j = 0; j < sizeof keys / sizeof keys[0]; j++)
		if (f[0] == keys[j].k[0] && !strcmp(f, keys[j].k)) {   /* most keys are no header's ("http", "tel") */
			r = keys[j].key;
			break;
		}
	free(f);
	if (r == HK_NONE)
		return r;
	i++; /* ':' */
	while (i < n && (hspace(s[i]) || s[i] == '*'))
		i++;
	*val_r = i;
	return r;
}

/* Line i starts an Outlook-style header block: "From:/De:" followed within
 * 1-4 non-blank lines by Sent/Date/To/Cc/Subject lines. */
static bool header_block_at(const struct lines *L, size_t i)
{
	size_t val;
	if (header_key(&L->v[i], &val) != HK_FROM)
		return false;
	size_t seen = 0;
	for (size_t j = i + 1; j < L->n && j <= i + 8 && seen < 4; j++) {
		if (is_blank(&L->v[j]))
			continue;
		seen++;
		enum hkey k = header_key(&L->v[j], &val);
		if (k == HK_DATE || k == HK_TO || k == HK_CC || k == HK_SUBJECT)
			return true;
	}
	return false;
}

static bool attr_verb(const char *f)
{
	static const char *const verbs[] = {
		"wrote:", "escribio:", "escreveu:", "a ecrit :", "a ecrit:", "schrieb:",
		"ha scritto:", "schreef:", "escribio :", "escreveu :", "wrote :",
		"va escriure:", "idatzi zuen:", NULL,
	};
	size_t n = strlen(f);
	if (!n || f[n - 1] != ':')   /* as every verb does: most lines are out here */
		return false;
	for (const char *const *v = verbs; *v; v++)
		if (ends(f, *v))
			return true;
	return false;
}

static bool attr_intro(const char *f)
{
	return starts(f, "on ") || starts(f, "el ") || starts(f, "em ") || starts(f, "le ") ||
	       starts(f, "am ") || starts(f, "il ") || starts(f, "op ") || starts(f, "no dia ") ||
	       starts(f, "en ");   /* Yahoo and Outlook.com in Spanish: "En lunes, 23 de …" */
}

static bool has_digit_or_at(const char *f)
{
	for (; *f; f++)
		if ((*f >= '0' && *f <= '9') || *f == '@')
			return true;
	return false;
}

/* Next non-blank line after k, or L->n. */
static size_t next_nonblank(const struct lines *L, size_t k)
{
	size_t j = k + 1;
	while (j < L->n && is_blank(&L->v[j]))
		j++;
	return j;
}

/* Zoho's attribution between dashes, with no colon:
 * "---- On Mon, 23 Nov 2026 08:02 -0600 Ana <ana@x> wrote ----" */
static bool dashed_attribution(const char *f)
{
	size_t n = strlen(f), a = 0, b = n;
	if (n > 400 || n < 8 || f[0] != '-' || f[1] != '-' || f[n - 1] != '-')
		return false;
	while (a < n && (f[a] == '-' || f[a] == ' '))
		a++;
	while (b > a && (f[b - 1] == '-' || f[b - 1] == ' '))
		b--;
	char inner[401];
	memcpy(inner, f + a, b - a);
	inner[b - a] = '\0';
	static const char *const verbs[] = {" wrote", " escribio", " escreveu", " a ecrit", " schrieb", NULL};
	bool verb = false;
	for (const char *const *v = verbs; *v && !verb; v++)
		verb = ends(inner, *v);
	return verb && (attr_intro(inner) || has_digit_or_at(inner));
}

/* An address on the line before line i (f folded), which a short line "…
 * escribió:" was wrapped from ("Ana María Fernández de la Torre <ana@x>" /
 * "escribió:").  Not a "label: value" line (a rep's "compartir: bob@x"). */
static bool clue_before(const struct lines *L, size_t i, const char *f)
{
	int words = 0;
	for (const char *p = f; *p; p++)
		if (*p != ' ' && (p == f || p[-1] == ' '))
			words++;
	if (words > 4 || i == 0 || is_blank(&L->v[i - 1]) || is_quoted(&L->v[i - 1]) || L->v[i - 1].n > 400)
		return false;
	const struct line *l = &L->v[i - 1];
	for (size_t k = 0; k < l->n; k++)
		if (l->s[k] == ':' && (k + 1 == l->n || hspace(l->s[k + 1])))
			return false;
	/* the address ends the line ("… Ana María Fernández <ana@x.com>" /
	 * "escribió:"); "Hablé con Carlos <carlos@acme.mx> ayer" / "y me
	 * escribió:" is the rep writing */
	size_t e = l->n;
	while (e && (hspace(l->s[e - 1]) || l->s[e - 1] == '\r'))
		e--;
	if (e && (l->s[e - 1] == '>' || l->s[e - 1] == ')' || l->s[e - 1] == '<' || l->s[e - 1] == '('))
		return true;
	size_t b = e;
	while (b && !hspace(l->s[b - 1]))
		b--;
	return memchr(l->s + b, '@', e - b) != NULL;
}

/* An attribution starting at line i (folded f): returns its last line in
 * *end_r, and in *prev_r whether it started on the line before (which the
 * caller has kept already).  Handles attributions wrapped over up to three
 * lines.  A line ending "wrote:"/"escribió:" is one when a quote follows it,
 * when it has a date, a time or an address, or when it is short and the line
 * it was wrapped from has an address: "El gerente de compras me escribió:"
 * and "On Monday the buyer wrote:" are the rep writing, and what follows them
 * is still the rep's. */
static bool attribution_at(const struct lines *L, size_t i, const char *f, size_t *end_r, bool *prev_r)
{
	*prev_r = false;
	if (strlen(f) > 400)
		return false;
	/* Gmail in Portuguese (Portugal): "Ana <ana@x> escreveu no dia segunda,
	 * 23/11/2026 à(s) 08:02:", often wrapped after the weekday */
	if (strstr(f, "escreveu no dia")) {
		bool at = strchr(f, '@') != NULL;
		if (ends(f, ":") && at && strpbrk(f, "0123456789")) {
			*end_r = i;
			return true;
		}
		if (i + 1 < L->n && !is_blank(&L->v[i + 1]) && !is_quoted(&L->v[i + 1])) {
			char *g = fold_line(&L->v[i + 1]);
			bool ok = strlen(g) <= 200 && ends(g, ":") && (at || strchr(g, '@')) &&
				  strpbrk(g, "0123456789");
			free(g);
			if (ok) {
				*end_r = i + 1;
				return true;
			}
		}
	}
	if (attr_verb(f)) {
		size_t nx = next_nonblank(L, i);
		bool quote = nx < L->n && is_quoted(&L->v[nx]);
		if (has_digit_or_at(f) || strchr(f, '<') || quote) {
			*end_r = i;
			return true;
		}
		if (clue_before(L, i, f)) {
			*end_r = i;
			*prev_r = true;
			return true;
		}
		return false;
	}
	if (!attr_intro(f))
		return false;
	bool clue = has_digit_or_at(f);
	for (size_t j = i + 1; j < L->n && j <= i + 2; j++) {
		if (is_blank(&L->v[j]) || is_quoted(&L->v[j]))
			return false;
		char *g = fold_line(&L->v[j]);
		bool verb = strlen(g) <= 200 && attr_verb(g);
		/* "El cliente me llamó el 23/11" / "El gerente me escribió:": a
		 * line of its own, not the wrapped end of the one before */
		bool own = attr_intro(g);
		clue = clue || has_digit_or_at(g);
		free(g);
		if (own)
			return false;
		if (verb) {
			if (!clue)
				return false;
			*end_r = j;
			return true;
		}
	}
	return false;
}

static void add_line(struct buf *b, const struct line *l)
{
	size_t n = l->n;
	while (n && hspace(l->s[n - 1]))
		n--;
	/* trailing NBSP too */
	while (n >= 2 && (unsigned char)l->s[n - 2] == 0xC2 && (unsigned char)l->s[n - 1] == 0xA0) {
		n -= 2;
		while (n && hspace(l->s[n - 1]))
			n--;
	}
	buf_add(b, l->s, n);
	buf_addc(b, '\n');
}

/* GroupWise's attribution, with the quoted message under it unmarked:
 * ">>> "Ana" <ana@x.com> 23/11/2026 10:00 >>>" */
static bool groupwise_attribution(const struct line *l)
{
	size_t n = l->n;
	while (n && hspace(l->s[n - 1]))
		n--;
	if (n < 12 || memcmp(l->s, ">>> ", 4) || memcmp(l->s + n - 4, " >>>", 4))
		return false;
	for (size_t i = 4; i < n - 4; i++)
		if (l->s[i] == '@' || (l->s[i] >= '0' && l->s[i] <= '9'))
			return true;
	return false;
}

/* The line is exactly s, trailing blanks aside. */
static bool line_is(const struct line *l, const char *s)
{
	size_t n = l->n, m = strlen(s);
	while (n && hspace(l->s[n - 1]))
		n--;
	return n == m && !memcmp(l->s, s, m);
}

/* reply_visible() of the lines of a text */
static char *visible_of(const struct lines *L)
{
	struct buf b;
	buf_init(&b);
	bool pgp = false;   /* inside an inline (clear-signed) OpenPGP text */
	for (size_t i = 0; i < L->n; i++) {
		const struct line *l = &L->v[i];
		struct line unescaped;
		if (!b.len && !pgp && line_is(l, "-----BEGIN PGP SIGNED MESSAGE-----")) {
			/* Enigmail's or a mobile client's inline signature: its armor
			 * header ("Hash: SHA256") down to the first blank line is no
			 * text of the rep's, lines starting with '-' come escaped as
			 * "- -…" (so its "-- " signature reads "- -- "), and the
			 * signature block ends the text */
			pgp = true;
			while (i + 1 < L->n && !is_blank(&L->v[i + 1]))
				i++;
			i++;   /* the blank line */
			continue;
		}
		if (pgp && line_is(l, "-----BEGIN PGP SIGNATURE-----"))
			break;
		if (pgp && l->n >= 2 && l->s[0] == '-' && l->s[1] == ' ') {
			unescaped.s = l->s + 2;
			unescaped.n = l->n - 2;
			l = &unescaped;
		}
		if (groupwise_attribution(l))
			break;
		if (is_quoted(l))
			continue;
		if (is_blank(l)) {
			buf_addc(&b, '\n');
			continue;
		}
		char *f = fold_line(l);
		bool cut = false;
		size_t end;
		bool prev;
		if (is_signature(f) || is_sent_from(f) || is_marker(f) || dashed_attribution(f) ||
		    header_block_at(L, i) || is_disclaimer(L, i, f))
			cut = true;
		else if (is_underscores(f)) {
			size_t j = next_nonblank(L, i);
			cut = j < L->n && header_block_at(L, j);
		} else if (attribution_at(L, i, f, &end, &prev)) {
			if (prev && b.len) {   /* its first line, kept already, goes too */
				b.len--;
				while (b.len && b.s[b.len - 1] != '\n')
					b.len--;
				b.s[b.len] = '\0';
			}
			size_t nx = next_nonblank(L, end);
			if (nx < L->n && is_quoted(&L->v[nx]))
				i = end; /* drop the attribution, keep scanning */
			else
				cut = true;
			free(f);
			if (cut)
				break;
			continue;
		}
		free(f);
		if (cut)
			break;
		add_line(&b, l);
	}
	/* trailing blank lines and whitespace */
	while (b.len && (b.s[b.len - 1] == '\n' || hspace(b.s[b.len - 1])))
		b.s[--b.len] = '\0';
	return buf_detach(&b);
}

char *reply_visible(const char *text)
{
	struct lines L;
	if (!text) {
		struct buf b;
		buf_init(&b);
		return buf_detach(&b);
	}
	split_lines(text, &L);
	char *v = visible_of(&L);
	free(L.v);
	return v;
}

/* ---------------------------------------------------------- forwarded */

/* A line with its leading '>' quote markers removed. */
static struct line unquote(const struct line *l)
{
	struct line r = *l;
	for (;;) {
		size_t i = 0;
		while (i < r.n && hspace(r.s[i]))
			i++;
		if (i < r.n && r.s[i] == '>') {
			r.s += i + 1;
			r.n -= i + 1;
		} else
			return r;
	}
}

static char *value_dup(const struct line *l, size_t off, bool strip_stars)
{
	struct buf b;
	buf_init(&b);
	for (size_t i = off; i < l->n; i++)
		if (!(strip_stars && l->s[i] == '*'))
			buf_addc(&b, l->s[i]);
	return text_trim(buf_detach(&b));
}

static void append_value(char **field, const struct line *l)
{
	char *add = value_dup(l, 0, true);
	if (add[0]) {
		char *joined = xasprintf("%s %s", *field, add);
		free(*field);
		*field = joined;
	}
	free(add);
}

/* Parse the header lines of a forwarded block starting at line i. */
static bool parse_fwd_headers(const struct lines *L, size_t i, struct fwd_block *out)
{
	char **last = NULL;
	size_t skipped = 0;
	memset(out, 0, sizeof *out);
	for (; i < L->n; i++) {
		struct line l = unquote(&L->v[i]);
		if (is_blank(&l)) {
			if (out->from || out->to || out->subject || out->date || out->cc)
				break;
			if (++skipped > 2)
				break;
			continue;
		}
		size_t val;
		enum hkey k = header_key(&l, &val);
		char **field = NULL;
		switch (k) {
		case HK_FROM: field = &out->from; break;
		case HK_TO: field = &out->to; break;
		case HK_CC: field = &out->cc; break;
		case HK_SUBJECT: field = &out->subject; break;
		case HK_DATE: field = &out->date; break;
		case HK_NONE: break;
		}
		if (field) {
			if (!*field)
				*field = value_dup(&l, val, k != HK_SUBJECT && k != HK_DATE);
			last = field;
			continue;
		}
		/* a wrapped address list: continuation of From/To/Cc */
		if (last && (last == &out->to || last == &out->cc || last == &out->from) &&
		    (hspace(l.s[0]) || memchr(l.s, '@', l.n))) {
			append_value(last, &l);
			continue;
		}
		break;
	}
	if (out->from || out->to || out->subject || out->date || out->cc)
		return true;
	fwd_block_free(out);
	return false;
}

/* reply_forwarded() of the lines of a text */
static bool forwarded_of(const struct lines *L, struct fwd_block *out)
{
	bool found = false;
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < L->n && !found; i++) {
		struct line l = unquote(&L->v[i]);
		if (is_blank(&l) || l.n > 400)
			continue;
		/* folding is costly and this scans whole histories: only a line
		 * that starts with - = _ or ends with ':' can be a marker */
		size_t a = 0, z = l.n;
		while (a < l.n && hspace(l.s[a]))
			a++;
		while (z > a && (hspace(l.s[z - 1]) || l.s[z - 1] == '\r'))
			z--;
		bool maybe = a < z && (l.s[a] == '-' || l.s[a] == '=' || l.s[a] == '_' || l.s[z - 1] == ':');
		char *f = maybe ? fold_line(&l) : NULL;
		if (f && (is_marker(f) || is_underscores(f)))
			found = parse_fwd_headers(L, i + 1, out);
		else {
			size_t val;
			if (header_key(&l, &val) == HK_FROM) {
				/* a header block without a marker line (Outlook) */
				struct lines U;
				U.v = xmalloc((L->n - i) * sizeof *U.v);
				U.n = 0;
				for (size_t j = i; j < L->n; j++)
					U.v[U.n++] = unquote(&L->v[j]);
				if (header_block_at(&U, 0))
					found = parse_fwd_headers(L, i, out);
				free(U.v);
			}
		}
		free(f);
	}
	return found;
}

bool reply_forwarded(const char *text, struct fwd_block *out)
{
	if (!text) {
		memset(out, 0, sizeof *out);
		return false;
	}
	struct lines L;
	split_lines(text, &L);
	bool found = forwarded_of(&L, out);
	free(L.v);
	return found;
}

char *reply_visible_forwarded(const char *text, struct fwd_block *out, bool *found_r)
{
	struct lines L;
	split_lines(text ? text : "", &L);
	char *v = visible_of(&L);
	*found_r = forwarded_of(&L, out);
	free(L.v);
	return v;
}

void fwd_block_free(struct fwd_block *f)
{
	if (!f)
		return;
	free(f->from);
	free(f->to);
	free(f->cc);
	free(f->subject);
	free(f->date);
	memset(f, 0, sizeof *f);
}
