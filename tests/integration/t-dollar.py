#!/usr/bin/python3
# What a bare "$" is worth (README "The reply grammar"), through the CLI only:
#   1. a team that keeps its deals in a currency written "$" (currency = MXN)
#      gets that currency from `valor: $15,000.00`, from `deal add --value` and
#      from a CSV import; `US$`, `USD` and `$… USD` stay dollars;
#   2. a team whose currency is not written "$" (EUR), and a team with no
#      currency configured, get USD from a bare "$", as before.
#   DEALMAIL_BIN, KEEP=1
import json, os, tempfile

import testlib

ENV = testlib.test_env("dollar-secret-0123456789abcdef!!")
tmp = tempfile.mkdtemp(prefix="dealmail-dollar-")
check = testlib.Checks("t-dollar")


def team(name, currency):
    conf = os.path.join(tmp, name + ".conf")
    with open(conf, "w") as f:
        f.write("[dealmail]\naddress = ventas@example.com\nlanguage = es\nconfirm = never\n")
        if currency:
            f.write("currency = %s\n" % currency)
        f.write("\n" + testlib.TEAM_CONF)
    db = os.path.join(tmp, name + ".db")
    assert testlib.dealmail(conf, db, "init", env=ENV).returncode == 0
    return lambda *a, stdin=None: testlib.dealmail(conf, db, *a, env=ENV, stdin=stdin)


def reply(dm, n, line):
    msg = ("From: Ana Lopez <ana@example.com>\r\nTo: ventas@example.com\r\n"
           "Subject: Re: [deal #%d] hola\r\nMessage-ID: <dollar-%d-%d@example.com>\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n" % (n, n, abs(hash(line)) % 100000, line))
    r = dm("ingest", stdin=msg.encode())
    check(r.returncode == 0, "ingest %r: exit 0 (got %d)" % (line, r.returncode))


def deals(dm):
    return {d["id"]: (d["value"], d["currency"]) for d in json.loads(dm("export", "--json").stdout)["deals"]}


def add(dm, value, title="T"):
    r = dm("deal", "add", "--title", title, "--contact", "c@c.example", "--owner", "ana@example.com",
           "--value", value)
    check(r.returncode == 0, "deal add --value %r: exit 0 (got %d: %s)" % (value, r.returncode, r.stderr))
    return int(r.stdout or 0)


try:
    print("t-dollar: 1 a team in Mexican pesos", flush=True)
    dm = team("mxn", "MXN")
    ids = [add(dm, v) for v in ("12000", "$5,000", "US$ 5,000", "$5,000 USD")]
    d = deals(dm)
    check([d[i] for i in ids] == [(12000, "MXN"), (5000, "MXN"), (5000, "USD"), (5000, "USD")],
          "deal add: 12000 and $5,000 in MXN, US$ 5,000 and $5,000 USD in USD (got %s)" % [d[i] for i in ids])
    for line, want in (("valor: $15,000.00", (15000, "MXN")), ("valor: US$ 15,000", (15000, "USD")),
                       ("valor: $20,000", (20000, "MXN")), ("valor: USD 1,500 plus tax", (1500, "USD")),
                       ("valor: $15,000.00 M.N.", (15000, "MXN")), ("valor: 15 mil", (15000, "MXN"))):
        reply(dm, 1, line)
        check(deals(dm)[1] == want, "%s: %s (got %s)" % (line, want, deals(dm)[1]))
    path = os.path.join(tmp, "mxn.csv")
    with open(path, "w") as f:
        f.write('title,contact,owner,value\nA,a@a.example,ana@example.com,"$7,000"\n'
                'B,b@b.example,ana@example.com,"US$ 7,000"\n')
    r = dm("deal", "import", "--csv", path)
    check(r.returncode == 0, "CSV import: exit 0 (got %d: %s)" % (r.returncode, r.stderr))
    d = deals(dm)
    check(sorted(d.items())[-2:] == [(len(d) - 1, (7000, "MXN")), (len(d), (7000, "USD"))],
          "CSV: $7,000 in MXN, US$ 7,000 in USD (got %s)" % sorted(d.items())[-2:])

    print("t-dollar: 2 a team in euros, a team with no currency", flush=True)
    for name, cur in (("eur", "EUR"), ("none", None)):
        dm = team(name, cur)
        i = add(dm, "$5,000")
        check(deals(dm)[i] == (5000, "USD"), "%s: deal add --value $5,000 is USD (got %s)" % (name, deals(dm)[i]))
        reply(dm, i, "valor: $15,000.00")
        check(deals(dm)[i] == (15000, "USD"), "%s: valor: $15,000.00 is USD (got %s)" % (name, deals(dm)[i]))
finally:
    check.cleanup(tmp)
check.finish()
