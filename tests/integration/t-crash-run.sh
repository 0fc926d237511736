#!/usr/bin/env bash
# Crash consistency of `dealmail run` (the IMAP daemon) against a real Dovecot
# (issue 6 item 3; t-crash.sh does the same for `ingest --maildir`).
#
# The messages (CRASH_RUN_MSGS, a mix whose effects are all distinct and
# countable, as in t-crash.sh):
#   * unknown senders: each creates exactly one deal, one contact and one
#     notification to the owner (subject names the message);
#   * rep commands on three set-up deals: a note with distinct text and
#     `puntos: +1` (sums), sometimes a value or stage; each is answered by one
#     confirmation whose subject names the message (confirm_per_hour = 0:
#     no cap on automatic answers, so there is one for every command);
#   * replies from the contact of deal 3: an 'email' event, +2 score each.
# Reference: a fresh database and folder "Ref" holding all the messages, one
# uninterrupted `run` until it idles, SIGTERM, `send`.
# Crashed rounds: a fresh database and folder "R<k>" holding part of the
# messages; the rest are APPENDed while `run` is started and SIGKILLed again
# and again at random moments (connecting, ticking, mid-pass, idling); then
# one `run` goes to IDLE and is stopped with SIGTERM (exit 0), `watch --once`
# finds nothing left, `send` empties the outbox.  For every round:
#   - `export --json` (ids, timestamps and outgoing Message-IDs removed, lists
#     sorted) equals the reference: every message applied exactly once;
#   - one confirmation per rep command, one notification per lead, each
#     subject once (no outbox row lost or doubled), all of them sent;
#   - every outbox row reached the [smtp] maildir transport at least once;
#   - on the server every message of the folder carries $Dealmail.
# Rounds go on until CRASH_RUN_KILLS kills (at least 50) hit a live process;
# most are aimed into a pass (after its "N new message(s)" log line), and at
# least 15 must have landed there for the test to count.
#
#   DEALMAIL_BIN      binary under test
#   CRASH_RUN_MSGS    messages per round (default 300)
#   CRASH_RUN_KILLS   total SIGKILLs (default 60, at least 50)
#   CRASH_RUN_SEED    random seed (default: time); printed for reruns
#   DEALMAIL_SANITIZED=1  (make asan) longer waits
#   KEEP=1            keep the temporary directory
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/imap/lib.sh"
: "${DEALMAIL_BIN:?DEALMAIL_BIN must name the binary under test}"

dovecot_require t-crash-run.sh

# killed sessions may linger a moment on the server side: allow more than the
# default 10 connections per user and address
dovecot_init "protocol imap {" "  mail_max_userip_connections = 500" "}"
dovecot_start || exit 1
export D IMAP_PORT IMAPS_PORT DCONF DOVEADM_BIN DEALMAIL_BIN

$PY - <<'PY'
import email, imaplib, json, os, random, re, signal, subprocess, sys, threading, time
from collections import Counter
sys.path.insert(0, os.environ["TESTLIB"])
import testlib

BIN = os.path.abspath(os.environ["DEALMAIL_BIN"])
D = os.environ["D"]
IMAP_PORT = int(os.environ["IMAP_PORT"])
IMAPS_PORT = int(os.environ["IMAPS_PORT"])
NMSG = int(os.environ.get("CRASH_RUN_MSGS", "300"))
KILLS = max(50, int(os.environ.get("CRASH_RUN_KILLS", "60")))
SEED = int(os.environ.get("CRASH_RUN_SEED", str(int(time.time()))))
SLOW = 4.0 if os.environ.get("DEALMAIL_SANITIZED") else 1.0
rnd = random.Random(SEED)
PRELOAD = NMSG * 2 // 3            # in the folder before the first start; the rest appended meanwhile
print("t-crash-run: seed %d (CRASH_RUN_SEED=%d to rerun), %d messages, %d kills"
      % (SEED, SEED, NMSG, KILLS), flush=True)

ENV = dict(os.environ)
ENV["DEALMAIL_NOW"] = "2026-11-23T15:00:00Z"
ENV["DEALMAIL_SECRET"] = "crash-run-secret-0123456789abcdef"
for k in ("DEALMAIL_CONFIG", "DEALMAIL_IMAP_PASSWORD"):
    ENV.pop(k, None)

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, flush=True)


# ---- the messages ---------------------------------------------------------
KIND = {}      # index -> lead | rep | contact


