/* db.c — SQLite: pragmas, migrations, transactions, cached statements.
 * See db.h for the rules.  The schema is versioned with PRAGMA user_version;
 * each entry of `migrations` moves the database one version forward and runs
 * inside one transaction, so an interrupted `init` leaves the old version. */
#include "db.h"
#include "buf.h"
#include "dbmem.h"
#include "dbvfs.h"
#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CACHE_SIZE 128

/* A cached statement.  `cursor`: a db_query() cursor may have left it
 * stepped (every other use resets it before it returns). */
struct stmt {
	const char *sql;
	sqlite3_stmt *st;
	bool cursor;
};

struct dbq {
	struct db *db;
	struct stmt *s;
	sqlite3_stmt *st;
	bool failed;
};

struct db {
	sqlite3 *h;
	int busy_ms;                  /* how long to wait for a lock */
	struct timespec busy_since;   /* when the current wait began */
	unsigned jitter;
	struct stmt cache[CACHE_SIZE];
	char *err;
	bool tempfail;
	int wal_frames;  /* frames in the WAL after our last commit */
	int ckpt_at;     /* > 0: checkpoint on close only from this many frames */
	bool gather;     /* the WAL's writes should be gathered (synced commits) */
	bool gathering;  /* and are: the WAL file is open and was told */
	unsigned rollbacks;
};

