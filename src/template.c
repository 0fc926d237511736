/* template.c — `{{…}}` templates for outgoing mail; see template.h.
 *
 * Values live in a small tree (struct tvars): dotted names in one scope, and
 * lists whose elements are scopes of their own.  Rendering keeps a stack of
 * scopes so that inside `{{#changes}}…{{/changes}}` a name is looked up in the
 * element first, then outwards.  A tag alone on its line (sections, comments)
 * removes the whole line, so templates can be laid out readably.  Outside a
 * section only names under the known roots are accepted: a misspelt
 * `{{deal.titel}}` is caught by `config check` with file:line. */
#include "template.h"
#include "buf.h"
#include <ctype.h>
#include <errno.h>
#include <strings.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct tentry {
	char *name;
	char *value;              /* NULL for a list */
	struct tvars **items;
	size_t nitems;
};

struct tvars {
	struct tentry *v;
	size_t n, cap;
};

static const char *const known_roots[] = {
	"deal", "contact", "rep", "owner", "assistant", "message", "changes", "scheduled", "errors",
	"deals", "changed", "events", "help", "list", "undo", "unsubscribe", "sequence", "digest", "error", "item", "lang", "any", "unread",
	NULL,
};

struct tvars *tvars_new(void)
{
	return xcalloc(1, sizeof(struct tvars));
}

void tvars_free(struct tvars *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++) {
		free(v->v[i].name);
		free(v->v[i].value);
		for (size_t k = 0; k < v->v[i].nitems; k++)
			tvars_free(v->v[i].items[k]);
		free(v->v[i].items);
	}
	free(v->v);
	free(v);
}

static struct tentry *find(const struct tvars *v, const char *name)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->v[i].name[0] == name[0] && !strcmp(v->v[i].name, name))
			return &v->v[i];
	return NULL;
}

static struct tentry *entry(struct tvars *v, const char *name)
{
	struct tentry *e = find(v, name);
	if (e)
		return e;
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 16;
		v->v = xrealloc(v->v, v->cap * sizeof *v->v);
	}
	e = &v->v[v->n++];
	memset(e, 0, sizeof *e);
	e->name = xstrdup(name);
	return e;
}

void tvars_set(struct tvars *v, const char *name, const char *value)
{
	struct tentry *e = entry(v, name);
	free(e->value);
	e->value = value ? xstrdup(value) : NULL;
}

void tvars_setf(struct tvars *v, const char *name, const char *fmt, ...)
{
	struct buf b;
	va_list ap;
	buf_init(&b);
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	tvars_set(v, name, b.s);
	buf_release(&b);
}

struct tvars *tvars_push(struct tvars *v, const char *name)
{
	struct tentry *e = entry(v, name);
	e->items = xrealloc(e->items, (e->nitems + 1) * sizeof *e->items);
	e->items[e->nitems] = tvars_new();
	return e->items[e->nitems++];
}

/* ---- files ------------------------------------------------------------------ */

static bool is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Decided once per process: a batch renders thousands of messages, and a
 * stat() of the source tree's folder for each was a third of rendering. */
const char *template_shipped_dir(void)
{
	static char path[4096];
	static bool decided;
	const char *env = getenv("DEALMAIL_TEMPLATES_DIR");
	if (env && *env)
		return env;
	if (decided)
		return path;
	snprintf(path, sizeof path, "%s/templates", DEALMAIL_SRCDIR);
	if (!is_dir(path))
		snprintf(path, sizeof path, "%s/templates", DEALMAIL_DATADIR);
	decided = true;
	return path;
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[8192];
	size_t n;
	if (!f)
		return NULL;
	buf_init(&b);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	return buf_detach(&b);
}

/* Template files are read once per process (a batch renders thousands of
 * confirmations); absent files are remembered too.  template_cache_clear()
 * forgets everything (the daemon calls it when it reloads its config). */
