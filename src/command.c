/* command.c — see command.h.  SPEC §3.5.
 *
 * One PCRE2 pattern (compiled once, JIT) recognises the shape of a command
 * line; the keyword it captures is folded (case and accents) and looked up
 * in the alias table; the value is then read by kind with small hand-written
 * parsers (amounts, dates, percentages, score deltas). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "command.h"
#include "buf.h"
#include "text.h"
#include <ctype.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---------------------------------------------------------------- keywords */

static const char *const kind_names[] = {
	[CMD_STAGE] = "stage", [CMD_WON] = "won", [CMD_LOST] = "lost",
	[CMD_VALUE] = "value", [CMD_CLOSE] = "close", [CMD_PROBABILITY] = "probability",
	[CMD_OWNER] = "owner", [CMD_SHARE] = "share", [CMD_TASK] = "task",
	[CMD_NOTE] = "note", [CMD_SCORE] = "score", [CMD_DEAL] = "deal",
	[CMD_DRIP] = "drip", [CMD_HELP] = "help", [CMD_UNDO] = "undo",
	[CMD_HISTORY] = "history", [CMD_LIST] = "list",
};

const char *command_keyword(enum cmd_kind kind)
{
	if ((unsigned)kind < sizeof kind_names / sizeof kind_names[0] && kind_names[kind])
		return kind_names[kind];
	return "?";
}

/* Folded aliases (text_fold of the SPEC §3.5 spellings). */
static const struct {
	const char *alias;
	enum cmd_kind kind;
} aliases[] = {
	{"stage", CMD_STAGE}, {"etapa", CMD_STAGE}, {"estagio", CMD_STAGE}, {"fase", CMD_STAGE},
	{"status", CMD_STAGE},   /* only "status: ganho", "status: lost - price": status_value() */
	{"estado", CMD_STAGE},   /* the same in Spanish and Portuguese: "Estado: ganado" */
	{"won", CMD_WON}, {"ganado", CMD_WON}, {"ganada", CMD_WON}, {"ganho", CMD_WON}, {"ganamos", CMD_WON},
	{"ganhamos", CMD_WON}, {"fechamos", CMD_WON},
	{"lost", CMD_LOST}, {"perdido", CMD_LOST}, {"perdida", CMD_LOST}, {"perdemos", CMD_LOST},
	{"perdimos", CMD_LOST},
	{"value", CMD_VALUE}, {"valor", CMD_VALUE}, {"importe", CMD_VALUE},
	{"amount", CMD_VALUE}, {"monto", CMD_VALUE},
	/* qualified: the deal's value as a rep or a form labels it */
	{"valor final", CMD_VALUE}, {"valor total", CMD_VALUE}, {"valor fechado", CMD_VALUE},
	{"valor estimado", CMD_VALUE}, {"monto total", CMD_VALUE}, {"monto final", CMD_VALUE},
	{"monto estimado", CMD_VALUE}, {"importe total", CMD_VALUE}, {"importe final", CMD_VALUE},
	{"close", CMD_CLOSE}, {"cierre", CMD_CLOSE}, {"fechamento", CMD_CLOSE}, {"fecha", CMD_CLOSE},
	/* the labels of a form or a CRM, several words (line_pattern lists them) */
	{"fecha de cierre", CMD_CLOSE}, {"fecha cierre", CMD_CLOSE}, {"data de fechamento", CMD_CLOSE},
	{"data fechamento", CMD_CLOSE}, {"data de fecho", CMD_CLOSE}, {"close date", CMD_CLOSE},
	{"closing date", CMD_CLOSE}, {"expected close date", CMD_CLOSE},
	{"fechamento previsto", CMD_CLOSE}, {"previsao de fechamento", CMD_CLOSE},
	{"data prevista de fechamento", CMD_CLOSE}, {"data de fechamento prevista", CMD_CLOSE},
	{"fecha estimada de cierre", CMD_CLOSE}, {"fecha prevista de cierre", CMD_CLOSE},
	{"fecha de cierre estimada", CMD_CLOSE}, {"fecha de cierre prevista", CMD_CLOSE},
	{"cierre estimado", CMD_CLOSE}, {"cierre previsto", CMD_CLOSE},
	{"probability", CMD_PROBABILITY}, {"probabilidad", CMD_PROBABILITY},
	{"probabilidade", CMD_PROBABILITY},
	{"owner", CMD_OWNER}, {"asignar", CMD_OWNER}, {"responsable", CMD_OWNER},
	{"responsavel", CMD_OWNER}, {"asignar a", CMD_OWNER},
	{"share", CMD_SHARE}, {"compartir", CMD_SHARE}, {"compartilhar", CMD_SHARE},
	{"share with", CMD_SHARE}, {"compartir con", CMD_SHARE}, {"compartilhar com", CMD_SHARE},
	{"task", CMD_TASK}, {"tarea", CMD_TASK}, {"tarefa", CMD_TASK},
	{"note", CMD_NOTE}, {"nota", CMD_NOTE},
	{"score", CMD_SCORE}, {"puntos", CMD_SCORE}, {"pontos", CMD_SCORE},
	{"deal", CMD_DEAL}, {"oportunidad", CMD_DEAL}, {"oportunidade", CMD_DEAL},
	{"drip", CMD_DRIP}, {"secuencia", CMD_DRIP}, {"sequencia", CMD_DRIP},
	{"help", CMD_HELP}, {"ayuda", CMD_HELP}, {"ajuda", CMD_HELP},
	{"undo", CMD_UNDO}, {"deshacer", CMD_UNDO}, {"desfazer", CMD_UNDO},
	{"history", CMD_HISTORY}, {"historial", CMD_HISTORY}, {"historico", CMD_HISTORY},
	{"list", CMD_LIST}, {"lista", CMD_LIST}, {"deals", CMD_LIST},
};

/* Index in aliases[] of a keyword as written (p, n bytes), or -1. */
static int keyword_index(const char *p, size_t n)
{
	char small[48];
	char *folded = NULL;
	const char *key;
	bool ascii = true;
	if (n >= sizeof small)
		return -1;
	for (size_t i = 0; i < n; i++)   /* several words: text_fold() makes one space of their spaces */
		if ((unsigned char)p[i] >= 0x80 || p[i] == ' ' || p[i] == '\t')
			ascii = false;
	if (ascii) {
		for (size_t i = 0; i < n; i++)
			small[i] = (char)((p[i] >= 'A' && p[i] <= 'Z') ? p[i] + 32 : p[i]);
		small[n] = '\0';
		key = small;
	} else {
		memcpy(small, p, n);
		small[n] = '\0';
		key = folded = text_fold(small);
	}
	int idx = -1;
	for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
		if (strcmp(aliases[i].alias, key) == 0) {
			idx = (int)i;
			break;
		}
	free(folded);
	return idx;
}

/* Kind of a keyword as written (p, n bytes), or -1. */
static int keyword_kind(const char *p, size_t n)
{
	int i = keyword_index(p, n);
	return i < 0 ? -1 : (int)aliases[i].kind;
}

/* The alias a keyword as written is (folded), or NULL. */
static const char *keyword_alias(const char *p, size_t n)
{
	int i = keyword_index(p, n);
	return i < 0 ? NULL : aliases[i].alias;
}

/* "Motivo", "razón", "reason": the label of a won or lost line's reason
 * written on the line after it ("Perdemos." / "Motivo: preço"). */
static bool reason_word(const char *p, size_t n)
{
	static const char *const words[] = {"motivo", "razon", "reason", NULL};
	char small[16];
	if (n >= sizeof small)
		return false;
	memcpy(small, p, n);
	small[n] = '\0';
	char *f = text_fold(small);
	bool hit = false;
	for (const char *const *w = words; *w && !hit; w++)
		hit = !strcmp(f, *w);
	free(f);
	return hit;
}

/* One edit apart: a letter added, dropped or changed, or two neighbours
 * swapped (the typos of a rep on a phone). */
static bool one_edit(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > lb + 1 || lb > la + 1 || !strcmp(a, b))
		return false;
	size_t i = 0;
	while (a[i] && a[i] == b[i])
		i++;
	if (la == lb)
		return !strcmp(a + i + 1, b + i + 1) ||
		       (a[i + 1] && a[i] == b[i + 1] && a[i + 1] == b[i] && !strcmp(a + i + 2, b + i + 2));
	return la > lb ? !strcmp(a + i + 1, b + i) : !strcmp(a + i, b + i + 1);
}

/* The keyword a word of four letters or more is one typo away from
 * ("valr" -> "valor", "etpa" -> "etapa", "tareas" -> "tarea"), or NULL;
 * never for a word that is one already, nor for everyday words that happen
 * to be near one ("Nome:", "Cost:", "Base:"). */
static const char *keyword_near(const char *p, size_t n)
{
	static const char *const everyday[] = {
		"nome", "none", "cost", "post", "host", "most", "last", "past", "tasa", "base", "case", "month",
		"scope", "store", "tarde", "fast", "vale", "hold", "nada", "data", "dato", "hora", NULL,
	};
	char small[32];
	if (n < 4 || n >= sizeof small)
		return NULL;
	memcpy(small, p, n);
	small[n] = '\0';
	char *f = text_fold(small);
	const char *hit = NULL;
	bool stop = false;
	for (const char *const *e = everyday; *e && !stop; e++)
		stop = !strcmp(f, *e);
	for (size_t i = 0; i < sizeof aliases / sizeof aliases[0] && !stop && !hit; i++)
		if (strlen(aliases[i].alias) >= 4 && one_edit(f, aliases[i].alias))
			hit = aliases[i].alias;
	free(f);
	return hit;
}

/* ------------------------------------------------------------------ dates */

