/* dealmail — email-driven sales pipeline.
 *
 * main.c: the command table and argument parsing.  Each cmd_* parses its
 * arguments, opens what it needs, calls the modules and maps the result to a
 * sysexits code.  See `dealmail help` and README.md. */
#include "app.h"
#include "cli.h"
#include "command.h"
#include "handoff.h"
#include "message.h"
#include "serve.h"
#include "source.h"
#include "template.h"
#include "text.h"
#include "util.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <ctype.h>

#define DEALMAIL_VERSION "0.1.0"

struct opts {
	char **argv;          /* the whole command line, for batch_memory() */
	const char *config;
	const char *db;
	bool file_required;   /* the command acts on mail: defaults alone will not do */
};

static struct opts g;

/* A batch (ingest --maildir/--mbox) touches a working set of some tens of
 * MiB, and on a virtual machine each fresh 4 KiB page costs a fault of
 * 10-20 us: 10,000 messages took ~5,300 of them, and glibc's malloc and
 * free a tenth of the instructions.  So a batch runs itself again with
 * mimalloc preloaded (where it is installed: its path is the build's,
 * DEALMAIL_MIMALLOC) and set through its environment, which it reads once,
 * as the process starts: every thread's memory committed from the start,
 * and freed memory kept until exit.  Not its 2 MiB pages (transparent huge
 * pages): ~500 faults instead of ~7,500, but each zeroes 2 MiB, the
 * applying thread spent a sixth of its time in the kernel zeroing them, and
 * the run was 0.43-0.46 s against 0.41-0.43 s without them (peak RSS 46
 * against 36 MiB).  The pipe and the daemon
 * keep glibc's malloc (mimalloc's start-up costs ~1 ms).  Not when something
 * is preloaded already (valgrind, a profiler): that process is the one to
 * run; nor without /proc (a chroot): the batch then goes on as it is. */
static void batch_memory(void)
{
#ifdef DEALMAIL_MIMALLOC
	if (getenv("DEALMAIL_BATCH_MEMORY")) {
		unsetenv("LD_PRELOAD");   /* not for anything this process runs */
		return;
	}
	if (getenv("LD_PRELOAD") || access(DEALMAIL_MIMALLOC, R_OK) != 0)
		return;
	if (setenv("DEALMAIL_BATCH_MEMORY", "1", 1) != 0 || setenv("LD_PRELOAD", DEALMAIL_MIMALLOC, 1) != 0 ||
	    setenv("MIMALLOC_ALLOW_DECOMMIT", "0", 0) != 0 || setenv("MIMALLOC_EAGER_COMMIT_DELAY", "0", 0) != 0)
		return;
	fflush(NULL);
	execv("/proc/self/exe", g.argv);
	unsetenv("LD_PRELOAD");
	log_verbose("cannot run again with mimalloc: %s", strerror(errno));
#endif
}

static const char *config_path(void)
{
	return handoff_config_path(g.config);
}

static int load_config(struct config **cfg_r)
{
	struct diag d = {0};
	const char *path = config_path();
	if (!path && g.file_required) {
		fprintf(stderr, "dealmail: no configuration file: give -c FILE, or set DEALMAIL_CONFIG, or create "
			"./dealmail.conf or /etc/dealmail/dealmail.conf\n");
		return EXIT_CONFIG;
	}
	struct config *cfg = config_load(path, &d);
	if (!cfg || d.n) {
		for (size_t i = 0; i < d.n; i++)
			fprintf(stderr, "%s\n", d.v[i]);
		if (!d.n)
			fprintf(stderr, "dealmail: cannot load configuration %s\n", path ? path : "(defaults)");
		diag_free(&d);
		config_free(cfg);
		return EXIT_CONFIG;
	}
	diag_free(&d);
	command_set_team_currency(cfg->currency);
	if (g.db) {
		/* the default secret lives beside the database: follow --db */
		const char *slash = strrchr(cfg->database, '/');
		char *dflt = slash ? xasprintf("%.*s/secret", (int)(slash - cfg->database), cfg->database)
				   : xstrdup("secret");
		if (cfg->secret_file && !strcmp(cfg->secret_file, dflt)) {
			const char *ns = strrchr(g.db, '/');
			free(cfg->secret_file);
			cfg->secret_file = ns ? xasprintf("%.*s/secret", (int)(ns - g.db), g.db) : xstrdup("secret");
		}
		free(dflt);
		free(cfg->database);
		cfg->database = xstrdup(g.db);
	}
	tz_set(cfg->timezone);
	*cfg_r = cfg;
	return 0;
}

/* Open config, database and secret.  `create`: init semantics. */
int app_open(struct app *app, bool create)
{
	return app_open_mode(app, create ? DB_CREATE : DB_READWRITE);
}

