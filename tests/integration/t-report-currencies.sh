#!/usr/bin/env bash
# Amounts in several currencies are never added up (nothing converts them):
# report --format json keeps SPEC's keys for the team's currency (`[dealmail]
# currency`, else the one most deals carry; amounts without one count in it)
# and gives every currency's figure in the `…_by_currency` objects; the text
# report and the digest show the team's figure with the others beside it
# ("BRL 85,000 + MXN 250,000, USD 12,800"), and a one-currency team sees the
# bare numbers as before.
set -eu
BIN=${DEALMAIL_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/dealmail}
WRAP=${WRAP:-}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
conf() {   # conf FILE CURRENCY
	cat > "$1" <<CONF
[dealmail]
address = ventas@example.com
language = en
timezone = UTC
currency = $2

[stage "demo"]
probability = 40
[stage "proposal"]
probability = 50
[stage "negotiation"]
probability = 70

[rep "ana@example.com"]
name = Ana
team = norte
[rep "bob@example.com"]
name = Bob
role = manager
team = norte

[digest]
time = 07:30
monthly_target = 170000
CONF
}
export DEALMAIL_NOW=2026-11-23T15:00:00Z DEALMAIL_SECRET=0123456789abcdef0123456789abcdef
dm() { $WRAP "$BIN" -c "$T/$1.conf" --db "$T/$1.db" "${@:2}"; }
add() { dm "$1" deal add --title "$2" --contact "$3" --owner ana@example.com --stage "$4" ${5:+--value "$5"} >/dev/null; }

# 1. the team sells in BRL; one deal each in USD and MXN, one without a value
conf "$T/brl.conf" BRL
dm brl init >/dev/null
add brl "Globex frota" compras@globex.com.br proposal 'R$ 85.000,00'
add brl "Renovación ACME" cliente@acme.mx demo '12.800 USD'
add brl "Contoso" r@contoso.com.mx negotiation '250.000 MXN'
add brl "Sin valor" x@y.com.br demo
dm brl report --format json > "$T/brl.json"
/usr/bin/python3 - "$T/brl.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["currency"] == "BRL", r["currency"]
assert r["open_deals"] == 4, r["open_deals"]
assert r["open_value"] == 85000, r["open_value"]
assert r["open_value_by_currency"] == {"BRL": 85000, "MXN": 250000, "USD": 12800}, r["open_value_by_currency"]
assert r["weighted_forecast"] == 42500, r["weighted_forecast"]
assert r["weighted_forecast_by_currency"] == {"BRL": 42500, "MXN": 175000, "USD": 5120}, r
assert r["avg_deal_size"] == 85000 and r["avg_deal_basis"] == "open", r["avg_deal_size"]
st = {s["stage"]: s for s in r["stages"]}
assert st["negotiation"]["value"] == 0 and st["negotiation"]["value_by_currency"] == {"BRL": 0, "MXN": 250000}, st
assert st["demo"]["count"] == 2 and st["demo"]["weighted_by_currency"] == {"BRL": 0, "USD": 5120}, st["demo"]
# the target is the team's currency's: 170000 / 85000 = 2 wins
assert r["target"]["wins_needed"] == 2, r["target"]
PY
dm brl report > "$T/brl.txt"
grep -q "Open value  *BRL 85,000 + MXN 250,000, USD 12,800" "$T/brl.txt" || { cat "$T/brl.txt"; exit 1; }
grep -q "negotiation .* + MXN 250,000 (175,000)" "$T/brl.txt" || { cat "$T/brl.txt"; exit 1; }
dm brl digest --manager bob@example.com --print > "$T/brl-digest.txt"
grep -q "Open deals *4 worth BRL 85,000 + MXN 250,000, USD 12,800" "$T/brl-digest.txt" || { cat "$T/brl-digest.txt"; exit 1; }
grep -q "Weighted forecast *BRL 42,500 + MXN 175,000, USD 5,120" "$T/brl-digest.txt" || { cat "$T/brl-digest.txt"; exit 1; }

# 2. no team currency: the one most deals carry (EUR), a bare amount counts in it
conf "$T/none.conf" ""
dm none init >/dev/null
add none A a@a.es proposal '10.000 EUR'
add none B b@b.es proposal '20.000 EUR'
add none C c@c.com proposal '5,000 USD'
add none D d@d.es proposal '1000'
dm none report --format json | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["currency"] == "EUR", r["currency"]
assert r["open_value"] == 31000 and r["open_value_by_currency"] == {"EUR": 31000, "USD": 5000}, r'

# 3. one currency: the bare numbers, as before
conf "$T/one.conf" MXN
dm one init >/dev/null
add one A a@a.mx proposal '10000'
add one B b@b.mx demo '20.000 MXN'
dm one report > "$T/one.txt"
grep -q "Open value  *30,000$" "$T/one.txt" || { cat "$T/one.txt"; exit 1; }
! grep -q " + " "$T/one.txt" || { cat "$T/one.txt"; exit 1; }
dm one report --format json | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["open_value"] == 30000 and r["open_value_by_currency"] == {"MXN": 30000}, r'
# 4. no currency anywhere (none configured, none written): no "" key
conf "$T/bare.conf" ""
dm bare init >/dev/null
add bare A a@a.mx proposal '10000'
dm bare report --format json | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["currency"] is None and r["open_value"] == 10000 and r["open_value_by_currency"] == {}, r
assert all(s["value_by_currency"] == {} for s in r["stages"]), r["stages"]'
echo "t-report-currencies: ok"
