/* test_config.c — config.c: the INI reader, defaults, every diagnostic with
 * its line, the SPEC §6 example, lookups by key/name/alias, reasons, reps,
 * suggestions, the ';' rule in action lists. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "config.h"

#define FIXTURES DEALMAIL_SRCDIR "/tests/unit/fixtures"

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/dealmail-cfg-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Write `text` to <tmpdir>/NAME and return the path (static buffer). */
static const char *write_conf(const char *name, const char *text)
{
	static char path[256];
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* Load text; expect success without diagnostics. */
static struct config *load_ok(const char *text)
{
	struct diag d = {0};
	struct config *c = config_load(write_conf("ok.conf", text), &d);
	for (size_t i = 0; i < d.n; i++)
		print_error("unexpected: %s\n", d.v[i]);
	assert_int_equal(d.n, 0);
	assert_non_null(c);
	diag_free(&d);
	return c;
}

/* Is there a diagnostic "<file>:<line>: …<needle>…"? */
static bool has_diag(const struct diag *d, const char *file, int line, const char *needle)
{
	char pre[300];
	snprintf(pre, sizeof pre, "%s:%d: ", file, line);
	for (size_t i = 0; i < d->n; i++)
		if (!strncmp(d->v[i], pre, strlen(pre)) && strstr(d->v[i] + strlen(pre), needle))
			return true;
	return false;
}

static void expect_diag(const struct diag *d, const char *file, int line, const char *needle)
{
	if (!has_diag(d, file, line, needle)) {
		print_error("missing diagnostic %s:%d: …%s…; got:\n", file, line, needle);
		for (size_t i = 0; i < d->n; i++)
			print_error("  %s\n", d->v[i]);
		fail();
	}
}

/* Load text expecting failure; returns the diagnostics (caller frees). */
static struct diag load_bad(const char *text, const char **path_r)
{
	struct diag d = {0};
	const char *p = write_conf("bad.conf", text);
	struct config *c = config_load(p, &d);
	assert_null(c);
	assert_true(d.n > 0);
	*path_r = p;
	return d;
}

/* ---- defaults --------------------------------------------------------------- */

static void test_defaults(void **state)
{
	(void)state;
	struct diag d = {0};
	struct config *c = config_load(NULL, &d);
	assert_non_null(c);
	assert_int_equal(d.n, 0);
	assert_int_equal(c->nstages, 9);
	static const char *const keys[] = {"new", "qualify", "demo", "proposal", "negotiation",
					   "won", "delayed", "lost", "unreachable"};
	static const int prob[] = {10, 20, 40, 50, 70, 100, 10, 0, 0};
	for (size_t i = 0; i < 9; i++) {
		assert_string_equal(c->stages[i].key, keys[i]);
		assert_int_equal(c->stages[i].probability, prob[i]);
		assert_int_equal(c->stages[i].active, i >= 1 && i <= 4);
	}
	assert_string_equal(stage_name(c, 3, LANG_ES), "Propuesta pendiente");
	assert_string_equal(stage_name(c, 3, LANG_PT), "Proposta pendente");
	assert_string_equal(stage_name(c, 3, LANG_EN), "Proposal pending");
	assert_string_equal(stage_name(c, 4, LANG_ES), "Negociación");
	assert_string_equal(stage_name(c, 4, LANG_PT), "Negociação");
	assert_string_equal(stage_name(c, 8, LANG_ES), "No se puede contactar");
	assert_string_equal(stage_name(c, 8, LANG_PT), "Sem contato");
	assert_string_equal(stage_name(c, 0, LANG_PT), "Nova oportunidade");
	assert_string_equal(stage_name(c, 6, LANG_PT), "Atrasado");
	assert_string_equal(stage_name(c, 99, LANG_EN), "?");
	assert_int_equal(c->default_stage, 0);
	assert_int_equal(c->won_stage, 5);
	assert_int_equal(c->lost_stage, 7);
	assert_false(c->require_won_reason);
	assert_true(c->require_lost_reason);
	assert_false(c->strict_reasons);
	assert_int_equal(c->nwon_reasons, 4);
	assert_string_equal(c->won_reasons[0], "referral");
	assert_int_equal(c->nlost_reasons, 5);
	assert_string_equal(c->lost_reasons[3], "no budget");
	assert_int_equal(c->score_reply, 2);
	assert_int_equal(c->score_meeting, 5);
	assert_int_equal(c->score_unsubscribe, -3);
	assert_int_equal(c->score_no_show, -10);
	assert_int_equal(c->score_threshold, 20);
	assert_int_equal(c->undo_minutes, 60);
	assert_int_equal(c->pipe_timeout, 8);
	assert_int_equal(c->busy_timeout_ms, 5000);
	assert_int_equal(c->confirm_per_hour, 30);
	assert_int_equal(c->digest_time, 7 * 60 + 30);
	assert_int_equal(c->silent_days, 10);
	assert_int_equal(c->max_message_bytes, 64 * 1024 * 1024);
	assert_int_equal(c->max_quarantine_bytes, 128 * 1024 * 1024);
	assert_int_equal(config_quarantine_max(c), 128 * 1024 * 1024);
	assert_int_equal(c->max_mime_depth, 20);
	assert_int_equal(c->max_mime_parts, 500);
	assert_int_equal(c->language, LANG_EN);
	assert_int_equal(c->confirm, CONFIRM_ALWAYS);
	assert_string_equal(c->timezone, "UTC");
	assert_string_equal(c->address, "dealmail@localhost");
	assert_string_equal(c->name, "dealmail");
	assert_string_equal(c->dist_mode, "round-robin");
	assert_null(c->dist_team);
	assert_null(c->path);
	assert_string_equal(c->dir, ".");
	assert_string_equal(c->database, "./dealmail.db");
	assert_string_equal(c->secret_file, "./secret");
	assert_int_equal(c->nreps, 0);
	assert_int_equal(c->nsequences, 0);
	config_free(c);
	diag_free(&d);
}

static void test_spec_example(void **state)
{
	(void)state;
	struct diag d = {0};
	struct config *c = config_load(FIXTURES "/spec.conf", &d);
	for (size_t i = 0; i < d.n; i++)
		print_error("%s\n", d.v[i]);
	assert_int_equal(d.n, 0);
	assert_non_null(c);
	assert_string_equal(c->database, "/var/lib/dealmail/dealmail.db");
	assert_string_equal(c->address, "ventas@example.com");
	assert_int_equal(c->language, LANG_ES);
	assert_string_equal(c->timezone, "America/Mexico_City");
	assert_string_equal(c->secret_file, "/etc/dealmail/secret");
	assert_string_equal(c->authserv_id, "mx.example.com");
	assert_false(c->require_auth);
	assert_string_equal(c->imap.url, "imaps://imap.example.com/INBOX");
	assert_string_equal(c->imap.processed, "move:Dealmail/Done");
	assert_string_equal(c->imap.password_file, "/etc/dealmail/imap.pass");
	assert_string_equal(c->smtp.url, "smtp://smtp.example.com:587");
	assert_string_equal(c->smtp.user, "ventas@example.com");
	assert_int_equal(c->nstages, 9);
	assert_true(c->sync_contact_owner);

	int p = config_stage_find(c, "proposal");
	assert_int_equal(p, 3);
	const struct stage *s = &c->stages[p];
	assert_int_equal(s->probability, 50);
	assert_int_equal(s->stale_days, 14);
	assert_int_equal(s->non_enter, 2);
	assert_int_equal(s->on_enter[0].kind, ACT_SEQUENCE);
	assert_string_equal(s->on_enter[0].arg, "proposal-followup");
	assert_int_equal(s->on_enter[1].kind, ACT_TASK);
	assert_string_equal(s->on_enter[1].arg, "Llamar para confirmar");
	assert_int_equal(s->on_enter[1].days, 2);
	/* "notify owner; notify manager   ; after stale_days in the stage" */
	assert_int_equal(s->non_stale, 2);
	assert_int_equal(s->on_stale[0].kind, ACT_NOTIFY);
	assert_int_equal(s->on_stale[0].target, NOTIFY_OWNER);
	assert_int_equal(s->on_stale[1].target, NOTIFY_MANAGER);

	assert_int_equal(c->nsequences, 1);
	const struct sequence *q = config_sequence_find(c, "proposal-followup");
	assert_non_null(q);
	assert_int_equal(q->nsteps, 4);
	assert_int_equal(q->steps[0].delay, 2 * 86400);
	assert_string_equal(q->steps[0].tmpl, "proposal-1");
	assert_int_equal(q->steps[3].delay, 14 * 86400);
	assert_string_equal(q->steps[3].tmpl, "proposal-4");
	assert_int_equal(q->window_start, 9 * 60);
	assert_int_equal(q->window_end, 17 * 60);
	assert_int_equal(q->days_mask, 0x3e); /* Monday..Friday */

	assert_int_equal(c->nreps, 1);
	assert_string_equal(c->reps[0].email, "ana@example.com");
	assert_string_equal(c->reps[0].name, "Ana López");
	assert_false(c->reps[0].manager);
	assert_string_equal(c->reps[0].team, "norte");
	assert_int_equal(c->reps[0].lang, LANG_ES);
	assert_string_equal(c->dist_team, "norte");
	assert_int_equal(c->digest_time, 7 * 60 + 30);
	assert_true(c->monthly_target == 100000.0);
	config_free(c);
	diag_free(&d);

	/* a target written the Spanish or Portuguese way is the same amount */
	static const char *const targets[] = {"100.000", "100 000", "100,000", "100k", "100000", "$100,000"};
	for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) {
		char text[80];
		snprintf(text, sizeof text, "[digest]\nmonthly_target = %s\n", targets[i]);
		c = load_ok(text);
		if (c->monthly_target != 100000.0)
			fail_msg("monthly_target = %s read as %g", targets[i], c->monthly_target);
		config_free(c);
	}
	c = load_ok("[digest]\nmonthly_target = 12.500,50\n");
	assert_true(c->monthly_target == 12500.5);
	config_free(c);
}