static int app_open_cfg(struct app *app, struct config *cfg, enum db_mode mode);

int app_open_mode(struct app *app, enum db_mode mode)
{
	struct config *cfg;
	int rc = load_config(&cfg);
	if (rc) {
		memset(app, 0, sizeof *app);
		return rc;
	}
	return app_open_cfg(app, cfg, mode);
}

/* Open with a config already loaded (ownership passes to app). */
static int app_open_cfg(struct app *app, struct config *cfg, enum db_mode mode)
{
	bool create = mode == DB_CREATE;
	char *err = NULL;
	bool temp = false;
	memset(app, 0, sizeof *app);
	app->cfg = cfg;
	app->db = db_open(app->cfg->database, app->cfg->busy_timeout_ms, mode, &err, &temp);
	if (!app->db) {
		if (temp)
			printf("4.3.0 dealmail: %s\n", err);
		log_error("%s", err);
		free(err);
		config_free(app->cfg);
		app->cfg = NULL;
		return temp ? EXIT_TEMPFAIL : create ? EXIT_CANTCREAT : EXIT_IOERR;
	}
	if (app_load_secret(app, create) < 0) {
		db_close(app->db);
		config_free(app->cfg);
		memset(app, 0, sizeof *app);
		return create ? EXIT_CANTCREAT : EXIT_CONFIG;
	}
	return 0;
}

void app_close(struct app *app)
{
	db_close(app->db);
	config_free(app->cfg);
	memset(app, 0, sizeof *app);
}

static int usage(const char *msg)
{
	fprintf(stderr, "dealmail: %s (see `dealmail help`)\n", msg);
	return EXIT_USAGE;
}

/* ---- init ------------------------------------------------------------- */

static int cmd_init(int argc, char **argv)
{
	struct app app;
	(void)argv;
	if (argc > 1)
		return usage("init takes no arguments");
	int rc = app_open(&app, true);
	if (rc)
		return rc;
	printf("database %s ready (schema version %d)\n", app.cfg->database, DB_SCHEMA_VERSION);
	app_close(&app);
	return 0;
}

/* ---- ingest ------------------------------------------------------------ */

/* WAL frames (4 KiB pages) the pipe lets accumulate before a checkpoint
 * (1 MiB: a dozen messages; re-reading it on open costs ~0.1 ms) */
#define PIPE_CHECKPOINT_FRAMES 256

static int pipe_work(void *ctx, const char *raw, size_t len, size_t total)
{
	struct app app;
	char line[256];
	/* As an MTA pipe nothing of ours may bounce the mail: a broken config,
	 * an unwritable or missing database become 75 (the MTA keeps the
	 * message and retries); only 0 and 65 (kept in quarantine) remain.
	 * The config was loaded by the parent before the vfork: reuse it (and
	 * free it: the parent shares this memory and exits without a free). */
	int rc = app_open_cfg(&app, (struct config *)ctx, DB_READWRITE);
	if (rc == 0) {
		db_lazy_checkpoint(app.db, PIPE_CHECKPOINT_FRAMES);
		rc = source_pipe_message(&app, raw, len, total, line, sizeof line);
	} else
		rc = pipe_verdict_of(rc, line, sizeof line);
	if (*line)
		printf("%s\n", line);
	/* committed (or refused with nothing changed): the verdict is final */
	source_pipe_release(rc);
	if (app.db)
		app_close(&app);
	return rc;
}

/* The MTA reads what we print as one stream (Postfix's pipe(8) takes stdout
 * and stderr together) and takes an RFC 3463 code from its start: what is
 * logged on the way (a config error, a locked database) is held back in
 * memory and written after the status line.  hold_stderr() returns the real
 * stderr (or -1: nothing held); release_stderr() writes out what was held,
 * with system calls and a buffer on the stack only (it runs in the parent of
 * a vfork()ed worker, see source_pipe()). */
static int hold_stderr(void)
{
	int mem = memfd_create("dealmail-log", MFD_CLOEXEC);
	if (mem < 0)
		return -1;
	fflush(stderr);
	int real = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (real < 0 || dup2(mem, STDERR_FILENO) < 0) {
		if (real >= 0)
			close(real);
		close(mem);
		return -1;
	}
	close(mem);
	return real;
}

static void release_stderr(int real)
{
	if (real < 0)
		return;
	fflush(stdout);
	fflush(stderr);
	char chunk[4096];
	ssize_t n;
	if (lseek(STDERR_FILENO, 0, SEEK_SET) == 0)
		while ((n = read(STDERR_FILENO, chunk, sizeof chunk)) > 0)
			for (ssize_t o = 0; o < n;) {
				ssize_t w = write(real, chunk + o, (size_t)(n - o));
				if (w <= 0)
					break;
				o += w;
			}
	dup2(real, STDERR_FILENO);
	close(real);
}

