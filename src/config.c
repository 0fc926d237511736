/* config.c — the INI configuration (SPEC §6); see config.h.
 *
 * The INI reader is our own (about 150 lines below) rather than libinih:
 * Debian's libinih is built without INI_HANDLER_LINENO, and every diagnostic
 * needs the line of the key it is about.  Reading happens in two passes:
 * first the whole file becomes a list of sections and `key = value` entries
 * (syntax problems reported as they are met), then the sections are
 * interpreted in dependency order ([pipeline] before [stage], [sequence]
 * before the stage actions that name them, [rep] before [distribution]),
 * so sections may appear in any order in the file.  All problems are
 * collected, sorted by line and handed to diag_add(); loading always goes
 * on to find the next problem.
 *
 * Syntax:
 *   - `;` or `#` at the start of a line: a comment line.
 *   - `[type]` or `[type "name"]` (also `[type name]`): a section.  Sections
 *     of the same type and name are merged (a repeated key is an error),
 *     except [rep "x"] for which a second section is a "duplicate rep".
 *   - `key = value`; keys are case-insensitive.  A value may be written in
 *     double quotes to keep `;` or `#` in it.
 *   - Inline comments: a `;` at the start of the value or preceded by
 *     whitespace, and a `#` at the start or preceded by whitespace and
 *     followed by whitespace or the end of the line, start a comment.
 *
 * The `;` rule in action lists (`on_enter`, `on_stale`) and `steps`:
 *   there `;` separates items (`sequence x; task Llamar +2d`).  The value is
 *   split at every `;`; an item that follows a `;` that had whitespace before
 *   it (or that starts the value) and that does not begin with an action
 *   keyword (`sequence`, `task`, `notify`, `score`, `stage`; for `steps`: a
 *   delay such as `2d`) is a trailing comment: it and everything after it is
 *   ignored.  So `on_stale = notify owner; notify manager   ; after stale_days`
 *   is two actions and a comment, while `notify owner;oops` is an error.
 *   Empty items (`a;;b`, a final `;`) are ignored.  `#` comments (whitespace,
 *   `#`, whitespace) are removed first as elsewhere.
 */
#include "config.h"
#include "buf.h"
#include "command.h"
#include "text.h"
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>

/* ---- diagnostics ------------------------------------------------------ */

void diag_add(struct diag *d, const char *file, int line, const char *fmt, ...)
{
	struct buf b;
	buf_init(&b);
	if (file && *file)
		buf_addf(&b, line > 0 ? "%s:%d: " : "%s: ", file, line);
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	d->v = xrealloc(d->v, (d->n + 1) * sizeof *d->v);
	d->v[d->n++] = buf_detach(&b);
}

void diag_free(struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i]);
	free(d->v);
	d->v = NULL;
	d->n = 0;
}

/* ---- languages -------------------------------------------------------- */

const char *lang_code(enum lang l)
{
	static const char *const c[NLANG] = {"es", "pt", "en"};
	return (int)l >= 0 && l < NLANG ? c[l] : "en";
}

bool lang_parse(const char *s, enum lang *l_r)
{
	static const struct {
		const char *w;
		enum lang l;
	} words[] = {
		{"es", LANG_ES}, {"spanish", LANG_ES}, {"espanol", LANG_ES}, {"castellano", LANG_ES},
		{"pt", LANG_PT}, {"portuguese", LANG_PT}, {"portugues", LANG_PT},
		{"en", LANG_EN}, {"english", LANG_EN}, {"ingles", LANG_EN},
	};
	if (!s)
		return false;
	char *f = text_fold(s);
	/* es-MX, pt_BR, en-US: the language part */
	if (strlen(f) == 5 && (f[2] == '-' || f[2] == '_'))
		f[2] = '\0';
	bool ok = false;
	for (size_t i = 0; i < sizeof words / sizeof *words; i++)
		if (!strcmp(f, words[i].w)) {
			if (l_r)
				*l_r = words[i].l;
			ok = true;
			break;
		}
	free(f);
	return ok;
}

/* ---- the built-in default pipeline ------------------------------------- */

static const struct builtin_stage {
	const char *key;
	const char *name[NLANG];
	const char *aliases; /* '|'-separated */
	int probability;
} builtin_stages[] = {
	{"new", {"Oportunidad nueva", "Nova oportunidade", "New opportunity"},
	 "nuevo|nueva|novo|nova|nueva oportunidad|nuevo lead|novo lead|lead|new lead|oportunidad|prospecto|prospect", 10},
	{"qualify", {"Calificar", "Qualificar", "Qualify"},
	 "calificar|calificacion|calificación|calificado|qualificar|qualificacao|qualificação|qualificado|"
	 "qualification|qualified|qualifying",
	 20},
	{"demo", {"Demo", "Demo", "Demo"},
	 "demostracion|demostración|demonstracao|demonstração|demonstration|presentacion|presentación|"
	 "apresentacao|apresentação",
	 40},
	{"proposal", {"Propuesta pendiente", "Proposta pendente", "Proposal pending"},
	 "propuesta|proposta|quote|cotizacion|cotización|cotacao|cotação|orcamento|orçamento|oferta|"
	 "proposal sent|propuesta enviada|proposta enviada",
	 50},
	{"negotiation", {"Negociación", "Negociação", "Negotiation"},
	 "negociacion|negociación|negociacao|negociação|negociando|negotiating", 70},
	{"won", {"Ganado", "Ganho", "Won"}, "ganado|ganada|ganho|ganha|ganamos|ganhamos|closed won|cerrado ganado", 100},
	{"delayed", {"Retrasado", "Atrasado", "Delayed"},
	 "retrasado|retrasada|atrasado|atrasada|pausado|pausada|en pausa|em pausa|pausa|on hold|paused|"
	 "postponed|pospuesto|adiado",
	 10},
	{"lost", {"Perdido", "Perdido", "Lost"}, "perdido|perdida|perdemos|perdimos|closed lost|cerrado perdido", 0},
	{"unreachable", {"No se puede contactar", "Sem contato", "Unreachable"},
	 "sin contacto|sem contato|sem contacto|no contactable|inalcanzable|sin respuesta|no responde|no contesta|"
	 "incontactable",
	 0},
};
#define NBUILTIN (sizeof builtin_stages / sizeof *builtin_stages)

static const char *const default_active[] = {"qualify", "demo", "proposal", "negotiation"};
static const char *const default_won_reasons[] = {"referral", "price", "features", "relationship"};
static const char *const default_lost_reasons[] = {"price", "competitor", "timing", "no budget", "no response"};

/* es/pt synonyms of the default reasons: canonical name, then '|'-separated,
 * and the name shown to a rep who reads es or pt. */
static const struct {
	const char *canon;
	const char *syn;
	const char *es, *pt;
} reason_synonyms[] = {
	{"price", "precio|preço|preco|caro|cara|muy caro|muito caro|too expensive|expensive|costo|custo|pricing", "precio", "preço"},
	{"competitor", "competencia|competidor|competidores|concorrente|concorrentes|concorrencia|concorrência|"
		       "competition|la competencia|a concorrencia", "competencia", "concorrência"},
	{"timing", "tiempo|momento|timing|prazo|tempo|not now|ahora no|agora nao|agora não|fecha|calendario|"
		   "não é o momento|nao e o momento|no es el momento|not the right time", "momento", "momento"},
	{"no budget", "sin presupuesto|sem orçamento|sem orcamento|sem verba|presupuesto|orçamento|orcamento|"
		      "budget|no presupuesto|sin dinero|sem dinheiro", "sin presupuesto", "sem orçamento"},
	{"no response", "sin respuesta|sem resposta|no contesta|no responde|nao responde|não responde|"
			"no answer|ghosted|unresponsive|no contestan|no responden|nao respondem|não respondem|"
			"no contestaron|no respondieron|sin contestar|never replied|no reply|sem retorno|"
			"cliente sumiu|sumiu|sin retorno|desapareció|desaparecio", "sin respuesta", "sem resposta"},
	{"referral", "referido|referida|recomendacion|recomendación|indicação|indicacao|referencia|referência|"
		     "recomendação|recomendacao|recommendation|referred", "referido", "indicação"},
	{"features", "funcionalidades|funcionalidad|características|caracteristicas|funcionalidade|producto|"
		     "produto|product|funciones|funções", "funcionalidades", "funcionalidades"},
	{"relationship", "relación|relacion|relacionamento|relaciones|confianza|confiança|trust", "relación", "relacionamento"},
};

/* ---- small helpers ------------------------------------------------------ */

struct strv {
	char **v;
	size_t n;
};

static void strv_add(struct strv *s, const char *x)
{
	s->v = xrealloc(s->v, (s->n + 1) * sizeof *s->v);
	s->v[s->n++] = xstrdup(x);
}

static bool strv_has(const struct strv *s, const char *x)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], x))
			return true;
	return false;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static char *trim_dup(const char *s, size_t n)
{
	while (n && is_space(*s))
		s++, n--;
	while (n && is_space(s[n - 1]))
		n--;
	return xstrndup(s, n);
}

/* Split on `sep`, trimming each item, dropping empty ones. */
static struct strv split_list(const char *s, char sep)
{
	struct strv r = {0};
	while (s && *s) {
		const char *e = s;
		bool inq = false;
		for (; *e && (inq || *e != sep); e++)
			if (*e == '"')
				inq = !inq;
		if (!*e)
			e = NULL;
		size_t n = e ? (size_t)(e - s) : strlen(s);
		char *it = trim_dup(s, n);
		size_t il = strlen(it);
		if (il >= 2 && it[0] == '"' && it[il - 1] == '"') {
			memmove(it, it + 1, il - 2);
			it[il - 2] = '\0';
		}
		if (*it)
			strv_add(&r, it);
		free(it);
		s = e ? e + 1 : s + n;
	}
	return r;
}

