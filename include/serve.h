/* serve.h — `dealmail serve`: process the MTA pipe's messages handed over
 * the Unix socket of [dealmail] socket (handoff.h says how and why). */
#ifndef DEALMAIL_SERVE_H
#define DEALMAIL_SERVE_H
#include "app.h"

/* Listen until SIGTERM or SIGINT.  `open` loads the configuration (from
 * `config_path`, looked at again before each message) and opens the
 * database; it is called again whenever one of them changes.  Returns an
 * exit code: 0 after a signal, 78 without a usable config or socket, 73 when
 * the socket cannot be made, 75 when another serve listens there. */
int serve_run(const char *config_path, int (*open)(struct app *));

#endif
