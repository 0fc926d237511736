/* template.h — `{{…}}` templates for outgoing mail (SPEC §4).
 *
 * A template file is a header block (`Subject: …`, blank line) then the body.
 * `{{a.b}}` variables, `{{#x}}…{{/x}}` sections (shown when x is set, not
 * empty and not "0"/"false"; repeated for a list), `{{^x}}…{{/x}}` inverted
 * sections.  In `.html` templates values are HTML-escaped; `{{{x}}}` is raw.
 * Lookup: `<override dir>/<lang>/NAME.txt`, then the shipped set, then the
 * same two in English. */
#ifndef DEALMAIL_TEMPLATE_H
#define DEALMAIL_TEMPLATE_H
#include <stddef.h>
#include <stdbool.h>

struct tvars;  /* opaque: a tree of named values and lists */

struct tvars *tvars_new(void);
void tvars_free(struct tvars *v);
/* Set a dotted name ("deal.title") to a string (copied); NULL value = unset. */
void tvars_set(struct tvars *v, const char *name, const char *value);
void tvars_setf(struct tvars *v, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Append an element to the list `name` and return it for filling (owned by v). */
struct tvars *tvars_push(struct tvars *v, const char *name);

struct rendered {
	char *subject;   /* from the header block, rendered; "" if none */
	char *text;      /* body, rendered */
	char *html;      /* rendered NAME.html, or NULL when there is none */
};

/* Render template `name` in `lang` ("es"/"pt"/"en").  `override_dir` may be
 * NULL.  Returns 0, or -1 with *err_r set to a malloc'd "file:line: message"
 * (unknown variable, unbalanced section, missing template). */
int template_render(const char *override_dir, const char *lang, const char *name,
		    const struct tvars *v, struct rendered *out, char **err_r);
void rendered_free(struct rendered *r);
/* Check a template's syntax without values (for `config check`); 0 or -1. */
int template_check(const char *override_dir, const char *lang, const char *name, char **err_r);
/* Forget the template files read so far (they are cached per process). */
void template_cache_clear(void);
/* The shipped template directory in use (installed or source tree). */
const char *template_shipped_dir(void);

#endif