/* With [dealmail] socket, a running `dealmail serve` may take the message
 * (handoff.h); then its verdict is ours and we end here.  Otherwise stdin
 * is untouched and the message is processed below. */
static void pipe_handoff(void)
{
	struct handoff_conf hc;
	const char *path = config_path();
	if (!handoff_conf_read(path, &hc))
		return;
	if (hc.socket) {
		if (g.db) {
			free(hc.database);
			hc.database = xstrdup(g.db);
		}
		unsigned char ctx[32];
		char line[600];
		handoff_context(ctx, path, hc.database);
		int rc = handoff_try(hc.socket, hc.pipe_timeout, ctx, line, sizeof line);
		if (rc >= 0) {
			if (*line)
				printf("%s\n", line);
			fflush(stdout);
			_exit(rc);
		}
	}
	handoff_conf_free(&hc);
}

/* serve's WAL file stays at up to 8 MiB: the autocheckpoint (1,000 pages,
 * ~4 MiB) starts it over, and each commit then writes over blocks it has
 * (db_keep_wal(): a sync of 25 frames 0.24 instead of 0.34 ms here) */
#define SERVE_WAL_KEEP (8LL << 20)

static int serve_open(struct app *app)
{
	int rc = app_open(app, false);
	if (rc == 0)
		db_keep_wal(app->db, SERVE_WAL_KEEP);
	return rc;
}

static int cmd_serve(int argc, char **argv)
{
	(void)argv;
	if (argc > 1)
		return usage("serve takes no arguments");
	return serve_run(config_path(), serve_open);
}

static int cmd_ingest(int argc, char **argv)
{
	const char *maildir = NULL, *mbox = NULL;
	static const struct option lo[] = {
		{"maildir", required_argument, 0, 'm'}, {"mbox", required_argument, 0, 'b'}, {0, 0, 0, 0}};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		if ((c == 'm' || c == 'b') && (maildir || mbox))
			return usage("ingest: one --maildir DIR or one --mbox FILE at a time");
		if (c == 'm')
			maildir = optarg;
		else if (c == 'b')
			mbox = optarg;
		else
			return usage("ingest [FILE...] | --maildir DIR | --mbox FILE");
	}
	if ((maildir || mbox) && optind < argc)
		return usage("ingest: give files or --maildir/--mbox, not both");
	if (!maildir && !mbox && optind == argc) {
		/* the MTA pipe: a deadline, and never a crash the MTA would bounce */
		pipe_handoff();
		int real_stderr = hold_stderr();
		struct config *cfg;
		int timeout = 8;
		size_t max = 0;
		if (load_config(&cfg) == 0) {
			timeout = cfg->pipe_timeout;
			/* a message over max_message_bytes is quarantined whole,
			 * unparsed, up to what the quarantine keeps (one byte more
			 * is enough to know it is larger): that bounds the pipe's
			 * memory */
			max = config_quarantine_max(cfg) + 1;
		} else {
			printf("4.3.0 dealmail: configuration error; the message will be retried\n");
			release_stderr(real_stderr);
			return EXIT_TEMPFAIL;
		}
		int rc = source_pipe(pipe_work, cfg, timeout, max);
		release_stderr(real_stderr);
		/* the worker shared our memory and freed what it used (cfg too):
		 * nothing more to free, flush or run at exit */
		_exit(rc);
	}
	if (maildir || mbox)
		batch_memory();
	struct app app;
	int rc = app_open(&app, false);
	if (rc)
		return rc;
	if (maildir)
		rc = source_maildir(&app, maildir);
	else if (mbox)
		rc = source_mbox(&app, mbox);
	else
		rc = source_files(&app, argv + optind, argc - optind);
	app_close(&app);
	return rc;
}

/* ---- explain ----------------------------------------------------------- */

static int cmd_explain(int argc, char **argv)
{
	bool json = false;
	const char *file = NULL;
	for (int i = 1; i < argc; i++) {
		const char *f = NULL;
		if (!strcmp(argv[i], "--format")) {
			if (i + 1 == argc)
				return usage("explain --format text|json");
			f = argv[++i];
		} else if (!strncmp(argv[i], "--format=", 9))
			f = argv[i] + 9;
		else if (!strcmp(argv[i], "--json"))
			f = "json";
		else if (argv[i][0] == '-' && argv[i][1])
			return usage("explain [FILE] [--format text|json]");
		else if (file)
			return usage("explain takes one message (FILE, or standard input)");
		else
			file = argv[i];
		if (f && !strcmp(f, "json"))
			json = true;
		else if (f && !strcmp(f, "text"))
			json = false;
		else if (f)
			return usage("explain --format text|json");
	}
	if (!file)
		file = "-";
	struct app app;
	int rc = app_open_mode(&app, DB_READONLY);
	if (rc)
		return rc;
	size_t len, total;
	/* one byte over the limit is enough to see the message is too big */
	char *raw = read_file_max(file, app.cfg->max_message_bytes + 1, &len, &total);
	if (!raw) {
		log_error("%s: %s", file, strerror(errno));
		app_close(&app);
		return EXIT_NOINPUT;
	}
	struct buf out;
	buf_init(&out);
	rc = explain_message(&app, raw, len, total, json, &out);
	fwrite(out.s, 1, out.len, stdout);
	buf_release(&out);
	free(raw);
	app_close(&app);
	return rc == EXIT_DATAERR ? 0 : rc;
}

