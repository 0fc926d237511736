/* test_html.c — html.c's fast reader against libxml2's parser: for every
 * input the fast reader takes, html_to_text() must give byte for byte the
 * text libxml2's parser gives.  Inputs: every HTML part of the corpus
 * (tests/corpus/cases), real-shaped client HTML and tricky cases written
 * here, and documents of a seeded random grammar (valid and broken forms). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libetpan/libetpan.h>

#include "buf.h"
#include "message.h"

#define CASES DEALMAIL_SRCDIR "/tests/corpus/cases"

/* html_to_text() by both readers: the fast one must give libxml2's text
 * when it takes the input; returns whether it took it */
static bool same_text(const char *html, size_t len)
{
	char *want = html_to_text_by(html, len, false);
	char *got = html_to_text_by(html, len, true);
	if (got && strcmp(want, got))
		print_error("---- input\n%.*s\n---- libxml2\n%s---- fast reader\n%s----\n", (int)len, html, want, got);
	bool taken = got != NULL;
	assert_true(!got || !strcmp(want, got));
	free(want);
	free(got);
	return taken;
}

/* ------------------------------------------------------------------ */
/* the corpus: text/html parts, decoded and in UTF-8 as message.c reads them */

struct parts {
	int n, taken;
};

static void walk(const struct mailmime *m, struct parts *ps)
{
	if (m->mm_type == MAILMIME_MULTIPLE) {
		for (clistiter *it = clist_begin(m->mm_data.mm_multipart.mm_mp_list); it; it = clist_next(it))
			walk(clist_content(it), ps);
		return;
	}
	if (m->mm_type == MAILMIME_MESSAGE) {
		if (m->mm_data.mm_message.mm_msg_mime)
			walk(m->mm_data.mm_message.mm_msg_mime, ps);
		return;
	}
	const struct mailmime_content *ct = m->mm_content_type;
	const struct mailmime_data *d = m->mm_data.mm_single;
	if (!ct || !ct->ct_type || ct->ct_type->tp_type != MAILMIME_TYPE_DISCRETE_TYPE ||
	    ct->ct_type->tp_data.tp_discrete_type->dt_type != MAILMIME_DISCRETE_TYPE_TEXT ||
	    strcasecmp(ct->ct_subtype, "html") || !d || d->dt_type != MAILMIME_DATA_TEXT)
		return;
	size_t idx = 0, rl = 0;
	char *r = NULL;
	if (mailmime_part_parse(d->dt_data.dt_text.dt_data, d->dt_data.dt_text.dt_length, &idx,
				d->dt_encoded ? d->dt_encoding : MAILMIME_MECHANISM_8BIT, &r, &rl) != MAILIMF_NO_ERROR)
		return;
	char *u = charset_to_utf8(mailmime_content_charset_get((struct mailmime_content *)ct), r, rl);
	mailmime_decoded_part_free(r);
	const char *h = !strncmp(u, "\xEF\xBB\xBF", 3) ? u + 3 : u;
	ps->n++;
	ps->taken += same_text(h, strlen(h));
	free(u);
}

static void test_corpus_parts(void **state)
{
	(void)state;
	DIR *dir = opendir(CASES);
	assert_non_null(dir);
	struct parts ps = {0, 0};
	struct dirent *de;
	while ((de = readdir(dir))) {
		size_t nl = strlen(de->d_name);
		if (nl < 4 || strcmp(de->d_name + nl - 4, ".eml"))
			continue;
		char path[1024];
		snprintf(path, sizeof path, "%s/%s", CASES, de->d_name);
		FILE *f = fopen(path, "rb");
		assert_non_null(f);
		/* libetpan wants CRLF */
		struct buf b;
		buf_init(&b);
		int c, prev = 0;
		while ((c = getc(f)) != EOF) {
			if (c == '\n' && prev != '\r')
				buf_addc(&b, '\r');
			buf_addc(&b, (char)c);
			prev = c;
		}
		fclose(f);
		size_t idx = 0;
		struct mailmime *mime = NULL;
		if (mailmime_parse(b.s, b.len, &idx, &mime) == MAILIMF_NO_ERROR && mime) {
			walk(mime, &ps);
			mailmime_free(mime);
		}
		buf_release(&b);
	}
	closedir(dir);
	print_message("corpus: %d HTML parts, %d read by the fast reader\n", ps.n, ps.taken);
	/* the corpus has plenty of plain HTML: most of it must take the fast path */
	assert_true(ps.n >= 50);
	assert_true(ps.taken * 10 >= ps.n * 8);
}

