/* test_template.c — template.c: variables, sections, lists, escaping, header
 * block, errors with file:line, lookup order, and every shipped template in
 * es, pt and en rendering cleanly. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "template.h"

static char tmp[64];

static int setup(void **state)
{
	(void)state;
	strcpy(tmp, "/tmp/dealmail-tmpl-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
	unsetenv("DEALMAIL_TEMPLATES_DIR");
	return system(cmd) == 0 ? 0 : -1;
}

/* write <tmp>/<dir>/<lang>/<file> */
static void put(const char *dir, const char *lang, const char *file, const char *text)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", tmp, dir);
	mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/%s/%s", tmp, dir, lang);
	mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/%s/%s/%s", tmp, dir, lang, file);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *dir_of(const char *d)
{
	static char p[2][256];
	static int k;
	k ^= 1;
	snprintf(p[k], sizeof p[k], "%s/%s", tmp, d);
	return p[k];
}

/* Render <tmp>/t/en/NAME.txt with v; expect success. */
static struct rendered render_ok(const char *name, const struct tvars *v)
{
	struct rendered r;
	char *err = NULL;
	int rc = template_render(dir_of("t"), "en", name, v, &r, &err);
	if (rc < 0)
		print_error("render %s: %s\n", name, err ? err : "?");
	assert_int_equal(rc, 0);
	assert_null(err);
	return r;
}

static char *render_err(const char *name)
{
	struct rendered r;
	char *err = NULL;
	struct tvars *v = tvars_new();
	tvars_set(v, "deal.title", "x");
	int rc = template_render(dir_of("t"), "en", name, v, &r, &err);
	tvars_free(v);
	assert_int_equal(rc, -1);
	assert_non_null(err);
	/* template_check finds the same problem without values */
	char *err2 = NULL;
	assert_int_equal(template_check(dir_of("t"), "en", name, &err2), -1);
	assert_non_null(err2);
	assert_string_equal(err, err2);
	free(err2);
	return err;
}

static void expect_err(const char *name, const char *text, int line, const char *needle)
{
	put("t", "en", name, text);
	char base[64];
	snprintf(base, sizeof base, "%s", name);
	*strrchr(base, '.') = '\0';
	char *err = render_err(base);
	char want[512];
	snprintf(want, sizeof want, "%s/en/%s:%d: ", dir_of("t"), name, line);
	if (strncmp(err, want, strlen(want)) || !strstr(err, needle)) {
		print_error("got \"%s\", want \"%s…%s…\"\n", err, want, needle);
		fail();
	}
	free(err);
}

/* ---- rendering -------------------------------------------------------------- */

