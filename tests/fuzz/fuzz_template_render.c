/* libFuzzer: template_render() and template_check() of an arbitrary template
 * (written as <tmpdir>/en/fuzz.txt or .html: the first input byte picks),
 * with a realistic tree of values including a list and hostile values. */
#include "template.h"
#include "fuzz_common.h"
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[4000];

static void write_file(const char *p, const uint8_t *data, size_t size)
{
	FILE *f = fopen(p, "wb");
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char p[4096];
	if (!dir[0]) {
		if (snprintf(dir, sizeof dir, "%s/dealmail-fuzz-tpl-%d", fuzz_tmpdir(), (int)getpid()) >= (int)sizeof dir)
			abort();
		mkdir(dir, 0700);
		snprintf(p, sizeof p, "%s/en", dir);
		mkdir(p, 0700);
	}
	/* template.c keeps every file it read (absent ones too) for the process:
	 * without this each input would render the first input's text */
	template_cache_clear();
	bool html = size > 0 && (data[0] & 1);
	snprintf(p, sizeof p, "%s/en/fuzz.txt", dir);
	write_file(p, data, size);
	snprintf(p, sizeof p, "%s/en/fuzz.html", dir);
	if (html)
		write_file(p, data, size);
	else
		unlink(p);

	struct tvars *v = tvars_new();
	tvars_set(v, "deal.title", "ACME <renewal> & \"{{deal.title}}\"");
	tvars_set(v, "deal.value", "12000");
	tvars_set(v, "deal.id", "1");
	tvars_set(v, "contact.first_name", "Ana\r\nBcc: x@evil.example");
	tvars_set(v, "rep.name", "Ana López");
	tvars_set(v, "empty", "");
	tvars_set(v, "zero", "0");
	for (int i = 0; i < 3; i++) {
		struct tvars *it = tvars_push(v, "changes");
		tvars_setf(it, "text", "change %d {{rep.name}}", i);
		struct tvars *sub = tvars_push(it, "lines");
		tvars_set(sub, "x", "y");
	}
	struct rendered r;
	memset(&r, 0, sizeof r);
	char *err = NULL;
	if (template_render(dir, "en", "fuzz", v, &r, &err) == 0)
		rendered_free(&r);
	free(err);
	err = NULL;
	(void)template_check(dir, "en", "fuzz", &err);
	free(err);
	tvars_free(v);
	return 0;
}
