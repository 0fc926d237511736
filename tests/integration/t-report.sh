#!/usr/bin/env bash
# report --format json on a database built through the real commands (init,
# deal add, ingest of rep replies on different days via DEALMAIL_NOW), checked
# against values computed by hand (see the comments in the Python below), and
# the digests composed from the same data.
set -eu
BIN=${DEALMAIL_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/dealmail}
WRAP=${WRAP:-}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cat > "$T/dealmail.conf" <<CONF
[dealmail]
database = $T/d.db
address = ventas@example.com
language = en
timezone = UTC

[stage "new"]
probability = 10
[stage "qualify"]
probability = 20
[stage "demo"]
probability = 30
[stage "proposal"]
probability = 50
stale_days = 7
[stage "negotiation"]
probability = 80
stale_days = 30

[rep "ana@example.com"]
name = Ana López
team = norte
language = es
[rep "bob@example.com"]
name = Bob
team = norte
language = en
[rep "mia@example.com"]
name = Mia
role = manager
team = norte
language = pt

[digest]
time = 07:30
silent_days = 10
monthly_target = 100000
CONF
export DEALMAIL_CONFIG=$T/dealmail.conf
dm() { $WRAP "$BIN" "$@"; }
n=0
# reply FROM DEAL LINE: a rep's reply tagged with the deal
reply() {
	n=$((n + 1))
	printf 'From: %s\nTo: ventas@example.com\nSubject: Re: [deal #%s]\nMessage-ID: <t%s@test>\nDate: Mon, 1 Jan 2026 00:00:00 +0000\n\n%s\n' \
		"$1" "$2" "$n" "$3" > "$T/m$n.eml"
	dm ingest "$T/m$n.eml" >/dev/null
}
add() { dm deal add --title "$1" --contact "$2" --owner "$3" --value "$4" --stage "$5" >/dev/null; }

dm init >/dev/null
export DEALMAIL_NOW=2026-10-01T09:00:00Z
add Alpha a@c.com ana@example.com 10000 new        # 1
add Beta b@c.com ana@example.com 20000 new         # 2
add Gamma g@c.com bob@example.com 5000 qualify     # 3
add Delta d@c.com bob@example.com 8000 new         # 4
add Eps e@c.com ana@example.com 4000 proposal      # 5
add Eta h@c.com ana@example.com 6000 new           # 6
export DEALMAIL_NOW=2026-10-05T09:00:00Z
reply ana@example.com 1 "stage: qualify"
reply ana@example.com 2 "stage: demo"
reply ana@example.com 6 "stage: qualify"
export DEALMAIL_NOW=2026-10-10T09:00:00Z
reply ana@example.com 1 "stage: proposal"
reply bob@example.com 3 "stage: demo"
reply ana@example.com 6 "stage: delayed"
export DEALMAIL_NOW=2026-10-21T09:00:00Z
reply ana@example.com 1 "won: referral"
reply ana@example.com 2 "lost: price"
reply ana@example.com 6 "stage: negotiation"
export DEALMAIL_NOW=2026-10-31T09:00:00Z
reply bob@example.com 3 "won: price"
reply bob@example.com 4 "lost: competitor"
export DEALMAIL_NOW=2026-11-05T09:00:00Z
add Zeta z@c.com bob@example.com 12000 new         # 7
reply ana@example.com 5 "probability: 60%"
export DEALMAIL_NOW=2026-11-10T09:00:00Z

dm report --format json > "$T/all.json"
dm report --format json --since 2026-10-25 > "$T/since.json"
dm report --format json --rep ana@example.com > "$T/ana.json"
dm report --format json --team norte > "$T/team.json"
dm report > "$T/report.txt"
grep -q "Funnel" "$T/report.txt"
grep -q "negotiation → won" "$T/report.txt"
if grep -q $'\033' "$T/report.txt"; then echo "colour on a pipe"; exit 1; fi

/usr/bin/python3 - "$T" <<'PY'
import json, sys, math
T = sys.argv[1]
def load(n): return json.load(open(f"{T}/{n}.json"))
fails = []
def eq(name, got, want, tol=1e-6):
    ok = (got is None and want is None) or (got is not None and want is not None and
         (got == want if not isinstance(want, float) else abs(got - want) <= tol * max(1, abs(want))))
    if not ok: fails.append(f"{name}: got {got!r}, want {want!r}")