static const char *const migrations[] = {
	/* version 1 */
	"CREATE TABLE contacts("
	"  id INTEGER PRIMARY KEY,"
	"  email TEXT NOT NULL UNIQUE,"
	"  name TEXT,"
	"  owner TEXT,"
	"  bouncing INTEGER NOT NULL DEFAULT 0,"
	"  unsubscribed INTEGER NOT NULL DEFAULT 0,"
	"  created_at TEXT NOT NULL,"
	"  last_activity TEXT);"
	"CREATE TABLE deals("
	"  id INTEGER PRIMARY KEY,"
	"  title TEXT NOT NULL,"
	"  contact_id INTEGER REFERENCES contacts(id),"
	"  stage TEXT NOT NULL,"
	"  initial_stage TEXT NOT NULL,"
	"  status TEXT NOT NULL DEFAULT 'open' CHECK(status IN ('open','won','lost')),"
	"  reason TEXT,"
	"  value REAL,"
	"  currency TEXT,"
	"  owner TEXT,"
	"  close_date TEXT,"
	"  probability INTEGER,"
	"  score INTEGER NOT NULL DEFAULT 0,"
	"  source TEXT NOT NULL DEFAULT 'manual',"
	"  created_at TEXT NOT NULL,"
	"  stage_since TEXT NOT NULL,"
	"  last_activity TEXT NOT NULL,"
	"  closed_at TEXT,"
	"  stale_fired INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX deals_contact ON deals(contact_id, status, last_activity);"
	"CREATE INDEX deals_owner ON deals(owner, status);"
	"CREATE INDEX deals_stage ON deals(stage, stage_since);"
	"CREATE INDEX deals_created ON deals(created_at);"
	"CREATE TABLE deal_shares("
	"  deal_id INTEGER NOT NULL REFERENCES deals(id),"
	"  rep TEXT NOT NULL,"
	"  PRIMARY KEY(deal_id, rep));"
	"CREATE TABLE events("
	"  id INTEGER PRIMARY KEY,"
	"  deal_id INTEGER NOT NULL REFERENCES deals(id),"
	"  type TEXT NOT NULL,"
	"  from_val TEXT,"
	"  to_val TEXT,"
	"  reason TEXT,"
	"  by TEXT,"
	"  at TEXT NOT NULL,"
	"  message_id TEXT,"
	"  undone INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX events_deal ON events(deal_id, id);"
	"CREATE INDEX events_message ON events(message_id);"
	"CREATE INDEX events_at ON events(at);"
	"CREATE INDEX events_stage_at ON events(at) WHERE type = 'stage' AND undone = 0;"
	"CREATE TABLE activities("
	"  id INTEGER PRIMARY KEY,"
	"  deal_id INTEGER REFERENCES deals(id),"
	"  sender TEXT,"
	"  subject TEXT,"
	"  body TEXT,"
	"  message_id TEXT,"
	"  at TEXT NOT NULL);"
	"CREATE INDEX activities_deal ON activities(deal_id);"      /* dropped in version 5 */
	"CREATE INDEX activities_message ON activities(message_id);"
	"CREATE TABLE tasks("
	"  id INTEGER PRIMARY KEY,"
	"  deal_id INTEGER NOT NULL REFERENCES deals(id),"
	"  owner TEXT,"
	"  text TEXT NOT NULL,"
	"  due TEXT,"
	"  done INTEGER NOT NULL DEFAULT 0,"
	"  created_at TEXT NOT NULL,"
	"  message_id TEXT,"
	"  reminded INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX tasks_deal ON tasks(deal_id);"
	"CREATE INDEX tasks_due ON tasks(done, due);"
	"CREATE TABLE enrollments("
	"  id INTEGER PRIMARY KEY,"
	"  deal_id INTEGER NOT NULL REFERENCES deals(id),"
	"  sequence TEXT NOT NULL,"
	"  step INTEGER NOT NULL DEFAULT 1,"
	"  status TEXT NOT NULL DEFAULT 'active',"
	"  started_at TEXT NOT NULL,"
	"  next_at TEXT,"
	"  stopped_reason TEXT,"
	"  message_id TEXT);"
	"CREATE INDEX enrollments_deal ON enrollments(deal_id, status);"
	"CREATE INDEX enrollments_due ON enrollments(status, next_at);"
	"CREATE TABLE processed("
	"  message_id TEXT PRIMARY KEY,"
	"  at TEXT NOT NULL,"
	"  outcome TEXT NOT NULL,"
	"  class TEXT,"
	"  sender TEXT,"
	"  deal_id INTEGER);"
	"CREATE TABLE outbox("
	"  id INTEGER PRIMARY KEY,"
	"  kind TEXT NOT NULL,"
	"  deal_id INTEGER,"
	"  rcpt TEXT NOT NULL,"
	"  envelope_from TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  message_id TEXT NOT NULL UNIQUE,"
	"  cause_message_id TEXT,"
	"  raw BLOB NOT NULL,"
	"  status TEXT NOT NULL DEFAULT 'queued',"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt TEXT,"
	"  last_error TEXT,"
	"  created_at TEXT NOT NULL,"
	"  sent_at TEXT,"
	"  enrollment_id INTEGER,"
	"  step INTEGER);"
	"CREATE INDEX outbox_due ON outbox(status, next_attempt);"
	"CREATE INDEX outbox_rcpt ON outbox(rcpt, created_at, kind);"
	"CREATE INDEX outbox_cause ON outbox(cause_message_id);"
	"CREATE UNIQUE INDEX outbox_step ON outbox(enrollment_id, step) WHERE enrollment_id IS NOT NULL;"
	"CREATE TABLE quarantine("
	"  id INTEGER PRIMARY KEY,"
	"  reason TEXT NOT NULL,"
	"  raw BLOB NOT NULL,"
	"  bytes INTEGER NOT NULL,"
	"  sha256 TEXT NOT NULL,"
	"  source TEXT,"
	"  at TEXT NOT NULL);"
	"CREATE TABLE mailboxes("
	"  name TEXT PRIMARY KEY,"
	"  uidvalidity INTEGER NOT NULL,"
	"  last_uid INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE digests("
	"  recipient TEXT NOT NULL,"
	"  day TEXT NOT NULL,"
	"  sent_at TEXT NOT NULL,"
	"  PRIMARY KEY(recipient, day));"
	"CREATE TABLE state(key TEXT PRIMARY KEY, value TEXT);",
	/* version 2: the confirmation lists what a message's triggers scheduled */
	"CREATE INDEX tasks_message ON tasks(message_id);"
	"CREATE INDEX enrollments_message ON enrollments(message_id);",
	/* version 3: a digest's "moves since the last one" start from the
	 * recipient's deals, not from every stage change of the period */
	"CREATE INDEX events_stage_deal ON events(deal_id, at) WHERE type = 'stage' AND undone = 0;",
	/* version 4: events_at (every event by time) serves no query; each
	 * event written kept it up to date, a tenth of an event's cost */
	"DROP INDEX IF EXISTS events_at;",
	/* version 5: nothing reads activities by deal or by message (they are
	 * kept for the record and exported whole), and the two indexes were
	 * written for every message a contact or rep sends: 2.7 % of the
	 * applying thread's instructions in a batch (callgrind, 2,000 messages).
	 * A feature that reads them by deal creates its index again. */
	"DROP INDEX IF EXISTS activities_deal;"
	"DROP INDEX IF EXISTS activities_message;",
	/* version 6: when a delivery failed for good, for the next digest's
	 * "failed deliveries" (a message queued before the previous digest
	 * that failed after it was never shown) */
	"ALTER TABLE outbox ADD COLUMN failed_at TEXT;",
	/* version 7: the same CHECK on deals.status without IN: SQLite checks
	 * an IN list of three or more by building a temporary table, on every
	 * UPDATE of a deal's stage and every INSERT of a deal (7 % of the
	 * applying thread's instructions in a batch).  The condition is the
	 * same, so the rows need no rewriting: the table's text is edited in
	 * place as SQLite's ALTER TABLE page describes for changing a CHECK
	 * (migrate() bumps the schema version, which makes every connection
	 * read the schema again). */
	"PRAGMA writable_schema = ON;"
	"UPDATE sqlite_schema SET sql = replace(sql, 'CHECK(status IN (''open'',''won'',''lost''))',"
	"  'CHECK(status = ''open'' OR status = ''won'' OR status = ''lost'')')"
	"  WHERE type = 'table' AND name = 'deals';"
	"PRAGMA writable_schema = OFF;",
};
#define MIGRATION_EDITS_SCHEMA 7

