#!/usr/bin/env bash
# Faults (issue 6 item 4), through the CLI only:
#   1. database locked by another writer (a python sqlite3 connection holding
#      BEGIN IMMEDIATE): `ingest` (pipe and --maildir) exits 75, prints an RFC 3463
#      4.x.x line, applies nothing; after the lock is released the same delivery
#      applies exactly once.  A lock held past pipe_timeout ends the worker at
#      the deadline: 75 and a 4.x.x line, SIGALRM ignored by the MTA or not.
#   2. read-only database (file and directory not writable by the user running
#      dealmail: we drop to `nobody` with setpriv, since root ignores modes):
#      no crash, a clear message, nothing applied, and the pipe path exits 75
#      (not 73/74: Postfix's pipe(8) turns EX_CANTCREAT/EX_IOERR into 5.x.x
#      bounces, which would lose the mail).
#   3. disk full (a tmpfs of FAULT_TMPFS_KB mounted as root; skipped with a
#      notice when mount is not permitted): pipe ingest exits 75 with a 4.x.x
#      line and applies nothing; `ingest --maildir` exits 75, and after space
#      is freed a rerun gives the same export as a clean run (exactly once).
#   4. a configuration with every kind of mistake: `config check` exits 78 and
#      reports each mistake as FILE:LINE; with no configuration file anywhere,
#      `ingest FILE` exits 78 and the pipe 75, and no database is created.
#   DEALMAIL_BIN, KEEP=1
set -u
exec /usr/bin/python3 - "$@" <<'PY'
import json, os, re, shutil, signal, sqlite3, subprocess, sys, tempfile, time

BIN = os.path.abspath(os.environ.get("DEALMAIL_BIN", "build/dealmail"))
ENV = dict(os.environ, DEALMAIL_NOW="2026-11-23T15:00:00Z", DEALMAIL_SECRET="faults-secret-0123456789abcdef!!")
ENV.pop("DEALMAIL_CONFIG", None)
tmp = tempfile.mkdtemp(prefix="dealmail-faults-")
os.chmod(tmp, 0o755)
fails = []
skips = []
mounted = []


def check(ok, what):
    print("  %s %s" % ("ok  " if ok else "FAIL", what), flush=True)
    if not ok:
        fails.append(what)


CONF = """[dealmail]
address = ventas@example.com
language = es
busy_timeout_ms = 300
require_auth = no

[rep "ana@example.com"]
name = Ana
team = norte

[distribution]
mode = round-robin
team = norte
"""
conf = os.path.join(tmp, "dealmail.conf")
with open(conf, "w") as f:
    f.write(CONF)
os.chmod(conf, 0o644)


def msg(i, body="Hello, a quote please."):
    return ("From: Lead %d <lead%d@prospect.example>\nTo: ventas@example.com\nSubject: Offer %d\n"
            "Message-ID: <fault-%d@test.example>\nDate: Mon, 23 Nov 2026 08:00:00 -0600\n\n%s\n" % (i, i, i, i, body)).encode()


def dm(db, *args, stdin=None, user=None, timeout=60, config=None, preexec=None):
    cmd = [BIN, "-c", config or conf, "--db", db] + list(args)
    if user:
        cmd = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups"] + cmd
    return subprocess.run(cmd, env=ENV, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                          preexec_fn=preexec)


def export(db):
    r = dm(db, "export", "--json")
    if r.returncode:
        raise RuntimeError("export exit %d: %s" % (r.returncode, r.stderr.decode(errors="replace")))
    return json.loads(r.stdout)


def newdb(d):
    os.makedirs(d, exist_ok=True)
    db = os.path.join(d, "dealmail.db")
    r = dm(db, "init")
    assert r.returncode == 0, r.stderr
    r = dm(db, "deal", "add", "--title", "ACME", "--contact", "cliente@acme.mx", "--owner", "ana@example.com", "--stage", "demo")
    assert r.returncode == 0, r.stderr
    return db


def maildir(d, n, start=100):
    for s in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(d, s), exist_ok=True)
    for i in range(start, start + n):
        with open(os.path.join(d, "new", "%d.M%d.fault" % (1700000000 + i, i)), "wb") as f:
            f.write(msg(i))
    return d


TEMP_LINE = re.compile(rb"^4\.\d{1,3}\.\d{1,3} ", re.M)


def strip(e):
    return {k: [json.dumps({kk: vv for kk, vv in r.items() if kk not in ("at", "created_at", "id", "deal")
                            and not (kk == "message_id" and k == "outbox")}
                           if isinstance(r, dict) else r, sort_keys=True) for r in v]
            for k, v in e.items() if isinstance(v, list)}


