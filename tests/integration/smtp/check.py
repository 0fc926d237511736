#!/usr/bin/python3
"""Compare what the test SMTP server received with dealmail's outbox.

  check.py DB MAILDIR [--all] [--count N] [--one-connection] [--tls] [--auth USER]

For every message in MAILDIR/new (written by server.py, envelope in
MAILDIR/log.jsonl):
  - it is the byte-exact raw of exactly one outbox row (found by Message-ID;
    libcurl adds the CRLF before the final dot when the raw does not end in
    one), and that row is 'sent';
  - the envelope is the row's envelope_from and rcpt, one recipient;
  - it parses back with the email package with no defects: Subject decodes to
    the row's subject, every text part decodes, Date and Message-ID are there,
    no header carries a CR or LF of a value (no injected header);
  - no Message-ID arrived twice.
--all: every 'sent' row arrived.  --count N: exactly N messages arrived.
--one-connection: all arrived on one client port (connection reuse).
--tls / --auth USER: every message came over TLS / after AUTH as USER.
Prints one line per problem and exits 1 if there was any.
"""
import argparse
import email
import email.policy
import json
import os
import sqlite3
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("db")
    p.add_argument("maildir")
    p.add_argument("--all", action="store_true")
    p.add_argument("--count", type=int)
    p.add_argument("--one-connection", action="store_true")
    p.add_argument("--tls", action="store_true")
    p.add_argument("--auth")
    a = p.parse_args()

    problems = []
    db = sqlite3.connect(a.db)
    rows = {}
    for r in db.execute("SELECT id, message_id, rcpt, envelope_from, subject, raw, status, kind FROM outbox"):
        rows[r[1]] = dict(id=r[0], mid=r[1], rcpt=r[2], env=r[3], subject=r[4], raw=bytes(r[5]),
                          status=r[6], kind=r[7])
    log = {}
    logpath = os.path.join(a.maildir, "log.jsonl")
    if os.path.exists(logpath):
        for line in open(logpath):
            rec = json.loads(line)
            log[rec["file"]] = rec
    newdir = os.path.join(a.maildir, "new")
    files = sorted(os.listdir(newdir)) if os.path.isdir(newdir) else []
    seen = {}
    ports = set()
    for f in files:
        data = open(os.path.join(newdir, f), "rb").read()
        msg = email.message_from_bytes(data, policy=email.policy.default)
        mid = msg.get("Message-ID")
        mid = str(mid).strip() if mid else None
        if not mid or mid not in rows:
            problems.append("%s: Message-ID %r is not in the outbox" % (f, mid))
            continue
        row = rows[mid]
        seen[mid] = seen.get(mid, 0) + 1
        if seen[mid] == 2:
            problems.append("outbox %d (%s) arrived more than once" % (row["id"], mid))
        want = row["raw"] if row["raw"].endswith(b"\r\n") else row["raw"] + b"\r\n"
        if data != want:
            problems.append("outbox %d: received bytes differ from the outbox raw (%d vs %d bytes)"
                            % (row["id"], len(data), len(want)))
        if row["status"] != "sent":
            problems.append("outbox %d arrived but its status is %s" % (row["id"], row["status"]))
        env = log.get(f)
        if not env:
            problems.append("%s: no envelope logged" % f)
        else:
            if env["mail_from"] != row["env"]:
                problems.append("outbox %d: MAIL FROM %s, expected %s" % (row["id"], env["mail_from"], row["env"]))
            if env["rcpt"] != [row["rcpt"]]:
                problems.append("outbox %d: RCPT %s, expected [%s]" % (row["id"], env["rcpt"], row["rcpt"]))
            if env.get("peer"):
                ports.add(env["peer"][1])
            if a.tls and not env["tls"]:
                problems.append("outbox %d: not sent over TLS" % row["id"])
            if a.auth and env["auth"] != a.auth:
                problems.append("outbox %d: AUTH user %r, expected %r" % (row["id"], env["auth"], a.auth))
        # parses back
        if msg.defects:
            problems.append("outbox %d: defects %s" % (row["id"], msg.defects))
        subj = str(msg.get("Subject", ""))
        if subj != row["subject"].replace("\r", " ").replace("\n", " ") and \
                " ".join(subj.split()) != " ".join(row["subject"].split()):
            problems.append("outbox %d: Subject decodes to %r, outbox says %r" % (row["id"], subj, row["subject"]))
        for h in ("Date", "From", "To", "Message-ID", "MIME-Version"):
            if msg.get(h) is None:
                problems.append("outbox %d: no %s header" % (row["id"], h))
        for k, v in msg.raw_items():
            if "\r" in str(v).replace("\r\n", "") or k.lower() in ("bcc",):
                problems.append("outbox %d: suspicious header %s: %r" % (row["id"], k, v))
        for part in msg.walk():
            if part.get_content_maintype() == "text":
                try:
                    part.get_content()
                except Exception as e:  # noqa
                    problems.append("outbox %d: a %s part does not decode: %s"
                                    % (row["id"], part.get_content_type(), e))
            for d in part.defects:
                problems.append("outbox %d: part defect %s" % (row["id"], d))
    if a.all:
        for mid, row in rows.items():
            if row["status"] == "sent" and mid not in seen:
                problems.append("outbox %d is 'sent' but did not arrive" % row["id"])
    if a.count is not None and len(files) != a.count:
        problems.append("%d messages arrived, expected %d" % (len(files), a.count))
    if a.one_connection and len(ports) > 1:
        problems.append("messages came over %d connections, expected one" % len(ports))
    for pr in problems:
        print("  " + pr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
