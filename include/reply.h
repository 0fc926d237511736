/* reply.h — the new text of a reply: quoted history and signatures cut.
 *
 * Owns the client-specific knowledge (Gmail, Outlook desktop/365 with es/pt/en
 * header blocks, Apple Mail, Thunderbird, iOS/Android mobile, `-- `
 * signatures, "Sent from my…" / "Enviado desde mi…" / "Enviado do meu…"),
 * and the parse of an inline forwarded-message header block. */
#ifndef DEALMAIL_REPLY_H
#define DEALMAIL_REPLY_H
#include <stdbool.h>

/* The visible (new) part of a plain-text body (UTF-8, LF line ends):
 * everything from the first quote/attribution/Outlook header block/signature/
 * "sent from" line on is dropped; lines starting with '>' anywhere are
 * dropped; an inline forwarded block ("---------- Forwarded message ---------",
 * "-------- Mensaje reenviado --------", "Begin forwarded message:",
 * "Início da mensagem encaminhada:", …) ends the visible text too.
 * Trailing blank lines trimmed.  malloc'd. */
char *reply_visible(const char *text);

/* An inline forwarded-message block found in a body. Raw header values as
 * written (the caller parses addresses); NULL when the line was absent. */
struct fwd_block {
	char *from, *to, *cc, *subject, *date;
};

/* Find an inline forwarded-message block in `text` (Gmail "---------- Forwarded
 * message ---------", Outlook "-----Original Message-----"/"De: … Enviado: …"
 * blocks used for forwards, Apple Mail "Begin forwarded message:", es/pt
 * variants "Mensaje reenviado", "Mensagem encaminhada", …) and parse its
 * header lines (From/De, To/Para, Cc/CC, Subject/Asunto/Assunto,
 * Date/Sent/Fecha/Enviado/Data; Gmail's "*From:*" bold markers too).
 * Returns true and fills *out (free with fwd_block_free) when found. */
bool reply_forwarded(const char *text, struct fwd_block *out);
void fwd_block_free(struct fwd_block *f);

/* reply_visible() and reply_forwarded() of the same text (NULL is ""),
 * splitting it into lines once: the batch asks both of a rep's message. */
char *reply_visible_forwarded(const char *text, struct fwd_block *out, bool *found_r);

#endif