/* ---- export -------------------------------------------------------------- */

static int cmd_export(int argc, char **argv)
{
	if (argc != 2 || strcmp(argv[1], "--json"))
		return usage("export --json");
	struct app app;
	int rc = app_open_mode(&app, DB_READONLY);
	if (rc)
		return rc;
	rc = export_json(&app, stdout);
	if (rc)
		log_error("export: %s", db_error(app.db) ? db_error(app.db) : strerror(errno));
	app_close(&app);
	return rc ? EXIT_IOERR : 0;
}

/* ---- deal ------------------------------------------------------------------- */

static int deal_add(int argc, char **argv)
{
	struct deal_new d = {.source = "manual", .by = "cli"};
	static const struct option lo[] = {
		{"title", required_argument, 0, 't'}, {"contact", required_argument, 0, 'c'},
		{"owner", required_argument, 0, 'o'}, {"stage", required_argument, 0, 's'},
		{"value", required_argument, 0, 'v'}, {"currency", required_argument, 0, 'u'},
		{"close", required_argument, 0, 'd'}, {"name", required_argument, 0, 'n'},
		{"reason", required_argument, 0, 'r'}, {0, 0, 0, 0}};
	char cur[4] = "", date[11] = "", today[11];
	const char *value_arg = NULL;
	int c;
	optind = 1;
	app_today(today);
	while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		switch (c) {
		case 't': d.title = optarg; break;
		case 'c': d.contact = optarg; break;
		case 'o': d.owner = optarg; break;
		case 's': d.stage = optarg; break;
		case 'n': d.contact_name = optarg; break;
		case 'u': d.currency = optarg; break;
		case 'r': d.reason = optarg; break;
		case 'v':
			if (!parse_amount(optarg, &d.value, cur))
				return usage("deal add: --value is not an amount");
			d.has_value = true;
			value_arg = optarg;
			break;
		case 'd':
			if (!parse_date(optarg, today, date))
				return usage("deal add: --close is not a date");
			d.close_date = date;
			break;
		default:
			return usage("deal add --title T --contact EMAIL [--owner EMAIL] [--stage KEY] [--value N] [--reason R]");
		}
	}
	if (!d.title || !*d.title)
		return usage("deal add: --title is required");
	if (!d.contact || !*d.contact)
		return usage("deal add: --contact is required (the client's email address)");
	if (optind < argc)
		return usage("deal add: unexpected argument");
	if (d.reason && !*d.reason)
		d.reason = NULL;
	char *contact = NULL, *cname = NULL;
	if (d.contact) {
		/* "Name <addr>" or a bare address */
		struct addrlist al = {0};
		addrlist_parse(d.contact, &al);
		if (al.n != 1 || !strchr(al.v[0].email, '@')) {
			addrlist_free(&al);
			return usage("deal add: --contact must be one email address");
		}
		contact = xstrdup(al.v[0].email);
		if (al.v[0].name && *al.v[0].name && !d.contact_name)
			d.contact_name = cname = xstrdup(al.v[0].name);
		addrlist_free(&al);
		d.contact = contact;
	}
	/* a title typed in a Latin-1 terminal is not UTF-8: taken as
	 * Windows-1252, as a CSV import takes such a file */
	char *title = charset_to_utf8(NULL, d.title, strlen(d.title)), *given_name = NULL;
	d.title = title;
	if (d.contact_name)
		d.contact_name = given_name = charset_to_utf8(NULL, d.contact_name, strlen(d.contact_name));
	struct app app;
	int rc = app_open(&app, false);
	if (rc) {
		free(contact);
		free(cname);
		free(title);
		free(given_name);
		return rc;
	}
	/* a bare "$" is the team's own currency when that is written "$" */
	if (d.has_value)
		parse_amount_dollar(value_arg, dollar_currency(app.cfg->currency), &d.value, cur);
	if (cur[0] && !d.currency)
		d.currency = cur;
	const char *err = NULL;
	if (db_begin(app.db) < 0) {
		rc = db_tempfail(app.db) ? EXIT_TEMPFAIL : EXIT_IOERR;
		log_error("%s", db_error(app.db));
		goto out;
	}
	/* a deal added as won or lost follows the rule a rep's "lost:" does:
	 * the reason the pipeline requires (a CSV import of old deals does not) */
	int st = d.stage ? config_stage_find(app.cfg, d.stage) : -1;
	if (st >= 0 && !d.reason && ((st == app.cfg->lost_stage && app.cfg->require_lost_reason) ||
				     (st == app.cfg->won_stage && app.cfg->require_won_reason))) {
		db_rollback(app.db);
		fprintf(stderr, "dealmail: deal add: a %s deal needs --reason (require_%s_reason)\n",
			st == app.cfg->lost_stage ? "lost" : "won", st == app.cfg->lost_stage ? "lost" : "won");
		rc = EXIT_USAGE;
		goto out;
	}
	int64_t id = deal_create(&app, &d, &err);
	if (id < 0 || db_commit(app.db) < 0) {
		db_rollback(app.db);
		if (err) {
			/* an unknown stage or owner: a bad argument, as SPEC §2's 64 */
			fprintf(stderr, "dealmail: deal add: %s\n", err);
			rc = EXIT_USAGE;
		} else {
			log_error("%s", db_error(app.db) ? db_error(app.db) : "cannot create the deal");
			rc = db_tempfail(app.db) ? EXIT_TEMPFAIL : EXIT_IOERR;
		}
		goto out;
	}
	printf("%lld\n", (long long)id);