static void set_err(struct db *db, int rc, const char *what)
{
	if (db->err)
		return;
	int ext = db->h ? sqlite3_extended_errcode(db->h) : rc;
	int prim = ext & 0xff;
	int sys = db->h ? sqlite3_system_errno(db->h) : 0;
	/* temporary: locked past the timeout, out of memory, or out of disk
	 * (which SQLite may report as an I/O error with ENOSPC underneath) */
	db->tempfail = prim == SQLITE_BUSY || prim == SQLITE_LOCKED || prim == SQLITE_FULL ||
		       ext == SQLITE_IOERR_NOMEM || prim == SQLITE_NOMEM ||
		       ((prim == SQLITE_IOERR || prim == SQLITE_CANTOPEN) && (sys == ENOSPC || sys == EDQUOT));
	db->err = xasprintf("%s: %s", what, db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
}

const char *db_error(struct db *db) { return db->err; }
bool db_tempfail(struct db *db) { return db->tempfail; }
void db_clear_error(struct db *db)
{
	free(db->err);
	db->err = NULL;
	db->tempfail = false;
}

static int exec_plain(struct db *db, const char *sql)
{
	char *msg = NULL;
	if (db->err)
		return -1;
	int rc = sqlite3_exec(db->h, sql, NULL, NULL, &msg);
	sqlite3_free(msg);
	if (rc != SQLITE_OK) {
		set_err(db, rc, "database");
		return -1;
	}
	return 0;
}

/* After an edit of sqlite_schema: a new schema version, so that every
 * connection (this one too) parses the schema again. */
static int bump_schema(struct db *db)
{
	char pragma[64];
	int64_t v = db_int(db, -1, "PRAGMA schema_version", "");
	if (v < 0)
		return -1;
	snprintf(pragma, sizeof pragma, "PRAGMA schema_version = %lld", (long long)v + 1);
	return exec_plain(db, pragma);
}

static int migrate(struct db *db, bool create, bool readonly, char **err_r)
{
	int version = (int)db_int(db, 0, "PRAGMA user_version", "");
	int target = (int)(sizeof migrations / sizeof migrations[0]);
	_Static_assert(sizeof migrations / sizeof migrations[0] == DB_SCHEMA_VERSION, "DB_SCHEMA_VERSION");
	if (version > target) {
		*err_r = xasprintf("database schema version %d is newer than this dealmail (%d)", version, target);
		return -1;
	}
	if (version == target)
		return 0;
	if (!create && (version == 0 || readonly)) {
		*err_r = xstrdup(version == 0 ? "database not initialised: run `dealmail init`"
					      : "database schema is old: run `dealmail init` to upgrade");
		return -1;
	}
	for (int v = version; v < target; v++) {
		char pragma[64];
		if (db_begin(db) < 0)
			goto fail;
		/* re-check under the write lock: another init may have run */
		if ((int)db_int(db, 0, "PRAGMA user_version", "") > v) {
			db_rollback(db);
			continue;
		}
		snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v + 1);
		if (exec_plain(db, migrations[v]) < 0 || (v + 1 == MIGRATION_EDITS_SCHEMA && bump_schema(db) < 0) ||
		    exec_plain(db, pragma) < 0 || db_commit(db) < 0) {
			db_rollback(db);
			goto fail;
		}
	}
	return 0;
fail:
	*err_r = xstrdup(db->err ? db->err : "migration failed");
	return -1;
}

