#!/usr/bin/python3
# A contact's reply stops *their* sequences (SPEC §3.6), on every deal of
# theirs: a client with two deals in proposal, each with its follow-up
# sequence, answers the drip of one; the other deal's drip stops too, and no
# more follow-ups reach them.  Another client's sequence goes on.  Checked
# through `export --json` (enrollments, outbox) over a week of `tick`s.
#   DEALMAIL_BIN, KEEP=1
import json, os, tempfile

import testlib

ENV = testlib.test_env("stops-secret-0123456789abcdef!!!", now=None)
tmp = tempfile.mkdtemp(prefix="dealmail-stops-")
check = testlib.Checks("t-reply-stops-all")

conf = os.path.join(tmp, "dealmail.conf")
with open(conf, "w") as f:
    f.write("""[dealmail]
address = ventas@example.com
language = es
confirm = never

[rep "ana@example.com"]
name = Ana

[stage "proposal"]
on_enter = sequence pf

[sequence "pf"]
steps = 1d proposal-1, 3d proposal-2, 5d proposal-3
""")
db = os.path.join(tmp, "dealmail.db")


def dm(*args, now, stdin=None):
    return testlib.dealmail(conf, db, *args, env=dict(ENV, DEALMAIL_NOW=now), stdin=stdin, cwd=tmp)


def export(now):
    return json.loads(dm("export", "--json", now=now).stdout)


try:
    assert dm("init", now="2026-11-23T10:00:00Z").returncode == 0
    for title, contact in (("A1", "x@c.example"), ("A2", "x@c.example"), ("B", "y@d.example")):
        r = dm("deal", "add", "--title", title, "--contact", contact, "--owner", "ana@example.com",
               "--stage", "proposal", now="2026-11-23T10:00:00Z")
        assert r.returncode == 0, r
    dm("tick", now="2026-11-24T16:00:00Z")
    ex = export("2026-11-24T16:00:00Z")
    drips = [o for o in ex["outbox"] if o["kind"] == "drip"]
    check(sorted(o["deal"] for o in drips) == [1, 2, 3], "the first step went to each deal (got %s)"
          % sorted(o["deal"] for o in drips))
    to_deal2 = [o for o in drips if o["deal"] == 2][0]
    msg = ("From: X <x@c.example>\nTo: ventas@example.com\nSubject: Re: %s\n"
           "Message-ID: <reply-1@c.example>\nIn-Reply-To: %s\nDate: Tue, 24 Nov 2026 12:00:00 -0600\n\n"
           "Gracias, lo estoy revisando.\n" % (to_deal2["subject"], to_deal2["message_id"]))
    r = dm("ingest", now="2026-11-24T18:00:00Z", stdin=msg.encode())
    check(r.returncode == 0, "the client's reply was ingested (exit %d)" % r.returncode)
    en = {e["deal"]: (e["status"], e["stopped_reason"]) for e in export("2026-11-24T18:00:00Z")["enrollments"]}
    check(en.get(2) == ("stopped", "reply"), "the deal replied on stopped its sequence (got %s)" % (en.get(2),))
    check(en.get(1) == ("stopped", "reply"), "... and so did the client's other deal (got %s)" % (en.get(1),))
    check(en.get(3) == ("active", None), "another client's sequence goes on (got %s)" % (en.get(3),))
    for day in range(25, 31):
        dm("tick", now="2026-11-%02dT16:00:00Z" % day)
    later = [o for o in export("2026-11-30T16:00:00Z")["outbox"]
             if o["kind"] == "drip" and o["created_at"] > "2026-11-24T18:00:00Z"]
    check(not [o for o in later if o["to"] == "x@c.example"], "no follow-up reached the client after the reply (got %s)"
          % [(o["deal"], o["subject"]) for o in later if o["to"] == "x@c.example"])
    check(len([o for o in later if o["to"] == "y@d.example"]) == 2, "the other client got the next two steps (got %d)"
          % len([o for o in later if o["to"] == "y@d.example"]))
    # the owner was told of the first reply that it stopped the follow-ups;
    # a second reply (nothing left running) does not say so again
    msg2 = msg.replace("<reply-1@c.example>", "<reply-2@c.example>")
    r = dm("ingest", now="2026-11-30T18:00:00Z", stdin=msg2.encode())
    check(r.returncode == 0, "the client's second reply was ingested (exit %d)" % r.returncode)
    import email, sqlite3
    c = sqlite3.connect(db)
    bodies = [email.message_from_bytes(raw if isinstance(raw, bytes) else raw.encode()).get_payload(decode=True)
              .decode() for (raw,) in c.execute("SELECT raw FROM outbox WHERE kind = 'notification' AND "
                                                "rcpt = 'ana@example.com' ORDER BY id")]
    c.close()
    said = ["Detuve los correos de seguimiento" in b for b in bodies]
    check(said == [True, False], "'follow-ups stopped' only when some were running (got %s)" % said)
finally:
    check.cleanup(tmp)
check.finish()