static void lower_ascii(char *s)
{
	for (; s && *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static bool parse_long(const char *s, long min, long max, long *out)
{
	if (!s || !*s)
		return false;
	const char *p = s;
	if (*p == '+')
		p++;
	if (!isdigit((unsigned char)*p) && !(*p == '-' && p == s && isdigit((unsigned char)p[1])))
		return false;
	errno = 0;
	char *end;
	long v = strtol(p, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1", "si", "sí", "sim"};
	static const char *const no[] = {"no", "false", "off", "0", "não", "nao"};
	char *f = text_fold(s);
	bool ok = false;
	for (size_t i = 0; i < sizeof yes / sizeof *yes && !ok; i++) {
		char *y = text_fold(yes[i]);
		if (!strcmp(f, y))
			*out = true, ok = true;
		free(y);
	}
	for (size_t i = 0; i < sizeof no / sizeof *no && !ok; i++) {
		char *n = text_fold(no[i]);
		if (!strcmp(f, n))
			*out = false, ok = true;
		free(n);
	}
	free(f);
	return ok;
}

/* "HH:MM" -> minutes; allow_24 accepts "24:00". */
static bool parse_hhmm(const char *s, bool allow_24, int *out)
{
	int h = 0, m = 0, i = 0;
	if (!isdigit((unsigned char)s[i]))
		return false;
	h = s[i++] - '0';
	if (isdigit((unsigned char)s[i]))
		h = h * 10 + (s[i++] - '0');
	if (s[i++] != ':' || !isdigit((unsigned char)s[i]) || !isdigit((unsigned char)s[i + 1]) || s[i + 2])
		return false;
	m = (s[i] - '0') * 10 + (s[i + 1] - '0');
	if (m > 59 || h > 24 || (h == 24 && (!allow_24 || m)))
		return false;
	*out = h * 60 + m;
	return true;
}

static bool is_email(const char *s)
{
	const char *at = strchr(s, '@');
	if (!at || at == s || strchr(at + 1, '@') || !at[1])
		return false;
	for (const char *p = s; p < at; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= ' ' || c == 0x7f || strchr("<>()[]\\,;:\"", c))
			return false;
	}
	if (*s == '.' || at[-1] == '.' || strstr(s, ".."))
		return false;
	const char *d = at + 1;
	if (*d == '.' || *d == '-' || d[strlen(d) - 1] == '.' || d[strlen(d) - 1] == '-')
		return false;
	for (const char *p = d; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (!(isalnum(c) || c == '-' || c == '.' || c >= 0x80))
			return false;
	}
	return true;
}

static bool is_ident(const char *s)
{
	if (!*s || *s == '.' || *s == '-')
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
			return false;
	return true;
}

static char *join_path(const char *dir, const char *p)
{
	if (!p)
		return NULL;
	if (p[0] == '/' || !dir || !strcmp(dir, ""))
		return xstrdup(p);
	return xasprintf("%s/%s", dir, p);
}

/* ---- the loader ----------------------------------------------------------- */

enum sect_kind {
	S_DEALMAIL, S_IMAP, S_SMTP, S_PIPELINE, S_STAGE, S_SEQUENCE, S_REP, S_SCORING,
	S_DISTRIBUTION, S_DIGEST, S_LIMITS, S_NKINDS
};

static const struct {
	const char *name;
	bool named; /* takes a "name" */
	const char *keys[20];
} sect_defs[S_NKINDS] = {
	[S_DEALMAIL] = {"dealmail", false,
			{"database", "address", "name", "language", "timezone", "secret_file", "confirm",
			 "require_auth", "authserv_id", "templates", "currency", "undo_minutes", "pipe_timeout",
			 "busy_timeout_ms", "confirm_per_hour", "socket", "unsubscribe_url", NULL}},
	[S_IMAP] = {"imap", false,
		    {"url", "user", "password_file", "ca_file", "token_file", "auth", "processed", "tls",
		     "quarantine", NULL}},
	[S_SMTP] = {"smtp", false, {"url", "user", "password_file", "ca_file", "token_file", "auth", "tls",
				    "retry_base", "retry_max", "give_up_after", NULL}},
	[S_PIPELINE] = {"pipeline", false,
			{"stages", "active", "default", "won", "lost", "require_won_reason", "require_lost_reason",
			 "strict_reasons", "won_reasons", "lost_reasons", "sync_contact_owner", NULL}},
	[S_STAGE] = {"stage", true,
		     {"name", "name.es", "name.pt", "name.en", "aliases", "probability", "stale_days", "on_enter",
		      "on_stale", NULL}},
	[S_SEQUENCE] = {"sequence", true, {"steps", "window", NULL}},
	[S_REP] = {"rep", true, {"name", "role", "team", "language", NULL}},
	[S_SCORING] = {"scoring", false, {"reply", "meeting", "unsubscribe", "no_show", "threshold", NULL}},
	[S_DISTRIBUTION] = {"distribution", false, {"mode", "team", NULL}},
	[S_DIGEST] = {"digest", false, {"time", "silent_days", "monthly_target", "skip_empty", NULL}},
	[S_LIMITS] = {"limits", false, {"max_message_bytes", "max_quarantine_bytes", "max_mime_depth", "max_mime_parts",
				     NULL}},
};

struct ent {
	char *key;  /* lower-cased */
	char *raw;  /* trimmed value, comments not yet removed */
	int line;
};

struct group {
	enum sect_kind kind;
	char *name; /* subsection name or NULL */
	int line;   /* of the first header */
	bool dead;  /* keys ignored (duplicate rep) */
	struct ent *e;
	size_t n;
};

struct dmsg {
	int line;
	char *msg;
};

struct pending_ref {   /* a stage action naming a sequence or a stage */
	int stage;
	bool on_stale;
	size_t idx;
	int line;
};

struct loader {
	const char *file;
	struct config *cfg;
	struct group *g;
	size_t ng;
	struct dmsg *dm;
	size_t ndm;
	int stages_line;          /* line of [pipeline] stages, or 0 */
	bool custom_pipeline;
	size_t *nuser_aliases;    /* per stage: aliases[0..n) written by the user */
};

static void err(struct loader *ld, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void err(struct loader *ld, int line, const char *fmt, ...)
{
	struct buf b;
	buf_init(&b);
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	ld->dm = xrealloc(ld->dm, (ld->ndm + 1) * sizeof *ld->dm);
	ld->dm[ld->ndm].line = line;
	ld->dm[ld->ndm].msg = buf_detach(&b);
	ld->ndm++;
}

/* closest of cands (NULL-terminated) to w, or NULL */
static const char *closest(const char *const *cands, size_t n, const char *w);
static bool in_group(size_t k, const char *x);

static const char *closest_in(const char *const *cands, const char *w)
{
	size_t n = 0;
	while (cands[n])
		n++;
	return closest(cands, n, w);
}

/* Remove an inline comment (see the header) and surrounding quotes. */
static char *value_clean(const char *raw)
{
	if (raw[0] == '"') {
		struct buf b;
		buf_init(&b);
		const char *p = raw + 1;
		for (; *p && *p != '"'; p++) {
			if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
				p++;
			buf_addc(&b, *p);
		}
		if (*p == '"')
			return buf_detach(&b);
		buf_release(&b); /* unterminated quote: take as written */
	}
	size_t n = strlen(raw);
	bool inq = false;
	for (size_t i = 0; raw[i]; i++) {
		if (raw[i] == '"')
			inq = !inq;
		bool after_space = i == 0 || is_space(raw[i - 1]);
		if (!after_space || inq)
			continue;
		if (raw[i] == ';' || (raw[i] == '#' && (!raw[i + 1] || is_space(raw[i + 1])))) {
			n = i;
			break;
		}
	}
	return trim_dup(raw, n);
}

/* Remove only `#` comments (for action lists and steps). */
static char *value_strip_hash(const char *raw)
{
	size_t n = strlen(raw);
	for (size_t i = 0; raw[i]; i++)
		if (raw[i] == '#' && (i == 0 || is_space(raw[i - 1])) && (!raw[i + 1] || is_space(raw[i + 1]))) {
			n = i;
			break;
		}
	return trim_dup(raw, n);
}

static struct group *group_get(struct loader *ld, enum sect_kind k, const char *name, int line, bool *created)
{
	for (size_t i = 0; i < ld->ng; i++) {
		struct group *g = &ld->g[i];
		if (g->kind != k || g->dead)
			continue;
		if ((!name && !g->name) ||
		    (name && g->name && (k == S_REP ? !strcasecmp(name, g->name) : !strcmp(name, g->name)))) {
			*created = false;
			return g;
		}
	}
	ld->g = xrealloc(ld->g, (ld->ng + 1) * sizeof *ld->g);
	struct group *g = &ld->g[ld->ng++];
	memset(g, 0, sizeof *g);
	g->kind = k;
	g->name = xstrdup(name);
	g->line = line;
	*created = true;
	return g;
}

static const char *sect_label(const struct group *g, char *tmp, size_t n)
{
	if (g->name)
		snprintf(tmp, n, "[%s \"%s\"]", sect_defs[g->kind].name, g->name);
	else
		snprintf(tmp, n, "[%s]", sect_defs[g->kind].name);
	return tmp;
}

/* Parse a section header line (starting at '[').  Returns the group or NULL
 * (error reported; subsequent keys are skipped). */
static struct group *parse_header(struct loader *ld, const char *s, int line)
{
	const char *p = s + 1;
	while (*p == ' ' || *p == '\t')
		p++;
	const char *t0 = p;
	while (isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.')
		p++;
	char *type = xstrndup(t0, (size_t)(p - t0));
	lower_ascii(type);
	while (*p == ' ' || *p == '\t')
		p++;
	char *name = NULL;
	bool bad = false;
	if (*p == '"') {
		struct buf b;
		buf_init(&b);
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
				p++;
			buf_addc(&b, *p);
		}
		if (*p != '"')
			bad = true;
		else
			p++;
		name = buf_detach(&b);
	} else if (*p && *p != ']') {
		const char *n0 = p;
		while (*p && *p != ']')
			p++;
		name = trim_dup(n0, (size_t)(p - n0));
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != ']')
		bad = true;
	else {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p && *p != ';' && *p != '#')
			bad = true;
	}
	struct group *g = NULL;
	if (bad || !*type) {
		err(ld, line, "malformed section header (expected [section] or [section \"name\"])");
		goto out;
	}
	int k = -1;
	for (int i = 0; i < S_NKINDS; i++)
		if (!strcmp(type, sect_defs[i].name))
			k = i;
	if (k < 0) {
		const char *cands[S_NKINDS + 1];
		for (int i = 0; i < S_NKINDS; i++)
			cands[i] = sect_defs[i].name;
		cands[S_NKINDS] = NULL;
		const char *sug = closest_in(cands, type);
		if (sug)
			err(ld, line, "unknown section [%s] (did you mean [%s]?)", type, sug);
		else
			err(ld, line, "unknown section [%s]", type);
		goto out;
	}
	if (sect_defs[k].named && (!name || !*name)) {
		err(ld, line, "section [%s] needs a name: [%s \"...\"]", type, type);
		goto out;
	}
	if (!sect_defs[k].named && name) {
		err(ld, line, "section [%s] takes no name", type);
		goto out;
	}
	if (k == S_REP) {
		char *t = text_trim(name);
		memmove(name, t, strlen(t) + 1);
		lower_ascii(name);
	}
	bool created;
	g = group_get(ld, (enum sect_kind)k, name, line, &created);
	if (!created && k == S_REP) {
		err(ld, line, "duplicate rep \"%s\" (already defined at line %d)", name, g->line);
		/* a dead group swallows this section's keys */
		ld->g = xrealloc(ld->g, (ld->ng + 1) * sizeof *ld->g);
		g = &ld->g[ld->ng++];
		memset(g, 0, sizeof *g);
		g->kind = S_REP;
		g->name = xstrdup(name);
		g->line = line;
		g->dead = true;
	}
out:
	free(type);
	free(name);
	return g;
}

static void parse_text(struct loader *ld, const char *text, size_t len)
{
	struct group *cur = NULL;
	bool skipping = false; /* inside a section whose header was bad */
	int line = 0;
	const char *p = text, *end = text + len;
	if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
		p += 3;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		line++;
		char *l = trim_dup(p, n);
		p = nl ? nl + 1 : end;
		if (!*l || *l == ';' || *l == '#') {
			free(l);
			continue;
		}
		if (*l == '[') {
			cur = parse_header(ld, l, line);
			skipping = cur == NULL;
			free(l);
			continue;
		}
		char *eq = strchr(l, '=');
		if (!eq) {
			err(ld, line, "expected \"key = value\"");
			free(l);
			continue;
		}
		char *key = trim_dup(l, (size_t)(eq - l));
		char *raw = trim_dup(eq + 1, strlen(eq + 1));
		lower_ascii(key);
		if (!*key) {
			err(ld, line, "missing key before '='");
		} else if (skipping) {
			/* reported at the header */
		} else if (!cur) {
			err(ld, line, "key \"%s\" outside any section", key);
		} else if (!cur->dead) {
			const char *const *keys = sect_defs[cur->kind].keys;
			bool known = false;
			for (size_t i = 0; keys[i]; i++)
				if (!strcmp(keys[i], key))
					known = true;
			char lab[256];
			if (!known) {
				const char *sug = closest_in(keys, key);
				if (sug)
					err(ld, line, "unknown key \"%s\" in %s (did you mean \"%s\"?)", key,
					    sect_label(cur, lab, sizeof lab), sug);
				else
					err(ld, line, "unknown key \"%s\" in %s", key, sect_label(cur, lab, sizeof lab));
			} else {
				int prev = 0;
				for (size_t i = 0; i < cur->n; i++)
					if (!strcmp(cur->e[i].key, key))
						prev = cur->e[i].line;
				if (prev) {
					err(ld, line, "duplicate key \"%s\" in %s (already set at line %d)", key,
					    sect_label(cur, lab, sizeof lab), prev);
				} else {
					cur->e = xrealloc(cur->e, (cur->n + 1) * sizeof *cur->e);
					cur->e[cur->n].key = key;
					cur->e[cur->n].raw = raw;
					cur->e[cur->n].line = line;
					cur->n++;
					key = raw = NULL;
				}
			}
		}
		free(key);
		free(raw);
		free(l);
	}
}

/* ---- value parsers that report ------------------------------------------ */

static const struct ent *ent_find(const struct group *g, const char *key)
{
	for (size_t i = 0; g && i < g->n; i++)
		if (!strcmp(g->e[i].key, key))
			return &g->e[i];
	return NULL;
}

static void get_int(struct loader *ld, const struct ent *e, long min, long max, int *dst)
{
	char *v = value_clean(e->raw);
	long x;
	size_t n = strlen(v);
	if (n && v[n - 1] == '%' && max == 100)
		v[n - 1] = '\0';
	if (!*v)
		; /* empty: keep the default */
	else if (!parse_long(v, min, max, &x))
		err(ld, e->line, "%s: \"%s\" is not a whole number between %ld and %ld", e->key, v, min, max);
	else
		*dst = (int)x;
	free(v);
}

static void get_bool(struct loader *ld, const struct ent *e, bool *dst)
{
	char *v = value_clean(e->raw);
	if (*v && !parse_bool(v, dst))
		err(ld, e->line, "%s: \"%s\" is not a boolean (use yes/no, true/false, on/off, 1/0)", e->key, v);
	free(v);
}

static void get_str(const struct ent *e, char **dst)
{
	char *v = value_clean(e->raw);
	if (*v) {
		free(*dst);
		*dst = v;
	} else {
		free(v);
	}
}

static void get_path(struct loader *ld, const struct ent *e, char **dst)
{
	char *v = value_clean(e->raw);
	if (*v) {
		free(*dst);
		*dst = join_path(ld->cfg->dir, v);
	}
	free(v);
}

static void get_lang(struct loader *ld, const struct ent *e, enum lang *dst)
{
	char *v = value_clean(e->raw);
	if (*v && !lang_parse(v, dst))
		err(ld, e->line, "%s: unknown language \"%s\" (use es, pt or en)", e->key, v);
	free(v);
}

static void get_time(struct loader *ld, const struct ent *e, int *dst)
{
	char *v = value_clean(e->raw);
	if (*v && !parse_hhmm(v, false, dst))
		err(ld, e->line, "%s: \"%s\" is not a time of day (use HH:MM, e.g. 07:30)", e->key, v);
	free(v);
}

static bool tz_exists(const char *tz)
{
	if (!strcasecmp(tz, "UTC") || !strcasecmp(tz, "GMT") || !strcmp(tz, "Etc/UTC") || !strcmp(tz, "Z"))
		return true;
	if (tz[0] == '/' || strstr(tz, "..") || strchr(tz, ' '))
		return false;
	const char *dir = getenv("TZDIR");
	if (!dir || !*dir)
		dir = "/usr/share/zoneinfo";
	struct stat st;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return true; /* no tzdata here: cannot check */
	char *p = xasprintf("%s/%s", dir, tz);
	bool ok = stat(p, &st) == 0 && S_ISREG(st.st_mode);
	free(p);
	return ok;
}

/* ---- stage lookup ---------------------------------------------------------- */

/* Whether folded config text `fc` (made at load) or, without it, config text
 * `c` matches `f`, itself folded once. */
static bool fold_match(const char *fc, const char *c, const char *f, const char *ff)
{
	return fc ? !strcmp(fc, ff) : text_fold_eq(c, f);
}

size_t config_quarantine_max(const struct config *cfg)
{
	return cfg->max_quarantine_bytes > cfg->max_message_bytes ? cfg->max_quarantine_bytes : cfg->max_message_bytes;
}

int config_stage_find(const struct config *cfg, const char *name)
{
	if (!cfg || !name)
		return -1;
	for (size_t i = 0; i < cfg->nstages; i++)   /* the common case: a key as stored */
		if (!strcmp(cfg->stages[i].key, name))
			return (int)i;
	char *f = text_fold(name);
	char *ff = text_fold(f);   /* what text_fold_eq() compares with */
	int found = -1;
	if (*f) {
		for (int pass = 0; pass < 3 && found < 0; pass++)
			for (size_t i = 0; i < cfg->nstages && found < 0; i++) {
				const struct stage *s = &cfg->stages[i];
				if (pass == 0 && fold_match(s->fold_key, s->key, f, ff))
					found = (int)i;
				for (int l = 0; pass == 1 && l < NLANG && found < 0; l++)
					if (fold_match(s->fold_key ? s->fold_name[l] : NULL, s->name[l], f, ff))
						found = (int)i;
				for (size_t a = 0; pass == 2 && a < s->naliases && found < 0; a++)
					if (fold_match(s->fold_key ? s->fold_aliases[a] : NULL, s->aliases[a], f, ff))
						found = (int)i;
			}
	}
	free(ff);
	free(f);
	return found;
}

/* The folded forms config_stage_find() compares with (once, at load: a
 * lookup by a rep's word folded every name of every stage each time). */
static void fold_stage_names(struct config *c)
{
	for (size_t i = 0; i < c->nstages; i++) {
		struct stage *s = &c->stages[i];
		s->fold_key = text_fold(s->key);
		for (int l = 0; l < NLANG; l++)
			s->fold_name[l] = text_fold(s->name[l]);
		s->fold_aliases = s->naliases ? xcalloc(s->naliases, sizeof *s->fold_aliases) : NULL;
		for (size_t a = 0; a < s->naliases; a++)
			s->fold_aliases[a] = text_fold(s->aliases[a]);
	}
}

const char *stage_name(const struct config *cfg, int stage, enum lang l)
{
	if (!cfg || stage < 0 || (size_t)stage >= cfg->nstages)
		return "?";
	if ((int)l < 0 || l >= NLANG)
		l = LANG_EN;
	return cfg->stages[stage].name[l];
}

static const struct builtin_stage *builtin_find(const char *key)
{
	for (size_t i = 0; i < NBUILTIN; i++)
		if (!strcmp(builtin_stages[i].key, key))
			return &builtin_stages[i];
	return NULL;
}

static void stage_init(struct stage *s, const char *key)
{
	memset(s, 0, sizeof *s);
	s->key = xstrdup(key);
	s->probability = -1;
	const struct builtin_stage *b = builtin_find(key);
	for (int l = 0; l < NLANG; l++)
		s->name[l] = xstrdup(b ? b->name[l] : key);
	if (b)
		s->probability = b->probability;
}

static void stage_free(struct stage *s)
{
	free(s->key);
	for (int l = 0; l < NLANG; l++)
		free(s->name[l]);
	free(s->fold_key);
	for (int l = 0; l < NLANG; l++)
		free(s->fold_name[l]);
	if (s->fold_aliases)
		strv_free(s->fold_aliases, s->naliases);
	strv_free(s->aliases, s->naliases);
	for (size_t i = 0; i < s->non_enter; i++)
		free(s->on_enter[i].arg);
	for (size_t i = 0; i < s->non_stale; i++)
		free(s->on_stale[i].arg);
	free(s->on_enter);
	free(s->on_stale);
}

static bool alias_has(const struct stage *s, const char *a)
{
	for (size_t i = 0; i < s->naliases; i++)
		if (text_fold_eq(s->aliases[i], a))
			return true;
	return false;
}

static void alias_push(struct stage *s, const char *a)
{
	s->aliases = xrealloc(s->aliases, (s->naliases + 1) * sizeof *s->aliases);
	s->aliases[s->naliases++] = xstrdup(a);
}

static void alias_add(struct stage *s, const char *a)
{
	if (!alias_has(s, a))
		alias_push(s, a);
}

/* does folded text f name stage s by key, name or its first n aliases? */
static bool stage_names(const struct stage *s, const char *a, size_t nalias)
{
	if (text_fold_eq(s->key, a))
		return true;
	for (int l = 0; l < NLANG; l++)
		if (text_fold_eq(s->name[l], a))
			return true;
	for (size_t i = 0; i < nalias && i < s->naliases; i++)
		if (text_fold_eq(s->aliases[i], a))
			return true;
	return false;
}

/* ---- suggestions --------------------------------------------------------- */

static size_t cp_len(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static const char *closest(const char *const *cands, size_t n, const char *w)
{
	char *fw = text_fold(w);
	size_t len = cp_len(fw);
	const char *best = NULL;
	int bestd = INT_MAX;
	int limit = (int)(len / 3 > 2 ? len / 3 : 2);
	if (len > 0) {
		for (size_t i = 0; i < n; i++) {
			if (!cands[i])
				continue;
			int dist = text_distance(fw, cands[i]);
			if (dist <= limit && (size_t)dist < len && dist < bestd) {
				bestd = dist;
				best = cands[i];
			}
		}
		/* a unique prefix ("prop" for "proposal") */
		if (!best && len >= 3) {
			const char *pre = NULL;
			char *fpre = NULL;
			bool unique = true;
			for (size_t i = 0; i < n && unique; i++) {
				if (!cands[i])
					continue;
				char *fc = text_fold(cands[i]);
				if (!strncmp(fc, fw, strlen(fw))) {
					if (!pre) {
						pre = cands[i];
						fpre = fc;
						fc = NULL;
					} else if (strcmp(fpre, fc)) {
						unique = false;
					}
				}
				free(fc);
			}
			free(fpre);
			if (pre && unique)
				best = pre;
		}
	}
	free(fw);
	return best;
}

const char *config_suggest(const struct config *cfg, int kind, const char *wrong)
{
	if (!cfg || !wrong)
		return NULL;
	struct {
		const char **v;
		size_t n;
	} c = {0};
#define ADD(x) (c.v = xrealloc(c.v, (c.n + 1) * sizeof *c.v), c.v[c.n++] = (x))
	if (kind == 0) {
		for (size_t i = 0; i < cfg->nstages; i++) {
			const struct stage *s = &cfg->stages[i];
			ADD(s->key);
			for (int l = 0; l < NLANG; l++)
				ADD(s->name[l]);
			for (size_t a = 0; a < s->naliases; a++)
				ADD(s->aliases[a]);
		}
	} else if (kind == 1 || kind == 2) {
		/* a reason is matched in any language through its synonyms, so
		 * the nearest is looked for among them too ("precios" is nearest
		 * to "precio"); the answer is the configured reason it stands for */
		char **list = kind == 1 ? cfg->won_reasons : cfg->lost_reasons;
		size_t nl = kind == 1 ? cfg->nwon_reasons : cfg->nlost_reasons;
		struct strv names = {0};
		const char **owner = NULL;
		for (size_t i = 0; i < nl; i++) {
			strv_add(&names, list[i]);
			owner = xrealloc(owner, names.n * sizeof *owner);
			owner[names.n - 1] = list[i];
			for (size_t k = 0; k < sizeof reason_synonyms / sizeof *reason_synonyms; k++) {
				if (!in_group(k, list[i]))
					continue;
				struct strv syn = split_list(reason_synonyms[k].syn, '|');
				for (size_t j = 0; j < syn.n; j++) {
					strv_add(&names, syn.v[j]);
					owner = xrealloc(owner, names.n * sizeof *owner);
					owner[names.n - 1] = list[i];
				}
				strv_free(syn.v, syn.n);
			}
		}
		const char *near = closest((const char *const *)names.v, names.n, wrong);
		const char *r = NULL;
		for (size_t i = 0; near && i < names.n; i++)
			if (names.v[i] == near)
				r = owner[i];
		strv_free(names.v, names.n);
		free(owner);
		return r;
	} else if (kind == 3) {
		for (size_t i = 0; i < cfg->nreps; i++) {
			ADD(cfg->reps[i].email);
			ADD(cfg->reps[i].name);
		}
	}
#undef ADD
	const char *r = closest(c.v, c.n, wrong);
	free(c.v);
	return r;
}

/* ---- reasons -------------------------------------------------------------- */

static bool in_group(size_t k, const char *x)
{
	if (text_fold_eq(reason_synonyms[k].canon, x))
		return true;
	struct strv syn = split_list(reason_synonyms[k].syn, '|');
	bool hit = false;
	for (size_t j = 0; j < syn.n && !hit; j++)
		hit = text_fold_eq(syn.v[j], x);
	strv_free(syn.v, syn.n);
	return hit;
}

/* The list item equal to f, or one in the same synonym group as f. */
static const char *reason_match(char **list, size_t n, const char *f)
{
	for (size_t i = 0; i < n; i++)
		if (text_fold_eq(list[i], f))
			return list[i];
	for (size_t k = 0; k < sizeof reason_synonyms / sizeof *reason_synonyms; k++) {
		if (!in_group(k, f))
			continue;
		for (size_t i = 0; i < n; i++)
			if (in_group(k, list[i]))
				return list[i];
	}
	return NULL;
}

/* " w1 w2 … ": the folded words of f between single spaces. */
static char *word_padded(const char *f)
{
	struct buf b;
	buf_init(&b);
	buf_addc(&b, ' ');
	for (const unsigned char *p = (const unsigned char *)f; *p; p++) {
		bool word = isalnum(*p) || *p >= 0x80;
		if (word)
			buf_addc(&b, (char)*p);
		else if (b.s[b.len - 1] != ' ')
			buf_addc(&b, ' ');
	}
	if (b.s[b.len - 1] != ' ')
		buf_addc(&b, ' ');
	return buf_detach(&b);
}

static bool has_words(const char *padded, const char *phrase)
{
	char *f = text_fold(phrase), *p = word_padded(f);
	bool hit = strlen(p) > 2 && strstr(padded, p) != NULL;
	free(p);
	free(f);
	return hit;
}

/* A reason written as a phrase ("el precio", "precio alto", "se fueron con la
 * competencia", "no hay presupuesto"): the one configured reason whose name or
 * synonym it contains as whole words; none when it names two. */
static const char *reason_within(char **list, size_t n, const char *f)
{
	char *padded = word_padded(f);
	/* "no fue por precio, fue por tiempos": a reason denied is not the
	 * reason ("no hay presupuesto" is one: its "no" is the reason's own) */
	static const char *const denied[] = {
		" no fue ", " no por ", " no es ", " no era ", " nao foi ", " nao por ", " nao e ", " not because ",
		" not for ", " not due ", " not the ", " wasn t ", " was not ", NULL,
	};
	for (const char *const *d = denied; *d; d++)
		if (strstr(padded, *d)) {
			free(padded);
			return NULL;
		}
	const char *found = NULL;
	bool two = false;
	for (size_t i = 0; i < n && !two; i++) {
		bool hit = has_words(padded, list[i]);
		for (size_t k = 0; k < sizeof reason_synonyms / sizeof *reason_synonyms && !hit; k++) {
			if (!in_group(k, list[i]))
				continue;
			struct strv syn = split_list(reason_synonyms[k].syn, '|');
			for (size_t j = 0; j < syn.n && !hit; j++)
				hit = has_words(padded, syn.v[j]);
			strv_free(syn.v, syn.n);
			hit = hit || has_words(padded, reason_synonyms[k].canon);
		}
		if (hit && found && found != list[i])
			two = true;
		else if (hit)
			found = list[i];
	}
	free(padded);
	return two ? NULL : found;
}

const char *config_reason_find(const struct config *cfg, bool won, const char *reason)
{
	if (!cfg || !reason)
		return NULL;
	char **list = won ? cfg->won_reasons : cfg->lost_reasons;
	size_t n = won ? cfg->nwon_reasons : cfg->nlost_reasons;
	char *f = text_fold(reason);
	const char *r = *f ? reason_match(list, n, f) : NULL;
	if (!r && *f) {
		/* "precio, se fueron con otro": the leading part */
		size_t k = strcspn(f, ",;:(.!/");
		char *dash = strstr(f, " - ");
		if (dash && (size_t)(dash - f) < k)
			k = (size_t)(dash - f);
		if (k < strlen(f)) {
			char *lead = trim_dup(f, k);
			if (*lead)
				r = reason_match(list, n, lead);
			free(lead);
		}
	}
	if (!r && *f)
		r = reason_within(list, n, f);
	free(f);
	return r;
}

const char *config_reason_name(const char *reason, enum lang l)
{
	if (!reason || l == LANG_EN)
		return reason;
	for (size_t k = 0; k < sizeof reason_synonyms / sizeof *reason_synonyms; k++)
		if (!strcmp(reason_synonyms[k].canon, reason))
			return l == LANG_ES ? reason_synonyms[k].es : reason_synonyms[k].pt;
	return reason;
}

/* ---- reps and sequences ---------------------------------------------------- */

const struct rep *config_rep_by_address(const struct config *cfg, const char *email)
{
	const char *at = email ? strrchr(email, '@') : NULL;
	if (!cfg || !at)
		return NULL;
	for (size_t i = 0; i < cfg->nreps; i++)
		if (!strcasecmp(cfg->reps[i].email, email))
			return &cfg->reps[i];
	const char *plus = memchr(email, '+', (size_t)(at - email));
	if (!plus || plus == email)
		return NULL;
	size_t ll = (size_t)(plus - email);
	for (size_t i = 0; i < cfg->nreps; i++) {
		const char *r = cfg->reps[i].email;
		if (!strncasecmp(r, email, ll) && r[ll] == '@' && !strcasecmp(r + ll, at))
			return &cfg->reps[i];
	}
	return NULL;
}

/* Is folded f the rep's local part ("ana") or first name ("Ana")? */
static bool short_name_is(const struct rep *p, const char *f)
{
	char *local = xstrndup(p->email, strcspn(p->email, "@")), *first = text_fold(p->name);
	first[strcspn(first, " ")] = '\0';
	bool is = text_fold_eq(local, f) || text_fold_eq(first, f);
	free(local);
	free(first);
	return is;
}

const struct rep *config_rep_find(const struct config *cfg, const char *who)
{
	if (!cfg || !who)
		return NULL;
	const char *lt = strchr(who, '<'), *gt = lt ? strchr(lt, '>') : NULL;
	char *w = lt && gt ? trim_dup(lt + 1, (size_t)(gt - lt - 1)) : trim_dup(who, strlen(who));
	if (w[0] == '@')  /* "@ana" */
		memmove(w, w + 1, strlen(w));
	const struct rep *r = NULL;
	for (size_t i = 0; i < cfg->nreps && !r; i++)
		if (!strcasecmp(cfg->reps[i].email, w))
			r = &cfg->reps[i];
	if (r || strchr(w, '@')) {   /* an address matches exactly or not at all */
		free(w);
		return r;
	}
	char *f = text_fold(w);
	for (size_t i = 0; i < cfg->nreps && !r && *f; i++)
		if (text_fold_eq(cfg->reps[i].name, f))
			r = &cfg->reps[i];
	/* a local part ("ana") or a first name ("Ana") that is one rep's
	 * only: with ana@ and Ana Souza <asouza@> both "Ana", it names nobody
	 * (the command is refused with the reps to choose from) */
	if (!r && *f && !strchr(f, '@') && !strchr(f, ' ')) {
		const struct rep *hit = NULL;
		int hits = 0;
		for (size_t i = 0; i < cfg->nreps; i++)
			if (short_name_is(&cfg->reps[i], f))
				hit = &cfg->reps[i], hits++;
		if (hits == 1)
			r = hit;
	}
	free(f);
	free(w);
	return r;
}

char *config_rep_ambiguous(const struct config *cfg, const char *who)
{
	if (!cfg || !who || strchr(who, '@') || strchr(who, '<'))
		return NULL;
	char *f = text_fold(who);
	struct buf b;
	buf_init(&b);
	int hits = 0;
	for (size_t i = 0; i < cfg->nreps && *f && !strchr(f, ' '); i++)
		if (short_name_is(&cfg->reps[i], f)) {
			buf_addf(&b, "%s%s <%s>", hits ? ", " : "", cfg->reps[i].name, cfg->reps[i].email);
			hits++;
		}
	free(f);
	char *out = buf_detach(&b);
	if (hits < 2) {
		free(out);
		return NULL;
	}
	return out;
}

const struct sequence *config_sequence_find(const struct config *cfg, const char *name)
{
	if (!cfg || !name)
		return NULL;
	for (size_t i = 0; i < cfg->nsequences; i++)
		if (!strcmp(cfg->sequences[i].name, name))
			return &cfg->sequences[i];
	for (size_t i = 0; i < cfg->nsequences; i++)
		if (text_fold_eq(cfg->sequences[i].name, name))
			return &cfg->sequences[i];
	return NULL;
}

/* ---- section interpreters ---------------------------------------------------- */

static struct group *gsingle(struct loader *ld, enum sect_kind k)
{
	for (size_t i = 0; i < ld->ng; i++)
		if (ld->g[i].kind == k && !ld->g[i].dead)
			return &ld->g[i];
	return NULL;
}

static void do_dealmail(struct loader *ld, const struct group *g)
{
	struct config *c = ld->cfg;
	for (size_t i = 0; g && i < g->n; i++) {
		const struct ent *e = &g->e[i];
		const char *k = e->key;
		char *v = value_clean(e->raw);
		if (!strcmp(k, "database")) {
			get_path(ld, e, &c->database);
		} else if (!strcmp(k, "address")) {
			if (*v && !is_email(v)) {
				err(ld, e->line, "address: \"%s\" is not an email address", v);
			} else if (*v) {
				lower_ascii(v);
				free(c->address);
				c->address = xstrdup(v);
			}
		} else if (!strcmp(k, "name")) {
			get_str(e, &c->name);
		} else if (!strcmp(k, "language")) {
			get_lang(ld, e, &c->language);
		} else if (!strcmp(k, "timezone")) {
			if (*v && !tz_exists(v))
				err(ld, e->line, "timezone: unknown time zone \"%s\" (e.g. America/Mexico_City, Europe/Madrid, UTC)", v);
			else if (*v) {
				free(c->timezone);
				c->timezone = xstrdup(v);
			}
		} else if (!strcmp(k, "secret_file")) {
			get_path(ld, e, &c->secret_file);
		} else if (!strcmp(k, "confirm")) {
			if (!strcasecmp(v, "always"))
				c->confirm = CONFIRM_ALWAYS;
			else if (!strcasecmp(v, "errors"))
				c->confirm = CONFIRM_ERRORS;
			else if (!strcasecmp(v, "never"))
				c->confirm = CONFIRM_NEVER;
			else if (*v)
				err(ld, e->line, "confirm: \"%s\" is not one of always, errors, never", v);
		} else if (!strcmp(k, "require_auth")) {
			get_bool(ld, e, &c->require_auth);
		} else if (!strcmp(k, "authserv_id")) {
			get_str(e, &c->authserv_id);
		} else if (!strcmp(k, "templates")) {
			get_path(ld, e, &c->templates);
			c->templates_line = e->line;
		} else if (!strcmp(k, "currency")) {
			bool ok = strlen(v) == 3;
			for (size_t j = 0; ok && j < 3; j++)
				ok = isalpha((unsigned char)v[j]);
			if (*v && !ok) {
				err(ld, e->line, "currency: \"%s\" is not a 3-letter currency code (e.g. MXN, BRL, EUR, USD)", v);
			} else if (*v) {
				for (size_t j = 0; j < 3; j++)
					v[j] = (char)toupper((unsigned char)v[j]);
				free(c->currency);
				c->currency = xstrdup(v);
			}
		} else if (!strcmp(k, "undo_minutes")) {
			get_int(ld, e, 0, 7 * 24 * 60, &c->undo_minutes);
		} else if (!strcmp(k, "socket")) {
			get_path(ld, e, &c->socket);
			if (c->socket && strlen(c->socket) >= 108)
				err(ld, e->line, "socket: the path is too long for a Unix socket (at most 107 bytes)");
		} else if (!strcmp(k, "pipe_timeout")) {
			get_int(ld, e, 1, 3600, &c->pipe_timeout);
		} else if (!strcmp(k, "busy_timeout_ms")) {
			get_int(ld, e, 0, 600000, &c->busy_timeout_ms);
		} else if (!strcmp(k, "confirm_per_hour")) {
			get_int(ld, e, 0, 1000000, &c->confirm_per_hour);
		} else if (!strcmp(k, "unsubscribe_url")) {
			/* RFC 8058 one-click: an HTTPS URL, no query (the token is
			 * appended) and nothing a header could be split with */
			bool ok = !strncmp(v, "https://", 8) && v[8] && !strpbrk(v, "?#<>\", \t\r\n");
			if (!ok)
				err(ld, e->line, "unsubscribe_url: \"%s\" is not an https:// URL without a query", v);
			else {
				free(c->unsubscribe_url);
				c->unsubscribe_url = xstrdup(v);
			}
		}
		free(v);
	}
	/* require_auth trusts only the Authentication-Results of our own
	 * authserv-id: without one no rep's message could ever count as the
	 * rep's, and every command would be dropped without a word */
	const struct ent *ra = ent_find(g, "require_auth");
	if (ra && c->require_auth && (!c->authserv_id || !*c->authserv_id))
		err(ld, ra->line, "require_auth: yes needs authserv_id (the host name your MX writes in "
		    "Authentication-Results, e.g. authserv_id = mx.example.com)");
}

static void do_endpoint(struct loader *ld, const struct group *g, struct endpoint *ep, bool imap)
{
	const struct ent *auth_e = NULL;
	for (size_t i = 0; g && i < g->n; i++) {
		const struct ent *e = &g->e[i];
		const char *k = e->key;
		char *v = value_clean(e->raw);
		if (!strcmp(k, "url")) {
			if (!*v) {
			} else if (imap && strncasecmp(v, "imap://", 7) && strncasecmp(v, "imaps://", 8)) {
				err(ld, e->line, "url: \"%s\" is not an imap:// or imaps:// URL", v);
			} else if (!imap && strncasecmp(v, "smtp://", 7) && strncasecmp(v, "smtps://", 8) &&
				   strncasecmp(v, "maildir:", 8)) {
				err(ld, e->line, "url: \"%s\" is not an smtp://, smtps:// or maildir: URL", v);
			} else if (!imap && !strncasecmp(v, "maildir:", 8)) {
				if (!v[8]) {
					err(ld, e->line, "url: maildir: needs a folder (maildir:/var/lib/dealmail/outbox)");
				} else {
					char *p = join_path(ld->cfg->dir, v + 8);
					free(ep->url);
					ep->url = xasprintf("maildir:%s", p);
					free(p);
				}
			} else {
				free(ep->url);
				ep->url = xstrdup(v);
			}
		} else if (!strcmp(k, "user")) {
			get_str(e, &ep->user);
		} else if (!strcmp(k, "password_file")) {
			get_path(ld, e, &ep->password_file);
		} else if (!strcmp(k, "ca_file")) {
			get_path(ld, e, &ep->ca_file);
		} else if (!strcmp(k, "token_file")) {
			get_path(ld, e, &ep->token_file);
		} else if (!strcmp(k, "auth")) {
			if (*v && strcasecmp(v, "login") && strcasecmp(v, "plain") && strcasecmp(v, "xoauth2")) {
				err(ld, e->line, "auth: \"%s\" is not one of login, plain, xoauth2", v);
			} else if (*v) {
				lower_ascii(v);
				free(ep->auth);
				ep->auth = xstrdup(v);
				auth_e = e;
			}
		} else if (imap && !strcmp(k, "quarantine")) {
			if (*v) {
				free(ep->quarantine);
				ep->quarantine = xstrdup(v);
			}
		} else if (!strcmp(k, "processed")) {
			if (!*v) {
			} else if (!strcasecmp(v, "flag")) {
				free(ep->processed);
				ep->processed = xstrdup("flag");
			} else if (!strncasecmp(v, "move:", 5) && v[5]) {
				free(ep->processed);
				ep->processed = xasprintf("move:%s", v + 5);
			} else {
				err(ld, e->line, "processed: \"%s\" is not \"flag\" or \"move:FOLDER\"", v);
			}
		} else if (!imap && (!strcmp(k, "retry_base") || !strcmp(k, "retry_max") || !strcmp(k, "give_up_after"))) {
			/* a duration: 300, 5m, 1h, 4d */
			char *end = NULL;
			long n = *v ? strtol(v, &end, 10) : -1;
			long mul = !end || !*end ? 1 : (*end == 's' && !end[1]) ? 1 : (*end == 'm' && !end[1]) ? 60
				   : (*end == 'h' && !end[1]) ? 3600 : (*end == 'd' && !end[1]) ? 86400 : 0;
			if (n <= 0 || !mul || n > 365L * 86400 / mul)
				err(ld, e->line, "%s: \"%s\" is not a duration (300, 5m, 1h, 4d)", k, v);
			else
				*(!strcmp(k, "retry_base") ? &ld->cfg->smtp_retry_base
				  : !strcmp(k, "retry_max") ? &ld->cfg->smtp_retry_max : &ld->cfg->smtp_give_up) = n * mul;
		} else if (!strcmp(k, "tls")) {
			if (!strcasecmp(v, "implicit"))
				ep->tls = TLS_IMPLICIT;
			else if (!strcasecmp(v, "starttls"))
				ep->tls = TLS_STARTTLS;
			else if (!strcasecmp(v, "none"))
				ep->tls = TLS_NONE;
			else if (*v)
				err(ld, e->line, "tls: \"%s\" is not one of implicit, starttls, none", v);
		}
		free(v);
	}
	if (auth_e && !strcmp(ep->auth, "xoauth2") && !ep->token_file)
		err(ld, auth_e->line, "auth = xoauth2 needs token_file");
}

static void do_scoring(struct loader *ld, const struct group *g)
{
	struct config *c = ld->cfg;
	for (size_t i = 0; g && i < g->n; i++) {
		const struct ent *e = &g->e[i];
		int *dst = !strcmp(e->key, "reply")         ? &c->score_reply
			   : !strcmp(e->key, "meeting")     ? &c->score_meeting
			   : !strcmp(e->key, "unsubscribe") ? &c->score_unsubscribe
			   : !strcmp(e->key, "no_show")     ? &c->score_no_show
							    : &c->score_threshold;
		get_int(ld, e, -100000, 100000, dst);
	}
}

static void do_digest(struct loader *ld, const struct group *g)
{
	struct config *c = ld->cfg;
	c->digest_enabled = g != NULL;  /* tick schedules digests only when asked to */
	for (size_t i = 0; g && i < g->n; i++) {
		const struct ent *e = &g->e[i];
		if (!strcmp(e->key, "time")) {
			get_time(ld, e, &c->digest_time);
		} else if (!strcmp(e->key, "silent_days")) {
			get_int(ld, e, 0, 3650, &c->silent_days);
		} else if (!strcmp(e->key, "skip_empty")) {
			get_bool(ld, e, &c->digest_skip_empty);
		} else if (!strcmp(e->key, "monthly_target")) {
			/* written as amounts are in a reply: "100.000" and "100 000"
			 * are a hundred thousand, like "100,000", "100k" or "100000" */
			char *v = value_clean(e->raw);
			double x;
			if (*v && !parse_amount(v, &x, NULL))
				err(ld, e->line, "monthly_target: \"%s\" is not a non-negative amount", v);
			else if (*v)
				c->monthly_target = x;
			free(v);
		}
	}
}

static bool parse_size(const char *s, size_t *out)
{
	char *end;
	errno = 0;
	if (!isdigit((unsigned char)*s))
		return false;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return false;
	while (*end == ' ')
		end++;
	unsigned long long mul = 1;
	if (!*end || !strcasecmp(end, "b"))
		mul = 1;
	else if (!strcasecmp(end, "k") || !strcasecmp(end, "kb") || !strcasecmp(end, "kib"))
		mul = 1024;
	else if (!strcasecmp(end, "m") || !strcasecmp(end, "mb") || !strcasecmp(end, "mib"))
		mul = 1024 * 1024;
	else if (!strcasecmp(end, "g") || !strcasecmp(end, "gb") || !strcasecmp(end, "gib"))
		mul = 1024ULL * 1024 * 1024;
	else
		return false;
	if (v == 0 || v > (unsigned long long)SIZE_MAX / mul || v * mul > (1ULL << 40))
		return false;
	*out = (size_t)(v * mul);
	return true;
}

static void do_limits(struct loader *ld, const struct group *g)
{
	struct config *c = ld->cfg;
	for (size_t i = 0; g && i < g->n; i++) {
		const struct ent *e = &g->e[i];
		if (!strcmp(e->key, "max_message_bytes")) {
			char *v = value_clean(e->raw);
			if (*v && !parse_size(v, &c->max_message_bytes))
				err(ld, e->line, "max_message_bytes: \"%s\" is not a size (e.g. 67108864 or 64M)", v);
			else if (*v && c->max_message_bytes > QUARANTINE_CEILING)
				err(ld, e->line, "max_message_bytes: at most %zu bytes (what SQLite keeps in one value)",
				    (size_t)QUARANTINE_CEILING);
			free(v);
		} else if (!strcmp(e->key, "max_quarantine_bytes")) {
			char *v = value_clean(e->raw);
			if (*v && !parse_size(v, &c->max_quarantine_bytes))
				err(ld, e->line, "max_quarantine_bytes: \"%s\" is not a size (e.g. 134217728 or 128M)", v);
			else if (*v && c->max_quarantine_bytes > QUARANTINE_CEILING)
				err(ld, e->line, "max_quarantine_bytes: at most %zu bytes (what SQLite keeps in one value)",
				    (size_t)QUARANTINE_CEILING);
			free(v);
		} else if (!strcmp(e->key, "max_mime_depth")) {
			get_int(ld, e, 1, 1000, &c->max_mime_depth);
		} else if (!strcmp(e->key, "max_mime_parts")) {
			get_int(ld, e, 1, 1000000, &c->max_mime_parts);
		}
	}
}

/* [pipeline] stages: build the stage array. */
static void build_stages(struct loader *ld, const struct group *pg)
{
	struct config *c = ld->cfg;
	const struct ent *e = ent_find(pg, "stages");
	struct strv keys = {0};
	if (e) {
		char *v = value_clean(e->raw);
		keys = split_list(v, ',');
		free(v);
		ld->stages_line = e->line;
		for (size_t i = 0; i < keys.n; i++) {
			bool ok = true;
			for (const char *p = keys.v[i]; *p && ok; p++)
				ok = isalnum((unsigned char)*p) || *p == '_' || *p == '-';
			if (!ok) {
				err(ld, e->line, "stages: \"%s\" is not a valid stage key (letters, digits, '-' and '_')",
				    keys.v[i]);
				free(keys.v[i]);
				memmove(&keys.v[i], &keys.v[i + 1], (keys.n - i - 1) * sizeof *keys.v);
				keys.n--, i--;
				continue;
			}
			for (size_t j = 0; j < i; j++)
				if (!strcasecmp(keys.v[j], keys.v[i])) {
					err(ld, e->line, "stages: \"%s\" is listed twice", keys.v[i]);
					free(keys.v[i]);
					memmove(&keys.v[i], &keys.v[i + 1], (keys.n - i - 1) * sizeof *keys.v);
					keys.n--, i--;
					break;
				}
		}
		if (keys.n == 0)
			err(ld, e->line, "stages: the pipeline has no stages");
	}
	if (keys.n == 0) {
		for (size_t i = 0; i < NBUILTIN; i++)
			strv_add(&keys, builtin_stages[i].key);
	} else {
		ld->custom_pipeline = true;
	}
	c->nstages = keys.n;
	c->stages = xcalloc(keys.n, sizeof *c->stages);
	ld->nuser_aliases = xcalloc(keys.n, sizeof *ld->nuser_aliases);
	for (size_t i = 0; i < keys.n; i++)
		stage_init(&c->stages[i], keys.v[i]);
	strv_free(keys.v, keys.n);
}

static int stage_key_index(const struct config *c, const char *key)
{
	for (size_t i = 0; i < c->nstages; i++)
		if (!strcmp(c->stages[i].key, key))
			return (int)i;
	for (size_t i = 0; i < c->nstages; i++)
		if (text_fold_eq(c->stages[i].key, key))
			return (int)i;
	return -1;
}

static void stage_unknown(struct loader *ld, int line, const char *what, const char *v)
{
	const char *sug = config_suggest(ld->cfg, 0, v);
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < ld->cfg->nstages; i++)
		buf_addf(&b, "%s%s", i ? ", " : "", ld->cfg->stages[i].key);
	if (sug)
		err(ld, line, "%s: unknown stage \"%s\" (did you mean \"%s\"? stages: %s)", what, v, sug, b.s);
	else
		err(ld, line, "%s: unknown stage \"%s\" (stages: %s)", what, v, b.s);
	buf_release(&b);
}

/* [stage "x"]: names, aliases, probability, stale_days (actions later). */
static void do_stage_basics(struct loader *ld, struct group *g, int *stage_of_group)
{
	struct config *c = ld->cfg;
	int si = stage_key_index(c, g->name);
	*stage_of_group = si;
	if (si < 0) {
		const char **cands = xcalloc(c->nstages + 1, sizeof *cands);
		for (size_t i = 0; i < c->nstages; i++)
			cands[i] = c->stages[i].key;
		const char *sug = closest(cands, c->nstages, g->name);
		struct buf b;
		buf_init(&b);
		for (size_t i = 0; i < c->nstages; i++)
			buf_addf(&b, "%s%s", i ? ", " : "", c->stages[i].key);
		if (sug)
			err(ld, g->line, "[stage \"%s\"]: no such stage in the pipeline (did you mean \"%s\"? stages: %s)",
			    g->name, sug, b.s);
		else
			err(ld, g->line, "[stage \"%s\"]: no such stage in the pipeline (stages: %s)", g->name, b.s);
		buf_release(&b);
		free(cands);
		return;
	}
	struct stage *s = &c->stages[si];
	const struct ent *e = ent_find(g, "name");
	if (e) {
		char *v = value_clean(e->raw);
		if (*v)
			for (int l = 0; l < NLANG; l++) {
				free(s->name[l]);
				s->name[l] = xstrdup(v);
			}
		free(v);
	}
	for (int l = 0; l < NLANG; l++) {
		char k[16];
		snprintf(k, sizeof k, "name.%s", lang_code((enum lang)l));
		e = ent_find(g, k);
		if (e)
			get_str(e, &s->name[l]);
	}
	e = ent_find(g, "aliases");
	if (e) {
		char *v = value_clean(e->raw);
		struct strv a = split_list(v, ',');
		for (size_t i = 0; i < a.n; i++)
			alias_add(s, a.v[i]);
		strv_free(a.v, a.n);
		free(v);
	}
	if ((e = ent_find(g, "probability")))
		get_int(ld, e, 0, 100, &s->probability);
	if ((e = ent_find(g, "stale_days")))
		get_int(ld, e, 0, 3650, &s->stale_days);
}

/* after all [stage] sections: built-in aliases, alias conflicts */
static void finish_aliases(struct loader *ld, struct group **stage_groups)
{
	struct config *c = ld->cfg;
	for (size_t i = 0; i < c->nstages; i++)
		ld->nuser_aliases[i] = c->stages[i].naliases;
	/* an alias written by the user that names another stage */
	for (size_t i = 0; i < c->nstages; i++) {
		struct stage *s = &c->stages[i];
		for (size_t a = 0; a < ld->nuser_aliases[i]; a++)
			for (size_t j = 0; j < c->nstages; j++) {
				if (j == i || !stage_names(&c->stages[j], s->aliases[a], ld->nuser_aliases[j]))
					continue;
				const struct ent *e = stage_groups[i] ? ent_find(stage_groups[i], "aliases") : NULL;
				err(ld, e ? e->line : 0, "aliases: \"%s\" of stage \"%s\" already names stage \"%s\"",
				    s->aliases[a], s->key, c->stages[j].key);
				break;
			}
	}
	/* built-in aliases, unless they would name another stage.  This runs
	 * at every start (each message on the MTA pipe): what every stage
	 * already answers to is folded once, not once per comparison. */
	struct strv *names = xcalloc(c->nstages, sizeof *names);  /* key, names, user aliases */
	struct strv *own = xcalloc(c->nstages, sizeof *own);      /* all its aliases */
	for (size_t j = 0; j < c->nstages; j++) {
		const struct stage *s = &c->stages[j];
		char *f = text_fold(s->key);
		strv_add(&names[j], f);
		free(f);
		for (int l = 0; l < NLANG; l++) {
			f = text_fold(s->name[l]);
			strv_add(&names[j], f);
			free(f);
		}
		for (size_t a = 0; a < s->naliases; a++) {
			f = text_fold(s->aliases[a]);
			if (a < ld->nuser_aliases[j])
				strv_add(&names[j], f);
			strv_add(&own[j], f);
			free(f);
		}
	}
	/* a stage's name (in any language) that is another stage's key, name or
	 * alias: `etapa: NAME` would silently pick the first of the two.  On the
	 * folded names above: this runs at every start */
	struct strv told = {0};
	for (size_t i = 0; i < c->nstages; i++) {
		const struct stage *s = &c->stages[i];
		for (int l = 0; l < NLANG; l++) {
			if (!s->name[l] || !*s->name[l])
				continue;
			char *f = text_fold(s->name[l]);
			for (size_t j = 0; j < c->nstages; j++) {
				if (j == i || !strv_has(&names[j], f))
					continue;
				if (!strv_has(&told, f)) {
					/* the line that wrote it, in either stage's section */
					static const char *const keys[] = {"name.es", "name.pt", "name.en", "name"};
					const struct ent *e = NULL;
					for (size_t k = 0; k < 8 && !e; k++) {
						struct group *g = stage_groups[k < 4 ? i : j];
						const struct ent *x = g ? ent_find(g, keys[k % 4]) : NULL;
						char *v = x ? value_clean(x->raw) : NULL;
						if (v && text_fold_eq(v, s->name[l]))
							e = x;
						free(v);
					}
					err(ld, e ? e->line : 0, "stage \"%s\" and stage \"%s\" are both called \"%s\"",
					    s->key, c->stages[j].key, s->name[l]);
					strv_add(&told, f);
				}
				break;
			}
			free(f);
		}
	}
	strv_free(told.v, told.n);
	for (size_t i = 0; i < c->nstages; i++) {
		const struct builtin_stage *b = builtin_find(c->stages[i].key);
		if (!b)
			continue;
		struct strv a = split_list(b->aliases, '|');
		for (size_t k = 0; k < a.n; k++) {
			char *f = text_fold(a.v[k]);
			bool skip = strv_has(&own[i], f);
			for (size_t j = 0; j < c->nstages && !skip; j++)
				skip = j != i && strv_has(&names[j], f);
			if (!skip) {
				strv_add(&own[i], f);
				alias_push(&c->stages[i], a.v[k]);
			}
			free(f);
		}
		strv_free(a.v, a.n);
	}
	for (size_t j = 0; j < c->nstages; j++) {
		strv_free(names[j].v, names[j].n);
		strv_free(own[j].v, own[j].n);
	}
	free(names);
	free(own);
}

static int resolve_stage(struct loader *ld, const struct ent *e, const char *what)
{
	char *v = value_clean(e->raw);
	int s = -1;
	if (!*v)
		err(ld, e->line, "%s: needs a stage", what);
	else if ((s = config_stage_find(ld->cfg, v)) < 0)
		stage_unknown(ld, e->line, what, v);
	free(v);
	return s;
}

static void get_reasons(struct loader *ld, const struct ent *e, char ***list, size_t *n)
{
	char *v = value_clean(e->raw);
	struct strv a = split_list(v, ',');
	free(v);
	strv_free(*list, *n);
	*list = NULL;
	*n = 0;
	for (size_t i = 0; i < a.n; i++) {
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++)
			dup = text_fold_eq(a.v[i], a.v[j]);
		if (dup) {
			err(ld, e->line, "%s: \"%s\" is listed twice", e->key, a.v[i]);
			continue;
		}
		*list = xrealloc(*list, (*n + 1) * sizeof **list);
		(*list)[(*n)++] = xstrdup(a.v[i]);
	}
	strv_free(a.v, a.n);
}

