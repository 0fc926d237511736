#!/usr/bin/env bash
# Crash consistency of `ingest --maildir` (DESIGN invariant 1, issue 6 item 3).
#
# A Maildir of CRASH_MSGS messages whose effects are all distinct and countable:
#   * unknown senders (each must create exactly one deal and one contact; some
#     have no Message-ID, so they are de-duplicated by SHA-256 of the bytes),
#   * rep commands on the three set-up deals (notes with distinct text,
#     `score: +1` which sums, value/stage changes), each answered by one
#     confirmation in the outbox,
#   * replies from a known contact (logged 'email' events, +2 score each).
# Reference: one clean run on a fresh database.  Then for CRASH_ROUNDS rounds
# on a fresh database and a fresh copy of the Maildir, `ingest --maildir` is
# SIGKILLed at a random moment again and again (CRASH_KILLS kills in total,
# at least 50), and finally run to completion.  `export --json` of every round,
# with ids/timestamps/outgoing Message-IDs removed and lists sorted, must equal
# the reference: every message applied exactly once, no outbox row lost.
#
#   DEALMAIL_BIN   binary under test
#   CRASH_MSGS     messages (default 2500; five batches with DEALMAIL_BATCH_MAX=500,
#                  set here, so that acks happen mid-run)
#   CRASH_KILLS    total kills (default 60)
#   CRASH_ROUNDS   at least this many rounds (default 6); more until CRASH_KILLS kills landed
#   CRASH_SEED     random seed (default: time); printed so a failure can be rerun
#   KEEP=1         keep the temporary directory
set -u
here=$(cd "$(dirname "$0")" && pwd)
export TESTLIB=$here
exec /usr/bin/python3 - "$@" <<'PY'
import json, os, random, shutil, signal, subprocess, sys, tempfile, time
sys.path.insert(0, os.environ["TESTLIB"])
import testlib

BIN = os.environ.get("DEALMAIL_BIN") or os.path.join(
    os.path.dirname(os.path.abspath(sys.argv[0] if sys.argv[0] != "-" else ".")), "build/dealmail")
if not os.path.isabs(BIN):
    BIN = os.path.abspath(BIN)
NMSG = int(os.environ.get("CRASH_MSGS", "2500"))
KILLS = max(50, int(os.environ.get("CRASH_KILLS", "60")))
ROUNDS = int(os.environ.get("CRASH_ROUNDS", "6"))
SEED = int(os.environ.get("CRASH_SEED", str(int(time.time()))))
rnd = random.Random(SEED)
print("t-crash: seed %d (CRASH_SEED=%d to rerun), %d messages, %d kills in %d rounds"
      % (SEED, SEED, NMSG, KILLS, ROUNDS), flush=True)

ENV = dict(os.environ)
ENV["DEALMAIL_NOW"] = "2026-11-23T15:00:00Z"
ENV["DEALMAIL_SECRET"] = "crash-test-secret-0123456789abcdef"
ENV.pop("DEALMAIL_CONFIG", None)
ENV["DEALMAIL_BATCH_MAX"] = "500"   # five batches, so kills land between acknowledgements

CONF = """[dealmail]
address = ventas@example.com
language = es
timezone = America/Mexico_City
confirm = always
require_auth = no

""" + testlib.TEAM_CONF

tmp = tempfile.mkdtemp(prefix="dealmail-crash-")
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, flush=True)


