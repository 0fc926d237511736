#!/usr/bin/env python3
"""dealmail benchmarks, each measured against its peer in the same run.

ingest: ../shared/bench/gen_corpus.py (10,000 messages, 1,000 deals) ingested by
`dealmail ingest --maildir` and by the Python reference peer pyref.py on copies of
the same corpus.  pipe: one `dealmail ingest` process per message (stdin, durable
commit) vs one pyref process per message; the same through dealmail-pipe and a
running `dealmail serve`, one at a time and 8 at once (as an MTA runs them).  send: BENCH_SMTP queued messages
delivered by `dealmail send` to a local aiosmtpd, vs Python's smtplib sending the
same messages over one connection.  imap: the corpus in a local Dovecot, `watch
--once` vs curl + `ingest --maildir`, and IDLE latency (imap_bench.sh, root).
report/digest: a database of 100,000
deals, 1,000,000 events and 200 reps (gen_report_db.py).  Prints one table.
ingest --maildir and pyref.py are each run BENCH_REPEAT times (default 3),
alternated on fresh copies, and the table gives the medians.
Env: BENCH_N (messages, default 10000), BENCH_DEALS (1000), BENCH_PIPE (200),
BENCH_REPEAT (3).
"""
import os, re, shutil, statistics, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
import testlib
SHARED = os.environ.get("DEALMAIL_SHARED", os.path.join(TOP, "..", "shared", "bench"))
BIN = os.environ.get("DEALMAIL_BIN", os.path.join(TOP, "build", "dealmail"))
N = int(os.environ.get("BENCH_N", "10000"))
DEALS = int(os.environ.get("BENCH_DEALS", "1000"))
NPIPE = int(os.environ.get("BENCH_PIPE", "200"))
REPEAT = max(1, int(os.environ.get("BENCH_REPEAT", "3")))
ENV = dict(os.environ, DEALMAIL_NOW="2026-11-23T15:00:00Z", DEALMAIL_SECRET="bench-secret-0123456789abcdef")

CONF = """[dealmail]
address = ventas@example.com
language = es
timezone = UTC
[rep "ana@example.com"]
name = Ana
[rep "luis@example.com"]
name = Luis
language = pt
[rep "bob@example.com"]
name = Bob
language = en
"""

def run(cmd, **kw):
    return subprocess.run(cmd, env=ENV, check=True, **kw)

def smtp_server(work, name):
    """aiosmtpd (tests/integration/smtp/server.py) on loopback, no fsync."""
    md = os.path.join(work, "srv-" + name)
    p, port = testlib.start_smtp(work, md, no_fsync=True, name="smtp bench")
    return p, port, md

def smtp_bench(work, conf):
    """NSMTP queued messages delivered by `dealmail send` over one connection,
    against Python's smtplib sending the same messages over one connection,
    to the same local server, in the same run."""
    import smtplib, sqlite3
    n = int(os.environ.get("BENCH_SMTP", "5000"))
    db = os.path.join(work, "smtp.db")
    srv, port, md = smtp_server(work, "dm")
    c2 = os.path.join(work, "smtp.conf")
    open(c2, "w").write(CONF + "[smtp]\nurl = smtp://127.0.0.1:%d\ntls = none\n" % port)
    dm = [BIN, "-q", "-c", c2, "--db", db]
    run(dm + ["init"], stdout=subprocess.DEVNULL)
    # n unknown senders: each becomes a lead and queues one notification
    box = testlib.make_maildir(os.path.join(work, "leads"), (
        ("%d.lead" % i,
         "From: Lead %d <lead%d@prospect.example>\nTo: ventas@example.com\nSubject: Precios %d\n"
         "Message-ID: <lead-%d@prospect.example>\n\nHola, quiero una cotizacion.\n" % (i, i, i, i))
        for i in range(n)))
    run(dm + ["ingest", "--maildir", box])
    t0 = time.perf_counter()
    proc = subprocess.Popen(dm + ["send"], env=ENV)
    _, status, ru = os.wait4(proc.pid, 0)
    t_dm = time.perf_counter() - t0
    got = len(os.listdir(os.path.join(md, "new")))
    srv.terminate(); srv.wait()
    if os.waitstatus_to_exitcode(status) != 0 or got != n:
        raise SystemExit("smtp bench: send exited %d, %d of %d arrived" % (os.waitstatus_to_exitcode(status), got, n))
    rows_db = sqlite3.connect(db).execute("SELECT envelope_from, rcpt, raw FROM outbox ORDER BY id").fetchall()
    srv, port, md = smtp_server(work, "py")
    t0 = time.perf_counter()
    s = smtplib.SMTP("127.0.0.1", port)
    for env_from, rcpt, raw in rows_db:
        s.sendmail(env_from, [rcpt], raw)
    s.quit()
    t_py = time.perf_counter() - t0
    srv.terminate(); srv.wait()
    return [("send over SMTP msg/s (%d msgs, 1 conn)" % n, n / t_dm, "smtplib, 1 connection", n / t_py, t_py / t_dm),
            ("send peak RSS MiB", ru.ru_maxrss / 1024.0, "", None, None)]

