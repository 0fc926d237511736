#!/usr/bin/python3
# Big messages (SPEC §2: a message that cannot be parsed is kept in the
# quarantine, never dropped):
#   1. the default limit (`[limits] max_message_bytes`, 64 MiB) takes a Gmail
#      reply with a 25 MB attachment (Gmail's maximum: ~34 MB on the wire):
#      its command applies;
#   2. a message one byte over the limit is kept whole in the quarantine
#      (bytes == its size, the very bytes), exit 65, by every path that reads
#      it: the MTA pipe, dealmail-pipe, dealmail-pipe handing it to serve,
#      `ingest FILE`, a Maildir; a message exactly at the limit is applied;
#      `explain` names its real size;
#   3. one larger than the quarantine keeps (`max_quarantine_bytes`) keeps its
#      head, and says so, loudly: in the reason and in the log.
# The messages are generated here (a small limit for 2 and 3).
#   DEALMAIL_BIN, KEEP=1
import base64, hashlib, json, os, sqlite3, subprocess, tempfile, time

import testlib

ENV = testlib.test_env("big-secret-0123456789abcdef!!!!!")
BIN = testlib.BIN
PIPE = os.path.join(os.path.dirname(BIN), "dealmail-pipe")
tmp = tempfile.mkdtemp(prefix="dealmail-big-")
check = testlib.Checks("t-big-message")
LIMIT = 1 << 20


def config(name, limits, extra=""):
    path = os.path.join(tmp, name + ".conf")
    with open(path, "w") as f:
        f.write("[dealmail]\naddress = ventas@example.com\nlanguage = es\n%s[limits]\n%s\n"
                "[rep \"ana@example.com\"]\nname = Ana\n" % (extra, limits))
    return path


def fresh(conf, name):
    db = os.path.join(tmp, name + ".db")
    dm = lambda *a, **kw: testlib.dealmail(conf, db, *a, env=ENV, **kw)
    assert dm("init").returncode == 0
    r = dm("deal", "add", "--title", "ACME", "--contact", "cliente@acme.mx", "--owner", "ana@example.com",
           "--stage", "demo")
    assert r.returncode == 0, r.stderr
    return db, dm


