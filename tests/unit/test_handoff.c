/* test_handoff.c — handoff.c and sha256.c: what the MTA pipe's client reads
 * of the configuration and the digest it sends, which serve must compute
 * alike (both run this code; the client on src/pipe/rt.c, without libc). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include "handoff.h"
#include "sha256.h"

static char dir[] = "/tmp/dealmail-test-handoff.XXXXXX";

static void hex(const unsigned char *d, char out[65])
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void ours(const void *p, size_t n, char out[65])
{
	struct dm_sha256 c;
	unsigned char d[32];
	dm_sha256_init(&c);
	dm_sha256_update(&c, p, n);
	dm_sha256_final(&c, d);
	hex(d, out);
}

/* FIPS 180-4's examples (one block, two blocks) and the empty message */
static void test_sha256_known(void **state)
{
	(void)state;
	char h[65];
	ours("abc", 3, h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ours("", 0, h);
	assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	ours(two, strlen(two), h);
	assert_string_equal(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

/* Every length from 0 to 300 (each padding case, 55/56/63/64 bytes and
 * after), fed whole and in uneven pieces, equal to Nettle's digest. */
static void test_sha256_like_nettle(void **state)
{
	(void)state;
	unsigned char buf[300];
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < sizeof buf; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		buf[i] = (unsigned char)x;
	}
	for (size_t n = 0; n <= sizeof buf; n++) {
		struct sha256_ctx nc;
		unsigned char want[32], got[32];
		sha256_init(&nc);
		sha256_update(&nc, n, buf);
		sha256_digest(&nc, sizeof want, want);
		char w[65], g[65];
		hex(want, w);
		ours(buf, n, g);
		assert_string_equal(g, w);
		struct dm_sha256 c;
		dm_sha256_init(&c);
		for (size_t at = 0, step = 1; at < n; at += step, step = step * 3 % 67 + 1)
			dm_sha256_update(&c, buf + at, at + step <= n ? step : n - at);
		dm_sha256_final(&c, got);
		hex(got, g);
		assert_string_equal(g, w);
	}
}

static char *write_conf(const char *name, const char *text)
{
	static char path[256];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* The three keys as config.c reads them: section names in any case, a BOM,
 * quoted values, inline comments, paths relative to the file's folder, the
 * database's default, pipe_timeout's bounds; other sections ignored. */
static void test_conf_read(void **state)
{
	(void)state;
	struct handoff_conf hc;
	char want[512];
	const char *p = write_conf("a.conf", "\xEF\xBB\xBF[ DealMail ]\r\n"
					     " database = \"my \\\"db\\\".sqlite\"  \n"
					     "SOCKET = s.sock ; beside the file\npipe_timeout = 12\n# database = no\n"
					     "[other]\nsocket = not.this\n");
	assert_true(handoff_conf_read(p, &hc));
	snprintf(want, sizeof want, "%s/my \"db\".sqlite", dir);
	assert_string_equal(hc.database, want);
	snprintf(want, sizeof want, "%s/s.sock", dir);
	assert_string_equal(hc.socket, want);
	assert_int_equal(hc.pipe_timeout, 12);
	handoff_conf_free(&hc);

	p = write_conf("b.conf", "[dealmail]\nsocket = /run/dm/s.sock # a comment\npipe_timeout = 3601\n"
				 "database=d#x.db\n");
	assert_true(handoff_conf_read(p, &hc));
	assert_string_equal(hc.socket, "/run/dm/s.sock");
	snprintf(want, sizeof want, "%s/d#x.db", dir);
	assert_string_equal(hc.database, want);
	assert_int_equal(hc.pipe_timeout, 8);   /* out of bounds: the default */
	handoff_conf_free(&hc);

	p = write_conf("c.conf", "[dealmail]\npipe_timeout = 5s\n[rep \"a@b\"]\nsocket = x\n");
	assert_true(handoff_conf_read(p, &hc));
	assert_null(hc.socket);
	snprintf(want, sizeof want, "%s/dealmail.db", dir);
	assert_string_equal(hc.database, want);
	assert_int_equal(hc.pipe_timeout, 8);
	handoff_conf_free(&hc);

	p = write_conf("d.conf", "[dealmail]\npipe_timeout = +5\n");
	assert_true(handoff_conf_read(p, &hc));
	assert_int_equal(hc.pipe_timeout, 5);
	handoff_conf_free(&hc);

	/* no file, or one too large for the client: it leaves the message to dealmail */
	snprintf(want, sizeof want, "%s/missing.conf", dir);
	assert_false(handoff_conf_read(want, &hc));
	char *big = malloc((1 << 20) + 16);
	memset(big, ';', (1 << 20) + 15);
	big[(1 << 20) + 15] = '\0';
	memcpy(big, "[dealmail]\nsocket = s\n", 22);
	p = write_conf("big.conf", big);
	free(big);
	assert_false(handoff_conf_read(p, &hc));
}

/* The digest changes with what decides a message's outcome, and only then. */
static void test_context(void **state)
{
	(void)state;
	char db[300];
	snprintf(db, sizeof db, "%s/dm.db", dir);
	const char *conf = write_conf("ctx.conf", "[dealmail]\nsocket = s.sock\n");
	char conf_path[300];
	snprintf(conf_path, sizeof conf_path, "%s", conf);
	FILE *f = fopen(db, "w");
	fclose(f);
	setenv("DEALMAIL_SECRET", "one-secret", 1);
	unsetenv("DEALMAIL_NOW");
	unsigned char a[32], b[32];
	handoff_context(a, conf_path, db);
	handoff_context(b, conf_path, db);
	assert_memory_equal(a, b, 32);

	setenv("DEALMAIL_SECRET", "another-secret", 1);
	handoff_context(b, conf_path, db);
	assert_memory_not_equal(a, b, 32);
	setenv("DEALMAIL_SECRET", "one-secret", 1);

	setenv("DEALMAIL_NOW", "2026-12-06T10:00:00Z", 1);
	handoff_context(b, conf_path, db);
	assert_memory_not_equal(a, b, 32);
	unsetenv("DEALMAIL_NOW");

	char other[300];
	snprintf(other, sizeof other, "%s/other.db", dir);
	f = fopen(other, "w");
	fclose(f);
	handoff_context(b, conf_path, other);
	assert_memory_not_equal(a, b, 32);

	/* the config touched: its mtime, to the microsecond */
	struct timeval tv[2] = {{1700000000, 0}, {1700000000, 0}};
	assert_int_equal(utimes(conf_path, tv), 0);
	handoff_context(b, conf_path, db);
	assert_memory_not_equal(a, b, 32);
	memcpy(a, b, 32);
	tv[1].tv_usec = 1;   /* nanoseconds count too */
	assert_int_equal(utimes(conf_path, tv), 0);
	handoff_context(b, conf_path, db);
	assert_memory_not_equal(a, b, 32);
	unlink(other);
	unlink(db);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_known),
		cmocka_unit_test(test_sha256_like_nettle),
		cmocka_unit_test(test_conf_read),
		cmocka_unit_test(test_context),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
