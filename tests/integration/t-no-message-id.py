#!/usr/bin/python3
# A message without Message-ID is known by the SHA-256 of its bytes (SPEC §2:
# applied at most once, however often it is delivered), the bytes as
# delivered without what a source puts around them:
#   1. the same contact reply (no Message-ID) arriving every way it can — the
#      pipe, the pipe with a leading mbox "From " envelope line (Postfix
#      flags=F, procmail), an mbox (its "From " line and the blank separator
#      line: in the middle and at the end of the file), a Maildir file, with
#      CRLF line ends (IMAP), without a final newline, with several — is
#      applied once whichever comes first: one email event, score +2, one
#      notification; `explain` calls each later copy a duplicate;
#   2. a database written before that rule holds the keys computed then (the
#      raw bytes as given: with the envelope line; an mbox's message with its
#      separator line): the message delivered again after the upgrade is
#      still found and not applied twice;
#   3. two messages that differ in more than their framing still apply both.
#   DEALMAIL_BIN, KEEP=1
import hashlib, json, os, sqlite3, tempfile

import testlib

ENV = testlib.test_env("nomid-secret-0123456789abcdef!!!")
tmp = tempfile.mkdtemp(prefix="dealmail-nomid-")
check = testlib.Checks("t-no-message-id")

conf = os.path.join(tmp, "dealmail.conf")
with open(conf, "w") as f:
    f.write("[dealmail]\naddress = ventas@example.com\nlanguage = en\n\n" + testlib.TEAM_CONF)

MSG = ("Return-Path: <jane@initech.com>\nDelivered-To: ventas@example.com\n"
       "From: Jane Doe <jane@initech.com>\nTo: Ana Lopez <ana@example.com>\nCc: ventas@example.com\n"
       "Subject: Re: [deal #3] Initech pilot\nDate: Mon, 23 Nov 2026 10:19:02 -0600\nMIME-Version: 1.0\n"
       "Content-Type: text/plain; charset=us-ascii\n\nThanks Ana, the signed order form is on its way.\n\nJane\n")
ENVELOPE = "From jane@initech.com  Mon Nov 23 16:20:00 2026\n"
OTHER = ("From: Lead <lead@prospect.example>\nTo: ventas@example.com\nSubject: Precios\n"
         "Date: Mon, 23 Nov 2026 08:00:00 -0600\n\nHola.\n")


def fresh(name):
    db = os.path.join(tmp, name + ".db")
    dm = lambda *a, **kw: testlib.dealmail(conf, db, *a, env=ENV, **kw)
    assert dm("init").returncode == 0
    for args in testlib.TEAM_DEALS:
        r = dm("deal", "add", *args)
        assert r.returncode == 0, r.stderr
    return db, dm


def mbox(name, messages):
    path = os.path.join(tmp, name + ".mbox")
    with open(path, "w", newline="") as f:
        for i, m in enumerate(messages):
            f.write("From sender%d@example.net Mon Nov 23 08:00:0%d 2026\n" % (i, i))
            f.write(m + "\n")   # the blank separator line
    return path


# each way of delivering: (name, what to run with dm)
def pipe(data):
    return lambda dm: dm("ingest", stdin=data.encode())


def via_mbox(name, messages):
    return lambda dm: dm("ingest", "--mbox", mbox(name, messages))


def via_maildir(name, data):
    def run(dm):
        md = os.path.join(tmp, "md-" + name + "-" + os.urandom(4).hex())
        testlib.make_maildir(md, [("1795448472.M1P1.mx.example.com", data)])
        return dm("ingest", "--maildir", md)
    return run


WAYS = [
    ("the pipe", pipe(MSG)),
    ("the pipe with a From_ envelope line", pipe(ENVELOPE + MSG)),
    ("an mbox, the message last", via_mbox("last", [OTHER, MSG])),
    ("an mbox, the message first", via_mbox("first", [MSG, OTHER])),
    ("a Maildir", via_maildir("plain", MSG)),
    ("CRLF line ends (IMAP)", pipe(MSG.replace("\n", "\r\n"))),
    ("no final newline", pipe(MSG.rstrip("\n"))),
    ("two final newlines", via_maildir("two", MSG + "\n")),
    ("a From_ line, CRLF, several final CRLF", pipe((ENVELOPE + MSG).replace("\n", "\r\n") + "\r\n\r\n")),
]


