#!/usr/bin/env bash
# Sequences and stale deals driven by a controllable clock (issue 3):
# `tick` is run every hour of simulated time (DEALMAIL_NOW) for 17 days, with
# the default transport (a Maildir beside the database).
#
#  - the proposal follow-up (2d, 5d, 9d, 14d; window 09:00-17:00 mon-fri,
#    America/Mexico_City) goes out on exactly the expected local days and
#    hours, each step once, then the enrolment is 'done';
#  - it stops on each stop condition, and only that deal's sequence stops:
#    a reply from the contact, a stage change by the rep, a bounce (DSN to
#    the VERP address), an unsubscribe reply; an out-of-office auto-reply
#    does NOT stop it;
#  - on_stale: a deal 7 days in qualify moves to delayed, starts the nurture
#    sequence and notifies its owner, once, and not a minute early;
#  - four ticks at once queue each due step once.
#
#   DEALMAIL_BIN  binary under test;  KEEP=1 keeps the temporary directory
set -u
exec /usr/bin/python3 - "$@" <<'PY'
import datetime as dt, os, shutil, sqlite3, subprocess, sys, tempfile
from zoneinfo import ZoneInfo

here = os.path.dirname(os.path.abspath(os.environ.get("BASH_SOURCE_DIR", "tests/integration/x")))
BIN = os.environ.get("DEALMAIL_BIN") or "build/dealmail"
BIN = os.path.abspath(BIN)
T = tempfile.mkdtemp(prefix="dm-drip.")
TZ = ZoneInfo("America/Mexico_City")
UTC = dt.timezone.utc
fails = 0

def ok(cond, desc):
    global fails
    print(("ok - " if cond else "not ok - ") + desc, flush=True)
    if not cond:
        fails += 1

CONF = """[dealmail]
database = %(T)s/dm.db
address = ventas@example.com
name = Ventas
language = es
timezone = America/Mexico_City
require_auth = no
confirm = never

[rep "ana@example.com"]
name = Ana López
role = rep
language = es

[stage "proposal"]
on_enter = sequence proposal-followup

[stage "qualify"]
stale_days = 7
on_stale = stage delayed; sequence nurture; notify owner

[sequence "proposal-followup"]
steps = 2d proposal-1, 5d proposal-2, 9d proposal-3, 14d proposal-4
window = 09:00-17:00 mon-fri

[sequence "nurture"]
steps = 3d nurture-1, 10d nurture-2, 20d nurture-3
window = 10:00-12:00 tue-thu
""" % {"T": T}
open(os.path.join(T, "dealmail.conf"), "w").write(CONF)
ENV = dict(os.environ)
ENV["DEALMAIL_CONFIG"] = os.path.join(T, "dealmail.conf")
ENV["DEALMAIL_SECRET"] = "drip-test-secret-0123456789abcdef"
for k in ("DEALMAIL_SMTP_PASSWORD", "DEALMAIL_RETRY"):
    ENV.pop(k, None)

def iso(t):
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

def run(now, *args, stdin=None, check=True):
    env = dict(ENV, DEALMAIL_NOW=iso(now))
    p = subprocess.run([BIN] + list(args), env=env, input=stdin, capture_output=True)
    if check and p.returncode != 0:
        print("  %s %s -> %d\n  %s" % (iso(now), " ".join(args), p.returncode, p.stderr.decode(errors="replace")))
    return p

def db():
    return sqlite3.connect(os.path.join(T, "dm.db"))

def q(sql, *a):
    with db() as c:
        return c.execute(sql, a).fetchall()

def local(y, m, d, h=0, mi=0):
    return dt.datetime(y, m, d, h, mi, tzinfo=TZ)

def ingest(now, raw):
    return run(now, "ingest", stdin=raw.encode())

def mail(frm, to, subject, body, extra=""):
    mid = "<%s.%s@client.example>" % (abs(hash((frm, subject, body))), "t")
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: %s\r\nDate: Thu, 26 Nov 2026 12:00:00 -0600\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n%s\r\n%s\r\n"
            % (frm, to, subject, mid, extra, body))

def step_mid(deal, step):
    r = q("SELECT o.message_id, o.envelope_from FROM outbox o JOIN enrollments e ON e.id = o.enrollment_id "
          "WHERE e.deal_id = ? AND o.step = ?", deal, step)
    return r[0] if r else (None, None)

