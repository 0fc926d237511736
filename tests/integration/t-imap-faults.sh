#!/usr/bin/env bash
# The IMAP server vanishes in the middle of a FETCH response (issue 6 item 4).
#
# imap/cutproxy.py sits between dealmail and a throwaway Dovecot (plain text
# on 127.0.0.1, tls = none, so the proxy can read the protocol) and closes
# the connection after some bytes of the K-th `BODY[] {n}` literal.  The
# mailbox holds FAULT_MSGS messages, ~3 KB each: new leads (one deal, one
# 'email' event, one notification each) and rep commands quoting the
# original (one note, one score event, one confirmation each).  A pass
# fetches and commits 100 messages at a time.
#   1  cut inside the first batch (literal 40): `watch --once` exits 75 (SPEC:
#      temporary failure) and says the connection was lost during UID FETCH;
#      nothing applied, nothing marked on the server;
#   2  cut inside the second batch (literal 150, a rep command): exits 75;
#      the messages of the first batch applied, each completely and once,
#      none of the others in any part; exactly those marked $Dealmail;
#   3  `watch --once` straight to Dovecot: exits 0, every message applied
#      exactly once, all marked; a second pass changes nothing;
#   4  `run` through a proxy that cuts only its first connection: it logs the
#      loss, reconnects by itself and applies the new messages once; SIGTERM
#      exits 0.
# Everything is checked through `export --json` and the server's flags.
#   DEALMAIL_BIN, FAULT_MSGS (default 250), KEEP=1
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/imap/lib.sh"
: "${DEALMAIL_BIN:?DEALMAIL_BIN must name the binary under test}"

dovecot_require t-imap-faults.sh

dovecot_init
dovecot_start || exit 1
export D IMAP_PORT DEALMAIL_BIN
export CUTPROXY=$here/imap/cutproxy.py

$PY - <<'PY'
import imaplib, json, os, re, signal, subprocess, sys, time
from collections import Counter
sys.path.insert(0, os.environ["TESTLIB"])
import testlib

BIN = os.path.abspath(os.environ["DEALMAIL_BIN"])
D = os.environ["D"]
IMAP_PORT = int(os.environ["IMAP_PORT"])
PROXY = os.environ["CUTPROXY"]
N = max(200, int(os.environ.get("FAULT_MSGS", "250")))
SLOW = 4.0 if os.environ.get("DEALMAIL_SANITIZED") else 1.0
ENV = dict(os.environ, DEALMAIL_NOW="2026-11-23T15:00:00Z", DEALMAIL_SECRET="imap-faults-secret-0123456789abcd")
for k in ("DEALMAIL_CONFIG", "DEALMAIL_IMAP_PASSWORD"):
    ENV.pop(k, None)
fails = []
procs = []


def check(ok, what):
    print("%s - %s" % ("ok  " if ok else "FAIL", what), flush=True)
    if not ok:
        fails.append(what)
    return ok


def kind(i):
    return "rep" if i % 4 == 1 else "lead"


PAD = "".join("> line %02d of the quoted conversation, long enough to make the message a few KB\r\n" % k
              for k in range(36))