def imap_bench(maildir, deals_csv):
    """bench/imap_bench.sh: first pass over the corpus in a local Dovecot vs curl
    + ingest --maildir; arrival-to-commit latency under IDLE."""
    if os.geteuid() != 0:
        return [("IMAP benchmarks: NOT RUN (need root for Dovecot)", 0, "", None, None)]
    nidle = os.environ.get("BENCH_IDLE", "100")
    out = subprocess.run(["bash", os.path.join(HERE, "imap_bench.sh"), BIN, maildir, deals_csv, nidle],
                         env=ENV, capture_output=True, text=True, check=True).stdout.split("\n")
    fp = [l.split() for l in out if l.startswith("first_pass")][0]
    idle = [l.split() for l in out if l.startswith("idle")][0]
    n, t, kb, tp = int(fp[1]), float(fp[2]), int(fp[3]), float(fp[4])
    return [("watch --once first pass msg/s (%d msgs)" % n, n / t, "curl + ingest --maildir", n / tp, tp / t),
            ("watch --once peak RSS MiB", kb / 1024.0, "", None, None),
            ("IDLE arrival-to-commit median ms (%s msgs)" % nidle, float(idle[1]), "", None, None),
            ("IDLE arrival-to-commit worst ms", float(idle[2]), "", None, None)]

def timed(cmd, env):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("%s failed" % " ".join(cmd))
    return time.perf_counter() - t0, ru.ru_maxrss / 1024.0

def report_bench(work):
    """100,000 deals, 1,000,000 events, 200 reps (bench/gen_report_db.py):
    every digest of one morning, and `report`."""
    out = os.path.join(work, "big")
    subprocess.run([sys.executable, os.path.join(HERE, "gen_report_db.py"), BIN, out, "5"], check=True,
                   env=ENV, stderr=subprocess.DEVNULL)
    env = dict(ENV, DEALMAIL_NOW="2026-11-12T14:00:00Z")
    dm = [BIN, "-q", "-c", os.path.join(out, "dealmail.conf"), "--db", os.path.join(out, "dm.db")]
    t_print, m_print = timed(dm + ["digest", "--print"], env)
    t_send, m_send = timed(dm + ["digest", "--send"], env)
    t_rep, m_rep = timed(dm + ["report", "--format", "json"], env)
    return [("200 digests composed (--print) s", t_print, "goal", 2.0, None),
            ("200 digests queued (--send) s", t_send, "goal", 2.0, None),
            ("digest peak RSS MiB", max(m_print, m_send), "", None, None),
            ("report (100k deals, 1M events) s", t_rep, "goal", 1.0, None),
            ("report peak RSS MiB", m_rep, "", None, None)]