def enrol_state(deal, seq="proposal-followup"):
    r = q("SELECT status, stopped_reason, step FROM enrollments WHERE deal_id = ? AND sequence = ?", deal, seq)
    return r[0] if r else None

def drips(deal):
    return q("SELECT o.step, o.created_at FROM outbox o JOIN enrollments e ON e.id = o.enrollment_id "
             "WHERE e.deal_id = ? AND o.kind = 'drip' ORDER BY o.step", deal)

try:
    start = local(2026, 11, 23, 20, 0)      # Monday evening, after the window
    run(start, "init")
    deals = {}
    for name in ("plain", "reply", "stage", "bounce", "unsub", "ooo"):
        p = run(start, "deal", "add", "--title", "Propuesta %s" % name, "--contact", "%s@cliente.example" % name,
                "--owner", "ana@example.com", "--stage", "proposal")
        deals[name] = int(p.stdout.strip())
    p = run(start, "deal", "add", "--title", "Lead frío", "--contact", "frio@cliente.example",
            "--owner", "ana@example.com", "--stage", "qualify")
    stale = int(p.stdout.strip())

    events = {
        # after step 1 (Thu 26 09:00) went out
        local(2026, 11, 27, 10): "reply",
        local(2026, 11, 27, 11): "stage",
        local(2026, 11, 27, 12): "bounce",
        local(2026, 11, 27, 13): "unsub",
        local(2026, 11, 27, 14): "ooo",
    }
    stale_seen = None
    t = start
    end = local(2026, 12, 10, 0)
    while t <= end:
        t += dt.timedelta(hours=1)
        ev = events.get(t)
        if ev:
            d = deals[ev]
            mid, env = step_mid(d, 1)
            who = "%s@cliente.example" % ev
            if ev == "reply":
                ingest(t, mail(who, "ventas@example.com", "Re: Propuesta", "Gracias, lo reviso y te digo.",
                               "In-Reply-To: %s\r\nReferences: %s\r\n" % (mid, mid)))
            elif ev == "stage":
                ingest(t, mail("ana@example.com", "ventas@example.com", "[deal #%d] avance" % d,
                               "etapa: negociación"))
            elif ev == "unsub":
                ingest(t, mail(who, "ventas@example.com", "Re: Propuesta", "baja",
                               "In-Reply-To: %s\r\n" % mid))
            elif ev == "ooo":
                ingest(t, mail(who, "ventas@example.com", "Fuera de la oficina", "Vuelvo el lunes.",
                               "In-Reply-To: %s\r\nAuto-Submitted: auto-replied\r\n" % mid))
            elif ev == "bounce":
                b = "b%d" % d
                dsn = ("From: MAILER-DAEMON@mx.cliente.example\r\nTo: %s\r\nSubject: Undelivered Mail Returned to Sender\r\n"
                       "Message-ID: <dsn.%s@mx.cliente.example>\r\nDate: Fri, 27 Nov 2026 12:00:00 -0600\r\n"
                       "Return-Path: <>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
                       "Content-Type: multipart/report; report-type=delivery-status; boundary=\"%s\"\r\n\r\n"
                       "--%s\r\nContent-Type: text/plain\r\n\r\nThe mail system could not deliver.\r\n"
                       "--%s\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.cliente.example\r\n\r\n"
                       "Final-Recipient: rfc822; %s\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
                       "--%s\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: %s\r\nTo: %s\r\n\r\n--%s--\r\n"
                       % (env, d, b, b, b, who, b, mid, who, b))
                ingest(t, dsn)
        run(t, "tick")
        if stale_seen is None and q("SELECT stage FROM deals WHERE id = ?", stale)[0][0] == "delayed":
            stale_seen = t

    # 1 the plain deal: exactly the expected local times
    want = [local(2026, 11, 26, 9), local(2026, 11, 30, 9), local(2026, 12, 3, 9), local(2026, 12, 8, 9)]
    got = drips(deals["plain"])
    ok([s for s, _ in got] == [1, 2, 3, 4], "plain: 4 steps queued, each once (got steps %s)" % [s for s, _ in got])
    ok([c for _, c in got] == [iso(w) for w in want],
       "plain: steps at Thu 26, Mon 30, Thu 3, Tue 8 at 09:00 local: 2d/5d/9d/14d moved into "
       "mon-fri 09-17 (got %s)" % [c for _, c in got])
    def lt(c):
        return dt.datetime.strptime(c, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).astimezone(TZ)
    inwin = all(lt(c).weekday() < 5 and 9 <= lt(c).hour < 17
                for (c,) in q("SELECT created_at FROM outbox WHERE kind = 'drip' AND enrollment_id IN "
                              "(SELECT id FROM enrollments WHERE sequence = 'proposal-followup')"))
    ok(inwin, "every proposal drip of every deal went out inside the window")
    ok(enrol_state(deals["plain"])[0] == "done", "plain: the enrolment is done after step 4")
    # (the bounced step 1 was delivered, then marked failed by its DSN)
    sent = q("SELECT COUNT(*) FROM outbox WHERE kind = 'drip' AND sent_at IS NOT NULL")[0][0]
    alld = q("SELECT COUNT(*) FROM outbox WHERE kind = 'drip'")[0][0]
    ok(sent == alld and alld > 0, "tick delivered every drip (%d/%d, maildir)" % (sent, alld))
    md = os.path.join(T, "outbox-maildir", "new")
    ok(os.path.isdir(md) and len(os.listdir(md)) == q("SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL")[0][0],
       "one Maildir file per delivered row")
    # threading: step 2 answers step 1
    m1, _ = step_mid(deals["plain"], 1)
    raw2 = q("SELECT raw FROM outbox o JOIN enrollments e ON e.id = o.enrollment_id WHERE e.deal_id = ? AND o.step = 2",
             deals["plain"])[0][0]
    ok(("In-Reply-To: %s" % m1).encode() in bytes(raw2), "plain: step 2 is threaded under step 1")
    ok(b"From: =?UTF-8?B?" in bytes(raw2) and b"<ventas@example.com>" in bytes(raw2),
       "plain: sent from the owner's (encoded) name with the assistant's address")
    ok(b"List-Unsubscribe: <mailto:ventas+u." in bytes(raw2), "plain: List-Unsubscribe mailto with a u. token")

    # 2 the stop conditions: step 1 only, stopped for the right reason
    for name, reason in (("reply", "reply"), ("stage", "stage"), ("bounce", "bounce"), ("unsub", "unsubscribe")):
        st = enrol_state(deals[name])
        steps = [s for s, _ in drips(deals[name])]
        ok(st is not None and st[0] == "stopped" and st[1] == reason and steps == [1],
           "%s: stopped (%s) after step 1 (state %s, steps %s)" % (name, reason, st, steps))
    ok(q("SELECT bouncing FROM contacts WHERE email = 'bounce@cliente.example'")[0][0] == 1,
       "bounce: the contact is marked bouncing")
    ok(q("SELECT unsubscribed FROM contacts WHERE email = 'unsub@cliente.example'")[0][0] == 1,
       "unsub: the contact is marked unsubscribed")
    st = enrol_state(deals["ooo"])
    ok(st is not None and st[0] == "done" and [s for s, _ in drips(deals["ooo"])] == [1, 2, 3, 4],
       "ooo: an out-of-office auto-reply does not stop the sequence (state %s)" % (st,))

    # 3 on_stale
    ok(stale_seen == start + dt.timedelta(days=7),
       "stale: fired on the first tick at 7 days in qualify (%s)" % (stale_seen and iso(stale_seen)))
    ok(q("SELECT COUNT(*) FROM events WHERE deal_id = ? AND type = 'stage'", stale)[0][0] == 1,
       "stale: moved qualify -> delayed once")
    ok(q("SELECT stale_fired FROM deals WHERE id = ?", stale)[0][0] == 0 and
       q("SELECT stage FROM deals WHERE id = ?", stale)[0][0] == "delayed",
       "stale: now in delayed (its own stale clock)")
    st = enrol_state(stale, "nurture")
    ok(st is not None and st[0] == "active", "stale: the nurture sequence started (%s)" % (st,))
    n = q("SELECT COUNT(*) FROM outbox WHERE deal_id = ? AND kind = 'notification' AND rcpt = 'ana@example.com'", stale)[0][0]
    ok(n == 1, "stale: the owner was notified once (%d)" % n)
    subj = q("SELECT subject FROM outbox WHERE deal_id = ? AND kind = 'notification' AND rcpt = 'ana@example.com'",
             stale)
    ok(subj and "Calificar" in subj[0][0] and "Retrasado" not in subj[0][0],
       "stale: the notification names the stage it was stale in, not the one on_stale moved it to (%s)" % subj)
    nur = q("SELECT o.created_at FROM outbox o JOIN enrollments e ON e.id = o.enrollment_id "
            "WHERE e.deal_id = ? AND e.sequence = 'nurture' ORDER BY o.step", stale)
    # enrolled Mon 30 20:00 local; 3d -> Thu 3 20:00 -> next tue-thu 10:00 = Tue 8 10:00
    ok([c for (c,) in nur] == [iso(local(2026, 12, 8, 10))],
       "stale: nurture step 1 on Tue 8 at 10:00 local (got %s)" % [c for (c,) in nur])

    # 4 concurrent ticks
    t0 = local(2026, 12, 14, 8)
    ids = []
    for i in range(12):
        p = run(t0, "deal", "add", "--title", "Conc %d" % i, "--contact", "conc%d@cliente.example" % i,
                "--owner", "ana@example.com", "--stage", "proposal")
        ids.append(int(p.stdout.strip()))
    t1 = local(2026, 12, 16, 9)
    env = dict(ENV, DEALMAIL_NOW=iso(t1))
    procs = [subprocess.Popen([BIN, "tick"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for _ in range(4)]
    rcs = [(p.wait(), p.stderr.read()) for p in procs]
    ok(all(rc == 0 for rc, _ in rcs), "4 concurrent ticks all exit 0 %s" % [rc for rc, _ in rcs])
    n = q("SELECT COUNT(*) FROM outbox o JOIN enrollments e ON e.id = o.enrollment_id WHERE e.deal_id >= ? "
          "AND o.step = 1", ids[0])[0][0]
    ok(n == 12, "4 concurrent ticks queued step 1 once for each of 12 deals (%d)" % n)
    ok(q("SELECT COUNT(*) FROM outbox WHERE status = 'queued'")[0][0] == 0, "... and delivered them")

    # a step that falls due while no tick runs inside the window waits for
    # one that does (a daemon down over the window, a tick in the evening)
    p = run(local(2026, 12, 17, 20), "deal", "add", "--title", "Ventana", "--contact", "ventana@cliente.example",
            "--owner", "ana@example.com", "--stage", "proposal")
    win = int(p.stdout.strip())    # step 1 due Mon 21 09:00 (Sat 19 20:00 moved into mon-fri 09-17)
    run(local(2026, 12, 21, 18), "tick")
    run(local(2026, 12, 22, 8), "tick")
    ok(drips(win) == [], "a step due in the window is not sent by ticks outside it (got %s)" % drips(win))
    run(local(2026, 12, 22, 9, 30), "tick")
    ok([c for _, c in drips(win)] == [iso(local(2026, 12, 22, 9, 30))],
       "... the first tick inside the window sends it (got %s)" % drips(win))
    p = run(local(2026, 12, 17, 20), "deal", "add", "--title", "Cron nocturno", "--contact",
            "nocturno@cliente.example", "--owner", "ana@example.com", "--stage", "proposal")
    late = int(p.stdout.strip())
    run(local(2026, 12, 22, 6), "tick")
    ok(drips(late) == [], "a tick at 06:00 the day after leaves it for the window")
    run(local(2026, 12, 24, 6), "tick")
    ok(drips(late) == [], "... and so does one at 06:00 days late (the window is a promise to the client)")
    run(local(2026, 12, 24, 9, 5), "tick")
    ok([c for _, c in drips(late)] == [iso(local(2026, 12, 24, 9, 5))],
       "... the first tick inside the window sends it (got %s)" % drips(late))
finally:
    if os.environ.get("KEEP") == "1":
        print("kept " + T)
    else:
        shutil.rmtree(T, ignore_errors=True)
print("t-drip: %d failed" % fails)
sys.exit(1 if fails else 0)
PY
