/* libFuzzer: parse_amount() and parse_date().  The input is one value; when it
 * holds a '\n', the part before it is also tried as the "today" anchor (a
 * malformed anchor must not crash either). */
#include "command.h"
#include "fuzz_common.h"
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	double amount = 0;
	char cur[4] = "", date[11] = "";
	(void)parse_amount(s, &amount, cur);
	if (memchr(cur, '\0', sizeof cur) == NULL)
		__builtin_trap();   /* currency must stay a C string */
	(void)parse_date(s, "2026-11-23", date);
	if (memchr(date, '\0', sizeof date) == NULL)
		__builtin_trap();
	char *nl = strchr(s, '\n');
	if (nl) {
		*nl = '\0';
		char today[11];
		snprintf(today, sizeof today, "%s", s);   /* as long as a date can be */
		(void)parse_date(nl + 1, today, date);
	}
	free(s);
	return 0;
}
