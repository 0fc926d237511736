/* html.c — plain HTML read without libxml2 (see html.h).
 *
 * What follows mirrors libxml2 2.9.14's HTMLparser.c (Debian 12's) for a
 * strict subset of HTML, function by function where it matters
 * (htmlParseDocument, htmlParseContentInternal, htmlParseStartTag,
 * htmlAutoClose, htmlCheckImplied, htmlCheckParagraph, htmlParseEndTag,
 * htmlParseCharData, htmlParseReference, htmlParseScript, htmlParseComment),
 * and gives up (returns false) wherever that subset ends:
 *
 *   - input that is not valid UTF-8, or holds a NUL or a control character
 *     other than TAB, LF and CR (libxml2 drops those, or switches encoding);
 *   - '<' not followed by a letter, "/" and a letter, or "!--"; a processing
 *     instruction, a CDATA section, a doctype after the first element;
 *   - an element libxml2 has rules for that are not reproduced here (forms,
 *     frames, objects, lists of the old menu/dir kind: HE_BAIL), a misplaced
 *     <html>, <head> or <body> (libxml2 drops them), a name or an attribute
 *     that is not of the plain kind, an element nested deeper than H_DEPTH;
 *   - text where libxml2 would imply a <p> (anything but white space
 *     directly in <html> or <head>, or outside any element);
 *   - an entity that is not "&name;" of libxml2's table or a "&#N;" /
 *     "&#xH;" of a few digits; a comment with "--" inside.
 *
 * The rest (implied html/head/body, elements closed by another's start,
 * elements popped by an end tag further down, stray end tags, empty and
 * self-closed elements, duplicate attributes, text in pieces of ~1000
 * bytes, raw script and style) is reproduced.  Which start tag closes which
 * open element was read off libxml2 2.9.14 itself, pair by pair, over the
 * elements of the table below (its own table differs between versions). */
#include "html.h"
#include "buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parserInternals.h>

/* open elements at most: h2t stops at 257 (message.c), libxml2 has no limit */
#define H_DEPTH 200
/* longest element or attribute name read (libxml2 cuts names at 100) */
#define H_NAME_MAX 60
/* attributes of one element at most */
#define H_ATTS 32
/* libxml2's text buffer (HTML_PARSER_BIG_BUFFER_SIZE): it hands text and
 * raw text over each time a character brings it to this many bytes */
#define H_PIECE 1000

/* ------------------------------------------------------------------ */
/* elements */

#define HE_EMPTY 0x01   /* no content: its end comes right after its start */
#define HE_RAW 0x02     /* script, style: raw text up to its end tag */
#define HE_BAIL 0x04    /* rules not reproduced here */
#define HE_NOTEXT 0x08  /* html, head: text in it implies a <p> */
#define HE_HEADISH 0x10 /* opened first, it implies a <head>, not a <body> */

/* the elements a start tag can close (htmlAutoClose()): bits of closes */
enum {
	C_A, C_ADDRESS, C_B, C_BIG, C_CAPTION, C_COLGROUP, C_DD, C_DL, C_DT, C_FONT,
	C_H1, C_H2, C_H3, C_H4, C_H5, C_H6, C_HEAD, C_I, C_LI, C_OL, C_P, C_PRE, C_S,
	C_SMALL, C_SPAN, C_STRIKE, C_TBODY, C_TD, C_TFOOT, C_TH, C_THEAD, C_TITLE,
	C_TR, C_TT, C_U, C_UL,
};
#define M(x) (UINT64_C(1) << C_##x)
#define M_H (M(H1) | M(H2) | M(H3) | M(H4) | M(H5) | M(H6))
#define M_CELL (M(A) | M(B) | M(FONT) | M(I) | M(P) | M(SPAN) | M(TD) | M(TH) | M(U))
#define M_ROWS (M(CAPTION) | M(COLGROUP) | M(P) | M(TD) | M(TH) | M(TR))

struct h_el {
	const char *name;
	uint64_t self;   /* its bit, 0 when no start tag closes it */
	uint64_t closes; /* the open elements its start tag closes */
	unsigned char flags;
	unsigned char prio; /* htmlGetEndPriority() */
};