static void do_pipeline_refs(struct loader *ld, const struct group *pg)
{
	struct config *c = ld->cfg;
	const struct ent *e;
	/* active */
	if ((e = ent_find(pg, "active"))) {
		char *v = value_clean(e->raw);
		struct strv a = split_list(v, ',');
		free(v);
		for (size_t i = 0; i < a.n; i++) {
			int s = config_stage_find(c, a.v[i]);
			if (s < 0)
				stage_unknown(ld, e->line, "active", a.v[i]);
			else
				c->stages[s].active = true;
		}
		strv_free(a.v, a.n);
	} else {
		bool any = false;
		for (size_t i = 0; i < sizeof default_active / sizeof *default_active; i++) {
			int s = stage_key_index(c, default_active[i]);
			if (s >= 0)
				c->stages[s].active = any = true;
		}
		(void)any; /* resolved below, once default/won/lost are known */
	}
	int line0 = ld->stages_line ? ld->stages_line : pg ? pg->line : 0;
	const char *const names[3] = {"default", "won", "lost"};
	int *dst[3] = {&c->default_stage, &c->won_stage, &c->lost_stage};
	const char *const fallback[3] = {"new", "won", "lost"};
	for (int k = 0; k < 3; k++) {
		*dst[k] = -1;
		if ((e = ent_find(pg, names[k]))) {
			*dst[k] = resolve_stage(ld, e, names[k]);
			if (*dst[k] < 0)
				*dst[k] = k == 0 ? 0 : (int)c->nstages - 1; /* keep going safely */
			continue;
		}
		*dst[k] = stage_key_index(c, fallback[k]);
		if (*dst[k] < 0) {
			if (k == 0) {
				*dst[k] = 0; /* first stage of the pipeline */
			} else {
				err(ld, line0, "[pipeline] has no stage \"%s\": set %s = KEY", fallback[k], names[k]);
				*dst[k] = (int)c->nstages - 1;
			}
		}
	}
	if (c->won_stage == c->lost_stage && c->nstages > 0) {
		e = ent_find(pg, "lost") ? ent_find(pg, "lost") : ent_find(pg, "won");
		err(ld, e ? e->line : line0, "the win stage and the loss stage are both \"%s\"",
		    c->stages[c->won_stage].key);
	}
	/* a won or lost deal is closed: listing its stage as active would count
	 * closed deals in the open pipeline (digest, report, stale reminders) */
	if ((e = ent_find(pg, "active"))) {
		for (int k = 1; k < 3; k++) {
			int s = *dst[k];
			if (s >= 0 && s < (int)c->nstages && c->stages[s].active) {
				err(ld, e->line, "active: \"%s\" is the %s stage; a deal there is closed, not active",
				    c->stages[s].key, k == 1 ? "win" : "loss");
				c->stages[s].active = false;
			}
		}
	}
	if (!ent_find(pg, "active") && ld->custom_pipeline) {
		bool any = false;
		for (size_t i = 0; i < c->nstages; i++)
			any |= c->stages[i].active;
		if (!any)
			for (size_t i = 0; i < c->nstages; i++)
				c->stages[i].active = (int)i != c->default_stage && (int)i != c->won_stage &&
						      (int)i != c->lost_stage;
	}
	if (ld->custom_pipeline) {
		/* a custom stage that is the win or loss stage gets 100 / 0 */
		if (c->stages[c->won_stage].probability < 0)
			c->stages[c->won_stage].probability = 100;
		if (c->stages[c->lost_stage].probability < 0)
			c->stages[c->lost_stage].probability = 0;
	}
	if ((e = ent_find(pg, "require_won_reason")))
		get_bool(ld, e, &c->require_won_reason);
	if ((e = ent_find(pg, "require_lost_reason")))
		get_bool(ld, e, &c->require_lost_reason);
	if ((e = ent_find(pg, "strict_reasons")))
		get_bool(ld, e, &c->strict_reasons);
	if ((e = ent_find(pg, "sync_contact_owner")))
		get_bool(ld, e, &c->sync_contact_owner);
	if ((e = ent_find(pg, "won_reasons")))
		get_reasons(ld, e, &c->won_reasons, &c->nwon_reasons);
	if ((e = ent_find(pg, "lost_reasons")))
		get_reasons(ld, e, &c->lost_reasons, &c->nlost_reasons);
	if (c->strict_reasons) {
		if (c->require_won_reason && c->nwon_reasons == 0)
			err(ld, (e = ent_find(pg, "won_reasons")) ? e->line : line0,
			    "strict_reasons and require_won_reason need a non-empty won_reasons");
		if (c->require_lost_reason && c->nlost_reasons == 0)
			err(ld, (e = ent_find(pg, "lost_reasons")) ? e->line : line0,
			    "strict_reasons and require_lost_reason need a non-empty lost_reasons");
	}
}

