#!/usr/bin/python3
# `deal import --csv` with what teams actually export from their spreadsheets
# (SPEC §2), checked through `export --json` and exit codes:
#   1. RFC 4180: header in any order, an ignored `id` column, quoted fields with
#      commas, doubled quotes and line breaks; deals numbered in file order;
#   2. Excel in a Spanish locale: `;` between fields, Windows-1252 text, a
#      contact written "Name <address>", a row of empty cells, CRLF;
#   3. tab-separated; Excel's "Unicode Text" export (UTF-16LE with a byte
#      order mark, tabs, CRLF), and UTF-16BE;
#   4. bad rows: every one reported as FILE:LINE, exit 65, nothing imported —
#      including a quoted field that is never closed (it swallowed the rest of
#      the file as one title);
#   5. `deal add` / `deal show` argument errors exit 64; a title that is not
#      UTF-8 (a Latin-1 terminal) is taken as Windows-1252, and `export --json`
#      stays valid JSON whatever bytes a title holds.
#   DEALMAIL_BIN, KEEP=1
import json, os, subprocess, tempfile

import testlib

ENV = testlib.test_env("csv-secret-0123456789abcdef!!!!!")
tmp = tempfile.mkdtemp(prefix="dealmail-csv-")
check = testlib.Checks("t-csv")

conf = os.path.join(tmp, "dealmail.conf")
with open(conf, "w") as f:
    f.write("[dealmail]\naddress = ventas@example.com\nlanguage = es\n"
            "[rep \"ana@example.com\"]\nname = Ana\n[rep \"luis@example.com\"]\nname = Luis\n")


def run(name, data):
    db = os.path.join(tmp, name + ".db")
    assert testlib.dealmail(conf, db, "init", env=ENV).returncode == 0
    path = os.path.join(tmp, name + ".csv")
    with open(path, "wb") as f:
        f.write(data)
    r = testlib.dealmail(conf, db, "deal", "import", "--csv", path, env=ENV)
    ex = json.loads(testlib.dealmail(conf, db, "export", "--json", env=ENV).stdout)
    return r, ex, path