def message(size, mid, command="ganado: referido"):
    """A rep's reply with an attachment, exactly `size` bytes (size 0: a 25 MB
    attachment, as Gmail sends it)."""
    head = ("From: Ana <ana@example.com>\nTo: ventas@example.com\nSubject: Re: [deal #1] ACME\n"
            "Message-ID: <%s@mail.gmail.com>\nDate: Mon, 23 Nov 2026 08:57:51 -0600\nMIME-Version: 1.0\n"
            "Content-Type: multipart/mixed; boundary=\"b0\"\n\n--b0\nContent-Type: text/plain; charset=UTF-8\n\n"
            "%s\n\nContrato adjunto.\n\n--b0\nContent-Type: application/pdf; name=\"Contrato.pdf\"\n"
            "Content-Disposition: attachment; filename=\"Contrato.pdf\"\nContent-Transfer-Encoding: base64\n\n"
            % (mid, command)).encode()
    tail = b"--b0--\n"
    if not size:
        body = base64.encodebytes(hashlib.sha256(b"pdf").digest() * (25 * 1000 * 1000 // 32))
    else:
        line = b"JVBERi0xLjcKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFIvRmlsdGVyIC9GbGF0ZURlY29kZT4+\n"
        n = size - len(head) - len(tail)
        body = (line * (n // len(line) + 1))[:n - 1] + b"\n"
    m = head + body + tail
    assert not size or len(m) == size, (len(m), size)
    return m


def quarantine(db):
    con = sqlite3.connect(db)
    rows = con.execute("SELECT bytes, length(raw), raw, reason FROM quarantine ORDER BY id").fetchall()
    con.close()
    return rows


def stage(dm):
    return json.loads(dm("export", "--json").stdout)["deals"][0]["stage"]


serve = None
try:
    print("t-big-message: 1 a Gmail reply with a 25 MB attachment, default limits", flush=True)
    conf = config("default", "")
    db, dm = fresh(conf, "gmail")
    m = message(0, "gmail-25mb")
    t = time.monotonic()
    r = dm("ingest", stdin=m)
    took = time.monotonic() - t
    check(r.returncode == 0 and stage(dm) == "won" and quarantine(db) == [],
          "a %.1f MB message: exit %d, applied (the deal is %s), nothing quarantined (%.2f s)"
          % (len(m) / 1e6, r.returncode, stage(dm), took))

    print("t-big-message: 2 one byte over max_message_bytes: kept whole", flush=True)
    conf = config("small", "max_message_bytes = %d" % LIMIT)
    over = message(LIMIT + 1, "over-by-one")
    path = os.path.join(tmp, "over.eml")
    with open(path, "wb") as f:
        f.write(over)

    def via_maildir(dm):
        md = testlib.make_maildir(os.path.join(tmp, "md"), [("1795448472.M1P1.host", over)])
        return dm("ingest", "--maildir", md)

    sconf = config("serve", "max_message_bytes = %d" % LIMIT, "socket = serve.sock\n")
    sdb, sdm = fresh(sconf, "serve")
    slog = os.path.join(tmp, "serve.log")
    serve = subprocess.Popen([BIN, "-v", "-c", sconf, "--db", sdb, "serve"], env=ENV, stderr=open(slog, "w"))
    for _ in range(500):
        if "listening on" in open(slog).read() or serve.poll() is not None:
            break
        time.sleep(0.01)
    ways = [
        ("the MTA pipe (ingest on stdin)", lambda dm: dm("ingest", stdin=over), None),
        ("dealmail-pipe", lambda dm: dm(stdin=over, prog=PIPE), None),
        ("dealmail-pipe handing it to serve", lambda dm: dm(stdin=over, prog=PIPE), (sdb, sdm)),
        ("ingest FILE", lambda dm: dm("ingest", path), None),
        ("ingest --maildir", via_maildir, None),
    ]
    for k, (name, deliver, on) in enumerate(ways):
        db, dm = on or fresh(conf, "over%d" % k)
        r = deliver(dm)
        q = quarantine(db)
        # a batch goes on past a quarantined message: exit 0
        ok = (r.returncode == (0 if "maildir" in name else 65) and len(q) == 1 and q[0][0] == len(over)
              and q[0][1] == len(over) and q[0][2] == over and stage(dm) == "demo"
              and (on is None or ": exit 65" in open(slog).read()))
        check(ok, "%s: exit %d, quarantined with bytes == its size %d (got %s), the very bytes, nothing applied"
              % (name, r.returncode, len(over), [(x[0], x[1], x[2] == over, x[3]) for x in q]))
    r = testlib.dealmail(conf, os.path.join(tmp, "over0.db"), "explain", path, env=ENV)
    check(b"message of %d bytes is over the %d-byte limit" % (len(over), LIMIT) in r.stdout,
          "explain names its size and the limit (got %r)" % r.stdout.strip()[:200])
    db, dm = fresh(conf, "at")
    r = dm("ingest", stdin=message(LIMIT, "at-the-limit"))
    check(r.returncode == 0 and stage(dm) == "won" and quarantine(db) == [],
          "a message of exactly max_message_bytes is applied (exit %d, deal %s)" % (r.returncode, stage(dm)))

    print("t-big-message: 3 larger than the quarantine keeps: its head, said loudly", flush=True)
    conf = config("cut", "max_message_bytes = %d\nmax_quarantine_bytes = %d" % (LIMIT, 2 * LIMIT))
    huge = message(3 * LIMIT, "three-times")
    with open(os.path.join(tmp, "huge.eml"), "wb") as f:
        f.write(huge)
    for k, (name, run) in enumerate((("the MTA pipe", lambda dm: dm("ingest", stdin=huge)),
                                     ("ingest FILE", lambda dm: dm("ingest", os.path.join(tmp, "huge.eml"))))):
        db, dm = fresh(conf, "cut%d" % k)
        r = run(dm)
        q = quarantine(db)
        err = r.stderr.decode(errors="replace")
        check(r.returncode == 65 and len(q) == 1 and q[0][0] == 2 * LIMIT and q[0][2] == huge[:2 * LIMIT]
              and "CUT: only the first %d of its %d bytes are kept" % (2 * LIMIT, 3 * LIMIT) in q[0][3],
              "%s: exit %d, its first %d bytes kept, the reason says it was cut (got %s)"
              % (name, r.returncode, 2 * LIMIT, [(x[0], x[3]) for x in q]))
        check("ONLY ITS FIRST %d BYTES ARE KEPT" % (2 * LIMIT) in err, "%s: the log says so (got %r)" % (name, err[-300:]))
finally:
    if serve:
        serve.terminate()
        serve.wait()
    check.cleanup(tmp)
check.finish()