/* ---- action lists and steps ---------------------------------------------------- */

/* Split per the `;` rule in the header.  `commas`: ',' also separates (steps).
 * `is_item` tells whether a segment begins like an item. */
static struct strv split_items(const char *raw, bool commas, bool (*is_item)(const char *))
{
	char *v = value_strip_hash(raw);
	struct strv r = {0};
	const char *p = v;
	bool spaced = false; /* the separator before this segment was a ';' after whitespace */
	for (;;) {
		size_t n = strcspn(p, commas ? ";," : ";");
		char *seg = trim_dup(p, n);
		if (*seg && spaced && !is_item(seg)) {
			free(seg);
			break; /* a trailing comment */
		}
		if (*seg)
			strv_add(&r, seg);
		free(seg);
		if (!p[n])
			break;
		const char *sep = p + n;  /* (p[n - 1] would wrap for an empty segment) */
		spaced = *sep == ';' && (sep == v || is_space(sep[-1]));
		p += n + 1;
	}
	free(v);
	return r;
}

static const char *const action_words[] = {"sequence", "task", "notify", "score", "stage", NULL};

static size_t word_len(const char *s)
{
	size_t n = 0;
	while (s[n] && !is_space(s[n]))
		n++;
	return n;
}

static bool is_action_item(const char *s)
{
	size_t n = word_len(s);
	for (size_t i = 0; action_words[i]; i++)
		if (strlen(action_words[i]) == n && !strncasecmp(s, action_words[i], n))
			return true;
	return false;
}