static bool leap(long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int mdays(long y, int m)
{
	static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && leap(y) ? 29 : d[m - 1];
}

static bool valid_ymd(long y, long m, long d)
{
	return y >= 1900 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= mdays(y, (int)m);
}

/* days since 1970-01-01 (H. Hinnant's algorithm) */
static long days_from_civil(long y, int m, int d)
{
	y -= m <= 2;
	long era = (y >= 0 ? y : y - 399) / 400;
	long yoe = y - era * 400;
	long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(long z, long *y, int *m, int *d)
{
	z += 719468;
	long era = (z >= 0 ? z : z - 146096) / 146097;
	long doe = z - era * 146097;
	long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static void fmt_date(long y, int m, int d, char out[11])
{
	snprintf(out, 11, "%04ld-%02d-%02d", y, m, d);
}

/* today as y/m/d: the given YYYY-MM-DD, else the current UTC date. */
static void today_ymd(const char *today, long *y, int *m, int *d)
{
	if (today && strlen(today) >= 10 && today[4] == '-' && today[7] == '-') {
		long yy = strtol(today, NULL, 10), mm = strtol(today + 5, NULL, 10),
		     dd = strtol(today + 8, NULL, 10);
		if (valid_ymd(yy, mm, dd)) {
			*y = yy, *m = (int)mm, *d = (int)dd;
			return;
		}
	}
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	*y = tm.tm_year + 1900, *m = tm.tm_mon + 1, *d = tm.tm_mday;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Read 1..maxlen digits. */
static bool read_num(const char **pp, long *v, int *len, int maxlen)
{
	const char *p = *pp;
	long n = 0;
	int l = 0;
	while (is_digit(*p) && l <= maxlen) {
		n = n * 10 + (*p - '0');
		p++, l++;
	}
	if (l == 0 || l > maxlen)
		return false;
	*v = n, *len = l, *pp = p;
	return true;
}

static bool relative_unit(const char *u, int *unit)
{
	static const struct {
		const char *w;
		int unit; /* 0 days, 1 weeks, 2 months */
	} units[] = {
		{"d", 0}, {"day", 0}, {"days", 0}, {"dia", 0}, {"dias", 0},
		{"w", 1}, {"week", 1}, {"weeks", 1}, {"s", 1}, {"sem", 1}, {"semana", 1}, {"semanas", 1},
		{"m", 2}, {"month", 2}, {"months", 2}, {"mes", 2}, {"meses", 2},
	};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcmp(u, units[i].w) == 0) {
			*unit = units[i].unit;
			return true;
		}
	return false;
}

/* Month of a folded word: full en/es/pt name, or a prefix of >= 3 letters
 * ("dic", "dez", "sept"); 0 when none or ambiguous. */
static int month_of(const char *w)
{
	static const char *const names[] = {
		"january 1", "february 2", "march 3", "april 4", "may 5", "june 6", "july 7",
		"august 8", "september 9", "october 10", "november 11", "december 12",
		"enero 1", "febrero 2", "marzo 3", "abril 4", "mayo 5", "junio 6", "julio 7",
		"agosto 8", "septiembre 9", "setiembre 9", "octubre 10", "noviembre 11",
		"diciembre 12", "janeiro 1", "fevereiro 2", "marco 3", "maio 5", "junho 6",
		"julho 7", "setembro 9", "outubro 10", "novembro 11", "dezembro 12",
	};
	size_t n = strlen(w);
	int found = 0;
	if (n < 3)
		return 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		const char *sp = strchr(names[i], ' ');
		size_t len = (size_t)(sp - names[i]);
		if (n <= len && !strncmp(w, names[i], n)) {
			int m = atoi(sp + 1);
			if (found && found != m)
				return 0;
			found = m;
		}
	}
	return found;
}

static bool filler_word(const char *w)
{
	static const char *const fill[] = {
		"de", "del", "of", "the", "el", "o", "a", "em", "on",
		"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
		"lunes", "martes", "miercoles", "jueves", "viernes", "sabado", "domingo",
		"segunda", "terca", "quarta", "quinta", "sexta", "feira", NULL,
	};
	for (const char *const *p = fill; *p; p++)
		if (!strcmp(w, *p))
			return true;
	return false;
}

/* "15 de diciembre de 2026", "15 dic 2026", "Dec 15, 2026", "15 de dezembro",
 * "December 15th" (folded input). */
static bool parse_named(const char *f, long ty, int tm, int td, long *y_r, int *m_r, int *d_r)
{
	long day = 0, year = 0;
	int month = 0, nday = 0, nyear = 0, nmonth = 0, words = 0;
	const char *p = f;
	while (*p) {
		while (*p == ' ' || *p == ',' || *p == '.' || *p == '/' || *p == '-')
			p++;
		if (!*p)
			break;
		const char *w = p;
		while (*p && *p != ' ' && *p != ',' && *p != '.' && *p != '/' && *p != '-')
			p++;
		size_t n = (size_t)(p - w);
		char tok[24];
		if (n >= sizeof tok || ++words > 8)
			return false;
		memcpy(tok, w, n);
		tok[n] = '\0';
		if (is_digit(tok[0])) {
			size_t k = 0;
			long v = 0;
			while (is_digit(tok[k]) && k < 5)
				v = v * 10 + (tok[k] - '0'), k++;
			const char *suf = tok + k;
			if (*suf && strcmp(suf, "st") && strcmp(suf, "nd") && strcmp(suf, "rd") &&
			    strcmp(suf, "th") && strcmp(suf, "o") && strcmp(suf, "\xC2\xBA"))
				return false;
			if (k == 4 && !*suf)
				year = v, nyear++;
			else if (k <= 2 && nday == 0)
				day = v, nday++;
			else if (k == 2 && !*suf && nday == 1 && nmonth == 1)
				year = 2000 + v, nyear++;
			else
				return false;
		} else if (filler_word(tok))
			continue;
		else {
			int m = month_of(tok);
			if (!m || nmonth)
				return false;
			month = m, nmonth++;
		}
	}
	if (nmonth != 1 || nday != 1 || nyear > 1)
		return false;
	if (!nyear) {
		year = ty;
		if (month < tm || (month == tm && day < td))
			year++;
	}
	if (!valid_ymd(year, month, day))
		return false;
	*y_r = year, *m_r = month, *d_r = (int)day;
	return true;
}

/* f past the words of `lead` it opens with ("el ", "next "), in any number. */
static const char *skip_leads(const char *f, const char *const *lead)
{
	for (bool again = true; again;) {
		again = false;
		for (const char *const *l = lead; *l; l++)
			if (!strncmp(f, *l, strlen(*l))) {
				f += strlen(*l);
				again = true;
			}
	}
	return f;
}

/* "lunes", "el viernes", "próximo martes", "sexta-feira", "next friday",
 * "sexta que vem", "fri" (folded): the day of the week 0 (Sunday) to 6, or -1. */
static int weekday_of(const char *f)
{
	static const char *const lead[] = {"el ", "la ", "o ", "a ", "na ", "no ", "on ", "this ", "next ", "este ",
					   "esta ", "proximo ", "proxima ", "que viene ", NULL};
	static const struct {
		const char *w;
		int d;
	} names[] = {
		{"sunday", 0}, {"sun", 0}, {"monday", 1}, {"mon", 1}, {"tuesday", 2}, {"tue", 2}, {"tues", 2},
		{"wednesday", 3}, {"wed", 3}, {"thursday", 4}, {"thu", 4}, {"thurs", 4}, {"friday", 5}, {"fri", 5},
		{"saturday", 6}, {"sat", 6},
		{"domingo", 0}, {"lunes", 1}, {"martes", 2}, {"miercoles", 3}, {"jueves", 4}, {"viernes", 5},
		{"sabado", 6},
		{"segunda", 1}, {"terca", 2}, {"quarta", 3}, {"quinta", 4}, {"sexta", 5},
	};
	f = skip_leads(f, lead);
	size_t n = strcspn(f, " -");
	const char *rest = f + n;
	if (*rest == '-' || *rest == ' ')
		rest++;
	if (*rest && strcmp(rest, "feira") && strcmp(rest, "que viene") && strcmp(rest, "proximo") &&
	    strcmp(rest, "proxima") && strcmp(rest, "que vem") && strcmp(rest, "feira que vem"))
		return -1;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strlen(names[i].w) == n && !strncmp(f, names[i].w, n))
			return names[i].d;
	return -1;
}

/* A date (folded) into y/m/d, today being ty-tm-td. */
static bool date_plain(const char *f, long ty, int tm, int td, long *y_r, int *m_r, int *d_r)
{
	bool ok = false;
	long tdays = days_from_civil(ty, tm, td);
	long y = 0;
	int m = 0, d = 0;

	if (!strcmp(f, "today") || !strcmp(f, "hoy") || !strcmp(f, "hoje")) {
		civil_from_days(tdays, &y, &m, &d);
		ok = true;
	} else if (!strcmp(f, "tomorrow") || !strcmp(f, "manana") || !strcmp(f, "amanha")) {
		civil_from_days(tdays + 1, &y, &m, &d);
		ok = true;
	} else if (weekday_of(f) >= 0) {
		/* the next such day after today (a week on when today is one) */
		int now_wd = (int)(((tdays % 7) + 11) % 7);   /* 1970-01-01 was a Thursday */
		int ahead = (weekday_of(f) - now_wd + 7) % 7;
		civil_from_days(tdays + (ahead ? ahead : 7), &y, &m, &d);
		ok = true;
	} else if (f[0] == '+') {
		const char *p = f + 1;
		long k;
		int len, unit;
		if (read_num(&p, &k, &len, 4)) {
			if (*p == ' ')
				p++;
			if (relative_unit(p, &unit)) {
				if (unit == 0 && k <= 3660) {
					civil_from_days(tdays + k, &y, &m, &d);
					ok = true;
				} else if (unit == 1 && k <= 520) {
					civil_from_days(tdays + 7 * k, &y, &m, &d);
					ok = true;
				} else if (unit == 2 && k <= 120) {
					long mon = (ty * 12 + (tm - 1)) + k;
					y = mon / 12;
					m = (int)(mon % 12) + 1;
					d = td > mdays(y, m) ? mdays(y, m) : td;
					ok = true;
				}
			}
		}
	} else if (is_digit(f[0])) {
		const char *p = f;
		long a, b, c = 0;
		int la, lb, lc = 0;
		char sep;
		if (!read_num(&p, &a, &la, 4))
			goto out;
		sep = *p;
		if (sep != '-' && sep != '/' && sep != '.')
			goto out;
		p++;
		if (!read_num(&p, &b, &lb, 2))
			goto out;
		bool three = false;
		if (*p == sep) {
			p++;
			if (!read_num(&p, &c, &lc, 4))
				goto out;
			three = true;
		}
		if (*p)
			goto out;
		if (la == 4) { /* YYYY-MM-DD */
			if (!three || lc > 2)
				goto out;
			y = a, m = (int)b, d = (int)c;
		} else {
			if (la > 2)
				goto out;
			long dd, mm;
			if (a > 12)
				dd = a, mm = b;
			else if (b > 12)
				mm = a, dd = b;
			else
				dd = a, mm = b;
			if (three) {
				if (lc == 4)
					y = c;
				else if (lc == 2)
					y = 2000 + c;
				else
					goto out;
			} else {
				/* DD/MM: the next such date from today */
				if (sep == '-' || mm < 1 || mm > 12)
					goto out;
				y = ty;
				if (mm < tm || (mm == tm && dd < td))
					y++;
			}
			m = (int)mm, d = (int)dd;
		}
		ok = valid_ymd(y, m, d);
	}
out:
	if (!ok)
		ok = parse_named(f, ty, tm, td, &y, &m, &d);
	if (!ok || !valid_ymd(y, m, d))
		return false;
	*y_r = y, *m_r = m, *d_r = d;
	return true;
}

/* A day of the week before a date (folded): "viernes 27/11", "vie. 27/11",
 * "sexta-feira, 18/12/2026", "lunes 14 de diciembre", "el viernes 27" (the
 * next 27th). 1 when read, into y/m/d; -1 when the day of the week is not
 * that date's; 0 when it is not such a form. "mar" is no Tuesday here: "mar
 * 15" is in March. */
static int weekday_date(const char *f, long ty, int tm, int td, long *y, int *m, int *d)
{
	static const char *const lead[] = {"el ", "o ", "a ", "na ", "no ", "on ", "this ", "next ", "este ",
					   "esta ", "proximo ", "proxima ", NULL};
	static const struct {
		const char *w;
		int d;
	} days[] = {
		{"sunday", 0}, {"monday", 1}, {"tuesday", 2}, {"wednesday", 3}, {"thursday", 4}, {"friday", 5},
		{"saturday", 6}, {"domingo", 0}, {"lunes", 1}, {"martes", 2}, {"miercoles", 3}, {"jueves", 4},
		{"viernes", 5}, {"sabado", 6}, {"segunda", 1}, {"terca", 2}, {"quarta", 3}, {"quinta", 4},
		{"sexta", 5},
		{"sun", 0}, {"mon", 1}, {"tue", 2}, {"tues", 2}, {"wed", 3}, {"thu", 4}, {"thurs", 4}, {"fri", 5},
		{"sat", 6}, {"dom", 0}, {"lun", 1}, {"mie", 3}, {"jue", 4}, {"vie", 5}, {"sab", 6}, {"seg", 1},
		{"ter", 2}, {"qua", 3}, {"qui", 4}, {"sex", 5},
	};
	f = skip_leads(f, lead);
	size_t n = strcspn(f, " ,.-");
	int wd = -1;
	for (size_t i = 0; i < sizeof days / sizeof days[0] && wd < 0; i++)
		if (strlen(days[i].w) == n && !strncmp(f, days[i].w, n))
			wd = days[i].d;
	if (wd < 0)
		return 0;
	const char *rest = f + n;
	if (!strncmp(rest, "-feira", 6) || !strncmp(rest, " feira", 6))
		rest += 6;
	while (*rest == ' ' || *rest == ',' || *rest == '.')
		rest++;
	char first[24];
	size_t fl = strcspn(rest, " ,.-/");
	if (fl >= sizeof first)
		return 0;
	memcpy(first, rest, fl);
	first[fl] = '\0';
	if (is_digit(rest[0]) && fl <= 2 && !rest[fl]) {
		/* "el viernes 27": the next 27th from today */
		long day = strtol(rest, NULL, 10), yy = ty;
		int mm = tm;
		if (day < td)
			mm++;
		for (int k = 0; k < 3 && !valid_ymd(yy + (mm - 1) / 12, (mm - 1) % 12 + 1, day); k++)
			mm++;
		yy += (mm - 1) / 12, mm = (mm - 1) % 12 + 1;
		if (!valid_ymd(yy, mm, day))
			return 0;
		*y = yy, *m = mm, *d = (int)day;
	} else if (!(is_digit(rest[0]) || month_of(first)) || !date_plain(rest, ty, tm, td, y, m, d))
		return 0;
	return (((days_from_civil(*y, *m, *d) % 7) + 11) % 7) == wd ? 1 : -1;
}

/* Cut off f (folded) the time of day after a date ("27/11 10:00", "27/11
 * às 10h", "viernes a las 10", "15/12, 9:30 a. m."): a task is due on a day.
 * True when there was one, and a date before it. */
static bool cut_time(char *f)
{
	char *e = f + strlen(f);
	bool marked = false, ampm = false;
	/* the last word: [b, e) */
#define LAST_WORD(b) \
	do { \
		while (e > f && e[-1] == ' ') \
			e--; \
		b = e; \
		while (b > f && b[-1] != ' ') \
			b--; \
	} while (0)
	char *b;
	LAST_WORD(b);
	size_t n = (size_t)(e - b);
	if ((n == 2 && (!strncmp(b, "am", 2) || !strncmp(b, "pm", 2))) ||
	    (n == 3 && (!strncmp(b, "a.m", 3) || !strncmp(b, "p.m", 3)))) {
		marked = ampm = true, e = b;
		LAST_WORD(b);
	} else if (n == 1 && *b == 'm' && b - f >= 3 && (b[-3] == 'a' || b[-3] == 'p') && b[-2] == '.' &&
		   (b - f == 3 || b[-4] == ' ')) {
		marked = ampm = true, e = b - 3;   /* "a. m." */
		LAST_WORD(b);
	} else if ((n == 1 && *b == 'h') || (n == 2 && !strncmp(b, "hs", 2)) || (n == 3 && !strncmp(b, "hrs", 3)) ||
		   (n == 5 && !strncmp(b, "horas", 5))) {
		marked = true, e = b;
		LAST_WORD(b);
	}
	/* H, H:MM, Hh, HhMM, Hhs, Hhrs, Ham, H:MMpm… */
	const char *p = b;
	long h, mi = 0;
	int len;
	if (!read_num(&p, &h, &len, 2))
		return false;
	if (*p == ':') {
		p++;
		if (!read_num(&p, &mi, &len, 2) || len != 2)
			return false;
		marked = true;
	}
	if (p < e && *p == 'h') {
		p++;
		marked = true;
		if (p < e && is_digit(*p) && (!read_num(&p, &mi, &len, 2) || len != 2))
			return false;
		else if (e - p == 1 && *p == 's')
			p++;
		else if (e - p == 2 && !strncmp(p, "rs", 2))
			p += 2;
	} else if (e - p == 2 && (!strncmp(p, "am", 2) || !strncmp(p, "pm", 2)))
		p += 2, marked = ampm = true;
	else if (e - p == 3 && (!strncmp(p, "a.m", 3) || !strncmp(p, "p.m", 3)))
		p += 3, marked = ampm = true;
	if (p != e || h > (ampm ? 12 : 23) || mi > 59)
		return false;
	e = b;
	/* "a las", "a la", "às", "at" */
	LAST_WORD(b);
	n = (size_t)(e - b);
	if ((n == 2 && !strncmp(b, "as", 2)) || (n == 2 && !strncmp(b, "at", 2)) ||
	    (n == 3 && !strncmp(b, "las", 3)) || (n == 2 && !strncmp(b, "la", 2))) {
		bool las = n != 2 || b[0] == 'l';
		if (las) {
			/* only after "a": "a las 10" */
			char *w = b;
			e = b;
			LAST_WORD(b);
			if (e - b != 1 || *b != 'a') {
				e = w;
				b = w;
			} else
				e = b, marked = true;
		} else
			e = b, marked = true;
	}
#undef LAST_WORD
	while (e > f && (e[-1] == ' ' || e[-1] == ',' || e[-1] == '-'))
		e--;
	if (!marked || e == f)
		return false;
	*e = '\0';
	return true;
}

/* parse_date(), and -1 when a day of the week names another day than the
 * date ("jueves 27/11" for Friday the 27th).  A time of day after the date
 * only when `times` (a task's "@ 27/11 às 10h"; a close date with one reads
 * like an appointment: "Fecha: jueves 26/11 a las 10:00"). */
static int parse_date_rc(const char *s, const char *today, char date_r[11], bool times)
{
	date_r[0] = '\0';
	if (!s)
		return 0;
	char *f = text_fold(s); /* lower-case, accents off, spaces collapsed */
	size_t n = strlen(f);
	if (n && f[n - 1] == '.')
		f[--n] = '\0';
	long ty, y = 0;
	int tm, td, m = 0, d = 0;
	today_ymd(today, &ty, &tm, &td);
	int rc = weekday_date(f, ty, tm, td, &y, &m, &d);
	if (rc == 0)
		rc = date_plain(f, ty, tm, td, &y, &m, &d);
	if (rc == 0 && times && cut_time(f)) {
		rc = weekday_date(f, ty, tm, td, &y, &m, &d);
		if (rc == 0)
			rc = date_plain(f, ty, tm, td, &y, &m, &d);
	}
	free(f);
	if (rc == 1)
		fmt_date(y, m, d, date_r);
	return rc;
}

bool parse_date(const char *s, const char *today, char date_r[11])
{
	return parse_date_rc(s, today, date_r, true) == 1;
}

/* ---------------------------------------------------------------- amounts */

static const char iso4217[] =
	"AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV "
	"BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE "
	"CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD "
	"HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD "
	"KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN "
	"MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD "
	"RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS "
	"TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST "
	"XAF XAG XAU XCD XDR XOF XPF YER ZAR ZMW ZWL ";

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static void skip_spaces(const char **pp)
{
	const unsigned char *p = (const unsigned char *)*pp;
	for (;;) {
		if (*p == ' ' || *p == '\t')
			p++;
		else if (p[0] == 0xC2 && p[1] == 0xA0) /* NBSP */
			p += 2;
		else if (p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xAF || p[2] == 0x89)) /* NNBSP, thin */
			p += 3;
		else
			break;
	}
	*pp = (const char *)p;
}

