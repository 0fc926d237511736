/* source.h — the file sources of inbound mail: one message on stdin (the MTA
 * pipe, run in a child process under a deadline), files, a Maildir, an mbox.
 * Each hands raw bytes to process_message() and acknowledges a message only
 * after its commit is durable. */
#ifndef DEALMAIL_SOURCE_H
#define DEALMAIL_SOURCE_H
#include "app.h"

/* Read a whole file ("-" = stdin) into memory; NULL on error (errno set). */
char *read_file(const char *path, size_t *len_r);
/* The same, keeping at most `max` bytes (the rest is read and dropped);
 * *total_r is the full size. */
char *read_file_max(const char *path, size_t max, size_t *len_r, size_t *total_r);
/* The MTA pipe: stdin (at most `max` bytes kept), processed in a vfork()ed
 * child with `timeout` seconds; any crash or overrun becomes 75.  `work` gets
 * the total size too, to tell a cut message from a whole one.  The child
 * shares the caller's memory and frees what `work` uses: the caller must
 * _exit() with the result, touching nothing more. */
int source_pipe(int (*work)(void *ctx, const char *raw, size_t len, size_t total), void *ctx,
		int timeout, size_t max);
/* In source_pipe's worker: the verdict `code` is final (the commit is
 * durable): should the worker die after this, the MTA still gets `code`.
 * The worker's stdio goes to /dev/null, so that nothing it logs next
 * (closing the database) reaches the MTA. */
void source_pipe_release(int code);
/* One message of the MTA pipe (from source_pipe's worker or from `serve`):
 * processed, or its head quarantined when `total` is over the limit.  The
 * verdict for the MTA: 0, 65 or 75, with in `line` the RFC 3463 line to
 * print when there is one beyond what processing printed itself. */
int source_pipe_message(struct app *app, const char *raw, size_t len, size_t total, char *line, size_t linesz);
/* Any exit code as the pipe's verdict: 0, 65 and 75 stay; the rest become
 * 75 with a line saying so in `line` (else empty). */
int pipe_verdict_of(int rc, char *line, size_t linesz);
int source_files(struct app *app, char **files, int n);
int source_maildir(struct app *app, const char *dir);
int source_mbox(struct app *app, const char *path);

#endif