static void test_variables_and_sections(void **state)
{
	(void)state;
	put("t", "en", "a.txt",
	    "Subject: Re: {{message.subject}} {{deal.tag}}\n"
	    "\n"
	    "Hi {{ rep.name }}, {{deal.title}} ({{any.missing}}).\n"
	    "{{#deal.value}}Value: {{deal.value}} {{.}}{{/deal.value}}\n"
	    "{{^deal.value}}No value{{/deal.value}}\n"
	    "{{#any.zero}}zero is true{{/any.zero}}{{^any.zero}}zero is false{{/any.zero}}\n"
	    "{{#any.no}}no{{/any.no}}{{#any.empty}}empty{{/any.empty}}{{#any.unset}}unset{{/any.unset}}\n"
	    "{{! a comment }}\n"
	    "{{#changes}}\n"
	    "  - {{text}} by {{rep.name}}\n"
	    "{{/changes}}\n"
	    "{{^changes}}\n"
	    "  (none)\n"
	    "{{/changes}}\n"
	    "{{#scheduled}}\n"
	    "  * {{.}}\n"
	    "{{/scheduled}}\n"
	    "{{^scheduled}}\n"
	    "  (nothing scheduled)\n"
	    "{{/scheduled}}\n"
	    "end\n");
	struct tvars *v = tvars_new();
	tvars_set(v, "message.subject", "Re: RE: ACME [deal #7]");
	tvars_set(v, "deal.tag", "[deal #7]");
	tvars_set(v, "rep.name", "Ana");
	tvars_set(v, "deal.title", "ACME <renewal>");
	tvars_setf(v, "deal.value", "%d", 12000);
	tvars_set(v, "any.zero", "0");
	tvars_set(v, "any.no", "false");
	tvars_set(v, "any.empty", "");
	tvars_set(v, "any.unset", "x");
	tvars_set(v, "any.unset", NULL);
	tvars_set(tvars_push(v, "changes"), "text", "stage: demo → proposal");
	tvars_set(tvars_push(v, "changes"), "text", "value: 12000");
	struct rendered r = render_ok("a", v);
	assert_string_equal(r.subject, "Re: ACME [deal #7]"); /* one "Re:", one tag */
	assert_string_equal(r.text, "Hi Ana, ACME <renewal> ().\n"
				    "Value: 12000 12000\n"
				    "\n"
				    "zero is false\n"
				    "\n"
				    "  - stage: demo → proposal by Ana\n"
				    "  - value: 12000 by Ana\n"
				    "  (nothing scheduled)\n"
				    "end\n");
	assert_null(r.html);
	rendered_free(&r);
	tvars_free(v);

	/* empty list and string elements */
	v = tvars_new();
	tvars_set(tvars_push(v, "scheduled"), ".", "task: call");
	tvars_set(tvars_push(v, "scheduled"), "text", "sequence: followup");
	r = render_ok("a", v);
	assert_string_equal(r.subject, "Re:");
	assert_non_null(strstr(r.text, "  (none)\n  * task: call\n  * sequence: followup\nend\n"));
	assert_non_null(strstr(r.text, "No value"));
	rendered_free(&r);
	tvars_free(v);
}

static void test_nested_lists(void **state)
{
	(void)state;
	put("t", "en", "n.txt",
	    "{{#errors}}\n"
	    "Line {{line}}: {{text}}\n"
	    "{{#suggestion}}\n"
	    "  did you mean \"{{suggestion}}\"?\n"
	    "{{/suggestion}}\n"
	    "{{#item}}[{{name}}]{{/item}}\n"
	    "{{/errors}}\n");
	struct tvars *v = tvars_new();
	struct tvars *e = tvars_push(v, "errors");
	tvars_set(e, "line", "2");
	tvars_set(e, "text", "etapa: propusta");
	tvars_set(e, "suggestion", "propuesta");
	tvars_set(tvars_push(e, "item"), "name", "a");
	tvars_set(tvars_push(e, "item"), "name", "b");
	e = tvars_push(v, "errors");
	tvars_setf(e, "line", "%d", 3);
	tvars_set(e, "text", "perdido: x");
	struct rendered r = render_ok("n", v);
	assert_string_equal(r.subject, ""); /* no header block */
	assert_string_equal(r.text, "Line 2: etapa: propusta\n"
				    "  did you mean \"propuesta\"?\n"
				    "[a][b]\n"
				    "Line 3: perdido: x\n"
				    "\n");
	rendered_free(&r);
	tvars_free(v);
}

static void test_html_escaping(void **state)
{
	(void)state;
	put("t", "en", "h.txt", "Subject: {{deal.title}}\n\n{{deal.title}}\n");
	put("t", "en", "h.html",
	    "Subject: ignored\n\n<p>{{deal.title}}</p><p>{{{deal.title}}}</p>"
	    "{{#changes}}<li>{{text}}</li>{{/changes}}\n");
	struct tvars *v = tvars_new();
	tvars_set(v, "deal.title", "Tom & Jerry's <b>\"deal\"</b>");
	tvars_set(tvars_push(v, "changes"), "text", "a<b");
	struct rendered r = render_ok("h", v);
	assert_string_equal(r.subject, "Tom & Jerry's <b>\"deal\"</b>");
	assert_string_equal(r.text, "Tom & Jerry's <b>\"deal\"</b>\n");
	assert_non_null(r.html);
	assert_string_equal(r.html, "<p>Tom &amp; Jerry&#39;s &lt;b&gt;&quot;deal&quot;&lt;/b&gt;</p>"
				    "<p>Tom & Jerry's <b>\"deal\"</b></p><li>a&lt;b</li>\n");
	rendered_free(&r);
	tvars_free(v);
}