def pipe_bench(work, name, corpus, paths, serve, workers=1):
    """One process per message on a database of its own: `dealmail ingest`,
    or with serve dealmail-pipe handing each message to a running `dealmail
    serve` (README "The fast pipe"; fails unless serve took every message);
    `workers` deliveries at once, as an MTA runs them.  The verdict follows
    the durable commit either way.  Returns (latencies in ms, wall s)."""
    sconf = os.path.join(work, name + ".conf")
    open(sconf, "w").write(CONF.replace("[dealmail]\n", "[dealmail]\nsocket = %s.sock\n" % name, 1))
    db3 = os.path.join(work, name + ".db")
    dm3 = [BIN, "-q", "-c", sconf, "--db", db3]
    run(dm3 + ["init"], stdout=subprocess.DEVNULL)
    run(dm3 + ["deal", "import", "--csv", os.path.join(corpus, "deals.csv")], stdout=subprocess.DEVNULL)
    log = os.path.join(work, name + ".log")
    srv = subprocess.Popen([BIN, "-c", sconf, "--db", db3, "serve"], env=ENV, stderr=open(log, "w")) if serve else None
    cmd = [os.path.join(os.path.dirname(BIN), "dealmail-pipe"), "-q", "-c", sconf, "--db", db3] if serve \
        else dm3 + ["ingest"]

    def one(path):
        data = open(path, "rb").read()
        t0 = time.perf_counter()
        p = subprocess.run(cmd, input=data, env=ENV, stdout=subprocess.DEVNULL)
        if p.returncode not in (0, 65):
            raise SystemExit("%s failed with %d" % (cmd[0], p.returncode))
        return (time.perf_counter() - t0) * 1000

    try:
        for _ in range(1000 if serve else 0):
            if "listening on" in open(log).read():
                break
            time.sleep(0.01)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(workers) as ex:
            lat = list(ex.map(one, paths))
        wall = time.perf_counter() - t0
    finally:
        if srv:
            srv.terminate()
            srv.wait()
    if serve:
        took = re.search(r"after (\d+) messages", open(log).read())
        if not took or int(took.group(1)) != len(paths):
            raise SystemExit("serve did not take all %d messages: %s" % (len(paths), open(log).read()[-300:]))
    return lat, wall


