#!/usr/bin/python3
# `dealmail serve` and the MTA pipe's hand-off to it (README "The fast pipe"),
# checked through exit codes, `export --json` and serve's own log:
#   1. serve listens on [dealmail] socket, mode 0600;
#   2. the same messages (a rep's note, a new lead, a refused command, mail
#      that is not mail, an oversized one, a duplicate) through dealmail-pipe
#      and `dealmail ingest` with serve running, and through `dealmail ingest`
#      into another database (serve declines that client: another database):
#      the same exit codes, the same export; serve took every message of its
#      database and none of the other;
#   3. another DEALMAIL_SECRET: declined, the client does the work itself;
#   4. the configuration edited while serve runs: the next message is
#      processed with the new one;
#   5. serve stopped (SIGSTOP) and a client with pipe_timeout = 1: exit 75
#      within its deadline naming it; serve, continued, leaves that message
#      alone, and the MTA's retry applies it once;
#   6. SIGHUP reloads, and serve goes on; a second serve on the same socket
#      refuses (75); SIGKILL leaves a dead socket: clients process their
#      messages themselves, and a new serve replaces it; SIGTERM ends serve
#      with 0 and removes the socket;
#   7. no stdin at all (descriptor 0 closed) with serve running: dealmail-pipe
#      and `dealmail ingest` exit 75 at once with a 4.3.0 line (the client's
#      socket would be descriptor 0, and serve would wait for it to send a
#      message until the deadline); serve takes nothing;
#   8. dealmail-pipe copied alone to a folder without dealmail, no serve: exit
#      75 (the MTA retries), naming the program it could not run; the message
#      is not applied.
#   9. a client past its deadline while its MTA is still writing (it stalls,
#      then closes the pipe): exit 75, and serve, which reads the head of the
#      message only, commits nothing of it; the MTA's retry applies all of it,
#      once.
#   DEALMAIL_BIN, KEEP=1
import json, os, shutil, signal, stat, subprocess, tempfile, time

import testlib

BIN = testlib.BIN
PIPE = os.path.join(os.path.dirname(BIN), "dealmail-pipe")
ENV = testlib.test_env("serve-secret-0123456789abcdef!!!!")
tmp = tempfile.mkdtemp(prefix="dealmail-serve-")
check = testlib.Checks("t-serve")
DROP = {"at", "created_at", "updated_at", "sent_at", "id", "due_at"}

conf = os.path.join(tmp, "dealmail.conf")
sock = os.path.join(tmp, "serve.sock")
CONF = ("[dealmail]\naddress = ventas@example.com\nlanguage = es\nsocket = serve.sock  ; beside this file\n"
        "[limits]\nmax_message_bytes = 20000\n[rep \"ana@example.com\"]\nname = Ana\n")
with open(conf, "w") as f:
    f.write(CONF)
db = os.path.join(tmp, "dm.db")
ref = os.path.join(tmp, "ref.db")
log = os.path.join(tmp, "serve.log")


def dm(*args, database=db, env=ENV, data=None, prog=None):
    return testlib.dealmail(conf, database, *args, env=env, stdin=data, prog=prog)


def export(database=db):
    r = dm("export", "--json", database=database)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def listening():
    return open(log).read().count("serve: listening on") if os.path.exists(log) else 0


def start_serve():
    n = listening()
    p = subprocess.Popen([BIN, "-v", "-c", conf, "--db", db, "serve"], env=ENV, stderr=open(log, "a"))
    for _ in range(1000):
        if listening() > n or p.poll() is not None:
            break
        time.sleep(0.01)
    return p


def served():
    return open(log).read().count(": exit ")


def declined():
    return open(log).read().count(": declined")


def msg(i, frm, subject, body):
    return ("From: %s\nTo: ventas@example.com\nSubject: %s\nMessage-ID: <serve-%d@example.net>\n"
            "Date: Mon, 23 Nov 2026 09:%02d:00 -0600\n\n%s\n" % (frm, subject, i, i, body)).encode()