static bool is_step_item(const char *s)
{
	if (*s == '+')
		s++;
	return isdigit((unsigned char)*s);
}

/* "+2d" -> 2; -1 when not of that shape */
static int parse_plus_days(const char *w)
{
	long d;
	size_t n = strlen(w);
	if (n < 3 || w[0] != '+' || (w[n - 1] != 'd' && w[n - 1] != 'D'))
		return -1;
	char *num = xstrndup(w + 1, n - 2);
	bool ok = parse_long(num, 0, 3650, &d) && isdigit((unsigned char)num[0]);
	free(num);
	return ok ? (int)d : -1;
}

static void do_actions(struct loader *ld, const struct ent *e, int si, bool stale)
{
	struct config *c = ld->cfg;
	struct stage *s = &c->stages[si];
	struct strv items = split_items(e->raw, false, is_action_item);
	struct action **arr = stale ? &s->on_stale : &s->on_enter;
	size_t *n = stale ? &s->non_stale : &s->non_enter;
	for (size_t i = 0; i < items.n; i++) {
		const char *it = items.v[i];
		size_t wl = word_len(it);
		char *kw = xstrndup(it, wl);
		lower_ascii(kw);
		char *rest = trim_dup(it + wl, strlen(it + wl));
		struct action a = {0};
		bool ok = false;
		if (!strcmp(kw, "sequence")) {
			a.kind = ACT_SEQUENCE;
			if (!*rest) {
				err(ld, e->line, "%s: \"sequence\" needs the name of a [sequence]", e->key);
			} else if (!config_sequence_find(c, rest)) {
				const char **cands = xcalloc(c->nsequences + 1, sizeof *cands);
				for (size_t k = 0; k < c->nsequences; k++)
					cands[k] = c->sequences[k].name;
				const char *sug = closest(cands, c->nsequences, rest);
				if (sug)
					err(ld, e->line, "%s: unknown sequence \"%s\" (did you mean \"%s\"?)", e->key, rest, sug);
				else if (c->nsequences == 0)
					err(ld, e->line, "%s: unknown sequence \"%s\" (there is no [sequence \"%s\"] section)",
					    e->key, rest, rest);
				else
					err(ld, e->line, "%s: unknown sequence \"%s\"", e->key, rest);
				free(cands);
			} else {
				a.arg = xstrdup(config_sequence_find(c, rest)->name);
				ok = true;
			}
		} else if (!strcmp(kw, "task")) {
			a.kind = ACT_TASK;
			char *last = strrchr(rest, ' ');
			const char *lw = last ? last + 1 : rest;
			if (*lw == '+') {
				int d = parse_plus_days(lw);
				if (d < 0) {
					err(ld, e->line, "%s: task due \"%s\" is not of the form +Nd (e.g. +2d)", e->key, lw);
				} else if (!last) {
					err(ld, e->line, "%s: \"task\" needs a text (task Call the client +2d)", e->key);
				} else {
					a.days = d;
					a.arg = trim_dup(rest, (size_t)(last - rest));
					ok = true;
				}
			} else if (!*rest) {
				err(ld, e->line, "%s: \"task\" needs a text (task Call the client +2d)", e->key);
			} else {
				a.arg = xstrdup(rest);
				ok = true;
			}
		} else if (!strcmp(kw, "notify")) {
			a.kind = ACT_NOTIFY;
			if (!strcasecmp(rest, "owner"))
				a.target = NOTIFY_OWNER, ok = true;
			else if (!strcasecmp(rest, "manager"))
				a.target = NOTIFY_MANAGER, ok = true;
			else
				err(ld, e->line, "%s: notify \"%s\": use \"notify owner\" or \"notify manager\"", e->key, rest);
		} else if (!strcmp(kw, "score")) {
			a.kind = ACT_SCORE;
			long x;
			if (parse_long(rest, -100000, 100000, &x) && x != 0)
				a.delta = (int)x, ok = true;
			else
				err(ld, e->line, "%s: score \"%s\" is not a number of points like +5 or -10", e->key, rest);
		} else if (!strcmp(kw, "stage")) {
			a.kind = ACT_STAGE;
			int t = *rest ? config_stage_find(c, rest) : -1;
			if (t < 0) {
				stage_unknown(ld, e->line, e->key, rest);
			} else if (t == si) {
				err(ld, e->line, "%s: \"stage %s\" moves the deal to the stage it is in", e->key, rest);
			} else {
				a.arg = xstrdup(c->stages[t].key);
				ok = true;
			}
		} else {
			err(ld, e->line,
			    "%s: unknown action \"%s\" (use sequence NAME, task TEXT +Nd, notify owner|manager, "
			    "score +N, stage KEY; separate actions with ';')",
			    e->key, it);
		}
		if (ok) {
			*arr = xrealloc(*arr, (*n + 1) * sizeof **arr);
			(*arr)[(*n)++] = a;
		} else {
			free(a.arg);
		}
		free(kw);
		free(rest);
	}
	strv_free(items.v, items.n);
}

