/* Unit tests: drip.c window_adjust() — a step due outside its sequence's
 * window and days moves to the next window start, in the configured zone,
 * across weekends and daylight-saving changes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "drip.h"
#include "util.h"

#define MON_FRI 0x3e  /* bits 1..5 */

static time_t at(const char *iso)
{
	time_t t = iso_parse(iso);
	assert_true(t > 0);
	return t;
}

static void expect(const struct sequence *s, const char *in, const char *want)
{
	char out[21];
	iso_format(window_adjust(s, at(in)), out);
	assert_string_equal(out, want);
}

static void test_inside_window_unchanged(void **state)
{
	(void)state;
	struct sequence s = {.window_start = 9 * 60, .window_end = 17 * 60, .days_mask = MON_FRI};
	tz_set("America/Mexico_City");  /* UTC-6, no DST */
	/* Wed 2026-11-25 10:30 local */
	expect(&s, "2026-11-25T16:30:00Z", "2026-11-25T16:30:00Z");
	/* 09:00 sharp is inside, 17:00 is not */
	expect(&s, "2026-11-25T15:00:00Z", "2026-11-25T15:00:00Z");
	expect(&s, "2026-11-25T23:00:00Z", "2026-11-26T15:00:00Z");
}

static void test_before_and_after(void **state)
{
	(void)state;
	struct sequence s = {.window_start = 9 * 60, .window_end = 17 * 60, .days_mask = MON_FRI};
	tz_set("America/Mexico_City");
	/* Wed 06:15:30 local -> Wed 09:00:00 */
	expect(&s, "2026-11-25T12:15:30Z", "2026-11-25T15:00:00Z");
	/* Fri 20:00 local -> Mon 09:00 */
	expect(&s, "2026-11-28T02:00:00Z", "2026-11-30T15:00:00Z");
	/* Sat noon -> Mon 09:00 */
	expect(&s, "2026-11-28T18:00:00Z", "2026-11-30T15:00:00Z");
}

static void test_always(void **state)
{
	(void)state;
	struct sequence s = {.window_start = 0, .window_end = 24 * 60, .days_mask = 0x7f};
	tz_set("America/Mexico_City");
	expect(&s, "2026-11-28T03:17:00Z", "2026-11-28T03:17:00Z");
	struct sequence z = {.window_start = 0, .window_end = 24 * 60, .days_mask = 0};
	expect(&z, "2026-11-29T03:17:00Z", "2026-11-29T03:17:00Z");
}

static void test_dst(void **state)
{
	(void)state;
	struct sequence s = {.window_start = 9 * 60, .window_end = 17 * 60, .days_mask = MON_FRI};
	tz_set("Europe/Madrid");
	/* Fri 2027-03-26 18:00 CET (UTC+1); clocks go forward Sun 28th;
	 * Mon 29 09:00 CEST = 07:00Z */
	expect(&s, "2027-03-26T17:00:00Z", "2027-03-29T07:00:00Z");
	/* back: Fri 2026-10-23 18:00 CEST; Mon 26 09:00 CET = 08:00Z */
	expect(&s, "2026-10-23T16:00:00Z", "2026-10-26T08:00:00Z");
	tz_set(NULL);
}

static void test_one_day_window(void **state)
{
	(void)state;
	/* tue-thu 10:00-12:00 */
	struct sequence s = {.window_start = 10 * 60, .window_end = 12 * 60, .days_mask = 0x1c};
	tz_set("America/Mexico_City");
	/* Thu 2026-12-03 20:00 local -> Tue 8 10:00 */
	expect(&s, "2026-12-04T02:00:00Z", "2026-12-08T16:00:00Z");
	tz_set(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inside_window_unchanged), cmocka_unit_test(test_before_and_after),
		cmocka_unit_test(test_always), cmocka_unit_test(test_dst), cmocka_unit_test(test_one_day_window),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
