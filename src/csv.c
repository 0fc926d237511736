/* csv.c — `deal import --csv`: RFC 4180 CSV with a header row naming the
 * columns (title, contact, owner, stage, value, close_date, or what a team's
 * spreadsheet calls them: "Contact Email", "Fecha de cierre", "Valor"…;
 * `id` is ignored, any other column is named on stderr and left out).  All rows go in one transaction: when any row is bad
 * every problem is reported as FILE:LINE and nothing is imported (65).
 * What spreadsheets write is accepted too: a byte order mark, `;` or tab
 * between fields (Excel in Spanish and Portuguese locales: the header row
 * tells which), Windows-1252 text (converted to UTF-8), UTF-16 with a byte
 * order mark (Excel's "Unicode Text": tab-separated), rows of empty fields,
 * and a contact written "Name <address>". */
#include "app.h"
#include "message.h"
#include "command.h"
#include "source.h"
#include "text.h"
#include "util.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct row {
	char **f;
	size_t n, cap;
	int line;
};

static void row_clear(struct row *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->f[i]);
	r->n = 0;
}

/* Parse one record starting at *p with fields separated by sep; advances *p
 * and *line.  false at EOF; *open_quote when a quoted field runs to the end
 * of the file. */
static bool next_record(const char **p, const char *end, int *line, struct row *r, char sep, bool *open_quote)
{
	const char *s = *p;
	row_clear(r);
	if (s >= end)
		return false;
	r->line = *line;
	struct buf f;
	buf_init(&f);
	for (;;) {
		bool quoted = false;
		buf_reset(&f);
		if (s < end && *s == '"') {
			quoted = true;
			s++;
			bool closed = false;
			while (s < end) {
				if (*s == '"') {
					if (s + 1 < end && s[1] == '"') {
						buf_addc(&f, '"');
						s += 2;
						continue;
					}
					s++;
					closed = true;
					break;
				}
				if (*s == '\n')
					(*line)++;
				buf_addc(&f, *s++);
			}
			if (!closed)
				*open_quote = true;
		}
		while (s < end && *s != sep && *s != '\n' && *s != '\r')
			buf_addc(&f, *s++);
		(void)quoted;
		if (r->n == r->cap) {
			r->cap = r->cap ? r->cap * 2 : 8;
			r->f = xrealloc(r->f, r->cap * sizeof *r->f);
		}
		r->f[r->n++] = xstrdup(f.s);
		if (s < end && *s == sep) {
			s++;
			continue;
		}
		if (s < end && *s == '\r')
			s++;
		if (s < end && *s == '\n')
			s++;
		(*line)++;
		break;
	}
	buf_release(&f);
	*p = s;
	return true;
}

static char *trimmed(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *t = xstrdup(s);
	size_t n = strlen(t);
	while (n && isspace((unsigned char)t[n - 1]))
		t[--n] = '\0';
	return t;
}

/* The separator of the header row (its first line): the most frequent of
 * ',', ';' and tab outside quotes; ',' when none. */
static char guess_sep(const char *p, const char *end)
{
	size_t n[3] = {0, 0, 0};
	bool q = false;
	for (; p < end && (q || (*p != '\n' && *p != '\r')); p++) {
		if (*p == '"')
			q = !q;
		else if (!q)
			n[0] += *p == ',', n[1] += *p == ';', n[2] += *p == '\t';
	}
	return n[1] > n[0] && n[1] >= n[2] ? ';' : n[2] > n[0] && n[2] > n[1] ? '\t' : ',';
}

static bool all_blank(const struct row *r)
{
	for (size_t i = 0; i < r->n; i++)
		for (const char *c = r->f[i]; *c; c++)
			if (!isspace((unsigned char)*c))
				return false;
	return true;
}

