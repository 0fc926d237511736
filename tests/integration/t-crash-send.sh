#!/usr/bin/env bash
# Crash consistency of `dealmail send` against a real SMTP server (issue 6
# item 3; DESIGN invariant 2: "a crash between the server's acceptance and the
# mark can at worst re-send one message, never lose one").
#
# The outbox is filled through the product: `ingest --maildir` of
# CRASH_SEND_MSGS messages, rep commands (each answered by a confirmation) and
# new leads (each notifies its owner).  tests/integration/smtp/server.py
# (aiosmtpd on 127.0.0.1) records every accepted message with the client's
# address and port, so each `send` process is one connection.
#   round 0: one clean `send`: every row arrives exactly once (and the timing
#            of a delivery sets the scale of the kill delays);
#   rounds 1..: `send` is SIGKILLed at random moments (starting, mid-session,
#            mid-DATA) and restarted until one run ends on its own; then
#   - every outbox row is 'sent' (`export --json`) and arrived at least once
#     (by Message-ID), nothing arrived that is not in the outbox;
#   - a message arrived again only if it was the last one accepted on a
#     connection whose process was killed, and no connection has more than
#     one message that arrived again: at most one re-sent message per kill;
#   - a further `send` has nothing to do.
# Rounds go on until CRASH_SEND_KILLS kills (at least 50) hit a live process.
# Prints "resent: K of N after M kills".
#
#   DEALMAIL_BIN      binary under test
#   CRASH_SEND_MSGS   inbound messages per round (default 400: 300 confirmations, 100 notifications)
#   CRASH_SEND_KILLS  total SIGKILLs (default 60, at least 50)
#   CRASH_SEND_SEED   random seed (default: time); printed for reruns
#   KEEP=1            keep the temporary directory
set -u
here=$(cd "$(dirname "$0")" && pwd)
export TESTLIB=$here
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null ||
	{ echo "t-crash-send: python3-aiosmtpd missing (apt-get install python3-aiosmtpd)"; exit 1; }
exec /usr/bin/python3 - "$@" <<'PY'
import email, json, os, random, shutil, signal, subprocess, sys, tempfile, time
from collections import Counter, defaultdict
sys.path.insert(0, os.environ["TESTLIB"])
import testlib

BIN = os.path.abspath(os.environ.get("DEALMAIL_BIN", "build/dealmail"))
NMSG = int(os.environ.get("CRASH_SEND_MSGS", "400"))
KILLS = max(50, int(os.environ.get("CRASH_SEND_KILLS", "60")))
SEED = int(os.environ.get("CRASH_SEND_SEED", str(int(time.time()))))
rnd = random.Random(SEED)
print("t-crash-send: seed %d (CRASH_SEND_SEED=%d to rerun), %d inbound messages per round, %d kills"
      % (SEED, SEED, NMSG, KILLS), flush=True)

ENV = dict(os.environ)
ENV["DEALMAIL_NOW"] = "2026-11-23T15:00:00Z"
ENV["DEALMAIL_SECRET"] = "crash-send-secret-0123456789abcdef"
for k in ("DEALMAIL_CONFIG", "DEALMAIL_SMTP_PASSWORD", "DEALMAIL_RETRY"):
    ENV.pop(k, None)

tmp = tempfile.mkdtemp(prefix="dealmail-crash-send-")
failures = []
server = None


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, flush=True)


def messages():
    out = []
    for i in range(NMSG):
        if i % 4 == 3:     # a new lead: a deal and a notification to its owner
            m = ("From: Lead %d <lead%d@prospect%d.example>\nTo: ventas@example.com\n"
                 "Subject: Interested in offer %d\nMessage-ID: <send-%05d@test.example>\n\n"
                 "Hello, a quote please (%d).\n" % (i, i, i, i, i, i))
        else:              # a rep command: a confirmation to the rep
            deal = 1 + i % 2
            rep = "ana@example.com" if deal == 1 else "luis@example.com"
            m = ("From: <%s>\nTo: ventas@example.com\nSubject: Re: [deal #%d] update %d\n"
                 "Message-ID: <send-%05d@test.example>\n\nnota: send note %d\npuntos: +1\n"
                 % (rep, deal, i, i, i))
        out.append(("%010d.M%dP1.send" % (1700000000 + i, i), m.encode()))
    return out


