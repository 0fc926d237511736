#!/usr/bin/env bash
# t-report-target.sh — the text report's target block says what the JSON says
# (SPEC §1: target ÷ average deal = wins needed; ÷ close ratio = deals needed;
# ÷ reps = per rep), each rounded up only for display: 2 won (10,000 and
# 20,000), 1 lost, a 100,000 target, 3 reps: 6.67 → 7 wins, 10 deals (not 11:
# 6.666…/0.666… is 10.000000000000002 in floating point), 3.33 → 4 per rep.
set -u
: "${DEALMAIL_BIN:?DEALMAIL_BIN must name the binary under test}"
T=$(mktemp -d /tmp/dmtarget.XXXXXX)
trap 'rm -rf "$T"' EXIT
cat > "$T/c.conf" <<EOC
[dealmail]
address = ventas@example.com
timezone = UTC
[pipeline]
require_lost_reason = no
[rep "ana@example.com"]
name = Ana
[rep "luis@example.com"]
name = Luis
[rep "bob@example.com"]
name = Bob
[digest]
monthly_target = 100000
EOC
export DEALMAIL_SECRET=target-test-secret-0123456789abcdef
dm() { "$DEALMAIL_BIN" -q -c "$T/c.conf" --db "$T/db" "$@"; }
export DEALMAIL_NOW=2026-11-01T15:00:00Z
dm init > /dev/null || exit 1
dm deal add --title D1 --contact c1@acme.mx --owner ana@example.com --stage demo --value 10000 > /dev/null
dm deal add --title D2 --contact c2@acme.mx --owner ana@example.com --stage demo --value 20000 > /dev/null
dm deal add --title D3 --contact c3@acme.mx --owner ana@example.com --stage demo --value 5000 > /dev/null
n=0
for line in "#1 ganado: referido" "#2 ganado: precio" "#3 perdido: precio"; do
	n=$((n + 1))
	printf 'From: Ana <ana@example.com>\nTo: ventas@example.com\nSubject: hoy\nMessage-ID: <t%d@example.com>\n\n%s\n' \
		"$n" "$line" | DEALMAIL_NOW=2026-11-1${n}T15:00:00Z dm ingest || exit 1
done
export DEALMAIL_NOW=2026-11-23T15:00:00Z
json=$(dm report --format json | /usr/bin/python3 -c 'import json,sys; t=json.load(sys.stdin)["target"]; print("%.2f %.2f %.2f" % (t["wins_needed"], t["deals_needed"], t["per_rep"]))')
text=$(dm report | awk '/Wins needed/{w=$3} /Deals needed/{d=$3} /Per rep/{p=$3} END{print w, d, p}')
fails=0
[ "$json" = "6.67 10.00 3.33" ] || { echo "FAIL - JSON target: got '$json'"; fails=1; }
[ "$text" = "7 10 4" ] || { echo "FAIL - text target (JSON $json rounded up): got '$text', expected '7 10 4'"; fails=1; }
[ "$fails" = 0 ] && echo "t-report-target: ok"
[ "$fails" = 0 ]