/* ---- diagnostics, each with its line ---------------------------------------------- */

static void test_bad_fixture(void **state)
{
	(void)state;
	const char *f = FIXTURES "/bad.conf";
	struct diag d = {0};
	assert_null(config_load(f, &d));
	expect_diag(&d, f, 3, "unknown key \"adress\" in [dealmail] (did you mean \"address\"?)");
	expect_diag(&d, f, 4, "unknown language \"fr\"");
	struct stat st;
	if (stat("/usr/share/zoneinfo", &st) == 0)
		expect_diag(&d, f, 5, "unknown time zone \"Mars/Olympus_Mons\"");
	expect_diag(&d, f, 6, "\"sometimes\" is not one of always, errors, never");
	expect_diag(&d, f, 7, "\"maybe\" is not a boolean");
	expect_diag(&d, f, 8, "\"soon\" is not a whole number");
	expect_diag(&d, f, 9, "\"not-an-email\" is not an email address");
	expect_diag(&d, f, 12, "tls: \"sometimes\" is not one of implicit, starttls, none");
	expect_diag(&d, f, 15, "not an smtp://, smtps:// or maildir: URL");
	expect_diag(&d, f, 19, "unknown stage \"propsal\" (did you mean \"proposal\"?");
	expect_diag(&d, f, 19, "unknown stage \"closing\"");
	expect_diag(&d, f, 23, "probability: \"150\" is not a whole number between 0 and 100");
	expect_diag(&d, f, 24, "unknown sequence \"nosuch\"");
	expect_diag(&d, f, 24, "task due \"+2x\" is not of the form +Nd");
	expect_diag(&d, f, 25, "notify \"boss\"");
	expect_diag(&d, f, 25, "score \"lots\"");
	expect_diag(&d, f, 25, "unknown stage \"nowhere\"");
	expect_diag(&d, f, 27, "[stage \"negotiation\"]: no such stage in the pipeline");
	expect_diag(&d, f, 30, "unknown section [stages] (did you mean [stage]?)");
	expect_diag(&d, f, 34, "\"5x proposal-2\" does not start with a delay");
	expect_diag(&d, f, 35, "\"mon-xyz\" is not a range of days");
	expect_diag(&d, f, 39, "unknown language \"de\"");
	expect_diag(&d, f, 41, "duplicate rep \"ana@example.com\" (already defined at line 37)");
	expect_diag(&d, f, 44, "\"not an email\" is not an email address");
	expect_diag(&d, f, 48, "no rep has team \"sur\"");
	expect_diag(&d, f, 51, "\"25:00\" is not a time of day");
	expect_diag(&d, f, 52, "expected \"key = value\"");
	/* the keys of the unknown section are not reported one by one */
	for (size_t i = 0; i < d.n; i++)
		assert_null(strstr(d.v[i], "\"foo\""));
	/* sorted by line */
	int prev = 0;
	for (size_t i = 0; i < d.n; i++) {
		int line = atoi(d.v[i] + strlen(f) + 1);
		assert_true(line >= prev);
		prev = line;
	}
	diag_free(&d);
}