#define TCACHE 128
static struct {
	char *path, *text;   /* text NULL: the file does not exist */
	bool names_ok;       /* rendered once: its names are known ones */
} tcache[TCACHE];
static size_t tcache_n;

static void tfound_clear(void);

void template_cache_clear(void)
{
	tfound_clear();
	for (size_t i = 0; i < tcache_n; i++) {
		free(tcache[i].path);
		free(tcache[i].text);
		tcache[i].names_ok = false;
	}
	tcache_n = 0;
}

/* The cache's slot for path, or -1.  The slot found last is tried first:
 * a rendering asks for the file it has just read twice more
 * (names_checked(), names_mark()), and a search through all the paths
 * (which differ only at their ends) each time showed. */
static size_t tcache_last;

static long tcache_find(const char *path)
{
	if (tcache_last < tcache_n && !strcmp(tcache[tcache_last].path, path))
		return (long)tcache_last;
	for (size_t i = 0; i < tcache_n; i++)
		if (!strcmp(tcache[i].path, path)) {
			tcache_last = i;
			return (long)i;
		}
	return -1;
}

static char *slurp(const char *path)
{
	long k = tcache_find(path);
	if (k >= 0)
		return xstrdup(tcache[k].text);
	char *t = read_all(path);
	if (tcache_n < TCACHE) {
		tcache[tcache_n].path = xstrdup(path);
		tcache[tcache_n].text = xstrdup(t);
		tcache[tcache_n].names_ok = false;
		tcache_n++;
	}
	return t;
}

/* Which variables a template names does not change from one rendering to
 * the next: once a cached file has rendered without an error its names
 * are not looked up in known_names again (a batch renders the same
 * confirmation thousands of times, and the lookup was a third of it). */
static bool names_checked(const char *path)
{
	long k = tcache_find(path);
	return k >= 0 && tcache[k].names_ok;
}

static void names_mark(const char *path)
{
	long k = tcache_find(path);
	if (k >= 0)
		tcache[k].names_ok = true;
}

/* The n strings of parts one after the other into out; false when they do
 * not fit in size bytes. */
static bool path_join(char *out, size_t size, const char *const *parts, size_t n)
{
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		size_t k = strlen(parts[i]);
		if (k >= size - len)
			return false;
		memcpy(out + len, parts[i], k);
		len += k;
	}
	out[len] = '\0';
	return true;
}

/* Find NAME.ext: override/lang, shipped/lang, override/en, shipped/en. */
static char *locate(const char *override_dir, const char *lang, const char *name, const char *ext,
		    char **path_r)
{
	const char *dirs[2] = {override_dir, template_shipped_dir()};
	if (!lang || !*lang || strchr(lang, '/') || strstr(lang, ".."))
		lang = "en";
	const char *langs[2] = {lang, "en"};
	if (!name || !*name || strchr(name, '/') || strstr(name, ".."))
		return NULL;
	for (int l = 0; l < 2; l++)
		for (int d = 0; d < 2; d++) {
			if (!dirs[d] || !*dirs[d])
				continue;
			/* on the stack, put together by hand: a batch looks up a
			 * template per queued message, and xasprintf() was half of
			 * the lookup */
			char buf[1024];
			const char *parts[] = {dirs[d], "/", langs[l], "/", name, ".", ext};
			char *p = NULL;
			if (!path_join(buf, sizeof buf, parts, sizeof parts / sizeof parts[0]))
				p = xasprintf("%s/%s/%s.%s", dirs[d], langs[l], name, ext);
			char *s = slurp(p ? p : buf);
			if (s) {
				*path_r = p ? p : xstrdup(buf);
				return s;
			}
			free(p);
		}
	return NULL;
}

/* ---- rendering ------------------------------------------------------------- */

struct ctx {
	const char *path;
	int line0;            /* the file's lines before src (the header's) */
	bool html, check;
	bool trusted;         /* its names were checked (names_checked()) */
	const struct tvars *scope[32];
	int depth;
	char *err;
};