int csv_import(struct app *app, const char *path)
{
	size_t len;
	char *raw = read_file(path, &len);
	if (!raw) {
		log_error("%s: %s", path, strerror(errno));
		return EXIT_NOINPUT;
	}
	/* UTF-16 with its byte order mark (Excel's "Unicode Text", tab-
	 * separated) is converted by iconv; UTF-8 as is; anything else is
	 * taken as Windows-1252 (what Excel writes in Spanish and Portuguese
	 * locales), never stored as is */
	const char *utf16 = len >= 2 && !memcmp(raw, "\xff\xfe", 2) ? "UTF-16LE"
			    : len >= 2 && !memcmp(raw, "\xfe\xff", 2) ? "UTF-16BE" : NULL;
	if (utf16 && (len - 2) % 2) {
		/* half a character at the end: a file cut short, not a table */
		fprintf(stderr, "%s: not whole %s text (%zu bytes after the byte order mark, an odd number): "
			"the file is cut short; nothing imported\n", path, utf16, len - 2);
		free(raw);
		return EXIT_DATAERR;
	}
	char *all = utf16 ? charset_to_utf8(utf16, raw + 2, len - 2) : charset_to_utf8(NULL, raw, len);
	free(raw);
	len = strlen(all);
	const char *p = all, *end = all + len;
	if (len >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
		p += 3;  /* spreadsheets write a BOM */
	char sep = guess_sep(p, end);
	bool open_quote = false;
	int line = 1, bad = 0, added = 0;
	struct row r = {0};
	int col[6] = {-1, -1, -1, -1, -1, -1};
	static const char *const names[6] = {"title", "contact", "owner", "stage", "value", "close_date"};
	if (!next_record(&p, end, &line, &r, sep, &open_quote)) {
		fprintf(stderr, "%s:1: empty file\n", path);
		free(all);
		return EXIT_DATAERR;
	}
	/* the names SPEC gives, and what a team's own spreadsheet calls the
	 * same columns, in English, Spanish and Portuguese (folded: case,
	 * accents, '_' and '-' as spaces) */
	static const char *const also[6][12] = {
		{"deal", "deal title", "name", "titulo", "oportunidad", "oportunidade", "negocio", "asunto", NULL},
		{"contact email", "email", "e mail", "contact e mail", "contacto", "contato", "correo",
		 "email del contacto", "email do contato", "cliente", NULL},
		{"rep", "responsable", "responsavel", "vendedor", "propietario", "dono", "assigned to", NULL},
		{"etapa", "fase", "estagio", "stage key", NULL},
		{"amount", "valor", "importe", "monto", "deal value", NULL},
		{"close", "close date", "expected close date", "fecha de cierre", "cierre", "fecha cierre",
		 "data de fechamento", "fechamento", NULL},
	};
	for (size_t i = 0; i < r.n; i++) {
		char *h0 = trimmed(r.f[i]);
		for (char *q = h0; *q; q++)
			if (*q == '_' || *q == '-')
				*q = ' ';
		char *h = text_fold(h0);
		free(h0);
		bool known = !strcmp(h, "id") || !*h;
		for (int k = 0; k < 6; k++) {
			bool hit = !strcmp(h, names[k]) || (k == 5 && !strcmp(h, "close date"));
			for (int a = 0; !hit && also[k][a]; a++)
				hit = !strcmp(h, also[k][a]);
			if (hit && col[k] < 0)
				col[k] = (int)i;
			known |= hit;
		}
		if (!known)
			fprintf(stderr, "%s:1: column \"%s\" is not one dealmail reads (title, contact, owner, stage, "
				"value, close_date): left out\n", path, h);
		free(h);
	}
	if (col[0] < 0) {
		fprintf(stderr, "%s:1: the header row has no `title` column\n", path);
		row_clear(&r);
		free(r.f);
		free(all);
		return EXIT_DATAERR;
	}
	if (db_begin(app->db) < 0) {
		free(all);
		log_error("%s", db_error(app->db));
		return db_tempfail(app->db) ? EXIT_TEMPFAIL : EXIT_IOERR;
	}
	char today[11];
	app_today(today);
	while (next_record(&p, end, &line, &r, sep, &open_quote)) {
		if (open_quote) {
			fprintf(stderr, "%s:%d: a quoted field is not closed (its \" runs to the end of the file)\n",
				path, r.line);
			bad++;
			break;
		}
		if (all_blank(&r))
			continue;  /* a blank line, or a spreadsheet's row of empty cells */
		char *v[6] = {0};
		for (int k = 0; k < 6; k++)
			v[k] = col[k] >= 0 && (size_t)col[k] < r.n ? trimmed(r.f[col[k]]) : NULL;
		struct deal_new d = {.title = v[0], .contact = v[1] && *v[1] ? v[1] : NULL, .owner = v[2],
				     .stage = v[3], .source = "import", .by = "import"};
		char cur[4] = "", date[11] = "";
		const char *err = NULL;
		struct addrlist al = {0};
		if (d.contact) {
			/* "Name <address>" or a bare address */
			addrlist_parse(d.contact, &al);
			if (al.n == 1 && strchr(al.v[0].email, '@')) {
				for (char *q = al.v[0].email; *q; q++)
					*q = (char)tolower((unsigned char)*q);
				d.contact = al.v[0].email;
				if (al.v[0].name && *al.v[0].name)
					d.contact_name = al.v[0].name;
			}
		}
		if (!v[0] || !*v[0])
			err = "title is empty";
		else if (d.contact && (al.n != 1 || !strchr(d.contact, '@')))
			err = "contact is not one email address";
		else if (v[4] && *v[4]) {
			if (!parse_amount_dollar(v[4], dollar_currency(app->cfg->currency), &d.value, cur))
				err = "value is not an amount";
			d.has_value = true;
			d.currency = cur[0] ? cur : NULL;
		}
		if (!err && v[5] && *v[5]) {
			if (!parse_date(v[5], today, date))
				err = "close_date is not a date";
			d.close_date = date;
		}
		if (!err && d.stage && *d.stage && config_stage_find(app->cfg, d.stage) < 0)
			err = "unknown stage";
		if (!err && d.owner && *d.owner && !config_rep_find(app->cfg, d.owner))
			err = "owner is not a configured rep";
		if (!err && deal_create(app, &d, &err) < 0 && !err)
			err = db_error(app->db) ? db_error(app->db) : "cannot create the deal";
		addrlist_free(&al);
		if (err) {
			fprintf(stderr, "%s:%d: %s\n", path, r.line, err);
			bad++;
		} else
			added++;
		for (int k = 0; k < 6; k++)
			free(v[k]);
		if (db_error(app->db))
			break;
	}
	row_clear(&r);
	free(r.f);
	free(all);
	if (bad || db_error(app->db)) {
		bool temp = db_tempfail(app->db);
		db_rollback(app->db);
		fprintf(stderr, "dealmail: %d bad row%s: nothing imported\n", bad, bad == 1 ? "" : "s");
		return temp ? EXIT_TEMPFAIL : bad ? EXIT_DATAERR : EXIT_IOERR;
	}
	if (db_commit(app->db) < 0) {
		log_error("%s", db_error(app->db));
		return db_tempfail(app->db) ? EXIT_TEMPFAIL : EXIT_IOERR;
	}
	printf("%d deal%s imported\n", added, added == 1 ? "" : "s");
	return 0;
}