/* The currencies whose own sign is "$": the pesos of Mexico, Colombia,
 * Chile, Argentina, Uruguay, Cuba and the Dominican Republic, the dollars of
 * Canada, Australia, New Zealand, Singapore, Hong Kong, Taiwan, the
 * Caribbean… A team that keeps its deals in one of them writes it "$". */
static const char dollar_sign_currencies[] =
	"ARS AUD BBD BMD BND BSD BZD CAD CLP COP CUP DOP FJD GYD HKD JMD KYD LRD MXN "
	"NAD NZD SBD SGD SRD TTD TWD USD UYU XCD ZWL ";

const char *dollar_currency(const char *cur)
{
	if (cur && strlen(cur) == 3 && is_alpha(cur[0]) && is_alpha(cur[1]) && is_alpha(cur[2]))
		for (const char *c = dollar_sign_currencies; *c; c += 4)
			if (!strncasecmp(c, cur, 3))
				return cur;
	return "USD";
}

static char team_peso[4];   /* command_set_team_currency() */

void command_set_team_currency(const char *cur)
{
	static const char pesos[] = "MXN COP ARS CLP UYU DOP CUP PHP ";
	team_peso[0] = '\0';
	if (cur && strlen(cur) == 3)
		for (const char *c = pesos; *c; c += 4)
			if (!strncasecmp(c, cur, 3)) {
				memcpy(team_peso, c, 3);
				team_peso[3] = '\0';
			}
}

static bool is_iso4217(const char *p, size_t n)
{
	if (n != 3 || !is_alpha(p[0]) || !is_alpha(p[1]) || !is_alpha(p[2]))
		return false;
	for (const char *c = iso4217; *c; c += 4)
		if (!strncasecmp(c, p, 3))
			return true;
	return false;
}

/* The word at p (letters and their combining marks), folded (case, accents,
 * NFD = NFC) into out; its length in bytes, 0 when there is none or it is too
 * long to be one we know. */
static size_t fold_word(const char *p, char out[24])
{
	size_t n = text_word_len(p);
	out[0] = '\0';
	if (n == 0 || n >= 24 * 2)
		return 0;
	char w[48];
	memcpy(w, p, n);
	w[n] = '\0';
	char *f = text_fold(w);
	size_t fl = strlen(f);
	if (fl >= 24) {
		free(f);
		return 0;
	}
	memcpy(out, f, fl + 1);
	free(f);
	return n;
}

static bool word_in(const char *w, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(w, *list))
			return true;
	return false;
}

/* A currency at *pp (`prefix`: before the number): returns true and the ISO
 * code; *bare_dollar when it was a plain "$" (which a following ISO code may
 * refine: "$250,000 MXN", and whose currency the team's may be: see
 * dollar_currency()). */