def jane(db_dm):
    r = db_dm("export", "--json")
    ex = json.loads(r.stdout)
    deal = [d for d in ex["deals"] if d["id"] == 3][0]
    emails = [e for e in ex["events"] if e["deal"] == 3 and e["type"] == "email"]
    notes = [o for o in ex["outbox"] if o["kind"] == "notification" and "Initech" in o["subject"]]
    return deal["score"], len(emails), len(notes)


try:
    print("t-no-message-id: 1 one message, every way it arrives", flush=True)
    for k, (first, deliver) in enumerate(WAYS):
        db, dm = fresh("way%d" % k)
        r = deliver(dm)
        assert r.returncode == 0, (first, r.returncode, r.stderr)
        bad = []
        for name, again in WAYS:
            if name != first:
                r = again(dm)
                if r.returncode != 0:
                    bad.append("%s: exit %d" % (name, r.returncode))
        exp = dm("explain", "--format", "json", stdin=(ENVELOPE + MSG + "\n").encode())
        dup = json.loads(exp.stdout).get("duplicate") if exp.returncode == 0 else None
        got = jane(dm)
        check(got == (2, 1, 1) and not bad and dup is True,
              "first by %s, then every other way: applied once (score, email events, notifications: %s, "
              "expected (2, 1, 1)%s; explain says duplicate: %s)" % (first, got, "; " + ", ".join(bad) if bad else "", dup))

    print("t-no-message-id: 2 keys recorded before the upgrade", flush=True)
    sha = lambda s: hashlib.sha256(s.encode()).hexdigest()
    OLD = [
        ("an mbox read before the upgrade (its key had the separator line), the same mbox again",
         sha(MSG + "\n"), via_mbox("old-again", [OTHER, MSG])),
        ("... then the message by the pipe", sha(MSG + "\n"), pipe(MSG)),
        ("... then over IMAP (CRLF)", sha(MSG + "\n"), pipe(MSG.replace("\n", "\r\n"))),
        ("the pipe with a From_ line before the upgrade, the MTA retries the same", sha(ENVELOPE + MSG),
         pipe(ENVELOPE + MSG)),
        ("no final newline before the upgrade, the same again", sha(MSG.rstrip("\n")), pipe(MSG.rstrip("\n"))),
        ("CRLF with two final line ends before the upgrade, the LF copy", sha(MSG.replace("\n", "\r\n") + "\r\n"),
         via_maildir("old-crlf", MSG)),
    ]
    for k, (what, old_key, deliver) in enumerate(OLD):
        db, dm = fresh("old%d" % k)
        con = sqlite3.connect(db)
        con.execute("INSERT INTO processed(message_id, at, outcome, class, sender, deal_id) "
                    "VALUES(?, '2026-11-22T10:00:00Z', 'log', 'contact', 'jane@initech.com', 3)", (old_key,))
        con.commit()
        con.close()
        r = deliver(dm)
        got = jane(dm)
        check(r.returncode == 0 and got == (0, 0, 0), "%s: not applied again (exit %d; score, email events, "
              "notifications: %s)" % (what, r.returncode, got))

    print("t-no-message-id: 3 different messages still apply", flush=True)
    db, dm = fresh("diff")
    dm("ingest", stdin=MSG.encode())
    dm("ingest", stdin=MSG.replace("on its way.", "on its way!").encode())
    dm("ingest", stdin=(MSG + "PS: call me.\n").encode())
    got = jane(dm)
    check(got == (6, 3, 3), "three replies that differ in their text: three applied (got %s)" % (got,))
finally:
    check.cleanup(tmp)
check.finish()