# Deals at 2026-11-10T09:00Z:
#  1 Alpha ana 10000 new→qualify(10-05)→proposal(10-10)→won referral 10-21 (cycle 20 d)
#  2 Beta  ana 20000 new→demo(10-05)→lost price 10-21
#  3 Gamma bob  5000 qualify→demo(10-10)→won price 10-31 (cycle 30 d)
#  4 Delta bob  8000 new→lost competitor 10-31
#  5 Eps   ana  4000 proposal since 10-01, probability 60% (11-05)
#  6 Eta   ana  6000 new→qualify(10-05)→delayed(10-10)→negotiation(10-21), last activity 10-21
#  7 Zeta  bob 12000 new, created 11-05
r = load("all")
for k in ["open_deals","open_value","weighted_forecast","avg_deal_size","cycle_days","close_ratio",
          "avg_age_days","velocity_per_day","velocity_per_month","stages","conversion","won_reasons",
          "lost_reasons","stalled","silent","target"]:
    if k not in r: fails.append(f"missing key {k}")
eq("open_deals", r["open_deals"], 3)                       # 5, 6, 7
eq("open_value", r["open_value"], 22000.0)
eq("weighted", r["weighted_forecast"], 4000*.6 + 6000*.8 + 12000*.1)   # 8400
eq("avg_deal", r["avg_deal_size"], 7500.0)                 # (10000+5000)/2
eq("cycle", r["cycle_days"], 25.0)                         # (20+30)/2
eq("close_ratio", r["close_ratio"], 0.5)                   # 2 won / 4 closed
eq("avg_age", r["avg_age_days"], (40 + 40 + 5) / 3)
eq("velocity_day", r["velocity_per_day"], 3 * 0.5 * 7500 / 25)       # 450
eq("velocity_month", r["velocity_per_month"], 450 * 30.0)
st = {s["stage"]: s for s in r["stages"]}
eq("stage order", [s["stage"] for s in r["stages"]][:5], ["new","qualify","demo","proposal","negotiation"])
eq("new", (st["new"]["count"], st["new"]["value"], st["new"]["weighted"]), (1, 12000.0, 1200.0))
eq("proposal", (st["proposal"]["count"], st["proposal"]["weighted"]), (1, 2400.0))
eq("negotiation", (st["negotiation"]["count"], st["negotiation"]["weighted"]), (1, 4800.0))
eq("won stage", st["won"]["count"], 0)
conv = {(c["from"], c["to"]): c["rate"] for c in r["conversion"]}
# in new: 1,2,4,6,7 -> later qualify or beyond: 1,2(demo),6 = 3/5
eq("new->qualify", conv[("new","qualify")], 0.6)
# in qualify: 1,3,6 -> demo or beyond after: all three
eq("qualify->demo", conv[("qualify","demo")], 1.0)
# in demo: 2,3 -> proposal or beyond: 3 (won)
eq("demo->proposal", conv[("demo","proposal")], 0.5)
# in proposal: 1,5 -> negotiation or beyond: 1 (won)
eq("proposal->negotiation", conv[("proposal","negotiation")], 0.5)
# in negotiation: 6 -> not won
eq("negotiation->won", conv[("negotiation","won")], 0.0)
wr = {x["reason"]: (x["count"], x["value"]) for x in r["won_reasons"]}
lr = {x["reason"]: (x["count"], x["value"]) for x in r["lost_reasons"]}
eq("won reasons", wr, {"referral": (1, 10000.0), "price": (1, 5000.0)})
eq("lost reasons", lr, {"price": (1, 20000.0), "competitor": (1, 8000.0)})
eq("stalled", r["stalled"], [5])            # proposal since 10-01 > 7 days; 6 in negotiation 20 d < 30
eq("silent", r["silent"], [6])              # last activity 10-21 > 10 days
t = r["target"]
eq("target.monthly", t["monthly"], 100000.0)
eq("wins_needed", t["wins_needed"], 100000 / 7500)
eq("deals_needed", t["deals_needed"], 100000 / 7500 / 0.5)
eq("per_rep", t["per_rep"], 100000 / 7500 / 0.5 / 2)   # ana, bob (mia is a manager)