/* Every name libxml2 has rules for (its html40ElementTable, plus "listing"
 * and "xmp" of its auto-close table), sorted for bsearch.  A name not here
 * is an element libxml2 knows nothing of (Outlook's o:p, HTML5's section):
 * never empty, closed by no start tag, closing none, end priority 100. */
static const struct h_el h_els[] = {
	{"a", M(A), M(A) | M(HEAD), 0, 100},
	{"abbr", 0, M(HEAD), 0, 100},
	{"acronym", 0, M(HEAD), 0, 100},
	{"address", M(ADDRESS), M(HEAD) | M(P) | M(UL), 0, 100},
	{"applet", 0, 0, HE_BAIL, 100},
	{"area", 0, 0, HE_EMPTY, 100},
	{"b", M(B), M(HEAD), 0, 100},
	{"base", 0, 0, HE_EMPTY | HE_HEADISH, 100},
	{"basefont", 0, 0, HE_BAIL, 100},
	{"bdo", 0, M(HEAD), 0, 100},
	{"big", M(BIG), M(HEAD), 0, 100},
	{"blockquote", 0, M(HEAD) | M(P), 0, 100},
	{"body", 0, M(HEAD) | M(P) | M(TITLE), 0, 200},
	{"br", 0, M(HEAD), HE_EMPTY, 100},
	{"button", 0, 0, HE_BAIL, 100},
	{"caption", M(CAPTION), M(P), 0, 100},
	{"center", 0, M(B) | M(FONT) | M(HEAD) | M(I) | M(P), 0, 100},
	{"cite", 0, M(HEAD), 0, 100},
	{"code", 0, M(HEAD), 0, 100},
	{"col", 0, M(CAPTION) | M(P), HE_EMPTY, 100},
	{"colgroup", M(COLGROUP), M(CAPTION) | M(COLGROUP) | M(P), 0, 100},
	{"dd", M(DD), M(ADDRESS) | M(DT) | M(HEAD) | M(P) | M(PRE), 0, 100},
	{"del", 0, 0, 0, 100},
	{"dfn", 0, M(HEAD), 0, 100},
	{"dir", 0, 0, HE_BAIL, 100},
	{"div", 0, M(HEAD) | M(P), 0, 150},
	{"dl", M(DL), M(ADDRESS) | M(DT) | M(HEAD) | M(P) | M(PRE), 0, 100},
	{"dt", M(DT), M(ADDRESS) | M(DD) | M(HEAD) | M(P) | M(PRE), 0, 100},
	{"em", 0, M(HEAD), 0, 100},
	{"embed", 0, 0, HE_BAIL, 100},
	{"fieldset", 0, 0, HE_BAIL, 100},
	{"font", M(FONT), M(HEAD), 0, 100},
	{"form", 0, 0, HE_BAIL, 100},
	{"frame", 0, 0, HE_BAIL, 100},
	{"frameset", 0, 0, HE_BAIL, 100},
	{"h1", M(H1), M(HEAD) | M(P), 0, 100},
	{"h2", M(H2), M(HEAD) | M(P), 0, 100},
	{"h3", M(H3), M(HEAD) | M(P), 0, 100},
	{"h4", M(H4), M(HEAD) | M(P), 0, 100},
	{"h5", M(H5), M(HEAD) | M(P), 0, 100},
	{"h6", M(H6), M(HEAD) | M(P), 0, 100},
	{"head", M(HEAD), 0, HE_NOTEXT, 200},
	{"hr", 0, M(HEAD) | M(P), HE_EMPTY, 100},
	{"html", 0, 0, HE_NOTEXT, 220},
	{"i", M(I), M(HEAD), 0, 100},
	{"iframe", 0, 0, HE_BAIL, 100},
	{"img", 0, M(HEAD), HE_EMPTY, 100},
	{"input", 0, 0, HE_BAIL, 100},
	{"ins", 0, 0, 0, 100},
	{"isindex", 0, 0, HE_BAIL, 100},
	{"kbd", 0, M(HEAD), 0, 100},
	{"label", 0, 0, 0, 100},
	{"legend", 0, 0, HE_BAIL, 100},
	{"li", M(LI), M(ADDRESS) | M(DL) | M_H | M(HEAD) | M(LI) | M(P) | M(PRE), 0, 100},
	{"link", 0, 0, HE_EMPTY | HE_HEADISH, 100},
	{"listing", 0, 0, HE_BAIL, 100},
	{"map", 0, M(HEAD), 0, 100},
	{"menu", 0, 0, HE_BAIL, 100},
	{"meta", 0, 0, HE_EMPTY | HE_HEADISH, 100},
	{"noframes", 0, 0, HE_BAIL, 100},
	{"noscript", 0, 0, HE_BAIL, 100},
	{"object", 0, 0, HE_BAIL, 100},
	{"ol", M(OL), M(HEAD) | M(P) | M(UL), 0, 100},
	{"optgroup", 0, 0, HE_BAIL, 100},
	{"option", 0, 0, HE_BAIL, 100},
	{"p", M(P),
	 M(B) | M(BIG) | M_H | M(HEAD) | M(I) | M(P) | M(S) | M(SMALL) | M(STRIKE) | M(TT) | M(U), 0, 100},
	{"param", 0, 0, HE_BAIL, 100},
	{"pre", M(PRE), M(HEAD) | M(P) | M(UL), 0, 100},
	{"q", 0, M(HEAD), 0, 100},
	{"s", M(S), M(HEAD), 0, 100},
	{"samp", 0, M(HEAD), 0, 100},
	{"script", 0, 0, HE_RAW | HE_HEADISH, 100},
	{"select", 0, 0, HE_BAIL, 100},
	{"small", M(SMALL), M(HEAD), 0, 100},
	{"span", M(SPAN), M(HEAD), 0, 100},
	{"strike", M(STRIKE), M(HEAD), 0, 100},
	{"strong", 0, M(HEAD), 0, 100},
	{"style", 0, 0, HE_RAW | HE_HEADISH, 100},
	{"sub", 0, M(HEAD), 0, 100},
	{"sup", 0, M(HEAD), 0, 100},
	{"table", 0, M(A) | M_H | M(HEAD) | M(P) | M(PRE), 0, 190},
	{"tbody", M(TBODY), M_ROWS | M(TBODY) | M(TFOOT) | M(THEAD), 0, 180},
	{"td", M(TD), M_CELL, 0, 160},
	{"textarea", 0, 0, HE_BAIL, 100},
	{"tfoot", M(TFOOT), M_ROWS | M(TBODY) | M(THEAD), 0, 180},
	{"th", M(TH), M_CELL, 0, 160},
	{"thead", M(THEAD), M(CAPTION) | M(COLGROUP), 0, 180},
	{"title", M(TITLE), M(P), HE_HEADISH, 100},
	{"tr", M(TR), M_ROWS, 0, 170},
	{"tt", M(TT), M(HEAD), 0, 100},
	{"u", M(U), M(HEAD), 0, 100},
	{"ul", M(UL), M(ADDRESS) | M(HEAD) | M(OL) | M(P) | M(PRE), 0, 100},
	{"var", 0, M(HEAD), 0, 100},
	{"xmp", 0, 0, HE_BAIL, 100},
};