/* ------------------------------------------------------------------ */
/* clients' HTML and tricky cases */

static const char outlook[] =
	"<html xmlns:v=\"urn:schemas-microsoft-com:vml\" xmlns:o=\"urn:schemas-microsoft-com:office:office\" "
	"xmlns=\"http://www.w3.org/TR/REC-html40\">\r\n<head>\r\n"
	"<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\">\r\n"
	"<meta name=\"Generator\" content=\"Microsoft Word 15 (filtered medium)\">\r\n"
	"<!--[if !mso]><style>v\\:* {behavior:url(#default#VML);}\r\n</style><![endif]--><style><!--\r\n"
	"/* Font Definitions */\r\n@font-face\r\n\t{font-family:\"Cambria Math\";}\r\n"
	"p.MsoNormal, li.MsoNormal, div.MsoNormal\r\n\t{margin:0cm;\r\n\tfont-family:\"Calibri\",sans-serif;}\r\n"
	"--></style><!--[if gte mso 9]><xml>\r\n<o:shapedefaults v:ext=\"edit\" spidmax=\"1026\" />\r\n"
	"</xml><![endif]-->\r\n</head>\r\n"
	"<body lang=\"ES-MX\" link=\"#0563C1\" vlink=\"#954F72\" style=\"word-wrap:break-word\">\r\n"
	"<div class=\"WordSection1\">\r\n<p class=\"MsoNormal\">Hola Ana,<o:p></o:p></p>\r\n"
	"<p class=\"MsoNormal\"><o:p>&nbsp;</o:p></p>\r\n"
	"<p class=\"MsoNormal\">etapa: negociaci\xc3\xb3n<o:p></o:p></p>\r\n"
	"<p class=\"MsoNormal\">valor: 15.000 &#8364;<o:p></o:p></p>\r\n"
	"<p class=\"MsoNormal\"><span style=\"font-size:10.0pt;font-family:&quot;Arial&quot;,sans-serif\">"
	"Saludos,<o:p></o:p></span></p>\r\n"
	"<table class=\"MsoNormalTable\" border=\"0\" cellspacing=\"0\" cellpadding=\"0\">\r\n<tr>\r\n"
	"<td width=\"200\" valign=\"top\" style=\"width:150.0pt\">\r\n"
	"<p class=\"MsoNormal\"><b><span style=\"font-size:9.0pt\">Ana L\xc3\xb3pez</span></b><o:p></o:p></p>\r\n"
	"</td>\r\n<td><p class=\"MsoNormal\"><a href=\"mailto:ana@x.com\">ana@x.com</a><o:p></o:p></p></td>\r\n"
	"</tr>\r\n</table>\r\n"
	"<div style=\"border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm\">\r\n"
	"<p class=\"MsoNormal\"><b><span lang=\"EN-US\">From:</span></b><span lang=\"EN-US\"> Cliente "
	"&lt;c@acme.mx&gt;\r\n<br>\r\n<b>Sent:</b> Monday, November 23, 2026 9:00 AM<br>\r\n"
	"<b>Subject:</b> RE: propuesta<o:p></o:p></span></p>\r\n</div>\r\n"
	"<p class=\"MsoNormal\">texto citado<o:p></o:p></p>\r\n</div>\r\n</body>\r\n</html>\r\n";

