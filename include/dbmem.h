/* dbmem.h — SQLite's memory allocator with small blocks reused per thread
 * (see dbmem.c).  Internal to db.c. */
#ifndef DEALMAIL_DBMEM_H
#define DEALMAIL_DBMEM_H

/* Make it SQLite's; before SQLite is first used (the first open). */
void dbmem_install(void);
#endif
