#!/usr/bin/python3
# What a rep reads in a confirmation, delivered by `send` to a Maildir
# transport and decoded as a mail client would:
#   1. a move into a stage whose on_enter schedules a task and a sequence
#      lists both under "Programado:", each naming its deal;
#   2. a change that schedules nothing has no "Programado:" section;
#   3. a task given by command is listed too;
#   4. `lista` answers with the open deals, `lista: perdido` with the lost ones;
#   5. an error reply lists the stages with the names in the rep's language;
#   6. a line one typo away from a command is named in the confirmation.
#   DEALMAIL_BIN, KEEP=1
import json, os, tempfile

import testlib

ENV = testlib.test_env("text-secret-0123456789abcdef!!!!!")
tmp = tempfile.mkdtemp(prefix="dealmail-ctext-")
check = testlib.Checks("t-confirm-text")

out = os.path.join(tmp, "out")
conf = os.path.join(tmp, "dealmail.conf")
with open(conf, "w") as f:
    f.write("""[dealmail]
address = ventas@example.com
language = es
timezone = UTC

[stage "proposal"]
on_enter = sequence proposal-followup; task Llamar para confirmar +2d

[sequence "proposal-followup"]
steps = 2d proposal-1, 5d proposal-2

[smtp]
url = maildir:%s

[rep "ana@example.com"]
name = Ana
""" % out)
db = os.path.join(tmp, "dealmail.db")


def dm(*args, stdin=None):
    return testlib.dealmail(conf, db, *args, env=ENV, stdin=stdin, cwd=tmp)


n = [0]
seen = set()


def confirmation(body):
    """Ana sends `body` on deal #1; the text of the confirmation she gets."""
    n[0] += 1
    raw = ("From: Ana <ana@example.com>\nTo: ventas@example.com\nSubject: Re: [deal #1] ACME\n"
           "Message-ID: <ctext-%d@mail.example.com>\nDate: Mon, 23 Nov 2026 09:%02d:00 -0600\n\n%s\n"
           % (n[0], n[0], body)).encode()
    r = dm("ingest", stdin=raw)
    check(r.returncode == 0, "message %d ingested (exit %d)" % (n[0], r.returncode))
    r = dm("send")
    check(r.returncode == 0, "send exit 0 (got %d: %s)" % (r.returncode, r.stderr.decode()[-200:]))
    texts = [m.get_body(preferencelist=("plain",)).get_content() for m in testlib.delivered(out, seen)
             if m["To"] and "ana@example.com" in m["To"]]
    check(len(texts) == 1, "one answer to Ana (got %d)" % len(texts))
    return texts[0] if texts else ""


try:
    assert dm("init").returncode == 0
    r = dm("deal", "add", "--title", "ACME", "--contact", "cliente@acme.mx",
           "--owner", "ana@example.com", "--stage", "demo")
    assert r.returncode == 0, r

    print("t-confirm-text: 1 what the stage scheduled", flush=True)
    t = confirmation("etapa: propuesta")
    check("Programado:" in t, "the confirmation has a Programado: section")
    check("#1 tarea: Llamar para confirmar @ 2026-11-25" in t, "... with the task, its deal and due date")
    check("#1 secuencia: proposal-followup" in t, "... and the sequence, with its deal")

    print("t-confirm-text: 2 nothing scheduled", flush=True)
    t = confirmation("valor: 5000")
    check("Programado:" not in t and "tarea" not in t, "no Programado: section")

    print("t-confirm-text: 3 a task by command", flush=True)
    t = confirmation("tarea: enviar contrato @ 2026-12-01")
    check("Programado:" in t and "#1 tarea: enviar contrato @ 2026-12-01" in t, "the task is listed:\n" + t)
    check(t.count("enviar contrato") == 1 and "Cambios:" not in t,
          "once, under what was scheduled (no empty 'Cambios:' heading):\n" + t)

    print("t-confirm-text: 4 lists: the open deals, or a stage's, closed ones too", flush=True)
    r = dm("deal", "add", "--title", "Globex", "--contact", "compras@globex.example",
           "--owner", "ana@example.com", "--stage", "demo")
    assert r.returncode == 0, r
    confirmation("#2 perdido: precio")
    t = confirmation("lista")
    check("[deal #1]" in t and "[deal #2]" not in t, "'lista': the open deal, not the lost one:\n" + t)
    t = confirmation("lista: perdido")
    check("[deal #2]" in t and "[deal #1]" not in t, "'lista: perdido': the lost deal:\n" + t)

    print("t-confirm-text: 6 a line one typo away from a command is reported, not dropped silently", flush=True)
    t = confirmation("valor: 9000\nvalr: 15.000 EUR\nNome: João Silva")
    check('línea 2 "valr: 15.000 EUR": no es un comando (¿quisiste decir "valor:"?)' in t,
          "the confirmation names the line and the keyword:\n" + t)
    check("Nome" not in t, "... not an everyday word near one ('Nome:')")

    print("t-confirm-text: 5 an unknown stage: the choices as the rep reads them", flush=True)
    t = confirmation("etapa: propusta")
    check("proposal (Propuesta pendiente)" in t and "negotiation (Negociación)" in t,
          "the stages with their Spanish names:\n" + t)
finally:
    check.cleanup(tmp)
check.finish()
