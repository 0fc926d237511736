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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* dealmail itself, beside this program */
static void run_dealmail(int argc, char **argv)
{
	char self[PATH_MAX], path[PATH_MAX + 16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0) {
		printf("4.3.0 dealmail-pipe: cannot find its own folder: %s; the message will be retried\n",
		       strerror(errno));
		exit(75);
	}
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	snprintf(path, sizeof path, "%s/dealmail", self);
	char **av = calloc((size_t)argc + 2, sizeof *av);
	if (!av) {
		printf("4.3.0 dealmail-pipe: out of memory; the message will be retried\n");
		exit(75);
	}
	av[0] = path;
	for (int i = 1; i < argc; i++)
		av[i] = argv[i];
	if (argc < 2 || strcmp(argv[argc - 1], "ingest"))
		av[argc] = "ingest";
	execv(path, av);
	printf("4.3.0 dealmail-pipe: cannot run %s: %s; the message will be retried\n", path, strerror(errno));
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
				printf("%s\n", line);
			return rc;
		}
	}
	run_dealmail(argc, argv);
	return 75;
}