out:
	app_close(&app);
	free(contact);
	free(cname);
	free(title);
	free(given_name);
	return rc;
}

static int deal_list(int argc, char **argv)
{
	const char *stage = NULL, *owner = NULL;
	static const struct option lo[] = {
		{"stage", required_argument, 0, 's'}, {"owner", required_argument, 0, 'o'}, {0, 0, 0, 0}};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		if (c == 's')
			stage = optarg;
		else if (c == 'o')
			owner = optarg;
		else
			return usage("deal list [--stage KEY] [--owner EMAIL]");
	}
	if (optind < argc)
		return usage("deal list [--stage KEY] [--owner EMAIL]: unexpected argument");
	struct app app;
	int rc = app_open_mode(&app, DB_READONLY);
	if (rc)
		return rc;
	const char *key = NULL;
	if (stage) {
		int s = config_stage_find(app.cfg, stage);
		if (s < 0) {
			fprintf(stderr, "dealmail: unknown stage \"%s\"\n", stage);
			app_close(&app);
			return EXIT_USAGE;
		}
		key = app.cfg->stages[s].key;
	}
	struct dbq *q = db_query(app.db, "SELECT d.id, d.stage, d.status, d.value, d.currency, d.owner, c.email, d.title "
				 "FROM deals d LEFT JOIN contacts c ON c.id = d.contact_id WHERE (?1 IS NULL OR d.stage = ?1) "
				 "AND (?2 IS NULL OR d.owner = lower(?2)) ORDER BY d.id", "tt", key, owner);
	printf("%-5s %-12s %-6s %14s  %-24s %-26s %s\n", "#", "STAGE", "STATUS", "VALUE", "OWNER", "CONTACT", "TITLE");
	while (db_next(q)) {
		char val[48] = "-";
		if (!db_col_null(q, 3))
			snprintf(val, sizeof val, "%.2f %s", db_col_double(q, 3), db_col_text(q, 4) ? db_col_text(q, 4) : "");
		printf("%-5lld %-12s %-6s %14s  %-24s %-26s %s\n", (long long)db_col_int(q, 0), db_col_text(q, 1),
		       db_col_text(q, 2), val, db_col_text(q, 5) ? db_col_text(q, 5) : "-",
		       db_col_text(q, 6) ? db_col_text(q, 6) : "-", db_col_text(q, 7));
	}
	db_done(q);
	rc = db_error(app.db) ? EXIT_IOERR : 0;
	app_close(&app);
	return rc;
}