s = load("since")       # flow since 2026-10-25: won 3, lost 4; cohort = deal 7
eq("since avg", s["avg_deal_size"], 5000.0)
eq("since cycle", s["cycle_days"], 30.0)
eq("since ratio", s["close_ratio"], 0.5)
eq("since velocity", s["velocity_per_day"], 3 * 0.5 * 5000 / 30)
eq("since open", s["open_deals"], 3)
c0 = s["conversion"][0]
eq("since conv", (c0["from"], c0["reached_from"], c0["rate"]), ("new", 1, 0.0))
eq("since reasons", [x["reason"] for x in s["won_reasons"]], ["price"])

a = load("ana")         # deals 1, 2, 5, 6
eq("ana open", a["open_deals"], 2)
eq("ana weighted", a["weighted_forecast"], 2400.0 + 4800.0)
eq("ana avg", a["avg_deal_size"], 10000.0)
eq("ana cycle", a["cycle_days"], 20.0)
eq("ana velocity", a["velocity_per_day"], 2 * 0.5 * 10000 / 20)
eq("ana stalled", a["stalled"], [5])
tm = load("team")
eq("team = all", tm["velocity_per_day"], r["velocity_per_day"])
if fails:
    print("\n".join(fails)); sys.exit(1)
print("report: all hand-computed figures match")
PY

# the boundaries are those of `tick`'s on_stale: exactly stale_days in the
# stage is stalled, exactly silent_days without activity is silent
DEALMAIL_NOW=2026-10-08T09:00:00Z dm report --format json | /usr/bin/python3 -c '
import json, sys; r = json.load(sys.stdin); assert 5 in r["stalled"], r["stalled"]'
DEALMAIL_NOW=2026-10-31T09:00:00Z dm report --format json | /usr/bin/python3 -c '
import json, sys; r = json.load(sys.stdin); assert 6 in r["silent"], r["silent"]'

# digests: text in the rep's language, every deal by its tag
dm digest --print --rep ana@example.com > "$T/ana.txt"
grep -q "Buenos días" "$T/ana.txt"
grep -q "\[deal #5\]" "$T/ana.txt"     # stalled
grep -q "\[deal #6\]" "$T/ana.txt"     # silent
dm digest --print --manager mia@example.com > "$T/mia.txt"
grep -q "Bom dia" "$T/mia.txt"
dm digest --send > "$T/send.txt"
[ "$(grep -c queued "$T/send.txt")" = 3 ] || { cat "$T/send.txt"; exit 1; }
dm export --json | /usr/bin/python3 -c '
import json, sys
o = [x for x in json.load(sys.stdin)["outbox"] if x["kind"] == "digest"]
assert sorted(x["to"] for x in o) == ["ana@example.com", "bob@example.com", "mia@example.com"], o
'
# the target is shared by the reps of the scope: a team's reps for --team
# (the whole config's reps divided it)
sed 's/^\[digest\]$/[rep "carl@example.com"]\nname = Carl\nteam = sur\n\n[digest]/' "$T/dealmail.conf" > "$T/teams.conf"
DEALMAIL_CONFIG=$T/teams.conf dm report --format json > "$T/all3.json"
DEALMAIL_CONFIG=$T/teams.conf dm report --format json --team norte > "$T/norte.json"
/usr/bin/python3 - "$T" <<'PY'
import json, sys
a = json.load(open(sys.argv[1] + "/all3.json"))["target"]
n = json.load(open(sys.argv[1] + "/norte.json"))["target"]
assert a["reps"] == 3 and abs(a["per_rep"] - a["deals_needed"] / 3) < 1e-9, a
assert n["reps"] == 2 and abs(n["per_rep"] - n["deals_needed"] / 2) < 1e-9, n
PY

# amounts keep every digit in the JSON (%.10g printed 1234577890.0)
before=$(dm report --format json | /usr/bin/python3 -c 'import json,sys; print(repr(json.load(sys.stdin)["open_value"]))')
add Huge x@c.com bob@example.com 1234567890.5 new
dm report --format json | /usr/bin/python3 -c '
import json, sys
got = json.load(sys.stdin)["open_value"]; want = float(sys.argv[1]) + 1234567890.5
assert got == want, (got, want)' "$before"
echo "t-report: ok"