static const char *const clients[] = {
	outlook,
	/* the benchmark's shape */
	"<html><body><div dir=\"ltr\">etapa: propuesta<br>\nvalor: 1 &amp; 2 &lt;3&gt;<br>\n</div></body></html>\n",
	/* Gmail */
	"<div dir=\"ltr\">etapa: propuesta<div>valor: 12.000&nbsp;\xe2\x82\xac</div><div><br></div><div>Gracias "
	"&amp; saludos<br clear=\"all\"><div><br></div><span class=\"gmail_signature_prefix\">-- </span><br>"
	"<div dir=\"ltr\" class=\"gmail_signature\" data-smartmail=\"gmail_signature\"><div dir=\"ltr\"><div><b>"
	"Ana</b></div><img src=\"https://x/y.png\" width=\"96\" height=\"34\"><br></div></div></div></div><br>"
	"<div class=\"gmail_quote\"><div dir=\"ltr\" class=\"gmail_attr\">El lun, 23 nov 2026 a las 9:00, "
	"Cliente &lt;<a href=\"mailto:c@acme.mx\">c@acme.mx</a>&gt; escribi\xc3\xb3:<br></div><blockquote "
	"class=\"gmail_quote\" style=\"margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204)\">"
	"<div dir=\"ltr\">Hola,<div>\xc2\xbf" "c\xc3\xb3mo va?</div></div>\n</blockquote></div>\n",
	/* Apple Mail on an iPhone */
	"<html><head><meta http-equiv=\"content-type\" content=\"text/html; charset=utf-8\"></head>"
	"<body dir=\"auto\"><div dir=\"ltr\">etapa: cerrado</div><div dir=\"ltr\"><br></div><div dir=\"ltr\">"
	"Enviado desde mi iPhone</div><div dir=\"ltr\"><br><blockquote type=\"cite\">El 23 nov 2026, a las "
	"9:00, Cliente &lt;c@acme.mx&gt; escribi\xc3\xb3:<br><br></blockquote></div><blockquote type=\"cite\">"
	"<div dir=\"ltr\">\xef\xbb\xbf<div dir=\"ltr\">Hola</div></div></blockquote></body></html>",
	/* Thunderbird */
	"<!DOCTYPE html>\n<html>\n  <head>\n    <meta http-equiv=\"Content-Type\" content=\"text/html; "
	"charset=UTF-8\">\n  </head>\n  <body>\n    <p>etapa: propuesta</p>\n    <div class=\"moz-cite-prefix\">"
	"On 23/11/2026 09:00, Cliente wrote:<br>\n    </div>\n    <blockquote type=\"cite\" cite=\"mid:a@b\">\n"
	"      <p>Hola</p>\n    </blockquote>\n    <pre class=\"moz-signature\" cols=\"72\">-- \nAna</pre>\n"
	"  </body>\n</html>\n",
	/* Outlook on the web */
	"<html><head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\r\n"
	"<style type=\"text/css\" style=\"display:none;\"> P {margin-top:0;margin-bottom:0;} </style>\r\n"
	"</head>\r\n<body dir=\"ltr\">\r\n<div class=\"elementToProof\" style=\"font-family: Aptos, sans-serif; "
	"font-size: 12pt\">\r\netapa: ganado</div>\r\n<div id=\"appendonsend\"></div>\r\n<hr style=\"display:"
	"inline-block;width:98%\" tabindex=\"-1\">\r\n<div id=\"divRplyFwdMsg\" dir=\"ltr\"><font face=\"Calibri,"
	" sans-serif\" style=\"font-size:11pt\" color=\"#000000\"><b>From:</b> Cliente &lt;c@acme.mx&gt;<br>\r\n"
	"</font>\r\n<div>&nbsp;</div>\r\n</div>\r\n<div>\r\n<div dir=\"ltr\">Hola</div>\r\n</div>\r\n</body>\r\n"
	"</html>\r\n",
};