def message(i):
    date = "Date: Mon, 23 Nov 2026 08:%02d:%02d -0600\r\n" % (i // 60 % 60, i % 60)
    mid = "Message-ID: <imapfault-%05d@test.example>\r\n" % i
    if kind(i) == "rep":
        deal = 1 + i % 2
        rep = "ana@example.com" if deal == 1 else "luis@example.com"
        return ("From: <%s>\r\nTo: ventas@example.com\r\nSubject: Re: [deal #%d] update %d\r\n%s%s"
                "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                "nota: fault note %d\r\npuntos: +1\r\n\r\nOn Mon, 23 Nov 2026, Ventas wrote:\r\n%s"
                % (rep, deal, i, date, mid, i, PAD)).encode()
    return ("From: Lead %d <lead%d@prospect%d.example>\r\nTo: ventas@example.com\r\n"
            "Subject: Interested in offer %d\r\n%s%sMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nHello, a quote please (%d).\r\n\r\n%s"
            % (i, i, i, i, date, mid, i, PAD)).encode()


def imap():
    c = imaplib.IMAP4("127.0.0.1", IMAP_PORT)
    c.login("test", "secret")
    return c


def append(lo, hi):
    c = imap()
    for i in range(lo, hi):
        typ, resp = c.append("INBOX", None, None, message(i))
        if typ != "OK":
            raise SystemExit("APPEND failed: %r" % resp)
    c.logout()


def marked():
    """UIDs carrying $Dealmail, and all UIDs"""
    c = imap()
    c.select("INBOX", readonly=True)
    m = sorted(int(x) for x in c.uid("SEARCH", None, "KEYWORD", "$Dealmail")[1][0].split())
    a = sorted(int(x) for x in c.uid("SEARCH", None, "ALL")[1][0].split())
    c.logout()
    return m, a


def write_conf(path, port):
    with open(path, "w") as f:
        f.write("""[dealmail]
database = {D}/dealmail.db
address = ventas@example.com
language = es
timezone = America/Mexico_City
confirm_per_hour = 0
require_auth = no

[imap]
url = imap://127.0.0.1:{port}/INBOX
tls = none
user = test
password_file = {D}/imap.pass

[smtp]
url = maildir:{D}/sent

[rep "ana@example.com"]
name = Ana Lopez
team = norte

[rep "luis@example.com"]
name = Luis Souza
team = norte

[distribution]
mode = round-robin
team = norte
""".format(D=D, port=port))


def dm(conf, *args, limit=60):
    """a finished process; returncode "hung" when it did not exit within limit s"""
    try:
        return subprocess.run([BIN, "-c", conf] + list(args), env=ENV, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=limit * SLOW)
    except subprocess.TimeoutExpired as e:
        return subprocess.CompletedProcess(e.cmd, "hung (killed after %d s)" % (limit * SLOW),
                                           e.stdout or b"", e.stderr or b"")


def start_proxy(name, cut_literal, cut_bytes, cut_connections=None):
    port = testlib.free_port()
    pidfile = os.path.join(D, name + ".pid")
    log = os.path.join(D, name + ".log")
    args = ["/usr/bin/python3", PROXY, "--listen", str(port), "--upstream", str(IMAP_PORT),
            "--cut-literal", str(cut_literal), "--cut-bytes", str(cut_bytes), "--pidfile", pidfile, "--log", log]
    if cut_connections:
        args += ["--cut-connections", str(cut_connections)]
    p = subprocess.Popen(args)
    procs.append(p)
    for _ in range(100):
        if os.path.exists(pidfile):
            return p, port, log
        time.sleep(0.05)
    raise SystemExit("the proxy did not start")


def said(err):
    lines = [l for l in err.splitlines() if "error" in l]
    return lines[-1] if lines else "(no error line) " + err[-200:]


def cuts(log):
    return open(log).read().splitlines() if os.path.exists(log) else []


def effects(conf):
    """What export --json shows of each inbound message: index -> Counter of effects."""
    r = dm(conf, "export", "--json")
    if r.returncode:
        raise SystemExit("export exited %d: %s" % (r.returncode, r.stderr[-300:]))
    data = json.loads(r.stdout)
    eff = {}

    def add(i, what):
        eff.setdefault(i, Counter())[what] += 1
    for e in data["events"]:
        m = re.match(r"<imapfault-(\d+)@", e.get("message_id") or "")
        if m:
            add(int(m.group(1)), e["type"])
    for d in data["deals"]:
        m = re.match(r"lead(\d+)@", d["contact"])
        if m:
            add(int(m.group(1)), "deal")
    for o in data["outbox"]:
        m = re.search(r"(?:update|offer) (\d+)$", o["subject"])
        if m:
            add(int(m.group(1)), o["kind"])
    return eff, data


WANT = {"lead": Counter({"deal": 1, "email": 1, "notification": 1}),
        "rep": Counter({"note": 1, "score": 1, "confirmation": 1})}


def applied_exactly(conf, want_set, what):
    """every message of want_set applied completely and once, no other one in any part"""
    eff, data = effects(conf)
    wrong = [(i, dict(eff.get(i, {}))) for i in sorted(want_set) if eff.get(i) != WANT[kind(i)]]
    extra = sorted(set(eff) - set(want_set))
    ok = check(not wrong and not extra and not data["quarantine"],
               "%s: messages applied: %s; each of them completely and once, no other one in any part"
               % (what, span(want_set)))
    if not ok:
        print("     not as expected: %s; applied though they should not be: %s; quarantined %d"
              % (wrong[:4], extra[:8], len(data["quarantine"])))
    return data


def span(s):
    s = sorted(s)
    return "none" if not s else "%d..%d" % (s[0], s[-1]) if s == list(range(s[0], s[-1] + 1)) else "%d set" % len(s)


try:
    append(0, N)
    conf = os.path.join(D, "cut.conf")
    direct = os.path.join(D, "direct.conf")
    write_conf(direct, IMAP_PORT)
    r = dm(direct, "init")
    for args in (["--title", "ACME", "--contact", "c@acme.mx", "--owner", "ana@example.com"],
                 ["--title", "Globex", "--contact", "c@globex.com.br", "--owner", "luis@example.com"]):
        r = dm(direct, "deal", "add", *args)
        if r.returncode:
            raise SystemExit("deal add: %s" % r.stderr)

    # ---- 1 cut inside the first batch ----------------------------------------
    p, port, log = start_proxy("cut1", 40, 1000)
    write_conf(conf, port)
    r = dm(conf, "watch", "--once", limit=20)
    err = r.stderr.decode(errors="replace")
    c = cuts(log)
    check(len(c) == 1 and "literal 40 " in c[0] and "after 1000 of " in c[0],
          "1 the proxy cut the 40th BODY[] literal after 1000 bytes (%s)" % (c[0] if c else "no cut"))
    check(r.returncode == 75, "1 watch --once exits 75 (temporary failure), got %s" % r.returncode)
    check("UID FETCH" in err and "connection lost" in err,
          "1 it says the connection was lost during UID FETCH: %s" % said(err))
    applied_exactly(conf, set(), "1 cut in the first batch")
    m, a = marked()
    check(len(a) == N and not m, "1 nothing marked on the server (%d of %d)" % (len(m), len(a)))
    p.terminate()

    # ---- 2 cut inside the second batch --------------------------------------------
    p, port, log = start_proxy("cut2", 150, 700)
    write_conf(conf, port)
    r = dm(conf, "watch", "--once", limit=20)
    err = r.stderr.decode(errors="replace")
    c = cuts(log)
    check(len(c) == 1 and "literal 150 " in c[0], "2 the proxy cut the 150th BODY[] literal (%s)" % (c[0] if c else "no cut"))
    check(r.returncode == 75, "2 watch --once exits 75, got %s" % r.returncode)
    check("UID FETCH" in err and "connection lost" in err, "2 it says why: %s" % said(err))
    # what was committed before the cut: whole batches, so a prefix of the
    # mailbox that ends before the message being read (UID 150)
    k = len(effects(conf)[0])
    check(0 < k < 150, "2 %d messages were committed before the cut (a pass commits in batches)" % k)
    applied_exactly(conf, set(range(k)), "2 cut in the second batch")
    m, a = marked()
    check(m == a[:k], "2 exactly those %d marked on the server (%d marked)" % (k, len(m)))
    p.terminate()

    # ---- 3 no cut ----------------------------------------------------------------
    r = dm(direct, "watch", "--once")
    check(r.returncode == 0, "3 watch --once without the cut exits 0, got %s: %s" % (r.returncode, r.stderr[-200:]))
    applied_exactly(direct, set(range(N)), "3 after the cuts")
    m, a = marked()
    check(m == a and len(a) == N, "3 all %d marked on the server (%d)" % (N, len(m)))
    before = effects(direct)[0]
    r = dm(direct, "watch", "--once")
    check(r.returncode == 0 and effects(direct)[0] == before, "3 a second pass changes nothing")

    # ---- 4 run: cut on the first connection, recovers by itself ---------------------
    append(N, N + 60)
    p, port, log = start_proxy("cut4", 30, 2000, cut_connections=1)
    write_conf(conf, port)
    rlog = os.path.join(D, "run.log")
    rp = subprocess.Popen([BIN, "-c", conf, "-v", "run"], env=ENV, stdout=subprocess.DEVNULL, stderr=open(rlog, "wb"))
    procs.append(rp)
    t0 = time.monotonic()
    done = False
    while time.monotonic() - t0 < 30 * SLOW and not done:
        time.sleep(0.1)
        text = open(rlog, "rb").read()
        done = text.count(b"IDLE, waiting for new mail") >= 1 and len(cuts(log)) == 1 and \
            text.rfind(b"IDLE, waiting") > text.find(b"connection lost")
    rp.send_signal(signal.SIGTERM)
    try:
        rc = rp.wait(timeout=30 * SLOW)
    except subprocess.TimeoutExpired:
        rp.kill()
        rp.wait()
        rc = "hung (killed after SIGTERM)"
    text = open(rlog, "rb").read().decode(errors="replace")
    c = cuts(log)
    check(len(c) == 1 and "connection 1: literal 30 " in c[0], "4 the first connection was cut (%s)" % (c[0] if c else "no cut"))
    check("UID FETCH" in text and "connection lost" in text, "4 run logs the loss")
    check(done, "4 run reconnected and went back to IDLE")
    check(rc == 0, "4 SIGTERM: run exits 0, got %s" % rc)
    applied_exactly(direct, set(range(N + 60)), "4 run after a cut")
    m, a = marked()
    check(m == a and len(a) == N + 60, "4 all %d marked on the server (%d)" % (N + 60, len(m)))
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
print("t-imap-faults: %d failure(s)" % len(fails))
sys.exit(1 if fails else 0)
PY
