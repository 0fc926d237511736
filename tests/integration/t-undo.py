#!/usr/bin/python3
# Undo by mail (SPEC §3.5 `undo`), through the CLI only: each reply is written
# the way a mail client answers a confirmation (In-Reply-To and References
# naming the confirmation's Message-ID, read from `export --json`).
#   1. the owner's `deshacer` reverts the message's stage move;
#   2. another rep who may not change the deal cannot undo it (refused with an
#      error reply, the deal unchanged);
#   3. an undo cannot itself be undone, and a message is undone once: both are
#      refused with an error reply saying there is nothing left to undo;
#   4. an undo that would overwrite a newer change of the same field (a
#      manager's, after the rep's) is refused and the newer value stays;
#   5. an undo by a manager, who may change every deal, is applied;
#   6. undoing a move out of lost brings back the reason it was lost for;
#   9. an estimate the undone message's stage move only cleared (a side
#      effect) does not refuse the undo when a later message gave a new one:
#      the rest is reverted and the newer estimate stays.
# The answer to an undo says what it reverted and does not offer to undo the
# undo (it is read from the outbox Maildir after `dealmail send`).
#   DEALMAIL_BIN, KEEP=1
import email, email.policy, json, os, tempfile

import testlib

ENV = testlib.test_env("undo-secret-0123456789abcdef!!!!")
tmp = tempfile.mkdtemp(prefix="dealmail-undo-")
check = testlib.Checks("t-undo")

conf = os.path.join(tmp, "dealmail.conf")
with open(conf, "w") as f:
    f.write("""[dealmail]
address = ventas@example.com
language = es
undo_minutes = 60

[smtp]
url = maildir:%s/sent

[rep "ana@example.com"]
name = Ana
[rep "bob@example.com"]
name = Bob
[rep "maria@example.com"]
name = María
role = manager
""" % tmp)
db = os.path.join(tmp, "dealmail.db")


def dm(*args, stdin=None):
    return testlib.dealmail(conf, db, *args, env=ENV, stdin=stdin, cwd=tmp)


n = [0]


def mail(frm, body, reply_to=None):
    """A rep's message; with reply_to (a Message-ID) it answers that message."""
    n[0] += 1
    h = ["From: %s" % frm, "To: ventas@example.com", "Subject: Re: [deal #1] ACME renewal",
         "Message-ID: <undo-%d@mail.example.com>" % n[0], "Date: Mon, 23 Nov 2026 09:%02d:00 -0600" % n[0]]
    if reply_to:
        h += ["In-Reply-To: %s" % reply_to, "References: %s" % reply_to]
    r = dm("ingest", stdin=("\n".join(h) + "\n\n" + body + "\n").encode())
    check(r.returncode == 0, "message %d from %s ingested (exit %d)" % (n[0], frm, r.returncode))
    return "<undo-%d@mail.example.com>" % n[0]


def dm_tasks_owners():
    import sqlite3
    c = sqlite3.connect(db)
    try:
        return [r[0] for r in c.execute("SELECT owner FROM tasks WHERE done = 0 ORDER BY id")]
    finally:
        c.close()


def export():
    return json.loads(dm("export", "--json").stdout)


def deal():
    return export()["deals"][0]


def last_answer():
    """The confirmation or error dealmail queued last (outbox rows are in
    creation order: it answers the last message)."""
    got = [o for o in export()["outbox"] if o["kind"] in ("confirmation", "error")]
    return got[-1] if got else None


def sent_text(message_id):
    """The body of the outbox message `message_id`, as delivered by `send`."""
    dm("send")
    for sub in ("new", "cur"):
        d = os.path.join(tmp, "sent", sub)
        for name in os.listdir(d) if os.path.isdir(d) else ():
            m = email.message_from_bytes(open(os.path.join(d, name), "rb").read(), policy=email.policy.default)
            if m["Message-ID"] == message_id:
                return m.get_body(("plain",)).get_content()
    return ""


def last_kind():
    o = last_answer()
    return o["kind"] if o else None


