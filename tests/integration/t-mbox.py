#!/usr/bin/python3
# `ingest --mbox` (SPEC §2), checked through `export --json` and exit codes:
#   1. an mboxrd file as mail clients and `formail` write it: "From " lines
#      between messages, body lines that start with "From " escaped as ">From ",
#      LF and CRLF messages, a message without Message-ID; committed in several
#      batches (DEALMAIL_BATCH_MAX=2): every message applied once (one lead per
#      unknown sender, one note per rep command), none quarantined;
#   2. the same file again: nothing changes (exactly once); an mboxo file whose
#      body has an unescaped "From the start…" line is not cut there;
#   3. a file that does not exist: exit 66 and a message naming it.
#   DEALMAIL_BIN, KEEP=1
import json, os, tempfile

import testlib

ENV = testlib.test_env("mbox-secret-0123456789abcdef!!!!", DEALMAIL_BATCH_MAX="2")
tmp = tempfile.mkdtemp(prefix="dealmail-mbox-")
check = testlib.Checks("t-mbox")

conf = os.path.join(tmp, "dealmail.conf")
with open(conf, "w") as f:
    f.write("[dealmail]\naddress = ventas@example.com\nlanguage = es\n[rep \"ana@example.com\"]\nname = Ana\n")
db = os.path.join(tmp, "dm.db")


def dm(*args):
    return testlib.dealmail(conf, db, *args, env=ENV)


def export():
    r = dm("export", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def lead(i, body, mid=True, crlf=False):
    m = ("From: Lead %d <lead%d@prospect.example>\nTo: ventas@example.com\nSubject: Precios %d\n"
         "%sDate: Mon, 23 Nov 2026 08:0%d:00 -0600\n\n%s\n"
         % (i, i, i, "Message-ID: <mbox-lead-%d@prospect.example>\n" % i if mid else "", i, body))
    return m.replace("\n", "\r\n") if crlf else m


def note(i, text):
    return ("From: Ana <ana@example.com>\nTo: ventas@example.com\nSubject: Re: [#1] ACME\n"
            "Message-ID: <mbox-note-%d@example.com>\nDate: Mon, 23 Nov 2026 09:0%d:00 -0600\n\nnota: %s\n"
            % (i, i, text))


try:
    print("t-mbox: 1 an mboxrd file in several batches", flush=True)
    assert dm("init").returncode == 0
    r = dm("deal", "add", "--title", "ACME", "--contact", "cliente@acme.mx", "--owner", "ana@example.com",
           "--stage", "demo")
    assert r.returncode == 0, r.stderr
    messages = [
        lead(1, "Hola, una cotizacion por favor."),
        # mboxrd: body lines starting with "From " are written with one more ">"
        lead(2, "Hola,\n>From the desk of Lead 2: precios.\n>>From a quoted line\n\nFrom-field is not a separator"),
        note(1, "primera llamada hecha"),
        lead(3, "Sin Message-ID.", mid=False),
        lead(4, "Escrito con CRLF.", crlf=True),
        note(2, "segunda llamada"),
        lead(5, "La ultima."),
    ]
    box = os.path.join(tmp, "inbox.mbox")
    with open(box, "w", newline="") as f:
        for i, m in enumerate(messages):
            f.write("From sender%d@example.net Mon Nov 23 08:00:0%d 2026\n" % (i, i))
            f.write(m if m.endswith("\n") else m + "\n")
            f.write("\n")
    r = dm("ingest", "--mbox", box)
    check(r.returncode == 0, "ingest --mbox exits 0 (got %d: %s)" % (r.returncode, r.stderr.decode()[-200:]))
    ex = export()
    leads = sorted(d["contact"] for d in ex["deals"] if d["id"] != 1)
    check(leads == ["lead%d@prospect.example" % i for i in range(1, 6)],
          "one lead per unknown sender, the escaped and the CRLF one included (got %s)" % leads)
    notes = sorted(e["to"] for e in ex["events"] if e["type"] == "note")
    check(notes == ["primera llamada hecha", "segunda llamada"], "one note per rep command (got %s)" % notes)
    check(ex["quarantine"] == [], "nothing quarantined: no message was cut at a \">From \" line (got %s)"
          % ex["quarantine"])

    print("t-mbox: 2 the same file again", flush=True)
    r = dm("ingest", "--mbox", box)
    again = export()
    check(r.returncode == 0 and len(again["deals"]) == len(ex["deals"]) and len(again["events"]) == len(ex["events"])
          and len(again["outbox"]) == len(ex["outbox"]),
          "a second run changes nothing (%d deals, %d events, %d outbox rows)"
          % (len(again["deals"]), len(again["events"]), len(again["outbox"])))

    print("t-mbox: 2b an mboxo file: a body line starting with \"From \" unescaped", flush=True)
    box2 = os.path.join(tmp, "mboxo.mbox")
    with open(box2, "w") as f:
        f.write("From lead9@prospect.example Tue Nov 24 08:00:00 2026\n")
        f.write(lead(9, "Hola,\nFrom the start of the year we want 20 licenses.\nGracias."))
        f.write("\nFrom - Tue Nov 24 08:05:00 2026\n")
        f.write(lead(10, "Otra consulta."))
    r = dm("ingest", "--mbox", box2)
    ex2 = export()
    new = sorted(d["contact"] for d in ex2["deals"] if d["contact"] in ("lead9@prospect.example",
                                                                        "lead10@prospect.example"))
    check(r.returncode == 0 and new == ["lead10@prospect.example", "lead9@prospect.example"] and
          ex2["quarantine"] == [], "two messages, neither cut at the body's \"From the start\" line (got %s, %s)"
          % (new, ex2["quarantine"]))

    print("t-mbox: 3 a missing file", flush=True)
    r = dm("ingest", "--mbox", os.path.join(tmp, "nope.mbox"))
    check(r.returncode == 66 and b"nope.mbox" in r.stderr, "exit 66 naming the file (got %d: %r)"
          % (r.returncode, r.stderr[-200:]))
finally:
    check.cleanup(tmp)
check.finish()
