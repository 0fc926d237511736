#!/usr/bin/env bash
# `--syslog` sends the log lines to syslog (facility mail, tag dealmail) instead
# of stderr.  The test listens on /dev/log itself for the duration: that needs
# root and no syslog daemon; where that is not so it says loudly that it did
# not run (a machine's syslog daemon is not ours to take over).
set -u
D=${DEALMAIL_BIN:?}
if [ "$(id -u)" != 0 ] || [ -e /dev/log ]; then
	echo "SKIPPED - t-syslog needs root and a free /dev/log (a syslog daemon owns it here): NOT TESTED"
	exit 0
fi
T=$(mktemp -d /tmp/dealmail-syslog.XXXXXX)
exec /usr/bin/python3 - "$D" "$T" <<'PY'
import os, socket, subprocess, sys, shutil
D, T = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
s.settimeout(5)
fails = 0
try:
    env = dict(os.environ, DEALMAIL_SECRET="0123456789abcdef0123456789abcdef")
    open(T + "/dealmail.conf", "w").write("[dealmail]\naddress = ventas@example.com\n")
    dm = [D, "--syslog", "-c", T + "/dealmail.conf", "--db", T + "/dm.db"]
    subprocess.run(dm + ["init"], env=env, check=True, stdout=subprocess.DEVNULL)
    p = subprocess.run(dm + ["ingest", T + "/missing.eml"], env=env, capture_output=True, text=True)
    got = s.recv(4096).decode("utf-8", "replace")
    # <priority>: facility mail (2) * 8 + err (3) = 19
    ok = got.startswith("<19>") and "dealmail[" in got and "missing.eml" in got
    print(("ok   - " if ok else "FAIL - ") + "the error went to syslog as mail.err: %r" % got[:120])
    fails += not ok
    ok = "missing.eml" not in p.stderr
    print(("ok   - " if ok else "FAIL - ") + "and not to stderr")
    fails += not ok
finally:
    s.close()
    os.unlink("/dev/log")
    shutil.rmtree(T, ignore_errors=True)
print("t-syslog: ok" if not fails else "t-syslog: %d failed" % fails)
sys.exit(1 if fails else 0)
PY
