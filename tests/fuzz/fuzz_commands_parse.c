/* libFuzzer: commands_parse() (SPEC 3.5 grammar, PCRE2) on arbitrary visible text. */
#include "command.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	struct command_list l = {0};
	commands_parse(s, "2026-11-23", &l);
	for (size_t i = 0; i < l.n; i++)
		(void)command_keyword(l.v[i].kind);
	commands_free(&l);
	free(s);
	return 0;
}