static void test_syntax_errors(void **state)
{
	(void)state;
	const char *p;
	struct diag d = load_bad("name = outside\n"
				 "[dealmail\n"
				 "[rep]\n"
				 "[dealmail \"x\"]\n"
				 "[dealmail]\n"
				 "name = a\n"
				 "name = b\n"
				 " = value\n"
				 "[digest]\n"
				 "skip_empty = perhaps\n"
				 "silent_days = -3\n"
				 "[limits]\n"
				 "max_message_bytes = lots\n"
				 "max_mime_depth = 0\n"
				 "max_quarantine_bytes = 2G\n",
				 &p);
	expect_diag(&d, p, 1, "key \"name\" outside any section");
	expect_diag(&d, p, 2, "malformed section header");
	expect_diag(&d, p, 3, "section [rep] needs a name");
	expect_diag(&d, p, 4, "section [dealmail] takes no name");
	expect_diag(&d, p, 7, "duplicate key \"name\" in [dealmail] (already set at line 6)");
	expect_diag(&d, p, 8, "missing key");
	expect_diag(&d, p, 10, "\"perhaps\" is not a boolean");
	expect_diag(&d, p, 11, "\"-3\" is not a whole number between 0 and 3650");
	expect_diag(&d, p, 13, "\"lots\" is not a size");
	expect_diag(&d, p, 14, "between 1 and 1000");
	expect_diag(&d, p, 15, "max_quarantine_bytes: at most 996147200 bytes");
	diag_free(&d);
}

static void test_pipeline_errors(void **state)
{
	(void)state;
	const char *p;
	/* no win stage in a custom pipeline, default unknown, duplicate stage */
	struct diag d = load_bad("[pipeline]\n"
				 "stages = lead, talk, talk, done\n"
				 "default = leed\n"
				 "lost = done\n",
				 &p);
	expect_diag(&d, p, 2, "\"talk\" is listed twice");
	expect_diag(&d, p, 2, "has no stage \"won\": set won = KEY");
	expect_diag(&d, p, 3, "default: unknown stage \"leed\" (did you mean \"lead\"?");
	diag_free(&d);

	/* alias naming another stage; won == lost; strict with no reasons */
	d = load_bad("[pipeline]\n"
		     "won = won\n"
		     "lost = Ganado\n"
		     "strict_reasons = yes\n"
		     "lost_reasons = \n"
		     "[stage \"demo\"]\n"
		     "aliases = presentación, Proposta pendente\n",
		     &p);
	expect_diag(&d, p, 3, "the win stage and the loss stage are both \"won\"");
	expect_diag(&d, p, 5, "need a non-empty lost_reasons");
	expect_diag(&d, p, 7, "\"Proposta pendente\" of stage \"demo\" already names stage \"proposal\"");
	diag_free(&d);

	/* a stage's name that another stage also goes by, in another language:
	 * `etapa: ganho` would pick whichever comes first */
	d = load_bad("[pipeline]\n"
		     "stages = new, demo, delayed, won, lost\n"
		     "[stage \"delayed\"]\n"
		     "name.es = Ganho\n"
		     "[stage \"demo\"]\n"
		     "name.pt = Proposta pendente\n",
		     &p);
	expect_diag(&d, p, 4, "stage \"delayed\" and stage \"won\" are both called \"Ganho\"");
	diag_free(&d);

	/* an alias naming another stage is reported once, at its line (not
	 * also as a line-less "both called") */
	d = load_bad("[stage \"proposal\"]\n"
		     "aliases = demo\n",
		     &p);
	expect_diag(&d, p, 2, "aliases: \"demo\" of stage \"proposal\" already names stage \"demo\"");
	assert_int_equal(d.n, 1);
	diag_free(&d);

	/* the win or loss stage listed as active (by alias too) */
	d = load_bad("[pipeline]\n"
		     "active = qualify, demo, ganado, Perdido\n",
		     &p);
	expect_diag(&d, p, 2, "active: \"won\" is the win stage; a deal there is closed, not active");
	expect_diag(&d, p, 2, "active: \"lost\" is the loss stage");
	diag_free(&d);

	/* the default stage is the win or loss stage: new deals closed */
	d = load_bad("[pipeline]\n"
		     "default = Ganado\n",
		     &p);
	expect_diag(&d, p, 2, "\"won\" is both the default stage and the win stage");
	diag_free(&d);
	d = load_bad("[pipeline]\n"
		     "stages = lost, open, won\n",
		     &p);
	expect_diag(&d, p, 2, "\"lost\" is both the default stage and the loss stage");
	diag_free(&d);

	/* a rep whose address is bad: the section's other mistakes too */
	d = load_bad("[rep \"not-an-email\"]\n"
		     "role = boss\n"
		     "language = klingon\n",
		     &p);
	expect_diag(&d, p, 1, "\"not-an-email\" is not an email address");
	expect_diag(&d, p, 2, "role: \"boss\" is not");
	expect_diag(&d, p, 3, "klingon");
	diag_free(&d);

	/* on_stale without stale_days; stage action into itself; sequence with no steps */
	d = load_bad("[stage \"demo\"]\n"
		     "on_stale = notify owner\n"
		     "on_enter = stage demo\n"
		     "[sequence \"empty\"]\n"
		     "window = 09:00-08:00\n"
		     "[sequence \"bad\"]\n"
		     "steps = 2d ../../etc/passwd, 3d\n",
		     &p);
	expect_diag(&d, p, 2, "has no stale_days, so on_stale never fires");
	expect_diag(&d, p, 3, "moves the deal to the stage it is in");
	expect_diag(&d, p, 4, "[sequence \"empty\"] has no steps");
	expect_diag(&d, p, 5, "ends before it starts");
	expect_diag(&d, p, 7, "\"../../etc/passwd\" is not a template name");
	expect_diag(&d, p, 7, "\"3d\" names no template");
	diag_free(&d);
}