static int deal_show(int argc, char **argv)
{
	if (argc != 2)
		return usage("deal show N");
	const char *num = argv[1][0] == '#' ? argv[1] + 1 : argv[1];
	char *end;
	errno = 0;
	long long id = strtoll(num, &end, 10);
	if (!*num || *end || errno || id <= 0)
		return usage("deal show N: N is a deal number (12 or #12)");
	struct app app;
	int rc = app_open_mode(&app, DB_READONLY);
	if (rc)
		return rc;
	struct dbq *q = db_query(app.db, "SELECT d.id, d.title, d.stage, d.status, d.reason, d.value, d.currency, d.owner, "
				 "c.email, d.close_date, d.probability, d.score, d.created_at, d.stage_since "
				 "FROM deals d LEFT JOIN contacts c ON c.id = d.contact_id WHERE d.id = ?", "i", (int64_t)id);
	if (!db_next(q)) {
		db_done(q);
		fprintf(stderr, "dealmail: no deal #%lld\n", id);
		app_close(&app);
		return EXIT_DATAERR;
	}
	printf("[deal #%lld] %s\n", id, db_col_text(q, 1));
	printf("  stage:       %s (%s%s%s)\n", db_col_text(q, 2), db_col_text(q, 3), db_col_text(q, 4) ? ": " : "",
	       db_col_text(q, 4) ? db_col_text(q, 4) : "");
	if (!db_col_null(q, 5))
		printf("  value:       %.2f %s\n", db_col_double(q, 5), db_col_text(q, 6) ? db_col_text(q, 6) : "");
	printf("  owner:       %s\n", db_col_text(q, 7) ? db_col_text(q, 7) : "-");
	printf("  contact:     %s\n", db_col_text(q, 8) ? db_col_text(q, 8) : "-");
	if (db_col_text(q, 9))
		printf("  close date:  %s\n", db_col_text(q, 9));
	if (!db_col_null(q, 10))
		printf("  probability: %lld%%\n", (long long)db_col_int(q, 10));
	printf("  score:       %lld\n", (long long)db_col_int(q, 11));
	printf("  created:     %s, in stage since %s\n", db_col_text(q, 12), db_col_text(q, 13));
	db_done(q);
	q = db_query(app.db, "SELECT at, by, type, from_val, to_val, reason, undone FROM events WHERE deal_id = ? ORDER BY id",
		     "i", (int64_t)id);
	printf("  history:\n");
	while (db_next(q))
		printf("    %s  %-24s %-8s %s%s%s%s%s%s\n", db_col_text(q, 0), db_col_text(q, 1) ? db_col_text(q, 1) : "",
		       db_col_text(q, 2), db_col_text(q, 3) ? db_col_text(q, 3) : "", db_col_text(q, 3) ? " -> " : "",
		       db_col_text(q, 4) ? db_col_text(q, 4) : "", db_col_text(q, 5) ? " (" : "",
		       db_col_text(q, 5) ? db_col_text(q, 5) : "", db_col_int(q, 6) ? ") [undone]" : db_col_text(q, 5) ? ")" : "");
	db_done(q);
	app_close(&app);
	return 0;
}

int csv_import(struct app *app, const char *path);

static int deal_import(int argc, char **argv)
{
	if (argc != 3 || strcmp(argv[1], "--csv"))
		return usage("deal import --csv FILE");
	struct app app;
	int rc = app_open(&app, false);
	if (rc)
		return rc;
	rc = csv_import(&app, argv[2]);
	app_close(&app);
	return rc;
}

static int cmd_deal(int argc, char **argv)
{
	if (argc < 2)
		return usage("deal add|list|show|import");
	if (!strcmp(argv[1], "add"))
		return deal_add(argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return deal_list(argc - 1, argv + 1);
	if (!strcmp(argv[1], "show"))
		return deal_show(argc - 1, argv + 1);
	if (!strcmp(argv[1], "import"))
		return deal_import(argc - 1, argv + 1);
	return usage("deal add|list|show|import");
}

/* ---- config check ------------------------------------------------------- */

static int cmd_config(int argc, char **argv)
{
	if (argc != 2 || strcmp(argv[1], "check"))
		return usage("config check");
	struct diag d = {0};
	const char *path = config_path();
	struct config *cfg = config_load_all(path, &d);
	if (cfg) {
		/* every template the config can use, in every language it uses
		 * (also when the config has other problems: all are reported) */
		static const char *const fixed[] = {"confirmation", "error", "help", "list", "history", "undo",
						    "notify-reply", "notify-lead", "notify-stale", "notify-score",
						    "notify-bounce", "notify-stage", "notify-task", "notify-owner",
						    "notify-share", "notify-closed", "notify-taken", NULL};
		struct stat st;
		errno = 0;
		if (cfg->templates_line && (stat(cfg->templates, &st) < 0 || !S_ISDIR(st.st_mode)))
			diag_add(&d, path, cfg->templates_line, "templates: %s is not a folder (%s)", cfg->templates,
				 strerror(errno ? errno : ENOTDIR));
		/* require_auth trusts only the Authentication-Results our own
		 * server adds: without its authserv-id no rep's mail would count
		 * as the rep's (reported here; mail is still taken in, its
		 * commands refused, as before) */
		if (cfg->require_auth && (!cfg->authserv_id || !*cfg->authserv_id))
			diag_add(&d, path, cfg->require_auth_line,
				 "require_auth = yes needs authserv_id (the server that adds Authentication-Results, "
				 "e.g. authserv_id = mx.example.com): without it no rep's message is trusted");
		bool langs[NLANG] = {false};
		langs[cfg->language] = true;
		for (size_t i = 0; i < cfg->nreps; i++)
			langs[cfg->reps[i].lang] = true;
		for (int l = 0; l < NLANG; l++) {
			if (!langs[l])
				continue;
			for (const char *const *t = fixed; *t; t++) {
				char *err = NULL;
				if (template_check(cfg->templates, lang_code((enum lang)l), *t, &err) < 0) {
					diag_add(&d, path, cfg->templates_line, "%s", err ? err : *t);
					free(err);
				}
			}
			for (size_t s = 0; s < cfg->nsequences; s++)
				for (size_t k = 0; k < cfg->sequences[s].nsteps; k++) {
					char *err = NULL;
					if (cfg->sequences[s].steps[k].tmpl && template_check(cfg->templates, lang_code((enum lang)l),
							   cfg->sequences[s].steps[k].tmpl, &err) < 0) {
						diag_add(&d, path, cfg->sequences[s].line, "[sequence \"%s\"]: %s",
							 cfg->sequences[s].name, err ? err : cfg->sequences[s].steps[k].tmpl);
						free(err);
					}
				}
		}
	}
	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "%s\n", d.v[i]);
	int rc = (!cfg || d.n) ? EXIT_CONFIG : 0;
	if (!rc)
		printf("%s: OK (%zu stages, %zu reps, %zu sequences)\n", path ? path : "built-in defaults", cfg->nstages,
		       cfg->nreps, cfg->nsequences);
	else if (!d.n)
		fprintf(stderr, "%s: cannot load\n", path ? path : "(defaults)");
	diag_free(&d);
	config_free(cfg);
	return rc;
}

