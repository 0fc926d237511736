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
import os
import socket
import subprocess
import time

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