static void test_subject_is_one_line(void **state)
{
	(void)state;
	put("t", "en", "s.txt", "Subject: {{deal.title}}\r\nX-Ignored: 1\r\n\r\nbody\r\n");
	struct tvars *v = tvars_new();
	tvars_set(v, "deal.title", "evil\r\nBcc: victim@example.com");
	struct rendered r = render_ok("s", v);
	assert_null(strchr(r.subject, '\n'));
	assert_null(strchr(r.subject, '\r'));
	assert_string_equal(r.subject, "evil  Bcc: victim@example.com");
	assert_string_equal(r.text, "body\r\n");
	rendered_free(&r);
	tvars_free(v);
}

static void test_errors_with_lines(void **state)
{
	(void)state;
	expect_err("e1.txt", "Subject: x\n\nline 3\n{{dael.title}}\n", 4, "unknown variable \"dael.title\"");
	expect_err("e2.txt", "Subject: {{nope}}\n\nbody\n", 1, "unknown variable \"nope\"");
	expect_err("e3.txt", "a\nb\n{{#changes}}\n{{text}}\n", 3, "section \"changes\" is not closed");
	expect_err("e4.txt", "Subject: s\n\n{{#changes}}\n{{/errors}}\n", 4, "closes \"changes\"");
	expect_err("e5.txt", "Subject: s\n\n\n\n{{/changes}}\n", 5, "closes no open section");
	expect_err("e6.txt", "Subject: s\n\nok {{deal.title}}\nbroken {{deal.title\n", 4, "unterminated");
	expect_err("e7.txt", "{{#bogus.thing}}x{{/bogus.thing}}\n", 1, "unknown variable \"bogus.thing\"");
	expect_err("e8.txt", "{{deal title}}\n", 1, "bad character");
	/* the names under deal., rep., contact., digest. … are a fixed set: a typo is caught */
	expect_err("e9.txt", "Subject: s\n\n{{deal.titel}}\n", 3, "unknown variable \"deal.titel\"");
	expect_err("e10.txt", "Subject: {{rep.nmae}}\n\nx\n", 1, "unknown variable \"rep.nmae\"");
	/* inside a list section, element fields of any name are fine */
	put("t", "en", "ok.txt", "{{#events}}{{at}} {{whatever}} {{.}}{{/events}}{{^any.x}}{{lang}}{{/any.x}}\n");
	char *err = NULL;
	assert_int_equal(template_check(dir_of("t"), "en", "ok", &err), 0);
	assert_null(err);
	/* and the html is checked too */
	put("t", "en", "hb.txt", "Subject: s\n\nfine\n");
	put("t", "en", "hb.html", "<p>\n{{#any.x}}\n</p>\n");
	assert_int_equal(template_check(dir_of("t"), "en", "hb", &err), -1);
	assert_non_null(strstr(err, "/en/hb.html:2: "));
	free(err);
}

/* ---- lookup ------------------------------------------------------------------- */