static int h_el_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct h_el *)elem)->name);
}

/* name: lower-case; NULL for a name libxml2 has no rules for */
static const struct h_el *h_el_find(const char *name)
{
	return bsearch(name, h_els, sizeof h_els / sizeof *h_els, sizeof *h_els, h_el_cmp);
}

static bool h_is(const struct h_el *e, const char *name)
{
	return e && !strcmp(e->name, name);
}

/* ------------------------------------------------------------------ */
/* the reader */

struct hp {
	const unsigned char *s; /* input: s[i..n) is unread */
	size_t i, n;
	const xmlSAXHandler *sax;
	void *ud;
	const htmlEntityDesc *(*entity)(const xmlChar *);
	int html;  /* libxml2's ctxt->html: 3 once a head was opened, 10 a body */
	int depth; /* open elements */
	struct {
		const struct h_el *el; /* NULL for a name libxml2 has no rules for */
		const char *name;      /* el's name, or own */
		char own[H_NAME_MAX + 1];
	} open[H_DEPTH];
	struct buf scratch; /* attribute names and values, a comment's text */
};

static bool is_blank(unsigned c) /* libxml2's IS_BLANK_CH */
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_alpha(unsigned c)
{
	return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static bool is_digit(unsigned c)
{
	return c >= '0' && c <= '9';
}

#define ONES UINT64_C(0x0101010101010101)

/* Valid UTF-8 of XML characters only (no NUL, no control character but
 * TAB, LF and CR, no surrogate, no U+FFFE or U+FFFF): libxml2 copies those
 * as they are; any other byte it drops, turns into a space, or takes for
 * the start of Latin-1. */
static bool h_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		/* eight bytes at a time while none is >= 0x80 or < 0x20 */
		while (n - i >= 8) {
			uint64_t w;
			memcpy(&w, s + i, 8);
			if (((w - ONES * 0x20) | w) & ONES * 0x80)
				break;
			i += 8;
		}
		if (i == n)
			break;
		unsigned c = s[i];
		if (c < 0x80) {
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
				return false;
			i++;
			continue;
		}
		size_t k;
		uint32_t cp;
		if (c >= 0xC2 && c <= 0xDF)
			k = 1, cp = c & 0x1F;
		else if (c >= 0xE0 && c <= 0xEF)
			k = 2, cp = c & 0x0F;
		else if (c >= 0xF0 && c <= 0xF4)
			k = 3, cp = c & 0x07;
		else
			return false;
		if (n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3F);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF)
			return false;
		i += k + 1;
	}
	return true;
}