static void test_endpoint_errors(void **state)
{
	(void)state;
	const char *p;
	struct diag d = load_bad("[imap]\n"
				 "url = smtp://wrong\n"
				 "auth = magic\n"
				 "processed = delete\n"
				 "[smtp]\n"
				 "auth = xoauth2\n"
				 "processed = flag\n"
				 "[dealmail]\n"
				 "currency = euros\n",
				 &p);
	expect_diag(&d, p, 2, "not an imap:// or imaps:// URL");
	expect_diag(&d, p, 3, "\"magic\" is not one of login, plain, xoauth2");
	expect_diag(&d, p, 4, "\"delete\" is not \"flag\" or \"move:FOLDER\"");
	expect_diag(&d, p, 6, "xoauth2 needs token_file");
	expect_diag(&d, p, 7, "unknown key \"processed\" in [smtp]");
	expect_diag(&d, p, 9, "not a 3-letter currency code");
	diag_free(&d);
}

/* require_auth = yes without authserv_id: no message could ever be
 * authenticated, so every rep's command would be dropped silently */
static void test_unreadable(void **state)
{
	(void)state;
	struct diag d = {0};
	char path[128];
	snprintf(path, sizeof path, "%s/does-not-exist.conf", tmpdir);
	assert_null(config_load(path, &d));
	assert_int_equal(d.n, 1);
	assert_non_null(strstr(d.v[0], "does-not-exist.conf: cannot read"));
	diag_free(&d);
}

/* ---- the ';' rule ------------------------------------------------------------------- */

static void test_semicolon_rule(void **state)
{
	(void)state;
	struct config *c = load_ok("[stage \"demo\"]\n"
				   "stale_days = 7\n"
				   "on_enter = task Preparar demo +1d ; score +5;stage proposal ; the rest is a comment; stage won\n"
				   "on_stale = stage delayed   # moved back to nurture\n"
				   "[stage \"qualify\"]\n"
				   "on_enter = ; only a comment\n"
				   "[stage \"negotiation\"]\n"
				   "on_enter = task Revisar contrato;notify manager;\n"
				   "[sequence \"s\"]\n"
				   "steps = 2d a, 36h b; 5d c ; slow start, then 9d d\n");
	const struct stage *s = &c->stages[config_stage_find(c, "demo")];
	assert_int_equal(s->non_enter, 3);
	assert_int_equal(s->on_enter[0].kind, ACT_TASK);
	assert_string_equal(s->on_enter[0].arg, "Preparar demo");
	assert_int_equal(s->on_enter[0].days, 1);
	assert_int_equal(s->on_enter[1].kind, ACT_SCORE);
	assert_int_equal(s->on_enter[1].delta, 5);
	assert_int_equal(s->on_enter[2].kind, ACT_STAGE);
	assert_string_equal(s->on_enter[2].arg, "proposal");
	assert_int_equal(s->non_stale, 1);
	assert_string_equal(s->on_stale[0].arg, "delayed");
	assert_int_equal(c->stages[config_stage_find(c, "qualify")].non_enter, 0);
	s = &c->stages[config_stage_find(c, "negotiation")];
	assert_int_equal(s->non_enter, 2);
	assert_string_equal(s->on_enter[0].arg, "Revisar contrato");
	assert_int_equal(s->on_enter[0].days, 0);
	assert_int_equal(s->on_enter[1].target, NOTIFY_MANAGER);
	const struct sequence *q = config_sequence_find(c, "s");
	assert_int_equal(q->nsteps, 3); /* in time order: 36h b, 2d a, 5d c */
	assert_int_equal(q->steps[0].delay, 36 * 3600);
	assert_string_equal(q->steps[0].tmpl, "b");
	assert_string_equal(q->steps[1].tmpl, "a");
	assert_string_equal(q->steps[2].tmpl, "c");
	assert_int_equal(q->days_mask, 0x7f);
	assert_int_equal(q->window_start, 0);
	assert_int_equal(q->window_end, 24 * 60);
	config_free(c);

	/* an empty item between two separators (found by the config_load fuzzer:
	 * looking at the character before an empty segment wrapped the pointer,
	 * which UBSan reports under `make asan`) */
	c = load_ok("[stage \"demo\"]\non_enter = task a;;score +1\n");
	s = &c->stages[config_stage_find(c, "demo")];
	assert_int_equal(s->non_enter, 2);
	assert_int_equal(s->on_enter[1].kind, ACT_SCORE);
	config_free(c);

	/* without whitespace before ';' the text is an action, and it is wrong */
	const char *p;
	struct diag d = load_bad("[stage \"demo\"]\n"
				 "on_enter = notify owner;oops\n"
				 "on_stale = call them\n",
				 &p);
	expect_diag(&d, p, 2, "unknown action \"oops\"");
	expect_diag(&d, p, 3, "unknown action \"call them\"");
	diag_free(&d);
}

