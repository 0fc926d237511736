/* dealmail-pipe — the MTA pipe hook at its fastest: a small static program
 * that hands the message on its stdin to a running `dealmail serve`
 * (handoff.h) and exits with serve's verdict.  It takes dealmail's global
 * options (-c CONFIG, --db PATH, -q, -v, --syslog) and, optionally, the
 * word ingest after them.  When no serve takes the message (none configured
 * or running, another configuration or database, anything unexpected), it
 * runs `dealmail [OPTIONS] ingest` from its own folder on the same, untouched
 * stdin: the result is the same either way, only the time differs. */
#include "handoff.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Only what handoff.c and these few lines call: on x86-64 this program is
 * linked with src/pipe/rt.c instead of libc (no stdio, no printf). */

/* a line for the MTA on stdout: the parts given, up to five */
static void say(const char *a, const char *b, const char *c, const char *d, const char *e)
{
	const char *parts[5] = {a, b, c, d, e};
	for (int i = 0; i < 5; i++)
		if (parts[i])
			(void)!write(STDOUT_FILENO, parts[i], strlen(parts[i]));
	(void)!write(STDOUT_FILENO, "\n", 1);
}

/* errno in words, for the few a failed start can have */
static const char *why(int e)
{
	switch (e) {
	case ENOENT:
		return "no such file";
	case EACCES:
		return "permission denied";
	case ENOMEM:
		return "out of memory";
	case ENOEXEC:
		return "not a program";
	case E2BIG:
		return "argument list too long";
	default:
		return "system error";
	}
}

/* dealmail itself, beside this program */
static void run_dealmail(int argc, char **argv)
{
	char self[PATH_MAX], path[PATH_MAX + 16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0) {
		say("4.3.0 dealmail-pipe: cannot find its own folder: ", why(errno), "; the message will be retried",
		    NULL, NULL);
		exit(75);
	}
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	size_t dl = strlen(self);
	memcpy(path, self, dl);
	memcpy(path + dl, "/dealmail", sizeof "/dealmail");
	char **av = malloc(((size_t)argc + 2) * sizeof *av);
	if (!av) {
		say("4.3.0 dealmail-pipe: out of memory; the message will be retried", NULL, NULL, NULL, NULL);
		exit(75);
	}
	av[0] = path;
	for (int i = 1; i < argc; i++)
		av[i] = argv[i];
	av[argc] = NULL;
	av[argc + 1] = NULL;
	if (argc < 2 || strcmp(argv[argc - 1], "ingest"))
		av[argc] = "ingest";
	execv(path, av);
	say("4.3.0 dealmail-pipe: cannot run ", path, ": ", why(errno), "; the message will be retried");
	exit(75);
}

int main(int argc, char **argv)
{
	const char *config = NULL, *db = NULL;
	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
			config = argv[++i];
		else if (!strcmp(argv[i], "--db") && i + 1 < argc)
			db = argv[++i];
		else if (!strncmp(argv[i], "--db=", 5))
			db = argv[i] + 5;
		else if (i == argc - 1 && !strcmp(argv[i], "ingest"))
			;   /* `dealmail-pipe … ingest`, as dealmail is called, is the same */
		else if (strcmp(argv[i], "-q") && strcmp(argv[i], "--quiet") && strcmp(argv[i], "-v") &&
			 strcmp(argv[i], "--verbose") && strcmp(argv[i], "--syslog"))
			run_dealmail(argc, argv);   /* dealmail says what is wrong with it */
	}
	const char *path = handoff_config_path(config);
	struct handoff_conf hc;
	if (handoff_conf_read(path, &hc)) {
		int rc = -1;
		char line[600];
		if (hc.socket) {
			unsigned char ctx[32];
			handoff_context(ctx, path, db ? db : hc.database);
			rc = handoff_try(hc.socket, hc.pipe_timeout, ctx, line, sizeof line);
		}
		handoff_conf_free(&hc);
		if (rc >= 0) {
			if (*line)
				say(line, NULL, NULL, NULL, NULL);
			return rc;
		}
	}
	run_dealmail(argc, argv);
	return 75;
}
