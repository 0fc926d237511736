#!/usr/bin/env bash
# Crash consistency of the MTA pipe (`dealmail ingest` on stdin), the path
# that answers the MTA as soon as its commit is durable and closes the
# database after (t-crash.sh does the same for `ingest --maildir`).
#
# CRASH_PIPE_MSGS messages (more, up to four times as many, until a third of
# that many kills have landed on a live worker: the worker of a fast machine
# often ends before the poller finds it), each delivered like an MTA would: one `ingest`
# process, and its worker (the child that does the work) is SIGKILLed at a
# random moment of most deliveries -- before, during or after the commit,
# while it sends its verdict or while it closes the database.  A delivery
# that exits 75 is retried (as the MTA would), one that exits 0 is done; any
# other exit is a failure.  Every message is unique in its effect:
#   * unknown senders: each creates exactly one deal with its own contact;
#   * rep commands on deal 1: each adds one note with its own text and is
#     answered by one confirmation (confirm_per_hour = 0: no cap).
# At the end `export --json` must show every effect exactly once, one
# processed row per message, one confirmation per rep command, and SQLite's
# integrity_check must pass.
#   DEALMAIL_BIN, CRASH_PIPE_MSGS (default 150), CRASH_PIPE_SEED, KEEP=1
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${DEALMAIL_BIN:?DEALMAIL_BIN must name the binary under test}"
export DEALMAIL_BIN TESTLIB=$here
exec /usr/bin/python3 - "$@" <<'PY'
import json, os, random, shutil, signal, sqlite3, subprocess, sys, tempfile, time
from collections import Counter

BIN = os.path.abspath(os.environ["DEALMAIL_BIN"])
N = int(os.environ.get("CRASH_PIPE_MSGS", "150"))
SEED = int(os.environ.get("CRASH_PIPE_SEED", str(int(time.time()))))
SLOW = 4.0 if os.environ.get("DEALMAIL_SANITIZED") else 1.0
rnd = random.Random(SEED)
print("t-crash-pipe: seed %d (CRASH_PIPE_SEED=%d to rerun), %d messages" % (SEED, SEED, N), flush=True)
ENV = dict(os.environ, DEALMAIL_NOW="2026-11-23T15:00:00Z", DEALMAIL_SECRET="crash-pipe-secret-0123456789abcd")
for k in ("DEALMAIL_CONFIG",):
    ENV.pop(k, None)
tmp = tempfile.mkdtemp(prefix="dealmail-crash-pipe-")
conf = os.path.join(tmp, "dealmail.conf")
db = os.path.join(tmp, "dealmail.db")
with open(conf, "w") as f:
    f.write("""[dealmail]
address = ventas@example.com
language = es
confirm = always
confirm_per_hour = 0
require_auth = no

[smtp]
url = maildir:%s/sent

[rep "ana@example.com"]
name = Ana Lopez
""" % tmp)
failures = []


def dm(*args, data=None):
    return subprocess.run([BIN, "-q", "-c", conf, "--db", db] + list(args), input=data, env=ENV,
                          capture_output=True)


def message(i):
    if i % 3 == 0:
        return ("From: <ana@example.com>\nTo: ventas@example.com\nSubject: Re: [deal #1] ACME\n"
                "Message-ID: <pipe-%05d@test.example>\n\nnota: pipe note %d\n" % (i, i)).encode()
    return ("From: Lead %d <lead%d@prospect.example>\nTo: ventas@example.com\nSubject: Quote %d\n"
            "Message-ID: <pipe-%05d@test.example>\n\nHello, a quote please.\n" % (i, i, i, i)).encode()