static bool read_currency(const char **pp, bool prefix, char cur[4], bool *bare_dollar)
{
	/* ASCII ones in either case ("us$", "r$"); a longer one before its prefix */
	static const struct {
		const char *sym;
		const char *iso;
	} syms[] = {
		{"US$", "USD"}, {"U$S", "USD"}, {"U$", "USD"}, {"MX$", "MXN"}, {"R$", "BRL"},
		{"AR$", "ARS"}, {"COL$", "COP"}, {"CA$", "CAD"}, {"AU$", "AUD"}, {"A$", "AUD"},
		{"NZ$", "NZD"}, {"HK$", "HKD"}, {"S$", "SGD"}, {"RD$", "DOP"},
		{"\xE2\x82\xAC", "EUR"}, {"\xC2\xA3", "GBP"},
	};
	const char *p = *pp;
	size_t wl;
	char w[24];
	*bare_dollar = false;
	/* an ISO code with the sign: "MXN$", "CLP$", "ARS$"; before the
	 * amount also apart from it, as quotes and invoices write it ("COP
	 * $450.000.000", "USD $15,000") */
	if (is_iso4217(p, 3) && (p[3] == '$' || (prefix && !is_alpha(p[3])))) {
		const char *q = p + 3;
		skip_spaces(&q);
		if (*q == '$') {
			for (int i = 0; i < 3; i++)
				cur[i] = (char)toupper((unsigned char)p[i]);
			cur[3] = '\0';
			*pp = q + 1;
			return true;
		}
	}
	for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
		size_t l = strlen(syms[i].sym);
		if (strncasecmp(p, syms[i].sym, l) == 0) {
			memcpy(cur, syms[i].iso, 4);
			*pp = p + l;
			return true;
		}
	}
	if (*p == '$') {
		memcpy(cur, "USD", 4);
		*bare_dollar = true;
		*pp = p + 1;
		return true;
	}
	/* Peru's sol before the amount ("S/ 1.500", "S/. 1.500"); Mexico's "moneda
	 * nacional" after it ("$15,000.00 M.N.", "15,000 MN") */
	if (prefix && (p[0] == 'S' || p[0] == 's') && p[1] == '/') {
		memcpy(cur, "PEN", 4);
		*pp = p + (p[2] == '.' ? 3 : 2);
		return true;
	}
	if (!prefix && !strncasecmp(p, "M.N", 3) && !is_alpha(p[3])) {
		memcpy(cur, "MXN", 4);
		*pp = p + (p[3] == '.' ? 4 : 3);
		return true;
	}
	/* the currency as reps write it in words ("12.000 euros", "R$ 500
	 * reais", "1.500 dólares" however the accent is encoded); "pesos" names
	 * too many currencies to guess one */
	static const struct {
		const char *word;
		const char *iso;
	} words[] = {
		{"euros", "EUR"}, {"euro", "EUR"}, {"reais", "BRL"}, {"real", "BRL"},
		{"dolares", "USD"}, {"dolar", "USD"}, {"dollars", "USD"}, {"dollar", "USD"},
		{"soles", "PEN"},
	};
	/* ... and with the country, which "pesos" needs ("185 mil pesos
	 * mexicanos", "15.000 dólares americanos") */
	static const struct {
		const char *word, *country, *iso;
	} named[] = {
		{"peso", "mexicano", "MXN"}, {"peso", "colombiano", "COP"}, {"peso", "argentino", "ARS"},
		{"peso", "chileno", "CLP"}, {"peso", "uruguayo", "UYU"}, {"peso", "uruguaio", "UYU"},
		{"peso", "dominicano", "DOP"}, {"peso", "cubano", "CUP"},
		{"dolar", "americano", "USD"}, {"dolar", "estadounidense", "USD"},
		{"dolar", "estadunidense", "USD"}, {"dolar", "canadiense", "CAD"},
		{"dolar", "canadense", "CAD"}, {"dolar", "australiano", "AUD"},
		{"sol", "peruano", "PEN"},
	};
	if ((wl = fold_word(p, w)) == 0)
		return false;
	{
		const char *q = p + wl;
		char w2[24];
		size_t wl2;
		skip_spaces(&q);
		if ((wl2 = fold_word(q, w2)) != 0) {
			size_t n1 = strlen(w), n2 = strlen(w2);
			for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
				size_t b = strlen(named[i].word), c = strlen(named[i].country);
				/* singular or plural: "peso"/"pesos", "dólar"/"dólares", "sol"/"soles" */
				bool word_ok = !strncmp(w, named[i].word, b) &&
					       (n1 == b || !strcmp(w + b, "s") || !strcmp(w + b, "es"));
				bool country_ok = !strncmp(w2, named[i].country, c) &&
						  (n2 == c || !strcmp(w2 + c, "s"));
				if (word_ok && country_ok) {
					memcpy(cur, named[i].iso, 4);
					*pp = q + wl2;
					return true;
				}
			}
		}
	}
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (!strcmp(w, words[i].word)) {
			memcpy(cur, words[i].iso, 4);
			*pp = p + wl;
			return true;
		}
	/* "pesos" alone: the team's, when the team keeps its deals in pesos */
	if (team_peso[0] && (!strcmp(w, "peso") || !strcmp(w, "pesos"))) {
		memcpy(cur, team_peso, 4);
		*pp = p + wl;
		return true;
	}
	if (!prefix && !strcmp(w, "mn")) {
		memcpy(cur, "MXN", 4);
		*pp = p + wl;
		return true;
	}
	if (is_iso4217(p, wl)) {
		for (int i = 0; i < 3; i++)
			cur[i] = (char)toupper((unsigned char)p[i]);
		cur[3] = '\0';
		*pp = p + 3;
		return true;
	}
	return false;
}

/* Check digit grouping "1", "12", "1.234", "12.345.678" for sep. */
static bool groups_ok(const char *s, size_t n, char sep)
{
	size_t g = 0, first = 1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == sep) {
			if (g == 0 || (first ? g > 3 : g != 3))
				return false;
			first = 0;
			g = 0;
		} else if (is_digit(s[i]))
			g++;
		else
			return false;
	}
	return g > 0 && (first ? true : g == 3);
}

/* Number with '.'/',' separators -> value. */
static bool read_number(const char *s, size_t n, double *v)
{
	if (n == 0 || n > 40 || !is_digit(s[0]) || !is_digit(s[n - 1]))
		return false;
	size_t dots = 0, commas = 0, last_dot = 0, last_comma = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.')
			dots++, last_dot = i;
		else if (s[i] == ',')
			commas++, last_comma = i;
		else if (!is_digit(s[i]))
			return false;
	}
	size_t int_end = n; /* end of the integer part (position of the decimal sep) */
	char thou = 0;
	if (dots && commas) {
		size_t dec = last_dot > last_comma ? last_dot : last_comma;
		char decsep = s[dec];
		if ((decsep == '.' ? dots : commas) != 1)
			return false;
		thou = decsep == '.' ? ',' : '.';
		int_end = dec;
	} else if (dots || commas) {
		char sep = dots ? '.' : ',';
		size_t cnt = dots ? dots : commas, pos = dots ? last_dot : last_comma;
		if (cnt > 1)
			thou = sep;
		else if (n - pos - 1 == 3 && !(pos == 1 && s[0] == '0'))
			thou = sep;
		else
			int_end = pos;
	}
	if (thou && !groups_ok(s, int_end, thou))
		return false;
	if (!thou) {
		for (size_t i = 0; i < int_end; i++)
			if (!is_digit(s[i]))
				return false;
	}
	char norm[48];
	size_t o = 0;
	for (size_t i = 0; i < int_end; i++)
		if (is_digit(s[i]))
			norm[o++] = s[i];
	if (int_end < n) {
		norm[o++] = '.';
		for (size_t i = int_end + 1; i < n; i++)
			norm[o++] = s[i];
	}
	norm[o] = '\0';
	*v = strtod(norm, NULL);
	return true;
}

/* "12 000" / "12 000,50" (space, no-break space or narrow no-break space as
 * the thousands separator, as written in pt/fr/es-ES): the digit groups joined.
 * Returns a malloc'd copy, or NULL when there is no such separator. */
static char *join_space_groups(const char *s)
{
	struct buf b;
	bool changed = false;
	buf_init(&b);
	for (const char *p = s; *p;) {
		size_t sep = (*p == ' ') ? 1 : (!strncmp(p, "\xc2\xa0", 2)) ? 2 : (!strncmp(p, "\xe2\x80\xaf", 3)) ? 3 : 0;
		if (sep && p > s && isdigit((unsigned char)p[-1]) && isdigit((unsigned char)p[sep]) &&
		    isdigit((unsigned char)p[sep + 1]) && isdigit((unsigned char)p[sep + 2]) &&
		    !isdigit((unsigned char)p[sep + 3])) {
			p += sep;
			changed = true;
			continue;
		}
		buf_addc(&b, *p++);
	}
	if (!changed) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b);
}

/* Words that make a number bigger: "15 mil", "1,5 millones", "R$ 2 milhões" */
static const char *const thousand_words[] = {"mil", NULL};
static const char *const million_words[] = {
	"millon", "millones", "milhao", "milhoes", "million", "millions",
	"mi", /* Brazilian business writing: "R$ 1,2 mi" */
	NULL,
};

/* A remark after the amount that does not change it ("+ IVA", ", sin IVA",
 * "más impuestos", "plus tax"): words only, opening with one of these
 * words or after "+", ",", ";" or a dash. */
static const char *const remark_words[] = {
	"sin", "con", "mas", "sem", "com", "mais", "plus", "excl", "incl", "excluding", "including",
	"iva", "impuestos", "impuesto", "impostos", "imposto", "tax", "taxes", "vat",
	"aprox", "aproximadamente", "aproximado", "approx", "approximately",
	"neto", "bruto", "net", "gross", "netos", "brutos", "liquido", "ex",
	/* the period of a recurring amount: "96.000 € anuales", "R$ 2.500 por mês" */
	"mensual", "mensuales", "mensal", "mensais", "anual", "anuales", "anuais",
	"monthly", "yearly", "annual", "annually", "al", "por", "ao", "per", NULL,
};
/* ... or after a "/": "R$ 2.500/mês", "96.000 €/año" */
static const char *const period_words[] = {
	"mes", "month", "mo", "ano", "year", "yr", "semana", "week", "trimestre", "quarter", NULL,
};
/* A word before the amount that leaves it as it is: "aprox. 96.000 €" */
static const char *const approx_words[] = {
	"aprox", "aproximadamente", "approx", "approximately", "about", "around", "circa",
	"unos", "uns", NULL,
};
/* ... and none of these in it: a remark that names a currency or a
 * multiplier may be part of the amount ("15.000 + USD", "15.000 - mil"). */
static const char *const not_remark_words[] = {
	"euro", "euros", "real", "reais", "dolar", "dolares", "dollar", "dollars", "peso", "pesos",
	"sol", "soles", "mil", "miles", "millon", "millones", "milhao", "milhoes", "million", "millions",
	"thousand", "thousands", "billion", "billions", "billon", "billones", "bilhao", "bilhoes",
	"k", "m", "mm", "bn", "mn", NULL,
};

static size_t dash_at(const char *p)
{
	if (*p == '-')
		return 1;
	if ((unsigned char)p[0] == 0xE2 && (unsigned char)p[1] == 0x80 &&
	    ((unsigned char)p[2] == 0x93 || (unsigned char)p[2] == 0x94)) /* – — */
		return 3;
	return 0;
}

static bool is_remark(const char *p)
{
	char w[24];
	size_t n;
	bool opened = false;
	if (*p == '+' || *p == ',' || *p == ';')
		p++, opened = true;
	else if (*p == '/' && fold_word(p + 1, w) && word_in(w, period_words))
		p++, opened = true;
	else if ((n = dash_at(p)))
		p += n, opened = true;
	skip_spaces(&p);
	if (!text_word_len(p))
		return false;
	if (!opened && !(fold_word(p, w) && word_in(w, remark_words)))
		return false;
	while (*p) {
		if ((n = text_word_len(p))) {
			if (fold_word(p, w) && word_in(w, not_remark_words))
				return false;
			if (n == 3 && is_iso4217(p, 3) && isupper((unsigned char)p[0]) &&
			    isupper((unsigned char)p[1]) && isupper((unsigned char)p[2]))
				return false;   /* "EUR", not "tax" */
			p += n;
		} else if (strchr(".,;:+/'&", *p))
			p++;
		else if ((n = dash_at(p)))
			p += n;
		else {
			const char *q = p;
			skip_spaces(&q);
			if (q == p)
				return false;   /* a digit, a sign, a symbol */
			p = q;
		}
	}
	return true;
}

enum amount_rc { AMOUNT_OK, AMOUNT_BAD, AMOUNT_SMALL_M };

static enum amount_rc amount_read(const char *s, double *amount_r, char currency_r[4], bool *bare_r);

bool parse_amount_dollar(const char *s, const char *dollar, double *amount_r, char currency_r[4])
{
	char cur[4] = "";
	double v = 0;
	bool bare = false;
	bool ok = s && amount_read(s, &v, cur, &bare) == AMOUNT_OK;
	if (ok && bare && dollar && *dollar)
		snprintf(cur, sizeof cur, "%s", dollar);
	if (amount_r)
		*amount_r = ok ? v : 0;
	if (currency_r)
		memcpy(currency_r, ok ? cur : "", ok ? strlen(cur) + 1 : 1);
	return ok;
}

bool parse_amount(const char *s, double *amount_r, char currency_r[4])
{
	return parse_amount_dollar(s, NULL, amount_r, currency_r);
}

static enum amount_rc amount_read_plain(const char *s, double *amount_r, char currency_r[4], bool *bare_r);

static enum amount_rc amount_read(const char *s, double *amount_r, char currency_r[4], bool *bare_r)
{
	char *joined = join_space_groups(s);
	enum amount_rc rc = amount_read_plain(joined ? joined : s, amount_r, currency_r, bare_r);
	free(joined);
	return rc;
}

