/* dbvfs.h — the VFS db.c opens databases with: SQLite's default one, with
 * the writes of a WAL file gathered into few large ones (see dbvfs.c).
 * Internal to db.c. */
#ifndef DEALMAIL_DBVFS_H
#define DEALMAIL_DBVFS_H
#include <sqlite3.h>
#include <stdbool.h>

#define DBVFS_NAME "dealmail-gather"

/* The VFS's name for sqlite3_open_v2() (registered on the first call), or
 * NULL when it could not be registered (then use the default VFS). */
const char *dbvfs_name(void);

/* Gather the writes of WAL file `f` (SQLITE_FCNTL_JOURNAL_POINTER) or stop
 * (writing what is gathered).  Only for a connection whose commits sync the
 * WAL (synchronous=FULL or EXTRA).  False when `f` is not one of ours, is not
 * a WAL, or a write failed. */
bool dbvfs_gather(sqlite3_file *f, bool on);
#endif