def worker_of(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = f.read().split()
        return int(kids[0]) if kids else None
    except OSError:
        return None


if dm("init").returncode or dm("deal", "add", "--title", "ACME", "--contact", "c@acme.mx",
                                 "--owner", "ana@example.com").returncode:
    raise SystemExit("t-crash-pipe: cannot set up the database")

kills = retries = late = 0
# N messages, and more (up to 4 N) until a third of N kills have landed on a
# worker: on a busy machine the poller below finds fewer workers alive
i = 0
while i < N or (kills < N // 3 and i < 4 * N):
    data = message(i)
    i += 1
    for attempt in range(50):
        p = subprocess.Popen([BIN, "-q", "-c", conf, "--db", db, "ingest"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
        p.stdin.write(data)
        p.stdin.close()
        killed = False
        if rnd.random() < 0.8:
            # wait for the worker to exist, then aim somewhere in its life:
            # most of it is opening the database and the commit, a short
            # tail is the close (a worker killed there has given its verdict
            # after the commit, and the parent answers with it: exit 0)
            w = None
            give_up = time.monotonic() + 5 * SLOW
            while w is None and p.poll() is None and time.monotonic() < give_up:
                w = worker_of(p.pid)
            if w:
                time.sleep(rnd.uniform(0, 0.006) * SLOW)
                try:
                    os.kill(w, signal.SIGKILL)
                    kills += 1
                    killed = True
                except ProcessLookupError:
                    pass
        out, err = p.stdout.read(), p.stderr.read()
        rc = p.wait()
        if rc == 0:
            late += killed   # killed after its answer, while closing
            break
        if rc != 75:
            failures.append("message %d: exit %d: %s %s" % (i - 1, rc, out[-200:], err[-200:]))
            break
        retries += 1
    else:
        failures.append("message %d: still 75 after 50 deliveries" % (i - 1))
time.sleep(0.3 * SLOW)   # the last worker closes the database after the answer
SENT = i

r = dm("export", "--json")
if r.returncode:
    raise SystemExit("t-crash-pipe: export failed: %s" % r.stderr.decode(errors="replace"))
data = json.loads(r.stdout)
leads = ["lead%d@prospect.example" % i for i in range(SENT) if i % 3]
notes = ["pipe note %d" % i for i in range(SENT) if i % 3 == 0]
contacts = Counter(d.get("contact") for d in data["deals"])
got_notes = Counter(e.get("text") or e.get("to") or e.get("value") for e in data["events"] if e.get("type") == "note")
if any(contacts[c] != 1 for c in leads) or len(data["deals"]) != len(leads) + 1:
    failures.append("deals: %d, expected %d (one per lead); doubled: %s; missing: %s" % (
        len(data["deals"]), len(leads) + 1, [c for c in leads if contacts[c] > 1][:5],
        [c for c in leads if contacts[c] == 0][:5]))
if sorted(got_notes) != sorted(notes) or any(v != 1 for v in got_notes.values()):
    failures.append("notes: %d distinct, %d in all, expected %d once each" % (
        len(got_notes), sum(got_notes.values()), len(notes)))
conf_rows = [o for o in data["outbox"] if o.get("kind") == "confirmation"]
if len(conf_rows) != len(notes):
    failures.append("confirmations: %d, expected %d" % (len(conf_rows), len(notes)))
c = sqlite3.connect(db)
processed = c.execute("SELECT COUNT(*) FROM processed").fetchone()[0]
integrity = c.execute("PRAGMA integrity_check").fetchone()[0]
c.close()
if processed != SENT:
    failures.append("processed rows: %d, expected %d" % (processed, SENT))
if integrity != "ok":
    failures.append("integrity_check: %s" % integrity)
print("t-crash-pipe: %d messages, %d kills (%d after the answer to the MTA), %d deliveries retried on 75"
      % (SENT, kills, late, retries), flush=True)
if kills < N // 3:
    failures.append("only %d kills landed on a worker (expected at least %d)" % (kills, N // 3))
for f in failures:
    print("FAIL: " + f, flush=True)
if os.environ.get("KEEP"):
    print("kept " + tmp)
else:
    shutil.rmtree(tmp, ignore_errors=True)
print("t-crash-pipe: " + ("ok" if not failures else "%d failure(s)" % len(failures)))
sys.exit(1 if failures else 0)
PY