try:
    print("t-csv: 1 RFC 4180", flush=True)
    r, ex, _ = run("rfc", b'id,value,title,contact,owner,stage,close_date\n'
                   b'77,12000,"ACME, renewal",cliente@acme.mx,ana@example.com,demo,2026-12-15\n'
                   b'78,,"Globex ""big"" deal\nphase 2",compras@globex.com.br,luis@example.com,propuesta,15/01/2027\n')
    check(r.returncode == 0, "imported (exit %d: %s)" % (r.returncode, r.stderr.decode(errors="replace").strip()))
    d = ex["deals"]
    check([x["id"] for x in d] == [1, 2], "numbered 1, 2 in file order, the id column ignored (got %s)" % [x["id"] for x in d])
    check(d and d[0]["title"] == "ACME, renewal" and d[0]["value"] == 12000 and d[0]["close_date"] == "2026-12-15",
          "a quoted comma stays in the title; value and date read")
    check(len(d) > 1 and d[1]["title"] == 'Globex "big" deal phase 2' and d[1]["stage"] == "proposal"
          and d[1]["close_date"] == "2027-01-15",
          "doubled quotes, a line break (a title is one line: a space), a stage by its Spanish name")

    print("t-csv: 2 Excel in a Spanish locale", flush=True)
    r, ex, _ = run("excel", b'title;contact;owner;stage;value;close_date\r\n'
                   + "Renovación ACME;Juan Pérez <Juan@Acme.mx>;ana@example.com;propuesta;12.000,50;15/12/2026\r\n"
                     ";;;;;\r\n".encode("cp1252"))
    check(r.returncode == 0, "imported (exit %d: %s)" % (r.returncode, r.stderr.decode(errors="replace").strip()))
    d = ex["deals"]
    check(len(d) == 1, "one deal: the row of empty cells is skipped (got %d)" % len(d))
    check(d and d[0]["title"] == "Renovación ACME", "the Windows-1252 title is UTF-8 in the export (got %r)" % (d and d[0]["title"]))
    check(d and d[0]["contact"] == "juan@acme.mx" and d[0]["value"] == 12000.5,
          "the contact is the address of \"Name <address>\", the amount read the Spanish way")
    c = ex["contacts"]
    check(c and c[0]["name"] == "Juan Pérez", "the contact's name is kept (got %r)" % (c and c[0]["name"]))

    print("t-csv: 3 tab-separated", flush=True)
    r, ex, _ = run("tab", b"title\tcontact\tvalue\nA\ta@a.example\t100\n")
    check(r.returncode == 0 and len(ex["deals"]) == 1 and ex["deals"][0]["value"] == 100, "imported")

    print("t-csv: 3b a team's own column names (Excel in Spanish)", flush=True)
    r, ex, path = run("names", "Título;Email del contacto;Responsable;Etapa;Valor;Fecha de cierre;Notas\n"
                      "Renovación ACME;cliente@acme.mx;ana@example.com;propuesta;12.000,50;15/12/2026;llamar\n"
                      .encode())
    d = ex["deals"]
    check(r.returncode == 0 and len(d) == 1 and d[0]["contact"] == "cliente@acme.mx" and d[0]["owner"] ==
          "ana@example.com" and d[0]["stage"] == "proposal" and d[0]["value"] == 12000.5 and
          d[0]["close_date"] == "2026-12-15", "every column read by its Spanish name (got %s)" % d)
    check('column "notas" is not one dealmail reads' in r.stderr.decode(), "the column it does not read is named")

    print("t-csv: 3c Excel's \"Unicode Text\": UTF-16 with a byte order mark, tab-separated", flush=True)
    text = ("Título\tEmail del contacto\tResponsable\tEtapa\tValor\tFecha de cierre\r\n"
            "Renovación “São Paulo” 🚀\tJosé Muñoz <jose@cliente.es>\tana@example.com\tNegociación\t15.000,00 €\t15/12/2026\r\n"
            "Expansión – Fase 2\tmaria@cliente.mx\tana@example.com\tpropuesta\t€ 1.500\t2026-12-20\r\n")
    for enc, bom in (("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")):
        r, ex, _ = run("unicode-" + enc, bom + text.encode(enc))
        d = ex["deals"]
        check(r.returncode == 0 and len(d) == 2, "%s: two deals imported (exit %d: %s)"
              % (enc, r.returncode, r.stderr.decode(errors="replace").strip()))
        check(len(d) == 2 and d[0]["title"] == "Renovación “São Paulo” 🚀" and d[0]["contact"] == "jose@cliente.es"
              and d[0]["stage"] == "negotiation" and d[0]["value"] == 15000 and d[0]["close_date"] == "2026-12-15"
              and d[1]["title"] == "Expansión – Fase 2" and d[1]["stage"] == "proposal" and d[1]["value"] == 1500,
              "%s: every field read, the text (a character beyond the BMP too) as UTF-8 (got %s)"
              % (enc, [(x["title"], x["stage"], x["value"]) for x in d]))
        check(ex["contacts"] and ex["contacts"][0]["name"] == "José Muñoz", "%s: the contact's name kept" % enc)
    r, ex, path = run("unicode-bad", b"\xff\xfe" + "title\tstage\r\nA\tdemo\r\nB\tnosuchstage\r\n".encode("utf-16-le"))
    check(r.returncode == 65 and "%s:3: unknown stage" % path in r.stderr.decode(errors="replace"),
          "a bad row of a UTF-16 file is reported by its line (got %d: %s)" % (r.returncode, r.stderr.decode(errors="replace").strip()))

    r, ex, path = run("unicode-cut", b"\xff\xfe" + "title\tcontact\r\nA\ta@a.example\r\n".encode("utf-16-le") + b"B")
    check(r.returncode == 65 and ex["deals"] == [] and "cut short" in r.stderr.decode(errors="replace"),
          "a UTF-16 file cut in the middle of a character: 65, nothing imported (got %d, %d deals)"
          % (r.returncode, len(ex["deals"])))

    print("t-csv: 4 bad rows", flush=True)
    r, ex, path = run("bad", b'title,contact,stage\nA,a@a.example,demo\nB,b@b.example,nosuchstage\n'
                      b'"C,c@c.example,demo\nD,d@d.example,demo\n')
    err = r.stderr.decode(errors="replace")
    check(r.returncode == 65, "exit 65 (got %d)" % r.returncode)
    check("%s:3:" % path in err and "unknown stage" in err, "the unknown stage is reported as FILE:3")
    check("%s:4:" % path in err and "not closed" in err, "the unclosed quote is reported as FILE:4")
    check(ex["deals"] == [], "nothing imported")

    print("t-csv: 5 deal add / deal show arguments", flush=True)
    db = os.path.join(tmp, "add.db")
    dm = lambda *a: testlib.dealmail(conf, db, *a, env=ENV)
    dm("init")
    check(dm("deal", "add", "--title", "No contact").returncode == 64, "deal add without --contact: 64")
    check(dm("deal", "add", "--title", "T", "--contact", "t@t.example", "--stage", "bogus").returncode == 64,
          "deal add with an unknown stage: 64")
    check(dm("deal", "add", "--title", "T", "--contact", "t@t.example", "--owner", "x@x.example").returncode == 64,
          "deal add with an owner who is not a rep: 64")
    r = dm("deal", "add", "--title", "T", "--contact", "Tina <T@t.example>")
    check(r.returncode == 0 and r.stdout == b"1\n", "deal add prints the new number alone (got %r)" % r.stdout)
    check(dm("deal", "show", "abc").returncode == 64, "deal show abc: 64")
    check(dm("deal", "show", "#1").returncode == 0, "deal show #1: 0")
    r = dm("deal", "add", "--title", b"Caf\xe9 Tost\xe3o", "--contact", "c@cafe.example")
    check(r.returncode == 0, "deal add with a Latin-1 title: 0")
    subprocess.run(["sqlite3", db, "UPDATE deals SET title = CAST(x'626164ff20fe' AS TEXT) WHERE id = 1"], check=True)
    out = dm("export", "--json").stdout
    try:
        titles = [x["title"] for x in json.loads(out.decode("utf-8"))["deals"]]
    except (UnicodeDecodeError, ValueError) as e:
        titles = ["not JSON: %s" % e]
    check(titles[-1:] == ["Café Tostão"], "the Latin-1 title is stored as UTF-8 (got %r)" % titles[-1:])
    check(titles[:1] == ["bad\ufffd \ufffd"], "bytes that are not UTF-8 export as U+FFFD (got %r)" % titles[:1])
finally:
    check.cleanup(tmp)
check.finish()