def main():
    rows = []
    work = tempfile.mkdtemp(prefix="dealmail-bench.")
    try:
        corpus = os.path.join(work, "corpus")
        run([sys.executable, os.path.join(SHARED, "gen_corpus.py"), corpus, str(N), str(DEALS), "7"],
            stdout=subprocess.DEVNULL)
        conf = os.path.join(work, "dealmail.conf")
        open(conf, "w").write(CONF)
        db = os.path.join(work, "dm.db")
        dm = [BIN, "-q", "-c", conf, "--db", db]
        run(dm + ["init"], stdout=subprocess.DEVNULL)
        run(dm + ["deal", "import", "--csv", os.path.join(corpus, "deals.csv")], stdout=subprocess.DEVNULL)
        # BENCH_REPEAT runs of each, alternated, on fresh copies of the corpus
        # (and dealmail on a fresh copy of the imported database): the table
        # gives the medians, and each run's figures are printed as they come
        # (one run each of two programs is two samples of a noisy machine)
        base = os.path.join(work, "dm-base.db")
        shutil.copy(db, base)
        t_dms, t_pys, peaks = [], [], []
        md1 = os.path.join(work, "md-dealmail")
        md2 = os.path.join(work, "md-pyref")
        for rep in range(REPEAT):
            for d in (md1, md2):
                shutil.rmtree(d, ignore_errors=True)
                shutil.copytree(os.path.join(corpus, "maildir"), d)
            for f in os.listdir(work):
                if f.startswith(("dm.db", "py.db")):
                    os.unlink(os.path.join(work, f))
            shutil.copy(base, db)
            # the two fresh copies (~110 MB) are written back before either run
            # is timed, not during the first one
            os.sync()

            t0 = time.perf_counter()
            proc = subprocess.Popen(dm + ["ingest", "--maildir", md1], env=ENV)
            _, status, ru = os.wait4(proc.pid, 0)
            t_dm = time.perf_counter() - t0
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode != 0:
                raise SystemExit("ingest --maildir failed with %d" % proc.returncode)
            peaks.append(ru.ru_maxrss)

            os.sync()
            t0 = time.perf_counter()
            run([sys.executable, os.path.join(SHARED, "pyref.py"), os.path.join(work, "py.db"),
                 os.path.join(corpus, "deals.csv"), md2], stderr=subprocess.DEVNULL)
            t_py = time.perf_counter() - t0
            t_dms.append(t_dm)
            t_pys.append(t_py)
            print("ingest --maildir run %d of %d: dealmail %.3f s, pyref.py %.3f s (%.1fx)"
                  % (rep + 1, REPEAT, t_dm, t_py, t_py / t_dm), file=sys.stderr, flush=True)
        t_dm, t_py = statistics.median(t_dms), statistics.median(t_pys)
        peak_dm = max(peaks)
        rows.append(("ingest --maildir msg/s (%d msgs)" % N, N / t_dm, "pyref.py", N / t_py, t_py / t_dm))
        rows.append(("ingest --maildir peak RSS MiB", peak_dm / 1024.0, "", None, None))

        # pipe path: one process per message, including the durable commit
        files = sorted(os.listdir(os.path.join(md1, "cur")))[:NPIPE]
        db2 = os.path.join(work, "pipe.db")
        dm2 = [BIN, "-q", "-c", conf, "--db", db2]
        run(dm2 + ["init"], stdout=subprocess.DEVNULL)
        run(dm2 + ["deal", "import", "--csv", os.path.join(corpus, "deals.csv")], stdout=subprocess.DEVNULL)
        lat = []
        for f in files:
            data = open(os.path.join(md1, "cur", f), "rb").read()
            t0 = time.perf_counter()
            p = subprocess.run(dm2 + ["ingest"], input=data, env=ENV, stdout=subprocess.DEVNULL)
            lat.append((time.perf_counter() - t0) * 1000)
            if p.returncode not in (0, 65):
                raise SystemExit("pipe ingest failed with %d" % p.returncode)
        # the same messages through dealmail-pipe to a running `dealmail serve`
        paths = [os.path.join(md1, "cur", f) for f in files]
        lat_s, _ = pipe_bench(work, "serve1", corpus, paths, True)
        lat_p8, wall_p8 = pipe_bench(work, "plain8", corpus, paths, False, 8)
        lat_s8, wall_s8 = pipe_bench(work, "serve8", corpus, paths, True, 8)
        # peer: one pyref process per message on a 1-message Maildir
        platency = []
        one = os.path.join(work, "one")
        for f in files[: min(20, len(files))]:
            shutil.rmtree(one, ignore_errors=True)
            testlib.make_maildir(one, ())
            shutil.copy(os.path.join(md1, "cur", f), os.path.join(one, "new", f))
            t0 = time.perf_counter()
            run([sys.executable, os.path.join(SHARED, "pyref.py"), os.path.join(work, "py1.db"),
                 os.path.join(corpus, "deals.csv"), one, "--sync", "full"], stderr=subprocess.DEVNULL)
            platency.append((time.perf_counter() - t0) * 1000)
        med, pmed = statistics.median(lat), statistics.median(platency)
        rows.append(("pipe ingest median ms (%d msgs)" % len(lat), med, "pyref.py per message", pmed, pmed / med))
        rows.append(("pipe ingest p99 ms", sorted(lat)[int(len(lat) * 0.99) - 1], "", None, None))
        ms = statistics.median(lat_s)
        rows.append(("pipe via serve median ms (%d msgs)" % len(lat_s), ms, "pyref.py per message", pmed, pmed / ms))
        rows.append(("pipe via serve p99 ms", sorted(lat_s)[int(len(lat_s) * 0.99) - 1], "", None, None))
        p99 = lambda v: sorted(v)[int(len(v) * 0.99) - 1]
        rows.append(("pipe via serve, 8 at once, msg/s", len(paths) / wall_s8, "ingest, 8 at once",
                     len(paths) / wall_p8, wall_p8 / wall_s8))
        rows.append(("pipe via serve, 8 at once, p99 ms", p99(lat_s8), "ingest, 8 at once", p99(lat_p8),
                     p99(lat_p8) / p99(lat_s8)))
        rows += imap_bench(os.path.join(corpus, "maildir"), os.path.join(corpus, "deals.csv"))
        rows += smtp_bench(work, conf)
        rows += report_bench(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%-38s %12s  %-22s %12s %8s" % ("figure", "value", "peer", "peer value", "ratio"))
    for name, v, peer, pv, ratio in rows:
        print("%-38s %12.1f  %-22s %12s %8s" % (name, v, peer, "" if pv is None else "%.1f" % pv,
                                                "" if ratio is None else "%.1fx" % ratio))

if __name__ == "__main__":
    main()
