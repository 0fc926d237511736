#!/usr/bin/env python3
"""A large pipeline for the report and digest benchmarks: OUT/dealmail.conf with
200 reps in 10 teams (one manager each) and OUT/dm.db, initialised by
`dealmail init` and filled with 100,000 deals, 1,000,000 events (one stage move
in eight, the rest notes), 20,000 tasks and 100,000 contacts over 23 months.

usage: gen_report_db.py DEALMAIL_BIN OUT [SEED]
"""
import os, random, sqlite3, subprocess, sys

STAGES = ["new", "qualify", "demo", "proposal", "negotiation", "won", "delayed", "lost"]
OPEN = ["new", "qualify", "demo", "proposal", "negotiation", "delayed"]

def iso(t):
    import datetime
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

def main():
    bin_, out = sys.argv[1], sys.argv[2]
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 5)
    os.makedirs(out, exist_ok=True)
    conf = os.path.join(out, "dealmail.conf")
    with open(conf, "w") as f:
        f.write("[dealmail]\naddress = ventas@example.com\ntimezone = UTC\n"
                "[stage \"proposal\"]\nstale_days = 14\n"
                "[digest]\ntime = 07:30\nsilent_days = 10\nmonthly_target = 1000000\n")
        for i in range(200):
            f.write('[rep "rep%d@example.com"]\nname = Rep %d\nteam = t%d\nlanguage = %s\n%s'
                    % (i, i, i // 20, ("es", "pt", "en")[i % 3], "role = manager\n" if i % 20 == 0 else ""))
    db = os.path.join(out, "dm.db")
    env = dict(os.environ, DEALMAIL_SECRET="bench-secret-0123456789abcdef")
    subprocess.run([bin_, "-q", "-c", conf, "--db", db, "init"], check=True, env=env, stdout=subprocess.DEVNULL)
    con = sqlite3.connect(db)
    con.execute("PRAGMA synchronous=OFF")
    start, end = 1735689600, 1794441600          # 2025-01-01 .. 2026-11-12
    con.execute("BEGIN")
    con.executemany("INSERT INTO contacts(id, email, name, created_at) VALUES(?, ?, ?, ?)",
                    ((i, "c%d@client%d.example" % (i, i % 997), "Client %d" % i, iso(start)) for i in range(1, 100001)))
    deals, events, ev_stage = [], [], 0
    for d in range(1, 100001):
        owner = "rep%d@example.com" % rng.randrange(200)
        created = rng.randrange(start, end - 86400)
        path = ["new"]
        for s in STAGES[1:5]:
            if rng.random() < 0.6:
                path.append(s)
        final = rng.choice(["won", "lost", None, None, "delayed"])
        if final:
            path.append(final)
        t = created
        for a, b in zip(path, path[1:]):
            t = min(end - 3600, t + rng.randrange(3600, 30 * 86400))
            events.append((d, "stage", a, b, owner, iso(t)))
        stage = path[-1]
        status = "won" if stage == "won" else "lost" if stage == "lost" else "open"
        deals.append((d, "Deal %d" % d, d, stage, "new", status,
                      rng.choice(["price", "competitor", "timing", "referral"]) if status != "open" else None,
                      float(rng.randrange(1, 200) * 500), "EUR", owner, iso(created), iso(t), iso(t),
                      iso(t) if status != "open" else None))
    con.executemany("INSERT INTO deals(id, title, contact_id, stage, initial_stage, status, reason, value, currency, "
                    "owner, created_at, stage_since, last_activity, closed_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)", deals)
    ev_stage = len(events)
    while len(events) < 1000000:
        d = rng.randrange(1, 100001)
        events.append((d, "note", None, "called", "rep0@example.com", iso(rng.randrange(start, end))))
    con.executemany("INSERT INTO events(deal_id, type, from_val, to_val, by, at) VALUES(?,?,?,?,?,?)", events)
    con.executemany("INSERT INTO tasks(deal_id, owner, text, due, created_at) VALUES(?, ?, 'follow up', ?, ?)",
                    ((d, "rep%d@example.com" % (d % 200), iso(end + rng.randrange(-10, 10) * 86400)[:10], iso(start))
                     for d in range(1, 100001, 5)))
    con.execute("COMMIT")
    con.execute("ANALYZE")
    con.close()
    print("%s: 100000 deals, %d events (%d stage moves), 200 reps" % (db, len(events), ev_stage), file=sys.stderr)

if __name__ == "__main__":
    main()