static const struct {
	int day; /* 0 = Sunday */
	const char *names;
} day_names[] = {
	{0, "sun|sunday|dom|domingo|do"}, {1, "mon|monday|lun|lunes|seg|segunda|lu"},
	{2, "tue|tues|tuesday|mar|martes|ter|terca|terça|ma"}, {3, "wed|wednesday|mie|mié|miercoles|miércoles|qua|quarta|mi"},
	{4, "thu|thur|thurs|thursday|jue|jueves|qui|quinta|ju"}, {5, "fri|friday|vie|viernes|sex|sexta|vi"},
	{6, "sat|saturday|sab|sáb|sabado|sábado|sa"},
};

static int day_parse(const char *w)
{
	char *f = text_fold(w);
	size_t n = strlen(f);
	if (n && f[n - 1] == '.')
		f[n - 1] = '\0';
	int d = -1;
	for (size_t i = 0; i < 7 && d < 0; i++) {
		struct strv a = split_list(day_names[i].names, '|');
		for (size_t k = 0; k < a.n && d < 0; k++)
			if (text_fold_eq(a.v[k], f))
				d = day_names[i].day;
		strv_free(a.v, a.n);
	}
	free(f);
	return d;
}

static void do_window(struct loader *ld, const struct ent *e, struct sequence *q)
{
	char *v = value_clean(e->raw);
	char *p = v;
	if (!*p) {
		free(v);
		return;
	}
	size_t n = word_len(p);
	if (memchr(p, ':', n)) {
		char *tok = xstrndup(p, n);
		char *dash = strchr(tok, '-');
		int a, b;
		if (!dash) {
			err(ld, e->line, "window: \"%s\" is not a time range like 09:00-17:00", tok);
		} else {
			*dash = '\0';
			if (!parse_hhmm(tok, false, &a) || !parse_hhmm(dash + 1, true, &b)) {
				*dash = '-';
				err(ld, e->line, "window: \"%s\" is not a time range like 09:00-17:00", tok);
			} else if (a >= b) {
				*dash = '-';
				err(ld, e->line, "window: the range \"%s\" ends before it starts", tok);
			} else {
				q->window_start = a;
				q->window_end = b;
			}
		}
		free(tok);
		p += n;
	}
	/* days: "mon-fri", "lun,mié,vie", "seg a sex" is not supported */
	char *days = trim_dup(p, strlen(p));
	if (*days) {
		unsigned mask = 0;
		for (char *s = days; *s; s++)
			if (*s == ',')
				*s = ' ';
		struct strv items = split_list(days, ' ');
		bool bad = false;
		for (size_t i = 0; i < items.n && !bad; i++) {
			char *it = items.v[i];
			char *dash = strchr(it, '-');
			if (dash) {
				*dash = '\0';
				int a = day_parse(it), b = day_parse(dash + 1);
				*dash = '-';
				if (a < 0 || b < 0) {
					err(ld, e->line, "window: \"%s\" is not a range of days like mon-fri", it);
					bad = true;
					break;
				}
				for (int d = a;; d = (d + 1) % 7) {
					mask |= 1u << d;
					if (d == b)
						break;
				}
			} else {
				int d = day_parse(it);
				if (d < 0) {
					err(ld, e->line, "window: \"%s\" is not a day (mon..sun, lun..dom, seg..dom)", it);
					bad = true;
					break;
				}
				mask |= 1u << d;
			}
		}
		strv_free(items.v, items.n);
		if (!bad)
			q->days_mask = mask;
	}
	free(days);
	free(v);
}