def dm(db, *args, check=True, **kw):
    r = subprocess.run([BIN, "-c", os.path.join(tmp, "dealmail.conf"), "--db", db] + list(args),
                       env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    if check and r.returncode != 0:
        raise SystemExit("t-crash: dealmail %s exited %d: %s %s" % (
            " ".join(args), r.returncode, r.stdout.decode(errors="replace")[-500:],
            r.stderr.decode(errors="replace")[-500:]))
    return r


def messages():
    """(filename, bytes) in the order the Maildir is read (sorted names)."""
    out = []
    stages = ["qualify", "demo", "proposal", "negotiation"]
    for i in range(NMSG):
        kind = i % 5
        mid = "Message-ID: <crash-%05d@test.example>\n" % i
        date = "Date: Mon, 23 Nov 2026 08:%02d:%02d -0600\n" % (i // 60 % 60, i % 60)
        if kind in (0, 3):      # unknown sender: a new lead
            no_id = (i % 15 == 0)
            m = ("From: Lead %d <lead%d@prospect%d.example>\nTo: ventas@example.com\n"
                 "Subject: Interested in offer %d\n%s%sMIME-Version: 1.0\n"
                 "Content-Type: text/plain; charset=utf-8\n\nHello, I would like a quote (%d).\n"
                 % (i, i, i, i, date, "" if no_id else mid, i))
        elif kind in (1, 4):    # rep commands on a set-up deal
            deal = 1 + (i % 3)
            rep = "ana@example.com" if deal != 2 else "luis@example.com"
            lines = ["nota: crash note %d" % i, "puntos: +1"]
            if i % 7 == 1:
                lines.append("valor: %d EUR" % (1000 + i))
            if i % 11 == 4:
                lines.append("etapa: %s" % stages[(i // 11) % len(stages)])
            m = ("From: <%s>\nTo: ventas@example.com\nSubject: Re: [deal #%d] update %d\n%s%s"
                 "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n%s\n"
                 % (rep, deal, i, date, mid, "\n".join(lines)))
        else:                   # the contact of deal 3 replies: logged, +2 score
            m = ("From: Jane <jane@initech.com>\nTo: ventas@example.com\n"
                 "Subject: Re: [deal #3] Initech pilot\n%s%sMIME-Version: 1.0\n"
                 "Content-Type: text/plain; charset=utf-8\n\nThanks, reply number %d.\n"
                 % (date, mid, i))
        out.append(("%010d.M%dP1.crash" % (1700000000 + i, i), m.encode()))
    return out


MSGS = messages()
with open(os.path.join(tmp, "dealmail.conf"), "w") as f:
    f.write(CONF)


def fresh(name):
    d = os.path.join(tmp, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    md = testlib.make_maildir(os.path.join(d, "Maildir"), MSGS)
    db = os.path.join(d, "dealmail.db")
    dm(db, "init")
    for args in testlib.TEAM_DEALS:
        dm(db, "deal", "add", *args)
    return db, md


DROP = {"at", "created_at", "updated_at", "sent_at", "id", "due_at"}


def normal(db):
    data = json.loads(dm(db, "export", "--json").stdout)
    return testlib.export_normal(data, DROP), data


def diff(a, b, label):
    return testlib.export_diff(a, b, label, fail)


try:
    # --- the reference: one clean run
    db, md = fresh("clean")
    t0 = time.monotonic()
    r = dm(db, "ingest", "--maildir", md, check=False)
    clean_t = time.monotonic() - t0
    if r.returncode != 0:
        raise SystemExit("t-crash: clean ingest exited %d: %s" % (r.returncode, r.stderr.decode(errors="replace")[-800:]))
    ref, raw = normal(db)
    nlead = sum(1 for i in range(NMSG) if i % 5 in (0, 3))
    ndeal = len(raw.get("deals", []))
    nemail = sum(1 for e in raw.get("events", []) if e.get("type") == "email")
    nnotes = sum(1 for e in raw.get("events", []) if e.get("type") == "note")
    print("t-crash: clean run %.2f s: %d deals, %d email events, %d notes, %d outbox rows"
          % (clean_t, ndeal, nemail, nnotes, len(raw.get("outbox", []))), flush=True)
    # sanity of the reference itself: every message has its own effect
    if ndeal != 3 + nlead:
        fail("clean run: %d deals, expected %d (3 set up + %d leads)" % (ndeal, 3 + nlead, nlead))
    nrep = sum(1 for i in range(NMSG) if i % 5 in (1, 4))
    want_score = {}
    for i in range(NMSG):
        if i % 5 in (1, 4):
            want_score[1 + i % 3] = want_score.get(1 + i % 3, 0) + 1
    if len(raw.get("quarantine", [])):
        fail("clean run quarantined %d messages" % len(raw["quarantine"]))
    notes = [e for e in raw.get("events", []) if e.get("type") == "note"]
    if len(notes) != nrep:
        fail("clean run: %d note events, expected %d (one per rep message)" % (len(notes), nrep))
    if not os.listdir(os.path.join(md, "cur")) or os.listdir(os.path.join(md, "new")):
        fail("clean run: Maildir not acknowledged (new/ should be empty, cur/ full)")

    # --- crashed rounds
    total_kills = 0
    partial = 0
    kill_hist = []
    hi = max(clean_t * 1.1, 0.05)
    rd = 0
    while rd < ROUNDS or total_kills < KILLS:
        if rd >= 4 * ROUNDS + 20:
            break
        db, md = fresh("round%d" % rd)
        nk = 0
        # kill again and again until a run gets through on its own (or enough kills)
        while nk < max(10, KILLS // ROUNDS + 2):
            p = subprocess.Popen([BIN, "-c", os.path.join(tmp, "dealmail.conf"), "--db", db,
                                  "ingest", "--maildir", md], env=ENV,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # mostly short: each restart skips the done part fast, so many kills per round
            delay = rnd.uniform(0.0, hi / 4) if rnd.random() < 0.8 else rnd.uniform(0.0, hi)
            time.sleep(delay)
            if p.poll() is not None:
                if p.returncode != 0:
                    fail("round %d: ingest exited %d before the kill" % (rd, p.returncode))
                break
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
            if 0 < len(os.listdir(os.path.join(md, "new"))) < NMSG:
                partial += 1   # killed with some batches acknowledged, others not
            total_kills += 1
            nk += 1
            kill_hist.append(delay)
        r = dm(db, "ingest", "--maildir", md, check=False)
        if r.returncode != 0:
            fail("round %d: final ingest exited %d: %s" % (rd, r.returncode, r.stderr.decode(errors="replace")[-400:]))
        got, _ = normal(db)
        left = len(os.listdir(os.path.join(md, "new")))
        if left:
            fail("round %d: %d messages still in new/ after a complete run" % (rd, left))
        if diff(ref, got, "round %d" % rd):
            print("t-crash: round %d: %d kills, export identical to the clean run" % (rd, nk), flush=True)
        # a second complete run must change nothing (re-delivery is a no-op)
        r = dm(db, "ingest", "--maildir", md, check=False)
        again, _ = normal(db)
        diff(got, again, "round %d rerun" % rd)
        rd += 1
    print("t-crash: %d SIGKILLs delivered to a running ingest in %d rounds (%d requested), %d with the Maildir "
          "partly acknowledged; kill delays %.3f..%.3f s"
          % (total_kills, rd, KILLS, partial, min(kill_hist or [0]), max(kill_hist or [0])), flush=True)
    if not partial:
        fail("no kill landed between two batches' acknowledgements: raise CRASH_MSGS")
    if total_kills < 50:
        fail("only %d kills hit a running process (need >= 50): raise CRASH_MSGS" % total_kills)
finally:
    if os.environ.get("KEEP") == "1" or failures:
        print("t-crash: kept %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
print("t-crash: %s" % ("FAIL (%d)" % len(failures) if failures else "ok"))
sys.exit(1 if failures else 0)
PY