static void error_at(struct ctx *c, const char *src, const char *at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void error_at(struct ctx *c, const char *src, const char *at, const char *fmt, ...)
{
	if (c->err)
		return;
	int line = 1 + c->line0;
	for (const char *p = src; p < at; p++)
		line += *p == '\n';
	struct buf b;
	va_list ap;
	buf_init(&b);
	buf_addf(&b, "%s:%d: ", c->path, line);
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	c->err = buf_detach(&b);
}

static const struct tentry *lookup(const struct ctx *c, const char *name)
{
	for (int i = c->depth - 1; i >= 0; i--) {
		const struct tentry *e = find(c->scope[i], name);
		if (e)
			return e;
	}
	return NULL;
}

/* The dotted names of these roots are a fixed set: every one the code sets
 * and the shipped templates use ({{deal.titel}} is a typo `config check`
 * reports, not an empty string in every confirmation).  The other roots
 * (lists, sections) are checked by their root. */
static const char *const fixed_roots[] = {
	"deal", "contact", "rep", "owner", "assistant", "message", "sequence", "undo", "unsubscribe", "digest", NULL,
};
static const char *const known_names[] = {
	"assistant.address", "assistant.name", "contact.email", "contact.first_name", "contact.name", "contact.who",
	"deal.close_date", "deal.currency", "deal.days", "deal.id", "deal.others", "deal.owner",
	"deal.picked", "deal.reason", "deal.score", "deal.stage", "deal.stage_key", "deal.status", "deal.tag",
	"deal.title", "deal.value", "digest.address", "digest.attention", "digest.attention_one", "digest.avg_age", "digest.avg_deal",
	"digest.close_ratio", "digest.conv_count", "digest.conversion", "digest.cycle_days", "digest.date",
	"digest.deals_needed", "digest.empty", "digest.failed", "digest.failed_count", "digest.failed_more",
	"digest.forecast_bar", "digest.forecast_pct", "digest.funnel", "digest.lost", "digest.lost_one", "digest.lost_reasons",
	"digest.lost_reasons_count", "digest.manager", "digest.moves", "digest.moves_count",
	"digest.moves_lost", "digest.moves_more", "digest.moves_won", "digest.new", "digest.new_count",
	"digest.new_more", "digest.open_bar", "digest.open_deals", "digest.open_one", "digest.open_pct", "digest.open_value",
	"digest.per_rep", "digest.silent", "digest.silent_count", "digest.silent_more", "digest.since",
	"digest.stalled", "digest.stalled_count", "digest.stalled_more", "digest.target", "digest.target_bar",
	"digest.target_monthly", "digest.target_pct", "digest.tasks", "digest.tasks_count",
	"digest.tasks_due", "digest.tasks_more", "digest.tasks_overdue", "digest.team", "digest.velocity_day",
	"digest.velocity_month", "digest.weighted", "digest.wins_needed", "digest.wins_one", "digest.won", "digest.won_one", "digest.won_reasons",
	"digest.won_reasons_count", "message.by", "message.excerpt", "message.stopped", "message.subject", "owner.email", "owner.name",
	"rep.email", "rep.name", "sequence.name", "sequence.step", "sequence.steps", "undo.minutes",
	"unsubscribe.address", NULL,
};

static bool known(const char *name)
{
	size_t n = strcspn(name, ".");
	bool root = false;
	for (const char *const *r = known_roots; *r && !root; r++)
		root = strlen(*r) == n && !strncmp(*r, name, n);
	if (!root || !name[n])
		return root;
	for (const char *const *r = fixed_roots; *r; r++)
		if (strlen(*r) == n && !strncmp(*r, name, n)) {
			for (const char *const *k = known_names; *k; k++)
				if (!strcmp(*k, name))
					return true;
			return false;
		}
	return true;
}

static void emit(struct buf *out, const char *s, bool escape)
{
	if (!escape) {
		buf_adds(out, s);
		return;
	}
	for (; *s; s++)
		switch (*s) {
		case '&': buf_adds(out, "&amp;"); break;
		case '<': buf_adds(out, "&lt;"); break;
		case '>': buf_adds(out, "&gt;"); break;
		case '"': buf_adds(out, "&quot;"); break;
		case '\'': buf_adds(out, "&#39;"); break;
		default: buf_addc(out, *s);
		}
}

struct tag {
	char kind;          /* 0 variable, '{' raw, '#', '^', '/', '!' */
	char name[128];
	const char *start, *end;   /* the tag's bytes */
	const char *line_start, *line_end; /* standalone: whole line to drop */
	bool standalone;
};

/* Next tag at or after p; false when none. */
static bool next_tag(struct ctx *c, const char *src, const char *p, struct tag *t)
{
	const char *o = strstr(p, "{{");
	if (!o)
		return false;
	t->start = o;
	const char *q = o + 2;
	bool triple = *q == '{';
	t->kind = 0;
	if (triple) {
		t->kind = '{';
		q++;
	} else if (*q == '#' || *q == '^' || *q == '/' || *q == '!') {
		t->kind = *q;
		q++;
	}
	const char *close = strstr(q, triple ? "}}}" : "}}");
	if (!close) {
		error_at(c, src, o, "unterminated \"{{\"");
		return false;
	}
	t->end = close + (triple ? 3 : 2);
	while (*q == ' ')
		q++;
	size_t n = (size_t)(close - q);
	while (n && q[n - 1] == ' ')
		n--;
	if (t->kind != '!' && (n == 0 || n >= sizeof t->name)) {
		error_at(c, src, o, "empty or too long tag name");
		return false;
	}
	if (t->kind != '!') {
		for (size_t i = 0; i < n; i++)
			if (!(isalnum((unsigned char)q[i]) || q[i] == '.' || q[i] == '_' || q[i] == '-')) {
				error_at(c, src, o, "bad character in tag name");
				return false;
			}
	}
	if (t->kind == '!')
		n = 0;
	memcpy(t->name, q, n);   /* n < sizeof t->name: checked above */
	t->name[n] = '\0';
	/* standalone: only whitespace around a section/comment tag on its line */
	t->standalone = false;
	if (t->kind == '#' || t->kind == '^' || t->kind == '/' || t->kind == '!') {
		const char *ls = o;
		while (ls > src && (ls[-1] == ' ' || ls[-1] == '\t'))
			ls--;
		const char *le = t->end;
		while (*le == ' ' || *le == '\t' || *le == '\r')
			le++;
		if ((ls == src || ls[-1] == '\n') && (*le == '\n' || *le == '\0')) {
			t->standalone = true;
			t->line_start = ls;
			t->line_end = *le == '\n' ? le + 1 : le;
		}
	}
	return true;
}

static bool truthy(const struct tentry *e)
{
	if (!e)
		return false;
	if (!e->value)
		return e->nitems > 0;
	return *e->value && strcmp(e->value, "0") && strcmp(e->value, "false");
}

/* Render src[p..] until the closing tag of `section` (NULL = end).  Returns
 * the position after the closing tag, or NULL on error/end. */
static const char *render(struct ctx *c, const char *src, const char *p, const char *section,
			  const char *open_at, int in_section, struct buf *out)
{
	struct tag t;
	while (!c->err) {
		if (!next_tag(c, src, p, &t)) {
			if (c->err)
				return NULL;
			if (section) {
				error_at(c, src, open_at ? open_at : p, "section \"%s\" is not closed", section);
				return NULL;
			}
			if (out)
				buf_adds(out, p);
			return p + strlen(p);
		}
		const char *text_end = t.standalone ? t.line_start : t.start;
		if (out)
			buf_add(out, p, (size_t)(text_end - p));
		const char *after = t.standalone ? t.line_end : t.end;
		switch (t.kind) {
		case '!':
			p = after;
			break;
		case '/':
			if (!section || strcmp(section, t.name)) {
				error_at(c, src, t.start, "\"{{/%s}}\" closes %s%s%s", t.name, section ? "\"" : "no open section",
					 section ? section : "", section ? "\"" : "");
				return NULL;
			}
			return after;
		case '#':
		case '^': {
			if (!in_section && !c->trusted && !known(t.name) && strcmp(t.name, ".")) {
				error_at(c, src, t.start, "unknown variable \"%s\"", t.name);
				return NULL;
			}
			const struct tentry *e = c->check ? NULL : lookup(c, t.name);
			const char *end = NULL;
			char name[sizeof t.name];
			memcpy(name, t.name, sizeof name);
			if (c->check || !out) {
				end = render(c, src, after, name, t.start, in_section + 1, NULL);
			} else if (t.kind == '#' && e && !e->value && e->nitems && c->depth < 31) {
				for (size_t i = 0; i < e->nitems && !c->err; i++) {
					c->scope[c->depth++] = e->items[i];
					end = render(c, src, after, name, t.start, in_section + 1, out);
					c->depth--;
				}
			} else if (t.kind == '#' && truthy(e) && e->value && c->depth < 31) {
				/* a value section: `{{.}}` inside is the value */
				struct tvars *self = tvars_new();
				tvars_set(self, ".", e->value);
				c->scope[c->depth++] = self;
				end = render(c, src, after, name, t.start, in_section + 1, out);
				c->depth--;
				tvars_free(self);
			} else if ((t.kind == '#') == truthy(e)) {
				end = render(c, src, after, name, t.start, in_section + 1, out);
			} else {
				end = render(c, src, after, name, t.start, in_section + 1, NULL);
			}
			if (!end)
				return NULL;
			p = end;
			break;
		}
		default: {
			if (!in_section && !c->trusted && !known(t.name) && strcmp(t.name, ".")) {
				error_at(c, src, t.start, "unknown variable \"%s\"", t.name);
				return NULL;
			}
			if (out && !c->check) {
				const struct tentry *e = lookup(c, t.name);
				if (!strcmp(t.name, ".") && c->depth > 1) {
					/* the element itself: its "." (a string element or the value
					 * of a `{{#x}}` section), else its "text" */
					const struct tentry *self = find(c->scope[c->depth - 1], ".");
					e = self ? self : find(c->scope[c->depth - 1], "text");
				}
				if (e && e->value)
					emit(out, e->value, c->html && t.kind != '{');
			}
			p = t.end;
			break;
		}
		}
	}
	return NULL;
}

static int render_string(const char *path, int line0, const char *src, bool html, const struct tvars *v,
			 bool check, char **out_r, char **err_r)
{
	struct ctx c = {.path = path, .line0 = line0, .html = html, .check = check,
			.trusted = !check && names_checked(path)};
	struct buf out;
	buf_init(&out);
	if (v)
		c.scope[c.depth++] = v;
	render(&c, src, src, NULL, NULL, 0, check ? NULL : &out);
	if (c.err) {
		buf_release(&out);
		*err_r = c.err;
		return -1;
	}
	if (out_r)
		*out_r = buf_detach(&out);
	else
		buf_release(&out);
	return 0;
}

/* Split "Subject: …\n…\n\nbody" into header lines and body. */
static const char *split_header(const char *s, const char **subject, size_t *subject_len)
{
	*subject = NULL;
	*subject_len = 0;
	const char *p = s;
	/* a header block only when the first line looks like "Name: value" */
	size_t k = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-");
	if (!k || p[k] != ':')
		return s;
	while (*p && *p != '\n') {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (n >= 8 && !strncasecmp(p, "Subject:", 8)) {
			const char *v = p + 8;
			while (*v == ' ')
				v++;
			*subject = v;
			*subject_len = (size_t)(p + n - v);
			while (*subject_len && ((*subject)[*subject_len - 1] == '\r' || (*subject)[*subject_len - 1] == ' '))
				(*subject_len)--;
		}
		p = nl ? nl + 1 : p + n;
		if (*p == '\r')
			p++;
	}
	return *p == '\n' ? p + 1 : p;
}

/* strcasestr(s, tag) for a tag that starts with '[' (which has no other
 * case): the brackets of s tried one by one.  strcasestr() scans byte by
 * byte, and subject_tidy() calls it a few times per rendering. */
static char *find_tag(const char *s, const char *tag)
{
	size_t n = strlen(tag);
	for (const char *q = s; (q = strchr(q, '[')); q++)
		if (!strncasecmp(q, tag, n))
			return (char *)q;
	return NULL;
}

/* One line, and one reply prefix: "Re: Re: RES: x" -> "Re: x" (templates
 * write "Re: {{message.subject}}" and the rep's subject often has one). */
/* Returns s, reallocated: "re:x" becomes "Re: x", one byte longer. */
static char *subject_tidy(char *s)
{
	for (char *p = s; *p; p++)
		if (*p == '\r' || *p == '\n' || *p == '\t')
			*p = ' ';
	char *p = s;
	int prefixes = 0;
	for (;;) {
		while (*p == ' ')
			p++;
		size_t k = !strncasecmp(p, "re:", 3) || !strncasecmp(p, "rv:", 3) ? 3
			   : !strncasecmp(p, "res:", 4)                            ? 4
			   : !strncasecmp(p, "aw:", 3)                             ? 3
										   : 0;
		if (!k)
			break;
		p += k;
		prefixes++;
	}
	size_t n = strlen(p);
	while (n && p[n - 1] == ' ')
		p[--n] = '\0';
	if (prefixes) {
		size_t off = (size_t)(p - s);
		s = xrealloc(s, off + n + 5);
		p = s + off;
		memmove(s + 4, p, n + 1);
		memcpy(s, "Re: ", 4);
	}
	else if (p != s)
		memmove(s, p, n + 1);
	/* a deal tag that the subject already had: "Re: [deal #3] x [deal #3]" */
	for (char *t = strstr(s, "[deal #"); t; t = strstr(t + 1, "[deal #")) {
		char *e = strchr(t, ']');
		if (!e)
			break;
		size_t tl = (size_t)(e + 1 - t);
		char *dup;
		while ((dup = memmem(e + 1, strlen(e + 1), t, tl)) != NULL) {
			char *from = dup;
			while (from > e + 1 && from[-1] == ' ')
				from--;
			memmove(from, dup + tl, strlen(dup + tl) + 1);
		}
	}
	/* ... or had in another of its forms: "Re: [oportunidade #2] x [deal #2]" */
	for (char *t = strstr(s, "[deal #"); t; t = strstr(t, "[deal #")) {
		char *e = strchr(t, ']');
		if (!e)
			break;
		char num[24];
		size_t nl = (size_t)(e - (t + 7));
		if (nl == 0 || nl >= sizeof num - 1 || strspn(t + 7, "0123456789") != nl) {
			t = e;
			continue;
		}
		/* "#<digits>]" as snprintf() would write it (nl < sizeof num - 1) */
		size_t k = 0;
		num[k++] = '#';
		memcpy(num + k, t + 7, nl);
		k += nl;
		if (k < sizeof num - 1)
			num[k++] = ']';
		num[k] = '\0';
		static const char *const forms[] = {"[oportunidad ", "[oportunidade ", "[", NULL};
		bool other = false;
		for (const char *const *f = forms; *f && !other; f++) {
			size_t fl = strlen(*f);
			for (const char *q = s; (q = find_tag(q, *f)) && !other; q++)
				if (q != t && !strncmp(q + fl, num, strlen(num)))
					other = true;
		}
		if (!other) {
			t = e;
			continue;
		}
		char *from = t;
		while (from > s && from[-1] == ' ')
			from--;
		memmove(from, e + 1, strlen(e + 1) + 1);
		t = from;
	}
	n = strlen(s);
	while (n && s[n - 1] == ' ')
		s[--n] = '\0';
	/* the answer's own tag ends the subject: another deal's tag that the
	 * rep's subject had goes ("Re: ACME [deal #3] [deal #1]" is about #1) */
	char *last = n && s[n - 1] == ']' ? strrchr(s, '[') : NULL;
	if (last && !strncmp(last, "[deal #", 7) && strspn(last + 7, "0123456789") == strlen(last + 7) - 1) {
		static const char *const forms[] = {"[deal #", "[oportunidad #", "[oportunidade #", "[#", NULL};
		for (const char *const *f = forms; *f; f++) {
			size_t fl = strlen(*f);
			for (char *at = s, *q; (q = find_tag(at, *f)) && q < last;) {
				size_t dl = strspn(q + fl, "0123456789");
				at = q + 1;
				if (!dl || q[fl + dl] != ']' ||
				    (dl == strlen(last + 7) - 1 && !strncmp(q + fl, last + 7, dl)))
					continue;
				char *from = q, *end = q + fl + dl + 1;
				while (from > s && from[-1] == ' ')
					from--;
				memmove(from, end, strlen(end) + 1);
				last -= end - from;
				at = from;
			}
		}
		n = strlen(s);
		while (*s == ' ')
			memmove(s, s + 1, n--);
	}
	return s;
}

static int render_file(const char *path, const char *src, bool html, const struct tvars *v, bool check,
		       char **subject_r, char **body_r, char **err_r)
{
	const char *subject;
	size_t slen;
	const char *body = split_header(src, &subject, &slen);
	if (subject_r) {
		char *s = xstrndup(subject ? subject : "", slen);
		/* the subject template is on line 1 of the file: errors point there */
		int rc = render_string(path, 0, s, false, v, check, subject_r, err_r);
		free(s);
		if (rc < 0)
			return -1;
		if (*subject_r)
			*subject_r = subject_tidy(*subject_r);
	}
	/* keep line numbers right: the body's errors count the header's lines
	 * (the body is rendered where it is, not copied) */
	int line0 = 0;
	for (const char *p = src; p < body; p++)
		line0 += *p == '\n';
	int rc = render_string(path, line0, body, html, v, check, body_r, err_r);
	if (rc < 0) {
		if (subject_r) {
			free(*subject_r);
			*subject_r = NULL;
		}
		return -1;
	}
	return 0;
}

/* Which cached files a template_render() question came to (the .txt's
 * slot, the .html's or -1 for none): the files are read once per process
 * and absent ones are remembered, so the answer does not change, and
 * finding it again (up to four paths put together and looked up, and the
 * .html's) was a fifth of rendering a confirmation.  Forgotten with the
 * cache. */
#define TFOUND 32
static struct {
	char *override_dir, *shipped, *lang, *name;
	long txt, html;
} tfound[TFOUND];
static size_t tfound_n;

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static long tfound_find(const char *override_dir, const char *shipped, const char *lang, const char *name)
{
	for (size_t i = 0; i < tfound_n; i++)
		if (same_str(tfound[i].name, name) && same_str(tfound[i].lang, lang) &&
		    same_str(tfound[i].override_dir, override_dir) && same_str(tfound[i].shipped, shipped))
			return (long)i;
	return -1;
}

static void tfound_add(const char *override_dir, const char *shipped, const char *lang, const char *name,
		       long txt, long html)
{
	if (tfound_n == TFOUND)
		return;
	tfound[tfound_n].override_dir = override_dir ? xstrdup(override_dir) : NULL;
	tfound[tfound_n].shipped = shipped ? xstrdup(shipped) : NULL;
	tfound[tfound_n].lang = lang ? xstrdup(lang) : NULL;
	tfound[tfound_n].name = name ? xstrdup(name) : NULL;
	tfound[tfound_n].txt = txt;
	tfound[tfound_n].html = html;
	tfound_n++;
}

static void tfound_clear(void)
{
	for (size_t i = 0; i < tfound_n; i++) {
		free(tfound[i].override_dir);
		free(tfound[i].shipped);
		free(tfound[i].lang);
		free(tfound[i].name);
	}
	tfound_n = 0;
}

/* Render NAME.txt (path, src) and, when there is one, NAME.html. */
static int render_pair(const char *path, const char *src, const char *hpath, const char *hsrc,
		       const struct tvars *v, struct rendered *out, char **err_r)
{
	int rc = render_file(path, src, false, v, false, &out->subject, &out->text, err_r);
	if (rc < 0)
		return -1;
	names_mark(path);
	if (hsrc) {
		rc = render_file(hpath, hsrc, true, v, false, NULL, &out->html, err_r);
		if (rc < 0) {
			rendered_free(out);
			return -1;
		}
		names_mark(hpath);
	}
	return 0;
}

int template_render(const char *override_dir, const char *lang, const char *name,
		    const struct tvars *v, struct rendered *out, char **err_r)
{
	char *path = NULL, *hpath = NULL;
	memset(out, 0, sizeof *out);
	*err_r = NULL;
	const char *shipped = template_shipped_dir();
	long f = tfound_find(override_dir, shipped, lang, name);
	if (f >= 0) {
		long t = tfound[f].txt, h = tfound[f].html;
		tcache_last = (size_t)t;   /* what names_checked() will ask for */
		return render_pair(tcache[t].path, tcache[t].text, h >= 0 ? tcache[h].path : NULL,
				   h >= 0 ? tcache[h].text : NULL, v, out, err_r);
	}
	char *src = locate(override_dir, lang, name, "txt", &path);
	if (!src) {
		*err_r = xasprintf("template %s/%s.txt not found", lang ? lang : "en", name ? name : "");
		return -1;
	}
	int rc = render_file(path, src, false, v, false, &out->subject, &out->text, err_r);
	free(src);
	if (rc == 0)
		names_mark(path);
	if (rc < 0) {
		free(path);
		return -1;
	}
	/* NAME.html only from the folder NAME.txt came from: an override of the
	 * text alone must not be paired with the shipped HTML */
	size_t dl = strlen(path) - strlen(name) - 4; /* ".txt" */
	hpath = xasprintf("%.*s%s.html", (int)dl, path, name);
	char *hsrc = slurp(hpath);
	if (hsrc) {
		rc = render_file(hpath, hsrc, true, v, false, NULL, &out->html, err_r);
		free(hsrc);
		if (rc == 0)
			names_mark(hpath);
		if (rc < 0) {
			rendered_free(out);
			free(hpath);
			free(path);
			return -1;
		}
	}
	/* both answers are in the cache (it was not full): remembered */
	long t = tcache_find(path), h = tcache_find(hpath);
	if (t >= 0 && h >= 0)
		tfound_add(override_dir, shipped, lang, name, t, tcache[h].text ? h : -1);
	free(hpath);
	free(path);
	return 0;
}

void rendered_free(struct rendered *r)
{
	free(r->subject);
	free(r->text);
	free(r->html);
	memset(r, 0, sizeof *r);
}

int template_check(const char *override_dir, const char *lang, const char *name, char **err_r)
{
	char *path = NULL;
	char *subject = NULL;
	*err_r = NULL;
	char *src = locate(override_dir, lang, name, "txt", &path);
	if (!src) {
		*err_r = xasprintf("template %s/%s.txt not found", lang ? lang : "en", name ? name : "");
		return -1;
	}
	int rc = render_file(path, src, false, NULL, true, &subject, NULL, err_r);
	free(subject);
	free(src);
	if (rc < 0) {
		free(path);
		return -1;
	}
	char *hpath = xasprintf("%.*s%s.html", (int)(strlen(path) - strlen(name) - 4), path, name);
	free(path);
	src = slurp(hpath);
	if (src) {
		rc = render_file(hpath, src, true, NULL, true, NULL, NULL, err_r);
		free(src);
	}
	free(hpath);
	return rc;
}