static enum amount_rc amount_read_plain(const char *s, double *amount_r, char currency_r[4], bool *bare_r)
{
	char c1[4] = "", c2[4] = "", w[24];
	bool bare1 = false, bare2 = false, has1, has2 = false;
	double v, mult = 1;
	size_t wl;
	const char *p = s;
	skip_spaces(&p);
	if ((wl = fold_word(p, w)) && word_in(w, approx_words)) {
		p += wl;
		if (*p == '.')
			p++;
		skip_spaces(&p);
	}
	has1 = read_currency(&p, true, c1, &bare1);
	skip_spaces(&p);
	const char *num = p;
	while (is_digit(*p) || *p == '.' || *p == ',')
		p++;
	while (p > num && (p[-1] == '.' || p[-1] == ','))
		p--;   /* "15.000, sin IVA": the comma is the remark's */
	if (!read_number(num, (size_t)(p - num), &v))
		return AMOUNT_BAD;
	if ((p[0] == '.' || p[0] == ',') && p[1] == '-')
		p += 2;   /* "$ 15.000.-" (Argentina), "15.000,-" */
	bool small_m = false;   /* "15m": miles (es) or millions? */
	if (p[0] == 'M' && p[1] == 'M' && !is_alpha(p[2])) {
		mult = 1e6;   /* "USD 1.2MM", "R$ 1,5MM" */
		p += 2;
	} else if ((*p == 'k' || *p == 'K' || *p == 'm' || *p == 'M') && !is_alpha(p[1])) {
		small_m = *p == 'm';
		mult = (*p == 'k' || *p == 'K') ? 1e3 : 1e6;
		p++;
	}
	skip_spaces(&p);
	if (mult == 1 && (wl = fold_word(p, w))) {
		if (wl == 2 && p[0] == 'M' && p[1] == 'M')
			mult = 1e6, p += wl;   /* "USD 1.2 MM" */
		else if (word_in(w, thousand_words))
			mult = 1e3, p += wl;
		else if (word_in(w, million_words)) {
			mult = 1e6, p += wl;
			/* "2 millones de dólares", "1,5 milhão de reais" */
			const char *q = p;
			skip_spaces(&q);
			if (fold_word(q, w) == 2 && (!strcmp(w, "de") || !strcmp(w, "of"))) {
				q += 2;
				skip_spaces(&q);
				if (read_currency(&q, false, c2, &bare2))
					has2 = true, p = q;
			}
		}
		skip_spaces(&p);
	}
	/* a code in lower case is a word too: "15.000 all taxes included" is
	 * not in Albanian lek */
	bool lower_code = false;
	if (!has2) {
		const char *at = p;
		has2 = *p && read_currency(&p, false, c2, &bare2);
		lower_code = has2 && p - at == 3 && is_alpha(at[0]) &&
			     !(isupper((unsigned char)at[0]) && isupper((unsigned char)at[1]) &&
			       isupper((unsigned char)at[2]));
	}
	skip_spaces(&p);
	if (*p && (lower_code || !is_remark(p)))
		return AMOUNT_BAD;
	const char *cur = "";
	bool bare = false;
	if (has1 && has2) {
		if (!strcmp(c1, c2))
			cur = c1, bare = bare1 && bare2;
		else if (bare1 && !bare2)
			cur = c2;
		else
			return AMOUNT_BAD;
	} else if (has1)
		cur = c1, bare = bare1;
	else if (has2)
		cur = c2, bare = bare2;
	v *= mult;
	if (!(v >= 0 && v < 1e15))
		return AMOUNT_BAD;
	if (small_m)
		return AMOUNT_SMALL_M;
	*amount_r = v;
	memcpy(currency_r, cur, strlen(cur) + 1);
	*bare_r = bare;
	return AMOUNT_OK;
}

/* --------------------------------------------------------- other values */

static bool parse_percent(const char *s, int *pct)
{
	const char *p = s;
	long v;
	int len;
	if (!read_num(&p, &v, &len, 3))
		return false;
	skip_spaces(&p);
	if (*p == '%')
		p++;
	else if (!strncmp(p, "\xEF\xBC\x85", 3)) /* full-width % */
		p += 3;
	if (*p || v > 100)
		return false;
	*pct = (int)v;
	return true;
}

static bool parse_score(const char *s, int *delta)
{
	const char *p = s;
	int sign = 1;
	long v;
	int len;
	if (*p == '+')
		p++;
	else if (*p == '-')
		sign = -1, p++;
	else if (!strncmp(p, "\xE2\x88\x92", 3)) /* U+2212 minus */
		sign = -1, p += 3;
	if (!read_num(&p, &v, &len, 4) || *p || v > 1000)
		return false;
	*delta = (int)(sign * v);
	return true;
}

/* "#12", "[#12]", "[deal #12]"… -> 12; 0 when not a tag; -1 when "#x". */
static long parse_deal_ref(const char *s)
{
	const char *p = s;
	bool bracket = false;
	if (*p == '[') {
		bracket = true;
		p++;
		while (*p == ' ')
			p++;
		if (!strncasecmp(p, "deal", 4))
			p += 4;
		else if (!strncasecmp(p, "oportunidade", 12))
			p += 12;
		else if (!strncasecmp(p, "oportunidad", 11))
			p += 11;
		while (*p == ' ')
			p++;
	}
	if (*p != '#')
		return 0;
	p++;
	long v;
	int len;
	if (!read_num(&p, &v, &len, 9))
		return -1;
	if (bracket) {
		while (*p == ' ')
			p++;
		if (*p != ']')
			return -1;
		p++;
	}
	if (*p == '.')
		p++;
	if (*p || v <= 0)
		return -1;
	return v;
}

static char *strip_dot(const char *v)
{
	char *t = xstrdup(v);
	size_t n = strlen(t);
	if (n && t[n - 1] == '.') {
		t[n - 1] = '\0';
		text_trim(t);
	}
	return t;
}

/* Read the value of c by kind. */
/* A rep as a mail client may write it: "bob@x.com<mailto:bob@x.com>" (Outlook
 * links every address in a plain text part), "Bob <bob@x.com>",
 * "<bob@x.com>", "mailto:bob@x.com" -> the address; anything else as is. */
static char *rep_value(const char *v)
{
	const char *lt = strchr(v, '<'), *at = strchr(v, '@');
	size_t n = strlen(v);
	const char *b = v, *e = v + n;
	if (lt && at && at < lt) {            /* x@y<mailto:x@y> */
		e = lt;
	} else if (lt && at) {                /* Name <x@y> */
		const char *gt = strchr(lt, '>');
		b = lt + 1;
		e = gt ? gt : v + n;
	}
	while (b < e && (*b == ' ' || *b == '\t' || *b == '<' || *b == '['))
		b++;
	while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '>' || e[-1] == ']'))
		e--;
	if (at && (size_t)(e - b) > 7 && !strncasecmp(b, "mailto:", 7))
		b += 7;
	return xstrndup(b, (size_t)(e - b));
}

/* The value without what a rep adds around it: quotes ("propuesta",
 * «propuesta») and a remark in parentheses at the end ("15.000 EUR (sin
 * IVA)", "propuesta (enviada hoy)"); the remark, malloc'd, into *remark_r
 * (NULL when there is none). */
static void value_core(struct command *c, char **remark_r)
{
	/* and the marks a plain text part writes for a bold or underlined
	 * value (Gmail's and Thunderbird's "etapa: *propuesta*") */
	static const char *const open_q[] = {"\"", "'", "\xC2\xAB", "\xE2\x80\x9C", "\xE2\x80\x98", "*", "_"};
	static const char *const close_q[] = {"\"", "'", "\xC2\xBB", "\xE2\x80\x9D", "\xE2\x80\x99", "*", "_"};
	char *v = c->value;
	size_t n = strlen(v);
	if (n > 2 && v[n - 1] == ')') {
		char *lp = strrchr(v, '(');
		if (lp && lp > v && (lp[-1] == ' ' || lp[-1] == '\t')) {
			if (remark_r)
				*remark_r = xstrndup(lp + 1, strlen(lp + 1) - 1);
			*lp = '\0';
			text_trim(v);
			n = strlen(v);
		}
	}
	for (size_t k = 0; k < sizeof open_q / sizeof open_q[0]; k++) {
		size_t lo = strlen(open_q[k]), lc = strlen(close_q[k]);
		if (n > lo + lc && !strncmp(v, open_q[k], lo) && !strcmp(v + n - lc, close_q[k])) {
			memmove(v, v + lo, n - lo - lc);
			v[n - lo - lc] = '\0';
			text_trim(v);
			break;
		}
	}
}

/* A word in capitals after spaces at q: "(ALL IN)", "(TOP PRIORITY)" are
 * an acronym's words, not the lek or the paʻanga. */
static bool capital_word_after(const char *q)
{
	const char *a = q;
	while (*a == ' ' || *a == '\t')
		a++;
	return a > q && isupper((unsigned char)a[0]) && a[1] && isupper((unsigned char)a[1]);
}

/* The currency a remark in parentheses names: "(COP)", "(ARS, sin IVA)",
 * "(pesos mexicanos)" -> true and its code into cur (*conversion when there
 * is a number in the remark too: "(aprox. 16.000 USD)"); false when it names
 * none. *bad when it names two, or "pesos" without the country. A currency
 * code counts in capitals only, and "real" is not one here ("valor real"). */
static bool remark_currency(const char *r, char cur[4], bool *conversion, bool *bad)
{
	bool found = false;
	*conversion = *bad = false;
	cur[0] = '\0';
	for (const char *p = r; *p;) {
		char c[4], w[24];
		bool bare = false;
		const char *q = p;
		size_t wl = fold_word(p, w);
		if (is_digit(*p))
			*conversion = true;
		if (p > r && (is_alpha(p[-1]) || is_digit(p[-1]))) {
			p++;
			continue;
		}
		if (read_currency(&q, false, c, &bare) && !bare &&
		    !(wl == 3 && q == p + 3 && !(isupper((unsigned char)p[0]) && isupper((unsigned char)p[1]) &&
						 isupper((unsigned char)p[2]))) &&
		    !(wl == 3 && q == p + 3 && capital_word_after(q)) && !(wl && !strcmp(w, "real"))) {
			if (found && strcmp(cur, c))
				*bad = true;
			memcpy(cur, c, 4);
			found = true;
			p = q;
			continue;
		}
		if (wl && (!strcmp(w, "peso") || !strcmp(w, "pesos")))
			*bad = true;
		p += wl ? wl : 1;
	}
	return found;
}

/* The amount of a value line into c; `remark` is what it had in
 * parentheses, whose currency is the amount's: "$450.000.000 (COP)". */
static enum amount_rc command_amount(struct command *c, const char *v, const char *remark)
{
	double a = 0;
	char cur[4] = "";
	bool bare = false;
	enum amount_rc rc = amount_read(v, &a, cur, &bare);
	char rc_cur[4];
	bool conversion = false, bad = false;
	if (rc == AMOUNT_OK && remark && (remark_currency(remark, rc_cur, &conversion, &bad) || bad)) {
		bool own = cur[0] && !bare;   /* the amount names its currency itself */
		if (bad)
			rc = AMOUNT_BAD;
		else if (conversion) {
			/* "15.000 EUR (aprox. 16.000 USD)": the amount's own; with
			 * none, which one is it? */
			if (!own)
				rc = AMOUNT_BAD;
		} else if (own && strcmp(cur, rc_cur))
			rc = AMOUNT_BAD;   /* "US$ 15.000 (COP)" */
		else {
			memcpy(cur, rc_cur, 4);
			bare = false;
		}
	}
	if (rc == AMOUNT_OK) {
		c->amount = a;
		memcpy(c->currency, cur, sizeof cur);
		c->bare_dollar = bare;
	}
	return rc;
}

