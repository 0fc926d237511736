#!/usr/bin/env python3
"""The ThreadSanitizer check's input (run.sh): WORK/dealmail.conf, WORK/deals.csv
and WORK/maildir with N rep replies in many scripts, each with a note command."""
import os, random, sys

work, n = sys.argv[1], int(sys.argv[2])
reps = ["ana@example.com", "luis@example.com", "bob@example.com"]
with open(os.path.join(work, "dealmail.conf"), "w") as f:
    f.write("[dealmail]\naddress = ventas@example.com\nlanguage = es\ntimezone = UTC\n")
    for r in reps:
        f.write('[rep "%s"]\nname = %s\n' % (r, r.split("@")[0].title()))
with open(os.path.join(work, "deals.csv"), "w") as f:
    f.write("title,contact,owner,stage\n")
    for k in range(50):
        f.write("Cuenta %d,compras%d@cliente.mx,%s,%s\n" % (k + 1, k + 1, reps[k % 3], "propuesta"))
md = os.path.join(work, "maildir")
for d in ("cur", "new", "tmp"):
    os.makedirs(os.path.join(md, d))
rng = random.Random(3)
words = ["Hola \u2019equipo\u2019 \u2014", "\u201cCliente\u201d dice:", "\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440",
         "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8", "don\u2019t \u2014 wait", "\u00abOl\u00e1\u00bb \u2013 ok",
         "\u20ac 100 \u2014 \u2019x\u2019"]
for i in range(n):
    deal = i % 50 + 1
    lines = ["%s %d" % (rng.choice(words), rng.randint(0, 50)) for _ in range(rng.randint(3, 12))]
    body = ("nota: \u201cllam\u00f3\u201d \u2014 \u2019hoy\u2019 %d\n" % i + "\n".join(lines) +
            "\n\nEl lun, 23 nov 2026, Cliente escribi\u00f3:\n> \u201cquoted\u201d \u2014 \u2019x\u2019\n")
    msg = ("From: Rep <%s>\nTo: ventas@example.com\nSubject: Re: Cuenta %d [deal #%d]\n"
           "Message-ID: <tsan-%d@example.net>\nContent-Type: text/plain; charset=utf-8\n\n%s"
           % (reps[(deal - 1) % 3], deal, deal, i, body))
    with open(os.path.join(md, "new", "1700000000.%d.tsan:2," % i), "w", encoding="utf-8") as f:
        f.write(msg)
