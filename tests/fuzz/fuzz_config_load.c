/* libFuzzer: config_load() of an arbitrary INI file (written to a temp file,
 * as config_load reads a path), every diagnostic formatted. */
#include "config.h"
#include "fuzz_common.h"
#include <stdio.h>
#include <unistd.h>

static char path[4096];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!path[0] && snprintf(path, sizeof path, "%s/dealmail-fuzz-config-%d.conf", fuzz_tmpdir(),
				 (int)getpid()) >= (int)sizeof path)
		abort();
	FILE *f = fopen(path, "wb");
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	struct diag d = {0};
	struct config *cfg = config_load(path, &d);
	if (cfg)
		config_free(cfg);
	for (size_t i = 0; i < d.n; i++)
		if (!d.v[i])
			__builtin_trap();
	diag_free(&d);
	return 0;
}