/* Waiting for a lock another process holds (the MTA runs several pipes at
 * once).  SQLite's own handler sleeps 1, 2, 5, 10, ... up to 100 ms between
 * tries, so a waiter often slept on long after the lock was free: 8
 * deliveries at once had a p99 of 0.7-1.2 s.  Ours tries again after 1, 2,
 * then 4 ms (plus up to half again, so that waiters do not wake together)
 * until busy_ms have passed: p99 0.2 s, the same throughput; the median
 * wait is longer (30 -> 50 ms), as the lock goes round fairly instead of to
 * whoever happens to wake first. */
static int on_busy(void *arg, int tries)
{
	struct db *db = arg;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (tries == 0)
		db->busy_since = now;
	long waited = (long)(now.tv_sec - db->busy_since.tv_sec) * 1000 +
		      (now.tv_nsec - db->busy_since.tv_nsec) / 1000000;
	if (waited >= db->busy_ms)
		return 0;
	db->jitter = db->jitter * 1103515245u + 12345u;
	long us = 1000L << (tries < 2 ? tries : 2);   /* 1, 2, 4 ms */
	us += (long)(db->jitter >> 16) % (us / 2 + 1);
	if (us > (long)(db->busy_ms - waited) * 1000)
		us = (long)(db->busy_ms - waited) * 1000;
	struct timespec d = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
	nanosleep(&d, NULL);
	return 1;
}

/* every rollback of a transaction, asked for or automatic (an error such as
 * SQLITE_FULL may end the transaction by itself) */
static void on_rollback(void *arg)
{
	((struct db *)arg)->rollbacks++;
}

/* Tell the VFS to gather the writes of the database file and its WAL, or to
 * stop; true when the WAL heard it (it is opened with the first read of a
 * database in WAL mode). */
static bool tell_vfs(struct db *db, bool on)
{
	sqlite3_file *f = NULL;
	if (sqlite3_file_control(db->h, "main", SQLITE_FCNTL_FILE_POINTER, &f) == SQLITE_OK && f)
		dbvfs_gather(f, on);
	f = NULL;
	return sqlite3_file_control(db->h, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f) == SQLITE_OK && f &&
	       dbvfs_gather(f, on);
}

/* Gathered writes once the files are open (see dbvfs.c): only while
 * commits sync the WAL. */
static void try_gather(struct db *db)
{
	if (db->gather && !db->gathering)
		db->gathering = tell_vfs(db, true);
}

/* Stop gathering (before commits stop syncing the WAL) or start again. */
static void set_gather(struct db *db, bool on)
{
	db->gather = on;
	if (on)
		try_gather(db);
	else if (db->gathering) {
		tell_vfs(db, false);
		db->gathering = false;
	}
}

