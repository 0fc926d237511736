#!/usr/bin/python3
# A bounce of one of our messages to someone who is not a contact (here a
# rep's confirmation: her mailbox is full) marks that delivery failed, as a
# drip's bounce does, so that the manager's digest lists it under the failed
# deliveries (SPEC §4/§5); nobody is marked bouncing, no lead is made.
#   DEALMAIL_BIN, KEEP=1
import json, os, tempfile

import testlib

ENV = testlib.test_env("bounce-ours-secret-0123456789abcd")
tmp = tempfile.mkdtemp(prefix="dealmail-bounce-ours-")
check = testlib.Checks("t-bounce-ours")
conf = os.path.join(tmp, "dealmail.conf")
with open(conf, "w") as f:
    f.write("""[dealmail]
address = ventas@example.com
language = es
[rep "ana@example.com"]
name = Ana
team = norte
[rep "maria@example.com"]
name = María
role = manager
team = norte
""")
db = os.path.join(tmp, "dealmail.db")


def dm(*args, stdin=None):
    return testlib.dealmail(conf, db, *args, env=ENV, stdin=stdin, cwd=tmp)


DSN = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "bounce-ours.eml"), "rb").read()
try:
    assert dm("init").returncode == 0
    assert dm("deal", "add", "--title", "ACME renewal", "--contact", "cliente@acme.mx", "--owner",
              "ana@example.com", "--stage", "demo").returncode == 0
    r = dm("ingest", stdin=b"From: Ana <ana@example.com>\nTo: ventas@example.com\n"
           b"Subject: Re: [deal #1] ACME renewal\nMessage-ID: <a1@example.com>\n\nvalor: 12000\n")
    check(r.returncode == 0, "Ana's update applied (exit %d)" % r.returncode)
    conf_row = [o for o in json.loads(dm("export", "--json").stdout)["outbox"] if o["kind"] == "confirmation"][0]
    dsn = DSN.replace(b"@MID1@", conf_row["message_id"].encode()).replace(b"Delivered-To: ventas+b.1-92890a40b0@",
                      b"Delivered-To: ventas@").replace(b"To: ventas+b.1-92890a40b0@", b"To: ventas@")
    ex = json.loads(dm("explain", "--format", "json", stdin=dsn).stdout)
    check(ex["class"] == "bounce" and ex["outcome"] == "log", "explain: a bounce, logged (got %s %s)"
          % (ex["class"], ex["outcome"]))
    r = dm("ingest", stdin=dsn)
    check(r.returncode == 0, "the bounce was ingested (exit %d)" % r.returncode)
    e = json.loads(dm("export", "--json").stdout)
    row = [o for o in e["outbox"] if o["id"] == conf_row["id"]][0]
    check(row["status"] == "failed", "the confirmation's delivery is failed (got %s)" % row["status"])
    check(len(e["deals"]) == 1 and all(not c["bouncing"] for c in e["contacts"]),
          "no lead, nobody marked bouncing (deals %d, contacts %s)" % (len(e["deals"]), e["contacts"]))
    d = dm("digest", "--manager", "maria@example.com", "--print").stdout.decode()
    check("ana@example.com" in d and "5.2.2" in d, "the manager's digest lists the failed delivery:\n" + d[-600:])
finally:
    check.cleanup(tmp)
check.finish()
