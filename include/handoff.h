/* handoff.h — the MTA pipe's hand-off to a running `dealmail serve`.
 *
 * Starting a process, opening SQLite and reading its schema cost most of a
 * piped message.  When [dealmail] socket names the Unix socket of a running
 * `dealmail serve`, the pipe client (`dealmail ingest` on stdin, or the small
 * static `dealmail-pipe`) connects to it, passes its stdin descriptor
 * (SCM_RIGHTS) with a digest of everything that decides the outcome (the
 * configuration file, the database file, the environment), and waits for the
 * verdict under its own deadline.  serve reads the message from that
 * descriptor and processes it exactly as the pipe would: one durable
 * transaction, then the verdict.  When the digests differ (another config,
 * another database, a config changed and not loadable), serve answers "no"
 * before it reads anything and the client processes the message itself.
 * Nothing in this module depends on the rest of dealmail: dealmail-pipe is
 * this file, sha256.c and its own main(), on x86-64 with src/pipe/rt.c in
 * place of libc (handoff.c calls only what that runtime provides). */
#ifndef DEALMAIL_HANDOFF_H
#define DEALMAIL_HANDOFF_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define HANDOFF_MAGIC "DMPIPE01"   /* 8 bytes: the protocol and its version */
/* How long past its deadline a client waits for the verdict once serve has
 * said it is committing ("C"; a client that does not know "C" skips it):
 * pipe_timeout (8 s by default) plus this stays under Dovecot's 10 s. */
#define HANDOFF_COMMIT_GRACE_MS 1000

/* What the client sends with its stdin descriptor. */
struct handoff_req {
	char magic[8];
	unsigned char ctx[32];
};

/* Room for the one descriptor a request carries, aligned for cmsghdr. */
union handoff_ctrl {
	char buf[CMSG_SPACE(sizeof(int))];
	struct cmsghdr align;
};

/* mh set up to send or receive `req` with `ctrl` (zeroed) for its descriptor. */
void handoff_msg(struct msghdr *mh, struct iovec *iov, struct handoff_req *req, union handoff_ctrl *ctrl);

/* The configuration file in use: `given` (-c), else $DEALMAIL_CONFIG, else
 * ./dealmail.conf, else /etc/dealmail/dealmail.conf if they exist; NULL
 * when none does. */
const char *handoff_config_path(const char *given);

/* The three [dealmail] keys the client needs, read from the file without
 * loading it: database and socket (relative to the file's folder, as the
 * loader resolves them), pipe_timeout.  Strings are malloc'd (NULL when
 * absent); false when the file cannot be read. */
struct handoff_conf {
	char *database, *socket;
	int pipe_timeout;
};
bool handoff_conf_read(const char *config_path, struct handoff_conf *hc);
void handoff_conf_free(struct handoff_conf *hc);

/* SHA-256 over the identity of the config file (device, inode, size,
 * modification time), of the database file (device, inode) and the
 * environment that changes processing (DEALMAIL_SECRET, DEALMAIL_NOW,
 * DEALMAIL_TEMPLATES_DIR, TZDIR). */
void handoff_context(unsigned char out[32], const char *config_path, const char *database);

/* The client.  -1: not handed off, stdin untouched (no serve, another
 * context, any error before serve took the message): process it here.
 * Otherwise the exit code for the MTA, with the line to print (maybe empty)
 * in `line`. */
int handoff_try(const char *socket_path, int timeout, const unsigned char ctx[32], char *line, size_t linesz);

#endif