/* implied, auto-closed and ignored elements, entities, raw text, pieces */
static const char *const tricky[] = {
	"<html><body><p>a<p>b<div>c</div></body></html>",
	"<p>one<ul><li>a<li>b</ul>two",
	"<table><tr><td>a<td>b<tr><td>c</table>x",
	"<div><span>a<div>b</span>c</div>d",
	"<div><table><tr><td>x</div>y</td></tr></table></div>",
	"<b>bold<p>para</b>after</p>",
	"<h1>t<p>x</h1>y",
	"<a href=1>a<a href=2>b</a></a>",
	"<font><td>x</td></font>",
	"<center><b>x</center>y",
	"<ul><li>a<ol><li>b</ul>c",
	"<pre>\n  a\r\n  b</pre>",
	"<html><head><title>T</title><style>x</style><script>var a = '</scr' + 'ipt>';</script></head>"
	"<body>x</body></html>",
	"<html><head><title>T</title></head><div>no body</div></html>",
	"<html>\n<head>\n</head>\n<body>\n<div>x</div>\n</body>\n</html>\n",
	"<head><meta charset=utf-8></head><body>x</body>",
	"<meta charset=utf-8><div>x</div>",
	"<title>t</title><div>x</div>",
	"<style>p{}</style><div>x</div>",
	"<html><head><o:p></o:p></head><body>y</body></html>",
	"<html><head><title>a<div>b</div></title></head><body>y</body></html>",
	"<html><body>x</body></html>\n\n<!-- trailer -->\n",
	"<html><body>x</body></html><div>y</div>",
	"<html><body>a</body></html></html></body>",
	"<div>x</div></div></p></br>y",
	"<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.0 Transitional//EN\">\n<html><body>x</body></html>",
	"<!-- a --><!DOCTYPE html><!----><html><!--[if !mso]><!--><body>x<!--<![endif]--></body></html>",
	"<div>&#x41;&#65;&#0065;&#x0041;&#0;&#xD800;&#x110000;&#150;&#x1F600;&eacute;&euro;&apos;</div>",
	"<div title=\"a&amp;b&lt;c&#65;&#x42;&eacute;\" a=1 b c=3 d='4' A=6 b=7 e = \"x\"\nf=g/>x</div>",
	"<DIV CLASS=\"X\">y</DIV><o:p>x</o:p><O:P>y</O:P><p>x</P>",
	"<br><br/><br />x<img src=x.png/>y<img src=\"x.png\"/>z<div/>x<p/>y",
	"<dl><dt>a<dd>b<dt>c</dl><label>a<p>b</label><ins>a<p>b</ins>",
	"<table><caption>c</caption><colgroup><col><col></colgroup><thead><tr><th>h</th></tr></thead>"
	"<tbody><tr><td>1</td></tr></tbody><tfoot><tr><td>f</td></tr></tfoot></table>",
	"<style>\n<!-- p {} -->\n</style><style></style><style></STYLE ><div>&lt;script&gt;</div>",
	"<div>\xc3\xa9\xc2\xa0\xf0\x9f\x98\x80 \xe2\x80\x8b</div>",
	/* declined: libxml2 reads those */
	"<html><head></head><body><body>x</body></html>",
	"<div>&nbsp;&NBSP;&foo;&amp</div>",
	"</div>x",
	"<html><head><span>x</span></head><body>y</body></html>",
	"<div>a < b</div>",
	"<div><![CDATA[x]]><?pi x?></div>",
	"<!-- a -- b --><div>x</div>",
	"<style></p>x</style>",
	"<div>\x01</div>",
	"<div>\xc3</div>",
	"<form><input name=x></form>",
};

static void test_clients(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof clients / sizeof *clients; i++) {
		bool taken = same_text(clients[i], strlen(clients[i]));
		if (!taken)
			print_error("client case %zu declined\n", i);
		assert_true(taken);
	}
}

