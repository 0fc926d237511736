/* Unit tests: db.c and dbvfs.c — what a committed transaction looks like to
 * another connection when the WAL's writes are gathered: every committed row
 * is there for a reader that does not use our VFS, after a synced commit
 * (synchronous=FULL), after a commit without a sync (NORMAL, where nothing
 * may stay gathered), after a checkpoint, and after the writer dies without
 * closing anything; a rolled-back transaction leaves nothing.  And SQLite's
 * allocator (dbmem.c): sizes, growth and reuse keep every byte. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "db.h"

static char tmpdir[64];
static char path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/dealmail-db-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(path, sizeof path, "%s/t.db", tmpdir);
	char *err = NULL;
	bool temp = false;
	struct db *db = db_open(path, 1000, DB_CREATE, &err, &temp);
	assert_non_null(db);
	db_close(db);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static struct db *open_rw(void)
{
	char *err = NULL;
	bool temp = false;
	struct db *db = db_open(path, 1000, DB_READWRITE, &err, &temp);
	assert_non_null(db);
	return db;
}

/* `n` rows of 1,500 bytes with keys prefix0..: some 400 pages for 1,000,
 * more than one gathered write holds */
static void insert_rows(struct db *db, const char *prefix, int n)
{
	char value[1501];
	memset(value, 'v', 1500);
	value[1500] = '\0';
	for (int i = 0; i < n; i++) {
		char key[64];
		snprintf(key, sizeof key, "%s%d", prefix, i);
		value[i % 1500] = (char)('a' + i % 26);
		assert_int_equal(db_exec(db, "INSERT INTO state(key, value) VALUES(?, ?)", "tt", key, value), 0);
	}
}

/* What a plain connection (SQLite's default VFS, another handle) sees: the
 * number of rows whose key starts with `prefix`, and the file is sound. */
static int rows_seen(const char *prefix)
{
	sqlite3 *h = NULL;
	assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(h, "SELECT COUNT(*) FROM state WHERE key LIKE ? || '%' AND "
					      "length(value) = 1500", -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return n;
}

static void test_synced_commit_is_seen(void **state)
{
	(void)state;
	struct db *db = open_rw();
	assert_int_equal(db_begin(db), 0);
	insert_rows(db, "full", 1000);
	assert_int_equal(db_commit(db), 0);
	assert_int_equal(rows_seen("full"), 1000);   /* the writer still open */
	/* a rolled-back transaction's gathered frames count for nothing */
	assert_int_equal(db_begin(db), 0);
	insert_rows(db, "gone", 300);
	db_rollback(db);
	assert_int_equal(rows_seen("gone"), 0);
	assert_int_equal(db_checkpoint(db), 0);
	assert_int_equal(rows_seen("full"), 1000);
	db_close(db);
	assert_int_equal(rows_seen("full"), 1000);
}

static void test_unsynced_commit_is_seen(void **state)
{
	(void)state;
	struct db *db = open_rw();
	db_set_sync(db, false);   /* no sync at the commit: nothing may stay gathered */
	assert_int_equal(db_begin(db), 0);
	insert_rows(db, "normal", 1000);
	assert_int_equal(db_commit(db), 0);
	assert_int_equal(rows_seen("normal"), 1000);
	db_set_sync(db, true);
	assert_int_equal(db_begin(db), 0);
	insert_rows(db, "again", 500);
	assert_int_equal(db_commit(db), 0);
	assert_int_equal(rows_seen("again"), 500);
	db_close(db);
}

static void test_commit_survives_the_writer(void **state)
{
	(void)state;
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		struct db *db = open_rw();
		if (db_begin(db) < 0)
			_exit(1);
		insert_rows(db, "kept", 1000);
		if (db_commit(db) < 0)
			_exit(2);
		/* the next transaction's frames, gathered and never committed */
		if (db_begin(db) < 0)
			_exit(3);
		insert_rows(db, "lost", 200);
		if (write(fds[1], "k", 1) != 1)
			_exit(4);
		for (;;)
			pause();   /* killed here: no rollback, no close */
	}
	close(fds[1]);
	char c;
	assert_int_equal(read(fds[0], &c, 1), 1);
	close(fds[0]);
	assert_int_equal(kill(pid, SIGKILL), 0);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(rows_seen("kept"), 1000);
	assert_int_equal(rows_seen("lost"), 0);
	struct db *db = open_rw();   /* and the database goes on */
	assert_int_equal(db_begin(db), 0);
	insert_rows(db, "after", 10);
	assert_int_equal(db_commit(db), 0);
	db_close(db);
	assert_int_equal(rows_seen("after"), 10);
	assert_int_equal(rows_seen("kept"), 1000);
}

static void test_allocator_keeps_bytes(void **state)
{
	(void)state;
	/* db_open() (setup) installed dbmem.c as SQLite's allocator */
	int sizes[] = {1, 63, 64, 65, 500, 1024, 1025, 4000, 70000};
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		int n = sizes[i];
		unsigned char *p = sqlite3_malloc(n);
		assert_non_null(p);
		assert_true(sqlite3_msize(p) >= (sqlite3_uint64)n);
		memset(p, 0xA5, (size_t)n);
		/* grow through the small classes into a large block and back */
		int grow[] = {n + 1, n + 200, 3000, 100000, 40};
		for (size_t k = 0; k < sizeof grow / sizeof *grow; k++) {
			int keep = n < grow[k] ? n : grow[k];
			unsigned char *q = sqlite3_realloc(p, grow[k]);
			assert_non_null(q);
			assert_true(sqlite3_msize(q) >= (sqlite3_uint64)grow[k]);
			for (int b = 0; b < keep; b++)
				assert_int_equal(q[b], 0xA5);
			memset(q, 0xA5, (size_t)grow[k]);
			n = grow[k];
			p = q;
		}
		sqlite3_free(p);
	}
#ifndef __SANITIZE_ADDRESS__   /* under AddressSanitizer nothing is kept */
	/* a freed small block is reused for the next request of its size */
	void *a = sqlite3_malloc(200);
	sqlite3_free(a);
	void *b = sqlite3_malloc(250);   /* the same 64-byte class */
	assert_ptr_equal(a, b);
	sqlite3_free(b);
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_synced_commit_is_seen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsynced_commit_is_seen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_survives_the_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allocator_keeps_bytes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