def norm(e):
    return {k: sorted(v) for k, v in strip(e).items()}


try:
    # ---------------------------------------------------------------- 1. locked
    print("t-faults: database locked by another writer", flush=True)
    db = newdb(os.path.join(tmp, "locked"))
    before = export(db)
    holder = sqlite3.connect(db, timeout=0, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    t0 = time.monotonic()
    r = dm(db, "ingest", stdin=msg(1))
    el = time.monotonic() - t0
    check(r.returncode == 75, "pipe ingest while locked exits 75 (got %d, %.2f s)" % (r.returncode, el))
    check(bool(TEMP_LINE.search(r.stdout)), "prints a 4.x.x line on stdout (got %r)" % r.stdout[:200])
    md = maildir(os.path.join(tmp, "locked", "Maildir"), 5)
    r2 = dm(db, "ingest", "--maildir", md)
    check(r2.returncode == 75, "ingest --maildir while locked exits 75 (got %d)" % r2.returncode)
    check(len(os.listdir(os.path.join(md, "new"))) == 5, "no Maildir message acknowledged while locked")
    holder.execute("ROLLBACK")
    holder.close()
    check(norm(export(db)) == norm(before), "nothing applied while locked")
    r = dm(db, "ingest", stdin=msg(1))
    check(r.returncode == 0, "the MTA's retry succeeds (exit %d)" % r.returncode)
    r = dm(db, "ingest", "--maildir", md)
    check(r.returncode == 0, "the Maildir retry succeeds (exit %d)" % r.returncode)
    after = export(db)
    check(len(after["deals"]) == len(before["deals"]) + 6, "each message applied once after the lock (%d deals)" % len(after["deals"]))
    # a reader (not a writer) must not block ingest beyond WAL semantics
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM deals").fetchone()
    r = dm(db, "ingest", stdin=msg(50))
    check(r.returncode == 0, "a concurrent reader does not block ingest (exit %d)" % r.returncode)
    reader.execute("ROLLBACK")
    reader.close()
    # the deadline: a lock held longer than pipe_timeout (busy_timeout_ms
    # would wait 20 s) ends the worker at pipe_timeout, and the MTA gets 75 and
    # a 4.x.x line naming the deadline, even when the MTA started us with
    # SIGALRM ignored; nothing is applied and the retry applies it once
    slow = os.path.join(tmp, "slow.conf")
    with open(slow, "w") as f:
        f.write(CONF.replace("busy_timeout_ms = 300", "busy_timeout_ms = 20000\npipe_timeout = 1"))
    os.chmod(slow, 0o644)
    before = export(db)
    holder = sqlite3.connect(db, timeout=0, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    for ignore in (False, True):
        pre = (lambda: signal.signal(signal.SIGALRM, signal.SIG_IGN)) if ignore else None
        t0 = time.monotonic()
        r = dm(db, "ingest", stdin=msg(60), config=slow, preexec=pre)
        el = time.monotonic() - t0
        how = " (SIGALRM ignored by the MTA)" if ignore else ""
        check(r.returncode == 75 and el < 10, "pipe_timeout = 1 over a 20 s lock wait: exit 75 after %.1f s%s (got %d)"
              % (el, how, r.returncode))
        check(bool(TEMP_LINE.search(r.stdout)) and b"longer than 1 s" in r.stdout,
              "... with a 4.x.x line naming the deadline (got %r)" % r.stdout[:200])
    holder.execute("ROLLBACK")
    holder.close()
    check(norm(export(db)) == norm(before), "nothing applied by the timed-out worker")
    r = dm(db, "ingest", stdin=msg(60), config=slow)
    check(r.returncode == 0 and len(export(db)["deals"]) == len(before["deals"]) + 1,
          "the retry applies it once (exit %d)" % r.returncode)

    # -------------------------------------------------------------- 2. read-only
    print("t-faults: read-only database", flush=True)
    have_setpriv = shutil.which("setpriv") is not None
    if os.geteuid() != 0 or not have_setpriv:
        # not root: plain modes already bite
        user = None
    else:
        user = 65534  # nobody/nogroup
    rodir = os.path.join(tmp, "ro")
    db = newdb(rodir)
    before = export(db)
    if user is None:
        os.chmod(db, 0o444)
        os.chmod(rodir, 0o555)
    else:
        for p in os.listdir(rodir):
            os.chmod(os.path.join(rodir, p), 0o644)
        os.chmod(rodir, 0o755)
    r = dm(db, "ingest", stdin=msg(2), user=user)
    out = (r.stdout + r.stderr).decode(errors="replace")
    check(r.returncode in (73, 74, 75), "pipe ingest on a read-only database fails with a sysexits code, no crash (exit %d)" % r.returncode)
    check(r.returncode == 75, "... with 75 so that the MTA keeps the mail (got %d)" % r.returncode)
    check(bool(re.search(r"read-?only|permission|cannot (open|write)|denied|readonly", out, re.I)),
          "... and says why: %r" % out.strip()[:200])
    md = maildir(os.path.join(tmp, "ro-Maildir"), 3)
    os.chmod(os.path.join(tmp, "ro-Maildir"), 0o777)
    for s in ("cur", "new", "tmp"):
        os.chmod(os.path.join(md, s), 0o777)
    r = dm(db, "ingest", "--maildir", md, user=user)
    check(r.returncode in (73, 74, 75), "ingest --maildir on a read-only database exits 73/74/75 (got %d)" % r.returncode)
    check(len(os.listdir(os.path.join(md, "new"))) == 3, "no Maildir message acknowledged")
    os.chmod(rodir, 0o755)
    check(norm(export(db)) == norm(before), "nothing applied to the read-only database")
    r = dm(db, "export", "--json", user=user)
    check(r.returncode == 0, "export still works read-only (exit %d %s)" % (r.returncode, r.stderr.decode(errors="replace")[:150]))

    # -------------------------------------------------------------- 3. disk full
    print("t-faults: disk full", flush=True)
    mnt = os.path.join(tmp, "small")
    os.makedirs(mnt)
    kb = int(os.environ.get("FAULT_TMPFS_KB", "16384"))
    m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dk" % kb, "tmpfs", mnt],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if m.returncode != 0:
        skips.append("disk full: mount -t tmpfs not permitted here (%s)" % m.stderr.decode(errors="replace").strip())
        print("  SKIP " + skips[-1], flush=True)
    else:
        mounted.append(mnt)

        def fill():
            c = sqlite3.connect(os.path.join(mnt, "dealmail.db"), isolation_level=None)
            c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            c.close()
            fd = os.open(os.path.join(mnt, "filler"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                while True:
                    os.write(fd, b"\0" * 4096)
            except OSError:
                pass
            os.close(fd)

        db = newdb(mnt)
        before = export(db)
        fill()
        big = msg(3, "x" * 300000)
        r = dm(db, "ingest", stdin=big)
        check(r.returncode == 75, "pipe ingest on a full disk exits 75 (got %d: %s)" % (r.returncode, (r.stdout + r.stderr).decode(errors="replace")[:200]))
        check(bool(TEMP_LINE.search(r.stdout)), "prints a 4.x.x line (got %r)" % r.stdout[:200])
        os.unlink(os.path.join(mnt, "filler"))
        check(norm(export(db)) == norm(before), "nothing applied on the full disk")
        # nearly full: the database opens, the transaction cannot be written
        fill()
        os.unlink(os.path.join(mnt, "filler"))
        st = os.statvfs(mnt)
        with open(os.path.join(mnt, "filler"), "wb") as f:
            f.write(b"\0" * max(0, st.f_bavail * st.f_frsize - 160 * 1024))
        r = dm(db, "ingest", stdin=big)
        check(r.returncode == 75, "pipe ingest that cannot write its transaction exits 75 (got %d: %s)" % (r.returncode, (r.stdout + r.stderr).decode(errors="replace")[:200]))
        check(bool(TEMP_LINE.search(r.stdout)), "prints a 4.x.x line (got %r)" % r.stdout[:200])
        os.unlink(os.path.join(mnt, "filler"))
        check(norm(export(db)) == norm(before), "nothing applied on the nearly full disk")
        r = dm(db, "ingest", stdin=big)
        check(r.returncode == 0, "the retry with space applies it (exit %d)" % r.returncode)
        check(len(export(db)["deals"]) == len(before["deals"]) + 1, "applied exactly once")

        # a Maildir batch that runs out of space in the middle
        ref_db = newdb(os.path.join(tmp, "ref"))
        ref_md = maildir(os.path.join(tmp, "ref", "Maildir"), 150, 1000)
        for i in range(1000, 1150):
            with open(os.path.join(ref_md, "new", "%d.M%d.fault" % (1700000000 + i, i)), "wb") as f:
                f.write(msg(i, "y" * 20000))
        assert dm(ref_db, "ingest", "--maildir", ref_md).returncode == 0
        ref = norm(export(ref_db))
        md = os.path.join(tmp, "full-Maildir")
        shutil.copytree(ref_md, md, dirs_exist_ok=True)
        for p in os.listdir(os.path.join(md, "cur")):
            os.rename(os.path.join(md, "cur", p), os.path.join(md, "new", p.split(":")[0]))
        fill()
        os.unlink(os.path.join(mnt, "filler"))
        # leave ~1 MB: the batch needs ~3 MB
        st = os.statvfs(mnt)
        with open(os.path.join(mnt, "filler"), "wb") as f:
            f.write(b"\0" * max(0, st.f_bavail * st.f_frsize - 1024 * 1024))
        r = dm(db, "ingest", "--maildir", md)
        check(r.returncode == 75, "ingest --maildir that fills the disk exits 75 (got %d)" % r.returncode)
        left = len(os.listdir(os.path.join(md, "new")))
        check(left > 0, "the unprocessed tail stays in new/ (%d left)" % left)
        os.unlink(os.path.join(mnt, "filler"))
        r = dm(db, "ingest", "--maildir", md)
        check(r.returncode == 0, "the rerun with space completes (exit %d %s)" % (r.returncode, r.stderr.decode(errors="replace")[:200]))
        got = norm(export(db))
        # the tmpfs database also holds msg(3) and the set-up deal: compare the Maildir part only
        want_titles = sorted(d for d in ref["deals"] if "Offer 1" in d)
        got_titles = sorted(d for d in got["deals"] if "Offer 1" in d)
        check(want_titles == got_titles and len(got_titles) == 150,
              "every Maildir message applied exactly once after the disk-full stop (%d deals, want 150)" % len(got_titles))
        want_ev = sorted(e for e in ref["events"] if "fault-1" in e)
        got_ev = sorted(e for e in got["events"] if "fault-1" in e)
        check(want_ev == got_ev, "events identical to a clean run (%d vs %d)" % (len(got_ev), len(want_ev)))

    # ------------------------------------------------------------ 4. bad config
    print("t-faults: a configuration with every kind of mistake", flush=True)
    bad = os.path.join(tmp, "bad.conf")
    lines = [
        ("[dealmail]", False),
        ("address = not-an-address", True),                      # bad address
        ("language = klingon", True),                            # unknown language
        ("timezone = Mars/Olympus_Mons", True),                  # unknown zone
        ("confirm = sometimes", True),                           # bad enum
        ("require_auth = maybe", True),                          # bad boolean
        ("undo_minutes = soon", True),                           # not a number
        ("pipe_timeout = -5", True),                             # out of range
        ("no equals sign on this line", True),                   # syntax
        ("colour = blue", True),                                 # unknown key
        ("[imap]", False),
        ("url = gopher://imap.example.com/INBOX", True),         # bad scheme
        ("tls = sometimes", True),
        ("[pipeline]", False),
        ("stages = new, qualify, demo, demo, won, lost", True),   # duplicate stage
        ("active = qualify, nosuch", True),                      # unknown stage in active
        ("default = nowhere", True),                             # unknown default
        ("won = alsonowhere", True),                             # unknown win stage
        ("[stage \"ghost\"]", True),                             # stage not in the pipeline
        ("probability = 50", False),
        ("[stage \"demo\"]", False),
        ("probability = 150", True),                             # out of range
        ("stale_days = -3", True),
        ("on_enter = sequence nosuchseq; dance wildly", True),   # unknown sequence / action
        ("[sequence \"s1\"]", False),
        ("steps = 2x t1, 5d", True),                             # bad delay / missing template
        ("window = 25:00-17:00 mon-funday", True),
        ("[rep \"not an email\"]", True),                        # bad rep address
        ("name = Nobody", False),
        ("[rep \"ana@example.com\"]", False),
        ("role = emperor", True),                                # unknown role
        ("language = xx", True),
        ("[scoring]", False),
        ("reply = lots", True),
        ("[distribution]", False),
        ("mode = lottery", True),
        ("[digest]", False),
        ("time = 31:75", True),
        ("monthly_target = -100", True),
        ("[nosuchsection]", True),                               # unknown section
        ("[unterminated", True),                                 # syntax
    ]
    with open(bad, "w") as f:
        f.write("\n".join(l for l, _ in lines) + "\n")
    r = subprocess.run([BIN, "-c", bad, "config", "check"], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = (r.stdout + r.stderr).decode(errors="replace")
    check(r.returncode == 78, "config check exits 78 (got %d)" % r.returncode)
    reported = set(int(x) for x in re.findall(r"%s:(\d+):" % re.escape(bad), out))
    missing = [(i + 1, l) for i, (l, b) in enumerate(lines) if b and (i + 1) not in reported]
    check(not missing, "every mistake reported as FILE:LINE (%d of %d; missed: %s)" % (
        sum(1 for b in lines if b[1]) - len(missing), sum(1 for b in lines if b[1]),
        "; ".join("%d %r" % m for m in missing)))
    bogus = [n for n in reported if n > len(lines) or n < 1]
    check(not bogus, "no report points outside the file (%s)" % bogus)
    r2 = subprocess.run([BIN, "-c", bad, "--db", os.path.join(tmp, "x.db"), "ingest"], input=msg(9), env=ENV,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(r2.returncode in (75, 78), "ingest with the bad config exits 75 or 78, never applies (got %d)" % r2.returncode)
    r3 = subprocess.run([BIN, "-c", os.path.join(tmp, "missing.conf"), "config", "check"], env=ENV,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(r3.returncode == 78, "config check of a missing file exits 78 (got %d)" % r3.returncode)
    # template problems are reported at the config line that caused them
    tconf = os.path.join(tmp, "tmpl.conf")
    with open(tconf, "w") as f:
        f.write("[dealmail]\naddress = ventas@example.com\n[stage \"proposal\"]\non_enter = sequence f\n"
                "[sequence \"f\"]\nsteps = 2d proposal-1, 14d proposal-99\n")
    r6 = subprocess.run([BIN, "-c", tconf, "config", "check"], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(r6.returncode == 78 and ("%s:6: [sequence \"f\"]: template en/proposal-99.txt not found" % tconf).encode()
          in r6.stderr, "a sequence step's missing template is reported as FILE:LINE of its steps (got %d: %s)" % (
              r6.returncode, r6.stderr.decode(errors="replace").strip()[:200]))
    with open(tconf, "w") as f:
        f.write("[dealmail]\naddress = ventas@example.com\ntemplates = %s/no-such-folder\n" % tmp)
    r7 = subprocess.run([BIN, "-c", tconf, "config", "check"], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(r7.returncode == 78 and ("%s:3: templates:" % tconf).encode() in r7.stderr,
          "a templates folder that does not exist is reported as FILE:LINE (got %d)" % r7.returncode)
    # ... and template problems are reported with the config's other mistakes
    with open(tconf, "w") as f:
        f.write("[dealmail]\nconfirm = sometimes\ntemplates = %s/no-such-folder\n"
                "[sequence \"s\"]\nsteps = 2d nosuchtemplate\n" % tmp)
    r8 = subprocess.run([BIN, "-c", tconf, "config", "check"], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines8 = sorted(set(int(x) for x in re.findall(r"%s:(\d+):" % re.escape(tconf), r8.stderr.decode(errors="replace"))))
    check(r8.returncode == 78 and lines8 == [2, 3, 5], "a bad value, the folder and the missing template "
          "are all reported at once (lines %s)" % lines8)
    # no configuration anywhere (no -c, no DEALMAIL_CONFIG, none in the working
    # folder; /etc/dealmail is checked too, so the test is skipped where it exists)
    if os.path.exists("/etc/dealmail/dealmail.conf"):
        skips.append("no-configuration check: /etc/dealmail/dealmail.conf exists")
    else:
        nocfg = os.path.join(tmp, "noconf")
        os.mkdir(nocfg)
        ndb = os.path.join(nocfg, "n.db")
        with open(os.path.join(nocfg, "m.eml"), "wb") as f:
            f.write(msg(10))
        r4 = subprocess.run([BIN, "--db", ndb, "ingest", "m.eml"], env=ENV, cwd=nocfg,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        check(r4.returncode == 78 and b"no configuration file" in r4.stderr,
              "ingest FILE with no configuration file anywhere exits 78 and says so (got %d)" % r4.returncode)
        r5 = subprocess.run([BIN, "--db", ndb, "ingest"], input=msg(10), env=ENV, cwd=nocfg,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        check(r5.returncode == 75 and r5.stdout.startswith(b"4.3.0"),
              "... and on the MTA pipe exits 75 with a 4.3.0 line, so the mail is retried (got %d)" % r5.returncode)
        check(not os.path.exists(ndb), "... and creates no database")
finally:
    for m in mounted:
        subprocess.run(["umount", m])
    if os.environ.get("KEEP") == "1" or fails:
        print("t-faults: kept %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
for s in skips:
    print("t-faults: SKIPPED " + s)
print("t-faults: %s" % ("FAIL (%d): %s" % (len(fails), "; ".join(fails)) if fails else "ok"))
sys.exit(1 if fails else 0)
PY