static bool template_name_ok(const char *s)
{
	return is_ident(s) && !strstr(s, "..");
}

static void do_sequence(struct loader *ld, const struct group *g)
{
	struct config *c = ld->cfg;
	c->sequences = xrealloc(c->sequences, (c->nsequences + 1) * sizeof *c->sequences);
	struct sequence *q = &c->sequences[c->nsequences++];
	memset(q, 0, sizeof *q);
	q->name = xstrdup(g->name);
	q->window_start = 0;
	q->window_end = 24 * 60;
	q->days_mask = 0x7f;
	const struct ent *e = ent_find(g, "steps");
	q->line = e ? e->line : g->line;
	if (!e) {
		err(ld, g->line, "[sequence \"%s\"] has no steps (steps = 2d proposal-1, 5d proposal-2)", g->name);
	} else {
		struct strv items = split_items(e->raw, true, is_step_item);
		for (size_t i = 0; i < items.n; i++) {
			const char *it = items.v[i];
			const char *p = it + (*it == '+');
			char *end;
			errno = 0;
			long num = isdigit((unsigned char)*p) ? strtol(p, &end, 10) : -1;
			long mul = 0;
			if (num >= 0 && !errno) {
				mul = *end == 'd' || *end == 'D' ? 86400 : *end == 'h' || *end == 'H' ? 3600
					: *end == 'm' || *end == 'M'                       ? 60
											   : 0;
				if (mul && end[1] && !is_space(end[1]))
					mul = 0;
			}
			if (num < 0 || !mul || num > 3650L * 24 * 60) {
				err(ld, e->line, "steps: \"%s\" does not start with a delay like 2d, 36h or 90m", it);
				continue;
			}
			char *tmpl = trim_dup(end + 1, strlen(end + 1));
			long delay = num * mul;
			if (!*tmpl) {
				err(ld, e->line, "steps: \"%s\" names no template (2d proposal-1)", it);
			} else if (!template_name_ok(tmpl) || strchr(tmpl, ' ')) {
				err(ld, e->line, "steps: \"%s\" is not a template name (letters, digits, '-', '_', '.')", tmpl);
			} else {
				/* delays count from the enrolment: keep the steps in time order */
				q->steps = xrealloc(q->steps, (q->nsteps + 1) * sizeof *q->steps);
				size_t at = q->nsteps;
				while (at > 0 && q->steps[at - 1].delay > delay) {
					q->steps[at] = q->steps[at - 1];
					at--;
				}
				q->steps[at].delay = delay;
				q->steps[at].tmpl = tmpl;
				q->nsteps++;
				tmpl = NULL;
			}
			free(tmpl);
		}
		if (items.n == 0)
			err(ld, e->line, "steps: the sequence has no steps");
		strv_free(items.v, items.n);
	}
	if ((e = ent_find(g, "window")))
		do_window(ld, e, q);
}