MSGS = messages()
CONF = """[dealmail]
address = ventas@example.com
language = es
timezone = America/Mexico_City
confirm = always
confirm_per_hour = 0
require_auth = no

[smtp]
url = smtp://127.0.0.1:{port}
tls = none

[rep "ana@example.com"]
name = Ana Lopez
team = norte

[rep "luis@example.com"]
name = Luis Souza
team = norte
language = pt

[distribution]
mode = round-robin
team = norte
"""


def dm(conf, db, *args, check=True):
    r = subprocess.run([BIN, "-c", conf, "--db", db] + list(args), env=ENV, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=300)
    if check and r.returncode != 0:
        raise SystemExit("t-crash-send: dealmail %s exited %d: %s" % (
            " ".join(args), r.returncode, r.stderr.decode(errors="replace")[-500:]))
    return r


def fill(name, conf):
    """A fresh database whose outbox holds a row per inbound message (and one
    per deal whose score crosses the threshold)."""
    d = os.path.join(tmp, name)
    md = testlib.make_maildir(os.path.join(d, "in"), MSGS)
    db = os.path.join(d, "dealmail.db")
    dm(conf, db, "init")
    dm(conf, db, "deal", "add", "--title", "ACME", "--contact", "c@acme.mx", "--owner", "ana@example.com")
    dm(conf, db, "deal", "add", "--title", "Globex", "--contact", "c@globex.com.br", "--owner", "luis@example.com")
    dm(conf, db, "ingest", "--maildir", md)
    ob = json.loads(dm(conf, db, "export", "--json").stdout)["outbox"]
    if len(ob) < NMSG or any(r["status"] != "queued" for r in ob):
        raise SystemExit("t-crash-send: %s: %d outbox rows (%s), expected at least %d queued"
                         % (name, len(ob), Counter(r["status"] for r in ob), NMSG))
    return db, {r["message_id"]: r for r in ob}


def received(md, mids):
    """[(connection, Message-ID)] in arrival order, for the Message-IDs of this round."""
    out = []
    with open(os.path.join(md, "log.jsonl")) as f:
        for line in f:
            rec = json.loads(line)
            with open(os.path.join(md, "new", rec["file"]), "rb") as g:
                mid = (email.message_from_binary_file(g).get("Message-ID") or "").strip()
            if mid in mids:
                # the server's connection number as well: the client's port
                # alone is not one connection (the kernel reuses ports)
                out.append((tuple(rec["peer"]) + (rec["conn"],), mid))
    return out


def check_round(label, conf, db, rows, got, kills):
    """got: [(connection, mid)].  Returns the number of re-sent messages."""
    ob = json.loads(dm(conf, db, "export", "--json").stdout)["outbox"]
    bad = [r["id"] for r in ob if r["status"] != "sent"]
    if bad:
        fail("%s: %d outbox rows not 'sent' after the last run: %s" % (label, len(bad), bad[:5]))
    count = Counter(mid for _, mid in got)
    lost = [m for m in rows if count[m] == 0]
    if lost:
        fail("%s: %d of %d outbox messages never arrived: %s" % (label, len(lost), len(rows), lost[:3]))
    # A message arrives again only because the run that sent it was killed
    # after the server's acceptance and before the mark: it is the last
    # message of that run's connection, and no other message of that
    # connection arrives again (the same message may be caught like this by
    # several runs in a row: each of them re-sends it once).
    conns = defaultdict(list)
    order = []
    for c, mid in got:
        if c not in conns:
            order.append(c)
        conns[c].append(mid)
    later = Counter(mid for _, mid in got)
    k = 0
    for c in order:
        for mid in conns[c]:
            later[mid] -= 1
        again = [m for m in conns[c] if later[m] > 0]
        k += len(again)
        if len(again) > 1 or (again and again[0] != conns[c][-1]):
            fail("%s: connection %s: %d of its %d messages arrived again later (%s); only the last "
                 "one (%s), in flight when the process was killed, may" % (label, c, len(again), len(conns[c]),
                                                                          again[:3], conns[c][-1]))
    if k != len(got) - len(count):
        fail("%s: internal: %d re-sends counted, %d arrivals of %d messages" % (label, k, len(got), len(count)))
    if k > kills:
        fail("%s: %d messages re-sent after %d kills" % (label, k, kills))
    r = dm(conf, db, "send", check=False)
    if r.returncode != 0 or b" sent" in r.stderr:
        fail("%s: a further send: exit %d, %s" % (label, r.returncode, r.stderr[-200:]))
    return k, len(order)