static void test_tricky(void **state)
{
	(void)state;
	int taken = 0;
	for (size_t i = 0; i < sizeof tricky / sizeof *tricky; i++)
		taken += same_text(tricky[i], strlen(tricky[i]));
	print_message("tricky: %zu cases, %d read by the fast reader\n", sizeof tricky / sizeof *tricky, taken);
	assert_true(taken >= 30);
}

/* cut anywhere (mid-tag, mid-comment, mid-character): the document ends
 * there for both readers */
static void test_prefixes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof clients / sizeof *clients; i++)
		for (size_t n = 1, len = strlen(clients[i]); n < len; n += 7)
			same_text(clients[i], n);
	for (size_t i = 0; i < sizeof tricky / sizeof *tricky; i++)
		for (size_t n = 1, len = strlen(tricky[i]); n < len; n++)
			same_text(tricky[i], n);
}

/* text pieces of ~1000 bytes, cut after the character at byte 1000 */
static void test_long_runs(void **state)
{
	(void)state;
	static const char *const units[] = {"a", "\xc3\xa9", "\xf0\x9f\x98\x80", "ab ", "\xc2\xa0", "x\n"};
	for (size_t u = 0; u < sizeof units / sizeof *units; u++) {
		for (size_t n = 990; n < 1010; n += 3) {
			struct buf b;
			buf_init(&b);
			buf_adds(&b, "<div>");
			while (b.len < 5 + n)
				buf_adds(&b, units[u]);
			buf_adds(&b, "</div><style>");
			while (b.len < 30 + 2 * n)
				buf_adds(&b, units[u]);
			buf_adds(&b, "</style><pre>");
			for (int k = 0; k < 3; k++)
				buf_adds(&b, "\xc2\xa0 \xc2\xa0\n");
			buf_adds(&b, "</pre>");
			assert_true(same_text(b.s, b.len));
			buf_release(&b);
		}
	}
}

/* ------------------------------------------------------------------ */
/* a seeded random grammar: mostly well-formed mail HTML, with broken forms
 * mixed in at a rate that changes from document to document */

static uint64_t rng_state;

static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state % n);
}

#define PICK(a) ((a)[rnd(sizeof(a) / sizeof *(a))])

static unsigned noise; /* per mille of broken forms */

static bool broken(void)
{
	return rnd(1000) < noise;
}

static const char *const common_tags[] = {
	"div", "p", "span", "a", "b", "i", "u", "strong", "em", "font", "table", "tbody", "tr", "td", "th",
	"ul", "ol", "li", "blockquote", "h1", "h2", "pre", "center", "o:p", "DIV", "P", "Span", "small", "big",
	"sub", "sup", "tt", "s", "strike", "code", "cite", "dl", "dt", "dd", "address", "caption", "colgroup",
	"thead", "tfoot", "label", "ins", "del", "q", "abbr", "map", "h3", "h6", "title", "head", "body", "html",
};
static const char *const empty_tags[] = {"br", "BR", "img", "hr", "meta", "link", "base", "col", "area", "wbr"};
static const char *const unknown_tags[] = {"o:p", "v:shape", "section", "header", "my-tag", "xml", "w:sdt", "figure"};
static const char *const bad_tags[] = {"form", "input", "select", "option", "textarea", "iframe", "object",
				       "noscript", "frameset", "menu", "dir", "xmp", "x.y", "_a", "embed"};