/* ---- custom pipelines, values, paths -------------------------------------------------- */

static void test_custom_pipeline(void **state)
{
	(void)state;
	struct config *c = load_ok("[pipeline]\n"
				   "stages = lead, qualify, proposal, closed-won, closed-lost  ; ours\n"
				   "won = closed-won\n"
				   "lost = closed-lost\n"
				   "require_won_reason = true\n"
				   "won_reasons = price, \"speed; support\"\n"
				   "[stage \"lead\"]\n"
				   "name = Lead\n"
				   "name.es = Prospecto\n"
				   "aliases = prospect, nuevo\n"
				   "[stage \"closed-won\"]\n"
				   "name.pt = Fechado\n");
	assert_int_equal(c->nstages, 5);
	assert_int_equal(c->default_stage, 0); /* no "new": the first stage */
	assert_int_equal(c->won_stage, 3);
	assert_int_equal(c->lost_stage, 4);
	assert_true(c->require_won_reason);
	assert_int_equal(c->nwon_reasons, 2);
	assert_string_equal(c->won_reasons[1], "speed; support");
	assert_string_equal(stage_name(c, 0, LANG_ES), "Prospecto");
	assert_string_equal(stage_name(c, 0, LANG_PT), "Lead");
	assert_string_equal(stage_name(c, 1, LANG_PT), "Qualificar"); /* a default key keeps its names */
	assert_string_equal(stage_name(c, 2, LANG_ES), "Propuesta pendiente");
	assert_string_equal(stage_name(c, 3, LANG_EN), "closed-won");  /* names default to the key */
	assert_string_equal(stage_name(c, 3, LANG_PT), "Fechado");
	assert_int_equal(c->stages[3].probability, 100);
	assert_int_equal(c->stages[4].probability, 0);
	assert_int_equal(c->stages[0].probability, -1);
	/* active: the default active stages that exist */
	assert_false(c->stages[0].active);
	assert_true(c->stages[1].active);
	assert_true(c->stages[2].active);
	assert_false(c->stages[3].active);
	assert_int_equal(config_stage_find(c, "NUEVO"), 0);
	assert_int_equal(config_stage_find(c, "cotización"), 2); /* built-in alias of a default key */
	assert_int_equal(config_stage_find(c, "Ganado"), -1);
	config_free(c);

	/* a user alias may take over a built-in alias of another stage */
	c = load_ok("[stage \"lost\"]\naliases = pausado, cancelado\n");
	assert_int_equal(config_stage_find(c, "Pausado"), 7);
	assert_int_equal(config_stage_find(c, "cancelado"), 7);
	assert_int_equal(config_stage_find(c, "retrasado"), 6);
	config_free(c);
}

static void test_values_and_paths(void **state)
{
	(void)state;
	struct config *c = load_ok("[dealmail]\n"
				   "address = Ventas@Example.COM\n"
				   "language = PT-br\n"
				   "confirm = errors\n"
				   "require_auth = on\n"
				   "authserv_id = mx.example.com\n"
				   "currency = mxn\n"
				   "database = data/deals.db\n"
				   "templates = mine\n"
				   "undo_minutes = 15\n"
				   "name = \"Ventas ; Norte\"\n"
				   "[imap]\n"
				   "url = imap://127.0.0.1:1143/INBOX\n"
				   "tls = none\n"
				   "password_file = imap.pass\n"
				   "processed = flag\n"
				   "[smtp]\n"
				   "url = maildir:out\n"
				   "tls = implicit\n"
				   "[rep \"Bob@Example.com\"]\n"
				   "role = manager\n"
				   "[limits]\n"
				   "max_message_bytes = 200M\n"
				   "max_quarantine_bytes = 100M\n"
				   "[scoring]\n"
				   "reply = 3\n"
				   "no_show = -7\n"
				   "[digest]\n"
				   "time = 8:05\n"
				   "skip_empty = yes\n"
				   "[distribution]\n"
				   "mode = owner:bob@example.com\n");
	char want[256];
	assert_string_equal(c->address, "ventas@example.com");
	assert_int_equal(c->language, LANG_PT);
	assert_int_equal(c->confirm, CONFIRM_ERRORS);
	assert_true(c->require_auth);
	assert_string_equal(c->currency, "MXN");
	assert_string_equal(c->dir, tmpdir);
	snprintf(want, sizeof want, "%s/data/deals.db", tmpdir);
	assert_string_equal(c->database, want);
	snprintf(want, sizeof want, "%s/data/secret", tmpdir);
	assert_string_equal(c->secret_file, want);
	snprintf(want, sizeof want, "%s/mine", tmpdir);
	assert_string_equal(c->templates, want);
	snprintf(want, sizeof want, "%s/imap.pass", tmpdir);
	assert_string_equal(c->imap.password_file, want);
	snprintf(want, sizeof want, "maildir:%s/out", tmpdir);
	assert_string_equal(c->smtp.url, want);
	assert_int_equal(c->imap.tls, TLS_NONE);
	assert_int_equal(c->smtp.tls, TLS_IMPLICIT);
	assert_string_equal(c->imap.processed, "flag");
	assert_string_equal(c->name, "Ventas ; Norte");
	assert_int_equal(c->undo_minutes, 15);
	assert_int_equal(c->nreps, 1);
	assert_string_equal(c->reps[0].email, "bob@example.com");
	assert_string_equal(c->reps[0].name, "bob@example.com");
	assert_true(c->reps[0].manager);
	assert_int_equal(c->reps[0].lang, LANG_PT); /* the default language */
	assert_int_equal(c->max_message_bytes, 200 * 1024 * 1024);
	assert_int_equal(c->max_quarantine_bytes, 100 * 1024 * 1024);
	/* never less than max_message_bytes: a message under it that does not
	 * parse is kept whole */
	assert_int_equal(config_quarantine_max(c), 200 * 1024 * 1024);
	assert_int_equal(c->score_reply, 3);
	assert_int_equal(c->score_no_show, -7);
	assert_int_equal(c->score_meeting, 5);
	assert_int_equal(c->digest_time, 8 * 60 + 5);
	assert_true(c->digest_skip_empty);
	assert_string_equal(c->dist_mode, "owner:bob@example.com");
	config_free(c);

	/* a file without a directory part */
	char cwd[512];
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(tmpdir), 0);
	write_conf("plain.conf", "[dealmail]\nlanguage = es\n");
	struct diag d = {0};
	c = config_load("plain.conf", &d);
	assert_int_equal(chdir(cwd), 0);
	assert_non_null(c);
	assert_string_equal(c->dir, ".");
	assert_string_equal(c->database, "./dealmail.db");
	assert_string_equal(c->templates, "./templates");
	config_free(c);
	diag_free(&d);
}