static void read_value(struct command *c, const char *today)
{
	char *remark = NULL;   /* CMD_VALUE: its remark in parentheses */
	int rc;
	if (c->kind == CMD_STAGE || c->kind == CMD_WON || c->kind == CMD_LOST || c->kind == CMD_VALUE ||
	    c->kind == CMD_CLOSE || c->kind == CMD_PROBABILITY || c->kind == CMD_SCORE)
		value_core(c, c->kind == CMD_VALUE ? &remark : NULL);   /* not a deal's title: "Renovación (2027)" is its name */
	const char *v = c->value;
	bool empty = v[0] == '\0';
	switch (c->kind) {
	case CMD_STAGE:
	case CMD_WON:
	case CMD_LOST:
		c->text = strip_dot(v);
		if (c->kind == CMD_STAGE && !c->text[0])
			c->error = CMDERR_EMPTY;
		return;
	case CMD_VALUE:
		if (empty)
			c->error = CMDERR_EMPTY;
		else {
			enum amount_rc rc = command_amount(c, v, remark);
			if (rc != AMOUNT_OK) {
				/* "12.000 EUR." — a sentence's full stop */
				char *t = strip_dot(v);
				if (t[0] && strlen(t) != strlen(v)) {
					enum amount_rc rc2 = command_amount(c, t, remark);
					if (rc2 == AMOUNT_OK || rc == AMOUNT_BAD)
						rc = rc2;
				}
				free(t);
			}
			if (rc != AMOUNT_OK)
				c->error = rc == AMOUNT_SMALL_M ? CMDERR_AMOUNT_M : CMDERR_AMOUNT;
		}
		break;
	case CMD_CLOSE:
		if (empty)
			c->error = CMDERR_EMPTY;
		else if ((rc = parse_date_rc(v, today, c->date, false)) != 1)
			c->error = rc < 0 ? CMDERR_WEEKDAY : CMDERR_DATE;
		break;
	case CMD_PROBABILITY:
		if (empty)
			c->error = CMDERR_EMPTY;
		else if (!parse_percent(v, &c->percent)) {
			char *t = strip_dot(v);   /* "60%." */
			if (!t[0] || strlen(t) == strlen(v) || !parse_percent(t, &c->percent))
				c->error = CMDERR_PERCENT;
			free(t);
		}
		break;
	case CMD_SCORE:
		if (empty)
			c->error = CMDERR_EMPTY;
		else if (!parse_score(v, &c->delta)) {
			char *t = strip_dot(v);   /* "+5." */
			if (!t[0] || strlen(t) == strlen(v) || !parse_score(t, &c->delta))
				c->error = CMDERR_SCORE;
			free(t);
		}
		break;
	case CMD_TASK: {
		/* the last " @ " (an '@' with white space on both sides, or first) splits */
		const char *at = NULL;
		for (const char *p = v; *p; p++)
			if (*p == '@' && (p == v || p[-1] == ' ' || p[-1] == '\t') &&
			    (p[1] == ' ' || p[1] == '\t' || p[1] == '\0'))
				at = p;
		if (at) {
			char *t = xstrndup(v, (size_t)(at - v));
			c->text = text_trim(t);
			char *d = text_trim(xstrdup(at + 1));
			if ((rc = parse_date_rc(d, today, c->date, true)) != 1)
				c->error = rc < 0 ? CMDERR_WEEKDAY : CMDERR_DATE;
			free(d);
		} else
			c->text = xstrdup(v);
		if (!c->text[0])
			c->error = CMDERR_EMPTY;
		return;
	}
	case CMD_DEAL: {
		if (empty) {
			c->error = CMDERR_EMPTY;
			break;
		}
		long ref = parse_deal_ref(v);
		/* "deal: 2": a number alone is the deal's, not a title */
		if (!ref) {
			const char *q = v;
			long num;
			int len;
			if (read_num(&q, &num, &len, 9) && (!*q || (q[0] == '.' && !q[1])) && num > 0)
				ref = num;
		}
		if (ref > 0)
			c->deal_ref = ref;
		else if (ref < 0)
			c->error = CMDERR_DEAL;
		else {
			c->text = xstrdup(v);
			return;
		}
		break;
	}
	case CMD_DRIP: {
		if (empty) {
			c->error = CMDERR_EMPTY;
			break;
		}
		char *f = text_fold(v);
		if (!strcmp(f, "stop") || !strcmp(f, "parar") || !strcmp(f, "detener"))
			c->drip_stop = true;
		else {
			size_t skip = 0;
			if (!strncmp(f, "start ", 6))
				skip = 6;
			else if (!strncmp(f, "iniciar ", 8))
				skip = 8;
			if (skip) {
				/* the name as written: skip the word and the spaces after it */
				const char *p = v;
				while (*p && *p != ' ' && *p != '\t')
					p++;
				c->text = text_trim(xstrdup(p));
				if (!c->text[0])
					c->error = CMDERR_DRIP;
			} else
				c->error = CMDERR_DRIP;
		}
		free(f);
		break;
	}
	case CMD_OWNER:
	case CMD_SHARE:
		if (empty)
			c->error = CMDERR_EMPTY;
		else
			c->text = rep_value(v);
		break;
	case CMD_NOTE:
		if (empty)
			c->error = CMDERR_EMPTY;
		break;
	case CMD_HELP:
	case CMD_UNDO:
	case CMD_HISTORY:
	case CMD_LIST:
		break;
	}
	if (!c->text)
		c->text = xstrdup(c->kind == CMD_OWNER || c->kind == CMD_SHARE || c->kind == CMD_NOTE ||
				  c->kind == CMD_LIST ? v : "");
	free(remark);
}

/* ---------------------------------------------------------------- parsing */

static pcre2_code *line_re;
static pthread_once_t line_re_once = PTHREAD_ONCE_INIT;

/* Groups (G_*): the "#12" tag (also "Deal #12", "Oportunidad #12"), the
 * "[… #12]" tag, a polite word before the keyword, the keyword, the
 * separator, the value, and the punctuation a lone keyword's remark opens
 * with.  A tag may be followed by ":" or a dash ("#3: valor: …", "#2 - etapa:
 * demo").  The keyword is one word, or one of the close date's labels of
 * several words ("Fecha de cierre", "Data de fechamento", "Close date"),
 * tried first, or up to four words before a separator ("Valor final:",
 * "Asignar a:"): the alias table says which of those are keywords.
 * A keyword alone on its line (help, undo, history, list, won, lost) may be
 * in quotes -- the confirmations say: reply "deshacer" -- and followed by
 * "por favor", "please", "obrigado", punctuation (! ? . …) and emoji
 * ("Ganamos 🎉"); it alone may open with Spanish's "¡" or "¿" ("¡Ganamos!",
 * "¿ayuda?"): the lookahead after one holds only for such a line.  A lone
 * keyword may also open with "please"/"por favor" ("Por favor, deshacer"),
 * or go on after punctuation ("Deshacer, gracias", "Undo please - wrong
 * deal"): commands_parse_wrapped() takes those for the query commands only
 * (and "¡Ganada! 🎉 Firmaron hoy" for won and lost). */
enum { G_TAG = 1, G_BTAG, G_POLITE, G_KEYWORD, G_SEP, G_VALUE, G_MORE };
#define LINE_CLOSE_QUOTE "[\"'\\x{00BB}\\x{201D}\\x{2019}]?+"
#define LINE_POLITE "(?:por\\h++favor|porfa|please|pls|obrigad[oa])"
#define LINE_LONE_END                                                                                  \
	"(?:\\h*+,?\\h*+" LINE_POLITE ")?+\\h*+"                                                             \
	"(?:[.!?\\h\\x{2026}\\x{FE0F}\\x{1F3FB}-\\x{1F3FF}\\x{1F1E6}-\\x{1F1FF}]|\\p{Extended_Pictographic})*+" \
	LINE_CLOSE_QUOTE "\\h*+$"
#define LINE_MORE_LEAD "(?:\\h*+,?\\h*+" LINE_POLITE ")?+\\h*+"
#define LINE_MORE_PUNCT "[,.;!?(\\x{2013}\\x{2014}-]"
static const char line_pattern[] =
	"^\\h*+(?:(?:[-*\\x{2022}\\x{00B7}\\x{2013}\\x{00A7}\\x{25AA}\\x{25CF}\\x{25E6}\\x{2023}\\x{2043}]|[0-9]{1,2}[.)])\\h++|o\\h{2,}+)?+"
	"(?:(?:(?:(?:deal|oportunidade|oportunidad)\\h*+)?#([0-9]{1,9})|\\[\\h*+(?:(?:deal|oportunidade|oportunidad)\\h*+)?#\\h*+([0-9]{1,9})\\h*+\\])"
	"\\h*+(?:[:\\x{2013}\\x{2014}-]\\h*+)?+)?+"
	"(?:(por\\h++favor|favor|porfa|please|pls)\\h*+,?\\h*+)?"
	"[\"'\\x{00AB}\\x{201C}\\x{2018}]?+"
	"(?:[\\x{00A1}\\x{00BF}](?=\\*{0,2}+[\\p{L}\\p{M}]{2,24}+\\*{0,2}+" LINE_CLOSE_QUOTE
	"(?:" LINE_LONE_END "|" LINE_MORE_LEAD LINE_MORE_PUNCT ")))?+"
	"\\*{0,2}+((?:fecha\\h++(?:de\\h++)?cierre|data\\h++(?:de\\h++)?(?:fechamento|fecho)|(?:expected\\h++)?clos(?:e|ing)\\h++date)(?=[\\h*:=\\x{FF1A}\"'\\x{00BB}\\x{201D}\\x{2019}])"
	"|[\\p{L}\\p{M}]{2,24}+(?:(?:\\h++[\\p{L}\\p{M}]{1,24}+){1,3}+(?=\\*{0,2}+" LINE_CLOSE_QUOTE "\\h*+[:=\\x{FF1A}]))?+)"
	"\\*{0,2}+" LINE_CLOSE_QUOTE
	"(?:\\h*+([:=\\x{FF1A}])\\*{0,2}+(.*)"
	"|" LINE_LONE_END
	"|" LINE_MORE_LEAD "(" LINE_MORE_PUNCT ").*)";

static void compile_line_re(void)
{
	int err;
	PCRE2_SIZE off;
	line_re = pcre2_compile((PCRE2_SPTR)line_pattern, PCRE2_ZERO_TERMINATED,
				PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS | PCRE2_MATCH_INVALID_UTF,
				&err, &off, NULL);
	if (!line_re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(err, msg, sizeof msg);
		fprintf(stderr, "dealmail: command pattern: %s at %zu\n", (char *)msg, (size_t)off);
		abort();
	}
}

/* JIT-compiling the pattern costs more than matching the few lines of one
 * message with the interpreter (the MTA pipe's one message per process), so
 * it is done once a process has matched enough lines to gain from it (a
 * batch).  A batch parses commands on several threads at once (its
 * read-ahead threads, and the applying one): the compiled code goes into a
 * copy of the pattern, published when it is ready, and each match uses the
 * copy or the original, never one being compiled. */
#define JIT_AFTER_LINES 200
static atomic_uint lines_matched;
static pcre2_code *_Atomic line_jit;
static pthread_once_t line_jit_once = PTHREAD_ONCE_INIT;

static void jit_line_re(void)
{
	pcre2_code *c = pcre2_code_copy(line_re);
	if (c && pcre2_jit_compile(c, PCRE2_JIT_COMPLETE) == 0)
		atomic_store_explicit(&line_jit, c, memory_order_release);
	else
		pcre2_code_free(c);   /* the interpreter it stays */
}

static void add_command(struct command_list *out, size_t *cap, struct command *c)
{
	if (out->n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		out->v = xrealloc(out->v, *cap * sizeof *out->v);
	}
	out->v[out->n++] = *c;
}

/* The line [p, p + *len) without zero-width and format characters (U+200B
 * to U+200D, U+2060, U+FEFF, U+00AD) and bidirectional controls (U+200E,
 * U+200F, U+202A to U+202E, U+2066 to U+2069, U+061C: what a phone or an
 * RTL-aware editor puts around a pasted line): a new string and its length,
 * or NULL when it has none. */