static void do_rep(struct loader *ld, const struct group *g)
{
	struct config *c = ld->cfg;
	/* a bad address is reported, and the section's other keys are still
	 * checked (config check reports every problem), on a rep not kept */
	bool valid = is_email(g->name);
	if (!valid)
		err(ld, g->line, "[rep \"%s\"]: \"%s\" is not an email address", g->name, g->name);
	struct rep scratch, *r = &scratch;
	if (valid) {
		c->reps = xrealloc(c->reps, (c->nreps + 1) * sizeof *c->reps);
		r = &c->reps[c->nreps++];
	}
	memset(r, 0, sizeof *r);
	r->email = xstrdup(g->name);
	lower_ascii(r->email);
	r->lang = c->language;
	const struct ent *e;
	if ((e = ent_find(g, "name")))
		get_str(e, &r->name);
	if (!r->name)
		r->name = xstrdup(r->email);
	if ((e = ent_find(g, "team")))
		get_str(e, &r->team);
	if ((e = ent_find(g, "language")))
		get_lang(ld, e, &r->lang);
	if ((e = ent_find(g, "role"))) {
		char *v = value_clean(e->raw);
		char *f = text_fold(v);
		if (!strcmp(f, "manager") || !strcmp(f, "gerente") || !strcmp(f, "admin"))
			r->manager = true;
		else if (!strcmp(f, "rep") || !strcmp(f, "vendedor") || !strcmp(f, "vendedora") || !strcmp(f, "seller"))
			r->manager = false;
		else if (*f)
			err(ld, e->line, "role: \"%s\" is not \"rep\" or \"manager\"", v);
		free(f);
		free(v);
	}
	if (!valid) {
		free(r->email);
		free(r->name);
		free(r->team);
	}
}

static void do_distribution(struct loader *ld, const struct group *g)
{
	struct config *c = ld->cfg;
	const struct ent *e;
	if ((e = ent_find(g, "mode"))) {
		char *v = value_clean(e->raw);
		if (!*v || !strcasecmp(v, "round-robin") || !strcasecmp(v, "round_robin") || !strcasecmp(v, "roundrobin")) {
			free(c->dist_mode);
			c->dist_mode = xstrdup("round-robin");
		} else if (!strncasecmp(v, "owner:", 6)) {
			char *who = trim_dup(v + 6, strlen(v + 6));
			const struct rep *r = config_rep_find(c, who);
			/* the admin's "owner:ana" is the rep whose address is ana@…,
			 * as before first names were looked at too (an Ana Souza
			 * beside ana@ must not make a working config invalid) */
			for (size_t i = 0; i < c->nreps && !r && !strchr(who, '@'); i++) {
				size_t n = strcspn(c->reps[i].email, "@");
				if (strlen(who) == n && !strncasecmp(c->reps[i].email, who, n))
					r = &c->reps[i];
			}
			if (!r) {
				const char *sug = config_suggest(c, 3, who);
				if (sug)
					err(ld, e->line, "mode: owner \"%s\" is not a [rep] (did you mean \"%s\"?)", who, sug);
				else
					err(ld, e->line, "mode: owner \"%s\" is not a [rep]", who);
			} else {
				free(c->dist_mode);
				c->dist_mode = xasprintf("owner:%s", r->email);
			}
			free(who);
		} else {
			err(ld, e->line, "mode: \"%s\" is not \"round-robin\" or \"owner:EMAIL\"", v);
		}
		free(v);
	}
	if ((e = ent_find(g, "team"))) {
		char *v = value_clean(e->raw);
		if (*v) {
			bool found = false;
			const char *ci = NULL;
			for (size_t i = 0; i < c->nreps; i++) {
				if (c->reps[i].team && !strcmp(c->reps[i].team, v))
					found = true;
				else if (c->reps[i].team && text_fold_eq(c->reps[i].team, v))
					ci = c->reps[i].team;
			}
			if (found) {
				free(c->dist_team);
				c->dist_team = xstrdup(v);
			} else if (ci) {
				err(ld, e->line, "team: no rep has team \"%s\" (did you mean \"%s\"?)", v, ci);
			} else {
				err(ld, e->line, "team: no rep has team \"%s\"", v);
			}
		}
		free(v);
	}
}

/* ---- load and free ---------------------------------------------------------------- */

static void set_defaults(struct config *c)
{
	c->address = xstrdup("dealmail@localhost");
	c->name = xstrdup("dealmail");
	c->language = LANG_EN;
	c->timezone = xstrdup("UTC");
	c->confirm = CONFIRM_ALWAYS;
	c->undo_minutes = 60;
	c->pipe_timeout = 8;
	c->busy_timeout_ms = 5000;
	c->confirm_per_hour = 30;
	c->require_won_reason = false;
	c->require_lost_reason = true;
	c->strict_reasons = false;
	c->sync_contact_owner = true;
	for (size_t i = 0; i < sizeof default_won_reasons / sizeof *default_won_reasons; i++) {
		c->won_reasons = xrealloc(c->won_reasons, (c->nwon_reasons + 1) * sizeof *c->won_reasons);
		c->won_reasons[c->nwon_reasons++] = xstrdup(default_won_reasons[i]);
	}
	for (size_t i = 0; i < sizeof default_lost_reasons / sizeof *default_lost_reasons; i++) {
		c->lost_reasons = xrealloc(c->lost_reasons, (c->nlost_reasons + 1) * sizeof *c->lost_reasons);
		c->lost_reasons[c->nlost_reasons++] = xstrdup(default_lost_reasons[i]);
	}
	c->score_reply = 2;
	c->score_meeting = 5;
	c->score_unsubscribe = -3;
	c->score_no_show = -10;
	c->score_threshold = 20;
	c->dist_mode = xstrdup("round-robin");
	c->digest_time = 7 * 60 + 30;
	c->silent_days = 10;
	c->max_message_bytes = 64u * 1024 * 1024;
	c->max_quarantine_bytes = 128u * 1024 * 1024;
	c->max_mime_depth = 20;
	c->max_mime_parts = 500;
}

static void interpret(struct loader *ld)
{
	struct config *c = ld->cfg;
	do_dealmail(ld, gsingle(ld, S_DEALMAIL));
	do_endpoint(ld, gsingle(ld, S_IMAP), &c->imap, true);
	do_endpoint(ld, gsingle(ld, S_SMTP), &c->smtp, false);
	do_scoring(ld, gsingle(ld, S_SCORING));
	do_digest(ld, gsingle(ld, S_DIGEST));
	do_limits(ld, gsingle(ld, S_LIMITS));
	struct group *pg = gsingle(ld, S_PIPELINE);
	build_stages(ld, pg);
	struct group **stage_groups = xcalloc(c->nstages + 1, sizeof *stage_groups);
	int *gstage = xcalloc(ld->ng + 1, sizeof *gstage);
	for (size_t i = 0; i < ld->ng; i++) {
		gstage[i] = -1;
		if (ld->g[i].kind == S_STAGE && !ld->g[i].dead) {
			do_stage_basics(ld, &ld->g[i], &gstage[i]);
			if (gstage[i] >= 0)
				stage_groups[gstage[i]] = &ld->g[i];
		}
	}
	finish_aliases(ld, stage_groups);
	do_pipeline_refs(ld, pg);
	for (size_t i = 0; i < ld->ng; i++)
		if (ld->g[i].kind == S_SEQUENCE && !ld->g[i].dead)
			do_sequence(ld, &ld->g[i]);
	for (size_t i = 0; i < ld->ng; i++) {
		if (gstage[i] < 0)
			continue;
		const struct ent *e;
		if ((e = ent_find(&ld->g[i], "on_enter")))
			do_actions(ld, e, gstage[i], false);
		if ((e = ent_find(&ld->g[i], "on_stale"))) {
			do_actions(ld, e, gstage[i], true);
			if (c->stages[gstage[i]].stale_days == 0 && c->stages[gstage[i]].non_stale)
				err(ld, e->line, "on_stale: stage \"%s\" has no stale_days, so on_stale never fires",
				    c->stages[gstage[i]].key);
		}
	}
	for (size_t i = 0; i < ld->ng; i++)
		if (ld->g[i].kind == S_REP && !ld->g[i].dead)
			do_rep(ld, &ld->g[i]);
	do_distribution(ld, gsingle(ld, S_DISTRIBUTION));
	free(stage_groups);
	free(gstage);

	/* paths that default beside the config or the database */
	if (!c->database)
		c->database = join_path(c->dir, "dealmail.db");
	if (!c->secret_file) {
		const char *slash = strrchr(c->database, '/');
		c->secret_file = slash ? xasprintf("%.*s/secret", (int)(slash - c->database), c->database)
				       : xstrdup("secret");
	}
	if (!c->templates)
		c->templates = join_path(c->dir, "templates");
}

static struct config *load(const char *path, struct diag *d, bool keep);

struct config *config_load(const char *path, struct diag *d)
{
	return load(path, d, false);
}

struct config *config_load_all(const char *path, struct diag *d)
{
	return load(path, d, true);
}

static struct config *load(const char *path, struct diag *d, bool keep)
{
	struct config *c = xcalloc(1, sizeof *c);
	set_defaults(c);
	struct loader ld = {.file = path, .cfg = c};
	char *text = NULL;
	size_t len = 0;
	if (path) {
		c->path = xstrdup(path);
		const char *slash = strrchr(path, '/');
		c->dir = slash ? (slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path))) : xstrdup(".");
		FILE *f = fopen(path, "rb");
		struct buf b;
		buf_init(&b);
		if (f) {
			char chunk[8192];
			size_t n;
			while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < (16u << 20))
				buf_add(&b, chunk, n);
			bool bad = ferror(f);
			fclose(f);
			if (bad)
				f = NULL, errno = EIO;
		}
		if (!f) {
			diag_add(d, path, 0, "cannot read the configuration: %s", strerror(errno));
			buf_release(&b);
			config_free(c);
			return NULL;
		}
		len = b.len;
		text = buf_detach(&b);
		parse_text(&ld, text, len);
	} else {
		c->dir = xstrdup(".");
	}
	interpret(&ld);
	/* report, sorted by line (stable) */
	for (size_t i = 1; i < ld.ndm; i++) {
		struct dmsg x = ld.dm[i];
		size_t j = i;
		while (j > 0 && ld.dm[j - 1].line > x.line) {
			ld.dm[j] = ld.dm[j - 1];
			j--;
		}
		ld.dm[j] = x;
	}
	for (size_t i = 0; i < ld.ndm; i++) {
		diag_add(d, path ? path : "(defaults)", ld.dm[i].line, "%s", ld.dm[i].msg);
		free(ld.dm[i].msg);
	}
	bool bad = ld.ndm > 0;
	free(ld.dm);
	for (size_t i = 0; i < ld.ng; i++) {
		for (size_t k = 0; k < ld.g[i].n; k++) {
			free(ld.g[i].e[k].key);
			free(ld.g[i].e[k].raw);
		}
		free(ld.g[i].e);
		free(ld.g[i].name);
	}
	free(ld.g);
	free(ld.nuser_aliases);
	free(text);
	if (bad && !keep) {
		config_free(c);
		return NULL;
	}
	if (!bad)   /* a config kept with its problems is only looked at (config check) */
		fold_stage_names(c);
	return c;
}

static void endpoint_free(struct endpoint *e)
{
	free(e->url);
	free(e->user);
	free(e->password_file);
	free(e->ca_file);
	free(e->token_file);
	free(e->auth);
	free(e->processed);
	free(e->quarantine);
}

void config_free(struct config *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->dir);
	free(c->database);
	free(c->address);
	free(c->name);
	free(c->timezone);
	free(c->secret_file);
	free(c->socket);
	free(c->authserv_id);
	free(c->templates);
	free(c->currency);
	free(c->unsubscribe_url);
	endpoint_free(&c->imap);
	endpoint_free(&c->smtp);
	for (size_t i = 0; i < c->nstages; i++)
		stage_free(&c->stages[i]);
	free(c->stages);
	strv_free(c->won_reasons, c->nwon_reasons);
	strv_free(c->lost_reasons, c->nlost_reasons);
	for (size_t i = 0; i < c->nsequences; i++) {
		free(c->sequences[i].name);
		for (size_t k = 0; k < c->sequences[i].nsteps; k++)
			free(c->sequences[i].steps[k].tmpl);
		free(c->sequences[i].steps);
	}
	free(c->sequences);
	for (size_t i = 0; i < c->nreps; i++) {
		free(c->reps[i].email);
		free(c->reps[i].name);
		free(c->reps[i].team);
	}
	free(c->reps);
	free(c->dist_mode);
	free(c->dist_team);
	free(c);
}
