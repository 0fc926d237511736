#!/usr/bin/python3
# What reps read in dealmail's answers, delivered by `send` to a Maildir
# transport and decoded as a mail client would (a team in Sao Paulo; Luís
# reads pt, Ana es, Dave en; Bob is the manager):
#   1. reasons, history lines, times and amounts in the rep's language and
#      the team's time zone (export --json keeps the keys and ISO times);
#   2. an undo refused has no "fix the line and send it again";
#   3. one tag in a subject, the answer's; plurals; a contact without a
#      name is not "x@y <x@y>"; a list's heading says whose deals and which,
#      and its lines name the client;
#   4. a reply that changed several deals is answered about each, with no
#      one deal's tag or reply token (its undo too);
#   5. a rep is never handed a reply token for a deal he may not change;
#   6. the owner is told when someone else wins or loses the deal, and the
#      previous owner when it is handed to another rep.
#   DEALMAIL_BIN, KEEP=1
import json, os, tempfile

import testlib

ENV = testlib.test_env("answer-secret-0123456789abcdef!!!", now="2026-11-23T12:13:00Z")
tmp = tempfile.mkdtemp(prefix="dealmail-answer-")
check = testlib.Checks("t-answer-text")

out = os.path.join(tmp, "out")
conf = os.path.join(tmp, "dealmail.conf")
with open(conf, "w") as f:
    f.write("""[dealmail]
address = vendas@example.com
language = pt
timezone = America/Sao_Paulo

[pipeline]
require_lost_reason = yes

[stage "proposal"]
on_enter = sequence proposal-followup

[stage "won"]
on_enter = notify owner

[sequence "proposal-followup"]
steps = 2d proposal-1, 5d proposal-2

[smtp]
url = maildir:%s

[rep "luis@example.com"]
name = Luís Souza
language = pt

[rep "ana@example.com"]
name = Ana López
language = es

[rep "dave@example.com"]
name = Dave Miller
language = en

[rep "bob@example.com"]
name = Bob Smith
role = manager
language = en
""" % out)
db = os.path.join(tmp, "dealmail.db")


def dm(*args, stdin=None, now=None):
    env = dict(ENV, DEALMAIL_NOW=now) if now else ENV
    return testlib.dealmail(conf, db, *args, env=env, stdin=stdin, cwd=tmp)


n = [0]
seen = set()


def answers(sender, subject, body, extra="", now=None):
    """`sender` writes `body` (extra: header lines, each ending in a newline);
    every message `send` delivers after it, as
    (To, Subject, Reply-To, text, Message-ID)."""
    n[0] += 1
    raw = ("From: %s\nTo: vendas@example.com\nSubject: %s\nMessage-ID: <answer-%d@mail.example.com>\n"
           "Date: Mon, 23 Nov 2026 09:%02d:00 -0300\n%s\n%s\n"
           % (sender, subject, n[0], n[0], extra, body)).encode()
    r = dm("ingest", stdin=raw, now=now)
    check(r.returncode == 0, "message %d ingested (exit %d)" % (n[0], r.returncode))
    r = dm("send", now=now)
    check(r.returncode == 0, "send exit 0 (got %d: %s)" % (r.returncode, r.stderr.decode()[-200:]))
    return [(str(m["To"]), str(m["Subject"]), str(m["Reply-To"] or ""),
             m.get_body(preferencelist=("plain",)).get_content(), str(m["Message-ID"]))
            for m in testlib.delivered(out, seen)]


def see(ok, what, t):
    """A check that shows the text read when it fails."""
    return check(ok, what if ok else what + ":\n" + t)


def answer(sender, subject, body, extra="", now=None, full=False):
    """The one answer to `sender`'s message: its text (full: the tuple)."""
    got = [g for g in answers(sender, subject, body, extra, now) if sender.split("<")[-1].strip(">") in g[0]]
    check(len(got) == 1, "one answer to %s (got %d)" % (sender, len(got)))
    return (got[0] if full else got[0][3]) if got else (("",) * 5 if full else "")


