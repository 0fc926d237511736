/* db.h — the SQLite database: open with pragmas, schema and migrations,
 * transactions, and a small statement cache with typed binding.
 *
 * Owns every sqlite3 call; no sqlite type escapes this header.  Statements
 * are prepared once per SQL text (the cache is keyed by the address of the
 * string literal, so pass literals).  Binding types in `types`: 'i' int64,
 * 'I' int (promoted), 'd' double, 't' text (NULL binds NULL), 'b' blob
 * (pointer, size_t), 'n' NULL (no argument).
 *
 * Errors are sticky: the first failure is kept in db_error() and every
 * later call fails until db_clear_error().  db_tempfail() says whether that
 * failure was temporary (busy/locked past the timeout, disk full): the
 * caller maps it to EX_TEMPFAIL at the edge. */
#ifndef DEALMAIL_DB_H
#define DEALMAIL_DB_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;
struct dbq;   /* an executing query */

#define DB_SCHEMA_VERSION 7

enum db_mode {
	DB_READWRITE,   /* the normal case */
	DB_CREATE,      /* init: create the file and run migrations */
	DB_READONLY,    /* commands that only read (works on a read-only file) */
};

/* Open the database.  DB_CREATE and DB_READWRITE bring an existing database
 * up to the current schema (migrations are additive and run under the write
 * lock, so that an upgraded binary behind an MTA pipe keeps working); a
 * read-only open of an older database is an error ("run dealmail init").  Returns NULL with
 * *err_r (malloc'd) and *tempfail_r set. */
struct db *db_open(const char *path, int busy_ms, enum db_mode mode, char **err_r, bool *tempfail_r);
void db_close(struct db *db);

int db_begin(struct db *db);          /* BEGIN IMMEDIATE */
int db_commit(struct db *db);
void db_rollback(struct db *db);
int db_savepoint(struct db *db);      /* SAVEPOINT m */
int db_release(struct db *db);        /* RELEASE m */
void db_rollback_to(struct db *db);   /* ROLLBACK TO m; RELEASE m */
/* How many transactions or savepoints have been rolled back so far: what
 * was read from the database since may have been undone. */
unsigned db_rollbacks(const struct db *db);
void db_set_sync(struct db *db, bool full);  /* synchronous FULL / NORMAL */
int db_checkpoint(struct db *db);     /* wal_checkpoint(FULL): makes NORMAL commits durable */
/* Checkpoint on close only once the WAL holds `frames` frames (then
 * TRUNCATE); for the one-message-per-process pipe.  Durability unchanged:
 * each commit still syncs the WAL. */
void db_lazy_checkpoint(struct db *db, int frames);
/* A long-lived connection that commits one message at a time (serve): the
 * WAL file keeps up to `bytes` when the WAL starts over after a checkpoint,
 * so that commits write over blocks the file has instead of growing it (the
 * sync of an append also commits the file system's journal). */
void db_keep_wal(struct db *db, long long bytes);

/* Run a statement that returns no rows.  0 or -1. */
int db_exec(struct db *db, const char *sql, const char *types, ...);
/* First column of the first row as int64; `dflt` when no row (or error). */
int64_t db_int(struct db *db, int64_t dflt, const char *sql, const char *types, ...);
/* First column of the first row as malloc'd text, NULL when no row/NULL. */
char *db_text(struct db *db, const char *sql, const char *types, ...);
int64_t db_last_id(struct db *db);
/* The largest string or blob one value may hold (SQLite's length limit). */
size_t db_max_value(struct db *db);
int db_changes(struct db *db);

/* Row iteration:  q = db_query(...); while (db_next(q)) {...}; db_done(q); */
struct dbq *db_query(struct db *db, const char *sql, const char *types, ...);
bool db_next(struct dbq *q);
const char *db_col_text(struct dbq *q, int i);    /* NULL for NULL */
int64_t db_col_int(struct dbq *q, int i);
double db_col_double(struct dbq *q, int i);
bool db_col_null(struct dbq *q, int i);
const void *db_col_blob(struct dbq *q, int i, size_t *len_r);
void db_done(struct dbq *q);

const char *db_error(struct db *db);  /* NULL when no error */
bool db_tempfail(struct db *db);
void db_clear_error(struct db *db);

#endif