static void test_lookup_order(void **state)
{
	(void)state;
	setenv("DEALMAIL_TEMPLATES_DIR", dir_of("shipped"), 1);
	assert_string_equal(template_shipped_dir(), dir_of("shipped"));
	put("shipped", "es", "x.txt", "Subject: es shipped\n\nshipped es\n");
	put("shipped", "es", "x.html", "<p>shipped es html</p>\n");
	put("shipped", "en", "x.txt", "Subject: en shipped\n\nshipped en\n");
	put("shipped", "en", "y.txt", "Subject: y en shipped\n\ny\n");
	put("over", "es", "x.txt", "Subject: es override\n\nover es\n");
	put("over", "en", "z.txt", "Subject: z override en\n\nz\n");

	struct rendered r;
	char *err = NULL;
	/* override/es wins; its HTML is not paired with the shipped one */
	assert_int_equal(template_render(dir_of("over"), "es", "x", NULL, &r, &err), 0);
	assert_string_equal(r.subject, "es override");
	assert_null(r.html);
	rendered_free(&r);
	/* without an override: the shipped text and HTML */
	assert_int_equal(template_render(NULL, "es", "x", NULL, &r, &err), 0);
	assert_string_equal(r.subject, "es shipped");
	assert_string_equal(r.html, "<p>shipped es html</p>\n");
	rendered_free(&r);
	/* pt missing everywhere: English, override first */
	assert_int_equal(template_render(dir_of("over"), "pt", "x", NULL, &r, &err), 0);
	assert_string_equal(r.subject, "en shipped");
	rendered_free(&r);
	assert_int_equal(template_render(dir_of("over"), "pt", "z", NULL, &r, &err), 0);
	assert_string_equal(r.subject, "z override en");
	rendered_free(&r);
	assert_int_equal(template_render(dir_of("over"), "es", "y", NULL, &r, &err), 0);
	assert_string_equal(r.subject, "y en shipped");
	rendered_free(&r);
	/* missing, and names that try to leave the folder */
	assert_int_equal(template_render(dir_of("over"), "es", "nothing", NULL, &r, &err), -1);
	assert_non_null(strstr(err, "nothing"));
	free(err);
	err = NULL;
	assert_int_equal(template_render(dir_of("over"), "es", "../en/x", NULL, &r, &err), -1);
	free(err);
	err = NULL;
	assert_int_equal(template_render(dir_of("over"), "../..", "x", NULL, &r, &err), 0); /* bad lang: English */
	assert_string_equal(r.subject, "en shipped");
	rendered_free(&r);
	assert_int_equal(template_check(NULL, "es", "nothing", &err), -1);
	free(err);
	unsetenv("DEALMAIL_TEMPLATES_DIR");
	/* a source-tree build uses the source tree's templates */
	assert_string_equal(template_shipped_dir(), DEALMAIL_SRCDIR "/templates");
}

/* ---- the shipped set ------------------------------------------------------------- */

static struct tvars *full_vars(bool picked)
{
	struct tvars *v = tvars_new();
	tvars_set(v, "rep.name", "Ana López");
	tvars_set(v, "rep.email", "ana@example.com");
	tvars_set(v, "message.subject", "Re: ACME <renovación>");
	tvars_set(v, "message.excerpt", "Nos interesa, ¿podemos hablar el martes?");
	tvars_set(v, "assistant.name", "Ventas");
	tvars_set(v, "assistant.address", "ventas@example.com");
	tvars_set(v, "undo.minutes", "60");
	tvars_set(v, "lang", "es");
	tvars_set(v, "deal.id", "12");
	tvars_set(v, "deal.tag", "[deal #12]");
	tvars_set(v, "deal.title", "ACME & Co renewal");
	tvars_set(v, "deal.stage", "Propuesta pendiente");
	tvars_set(v, "deal.value", "12,000.50");
	tvars_set(v, "deal.currency", "EUR");
	tvars_set(v, "deal.owner", "ana@example.com");
	tvars_set(v, "deal.score", "21");
	tvars_set(v, "deal.days", "15");
	if (picked)
		tvars_set(v, "deal.picked", "yes");
	tvars_set(v, "owner.name", "Ana López");
	tvars_set(v, "owner.email", "ana@example.com");
	tvars_set(v, "contact.email", "cliente@acme.mx");
	tvars_set(v, "contact.name", "Carlos Pérez");
	tvars_set(v, "contact.first_name", "Carlos");
	tvars_set(v, "unsubscribe.address", "ventas+u.1-abc@example.com");
	tvars_set(v, "unsubscribe.mailto", "mailto:ventas+u.1-abc@example.com?subject=unsubscribe");
	tvars_set(v, "sequence.name", "proposal-followup");
	tvars_set(tvars_push(v, "changes"), "text", "stage: Demo → Propuesta pendiente");
	tvars_set(tvars_push(v, "scheduled"), "text", "task: Llamar @ 2026-11-25");
	struct tvars *e = tvars_push(v, "errors");
	tvars_set(e, "line", "2");
	tvars_set(e, "text", "etapa: propusta");
	tvars_set(e, "reason", "unknown stage");
	tvars_set(e, "choices", "new, qualify, demo, proposal");
	tvars_set(e, "suggestion", "propuesta");
	e = tvars_push(v, "deals");
	tvars_set(e, "tag", "[deal #12]");
	tvars_set(e, "title", "ACME");
	tvars_set(e, "stage", "Demo");
	tvars_set(e, "value", "100");
	tvars_set(e, "owner", "ana@example.com");
	e = tvars_push(v, "events");
	tvars_set(e, "at", "2026-11-23T09:00:00Z");
	tvars_set(e, "by", "ana@example.com");
	tvars_set(e, "text", "stage: demo → proposal");
	return v;
}

