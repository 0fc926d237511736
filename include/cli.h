/* cli.h — opening the application for a command (config, database, secret).
 * Defined in main.c; used by the command files (deliver.c, watch.c, …). */
#ifndef DEALMAIL_CLI_H
#define DEALMAIL_CLI_H
#include "app.h"

/* Open config, database and secret; `create` = init semantics.  Returns 0 or
 * a sysexits code (message already printed). */
int app_open(struct app *app, bool create);
/* The same with an explicit database mode (DB_READONLY for commands that
 * only read: they then work on a read-only database). */
int app_open_mode(struct app *app, enum db_mode mode);
void app_close(struct app *app);

#endif
