"""Helpers shared by the Python parts of the integration tests and bench/bench.py.

Standard library only; runs under /usr/bin/python3.  The tests run their
Python from bash heredocs (`python3 - <<'PY'`), so they find this module
through the environment:

    here=$(cd "$(dirname "$0")" && pwd)
    export TESTLIB=$here
    ...
    sys.path.insert(0, os.environ["TESTLIB"])
    import testlib
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))

# aiosmtpd on 127.0.0.1 that records every message it accepts (see there)
SMTP_SERVER = os.path.join(HERE, "smtp", "server.py")

# The [pipeline] section, the three reps of team "norte" (ana and luis are
# reps, maria their manager) and round-robin distribution over that team.
# A test writes its own [dealmail] (and [imap], [smtp]) sections, ending in a
# blank line, and appends this text.
TEAM_CONF = """[pipeline]
require_lost_reason = yes

[rep "ana@example.com"]
name = Ana Lopez
role = rep
team = norte
language = es

[rep "luis@example.com"]
name = Luis Souza
role = rep
team = norte
language = pt

[rep "maria@example.com"]
name = Maria Garcia
role = manager
team = norte
language = es

[distribution]
mode = round-robin
team = norte
"""

# Three deals of that team, as `deal add` arguments: ACME (ana, demo), Globex
# (luis, qualify), Initech (ana, demo); ids 1, 2 and 3 in a fresh database.
TEAM_DEALS = [
    ["--title", "ACME renewal", "--contact", "cliente@acme.mx", "--owner", "ana@example.com",
     "--stage", "demo", "--value", "12000"],
    ["--title", "Globex rollout", "--contact", "compras@globex.com.br", "--owner",
     "luis@example.com", "--stage", "qualify", "--value", "8000"],
    ["--title", "Initech pilot", "--contact", "jane@initech.com", "--owner", "ana@example.com",
     "--stage", "demo", "--value", "5000"],
]


# The binary under test (make sets DEALMAIL_BIN; by hand, from the top folder).
BIN = os.path.abspath(os.environ.get("DEALMAIL_BIN", "build/dealmail"))

# The tests' fixed clock.
NOW = "2026-11-23T15:00:00Z"


def test_env(secret, now=NOW, **more):
    """A test's environment: its DEALMAIL_SECRET, the fixed clock (now=None:
    the real one), `more` variables, and no DEALMAIL_CONFIG from outside."""
    env = dict(os.environ, DEALMAIL_SECRET=secret, **more)
    if now:
        env["DEALMAIL_NOW"] = now
    env.pop("DEALMAIL_CONFIG", None)
    return env


def dealmail(conf, db, *args, env, stdin=None, cwd=None, prog=None):
    """Run `prog` (the binary under test) quietly on conf and db; its
    CompletedProcess, output captured."""
    return subprocess.run([prog or BIN, "-q", "-c", conf, "--db", db] + list(args), input=stdin,
                          capture_output=True, env=env, cwd=cwd)


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_smtp(workdir, maildir, no_fsync=False, name="testlib"):
    """Start tests/integration/smtp/server.py on a free port of 127.0.0.1,
    storing what it accepts in maildir (log.jsonl and new/), and wait until it
    accepts connections (it writes workdir/server.pid then; its output is
    appended to workdir/server.log).  no_fsync: pass --no-fsync (benchmarks).

    Returns (Popen, port); the caller terminates the process.  When the server
    does not come up within 10 s it is killed and SystemExit is raised with
    "NAME: the SMTP server did not start: " and the tail of its log."""
    port = free_port()
    pidfile = os.path.join(workdir, "server.pid")
    logfile = os.path.join(workdir, "server.log")
    if os.path.exists(pidfile):     # left by an earlier server of this workdir
        os.remove(pidfile)
    args = ["/usr/bin/python3", SMTP_SERVER, "--port", str(port), "--maildir", maildir, "--pidfile", pidfile]
    if no_fsync:
        args.append("--no-fsync")
    with open(logfile, "ab") as log:
        p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(100):
        if os.path.exists(pidfile) and os.path.getsize(pidfile):
            return p, port
        if p.poll() is not None:
            break
        time.sleep(0.1)
    if p.poll() is None:
        p.kill()
    p.wait()
    with open(logfile, errors="replace") as log:
        tail = log.read()[-500:]
    raise SystemExit("%s: the SMTP server did not start: %s" % (name, tail))


class Checks:
    """The checks of one test script: each prints an "ok"/"FAIL" line as it
    goes; cleanup() removes the work directory (kept with KEEP=1), finish()
    prints the verdict and exits 0 or 1.  An exception in the test still
    ends it with its traceback (cleanup belongs in a `finally`, finish after):

        check = testlib.Checks("t-name")
        try:
            check(ok, "what a user would see")
        finally:
            check.cleanup(tmp)
        check.finish()
    """

    def __init__(self, name):
        self.name = name
        self.fails = []

    def __call__(self, ok, what):
        print("  %s %s" % ("ok  " if ok else "FAIL", what), flush=True)
        if not ok:
            self.fails.append(what)
        return ok

    def cleanup(self, tmp):
        if os.environ.get("KEEP"):
            print("%s: kept %s" % (self.name, tmp))
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    def finish(self):
        print("%s: %s" % (self.name, "ok" if not self.fails else "%d failed" % len(self.fails)))
        sys.exit(1 if self.fails else 0)


def make_maildir(path, messages):
    """Create the Maildir path (path/cur, new and tmp; the parents as needed)
    and write messages, (file name, bytes or str) pairs, into path/new."""
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub))
    for name, data in messages:
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(path, "new", name), "wb") as f:
            f.write(data)
    return path


def delivered(maildir, seen):
    """The messages in the Maildir `maildir` (new/ and cur/, by name) whose
    names are not in the set `seen` (added to it), parsed: what a maildir:
    transport delivered since the last call."""
    import email
    import email.policy
    got = []
    for sub in ("new", "cur"):
        d = os.path.join(maildir, sub)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if name in seen:
                continue
            seen.add(name)
            with open(os.path.join(d, name), "rb") as f:
                got.append(email.message_from_binary_file(f, policy=email.policy.default))
    return got


def export_normal(data, drop):
    """`export --json` (parsed) in a form two runs can be compared by: per
    table its rows as sorted JSON strings, without the keys in drop (times,
    ids) nor the outbox's Message-IDs (random for outgoing mail); plus
    "deal_ids", the (id, contact, owner) of every deal, since deal ids follow
    the order the messages arrived in and must not change."""
    out = {}
    for table, rows in data.items():
        if not isinstance(rows, list):
            out[table] = rows
            continue
        norm = []
        for row in rows:
            if isinstance(row, dict):
                row = {k: v for k, v in row.items() if k not in drop}
                if table == "outbox":
                    row.pop("message_id", None)
            norm.append(json.dumps(row, sort_keys=True))
        out[table] = sorted(norm)
    out["deal_ids"] = sorted(json.dumps([d.get("id"), d.get("contact"), d.get("owner")])
                             for d in data.get("deals", []))
    return out


def export_diff(a, b, label, fail):
    """Compare two export_normal() results, a the reference; call fail(text)
    for each table that differs (with up to 5 rows extra in b and missing
    from it).  True when they are the same."""
    same = True
    for t in sorted(set(a) | set(b)):
        x, y = a.get(t), b.get(t)
        if x == y:
            continue
        same = False
        if isinstance(x, list) and isinstance(y, list):
            cx, cy = Counter(x), Counter(y)
            fail("%s: %s differs: %d vs %d rows; extra after the crashes: %s; missing: %s"
                 % (label, t, len(x), len(y), list((cy - cx).elements())[:5], list((cx - cy).elements())[:5]))
        else:
            fail("%s: %s differs: %r vs %r" % (label, t, x, y))
    return same