static void test_windows(void **state)
{
	(void)state;
	struct config *c = load_ok("[sequence \"a\"]\nsteps = 1d x\nwindow = 08:00-12:30 lun, mié, vie\n"
				   "[sequence \"b\"]\nsteps = 1d x\nwindow = 10:00-24:00 seg-sex\n"
				   "[sequence \"c\"]\nsteps = 1d x\nwindow = sáb-lun\n"
				   "[sequence \"d\"]\nsteps = 90m x\nwindow = 09:00-18:00 Ter,Qui,DOM\n");
	const struct sequence *q = config_sequence_find(c, "a");
	assert_int_equal(q->window_start, 8 * 60);
	assert_int_equal(q->window_end, 12 * 60 + 30);
	assert_int_equal(q->days_mask, (1u << 1) | (1u << 3) | (1u << 5));
	q = config_sequence_find(c, "b");
	assert_int_equal(q->window_end, 24 * 60);
	assert_int_equal(q->days_mask, 0x3e);
	q = config_sequence_find(c, "c"); /* wraps: Saturday, Sunday, Monday */
	assert_int_equal(q->days_mask, (1u << 6) | (1u << 0) | (1u << 1));
	assert_int_equal(q->window_start, 0);
	q = config_sequence_find(c, "D"); /* folded name lookup */
	assert_non_null(q);
	assert_int_equal(q->steps[0].delay, 90 * 60);
	assert_int_equal(q->days_mask, (1u << 2) | (1u << 4) | (1u << 0));
	assert_null(config_sequence_find(c, "zzz"));
	config_free(c);
}

static void test_timezone_without_tzdata(void **state)
{
	(void)state;
	char fake[256];
	snprintf(fake, sizeof fake, "%s/zoneinfo", tmpdir);
	mkdir(fake, 0700);
	char zone[300];
	snprintf(zone, sizeof zone, "%s/Test_Zone", fake);
	FILE *f = fopen(zone, "w");
	assert_non_null(f);
	fclose(f);
	setenv("TZDIR", fake, 1);
	struct config *c = load_ok("[dealmail]\ntimezone = Test_Zone\n");
	config_free(c);
	const char *p;
	struct diag d = load_bad("[dealmail]\ntimezone = America/Mexico_City\n", &p);
	expect_diag(&d, p, 2, "unknown time zone");
	diag_free(&d);
	d = load_bad("[dealmail]\ntimezone = ../../etc/passwd\n", &p);
	expect_diag(&d, p, 2, "unknown time zone");
	diag_free(&d);
	/* no zoneinfo at all: cannot check, accepted */
	snprintf(fake, sizeof fake, "%s/no-such-dir", tmpdir);
	setenv("TZDIR", fake, 1);
	c = load_ok("[dealmail]\ntimezone = Anywhere/At_All\n");
	config_free(c);
	c = load_ok("[dealmail]\ntimezone = UTC\n");
	config_free(c);
	unsetenv("TZDIR");
}

/* ---- lookups ---------------------------------------------------------------------- */