/* libxml2's IS_CHAR(), for a character reference's value */
static bool h_is_char(uint32_t c)
{
	return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) ||
	       (c >= 0x10000 && c <= 0x10FFFF);
}

static size_t h_utf8(uint32_t c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xC0 | c >> 6);
		out[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xE0 | c >> 12);
		out[1] = (char)(0x80 | (c >> 6 & 0x3F));
		out[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | c >> 18);
	out[1] = (char)(0x80 | (c >> 12 & 0x3F));
	out[2] = (char)(0x80 | (c >> 6 & 0x3F));
	out[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

static void h_skip_blanks(struct hp *p)
{
	while (p->i < p->n && is_blank(p->s[p->i]))
		p->i++;
}

/* s[i..n) starts with lit, compared case-insensitively */
static bool h_at(const struct hp *p, size_t i, const char *lit)
{
	size_t l = strlen(lit);
	return i <= p->n && p->n - i >= l && !strncasecmp((const char *)p->s + i, lit, l);
}

/* An element or attribute name at s[i], lower-cased into out: a letter, then
 * letters, digits, ':', '-' and '_' (libxml2's htmlParseHTMLName() reads
 * '.' too: a name that goes on with one is not read here).  Returns its
 * length, 0 when there is no such name or it is too long. */
static size_t h_name(const struct hp *p, size_t i, char out[H_NAME_MAX + 1])
{
	size_t l = 0;
	if (i >= p->n || !is_alpha(p->s[i]))
		return 0;
	while (i + l < p->n) {
		unsigned c = p->s[i + l];
		if (!is_alpha(c) && !is_digit(c) && c != ':' && c != '-' && c != '_')
			break;
		if (l == H_NAME_MAX)
			return 0;
		out[l++] = (char)(c >= 'A' && c <= 'Z' ? c + 0x20 : c);
	}
	out[l] = '\0';
	if (i + l < p->n && p->s[i + l] == '.')
		return 0;
	return l;
}

/* An entity at s[i] ('&'): its UTF-8 into out, *len_r bytes (0: a character
 * reference libxml2 drops, "&#0;" say); returns the bytes read, 0 when it is
 * not one read here (no ';', a name not in libxml2's table, many digits). */
static size_t h_entity(const struct hp *p, size_t i, char out[4], size_t *len_r)
{
	size_t j = i + 1;
	*len_r = 0;
	if (j < p->n && p->s[j] == '#') {
		/* at most 6 hex or 7 decimal digits: no overflow to argue about */
		bool hex = j + 1 < p->n && (p->s[j + 1] | 0x20) == 'x';
		size_t max = hex ? 6 : 7, d = 0;
		uint32_t v = 0;
		for (j += hex ? 2 : 1; j < p->n && d <= max; j++, d++) {
			unsigned c = p->s[j], x;
			if (is_digit(c))
				x = c - '0';
			else if (hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f')
				x = (c | 0x20) - 'a' + 10;
			else
				break;
			v = v * (hex ? 16 : 10) + x;
		}
		if (d == 0 || d > max || j >= p->n || p->s[j] != ';')
			return 0;
		if (h_is_char(v))
			*len_r = h_utf8(v, out);
		return j + 1 - i;
	}
	char name[32];
	size_t l = 0;
	if (j >= p->n || !is_alpha(p->s[j]))
		return 0;
	while (j < p->n && (is_alpha(p->s[j]) || is_digit(p->s[j]))) {
		if (l + 1 == sizeof name)
			return 0;
		name[l++] = (char)p->s[j++];
	}
	name[l] = '\0';
	if (j >= p->n || p->s[j] != ';')
		return 0;
	const htmlEntityDesc *e = p->entity((const xmlChar *)name);
	if (!e || e->value == 0 || e->value > 0x10FFFF)
		return 0;
	*len_r = h_utf8(e->value, out);
	return j + 1 - i;
}

/* characters() or cdataBlock() of a run, in libxml2's pieces */
static void h_text_out(struct hp *p, const unsigned char *s, size_t n, bool raw)
{
	while (n) {
		size_t k = n;
		if (n > H_PIECE) /* up to the end of the character at byte 1000 */
			for (k = H_PIECE; k < n && (s[k] & 0xC0) == 0x80; k++)
				;
		if (raw)
			p->sax->cdataBlock(p->ud, s, (int)k);
		else
			p->sax->characters(p->ud, s, (int)k);
		s += k;
		n -= k;
	}
}

static const struct h_el *h_top(const struct hp *p)
{
	return p->depth ? p->open[p->depth - 1].el : NULL;
}

/* htmlnamePush() and the startElement() that goes with it */
static bool h_push(struct hp *p, const struct h_el *el, const char *name, const xmlChar **atts)
{
	if (p->depth == H_DEPTH)
		return false;
	if (p->html < 3 && h_is(el, "head"))
		p->html = 3;
	if (p->html < 10 && h_is(el, "body"))
		p->html = 10;
	if (el) {
		p->open[p->depth].name = el->name;
	} else {
		strcpy(p->open[p->depth].own, name);
		p->open[p->depth].name = p->open[p->depth].own;
	}
	p->open[p->depth].el = el;
	p->depth++;
	p->sax->startElement(p->ud, (const xmlChar *)p->open[p->depth - 1].name, atts);
	return true;
}

static void h_pop(struct hp *p)
{
	p->depth--;
	p->sax->endElement(p->ud, (const xmlChar *)p->open[p->depth].name);
}

/* htmlCheckImplied(): the html, and the head or body, libxml2 opens before
 * an element that needs them */
static bool h_implied(struct hp *p, const struct h_el *el)
{
	if (h_is(el, "html"))
		return true;
	if (p->depth == 0 && !h_push(p, h_el_find("html"), "html", NULL))
		return false;
	if (h_is(el, "body") || h_is(el, "head"))
		return true;
	if (p->depth <= 1 && el && (el->flags & HE_HEADISH)) {
		if (p->html >= 3) /* a head was opened before */
			return true;
		return h_push(p, h_el_find("head"), "head", NULL);
	}
	/* (noframes, frame and frameset, which imply nothing, are not read here) */
	if (p->html >= 10) /* a body was opened before */
		return true;
	for (int k = 0; k < p->depth; k++)
		if (h_is(p->open[k].el, "body") || h_is(p->open[k].el, "head"))
			return true;
	return h_push(p, h_el_find("body"), "body", NULL);
}

/* An attribute value at s[i] (after "=" and blanks), decoded into
 * p->scratch as htmlParseAttValue() does; returns false when it is not one
 * read here. */
static bool h_att_value(struct hp *p)
{
	unsigned q = p->i < p->n ? p->s[p->i] : 0;
	if (q == '"' || q == '\'')
		p->i++;
	else
		q = 0;
	size_t start = p->scratch.len;
	while (p->i < p->n) {
		unsigned c = p->s[p->i];
		if (q ? c == q : (is_blank(c) || c == '>'))
			break;
		if (c == '&') {
			char u[4];
			size_t ul, l = h_entity(p, p->i, u, &ul);
			if (!l || !ul) /* libxml2 writes a NUL for "&#0;" */
				return false;
			buf_add(&p->scratch, u, ul);
			p->i += l;
			continue;
		}
		size_t j = p->i + 1;
		while (j < p->n && p->s[j] != '&' && p->s[j] != q && (q || (!is_blank(p->s[j]) && p->s[j] != '>')))
			j++;
		buf_add(&p->scratch, p->s + p->i, j - p->i);
		p->i = j;
	}
	if (p->i == p->n)
		return false; /* the tag does not end */
	if (q)
		p->i++;
	else if (p->scratch.len == start)
		return false; /* "a=>": libxml2 gives "", not read here */
	buf_addc(&p->scratch, '\0');
	return true;
}

/* Raw text of a script or style just opened (htmlParseScript()), up to and
 * with its end tag. */
static bool h_raw(struct hp *p)
{
	const char *name = p->open[p->depth - 1].name;
	size_t nl = strlen(name), i = p->i, j;
	/* the content loop looks at a '<' before it hands over to the raw
	 * reader: an end tag there is read as one, a start tag could close
	 * the element */
	if (i + 1 < p->n && p->s[i] == '<' && (p->s[i + 1] == '/' || is_alpha(p->s[i + 1]) ||
						p->s[i + 1] == '_' || p->s[i + 1] == ':')) {
		if (p->s[i + 1] != '/' || !h_at(p, i + 2, name))
			return false;
		j = i;
	} else {
		/* in recover mode only "</" and the element's name end it */
		for (j = i;; j++) {
			const unsigned char *lt = memchr(p->s + j, '<', p->n - j);
			if (!lt)
				return false;
			j = (size_t)(lt - p->s);
			if (j + 1 < p->n && p->s[j + 1] == '/' && h_at(p, j + 2, name))
				break;
		}
	}
	/* its end tag: exactly the name (libxml2 also stops at "</styles>",
	 * which it then ignores) */
	size_t k = j + 2 + nl;
	while (k < p->n && is_blank(p->s[k]))
		k++;
	if (k == p->n || p->s[k] != '>')
		return false;
	h_text_out(p, p->s + i, j - i, true);
	h_pop(p);
	p->i = k + 1;
	return true;
}

/* A start tag at s[i] ('<' and a letter): htmlParseStartTag() and the end of
 * htmlParseElementInternal(). */
static bool h_start_tag(struct hp *p)
{
	char name[H_NAME_MAX + 1];
	size_t nl = h_name(p, p->i + 1, name);
	if (!nl)
		return false;
	const struct h_el *el = h_el_find(name);
	if (el && (el->flags & HE_BAIL))
		return false;
	p->i += 1 + nl;
	if (p->i < p->n && !is_blank(p->s[p->i]) && p->s[p->i] != '>' && p->s[p->i] != '/')
		return false;

	/* the attributes: names at nameoff[], values at valoff[] (SIZE_MAX for
	 * an attribute without a value) in p->scratch */
	size_t nameoff[H_ATTS], valoff[H_ATTS];
	int natts = 0;
	bool closed = false; /* "/>" */
	buf_reset(&p->scratch);
	for (;;) {
		h_skip_blanks(p);
		if (p->i == p->n)
			return false;
		if (p->s[p->i] == '>') {
			p->i++;
			break;
		}
		if (p->s[p->i] == '/' && p->i + 1 < p->n && p->s[p->i + 1] == '>') {
			p->i += 2;
			closed = true;
			break;
		}
		char an[H_NAME_MAX + 1];
		size_t al = h_name(p, p->i, an);
		if (!al)
			return false;
		p->i += al;
		size_t mark = p->scratch.len, vo = SIZE_MAX;
		buf_add(&p->scratch, an, al + 1);
		h_skip_blanks(p);
		if (p->i < p->n && p->s[p->i] == '=') {
			p->i++;
			h_skip_blanks(p);
			vo = p->scratch.len;
			if (!h_att_value(p))
				return false;
		}
		/* a second one of a name is dropped */
		bool dup = false;
		for (int k = 0; k < natts && !dup; k++)
			dup = !strcmp(p->scratch.s + nameoff[k], an);
		if (dup) {
			p->scratch.len = mark;
			continue;
		}
		if (natts == H_ATTS)
			return false;
		nameoff[natts] = mark;
		valoff[natts++] = vo;
	}
	const xmlChar *atts[2 * H_ATTS + 2];
	for (int k = 0; k < natts; k++) {
		atts[2 * k] = (const xmlChar *)p->scratch.s + nameoff[k];
		atts[2 * k + 1] = valoff[k] == SIZE_MAX ? NULL : (const xmlChar *)p->scratch.s + valoff[k];
	}
	atts[2 * natts] = atts[2 * natts + 1] = NULL;

	/* libxml2 drops an <html> inside anything, a <head> not right in the
	 * <html> (both misplaced), and a second <body> */
	if (h_is(el, "html") && p->depth > 0)
		return false;
	if (h_is(el, "head") && p->depth > 1)
		return false;
	/* htmlAutoClose(): the start closes the open elements it ends */
	while (el && p->depth && (el->closes & (h_top(p) ? h_top(p)->self : 0)))
		h_pop(p);
	if (!h_implied(p, el))
		return false;
	if (h_is(el, "body"))
		for (int k = 0; k < p->depth; k++)
			if (h_is(p->open[k].el, "body"))
				return false;
	if (!h_push(p, el, name, natts ? atts : NULL))
		return false;
	if (closed || (el && (el->flags & HE_EMPTY)))
		h_pop(p);
	else if (el && (el->flags & HE_RAW))
		return h_raw(p);
	return true;
}

/* An end tag at s[i] ("</" and a letter): htmlParseEndTag() */
static bool h_end_tag(struct hp *p)
{
	char name[H_NAME_MAX + 1];
	size_t nl = h_name(p, p->i + 2, name);
	if (!nl)
		return false;
	p->i += 2 + nl;
	h_skip_blanks(p);
	if (p->i == p->n || p->s[p->i] != '>')
		return false;
	p->i++;
	const struct h_el *el = h_el_find(name);
	int prio = el ? el->prio : 100, k;
	/* an end tag closes the open elements above its own, unless one of
	 * them has a higher priority (a </div> does not close a table): then,
	 * and when none is open, it is ignored */
	for (k = p->depth - 1; k >= 0; k--) {
		if (!strcmp(p->open[k].name, name))
			break;
		if ((p->open[k].el ? p->open[k].el->prio : 100) > prio)
			return true;
	}
	if (k < 0)
		return true;
	while (p->depth > k)
		h_pop(p);
	return true;
}

/* A comment at s[i] ("<!--"): htmlParseComment().  Only one without "--"
 * inside, not starting with ">" or "->" and not ending with "-": libxml2's
 * versions differ on those. */
static bool h_comment(struct hp *p)
{
	size_t b = p->i + 4;
	const unsigned char *e = memmem(p->s + b, p->n - b, "-->", 3);
	if (!e)
		return false;
	size_t l = (size_t)(e - (p->s + b));
	const unsigned char *c = p->s + b;
	if ((l && (c[0] == '>' || c[l - 1] == '-')) || (l >= 2 && c[0] == '-' && c[1] == '>') ||
	    memmem(c, l, "--", 2))
		return false;
	buf_reset(&p->scratch);
	buf_add(&p->scratch, c, l);
	p->sax->comment(p->ud, (const xmlChar *)p->scratch.s);
	p->i = b + l + 3;
	return true;
}

/* A doctype in the prolog, strictly '<!DOCTYPE' S Name [S ('PUBLIC' S
 * Literal [S Literal] | 'SYSTEM' S Literal)] S? '>', literals without '<'
 * or '>': htmlParseDocTypeDecl() reads it to its '>' and reports it to no
 * callback of ours. */
static bool h_doctype(struct hp *p)
{
	size_t i = p->i + 9;
	if (i == p->n || !is_blank(p->s[i]))
		return false;
	p->i = i;
	h_skip_blanks(p);
	size_t j = p->i;
	while (j < p->n && is_alpha(p->s[j]))
		j++;
	if (j == p->i || j == p->n)
		return false;
	p->i = j;
	h_skip_blanks(p);
	int lits = 0;
	if (p->i > j && h_at(p, p->i, "PUBLIC"))
		lits = 2;
	else if (p->i > j && h_at(p, p->i, "SYSTEM"))
		lits = 1;
	if (lits) {
		p->i += 6;
		for (int k = 0; k < lits; k++) {
			size_t before = p->i;
			h_skip_blanks(p);
			if (p->i == p->n || p->i == before || (p->s[p->i] != '"' && p->s[p->i] != '\'')) {
				if (k == 1 && p->i < p->n && p->s[p->i] == '>')
					break; /* a public literal alone */
				return false;
			}
			unsigned q = p->s[p->i++];
			while (p->i < p->n && p->s[p->i] != q && p->s[p->i] != '<' && p->s[p->i] != '>')
				p->i++;
			if (p->i == p->n || p->s[p->i] != q)
				return false;
			p->i++;
		}
		h_skip_blanks(p);
	}
	if (p->i == p->n || p->s[p->i] != '>')
		return false;
	p->i++;
	return true;
}

/* Text up to the next '<' or '&' (htmlParseCharData()); in <html>, <head>
 * or outside any element only white space before a tag or the end, which
 * libxml2 does not take for the start of a paragraph (areBlanks()). */
static bool h_text(struct hp *p)
{
	size_t i = p->i, j = i;
	/* eight bytes at a time while none is '<' or '&' */
	while (p->n - j >= 8) {
		uint64_t w, lt, amp;
		memcpy(&w, p->s + j, 8);
		lt = w ^ ONES * '<';
		amp = w ^ ONES * '&';
		if (((lt - ONES) & ~lt) & ONES * 0x80 || ((amp - ONES) & ~amp) & ONES * 0x80)
			break;
		j += 8;
	}
	while (j < p->n && p->s[j] != '<' && p->s[j] != '&')
		j++;
	const struct h_el *top = h_top(p);
	if (!p->depth || (top && (top->flags & HE_NOTEXT))) {
		if ((j < p->n && p->s[j] != '<') || j - i >= H_PIECE)
			return false;
		for (size_t k = i; k < j; k++)
			if (!is_blank(p->s[k]))
				return false;
	}
	h_text_out(p, p->s + i, j - i, false);
	p->i = j;
	return true;
}

/* An entity in text (htmlParseReference()) */
static bool h_reference(struct hp *p)
{
	const struct h_el *top = h_top(p);
	if (!p->depth || (top && (top->flags & HE_NOTEXT))) /* a <p> is implied */
		return false;
	char u[4];
	size_t ul, l = h_entity(p, p->i, u, &ul);
	if (!l)
		return false;
	if (ul)
		p->sax->characters(p->ud, (const xmlChar *)u, (int)ul);
	p->i += l;
	return true;
}

static bool h_document(struct hp *p)
{
	/* htmlParseDocument(): blanks, comments, a doctype, blanks, comments */
	h_skip_blanks(p);
	while (h_at(p, p->i, "<!--")) {
		if (!h_comment(p))
			return false;
		h_skip_blanks(p);
	}
	if (h_at(p, p->i, "<!DOCTYPE") && !h_doctype(p))
		return false;
	h_skip_blanks(p);
	while (h_at(p, p->i, "<!--")) {
		if (!h_comment(p))
			return false;
		h_skip_blanks(p);
	}
	/* htmlParseContentInternal() */
	while (p->i < p->n) {
		unsigned c = p->s[p->i];
		unsigned d = p->i + 1 < p->n ? p->s[p->i + 1] : 0;
		bool ok;
		if (c == '<' && d == '/')
			ok = p->i + 2 < p->n && is_alpha(p->s[p->i + 2]) && h_end_tag(p);
		else if (c == '<' && is_alpha(d))
			ok = h_start_tag(p);
		else if (c == '<')
			ok = h_at(p, p->i, "<!--") && h_comment(p);
		else if (c == '&')
			ok = h_reference(p);
		else
			ok = h_text(p);
		if (!ok)
			return false;
	}
	/* htmlAutoCloseOnEnd() */
	while (p->depth)
		h_pop(p);
	return true;
}

bool html_sax_fast(const char *html, size_t len, const xmlSAXHandler *sax, void *ud,
		   const htmlEntityDesc *(*entity)(const xmlChar *name))
{
	/* a text node is no longer than the input (no entity is longer than
	 * its reference): below XML_MAX_TEXT_LENGTH, where h2t stops reading
	 * (message.c) */
	if (len >= XML_MAX_TEXT_LENGTH || !h_valid((const unsigned char *)html, len))
		return false;
	struct hp *p = xmalloc(sizeof *p);
	p->s = (const unsigned char *)html;
	p->i = 0;
	p->n = len;
	p->sax = sax;
	p->ud = ud;
	p->entity = entity;
	p->html = 0;
	p->depth = 0;
	buf_init(&p->scratch);
	bool ok = h_document(p);
	buf_release(&p->scratch);
	free(p);
	return ok;
}
