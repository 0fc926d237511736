/* libFuzzer: message_parse() on raw bytes (pre-scan, libetpan MIME, RFC 2047,
 * charsets, flowed, HTML -> text, DSN, forwards), then every accessor. */
#include "message.h"
#include "reply.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct message_limits lim;
	struct message *m = NULL;
	const char *why = NULL;
	message_limits_default(&lim);
	if (message_parse((const char *)data, size, &lim, &m, &why) == MESSAGE_OK && m) {
		size_t pos = 0;
		(void)message_header(m, "Subject");
		while (message_header_next(m, "Received", &pos))
			;
		/* what process.c does next with the text */
		char *vis = reply_visible(m->text ? m->text : "");
		free(vis);
		message_free(m);
	}
	return 0;
}