def messages():
    out = []
    stages = ["qualify", "demo", "proposal", "negotiation"]
    for i in range(NMSG):
        k = i % 5
        date = "Date: Mon, 23 Nov 2026 08:%02d:%02d -0600" % (i // 60 % 60, i % 60)
        mid = "Message-ID: <crashrun-%05d@test.example>" % i
        if k in (0, 3):
            KIND[i] = "lead"
            hdr = ["From: Lead %d <lead%d@prospect%d.example>" % (i, i, i), "To: ventas@example.com",
                   "Subject: Interested in offer %d" % i, date]
            if i % 15 != 0:          # some without Message-ID: known by the hash of their bytes
                hdr.append(mid)
            body = ["Hello, I would like a quote (%d)." % i]
        elif k in (1, 4):
            KIND[i] = "rep"
            deal = 1 + i % 3
            rep = "luis@example.com" if deal == 2 else "ana@example.com"
            hdr = ["From: <%s>" % rep, "To: ventas@example.com",
                   "Subject: Re: [deal #%d] update %d" % (deal, i), date, mid]
            body = ["nota: crash-run note %d" % i, "puntos: +1"]
            if i % 7 == 1:
                body.append("valor: %d EUR" % (1000 + i))
            if i % 11 == 4:
                body.append("etapa: %s" % stages[(i // 11) % len(stages)])
        else:
            KIND[i] = "contact"
            hdr = ["From: Jane <jane@initech.com>", "To: ventas@example.com",
                   "Subject: Re: [deal #3] Initech pilot", date, mid]
            body = ["Thanks, reply number %d." % i]
        hdr += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
        out.append(("\r\n".join(hdr) + "\r\n\r\n" + "\r\n".join(body) + "\r\n").encode())
    return out


MSGS = messages()
NLEAD = sum(1 for k in KIND.values() if k == "lead")
NREP = sum(1 for k in KIND.values() if k == "rep")
NCONTACT = NMSG - NLEAD - NREP


def imap():
    c = imaplib.IMAP4("127.0.0.1", IMAP_PORT)
    c.login("test", "secret")
    return c


def append(c, folder, data):
    typ, resp = c.append(folder, None, None, data)
    if typ != "OK":
        raise SystemExit("t-crash-run: APPEND to %s failed: %r" % (folder, resp))


def server_marks(folder):
    """(messages in folder, messages with $Dealmail)"""
    c = imap()
    c.select(folder, readonly=True)
    total = len(c.uid("SEARCH", None, "ALL")[1][0].split())
    marked = len(c.uid("SEARCH", None, "KEYWORD", "$Dealmail")[1][0].split())
    c.logout()
    return total, marked


# ---- dealmail -------------------------------------------------------------
def setup(name, folder):
    d = os.path.join(D, name)
    os.makedirs(d)
    conf = os.path.join(d, "dealmail.conf")
    with open(conf, "w") as f:
        f.write("""[dealmail]
database = {d}/dealmail.db
address = ventas@example.com
language = es
timezone = America/Mexico_City
confirm = always
confirm_per_hour = 0
require_auth = no

[imap]
url = imaps://127.0.0.1:{port}/{folder}
ca_file = {D}/cert.pem
user = test
password_file = {D}/imap.pass

[smtp]
url = maildir:{d}/sent

""".format(d=d, port=IMAPS_PORT, folder=folder, D=D) + testlib.TEAM_CONF)
    dm(conf, "init")
    for args in testlib.TEAM_DEALS:
        dm(conf, "deal", "add", *args)
    return d, conf


def dm(conf, *args, check=True):
    r = subprocess.run([BIN, "-c", conf] + list(args), env=ENV, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120 * SLOW)
    if check and r.returncode != 0:
        raise SystemExit("t-crash-run: dealmail %s exited %d: %s" % (
            " ".join(args), r.returncode, r.stderr.decode(errors="replace")[-800:]))
    return r


def start_run(conf, log):
    return subprocess.Popen([BIN, "-c", conf, "-v", "run"], env=ENV, stdout=subprocess.DEVNULL,
                            stderr=open(log, "wb"))


def wait_log(p, log, needle, limit):
    """Seconds until the run's -v log shows needle; None on timeout or exit."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if p.poll() is not None:
            return None
        with open(log, "rb") as f:
            if needle in f.read():
                return time.monotonic() - t0
        time.sleep(0.002)
    return None


IDLE = b"IDLE, waiting for new mail"
PASS = b"new message(s) from UID"


def phase(log):
    """Where a killed run was, from its -v log."""
    with open(log, "rb") as f:
        text = f.read()
    last = text.rfind(PASS)
    if last >= 0 and b"fetched:" not in text[last:]:
        return "mid-pass"
    if IDLE in text:
        return "idle"
    if b" selected as " in text:
        return "between passes"
    return "starting"


DROP = {"at", "created_at", "updated_at", "sent_at", "id", "due_at", "stage_since", "last_activity"}


def export(conf):
    return json.loads(dm(conf, "export", "--json").stdout)


def normal(data):
    return testlib.export_normal(data, DROP)


def diff(a, b, label):
    return testlib.export_diff(a, b, label, fail)


def outbox_checks(data, d, label):
    """One confirmation per rep command, one notification per lead, all sent,
    each delivered to the maildir transport."""
    ob = data.get("outbox", [])
    conf_subj = Counter(r["subject"] for r in ob if r["kind"] == "confirmation")
    want = Counter()
    for i in range(NMSG):
        if KIND[i] == "rep":
            want["Re: [deal #%d] update %d" % (1 + i % 3, i)] += 1
    if conf_subj != want:
        fail("%s: confirmations: %d (%d distinct), expected %d, one per rep command; missing %s, extra %s"
             % (label, sum(conf_subj.values()), len(conf_subj), NREP,
                list((want - conf_subj).elements())[:3], list((conf_subj - want).elements())[:3]))
    leads = Counter(int(m.group(1)) for r in ob if r["kind"] == "notification"
                    for m in [re.search(r"Interested in offer (\d+)$", r["subject"])] if m)
    if leads != Counter(i for i in range(NMSG) if KIND[i] == "lead"):
        fail("%s: %d new-lead notifications for %d distinct leads, expected one for each of %d"
             % (label, sum(leads.values()), len(leads), NLEAD))
    unsent = [r["id"] for r in ob if r["status"] != "sent"]
    if unsent:
        fail("%s: outbox rows not sent after `send`: %s" % (label, unsent[:5]))
    got = Counter()
    newdir = os.path.join(d, "sent", "new")
    for fn in os.listdir(newdir) if os.path.isdir(newdir) else []:
        with open(os.path.join(newdir, fn), "rb") as f:
            got[(email.message_from_binary_file(f).get("Message-ID") or "").strip()] += 1
    lost = [r["message_id"] for r in ob if got[r["message_id"]] == 0]
    if lost:
        fail("%s: %d outbox rows never reached the maildir transport: %s" % (label, len(lost), lost[:3]))
    return sum(got.values()) - len(ob)


def expect_reference(data):
    deals = data.get("deals", [])
    ev = Counter(e["type"] for e in data.get("events", []))
    if len(deals) != 3 + NLEAD:
        fail("reference: %d deals, expected %d (3 set up + %d leads)" % (len(deals), 3 + NLEAD, NLEAD))
    if ev["note"] != NREP:
        fail("reference: %d notes, expected %d (one per rep command)" % (ev["note"], NREP))
    if ev["email"] != NLEAD + NCONTACT:
        fail("reference: %d email events, expected %d (one per lead and contact reply)"
             % (ev["email"], NLEAD + NCONTACT))
    if data.get("quarantine"):
        fail("reference: %d messages quarantined" % len(data["quarantine"]))
    score = {x["id"]: x["score"] for x in deals}
    for deal in (1, 2):
        want = sum(1 for i in range(NMSG) if KIND[i] == "rep" and 1 + i % 3 == deal)
        if score.get(deal) != want:
            fail("reference: deal %d score %r, expected %d" % (deal, score.get(deal), want))


def finish(p, conf, log, label):
    """One undisturbed run to IDLE, SIGTERM (exit 0), watch --once, send."""
    if wait_log(p, log, IDLE, 120 * SLOW) is None:
        fail("%s: run did not reach IDLE: %s" % (label, open(log, "rb").read()[-600:]))
        p.kill()
        p.wait()
        return False
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=30 * SLOW)
    if rc != 0:
        fail("%s: run exited %d on SIGTERM" % (label, rc))
    r = dm(conf, "watch", "--once", check=False)
    if r.returncode != 0:
        fail("%s: watch --once after run exited %d: %s" % (label, r.returncode, r.stderr[-300:]))
    if b"fetched" in r.stderr:
        fail("%s: watch --once still found messages after run idled: %s" % (label, r.stderr[-300:]))
    r = dm(conf, "send", check=False)
    if r.returncode != 0:
        fail("%s: send exited %d: %s" % (label, r.returncode, r.stderr[-300:]))
    return True


t_start = time.monotonic()
c = imap()
# ---- the reference --------------------------------------------------------
c.create("Ref")
for m in MSGS:
    append(c, "Ref", m)
d, conf = setup("ref", "Ref")
log = os.path.join(d, "run.log")
t0 = time.monotonic()
p = start_run(conf, log)
t_pass = wait_log(p, log, PASS, 60 * SLOW) or 0     # start to the pass
T_PASS = wait_log(p, log, IDLE, 120 * SLOW) or 1.0   # the pass, to IDLE
T_REF = t_pass + T_PASS
PER_MSG = T_PASS / NMSG
ok = finish(p, conf, log, "reference")
if not ok:
    sys.exit(1)
raw = export(conf)
REF = normal(raw)
expect_reference(raw)
outbox_checks(raw, d, "reference")
total, marked = server_marks("Ref")
if (total, marked) != (NMSG, NMSG):
    fail("reference: %d of %d messages marked on the server" % (marked, total))
print("t-crash-run: reference run %.2f s to IDLE (the pass %.2f s): %d deals, %d events, %d outbox rows"
      % (T_REF, T_PASS, len(raw["deals"]), len(raw["events"]), len(raw["outbox"])), flush=True)
if failures:
    sys.exit(1)

# ---- crashed rounds ----------------------------------------------------------
total_kills, rounds, phases, resent_sum = 0, 0, Counter(), 0
while total_kills < KILLS and rounds < 30:
    folder = "R%d" % rounds
    label = "round %d" % rounds
    c.create(folder)
    for m in MSGS[:PRELOAD]:
        append(c, folder, m)
    d, conf = setup("r%d" % rounds, folder)

    def appender(folder=folder, seed=rnd.random()):
        r2 = random.Random(seed)
        a = imap()
        i = PRELOAD
        while i < NMSG:
            time.sleep(r2.uniform(0, T_REF / 6))
            for m in MSGS[i:i + r2.randint(1, 12)]:
                append(a, folder, m)
                i += 1
        a.logout()

    th = threading.Thread(target=appender)
    th.start()
    nk = 0
    starts = 0
    # until the appends are over and a run was killed with nothing left to do
    while True:
        log = os.path.join(d, "run.%d.log" % starts)
        starts += 1
        p = start_run(conf, log)
        if rnd.random() < 0.7:
            # aim at a pass: once it starts, anywhere in the work it announced
            wait_log(p, log, PASS, T_REF * 2)
            with open(log, "rb") as f:
                m = re.search(rb"(\d+) new message\(s\) from UID", f.read())
            time.sleep(rnd.uniform(0, PER_MSG * (int(m.group(1)) if m else 1)))
        else:
            # anywhere: connecting, the tick (outbox delivery), a pass, IDLE
            time.sleep(rnd.uniform(0, T_REF * 1.2))
        if p.poll() is not None:
            fail("%s: run exited %d on its own: %s" % (label, p.returncode, open(log, "rb").read()[-300:]))
            if len(failures) > 5:
                sys.exit(1)
            continue
        p.send_signal(signal.SIGKILL)
        p.wait()
        nk += 1
        where = phase(log)
        phases[where] += 1
        if where == "idle" and not th.is_alive() and nk >= 3:
            break
    th.join()
    total_kills += nk
    log = os.path.join(d, "run.final.log")
    if finish(start_run(conf, log), conf, log, label):
        data = export(conf)
        same = diff(REF, normal(data), label)
        resent = outbox_checks(data, d, label)
        resent_sum += resent
        total, marked = server_marks(folder)
        if (total, marked) != (NMSG, NMSG):
            fail("%s: %d of %d messages marked $Dealmail on the server" % (label, marked, total))
        if same:
            print("t-crash-run: %s: %d kills, export identical to the reference; %d outbox messages "
                  "written twice to the maildir transport" % (label, nk, resent), flush=True)
    rounds += 1
c.logout()

print("t-crash-run: %d SIGKILLs to a live `run` in %d rounds (%s); %d outbox messages delivered twice "
      "by a killed tick; %.1f s in all"
      % (total_kills, rounds, ", ".join("%d %s" % (v, k) for k, v in sorted(phases.items())), resent_sum,
         time.monotonic() - t_start), flush=True)
if total_kills < 50:
    fail("only %d kills (need >= 50)" % total_kills)
if phases["mid-pass"] < 15:
    fail("only %d kills landed in the middle of a pass (need >= 15)" % phases["mid-pass"])
print("t-crash-run: %s" % ("FAIL (%d)" % len(failures) if failures else "ok"))
sys.exit(1 if failures else 0)
PY
rc=$?
[ $rc != 0 ] && [ -z "${KEEP:-}" ] && echo "t-crash-run: rerun with KEEP=1 to keep $D"
exit $rc