try:
    smd = os.path.join(tmp, "smtp")
    server, port = testlib.start_smtp(tmp, smd, name="t-crash-send")
    conf = os.path.join(tmp, "dealmail.conf")
    with open(conf, "w") as f:
        f.write(CONF.format(port=port))

    # ---- round 0: clean ----------------------------------------------------
    db, rows = fill("clean", conf)
    t0 = time.monotonic()
    r = dm(conf, db, "send", check=False)
    t_send = time.monotonic() - t0
    if r.returncode != 0:
        raise SystemExit("t-crash-send: clean send exited %d: %s" % (r.returncode, r.stderr[-500:]))
    got = received(smd, rows)
    k, nconn = check_round("clean", conf, db, rows, got, 0)
    if nconn != 1:
        fail("clean: %d connections for one send" % nconn)
    t0 = time.monotonic()
    dm(conf, db, "send")
    t_start = time.monotonic() - t0     # a run with nothing to deliver
    print("t-crash-send: clean send: %d messages in %.2f s (%.1f ms each), exactly once; an empty run %.0f ms"
          % (len(rows), t_send, 1000 * t_send / len(rows), 1000 * t_start), flush=True)

    # ---- crashed rounds ------------------------------------------------------
    total_kills = total_resent = total_rows = rounds = 0
    mid_session = 0
    # rounds go on until enough kills hit a session in the middle of its
    # deliveries, not only its start-up (how many do depends on how fast
    # the process starts compared with the SMTP session)
    while (total_kills < KILLS or mid_session < 25) and rounds < 20:
        rounds += 1
        label = "round %d" % rounds
        db, rows = fill("r%d" % rounds, conf)
        nk = 0
        starts = 0
        while True:
            starts += 1
            if starts > 2000:
                fail("%s: the outbox never emptied" % label)
                break
            log = os.path.join(tmp, "send.log")
            p = subprocess.Popen([BIN, "-c", conf, "--db", db, "send"], env=ENV,
                                 stdout=subprocess.DEVNULL, stderr=open(log, "wb"))
            # mostly a few messages into the session, sometimes anywhere
            if rnd.random() < 0.95:
                delay = rnd.uniform(0, t_start + t_send / 25)
            else:
                delay = rnd.uniform(0, t_start + t_send / 2)
            time.sleep(delay)
            if p.poll() is not None:
                if p.returncode != 0:
                    fail("%s: send exited %d: %s" % (label, p.returncode, open(log, "rb").read()[-300:]))
                break        # a run got through to the end
            p.send_signal(signal.SIGKILL)
            p.wait()
            nk += 1
        got = received(smd, rows)
        k, nconn = check_round(label, conf, db, rows, got, nk)
        # the connections that delivered something, less the last run's if it did
        killed_conn = nconn - (1 if b" sent" in open(log, "rb").read() else 0)
        mid_session += killed_conn
        total_kills += nk
        total_resent += k
        total_rows += len(rows)
        print("t-crash-send: %s: %d kills (%d of them after the session delivered something), "
              "%d of %d messages re-sent" % (label, nk, killed_conn, k, len(rows)), flush=True)
    print("t-crash-send: resent: %d of %d after %d kills (%d in rounds; %d kills hit a session that had "
          "delivered messages)" % (total_resent, total_rows, total_kills, rounds, mid_session), flush=True)
    if total_kills < 50:
        fail("only %d kills hit a running send (need >= 50)" % total_kills)
    if mid_session < 25:
        fail("only %d kills landed in a session that was delivering (need >= 25)" % mid_session)
finally:
    if server:
        server.terminate()
        server.wait()
    if os.environ.get("KEEP") == "1" or failures:
        print("t-crash-send: kept %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
print("t-crash-send: %s" % ("FAIL (%d)" % len(failures) if failures else "ok"))
sys.exit(1 if failures else 0)
PY