struct db *db_open(const char *path, int busy_ms, enum db_mode mode, char **err_r, bool *tempfail_r)
{
	struct db *db = xcalloc(1, sizeof *db);
	bool create = mode == DB_CREATE;
	int flags = (mode == DB_READONLY ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
		    (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
	/* No memory statistics (nothing reads them): with them on, every
	 * allocation SQLite makes takes a global mutex.  Before the first open
	 * only; later calls are refused and change nothing. */
	static bool configured;
	if (!configured) {
		sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
		dbmem_install();
		configured = true;
	}
	int rc = sqlite3_open_v2(path, &db->h, flags, dbvfs_name());
	*tempfail_r = false;
	if (rc != SQLITE_OK) {
		/* the most common cause: a database nobody created yet */
		bool missing = !create && access(path, F_OK) < 0 && errno == ENOENT;
		*err_r = xasprintf("cannot open database %s: %s%s", path,
				   db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc),
				   missing ? " (no such file: run `dealmail init` first)" : "");
		goto fail;
	}
	sqlite3_extended_result_codes(db->h, 1);
	sqlite3_rollback_hook(db->h, on_rollback, db);
	db->busy_ms = busy_ms > 0 ? busy_ms : 5000;
	db->jitter = (unsigned)getpid();
	sqlite3_busy_handler(db->h, on_busy, db);
	/* WAL is a property of the file, set by init (a read-only open, for
	 * export, explain, deal list/show, writes nothing).  Sub-journals (a savepoint
	 * per message in a batch) stay in memory: in a temp file they were a
	 * dozen writes per message.  The page cache holds up to 8 MiB (SQLite's
	 * default is 2): a batch of 4,096 messages dirties some 2,000 pages, and
	 * with the default ones were spilled to the WAL in mid-transaction,
	 * written again at the commit, and every frame after the first rewritten
	 * one read back to redo its checksum (10,000 messages: 18,700 writes and
	 * 9,800 reads of the WAL; with 8 MiB, 730 writes (dbvfs.c gathers them)
	 * and the 4,700 reads of the checkpoints). */
	if (exec_plain(db, mode == DB_READONLY ? "PRAGMA foreign_keys=ON; PRAGMA cache_size=-8192;"
			   : mode == DB_CREATE ? "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL; "
						 "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-8192;"
					       : "PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL; PRAGMA temp_store=MEMORY; "
						 "PRAGMA cache_size=-8192;") < 0) {
		*err_r = xasprintf("cannot open database %s: %s", path, db->err);
		*tempfail_r = db->tempfail;
		goto fail;
	}
	if (mode != DB_READONLY) {
		/* Keep the WAL file (emptied, not deleted) when the last connection
		 * closes: one `ingest` per message on the MTA pipe would otherwise
		 * create it, sync its directory and delete it each time. */
		int on = 1;
		sqlite3_file_control(db->h, "main", SQLITE_FCNTL_PERSIST_WAL, &on);
		exec_plain(db, "PRAGMA journal_size_limit = 0");
	}
	if (migrate(db, create, mode == DB_READONLY, err_r) < 0) {
		*tempfail_r = db->tempfail;
		goto fail;
	}
	db->gather = mode != DB_READONLY;   /* commits sync the WAL: see dbvfs.c */
	try_gather(db);
	return db;
fail:
	db_close(db);
	return NULL;
}

static int wal_hook(void *arg, sqlite3 *h, const char *name, int frames)
{
	(void)h;
	(void)name;
	((struct db *)arg)->wal_frames = frames;
	return SQLITE_OK;
}

/* One short-lived process per message (the MTA pipe): closing the last
 * connection would checkpoint and empty the WAL each time -- four syncs and
 * two truncations, more than the commit itself.  Instead the WAL is left to
 * grow to `frames` (the next process's open re-reads it, which costs little
 * at that size) and the process that reaches it checkpoints and truncates. */
void db_lazy_checkpoint(struct db *db, int frames)
{
	db->ckpt_at = frames;
	sqlite3_db_config(db->h, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	sqlite3_wal_hook(db->h, wal_hook, db);   /* replaces the autocheckpoint */
}

void db_keep_wal(struct db *db, long long bytes)
{
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA journal_size_limit = %lld", bytes);
	exec_plain(db, sql);
}

void db_close(struct db *db)
{
	if (!db)
		return;
	for (int i = 0; i < CACHE_SIZE; i++)
		if (db->cache[i].st)
			sqlite3_finalize(db->cache[i].st);
	if (db->h && db->ckpt_at > 0 && db->wal_frames >= db->ckpt_at) {
		/* never wait here: with another process in the database this does
		 * what it can and the next one over the mark tries again (a process
		 * that opens a database nobody else has open re-reads the WAL, so
		 * only a WAL emptied by TRUNCATE stops growing) */
		sqlite3_busy_timeout(db->h, 0);
		sqlite3_wal_checkpoint_v2(db->h, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	}
	if (db->h)
		sqlite3_close(db->h);
	free(db->err);
	free(db);
}

void db_set_sync(struct db *db, bool full)
{
	/* a commit without a sync publishes its frames with no call on the WAL
	 * file in between: gathered writes must stop before it (dbvfs.c) */
	if (!full)
		set_gather(db, false);
	exec_plain(db, full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
	if (full)
		set_gather(db, true);
}

int db_checkpoint(struct db *db)
{
	int rc = sqlite3_wal_checkpoint_v2(db->h, NULL, SQLITE_CHECKPOINT_FULL, NULL, NULL);
	if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
		set_err(db, rc, "checkpoint");
		return -1;
	}
	return 0;
}

int db_begin(struct db *db)
{
	int rc = exec_plain(db, "BEGIN IMMEDIATE");
	try_gather(db);   /* a no-op once it is done */
	return rc;
}
int db_commit(struct db *db) { return exec_plain(db, "COMMIT"); }
void db_rollback(struct db *db)
{
	if (!sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}
/* prepared once and cached like any statement: a batch takes one per message */
int db_savepoint(struct db *db) { return db_exec(db, "SAVEPOINT m", ""); }
int db_release(struct db *db) { return db_exec(db, "RELEASE m", ""); }
unsigned db_rollbacks(const struct db *db) { return db->rollbacks; }

void db_rollback_to(struct db *db)
{
	db->rollbacks++;
	sqlite3_exec(db->h, "ROLLBACK TO m; RELEASE m", NULL, NULL, NULL);
}

static struct stmt *prepare(struct db *db, const char *sql)
{
	size_t h = ((uintptr_t)sql >> 3) % CACHE_SIZE;
	for (size_t i = 0; i < CACHE_SIZE; i++) {
		size_t k = (h + i) % CACHE_SIZE;
		if (db->cache[k].sql == sql)
			return &db->cache[k];
		if (!db->cache[k].sql) {
			sqlite3_stmt *st = NULL;
			int rc = sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
			if (rc != SQLITE_OK) {
				set_err(db, rc, "prepare");
				return NULL;
			}
			db->cache[k].sql = sql;
			db->cache[k].st = st;
			return &db->cache[k];
		}
	}
	/* cache full: should not happen with a fixed set of literals */
	set_err(db, SQLITE_ERROR, "statement cache full");
	return NULL;
}

/* Texts are bound without a copy (SQLITE_STATIC) when the statement is
 * stepped and reset before the caller gets control back (db_exec, db_int,
 * db_text): the caller's strings outlive it.  A db_query() cursor is
 * stepped later, so its texts are copied. */
static int bind(struct db *db, struct stmt *s, const char *types, va_list ap, bool copy)
{
	sqlite3_stmt *st = s->st;
	int rc = SQLITE_OK;
	int i = 1;
	/* db_exec, db_int and db_text reset their statement before they
	 * return, db_done() a cursor's: only one of a cursor may still need it.
	 * The parameters are all bound again below, unless types names fewer
	 * (the rest must be NULL).  A batch binds some 13 statements a message:
	 * the two calls were 0.5 % of its instructions. */
	if (s->cursor)
		sqlite3_reset(st);
	if ((int)strlen(types) < sqlite3_bind_parameter_count(st))
		sqlite3_clear_bindings(st);
	for (const char *t = types; *t && rc == SQLITE_OK; t++, i++) {
		switch (*t) {
		case 'i': rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t)); break;
		case 'I': rc = sqlite3_bind_int64(st, i, va_arg(ap, int)); break;
		case 'd': rc = sqlite3_bind_double(st, i, va_arg(ap, double)); break;
		case 't': {
			const char *s = va_arg(ap, const char *);
			rc = s ? sqlite3_bind_text(st, i, s, -1, copy ? SQLITE_TRANSIENT : SQLITE_STATIC)
			       : sqlite3_bind_null(st, i);
			break;
		}
		case 'b': {
			const void *p = va_arg(ap, const void *);
			size_t n = va_arg(ap, size_t);
			/* not copied: the caller's bytes outlive the statement's step
			 * (a quarantined message can be tens of megabytes) */
			rc = sqlite3_bind_blob64(st, i, p, n, SQLITE_STATIC);
			break;
		}
		case 'n': rc = sqlite3_bind_null(st, i); break;
		default: rc = SQLITE_MISUSE;
		}
	}
	if (rc != SQLITE_OK) {
		set_err(db, rc, "bind");
		return -1;
	}
	return 0;
}

static struct stmt *start_stmt(struct db *db, const char *sql, const char *types, va_list ap, bool copy)
{
	if (db->err)
		return NULL;
	struct stmt *s = prepare(db, sql);
	if (!s || bind(db, s, types, ap, copy) < 0)
		return NULL;
	return s;
}

static sqlite3_stmt *start(struct db *db, const char *sql, const char *types, va_list ap, bool copy)
{
	struct stmt *s = start_stmt(db, sql, types, ap, copy);
	return s ? s->st : NULL;
}

int db_exec(struct db *db, const char *sql, const char *types, ...)
{
	va_list ap;
	va_start(ap, types);
	sqlite3_stmt *st = start(db, sql, types, ap, false);
	va_end(ap);
	if (!st)
		return -1;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		set_err(db, rc, "database");
		return -1;
	}
	return 0;
}

int64_t db_int(struct db *db, int64_t dflt, const char *sql, const char *types, ...)
{
	va_list ap;
	va_start(ap, types);
	sqlite3_stmt *st = start(db, sql, types, ap, false);
	va_end(ap);
	if (!st)
		return dflt;
	int rc = sqlite3_step(st);
	int64_t v = dflt;
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_type(st, 0) != SQLITE_NULL)
			v = sqlite3_column_int64(st, 0);
	} else if (rc != SQLITE_DONE)
		set_err(db, rc, "database");
	sqlite3_reset(st);
	return v;
}