static char *drop_invisible(const char *p, size_t *len)
{
	static const char *const inv[] = {
		"\xE2\x80\x8B", "\xE2\x80\x8C", "\xE2\x80\x8D", "\xE2\x81\xA0", "\xEF\xBB\xBF", "\xC2\xAD",
		"\xE2\x80\x8E", "\xE2\x80\x8F", "\xE2\x80\xAA", "\xE2\x80\xAB", "\xE2\x80\xAC", "\xE2\x80\xAD",
		"\xE2\x80\xAE", "\xE2\x81\xA6", "\xE2\x81\xA7", "\xE2\x81\xA8", "\xE2\x81\xA9", "\xD8\x9C",
	};
	char *out = NULL;
	size_t o = 0;
	for (size_t i = 0; i < *len;) {
		size_t skip = 0;
		unsigned char c = (unsigned char)p[i];
		if (c == 0xE2 || c == 0xEF || c == 0xC2 || c == 0xD8)
			for (size_t k = 0; k < sizeof inv / sizeof inv[0] && !skip; k++) {
				size_t l = strlen(inv[k]);
				if (i + l <= *len && !memcmp(p + i, inv[k], l))
					skip = l;
			}
		if (skip && !out) {
			out = xmalloc(*len + 1);
			memcpy(out, p, i);
			o = i;
		}
		if (skip)
			i += skip;
		else {
			if (out)
				out[o++] = p[i];
			i++;
		}
	}
	if (out) {
		out[o] = '\0';
		*len = o;
	}
	return out;
}

/* A whole line in bold, italics or underline as a mail client writes it in
 * plain text: Gmail's "*cierre: 15/12/2026*" (also "**…**"), Thunderbird's
 * "_…_" and "/…/".  The line [p, p + *len) without the marks: a new string
 * and its length, or NULL when it has none.  Marks of the same kind inside
 * ("*nota:* muy *importante*") are emphasis of a part: the line is kept. */
static char *drop_emphasis(const char *p, size_t *len)
{
	size_t a = 0, b = *len;
	while (a < b && (p[a] == ' ' || p[a] == '\t'))
		a++;
	while (b > a && (p[b - 1] == ' ' || p[b - 1] == '\t'))
		b--;
	if (b - a < 4 || !strchr("*_/", p[a]) || p[b - 1] != p[a])
		return NULL;
	char m = p[a];
	size_t k = m == '*' && p[a + 1] == '*' && p[b - 2] == '*' ? 2 : 1;
	if (b - a < 2 * k + 2)
		return NULL;
	const char *in = p + a + k;
	size_t n = b - a - 2 * k;
	if (in[0] == ' ' || in[0] == '\t' || in[n - 1] == ' ' || in[n - 1] == '\t' ||
	    (m != '/' && memchr(in, m, n)))
		return NULL;
	*len = n;
	return xstrndup(in, n);
}

/* "status: ganho", "status: lost - price": won or lost, the rest its
 * reason after a separator.  Anything else after "Status:" is a report's
 * prose ("Status: waiting on legal", "Status: won't sign before January",
 * a pasted table's "Status: | Aguardando jurídico"): false, and the line
 * is no command. */
static bool status_value(struct command *c)
{
	const char *v = c->value;
	size_t w = 0;
	while (v[w] && ((unsigned char)v[w] >= 0x80 || isalpha((unsigned char)v[w])))
		w++;
	int kind = w ? keyword_kind(v, w) : -1;
	if (kind != CMD_WON && kind != CMD_LOST)
		return false;
	const char *r = v + w;
	while (*r == ' ' || *r == '\t')
		r++;
	if (*r == '.' || *r == '!')
		r++;   /* "Status: ganho." */
	while (*r == ' ' || *r == '\t')
		r++;
	if (*r && !strchr(":,;-", *r))
		return false;   /* "won't …", "lost contact with …", "ganho de produtividade" */
	if (*r)
		r++;
	c->kind = (enum cmd_kind)kind;
	char *rest = text_trim(xstrdup(r));
	free(c->value);
	c->value = rest;
	return true;
}

/* "compartir: Ana y Diego", "share: ana@x.com, dave@x.com": c once for each
 * rep (a share line names one, or a list of one-word names or addresses:
 * "Souza, Luís <luis@x.com>" and "Maria Silva e Souza" are one). */
static void add_shares(struct command_list *out, size_t *cap, struct command *c)
{
	static const char *const joins[] = {" y ", " e ", " and ", " & ", NULL};
	char *t = xstrdup(c->value);
	for (char *s = t; *s; s++)
		if (*s == ';')
			*s = ',';
	for (const char *const *j = joins; *j; j++) {
		size_t jl = strlen(*j);
		for (char *s = t; (s = strcasestr(s, *j)) != NULL;) {
			*s = ',';
			memset(s + 1, ' ', jl - 1);
		}
	}
	bool bracket = strpbrk(c->value, "<[") != NULL;
	size_t n = 0;
	bool ok = strchr(t, ',') != NULL;
	for (char *s = t; ok && s; n++) {
		char *e = strchr(s, ',');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		char *part = text_trim(xstrndup(s, len));
		bool at = strchr(part, '@') != NULL;
		ok = *part && (at || (!bracket && !strpbrk(part, " \t")));
		free(part);
		s = e ? e + 1 : NULL;
	}
	if (!ok || n < 2) {
		free(t);
		add_command(out, cap, c);
		return;
	}
	for (char *s = t; s;) {
		char *e = strchr(s, ',');
		if (e)
			*e = '\0';
		struct command one = *c;
		one.line = xstrdup(c->line);
		one.keyword = xstrdup(c->keyword);
		one.value = text_trim(xstrdup(s));
		one.text = rep_value(one.value);
		add_command(out, cap, &one);
		s = e ? e + 1 : NULL;
	}
	free(t);
	free(c->line);
	free(c->keyword);
	free(c->value);
	free(c->text);
}

/* Is capture group g of the last match set? */
static bool group_set(const PCRE2_SIZE *ov, int rc, int g)
{
	return rc > g && ov[2 * g] != PCRE2_UNSET;
}

static bool query_kind(int kind)
{
	return kind == CMD_HELP || kind == CMD_UNDO || kind == CMD_HISTORY || kind == CMD_LIST;
}

/* The command a matched line [p, p + len) is, or -1: a keyword with a
 * separator, or one of the lone ones.  "Please"/"por favor" before the
 * keyword is for the query commands; a remark after punctuation ("Deshacer,
 * gracias", "Undo please - wrong deal") for an undo the rep asks for in so
 * many words; won and lost go on after punctuation only as "¡Ganada! 🎉
 * Firmaron hoy".  "¿Ganamos?" and "¿Deshacer?" ask; "¡Ganamos!" says so. */
static int line_kind(const char *p, size_t len, const PCRE2_SIZE *ov, int rc)
{
	size_t kw = ov[2 * G_KEYWORD];
	int kind = keyword_kind(p + kw, ov[2 * G_KEYWORD + 1] - kw);
	bool has_sep = group_set(ov, rc, G_SEP);
	bool lone = query_kind(kind) || kind == CMD_WON || kind == CMD_LOST;
	if (kind < 0 || (!has_sep && !lone))
		return -1;
	if (group_set(ov, rc, G_POLITE) && !query_kind(kind))
		return -1;
	bool opened = false;   /* "¡" before the keyword */
	for (size_t i = 0; i + 1 < kw && !opened; i++)
		opened = (unsigned char)p[i] == 0xC2 && (unsigned char)p[i + 1] == 0xA1;
	/* "¡Lista!" is Spanish for "ready!", "Help! the client…", "History, in
	 * short: …", "Deals, in summary:" are prose: the answers by mail are
	 * asked for by the word alone (with "please" and punctuation) */
	if (!has_sep && (kind == CMD_HELP || kind == CMD_LIST || kind == CMD_HISTORY) &&
	    (opened || group_set(ov, rc, G_MORE)))
		return -1;
	if (group_set(ov, rc, G_MORE) && !query_kind(kind) && (!opened || p[ov[2 * G_MORE]] != '!'))
		return -1;
	/* "¿Deshacer? No hace falta", "Undo? No need": asked, not asked for */
	if (!has_sep && (kind == CMD_WON || kind == CMD_LOST || kind == CMD_UNDO) && memchr(p, '?', len))
		return -1;
	return kind;
}

/* ------------------------------------------------------- wrapped lines */

/* Gmail hard-wraps the text/plain alternative of what the rep wrote (not
 * format=flowed) at 78 columns: a long note's or task's end goes onto the
 * next line ("tarea: Enviar la propuesta revisada … al área de" /
 * "compras @ viernes").  A line the client wrapped was long, and the first
 * word of the next line would not have fitted on it. */
#define WRAP_MIN 60
#define WRAP_MAX_LINES 3

/* Characters of UTF-8 text. */
static size_t u8_chars(const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			k++;
	return k;
}

/* Keywords whose value is free text, where a wrapped end is part of it. */
static bool free_text_kind(int kind)
{
	return kind == CMD_NOTE || kind == CMD_TASK || kind == CMD_WON || kind == CMD_LOST || kind == CMD_DEAL;
}

/* "Saludos,", "Gracias!", "Best regards", "Um abraço": the rep's own line
 * after a long one, not its end. */
static bool sign_off(const char *q, size_t n)
{
	static const char *const words[] = {
		"saludos", "un saludo", "gracias", "muchas gracias", "mil gracias", "thanks", "thank you",
		"regards", "best", "kind regards", "cheers", "obrigado", "obrigada", "abraco", "abracos",
		"um abraco", "un abrazo", "abrazo", "abrazos", "atentamente", "cordialmente", "atenciosamente",
		"att", "atte", "besos", "beijos", "bjs", "slds", "sds", "un cordial saludo", "cordial saludo",
		"quedo atenta", "quedo atento", "quedo a la espera", "quedo a tu disposicion", "abs", "grato", "grata",
		"best regards", "many thanks", "fico no aguardo", "fico a disposicao", NULL,
	};
	if (n > 40)
		return false;
	char small[41];
	memcpy(small, q, n);
	small[n] = '\0';
	char *f = text_fold(small);
	size_t fl = strlen(f), nw = 1;
	while (fl && strchr(",.!;:", f[fl - 1]))
		f[--fl] = '\0';
	for (size_t i = 0; i < fl; i++)
		if (f[i] == ' ')
			nw++;
	bool hit = false;
	for (const char *const *w = words; *w && !hit && nw <= 3; w++) {
		size_t wl = strlen(*w);
		hit = !strncmp(f, *w, wl) && (f[wl] == '\0' || f[wl] == ' ' || f[wl] == ',');
	}
	free(f);
	return hit;
}

/* Is line [q, q + n) the wrapped end of a line of prev_chars characters?
 * Not when it is blank, indented, a list item, a sign-off, a command or a
 * "Label: value" line; md is clobbered. */