serve = None
try:
    for d in (db, ref):
        assert dm("init", database=d).returncode == 0
        r = dm("deal", "add", "--title", "ACME", "--contact", "cliente@acme.mx", "--owner", "ana@example.com",
               "--stage", "demo", database=d)
        assert r.returncode == 0, r.stderr

    print("t-serve: 1 serve listens", flush=True)
    serve = start_serve()
    mode = stat.S_IMODE(os.stat(sock).st_mode) if os.path.exists(sock) else None
    check(mode == 0o600, "the socket is there with mode 0600 (got %s)" % (oct(mode) if mode is not None else None))

    print("t-serve: 2 the same messages with and without serve", flush=True)
    mail = [
        msg(1, "Ana <ana@example.com>", "Re: [#1] ACME", "nota: llamada con el cliente"),
        msg(2, "Lead <lead@prospect.example>", "Precios", "Hola, una cotizacion por favor."),
        msg(3, "Ana <ana@example.com>", "Re: [#1] ACME", "etapa: ganadisimo"),
        b"\x00\x01 this is not a mail message\n",
        msg(4, "Lead 2 <lead2@prospect.example>", "Adjunto", "x" * 30000),
        msg(1, "Ana <ana@example.com>", "Re: [#1] ACME", "nota: llamada con el cliente"),
    ]
    got, want = [], []
    for i, m in enumerate(mail):
        # dealmail-pipe, `dealmail ingest`, and dealmail-pipe called like dealmail
        r = [lambda: dm(data=m, prog=PIPE), lambda: dm("ingest", data=m), lambda: dm("ingest", data=m, prog=PIPE)][i % 3]()
        got.append(r.returncode)
        want.append(dm("ingest", data=m, database=ref).returncode)
    check(got == want and got.count(65) == 2 and got.count(0) == 4,
          "exit codes through serve %s, processed by the clients %s (0 and 65 for the two that are kept)"
          % (got, want))
    check(served() == len(mail) and declined() == len(mail),
          "serve took the %d messages of its database and declined the %d of the other (log: %d, %d)"
          % (len(mail), len(mail), served(), declined()))
    a, b = export(ref), export(db)
    same = testlib.export_diff(testlib.export_normal(a, DROP), testlib.export_normal(b, DROP), "serve",
                               lambda t: check(False, t))
    check(same, "the database serve wrote is the one the pipe writes (%d deals, %d events, %d outbox, %d quarantined)"
          % (len(b["deals"]), len(b["events"]), len(b["outbox"]), len(b["quarantine"])))

    print("t-serve: 3 another secret", flush=True)
    before = served()
    other = dict(ENV, DEALMAIL_SECRET="another-secret-0123456789abcdef!")
    r = dm(data=msg(5, "Ana <ana@example.com>", "Re: [#1] ACME", "nota: otra llave"), prog=PIPE, env=other)
    notes = [e["to"] for e in export()["events"] if e["type"] == "note"]
    check(r.returncode == 0 and served() == before and "otra llave" in notes,
          "declined by serve and applied by the client itself (exit %d, served %d -> %d)"
          % (r.returncode, before, served()))

    print("t-serve: 4 the configuration changes", flush=True)
    with open(conf, "a") as f:
        f.write("[rep \"carla@example.com\"]\nname = Carla\nrole = manager\n")
    before = served()
    r = dm(data=msg(6, "Carla <carla@example.com>", "Re: [#1] ACME", "etapa: propuesta"), prog=PIPE)
    deal1 = [d for d in export()["deals"] if d["id"] == 1][0]
    check(r.returncode == 0 and served() == before + 1 and deal1["stage"] == "proposal",
          "serve reloaded it: the new manager moved deal 1 (exit %d, stage %s)" % (r.returncode, deal1["stage"]))

    print("t-serve: 5 a client's deadline", flush=True)
    text = open(conf).read().replace("language = es\n", "language = es\npipe_timeout = 1\n")
    with open(conf, "w") as f:
        f.write(text)
    # serve loads the edited file before it stops: one message through it first
    assert dm(data=msg(7, "Ana <ana@example.com>", "Re: [#1] ACME", "nota: antes"), prog=PIPE).returncode == 0
    before = served()
    late = msg(8, "Ana <ana@example.com>", "Re: [#1] ACME", "nota: tarde")
    serve.send_signal(signal.SIGSTOP)
    t0 = time.monotonic()
    r = dm(data=late, prog=PIPE)
    took = time.monotonic() - t0
    serve.send_signal(signal.SIGCONT)
    check(r.returncode == 75 and b"within 1 s" in r.stdout and took < 5,
          "exit 75 after its 1 s deadline, saying so (exit %d in %.1f s: %r)" % (r.returncode, took, r.stdout))
    assert dm(data=msg(9, "Ana <ana@example.com>", "Re: [#1] ACME", "nota: despues"), prog=PIPE).returncode == 0
    notes = [e["to"] for e in export()["events"] if e["type"] == "note"]
    check("tarde" not in notes and served() == before + 1,
          "serve, continued, left the abandoned message alone (served %d -> %d)" % (before, served()))
    r = dm(data=late, prog=PIPE)
    notes = [e["to"] for e in export()["events"] if e["type"] == "note"]
    check(r.returncode == 0 and notes.count("tarde") == 1, "the MTA's retry applies it once (exit %d)" % r.returncode)

    print("t-serve: 6 SIGHUP; one serve per socket; kill and restart", flush=True)
    before = served()
    serve.send_signal(signal.SIGHUP)
    for _ in range(300):
        if "SIGHUP: reloading" in open(log).read():
            break
        time.sleep(0.01)
    r = dm(data=msg(12, "Ana <ana@example.com>", "Re: [#1] ACME", "nota: tras SIGHUP"), prog=PIPE)
    check(serve.poll() is None and r.returncode == 0 and served() == before + 1
          and "SIGHUP: reloading" in open(log).read(),
          "SIGHUP reloads and serve goes on (exit %d, served %d -> %d)" % (r.returncode, before, served()))
    r = subprocess.run([BIN, "-c", conf, "--db", db, "serve"], env=ENV, capture_output=True, timeout=10)
    check(r.returncode == 75 and b"another dealmail serve" in r.stderr,
          "a second serve exits 75 and says why (%d: %r)" % (r.returncode, r.stderr[-200:]))
    serve.kill()
    serve.wait()
    before = served()
    r = dm(data=msg(10, "Ana <ana@example.com>", "Re: [#1] ACME", "nota: sin serve"), prog=PIPE)
    notes = [e["to"] for e in export()["events"] if e["type"] == "note"]
    check(os.path.exists(sock) and r.returncode == 0 and "sin serve" in notes and served() == before,
          "with serve killed (its socket left behind) the client processes the message itself (exit %d)"
          % r.returncode)
    serve = start_serve()
    r = dm(data=msg(11, "Ana <ana@example.com>", "Re: [#1] ACME", "nota: serve otra vez"), prog=PIPE)
    check(r.returncode == 0 and served() == before + 1, "a new serve replaced the dead socket and took the next one")
    serve.send_signal(signal.SIGTERM)
    rc = serve.wait(timeout=10)
    serve = None
    check(rc == 0 and not os.path.exists(sock), "SIGTERM: exit %d, socket removed (%s)" % (rc, os.path.exists(sock)))

    print("t-serve: 7 no stdin", flush=True)
    serve = start_serve()
    before = served()
    for prog, args in ((PIPE, []), (BIN, ["ingest"])):
        t0 = time.monotonic()
        r = subprocess.run([prog, "-q", "-c", conf, "--db", db] + args, env=ENV, capture_output=True,
                           preexec_fn=lambda: os.close(0), timeout=30)
        took = time.monotonic() - t0
        check(r.returncode == 75 and r.stdout.startswith(b"4.3.0 ") and took < 5 and served() == before,
              "%s with stdin closed: exit %d in %.1f s, %r, serve took %d"
              % (os.path.basename(prog), r.returncode, took, r.stdout, served() - before))
    print("t-serve: 9 the MTA still writing at the client's deadline", flush=True)
    head = ("From: Ana <ana@example.com>\nTo: ventas@example.com\nSubject: Re: [#1] ACME\n"
            "Message-ID: <serve-14@example.net>\nDate: Mon, 23 Nov 2026 09:14:00 -0600\n\nnota: cabeza\n").encode()
    rest = b"valor: 7300 EUR\n"
    before = served()
    # another client's slow MTA keeps serve busy 0.5 s: serve takes this
    # message (and starts its own read deadline) after the client started
    a = subprocess.Popen([PIPE, "-q", "-c", conf, "--db", db], env=ENV, stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL)
    a.stdin.write(msg(15, "Ana <ana@example.com>", "Re: [#1] ACME", "nota: lenta")[:60])
    a.stdin.flush()
    time.sleep(0.1)
    p = subprocess.Popen([PIPE, "-q", "-c", conf, "--db", db], env=ENV, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    p.stdin.write(head)
    p.stdin.flush()
    time.sleep(0.4)
    a.stdin.write(msg(15, "Ana <ana@example.com>", "Re: [#1] ACME", "nota: lenta")[60:])
    a.stdin.close()
    a.wait(timeout=10)
    time.sleep(0.8)          # this client's deadline (pipe_timeout = 1) passes
    p.stdin.close()          # ... and its MTA closes the pipe: serve reads an end
    out = p.stdout.read()
    rc = p.wait(timeout=10)
    for _ in range(500):     # serve's verdict on what it read
        if served() > before + 1:
            break
        time.sleep(0.01)
    ex = export()
    check(rc == 75 and out.startswith(b"4.3.0 "), "the client answered 75 (%d: %r)" % (rc, out))
    check("cabeza" not in [e["to"] for e in ex["events"] if e["type"] == "note"],
          "serve committed nothing of the message's head")
    r = dm(data=head + rest, prog=PIPE)
    ex = export()
    check(r.returncode == 0 and [e["to"] for e in ex["events"] if e["type"] == "note"].count("cabeza") == 1
          and ex["deals"][0]["value"] == 7300, "the MTA's retry applies all of it, once (exit %d, value %s)"
          % (r.returncode, ex["deals"][0]["value"]))
    serve.send_signal(signal.SIGTERM)
    serve.wait(timeout=10)
    serve = None

    print("t-serve: 8 dealmail-pipe without dealmail beside it", flush=True)
    alone = os.path.join(tmp, "alone")
    os.mkdir(alone)
    shutil.copy(PIPE, alone)
    m = msg(13, "Ana <ana@example.com>", "Re: [#1] ACME", "nota: sin dealmail")
    r = dm(data=m, prog=os.path.join(alone, "dealmail-pipe"))
    want = ("4.3.0 dealmail-pipe: cannot run %s/dealmail: no such file; the message will be retried\n"
            % os.path.realpath(alone)).encode()
    notes = [e["to"] for e in export()["events"] if e["type"] == "note"]
    check(r.returncode == 75 and r.stdout == want and "sin dealmail" not in notes,
          "exit 75 with the reason for the MTA, nothing applied (%d: %r)" % (r.returncode, r.stdout))
finally:
    if serve:
        serve.kill()
        serve.wait()
    check.cleanup(tmp)
check.finish()