try:
    assert dm("init").returncode == 0
    for args in (["--title", "Globex ERP", "--contact", "compras@globex.com.br", "--owner", "luis@example.com",
                  "--stage", "qualify"],
                 ["--title", "Padaria Sol", "--contact", "Ti Sol <ti@padariasol.com.br>", "--owner",
                  "luis@example.com", "--stage", "negotiation", "--value", "12000"],
                 ["--title", "ACME", "--contact", "cliente@acme.mx", "--owner", "ana@example.com",
                  "--stage", "demo"],
                 ["--title", "Initech", "--contact", "jane@initech.com", "--owner", "dave@example.com",
                  "--stage", "demo"]):
        r = dm("deal", "add", *args, now="2026-11-16T13:00:00Z")
        assert r.returncode == 0, r

    print("t-answer-text: 1 reasons, history, times and amounts as the rep reads them", flush=True)
    t = answer("Luís Souza <luis@example.com>", "Re: [deal #1] Globex",
               "estágio: proposta\nvalor: R$ 48.500,00\nprobabilidade: 40%")
    see("(48.500 BRL)" in t and "#1 valor: 48.500 BRL" in t, "the amount written the pt way", t)
    see("primeiro e-mail 2026-11-25 09:13" in t, "the first drip at the team's clock, not UTC", t)
    t = answer("Luís Souza <luis@example.com>", "Re: [deal #2] Padaria", "perdido")
    see("price (preço), competitor (concorrência)" in t, "the reasons named in pt among the choices", t)
    t = answer("Luís Souza <luis@example.com>", "Re: [deal #2] Padaria", "perdido: preço")
    see("#2 etapa: Negociação → Perdido (preço)" in t, "the reason named in pt", t)
    t = answer("Luís Souza <luis@example.com>", "Re: [deal #1] Globex", "estágio: negociação")
    t = answer("Luís Souza <luis@example.com>", "Re: [deal #1] Globex", "histórico")
    see("2026-11-23 09:13  luis@example.com  estágio: Qualificar → Proposta pendente" in t,
        "history: local time, pt field and stage names", t)
    see("valor: 48.500 BRL" in t and "probabilidade: 40%" in t, "... the amount and the estimate", t)
    see("T12:13:00Z" not in t and "stage:" not in t and "→ \n" not in t, "... no UTC, no keys, no empty side", t)
    ex = json.loads(dm("export", "--json").stdout)
    check(any(d["id"] == 2 and d["reason"] == "price" for d in ex["deals"]), "export keeps the reason's key")

    print("t-answer-text: 2 an undo refused is no line to fix", flush=True)
    dave = "Dave Miller <dave@example.com>"
    c = answer(dave, "Re: [deal #4] Initech", "stage: proposal", full=True)
    t = answer(dave, "Re: [deal #4] Initech", "undo", extra="In-Reply-To: %s\n" % c[4], now="2026-11-23T14:30:00Z")
    see("too late to undo" in t and "Fix the line" not in t and 'Reply "help"' in t, "too late: no 'fix the line'", t)
    t = answer(dave, "Re: [deal #4] Initech", "undo")
    see("undo works in a reply" in t and "Fix the line" not in t, "nothing to undo: no 'fix the line'", t)
    t = answer(dave, "Re: [deal #4] Initech", "stage: propsal")
    see("Fix the line" in t, "a stage mistyped: fix the line", t)
    c = answer("Luís Souza <luis@example.com>", "Re: [deal #1] Globex", "valor: R$ 50.000,75", full=True)
    t = answer("Luís Souza <luis@example.com>", "Re: [deal #1] Globex", "desfazer", extra="In-Reply-To: %s\n" % c[4])
    see("valor de volta a 48.500 BRL" in t, "the undo's answer writes the amount the rep's way", t)

    print("t-answer-text: 3 subjects, plurals, names, list headings", flush=True)
    r = dm("digest", "--rep", "luis@example.com", "--print")
    subj = [x for x in r.stdout.decode().splitlines() if x.startswith("Subject:")]
    see(subj and ": 1 aberta," in subj[0], "the digest's subject: '1 aberta'", str(subj))
    ratio = [x for x in r.stdout.decode().splitlines() if "Taxa de fechamento" in x]
    see(ratio and "0 ganhas, 1 perdida)" in ratio[0], "the close ratio: '1 perdida', '0 ganhas'", str(ratio))
    luis = "Luís Souza <luis@example.com>"
    c = answer(luis, "Re: Padaria [deal #2]", "#1 nota: ligar amanhã", full=True)
    see(c[1] == "Re: Padaria [deal #1]", "the confirmation carries the changed deal's tag only", c[1])
    t = answer(luis, "Re: [deal #1] Globex", "lista")
    see("Suas oportunidades abertas:" in t and "[deal #1] Globex ERP — Negociação, 48.500 BRL (compras@globex.com.br)"
        in t, "a rep's list: his open deals, each with its client", t)
    t = answer(luis, "Re: [deal #1] Globex", "lista: perdido")
    see('Suas oportunidades em "Perdido":' in t and "[deal #2] Padaria Sol — Perdido, 12.000 (Ti Sol)" in t,
        "a stage's list says which stage", t)
    bob = "Bob Smith <bob@example.com>"
    t = answer(bob, "Re: pipeline", "list")
    see("the team's open deals:" in t and "[deal #3] ACME — Demo (cliente@acme.mx), Ana López" in t,
        "a manager's list is the team's, with each deal's owner", t)
    got = answers(bob, "Re: [deal #3] ACME", "owner: dave")
    t = "".join(g[3] for g in got if "dave@" in g[0])
    see("ACME (cliente@acme.mx) to you" in t and "<cliente@acme.mx>" not in t,
        "a contact without a name is named by the address, once", t)

    print("t-answer-text: 4 a reply that changes several deals", flush=True)
    c = answer(bob, "Re: Team 2026-11-23", "#1 probability: 70%\n#4 value: 9000", full=True)
    see("Done. Changed: [deal #1] Globex ERP, [deal #4] Initech." in c[3], "the headline names both deals", c[3])
    see("[deal #" not in c[1] and "+" not in c[2], "no deal's tag in the subject, no token in Reply-To",
        c[1] + " / " + c[2])
    t = answer(bob, "Re: Team 2026-11-23", "undo", extra="In-Reply-To: %s\n" % c[4])
    see("on [deal #1] Globex ERP, [deal #4] Initech:" in t, "the undo names both deals", t)

    print("t-answer-text: 5 no reply token for a deal the rep may not change", flush=True)
    c = answer(dave, "Re: [deal #1] Globex", "stage: demo", full=True)
    see("you may not change this deal" in c[3] and "+" not in c[2], "refused on Luís's deal: no token", c[2])
    c = answer(dave, "Re: [deal #4] Initech", "note: call Jane", full=True)
    see(c[2].startswith("vendas+4-"), "... his own deal's confirmation has one", c[2])
    c = answer(dave, "Re: [deal #4] Initech", "owner: ana", full=True)
    see("+" not in c[2], "... and not once he has handed the deal to Ana", c[2])

    print("t-answer-text: 6 the owner told of others' wins, losses and reassignments", flush=True)
    got = answers(bob, "Re: [deal #1] Globex", "lost: competitor")
    t = "".join(g[3] for g in got if "luis@" in g[0])
    see("Bob Smith marcou sua oportunidade [deal #1] Globex ERP (compras@globex.com.br) como \"Perdido\" "
        "(concorrência)." in t, "Luís is told Bob lost his deal, and why", t)
    got = answers(bob, "Re: [deal #3] ACME", "owner: luis")
    g = [x for x in got if "dave@" in x[0]]
    see(g and "ACME agora" not in g[0][1] and "ACME is now Luís Souza's" in g[0][1] and
        "Bob Smith reassigned [deal #3] ACME (cliente@acme.mx), which was yours, to Luís Souza." in g[0][3]
        and "+" not in g[0][2], "Dave is told who took his deal and who has it, without a token",
        str(g))
    got = answers(luis, "Re: [deal #3] ACME", "stage: proposal")
    see([x[0] for x in got] == ["Luís Souza <luis@example.com>"], "a stage move by the owner: his confirmation only",
        str(got))
    got = answers(bob, "Re: [deal #4] Initech", "won: relationship")
    g = [x for x in got if "ana@" in x[0]]
    see(len(g) == 1 and "Bob Smith" in g[0][3],
        "a win the stage's own trigger tells the owner of is told once, saying who", str(got))
finally:
    check.cleanup(tmp)
check.finish()
