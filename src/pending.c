/* pending.c — commands whose subsystems are not built yet.  Each says so
 * loudly and exits 70 (EX_SOFTWARE) rather than pretending to work. */
#include <stdio.h>

static int not_yet(const char *what, const char *issue)
{
	fprintf(stderr, "dealmail: `%s` is not implemented in this version (see %s)\n", what, issue);
	return 70;
}

int cmd_send(int argc, char **argv) { (void)argc; (void)argv; return not_yet("send", "issue 3: outgoing mail"); }
int cmd_tick(int argc, char **argv) { (void)argc; (void)argv; return not_yet("tick", "issue 3: outgoing mail"); }
int cmd_digest(int argc, char **argv) { (void)argc; (void)argv; return not_yet("digest", "issue 5: digests"); }
int cmd_report(int argc, char **argv) { (void)argc; (void)argv; return not_yet("report", "issue 5: reports"); }
