/* Unit tests: outbox.c — the hourly cap on automatic answers (confirm_per_hour)
 * against a real SQLite file: the cap holds within the hour, lifts when the
 * oldest counted answer is an hour old, and a rolled-back answer no longer
 * counts (outbox_queue remembers a capped recipient between calls). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "app.h"
#include "template.h"

static char tmpdir[64];
static struct app app;
static struct tvars *vars;

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/dealmail-outbox-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	char path[128];
	snprintf(path, sizeof path, "%s/t.db", tmpdir);
	struct diag d = {0};
	memset(&app, 0, sizeof app);
	app.cfg = config_load(NULL, &d);
	assert_non_null(app.cfg);
	assert_int_equal(d.n, 0);
	app.cfg->confirm_per_hour = 2;
	char *err = NULL;
	bool temp = false;
	app.db = db_open(path, 1000, DB_CREATE, &err, &temp);
	assert_non_null(app.db);
	memcpy(app.secret, "outbox-test-secret-0123456789abc", 32);
	app.secret_len = 32;
	vars = tvars_new();
	tvars_set(vars, "rep.name", "Ana");
	tvars_set(vars, "message.subject", "ACME");
	assert_int_equal(db_begin(app.db), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	db_rollback(app.db);
	db_close(app.db);
	config_free(app.cfg);
	tvars_free(vars);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	assert_int_equal(system(cmd), 0);
	unsetenv("DEALMAIL_NOW");
	return 0;
}

/* One automatic answer to `to` at `now`: its outbox id, or 0 when capped. */
static int64_t answer(const char *to, const char *now)
{
	setenv("DEALMAIL_NOW", now, 1);
	struct outbox_item it = {.kind = "reply", .to_addr = to, .tmpl = "help", .lang = "en", .vars = vars,
				 .in_reply_to = "<m@example.com>", .auto_replied = true};
	int64_t id = outbox_queue(&app, &it);
	assert_true(id >= 0);
	return id;
}

static void test_cap_slides_and_rollback_forgets(void **state)
{
	(void)state;
	assert_true(answer("ana@example.com", "2026-11-23T15:00:00Z") > 0);
	assert_true(answer("ana@example.com", "2026-11-23T15:10:00Z") > 0);
	/* two in the hour: the third is not sent, nor any until 16:00:00 */
	assert_int_equal(answer("ana@example.com", "2026-11-23T15:10:01Z"), 0);
	assert_int_equal(answer("ana@example.com", "2026-11-23T15:59:59Z"), 0);
	/* another recipient has a cap of his own */
	assert_true(answer("bob@example.com", "2026-11-23T15:59:59Z") > 0);
	/* 16:00:00: the 15:00:00 answer has left the hour, one place is free */
	assert_true(answer("ana@example.com", "2026-11-23T16:00:00Z") > 0);
	assert_int_equal(answer("ana@example.com", "2026-11-23T16:05:00Z"), 0);
	/* 16:10:00: the 15:10:00 one leaves too */
	assert_int_equal(db_savepoint(app.db), 0);
	assert_true(answer("ana@example.com", "2026-11-23T16:10:00Z") > 0);
	assert_int_equal(answer("ana@example.com", "2026-11-23T16:10:01Z"), 0);
	/* that answer is rolled back (a message that failed): it does not count */
	db_rollback_to(app.db);
	assert_true(answer("ana@example.com", "2026-11-23T16:10:02Z") > 0);
	assert_int_equal(answer("ana@example.com", "2026-11-23T16:10:03Z"), 0);
	assert_int_equal(db_int(app.db, -1, "SELECT COUNT(*) FROM outbox WHERE rcpt = 'ana@example.com'", ""), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cap_slides_and_rollback_forgets, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
