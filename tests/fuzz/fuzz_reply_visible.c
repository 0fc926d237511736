/* libFuzzer: reply_visible() and reply_forwarded() on arbitrary text. */
#include "reply.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	char *v = reply_visible(s);
	free(v);
	struct fwd_block fb;
	memset(&fb, 0, sizeof fb);
	if (reply_forwarded(s, &fb))
		fwd_block_free(&fb);
	free(s);
	return 0;
}