static const char *const words[] = {
	"hola", "precio", "etapa:", "propuesta", "15000", "Negocia\xc3\xa7\xc3\xa3o", "\xc3\xa9", "\xc2\xb7",
	"\xc2\xa0", "\xf0\x9f\x98\x80", "\xe2\x80\x94", "x", "-- ", "> citado", "Nota:", "\xc2\x96", "\xe2\x80\x8b",
	" ", "\n", "\r\n", "\t", "  ", "\n\n",
};
static const char *const entities[] = {
	"&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&nbsp;", "&eacute;", "&Alpha;", "&hellip;", "&euro;",
	"&#65;", "&#x41;", "&#X4a;", "&#233;", "&#x1F600;", "&#150;", "&#0;", "&#xD800;", "&#1114112;", "&#9;",
	"&#10;", "&#13;", "&#160;", "&#xFFFE;",
};
static const char *const bad_text[] = {
	"&foo;", "&amp", "& ", "&#;", "&#65", "&#99999999;", "&AMP;", "&amp.x;", "<", "< b", "<3", "</ x>",
	"<!x>", "<![CDATA[x]]>", "<?pi x?>", "<!DOCTYPE html>", "\x01", "\xc3", "\xed\xa0\x80", "\xef\xbf\xbe",
	"<!-- a -- b -->", "<!-->x-->", "<!--->",
};
static const char *const att_names[] = {"dir", "class", "style", "id", "href", "src", "align", "width", "DIR",
					"Class", "data-x", "xmlns:o", "lang", "border", "color", "face", "title"};
static const char *const att_values[] = {
	"ltr", "MsoNormal", "gmail_quote", "gmail_signature", "divRplyFwdMsg", "appendonsend", "Signature",
	"border-top:solid #E1E1E1 1.0pt", "margin:0", "font-family:&quot;Calibri&quot;", "a&amp;b", "", "a b",
	"\xc3\xa9", "http://x.com/?a=1&amp;b=2", "&#65;", "a>b", "x/", "&nbsp;", "a'b",
};
static const char *const raw_bodies[] = {
	"", "p { margin:0 }", "<!-- p.MsoNormal {margin:0} -->", "\n<!--\n/* Font */\n-->\n", "a</p>b",
	"a < b && c", "if (a<b) {}", "\xc3\xa9", "&amp;", "  <!-- x -->", "x</styles>y",
};

static void gen_text(struct buf *b)
{
	for (unsigned n = 1 + rnd(5); n; n--) {
		unsigned r = rnd(100);
		if (broken())
			buf_adds(b, PICK(bad_text));
		else if (r < 75)
			buf_adds(b, PICK(words));
		else
			buf_adds(b, PICK(entities));
	}
}

static void gen_attrs(struct buf *b)
{
	for (unsigned n = PICK(((const unsigned[]){0, 0, 0, 1, 1, 2, 3})); n; n--) {
		buf_adds(b, PICK(((const char *const[]){" ", " ", "  ", "\n", "\t"})));
		buf_adds(b, PICK(att_names));
		if (rnd(5) == 0)
			continue;
		buf_adds(b, PICK(((const char *const[]){"=", "=", " = ", "=\n"})));
		const char *v = PICK(att_values);
		unsigned r = rnd(10);
		if (r < 6) {
			buf_addc(b, '"');
			for (; *v; v++)
				*v == '"' ? buf_adds(b, "&quot;") : buf_addc(b, *v);
			buf_addc(b, '"');
		} else if (r < 8) {
			buf_addc(b, '\'');
			for (; *v; v++)
				*v == '\'' ? buf_adds(b, "&apos;") : buf_addc(b, *v);
			buf_addc(b, '\'');
		} else {
			size_t l = b->len;
			for (; *v; v++)
				if (*v != ' ' && *v != '>')
					buf_addc(b, *v);
			if (b->len == l)
				buf_addc(b, 'v');
		}
	}
	if (broken())
		buf_adds(b, PICK(((const char *const[]){" /", "\"", " =x", " x=\"a\"b", " a.b=1", " x='"})));
}