static const char *const required[] = {
	"confirmation", "error", "help", "list", "history", "undo", "notify-reply", "notify-lead",
	"notify-stale", "notify-score", "notify-bounce", "notify-stage", "proposal-1", "proposal-2",
	"proposal-3", "proposal-4", "nurture-1", "nurture-2", "nurture-3", NULL,
};

static void test_shipped_templates(void **state)
{
	(void)state;
	unsetenv("DEALMAIL_TEMPLATES_DIR");
	static const char *const langs[] = {"es", "pt", "en"};
	for (size_t l = 0; l < 3; l++) {
		/* every required template exists in this very language */
		for (const char *const *t = required; *t; t++) {
			char p[512];
			snprintf(p, sizeof p, "%s/templates/%s/%s.txt", DEALMAIL_SRCDIR, langs[l], *t);
			struct stat st;
			if (stat(p, &st) < 0)
				print_error("missing %s\n", p);
			assert_int_equal(stat(p, &st), 0);
			if (!strncmp(*t, "proposal-", 9) || !strncmp(*t, "nurture-", 8)) {
				snprintf(p, sizeof p, "%s/templates/%s/%s.html", DEALMAIL_SRCDIR, langs[l], *t);
				assert_int_equal(stat(p, &st), 0);
			}
		}
		/* every .txt in the folder checks and renders */
		char dir[512];
		snprintf(dir, sizeof dir, "%s/templates/%s", DEALMAIL_SRCDIR, langs[l]);
		DIR *d = opendir(dir);
		assert_non_null(d);
		struct dirent *de;
		int n = 0;
		while ((de = readdir(d))) {
			size_t len = strlen(de->d_name);
			if (len < 5 || strcmp(de->d_name + len - 4, ".txt"))
				continue;
			char name[256];
			snprintf(name, sizeof name, "%.*s", (int)(len - 4), de->d_name);
			char *err = NULL;
			if (template_check(NULL, langs[l], name, &err) < 0)
				print_error("check %s/%s: %s\n", langs[l], name, err);
			assert_null(err);
			for (int picked = 0; picked < 2; picked++) {
				struct tvars *v = full_vars(picked);
				struct rendered r;
				int rc = template_render(NULL, langs[l], name, v, &r, &err);
				if (rc < 0)
					print_error("render %s/%s: %s\n", langs[l], name, err);
				assert_int_equal(rc, 0);
				assert_true(strlen(r.subject) > 0);
				assert_null(strstr(r.subject, "{{"));
				assert_null(strstr(r.text, "{{"));
				assert_null(strstr(r.text, "}}"));
				if (r.html) {
					assert_null(strstr(r.html, "{{"));
					assert_null(strstr(r.html, "ACME & Co")); /* escaped */
				}
				/* replies keep one "Re:" and the deal tag, for routing */
				if (!strcmp(name, "confirmation") || !strcmp(name, "error") || !strcmp(name, "undo") ||
				    !strcmp(name, "history")) {
					assert_string_equal(r.subject, "Re: ACME <renovación> [deal #12]");
				}
				if (!strcmp(name, "confirmation")) {
					assert_non_null(strstr(r.text, "stage: Demo → Propuesta pendiente"));
					assert_non_null(strstr(r.text, "task: Llamar @ 2026-11-25"));
					assert_non_null(strstr(r.text, "60"));
					assert_true(!!strstr(r.text, "#N") == !!picked);
				}
				if (!strcmp(name, "error")) {
					assert_non_null(strstr(r.text, "etapa: propusta"));
					assert_non_null(strstr(r.text, "\"propuesta\""));
					assert_non_null(strstr(r.text, "new, qualify, demo, proposal"));
				}
				if (!strncmp(name, "proposal-", 9) || !strncmp(name, "nurture-", 8)) {
					assert_non_null(strstr(r.text, "Carlos"));
					assert_non_null(strstr(r.text, "Ana López"));
					assert_null(strstr(r.subject, "[deal #"));  /* clients never see our tags */
					assert_non_null(r.html);
				}
				if (!strncmp(name, "notify-", 7))
					assert_non_null(strstr(r.subject, "[deal #12]"));
				rendered_free(&r);
				tvars_free(v);
			}
			n++;
		}
		closedir(d);
		assert_true(n >= 19);
	}
}