char *db_text(struct db *db, const char *sql, const char *types, ...)
{
	va_list ap;
	va_start(ap, types);
	sqlite3_stmt *st = start(db, sql, types, ap, false);
	va_end(ap);
	if (!st)
		return NULL;
	char *v = NULL;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *s = sqlite3_column_text(st, 0);
		if (s)
			v = xstrdup((const char *)s);
	} else if (rc != SQLITE_DONE)
		set_err(db, rc, "database");
	sqlite3_reset(st);
	return v;
}

int64_t db_last_id(struct db *db) { return sqlite3_last_insert_rowid(db->h); }
size_t db_max_value(struct db *db) { return (size_t)sqlite3_limit(db->h, SQLITE_LIMIT_LENGTH, -1); }
int db_changes(struct db *db) { return sqlite3_changes(db->h); }

struct dbq *db_query(struct db *db, const char *sql, const char *types, ...)
{
	va_list ap;
	struct dbq *q = xcalloc(1, sizeof *q);
	va_start(ap, types);
	q->db = db;
	q->s = start_stmt(db, sql, types, ap, true);
	va_end(ap);
	q->st = q->s ? q->s->st : NULL;
	q->failed = q->st == NULL;
	if (q->s)
		q->s->cursor = true;
	return q;
}

bool db_next(struct dbq *q)
{
	if (q->failed)
		return false;
	int rc = sqlite3_step(q->st);
	if (rc == SQLITE_ROW)
		return true;
	if (rc != SQLITE_DONE)
		set_err(q->db, rc, "database");
	q->failed = true;
	return false;
}

const char *db_col_text(struct dbq *q, int i) { return (const char *)sqlite3_column_text(q->st, i); }
int64_t db_col_int(struct dbq *q, int i) { return sqlite3_column_int64(q->st, i); }
double db_col_double(struct dbq *q, int i) { return sqlite3_column_double(q->st, i); }
bool db_col_null(struct dbq *q, int i) { return sqlite3_column_type(q->st, i) == SQLITE_NULL; }
const void *db_col_blob(struct dbq *q, int i, size_t *len_r)
{
	const void *p = sqlite3_column_blob(q->st, i);
	*len_r = (size_t)sqlite3_column_bytes(q->st, i);
	return p;
}

void db_done(struct dbq *q)
{
	if (!q)
		return;
	if (q->st) {
		sqlite3_reset(q->st);
		q->s->cursor = false;
	}
	free(q);
}