/* ---- the other commands (each in its own file) ------------------------------- */

int cmd_send(int argc, char **argv);
int cmd_tick(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_digest(int argc, char **argv);
int cmd_report(int argc, char **argv);

/* `unsubscribe TOKEN`: what an RFC 8058 one-click endpoint runs for a POST
 * to [dealmail] unsubscribe_url?token=TOKEN (a drip's List-Unsubscribe):
 * the contact the signed token names is unsubscribed and its sequences
 * stop.  0 done (also when it already was), 65 a token that does not
 * verify or names no contact, 75 the database is busy. */
static int cmd_unsubscribe(int argc, char **argv)
{
	if (argc != 2 || !argv[1][0])
		return usage("unsubscribe TOKEN");
	const char *tok = argv[1];
	if (!strncasecmp(tok, "u.", 2))
		tok += 2;
	struct app app;
	int rc = app_open(&app, false);
	if (rc)
		return rc;
	int64_t cid = token_verify(app.secret, app.secret_len, 'u', tok);
	char *email = NULL;
	if (cid <= 0) {
		log_error("unsubscribe: the token does not verify");
		rc = EXIT_DATAERR;
		goto out;
	}
	if (db_begin(app.db) < 0)
		goto dberr;
	email = db_text(app.db, "SELECT email FROM contacts WHERE id = ?", "i", cid);
	if (!email) {
		db_rollback(app.db);
		if (db_error(app.db))
			goto dberr;
		log_error("unsubscribe: the token names no contact");
		rc = EXIT_DATAERR;
		goto out;
	}
	contact_unsubscribe(&app, email, 0, email, NULL);
	if (db_error(app.db) || db_commit(app.db) < 0) {
		db_rollback(app.db);
		goto dberr;
	}
	printf("%s unsubscribed\n", email);
	goto out;
dberr:
	log_error("%s", db_error(app.db) ? db_error(app.db) : "database error");
	rc = db_tempfail(app.db) ? EXIT_TEMPFAIL : EXIT_IOERR;
out:
	free(email);
	app_close(&app);
	return rc;
}

static int cmd_version(int argc, char **argv)
{
	(void)argv;
	if (argc > 1)
		return usage("version takes no arguments");
	printf("dealmail %s\n", DEALMAIL_VERSION);
	return 0;
}

static int cmd_help(int argc, char **argv);

struct cmd {
	const char *name;
	int (*fn)(int, char **);
	const char *synopsis;
	const char *help;
};

static const struct cmd commands[] = {
	{"init", cmd_init, "init", "Create or upgrade the database (idempotent) and the HMAC secret."},
	{"ingest", cmd_ingest, "ingest [FILE...] | --maildir DIR | --mbox FILE",
	 "Process messages. Without arguments one message is read from stdin: the MTA pipe hook\n"
	 "(exit 0 done, 65 quarantined, 75 try again later)."},
	{"serve", cmd_serve, "serve",
	 "Take the MTA pipe's messages from `dealmail ingest` and dealmail-pipe over the Unix socket\n"
	 "of [dealmail] socket: the same processing without starting it for each message."},
	{"watch", cmd_watch, "watch [--once]", "IMAP: process what is new, then wait with IDLE."},
	{"tick", cmd_tick, "tick", "Do what is due now: drip steps, digests, outbox delivery (for cron)."},
	{"send", cmd_send, "send", "Deliver the outbox now."},
	{"run", cmd_run, "run", "The daemon: watch and tick in one process."},
	{"digest", cmd_digest, "digest [--rep EMAIL | --manager EMAIL] [--print | --send]", "Compose a digest."},
	{"report", cmd_report, "report [--since DATE] [--format text|json]", "Pipeline metrics."},
	{"deal", cmd_deal, "deal add|list|show|import ...",
	 "deal add --title T --contact EMAIL [--owner EMAIL] [--stage KEY] [--value N]\n"
	 "         [--reason R]   (a won or lost deal: its reason, required where the pipeline requires it)\n"
	 "deal list [--stage KEY] [--owner EMAIL]\ndeal show N\ndeal import --csv FILE"},
	{"export", cmd_export, "export --json", "The whole database as JSON on stdout."},
	{"explain", cmd_explain, "explain [FILE] [--format text|json]",
	 "Dry run for one message: class, sender, deal and route, visible text, commands, outcome.\n"
	 "Reads the database, writes nothing."},
	{"config", cmd_config, "config check", "Load the config and report every problem with file:line (exit 78)."},
	{"unsubscribe", cmd_unsubscribe, "unsubscribe TOKEN",
	 "Unsubscribe the contact a drip's signed token names, and stop its sequences: what the\n"
	 "RFC 8058 one-click endpoint of [dealmail] unsubscribe_url runs for ?token=TOKEN\n"
	 "(0 done, 65 a token that does not verify, 75 try again later)."},
	{"version", cmd_version, "version", "Print the version."},
	{"help", cmd_help, "help [COMMAND]", "This help."},
};

static int cmd_help(int argc, char **argv)
{
	size_t n = sizeof commands / sizeof commands[0];
	/* `help deal add`, `help config check`: the command's own help */
	static const char *const subs[] = {"deal add", "deal list", "deal show", "deal import", "config check", NULL};
	bool sub = false;
	if (argc == 3) {
		char two[64];
		snprintf(two, sizeof two, "%s %s", argv[1], argv[2]);
		for (size_t k = 0; subs[k] && !sub; k++)
			sub = !strcmp(two, subs[k]);
	}
	if (argc > 2 && !sub)
		return usage("help [COMMAND]");
	if (argc > 1) {
		for (size_t i = 0; i < n; i++)
			if (!strcmp(commands[i].name, argv[1])) {
				printf("usage: dealmail [-c CONFIG] [--db PATH] %s\n\n%s\n", commands[i].synopsis,
				       commands[i].help);
				return 0;
			}
		return usage("no such command");
	}
	printf("usage: dealmail [-c CONFIG] [--db PATH] [-v|-q] [--syslog] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < n; i++)
		printf("  %s\n", commands[i].synopsis);
	printf("\nCONFIG defaults to $DEALMAIL_CONFIG, ./dealmail.conf, /etc/dealmail/dealmail.conf.\n");
	return 0;
}

int main(int argc, char **argv)
{
	int i = 1;
	g.argv = argv;
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) {
			if (++i >= argc)
				return usage("-c needs a file");
			g.config = argv[i];
		} else if (!strcmp(argv[i], "--db")) {
			if (++i >= argc)
				return usage("--db needs a path");
			g.db = argv[i];
		} else if (!strncmp(argv[i], "--db=", 5))
			g.db = argv[i] + 5;
		else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
			log_level = 2;
		else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
			log_level = 0;
		else if (!strcmp(argv[i], "--syslog"))
			log_to_syslog();
		else if (!strcmp(argv[i], "--version"))
			return cmd_version(0, NULL);
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return cmd_help(1, argv);
		else if (argv[i][0] == '-')
			return usage("unknown option");
		else
			break;
	}
	if (i >= argc) {
		/* a bad command line: the usage goes where errors go */
		fflush(stdout);
		if (dup2(STDERR_FILENO, STDOUT_FILENO) >= 0)
			cmd_help(1, argv);
		fflush(stdout);
		return EXIT_USAGE;
	}
	/* without a configuration there are no reps and no assistant address:
	 * every rep's reply would become a lead, so the commands that act on
	 * mail refuse to start (the others show the built-in defaults) */
	static const char *const acting[] = {"ingest", "watch", "tick", "send", "run", "digest", "serve"};
	for (size_t k = 0; k < sizeof acting / sizeof acting[0]; k++)
		g.file_required |= !strcmp(argv[i], acting[k]);
	for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
		if (!strcmp(commands[k].name, argv[i]))
			return commands[k].fn(argc - i, argv + i);
	return usage("unknown command");
}