static bool wrapped_end(const pcre2_code *re, pcre2_match_data *md, size_t columns, size_t prev_chars,
			const char *q, size_t n)
{
	if (prev_chars < WRAP_MIN || !n || q[0] == ' ' || q[0] == '\t' || q[0] == '>')
		return false;
	size_t w = 0;
	while (w < n && q[w] != ' ' && q[w] != '\t')
		w++;
	if (prev_chars + 1 + u8_chars(q, w) <= columns)
		return false;   /* it would have fitted: the rep broke the line */
	if (strchr("-*+", q[0]) && w == 1)
		return false;   /* "- item" */
	if (!strncmp(q, "\xE2\x80\xA2", 3) || (q[0] >= '0' && q[0] <= '9' && w <= 3 &&
						    (q[w - 1] == '.' || q[w - 1] == ')')))
		return false;   /* "• item", "2. item" */
	if (sign_off(q, n))
		return false;
	/* the line as the parser reads it (without invisible characters and
	 * without the marks of a line in bold or underlined: "\u200Bcierre:",
	 * "*¡Ganamos!*", "_cierre: 15/12_"): a command there is a command */
	size_t len = n;
	char *clean = drop_invisible(q, &len);
	const char *r = clean ? clean : q;
	char *plain = drop_emphasis(r, &len);
	if (plain)
		r = plain;
	bool end = true;
	if (len >= 2 && ((unsigned char)r[0] == 0xC2 && ((unsigned char)r[1] == 0xA1 || (unsigned char)r[1] == 0xBF)))
		end = false;   /* "¡Ganamos!", "¿ayuda?": a line of its own */
	int rc = end ? pcre2_match(re, (PCRE2_SPTR)r, len, 0, 0, md, NULL) : 0;
	if (rc > 0) {
		/* a command, or a "Label: value" line (one word before the
		 * separator: "the client said: yes" may be a sentence's end) */
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		size_t kw = ov[2 * G_KEYWORD], kwn = ov[2 * G_KEYWORD + 1] - kw;
		bool label = group_set(ov, rc, G_SEP) && !group_set(ov, rc, G_POLITE) &&
			     !memchr(r + kw, ' ', kwn) && !memchr(r + kw, '\t', kwn);
		if (label || line_kind(r, len, ov, rc) >= 0)
			end = false;
	}
	free(plain);
	free(clean);
	return end;
}

/* The wrapped ends of c's line (raw_chars characters long) in the lines
 * from *next on, joined to its line and value with a space: *next and
 * *line_no move past them.  Kept only when the value reads as well joined as
 * alone ("tarea: … @ viernes" then a line of prose stays as it is). */
static void join_wrapped(const pcre2_code *re, pcre2_match_data *md, size_t columns, struct command *c,
			 size_t raw_chars, const char **next, int *line_no, const char *today)
{
	const char *q = *next;
	size_t prev = raw_chars;
	int lines = 0;
	struct buf add;
	buf_init(&add);
	while (*q) {
		const char *eol = strchr(q, '\n');
		size_t n = eol ? (size_t)(eol - q) : strlen(q);
		size_t m = n;
		while (m && (q[m - 1] == '\r' || q[m - 1] == ' ' || q[m - 1] == '\t'))
			m--;
		/* Gmail wraps a long line onto two or three: more is prose (and
		 * the bound keeps a hostile message's lines linear) */
		if (lines == WRAP_MAX_LINES || prev > columns + 1 || !wrapped_end(re, md, columns, prev, q, m))
			break;
		buf_addc(&add, ' ');
		buf_add(&add, q, m);
		prev = u8_chars(q, m);
		lines++;
		q = eol ? eol + 1 : q + n;
	}
	if (!lines) {
		buf_release(&add);
		read_value(c, today);
		return;
	}
	struct command j = *c;
	j.line = xasprintf("%s%s", c->line, add.s);
	j.value = c->value[0] ? xasprintf("%s%s", c->value, add.s) : text_trim(xstrdup(add.s));
	buf_release(&add);
	read_value(&j, today);
	struct command alone = *c;
	alone.line = xstrdup(c->line);
	alone.value = xstrdup(c->value);
	read_value(&alone, today);
	struct command *keep = j.error && !alone.error ? &alone : &j, *drop = keep == &j ? &alone : &j;
	free(drop->line);
	free(drop->value);
	free(drop->text);
	free(c->line);
	free(c->value);
	*c = *keep;
	if (keep == &j) {
		*next = q;
		*line_no += lines;
	}
}

void commands_parse(const char *visible, const char *today, struct command_list *out)
{
	commands_parse_wrapped(visible, today, 0, out);
}

/* "#4 etapa propuesta", "#4 - valor 9.000": a line that names a deal by its
 * tag and then a keyword, but without the ':' that makes it a command.  Not
 * a command (a reply to a digest must not guess), but the rep is told the
 * line was not understood instead of it vanishing: the keyword's alias, or
 * NULL. */
static const char *tagged_without_colon(const char *p, size_t len)
{
	size_t i = 0;
	if (i >= len || p[i] != '#')
		return NULL;
	i++;
	size_t d = i;
	while (i < len && isdigit((unsigned char)p[i]))
		i++;
	if (i == d || i - d > 9 || i >= len || (p[i] != ' ' && p[i] != '\t'))
		return NULL;
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '-'))
		i++;
	size_t w = i;
	while (i < len && p[i] != ' ' && p[i] != '\t' && p[i] != ':')
		i++;
	if (i == w || i >= len || p[i] == ':')
		return NULL;
	size_t wn = i - w;
	int kind = keyword_kind(p + w, wn);
	if (kind < 0 || kind == CMD_HELP || kind == CMD_LIST || kind == CMD_HISTORY || kind == CMD_UNDO)
		return NULL;
	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i < len ? keyword_alias(p + w, wn) : NULL;   /* a value follows */
}

void commands_parse_wrapped(const char *visible, const char *today, int wrap_columns, struct command_list *out)
{
	out->v = NULL;
	out->n = 0;
	out->near = NULL;
	out->nnear = 0;
	size_t near_cap = 0;
	if (!visible)
		return;
	pthread_once(&line_re_once, compile_line_re);
	if (atomic_load_explicit(&lines_matched, memory_order_relaxed) > JIT_AFTER_LINES)
		pthread_once(&line_jit_once, jit_line_re);
	const pcre2_code *re = atomic_load_explicit(&line_jit, memory_order_acquire);
	if (!re)
		re = line_re;
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	if (!md)
		return;
	size_t cap = 0;
	int line_no = 0;
	const char *p = visible;
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		const char *next = eol ? eol + 1 : p + len;
		line_no++;
		if (len && p[len - 1] == '\r')
			len--;
		size_t raw_chars = wrap_columns > 0 ? u8_chars(p, len) : 0;
		/* invisible characters pasted with a line (chat apps, web pages)
		 * are not part of what the rep sees: match without them */
		char *clean = drop_invisible(p, &len);
		if (clean)
			p = clean;
		char *plain = drop_emphasis(p, &len);
		if (plain)
			p = plain;
		atomic_fetch_add_explicit(&lines_matched, 1, memory_order_relaxed);
		int rc = len >= 2 ? pcre2_match(re, (PCRE2_SPTR)p, len, 0, 0, md, NULL) : -1;
		size_t n_before = out->n, near_before = out->nnear;
		if (rc > 0) {
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
			size_t kw = ov[2 * G_KEYWORD], kwn = ov[2 * G_KEYWORD + 1] - kw;
			int kind = line_kind(p, len, ov, rc);
			bool has_sep = group_set(ov, rc, G_SEP);
			long tag = group_set(ov, rc, G_TAG)    ? strtol(p + ov[2 * G_TAG], NULL, 10)
				   : group_set(ov, rc, G_BTAG) ? strtol(p + ov[2 * G_BTAG], NULL, 10)
							       : 0;
			const char *val = has_sep ? p + ov[2 * G_VALUE] : NULL;
			if (kind >= 0) {
				struct command c;
				memset(&c, 0, sizeof c);
				c.kind = (enum cmd_kind)kind;
				c.line_no = line_no;
				c.line = text_trim(xstrndup(p, len));
				c.keyword = xstrndup(p + kw, kwn);
				c.value = text_trim(val ? xstrndup(val, len - (size_t)(val - p)) : xstrdup(""));
				c.deal_tag = tag;
				if ((c.kind == CMD_WON || c.kind == CMD_LOST) && !has_sep && group_set(ov, rc, G_MORE)) {
					/* "¡Perdimos! Se fueron con la competencia": the sentence */
					size_t a = ov[2 * G_MORE] + 1;
					char *aside = text_trim(xstrndup(p + a, len > a ? len - a : 0));
					if (*aside)
						c.aside = aside;
					else
						free(aside);
				}
				if (kwn == 6 && (!strncasecmp(c.keyword, "status", 6) || !strncasecmp(c.keyword, "estado", 6)) &&
				    !status_value(&c)) {
					/* a report's "Status: …" line: prose */
					free(c.line);
					free(c.keyword);
					free(c.value);
				} else {
					if (wrap_columns > 0 && has_sep && free_text_kind((int)c.kind))
						join_wrapped(re, md, (size_t)wrap_columns, &c, raw_chars, &next, &line_no, today);
					else
						read_value(&c, today);
					if (c.kind == CMD_SHARE && !c.error)
						add_shares(out, &cap, &c);
					else
						add_command(out, &cap, &c);
				}
			} else if (val && (size_t)(val - p) < len && keyword_kind(p + kw, kwn) < 0) {
				const char *near = NULL;
				size_t w = 0;   /* the first word of the keyword */
				while (w < kwn && p[kw + w] != ' ' && p[kw + w] != '\t')
					w++;
				if (w == kwn && reason_word(p + kw, kwn)) {
					/* "Perdemos." then "Motivo: preço": the reason */
					struct command *l = out->n ? &out->v[out->n - 1] : NULL;
					if (l && (l->kind == CMD_WON || l->kind == CMD_LOST) && !l->value[0] && !l->error &&
					    l->line_no + 1 == line_no && (!tag || tag == l->deal_tag)) {
						free(l->value);
						free(l->text);
						l->text = NULL;
						l->value = text_trim(xstrndup(val, len - (size_t)(val - p)));
						read_value(l, today);
					}
				} else if (w == kwn)
					near = keyword_near(p + kw, kwn);
				else
					/* "Valor da proposta: …", "Nota importante: …":
					 * a keyword with words after it, not understood */
					near = keyword_alias(p + kw, w);
				if (near) {
					if (out->nnear == near_cap) {
						near_cap = near_cap ? 2 * near_cap : 4;
						out->near = xrealloc(out->near, near_cap * sizeof *out->near);
					}
					out->near[out->nnear++] = (struct near_miss){line_no, text_trim(xstrndup(p, len)), near};
				}
			}
		}
		const char *tagged_kw;
		if (out->n == n_before && out->nnear == near_before && (tagged_kw = tagged_without_colon(p, len))) {
			if (out->nnear == near_cap) {
				near_cap = near_cap ? 2 * near_cap : 4;
				out->near = xrealloc(out->near, near_cap * sizeof *out->near);
			}
			out->near[out->nnear++] = (struct near_miss){line_no, text_trim(xstrndup(p, len)), tagged_kw};
		}
		free(plain);
		free(clean);
		p = next;
	}
	pcre2_match_data_free(md);
	/* "Ganamos!" above a "ganado: referido" line is the same news, not a
	 * second command without the reason (which may be required) */
	bool *drop_v = out->n ? xcalloc(out->n, sizeof *drop_v) : NULL;
	for (size_t i = 0; i < out->n; i++) {   /* decided first, then compacted */
		const struct command *c = &out->v[i];
		if ((c->kind == CMD_WON || c->kind == CMD_LOST) && !c->value[0])
			for (size_t j = 0; j < out->n && !drop_v[i]; j++)
				drop_v[i] = j != i && out->v[j].kind == c->kind && out->v[j].value[0] &&
					    out->v[j].deal_tag == c->deal_tag;
	}
	size_t k = 0;
	for (size_t i = 0; i < out->n; i++) {
		struct command *c = &out->v[i];
		if (drop_v[i]) {
			free(c->line);
			free(c->keyword);
			free(c->value);
			free(c->text);
			free(c->aside);
		} else
			out->v[k++] = *c;
	}
	out->n = k;
	free(drop_v);
}

void commands_free(struct command_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].line);
		free(l->v[i].keyword);
		free(l->v[i].value);
		free(l->v[i].text);
		free(l->v[i].aside);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
	for (size_t i = 0; i < l->nnear; i++)
		free(l->near[i].line);
	free(l->near);
	l->near = NULL;
	l->nnear = 0;
}