static void test_stage_find(void **state)
{
	(void)state;
	struct diag d = {0};
	struct config *c = config_load(NULL, &d);
	static const struct {
		const char *in;
		const char *key;
	} cases[] = {
		{"proposal", "proposal"}, {"PROPOSAL", "proposal"}, {"Propuesta", "proposal"},
		{"propuesta pendiente", "proposal"}, {"Proposta Pendente", "proposal"}, {"  cotización ", "proposal"},
		{"Cotizacion", "proposal"}, {"quote", "proposal"}, {"negociação", "negotiation"},
		{"NEGOCIACION", "negotiation"}, {"Negociación", "negotiation"}, {"calificación", "qualify"},
		{"Qualificar", "qualify"}, {"demostración", "demo"}, {"Demonstração", "demo"},
		{"nueva", "new"}, {"Nova oportunidade", "new"}, {"novo", "new"}, {"ganado", "won"}, {"Ganho", "won"},
		{"perdido", "lost"}, {"Retrasado", "delayed"}, {"atrasado", "delayed"}, {"pausado", "delayed"},
		{"sin contacto", "unreachable"}, {"Sem contato", "unreachable"},
		{"No se puede contactar", "unreachable"}, {"new opportunity", "new"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		int s = config_stage_find(c, cases[i].in);
		if (s < 0 || strcmp(c->stages[s].key, cases[i].key))
			print_error("config_stage_find(\"%s\") = %d\n", cases[i].in, s);
		assert_true(s >= 0);
		assert_string_equal(c->stages[s].key, cases[i].key);
	}
	assert_int_equal(config_stage_find(c, "nope"), -1);
	assert_int_equal(config_stage_find(c, ""), -1);
	assert_int_equal(config_stage_find(c, NULL), -1);
	config_free(c);
	diag_free(&d);
}

static void test_reasons(void **state)
{
	(void)state;
	struct diag d = {0};
	struct config *c = config_load(NULL, &d);
	assert_string_equal(config_reason_find(c, false, "price"), "price");
	assert_string_equal(config_reason_find(c, false, "PRECIO"), "price");
	assert_string_equal(config_reason_find(c, false, "preço"), "price");
	assert_string_equal(config_reason_find(c, false, "caro"), "price");
	assert_string_equal(config_reason_find(c, false, "Competencia"), "competitor");
	assert_string_equal(config_reason_find(c, false, "concorrência"), "competitor");
	assert_string_equal(config_reason_find(c, false, "sin presupuesto"), "no budget");
	assert_string_equal(config_reason_find(c, false, "Sem orçamento"), "no budget");
	assert_string_equal(config_reason_find(c, false, "No Budget"), "no budget");
	assert_string_equal(config_reason_find(c, false, "sem resposta"), "no response");
	assert_string_equal(config_reason_find(c, false, "no contesta"), "no response");
	assert_string_equal(config_reason_find(c, false, "prazo"), "timing");
	assert_string_equal(config_reason_find(c, false, "precio, se fueron con otro"), "price");
	assert_string_equal(config_reason_find(c, true, "recomendación"), "referral");
	assert_string_equal(config_reason_find(c, true, "Indicação"), "referral");
	assert_string_equal(config_reason_find(c, true, "características"), "features");
	assert_string_equal(config_reason_find(c, true, "relacionamento"), "relationship");
	assert_string_equal(config_reason_find(c, true, "precio"), "price");
	assert_null(config_reason_find(c, true, "competencia")); /* not a win reason */
	/* phrases as reps write them: the one reason they name */
	assert_string_equal(config_reason_find(c, true, "el precio"), "price");
	assert_string_equal(config_reason_find(c, true, "por precio"), "price");
	assert_string_equal(config_reason_find(c, false, "precio alto"), "price");
	assert_string_equal(config_reason_find(c, false, "se fueron con la competencia"), "competitor");
	assert_string_equal(config_reason_find(c, false, "no hay presupuesto"), "no budget");
	assert_string_equal(config_reason_find(c, false, "no contestan"), "no response");
	assert_string_equal(config_reason_find(c, false, "muito caro para eles"), "price");
	/* a reason denied is not the reason (kept as written) */
	assert_null(config_reason_find(c, false, "no fue por precio, fue por tiempos"));
	assert_null(config_reason_find(c, false, "no por precio"));
	assert_null(config_reason_find(c, true, "no fue por precio"));
	assert_null(config_reason_find(c, false, "não foi por preço"));
	assert_string_equal(config_reason_find(c, false, "no hay presupuesto"), "no budget");
	/* two reasons named: none picked (kept as written) */
	assert_null(config_reason_find(c, false, "precio y la competencia"));
	/* a word inside another is no match ("caro" in "Carolina") */
	assert_null(config_reason_find(c, false, "Carolina se fue"));
	assert_null(config_reason_find(c, false, "the weather"));
	assert_null(config_reason_find(c, false, ""));
	assert_null(config_reason_find(c, false, NULL));
	config_free(c);

	/* configured lists: synonyms only for the default reasons they contain */
	c = load_ok("[pipeline]\nlost_reasons = Precio, Otra cosa\n");
	assert_string_equal(config_reason_find(c, false, "price"), "Precio");
	assert_string_equal(config_reason_find(c, false, "otra COSA"), "Otra cosa");
	assert_null(config_reason_find(c, false, "competencia"));
	config_free(c);
	diag_free(&d);
}

static void test_suggest(void **state)
{
	(void)state;
	struct config *c = load_ok("[rep \"ana@example.com\"]\nname = Ana López\n"
				   "[rep \"luis@example.com\"]\nname = Luís Souza\nlanguage = pt\n");
	const char *s = config_suggest(c, 0, "propusta");
	assert_non_null(s);
	assert_int_equal(config_stage_find(c, s), 3);
	s = config_suggest(c, 0, "negociacon");
	assert_non_null(s);
	assert_int_equal(config_stage_find(c, s), 4);
	s = config_suggest(c, 0, "Qualifcar");
	assert_non_null(s);
	assert_int_equal(config_stage_find(c, s), 1);
	assert_null(config_suggest(c, 0, "xyzzy"));
	assert_null(config_suggest(c, 0, "zz"));
	assert_string_equal(config_suggest(c, 2, "prise"), "price");
	assert_string_equal(config_suggest(c, 2, "competitr"), "competitor");
	assert_string_equal(config_suggest(c, 1, "refferal"), "referral");
	assert_null(config_suggest(c, 1, "competitor"));
	/* near a Spanish or Portuguese synonym: the configured reason */
	assert_string_equal(config_suggest(c, 2, "precios"), "price");
	assert_string_equal(config_suggest(c, 2, "sin presupusto"), "no budget");
	assert_string_equal(config_suggest(c, 2, "concorrentte"), "competitor");
	assert_string_equal(config_suggest(c, 1, "referidos"), "referral");
	assert_string_equal(config_suggest(c, 3, "ana@exmple.com"), "ana@example.com");
	assert_string_equal(config_suggest(c, 3, "Luis Sousa"), "Luís Souza");
	assert_null(config_suggest(c, 3, "someone else entirely"));
	assert_null(config_suggest(c, 9, "x"));
	config_free(c);
}

static void test_rep_find(void **state)
{
	(void)state;
	struct config *c = load_ok("[rep \"ana@example.com\"]\nname = Ana López\nteam = norte\n"
				   "[rep \"ana.b@example.com\"]\nname = Ana Beltrán\nteam = norte\n"
				   "[rep \"luis@example.com\"]\nname = Luís Souza\nrole = gerente\n"
				   "[distribution]\nteam = norte\n");
	assert_string_equal(config_rep_find(c, "ANA@EXAMPLE.COM")->email, "ana@example.com");
	assert_string_equal(config_rep_find(c, "Ana López <ana@example.com>")->email, "ana@example.com");
	assert_string_equal(config_rep_find(c, "ana lopez")->email, "ana@example.com");
	assert_string_equal(config_rep_find(c, "ANA BELTRAN")->email, "ana.b@example.com");
	assert_string_equal(config_rep_find(c, "luis")->email, "luis@example.com");   /* local part */
	assert_string_equal(config_rep_find(c, "Luís")->email, "luis@example.com");   /* first name */
	/* "ana" is ana@'s local part and Ana Beltrán's first name: nobody in
	 * particular; the refusal lists the two */
	assert_null(config_rep_find(c, "ana"));
	assert_null(config_rep_find(c, "Ana"));
	char *amb = config_rep_ambiguous(c, "Ana");
	assert_string_equal(amb, "Ana López <ana@example.com>, Ana Beltrán <ana.b@example.com>");
	free(amb);
	assert_null(config_rep_ambiguous(c, "luis"));
	assert_null(config_rep_ambiguous(c, "ana@example.com"));
	assert_true(config_rep_find(c, "luis@example.com")->manager);
	assert_null(config_rep_find(c, "nobody@example.com"));
	assert_null(config_rep_find(c, NULL));
	assert_string_equal(c->dist_team, "norte");
	config_free(c);
	/* the admin's "owner:ana" in the config is still ana@ (it loaded before
	 * first names counted) */
	c = load_ok("[rep \"ana@example.com\"]\nname = Ana López\n[rep \"asouza@example.com\"]\nname = Ana Souza\n"
		    "[distribution]\nmode = owner:ana\n");
	assert_string_equal(c->dist_mode, "owner:ana@example.com");
	config_free(c);
}

/* A sender's address as a rep's: exactly, or a sub-address of it
 * ("ana+crm@"), never by name or local part alone */
static void test_rep_by_address(void **state)
{
	(void)state;
	struct config *c = load_ok("[rep \"ana@example.com\"]\nname = Ana L\xC3\xB3pez\n"
				   "[rep \"luis+ventas@example.com\"]\nname = Lu\xC3\xADs Souza\n");
	assert_string_equal(config_rep_by_address(c, "ana@example.com")->email, "ana@example.com");
	assert_string_equal(config_rep_by_address(c, "ANA@Example.com")->email, "ana@example.com");
	assert_string_equal(config_rep_by_address(c, "ana+crm@example.com")->email, "ana@example.com");
	assert_string_equal(config_rep_by_address(c, "Ana+a+b@EXAMPLE.COM")->email, "ana@example.com");
	assert_string_equal(config_rep_by_address(c, "luis+ventas@example.com")->email, "luis+ventas@example.com");
	assert_null(config_rep_by_address(c, "luis@example.com"));        /* not the configured mailbox */
	assert_null(config_rep_by_address(c, "ana+crm@example.org"));     /* another domain */
	assert_null(config_rep_by_address(c, "anabel+x@example.com"));
	assert_null(config_rep_by_address(c, "+ana@example.com"));
	assert_null(config_rep_by_address(c, "ana"));                      /* no name or local part */
	assert_null(config_rep_by_address(c, "Ana L\xC3\xB3pez"));
	assert_null(config_rep_by_address(c, ""));
	assert_null(config_rep_by_address(c, NULL));
	config_free(c);
}

static void test_lang(void **state)
{
	(void)state;
	enum lang l;
	assert_true(lang_parse("es", &l));
	assert_int_equal(l, LANG_ES);
	assert_true(lang_parse("PT", &l));
	assert_int_equal(l, LANG_PT);
	assert_true(lang_parse("pt_BR", &l));
	assert_int_equal(l, LANG_PT);
	assert_true(lang_parse("en-US", &l));
	assert_int_equal(l, LANG_EN);
	assert_true(lang_parse("Español", &l));
	assert_int_equal(l, LANG_ES);
	assert_false(lang_parse("fr", &l));
	assert_false(lang_parse(NULL, &l));
	assert_string_equal(lang_code(LANG_ES), "es");
	assert_string_equal(lang_code(LANG_PT), "pt");
	assert_string_equal(lang_code(LANG_EN), "en");
}

static void test_diag_format(void **state)
{
	(void)state;
	struct diag d = {0};
	diag_add(&d, "a.conf", 12, "bad %s", "thing");
	diag_add(&d, "a.conf", 0, "whole file");
	assert_int_equal(d.n, 2);
	assert_string_equal(d.v[0], "a.conf:12: bad thing");
	assert_string_equal(d.v[1], "a.conf: whole file");
	diag_free(&d);
	assert_int_equal(d.n, 0);
	diag_free(&d);
}

static void test_corpus_configs(void **state)
{
	(void)state;
	static const char *const files[] = {DEALMAIL_SRCDIR "/tests/corpus/dealmail.conf",
					    DEALMAIL_SRCDIR "/contrib/demo/dealmail.conf"};
	for (size_t i = 0; i < 2; i++) {
		struct stat st;
		if (stat(files[i], &st) < 0)
			continue;
		struct diag d = {0};
		struct config *c = config_load(files[i], &d);
		for (size_t k = 0; k < d.n; k++)
			print_error("%s\n", d.v[k]);
		assert_non_null(c);
		assert_int_equal(d.n, 0);
		/* [stage "proposal"] without [pipeline] stages: merged into the default pipeline */
		int p = config_stage_find(c, "propuesta");
		assert_int_equal(p, 3);
		assert_int_equal(c->stages[p].non_enter, 2);
		assert_string_equal(stage_name(c, p, LANG_ES), "Propuesta pendiente");
		config_free(c);
		diag_free(&d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_bad_fixture),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_pipeline_errors),
		cmocka_unit_test(test_endpoint_errors),
		cmocka_unit_test(test_unreadable),
		cmocka_unit_test(test_semicolon_rule),
		cmocka_unit_test(test_custom_pipeline),
		cmocka_unit_test(test_values_and_paths),
		cmocka_unit_test(test_windows),
		cmocka_unit_test(test_timezone_without_tzdata),
		cmocka_unit_test(test_stage_find),
		cmocka_unit_test(test_reasons),
		cmocka_unit_test(test_suggest),
		cmocka_unit_test(test_rep_find),
		cmocka_unit_test(test_rep_by_address),
		cmocka_unit_test(test_lang),
		cmocka_unit_test(test_diag_format),
		cmocka_unit_test(test_corpus_configs),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