/* fuzz find: "aw:x…" becomes "Re: x…", one byte longer than its buffer
 * (tests/fuzz/crashes/template_render-subject_tidy-overflow-min) */
static void test_subject_prefix_grows(void **state)
{
	(void)state;
	char text[128];
	snprintf(text, sizeof text, "Subject: aw:%s\n\nbody\n",
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	put("t", "en", "grow.txt", text);
	struct tvars *v = tvars_new();
	struct rendered r = render_ok("grow", v);
	assert_string_equal(r.subject, "Re: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	rendered_free(&r);
	tvars_free(v);
}

/* The reply's subject keeps the rep's own form of the deal tag and does not
 * append ours for the same deal; another deal's tag goes (one tag, the
 * answer's). */
static void test_subject_other_tag_forms(void **state)
{
	(void)state;
	static const char *const cases[][3] = {
		{"RE: [oportunidade #2] Expansão Beta", "[deal #2]", "Re: [oportunidade #2] Expansão Beta"},
		{"Re: [Oportunidad #12] ACME", "[deal #12]", "Re: [Oportunidad #12] ACME"},
		{"[#7] pilot", "[deal #7]", "Re: [#7] pilot"},
		{"Re: [deal #3] Gamma", "[deal #3]", "Re: [deal #3] Gamma"},
		{"Re: [oportunidad #3] x", "[deal #4]", "Re: x [deal #4]"},
		{"Re: [#12] x", "[deal #2]", "Re: x [deal #2]"},
		{"Re: ACME [deal #3]", "[deal #1]", "Re: ACME [deal #1]"},
		{"[deal #3] [deal #13] x", "[deal #1]", "Re: x [deal #1]"},
		{"Re: x [deal #13]", "[deal #3]", "Re: x [deal #3]"},
		{"Re: [deal #3]", "", "Re: [deal #3]"},
	};
	put("t", "en", "re.txt", "Subject: Re: {{message.subject}} {{deal.tag}}\n\nbody\n");
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct tvars *v = tvars_new();
		tvars_set(v, "message.subject", cases[i][0]);
		tvars_set(v, "deal.tag", cases[i][1]);
		struct rendered r = render_ok("re", v);
		assert_string_equal(r.subject, cases[i][2]);
		rendered_free(&r);
		tvars_free(v);
	}
}

static void test_drip_without_first_name(void **state)
{
	(void)state;
	static const char *const langs[] = {"es", "pt", "en"};
	static const char *const bad[] = {"Hola :", "Olá, !", "Hi ,", "Hola  ", "Olá, ,"};
	for (size_t l = 0; l < 3; l++) {
		struct tvars *v = tvars_new();
		tvars_set(v, "deal.title", "ACME");
		tvars_set(v, "owner.name", "Ana");
		struct rendered r;
		char *err = NULL;
		assert_int_equal(template_render(NULL, langs[l], "proposal-1", v, &r, &err), 0);
		for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
			assert_null(strstr(r.text, bad[k]));
		rendered_free(&r);
		tvars_free(v);
	}
}

/* The confirmation lists what was scheduled under one heading, shown once
 * however many items there are (apply.c sets any.scheduled with the list),
 * and not at all when nothing was scheduled. */
static void test_confirmation_scheduled_heading(void **state)
{
	(void)state;
	static const char *const langs[] = {"es", "pt", "en"};
	static const char *const heads[] = {"Programado:", "Agendado:", "Scheduled:"};
	unsetenv("DEALMAIL_TEMPLATES_DIR");
	for (size_t l = 0; l < 3; l++)
		for (int items = 0; items <= 2; items++) {
			struct tvars *v = tvars_new();
			tvars_set(v, "deal.title", "ACME");
			tvars_set(v, "rep.name", "Ana");
			for (int i = 0; i < items; i++)
				tvars_setf(tvars_push(v, "scheduled"), "text", "item %d", i);
			if (items)
				tvars_set(v, "any.scheduled", "yes");
			struct rendered r;
			char *err = NULL;
			assert_int_equal(template_render(NULL, langs[l], "confirmation", v, &r, &err), 0);
			int n = 0;
			for (const char *p = r.text; (p = strstr(p, heads[l])); p++)
				n++;
			if (n != (items ? 1 : 0))
				print_error("%s, %d item(s): heading %d times:\n%s\n", langs[l], items, n, r.text);
			assert_int_equal(n, items ? 1 : 0);
			assert_true(items < 2 || strstr(r.text, "item 1"));
			rendered_free(&r);
			tvars_free(v);
		}
}

/* A manager's answer to a digest changes several deals and has no deal of
 * its own: the confirmation's first sentence must not name an empty deal;
 * with a deal it names it.  The history names the message of each change. */
static void test_confirmation_without_deal_and_history_source(void **state)
{
	(void)state;
	static const char *const langs[] = {"es", "pt", "en"};
	static const char *const moved[] = {"está ahora en", "agora está em", "is now in"};
	static const char *const done[] = {"Listo.", "Feito.", "Done."};
	unsetenv("DEALMAIL_TEMPLATES_DIR");
	for (size_t l = 0; l < 3; l++)
		for (int with_deal = 0; with_deal <= 1; with_deal++) {
			struct tvars *v = tvars_new();
			tvars_set(v, "rep.name", "María");
			if (with_deal) {
				tvars_set(v, "deal.tag", "[deal #1]");
				tvars_set(v, "deal.title", "ACME");
				tvars_set(v, "deal.stage", "Demo");
			}
			tvars_set(tvars_push(v, "changes"), "text", "#1 stage: demo");
			struct rendered r;
			char *err = NULL;
			assert_int_equal(template_render(NULL, langs[l], "confirmation", v, &r, &err), 0);
			assert_non_null(strstr(r.text, done[l]));
			assert_true(with_deal ? strstr(r.text, moved[l]) != NULL : strstr(r.text, moved[l]) == NULL);
			assert_null(strstr(r.text, "«»"));
			assert_null(strstr(r.text, "\"\""));
			rendered_free(&r);
			tvars_free(v);
		}
	for (size_t l = 0; l < 3; l++) {
		struct tvars *v = tvars_new();
		tvars_set(v, "deal.tag", "[deal #1]");
		struct tvars *e = tvars_push(v, "events");
		tvars_set(e, "at", "2026-11-23T15:00:00Z");
		tvars_set(e, "by", "ana@example.com");
		tvars_set(e, "text", "stage: demo → proposal");
		tvars_set(e, "source", "<m1@mail.example.com>");
		struct rendered r;
		char *err = NULL;
		assert_int_equal(template_render(NULL, langs[l], "history", v, &r, &err), 0);
		assert_non_null(strstr(r.text, "<m1@mail.example.com>"));
		rendered_free(&r);
		tvars_free(v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_confirmation_without_deal_and_history_source),
		cmocka_unit_test(test_variables_and_sections),
		cmocka_unit_test(test_nested_lists),
		cmocka_unit_test(test_html_escaping),
		cmocka_unit_test(test_subject_is_one_line),
		cmocka_unit_test(test_errors_with_lines),
		cmocka_unit_test(test_lookup_order),
		cmocka_unit_test(test_shipped_templates),
		cmocka_unit_test(test_drip_without_first_name),
		cmocka_unit_test(test_confirmation_scheduled_heading),
		cmocka_unit_test(test_subject_prefix_grows),
		cmocka_unit_test(test_subject_other_tag_forms),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
