#!/usr/bin/python3
# The cap on automatic answers (confirm_per_hour, RFC 3834: never flood a
# mailbox), checked through `export --json`'s outbox:
#   1. a Maildir batch of 5 commands from one rep, cap 3: every command is
#      applied, 3 confirmations are queued, and another rep still gets his;
#   2. the pipe (one process per message) counts the same hour: nothing more
#      for the capped rep;
#   3. once the hour of those 3 is over the rep is answered again, 3 times,
#      and then capped again.
#   DEALMAIL_BIN, KEEP=1
import json, os, tempfile

import testlib

ENV = testlib.test_env("cap-secret-0123456789abcdef!!!!!!", now=None)
tmp = tempfile.mkdtemp(prefix="dealmail-cap-")
check = testlib.Checks("t-confirm-cap")

conf = os.path.join(tmp, "dealmail.conf")
with open(conf, "w") as f:
    f.write("""[dealmail]
address = ventas@example.com
language = es
confirm_per_hour = 3

[rep "ana@example.com"]
name = Ana
[rep "bob@example.com"]
name = Bob
""")
db = os.path.join(tmp, "dealmail.db")


def dm(*args, stdin=None, now=testlib.NOW):
    return testlib.dealmail(conf, db, *args, env=dict(ENV, DEALMAIL_NOW=now), stdin=stdin, cwd=tmp)


n = [0]


def mail(frm, body):
    n[0] += 1
    return ("From: %s\nTo: ventas@example.com\nSubject: Re: [deal #1] ACME renewal\n"
            "Message-ID: <cap-%d@mail.example.com>\nDate: Mon, 23 Nov 2026 09:%02d:00 -0600\n\n%s\n"
            % (frm, n[0], n[0], body)).encode()


def export():
    return json.loads(dm("export", "--json").stdout)


def answers(rcpt):
    return [o for o in export()["outbox"] if o["kind"] in ("confirmation", "error") and o["to"] == rcpt]


try:
    assert dm("init").returncode == 0
    r = dm("deal", "add", "--title", "ACME renewal", "--contact", "cliente@acme.mx",
           "--owner", "ana@example.com", "--stage", "demo", "--value", "1000")
    assert r.returncode == 0, r

    print("t-confirm-cap: 1 a batch answers the first 3 of 5", flush=True)
    md = testlib.make_maildir(os.path.join(tmp, "md"), [
        ("%02d.cap" % i, mail("Ana <ana@example.com>", "valor: %d" % (2000 + i))) for i in range(5)])
    r = dm("ingest", "--maildir", md)
    check(r.returncode == 0, "ingest --maildir exit 0 (got %d)" % r.returncode)
    d = export()["deals"][0]
    check(d["value"] == 2004, "all 5 commands were applied (value %s)" % d["value"])
    check(len(answers("ana@example.com")) == 3, "3 confirmations to Ana (got %d)" % len(answers("ana@example.com")))
    r = dm("ingest", stdin=mail("Bob <bob@example.com>", "ayuda"))
    check(r.returncode == 0 and len([o for o in export()["outbox"] if o["to"] == "bob@example.com"]) == 1,
          "Bob, under his own cap, is answered")

    print("t-confirm-cap: 2 the pipe counts the same hour", flush=True)
    r = dm("ingest", stdin=mail("Ana <ana@example.com>", "valor: 3000"), now="2026-11-23T15:30:00Z")
    check(r.returncode == 0 and export()["deals"][0]["value"] == 3000, "the command was applied")
    check(len(answers("ana@example.com")) == 3, "no fourth confirmation (got %d)" % len(answers("ana@example.com")))

    print("t-confirm-cap: 3 the window slides", flush=True)
    got = []
    for k in range(4):
        dm("ingest", stdin=mail("Ana <ana@example.com>", "valor: %d" % (3100 + k)),
           now="2026-11-23T16:00:0%dZ" % (k + 1))
        got.append(len(answers("ana@example.com")))
    check(got == [4, 5, 6, 6], "after the hour, 3 more answers and then the cap again (got %s)" % got)
    check(export()["deals"][0]["value"] == 3103, "every command was applied")
finally:
    check.cleanup(tmp)
check.finish()
