#!/usr/bin/python3
"""A throwaway SMTP server for dealmail's integration tests (python3-aiosmtpd).

Run with Debian's /usr/bin/python3 (a pyenv python on PATH cannot import
aiosmtpd).  Listens on 127.0.0.1:PORT and writes every accepted message's
exact bytes (as received after DATA, dot-unstuffed, CRLF kept) into
MAILDIR/new (tmp/ first, then rename), and one JSON line per message into
MAILDIR/log.jsonl: {"file", "mail_from", "rcpt", "auth", "tls",
"peer", "conn"} (the client's address and port, and the number of the
connection: the kernel may give a later connection the same port).

Misbehaviour on purpose, for the retry and failure paths:
  --tempfail ADDR   451 to RCPT TO:<ADDR> the first time, accept afterwards
  --reject ADDR     550 5.1.1 to RCPT TO:<ADDR>, always
  --die-after N     accept N messages, then exit the whole process abruptly
                    after the next message's data has arrived, before any
                    reply (the client sees the connection drop mid-DATA)
TLS and AUTH:
  --cert F --key F  offer STARTTLS with this certificate (--implicit: TLS
                    from the first byte instead, like smtps://)
  --require-tls     refuse MAIL before STARTTLS
  --auth USER:PASS  offer AUTH PLAIN and LOGIN, require it for MAIL
  --no-fsync        for benchmarks: do not fsync each received message
Writes PIDFILE (--pidfile) once it accepts connections.
"""
import argparse
import json
import os
import signal
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, args):
        self.args = args
        self.seen_tempfail = set()
        self.accepted = 0
        self.seq = 0
        self.conns = 0
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(args.maildir, sub), exist_ok=True)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        a = address.lower()
        if a in (x.lower() for x in self.args.reject):
            return "550 5.1.1 <%s>: Recipient address rejected: no such user" % address
        if a in (x.lower() for x in self.args.tempfail) and a not in self.seen_tempfail:
            self.seen_tempfail.add(a)
            return "451 4.3.0 <%s>: temporarily unavailable, try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def conn_number(self, session):
        """1, 2, ... in the order connections first delivered a message
        (aiosmtpd makes one session per connection)."""
        if getattr(session, "dm_conn", None) is None:
            self.conns += 1
            session.dm_conn = self.conns
        return session.dm_conn

    async def handle_DATA(self, server, session, envelope):
        if self.args.die_after is not None and self.accepted >= self.args.die_after:
            sys.stdout.flush()
            os._exit(3)  # no reply, no cleanup: the server is gone mid-transaction
        self.seq += 1
        name = "%d.%d_%d.test" % (time.time(), os.getpid(), self.seq)
        tmp = os.path.join(self.args.maildir, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(envelope.original_content)
            if not self.args.no_fsync:
                f.flush()
                os.fsync(f.fileno())
        os.rename(tmp, os.path.join(self.args.maildir, "new", name))
        auth = session.auth_data
        if isinstance(auth, LoginPassword):
            auth = auth.login.decode()
        rec = {
            "file": name,
            "mail_from": envelope.mail_from,
            "rcpt": envelope.rcpt_tos,
            "auth": auth,
            "tls": session.ssl is not None or bool(self.args.implicit),
            "peer": list(session.peer) if session.peer else None,
            "conn": self.conn_number(session),
        }
        with open(os.path.join(self.args.maildir, "log.jsonl"), "a") as f:
            f.write(json.dumps(rec) + "\n")
        self.accepted += 1
        return "250 2.0.0 Ok: queued as %s" % name


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--maildir", required=True)
    p.add_argument("--pidfile")
    p.add_argument("--tempfail", action="append", default=[])
    p.add_argument("--reject", action="append", default=[])
    p.add_argument("--die-after", type=int)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--implicit", action="store_true")
    p.add_argument("--require-tls", action="store_true")
    p.add_argument("--auth")
    p.add_argument("--no-fsync", action="store_true", help="benchmarks: do not fsync each message")
    args = p.parse_args()

    handler = Handler(args)
    kw = dict(hostname="127.0.0.1", port=args.port, server_hostname="localhost",
              enable_SMTPUTF8=True, data_size_limit=None)
    ctx = None
    if args.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)
    if ctx and args.implicit:
        kw["ssl_context"] = ctx
    elif ctx:
        kw["tls_context"] = ctx
        kw["require_starttls"] = args.require_tls
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword)
                  and auth_data.login.decode() == user
                  and auth_data.password.decode() == password)
            return AuthResult(success=ok, auth_data=user if ok else None)

        kw["authenticator"] = authenticator
        kw["auth_required"] = True
        # aiosmtpd counts only STARTTLS as TLS: with implicit TLS it would
        # not offer AUTH at all
        kw["auth_require_tls"] = bool(ctx) and not args.implicit
    else:
        kw["auth_require_tls"] = False
    controller = Controller(handler, **kw)
    controller.start()
    if args.pidfile:
        with open(args.pidfile + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(args.pidfile + ".tmp", args.pidfile)

    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main()
