/* fuzz_common.h — helpers shared by the libFuzzer targets (tests/fuzz/run.sh). */
#ifndef DEALMAIL_FUZZ_COMMON_H
#define DEALMAIL_FUZZ_COMMON_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A NUL-terminated copy of the fuzz input (embedded NULs stay: C string
 * functions see the prefix, as they would for text handed on by message.c). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Where a target writes its temporary files: $TMPDIR (run.sh gives each run a
 * directory of its own and removes it afterwards), else /tmp. */
static inline const char *fuzz_tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	return t && *t ? t : "/tmp";
}
#endif