try:
    assert dm("init").returncode == 0
    r = dm("deal", "add", "--title", "ACME renewal", "--contact", "cliente@acme.mx",
           "--owner", "ana@example.com", "--stage", "demo", "--value", "12000")
    assert r.returncode == 0 and r.stdout.strip() == b"1", r

    print("t-undo: 1 the owner undoes a stage move", flush=True)
    mail("Ana <ana@example.com>", "etapa: propuesta")
    check(deal()["stage"] == "proposal", "the stage moved to proposal")
    c1 = last_answer()["message_id"]
    mail("Bob <bob@example.com>", "deshacer", c1)
    print("t-undo: 2 another rep may not undo it", flush=True)
    check(deal()["stage"] == "proposal", "Bob's undo on Ana's deal changed nothing")
    check(last_kind() == "error", "Bob got an error reply (got %s)" % last_kind())
    mail("Ana <ana@example.com>", "deshacer", c1)
    check(deal()["stage"] == "demo", "Ana's undo moved the deal back to demo (got %s)" % deal()["stage"])
    check(last_kind() == "confirmation", "Ana got a confirmation of her undo")
    c2 = last_answer()["message_id"]
    text = sent_text(c2)
    check("etapa de vuelta a «Demo»" in text, "... which says the stage is back in Demo: %r" % text[:300])
    check('"deshacer"' not in text, "... and does not offer to undo the undo")

    print("t-undo: 3 an undo is not undone, and a message is undone once", flush=True)
    mail("Ana <ana@example.com>", "deshacer", c2)
    check(deal()["stage"] == "demo", "undoing the undo changed nothing")
    check(last_kind() == "error", "... and was answered with an error (got %s)" % last_kind())
    mail("Ana <ana@example.com>", "deshacer", c1)
    check(deal()["stage"] == "demo", "undoing the first message again changed nothing")
    check(last_kind() == "error", "... and was answered with an error (got %s)" % last_kind())
    undos = [e for e in export()["events"] if e["type"] == "undo"]
    check(len(undos) == 1, "one undo event in the history (got %d)" % len(undos))

    print("t-undo: 4 an undo does not overwrite a newer change", flush=True)
    mail("Ana <ana@example.com>", "valor: 20000")
    c3 = last_answer()["message_id"]
    mail("María <maria@example.com>", "valor: 25000")
    mail("Ana <ana@example.com>", "deshacer", c3)
    check(deal()["value"] == 25000, "the manager's newer value stays (got %s)" % deal()["value"])
    check(last_kind() == "error", "Ana's undo was refused with an error (got %s)" % last_kind())
    text = sent_text(last_answer()["message_id"])
    check("(#1 valor por maria@example.com)" in text, "... naming the newer change in Spanish: %r" % text[:400])

    print("t-undo: 5 a manager may undo on any deal", flush=True)
    mail("Ana <ana@example.com>", "cierre: 15/12/2026")
    c4 = last_answer()["message_id"]
    check(deal()["close_date"] == "2026-12-15", "the close date was set")
    mail("María <maria@example.com>", "deshacer", c4)
    check(deal()["close_date"] is None, "the manager's undo cleared it (got %s)" % deal()["close_date"])

    print("t-undo: 6 undoing a move out of lost brings back the reason it was lost for", flush=True)
    mail("Ana <ana@example.com>", "perdido: precio")
    check(deal()["status"] == "lost" and deal()["reason"] == "price", "lost for price (got %s)" % deal())
    mail("Ana <ana@example.com>", "etapa: negociación")
    c5 = last_answer()["message_id"]
    check(deal()["status"] == "open" and deal()["reason"] is None, "reopened, no reason (got %s)" % deal())
    mail("Ana <ana@example.com>", "deshacer", c5)
    d = deal()
    check(d["stage"] == "lost" and d["status"] == "lost" and d["reason"] == "price",
          "the undo put it back in lost, for price (got %s %s %s)" % (d["stage"], d["status"], d["reason"]))

    print("t-undo: 7 undoing a reassignment gives the contact and the open tasks back too", flush=True)
    mail("Ana <ana@example.com>", "tarea: llamar al cliente @ 2026-11-30")
    mail("María <maria@example.com>", "responsable: Bob")
    c6 = last_answer()["message_id"]
    e = export()
    check(e["deals"][0]["owner"] == "bob@example.com" and e["contacts"][0]["owner"] == "bob@example.com",
          "Bob owns the deal and its contact (got %s / %s)" % (e["deals"][0]["owner"], e["contacts"][0]["owner"]))
    mail("María <maria@example.com>", "deshacer", c6)
    e = export()
    check(e["deals"][0]["owner"] == "ana@example.com", "the deal is Ana's again (got %s)" % e["deals"][0]["owner"])
    check(e["contacts"][0]["owner"] == "ana@example.com",
          "its contact is Ana's again (sync_contact_owner; got %s)" % e["contacts"][0]["owner"])
    owners = dm_tasks_owners()
    check(owners == ["ana@example.com"], "the open task is Ana's again (got %s)" % owners)

    print("t-undo: 8 a rep's probability is for the stage it was given in; an undo puts it back", flush=True)
    mail("Ana <ana@example.com>", "etapa: negociación\nprobabilidad: 70%")
    check(deal()["probability"] == 70, "70 %% in negotiation (got %s)" % deal()["probability"])
    mail("Ana <ana@example.com>", "ganado: referido")
    c7 = last_answer()["message_id"]
    check(deal()["status"] == "won" and deal()["probability"] == 100,
          "won: the win stage's 100 %%, not the estimate (got %s %s)" % (deal()["status"], deal()["probability"]))
    types = sorted(set(ev["type"] for ev in export()["events"]))
    check("probability" not in types, "export lists only SPEC's event types (got %s)" % types)
    mail("Ana <ana@example.com>", "deshacer", c7)
    check(deal()["stage"] == "negotiation" and deal()["probability"] == 70,
          "the undo brought back the stage and the 70 %% (got %s %s)" % (deal()["stage"], deal()["probability"]))
    mail("Ana <ana@example.com>", "probabilidad: 80%\netapa: propuesta")
    check(deal()["stage"] == "proposal" and deal()["probability"] == 80,
          "a probability given with the move is for the new stage (got %s %s)" % (deal()["stage"], deal()["probability"]))

    print("t-undo: 9 a newer estimate stays when the undone move had only cleared the old one", flush=True)
    mail("María <maria@example.com>", "probabilidad: 65%")
    mail("Ana <ana@example.com>", "etapa: negociación\nvalor: 52000")
    c8 = last_answer()["message_id"]
    check(deal()["probability"] != 65, "the move cleared the 65 %% (got %s)" % deal()["probability"])
    mail("Ana <ana@example.com>", "probabilidad: 80%")
    mail("Ana <ana@example.com>", "deshacer", c8)
    d = deal()
    check(last_kind() == "confirmation", "the undo was applied, not refused (got %s)" % last_kind())
    check(d["stage"] == "proposal" and d["value"] == 25000 and d["probability"] == 80,
          "stage and value back, the newer 80 %% kept (got %s %s %s)" % (d["stage"], d["value"], d["probability"]))

    print("t-undo: 10 an undo with polite words and a remark around it", flush=True)
    mail("Ana <ana@example.com>", "valor: 42.000 MXN")
    c10 = last_answer()["message_id"]
    mail("Ana <ana@example.com>", "Deshacer por favor, todavía no tuvimos la demo", c10)
    check(deal()["value"] != 42000, "\"Deshacer por favor, …\" undid the value (got %s)" % deal()["value"])
    mail("Ana <ana@example.com>", "valor: 43.000 MXN")
    c11 = last_answer()["message_id"]
    mail("Ana <ana@example.com>", "Por favor, deshacer", c11)
    check(deal()["value"] != 43000, "\"Por favor, deshacer\" undid the value (got %s)" % deal()["value"])

    print("t-undo: 11 a rep who handed her own deal away may take it back with the undo her confirmation offers", flush=True)
    check(deal()["owner"] == "ana@example.com", "the deal is Ana's (got %s)" % deal()["owner"])
    mail("Ana <ana@example.com>", "asignar: Bob")
    c12 = last_answer()["message_id"]
    check(deal()["owner"] == "bob@example.com", "handed to Bob (got %s)" % deal()["owner"])
    mail("Ana <ana@example.com>", "deshacer", c12)
    check(last_kind() == "confirmation" and deal()["owner"] == "ana@example.com",
          "her undo is applied: the deal is hers again (got %s, %s)" % (last_kind(), deal()["owner"]))

    print("t-undo: 12 a rep the deal is shared with does not undo the owner's message", flush=True)
    mail("Ana <ana@example.com>", "compartir: Bob")
    mail("Ana <ana@example.com>", "valor: 61.000 MXN")
    c13 = last_answer()["message_id"]
    mail("Bob <bob@example.com>", "deshacer", c13)
    a = last_answer()
    check(a["kind"] == "error" and a["to"] == "bob@example.com" and deal()["value"] == 61000,
          "Bob's undo of Ana's message is refused (got %s to %s, value %s)" % (a["kind"], a["to"], deal()["value"]))
    text = sent_text(a["message_id"])
    check("ana@example.com" in text, "... and the reply says whose message it was")
    mail("Bob <bob@example.com>", "valor: 60.000 MXN")
    check(deal()["value"] == 60000, "Bob may still change the shared deal (got %s)" % deal()["value"])
finally:
    check.cleanup(tmp)
check.finish()