static void gen_content(struct buf *b, int depth, int *budget)
{
	while ((*budget)-- > 0) {
		unsigned r = rnd(100);
		if (r < 30) {
			gen_text(b);
		} else if (r < 32) {
			for (unsigned n = 900 + rnd(1200); n; n--)
				buf_adds(b, PICK(((const char *const[]){"a", "\xc3\xa9", " ", "\xf0\x9f\x98\x80"})));
		} else if (r < 72 && depth < 12) {
			const char *t = broken() ? PICK(bad_tags) : rnd(4) ? PICK(common_tags) : PICK(unknown_tags);
			buf_addf(b, "<%s", t);
			gen_attrs(b);
			buf_adds(b, rnd(25) ? ">" : "/>");
			if (rnd(8))
				gen_content(b, depth + 1, budget);
			if (rnd(5))
				buf_addf(b, "</%s%s>", t, rnd(10) ? "" : " ");
		} else if (r < 78) {
			buf_addf(b, "<%s", rnd(2) ? "style" : "SCRIPT");
			gen_attrs(b);
			buf_addf(b, ">%s</%s>", PICK(raw_bodies), rnd(2) ? "style" : "script");
		} else if (r < 85) {
			buf_addf(b, "</%s>", PICK(common_tags));
		} else if (r < 90) {
			buf_adds(b, PICK(((const char *const[]){"<!-- x -->", "<!---->", "<!--[if !mso]><!-->",
								"<!--<![endif]-->", "<!--x-->", "<!---x-->"})));
		} else {
			buf_addf(b, "<%s", PICK(empty_tags));
			gen_attrs(b);
			buf_adds(b, rnd(4) ? ">" : "/>");
		}
		if (rnd(4) == 0)
			break;
	}
}

static void gen_doc(struct buf *b)
{
	noise = PICK(((const unsigned[]){0, 0, 10, 30, 100, 300}));
	if (rnd(3) == 0)
		buf_adds(b, PICK(((const char *const[]){"<!DOCTYPE html>", "<!doctype html>\n", " <!-- c -->\n",
							"<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.0 "
							"Transitional//EN\">"})));
	int budget = 3 + (int)rnd(40);
	if (rnd(2)) {
		buf_adds(b, "<html");
		gen_attrs(b);
		buf_adds(b, ">\n");
		if (rnd(3)) {
			buf_adds(b, "<head>");
			for (unsigned n = rnd(4); n; n--)
				buf_adds(b, PICK(((const char *const[]){
						    "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\">",
						    "\n", "<title>T&amp;</title>", "<style><!-- p{} --></style>",
						    "<link rel=x href=y>", "<!-- c -->", "<base href=x>", "<o:p></o:p>"})));
			buf_adds(b, rnd(4) ? "</head>\n" : "");
		}
		if (rnd(6))
			buf_adds(b, "<body>");
		gen_content(b, 0, &budget);
		buf_adds(b, PICK(((const char *const[]){"</body></html>", "</body>\n</html>\n", "</html>", "",
							"</body></html><div>y</div>"})));
	} else {
		if (!broken())
			buf_adds(b, PICK(((const char *const[]){"<div dir=\"ltr\">", "<p>", "<table>", "<o:p>", "<br>"})));
		gen_content(b, 0, &budget);
	}
}

/* TEST_HTML_DOCS=N [TEST_HTML_SEED=S] runs more of them (100,000 and more
 * when the reader changes) */
static void test_random(void **state)
{
	(void)state;
	const char *e = getenv("TEST_HTML_DOCS"), *s = getenv("TEST_HTML_SEED");
	rng_state = 0x9E3779B97F4A7C15u + (s ? strtoull(s, NULL, 10) : 0);
	int taken = 0, n = e ? atoi(e) : 2000;
	for (int i = 0; i < n; i++) {
		struct buf b;
		buf_init(&b);
		gen_doc(&b);
		taken += same_text(b.s, b.len);
		buf_release(&b);
	}
	print_message("random: %d documents, %d read by the fast reader\n", n, taken);
	assert_true(taken >= n / 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_parts),
		cmocka_unit_test(test_clients),
		cmocka_unit_test(test_tricky),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_long_runs),
		cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
