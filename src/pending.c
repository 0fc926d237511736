/* pending.c — commands whose subsystems are not built yet.  Each says so
 * loudly and exits 70 (EX_SOFTWARE) rather than pretending to work. */
#include <stdio.h>

__attribute__((unused)) static int not_yet(const char *what, const char *issue)
{
	fprintf(stderr, "dealmail: `%s` is not implemented in this version (see %s)\n", what, issue);
	return 70;
}

