#!/usr/bin/env bash
# A drip's List-Unsubscribe mailto (ventas+u.TOKEN@…) unsubscribes the contact
# and stops the sequence, whatever the body says and whoever sends to it (the
# client's alias: no lead made of it); a forged token does nothing; an
# "unsubscribe" from an address we never wrote to is no lead either.
# With [dealmail] unsubscribe_url, drips also carry the RFC 8058 one-click URL
# (List-Unsubscribe-Post), and `dealmail unsubscribe TOKEN` (what that
# endpoint runs) unsubscribes the contact; a forged token exits 65.
set -u
D=${DEALMAIL_BIN:?}
T=$(mktemp -d /tmp/dealmail-unsub.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0
check() { local what=$1; shift; if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fail=1; fi; }
cat > "$T/dealmail.conf" <<EOC
[dealmail]
address = ventas@example.com
timezone = UTC
confirm = never
[rep "ana@example.com"]
name = Ana
[stage "proposal"]
on_enter = sequence proposal-followup
[sequence "proposal-followup"]
steps = 1d proposal-1, 3d proposal-2
EOC
dm() { DEALMAIL_SECRET=0123456789abcdef0123456789abcdef "$D" -q -c "$T/dealmail.conf" --db "$T/dm.db" "$@"; }
state() {
	dm export --json | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
c = [x for x in d["contacts"] if x["email"] == sys.argv[1]][0]
e = [x for x in d["enrollments"] if x["deal"] == int(sys.argv[2])][0]
print(c["unsubscribed"], e["status"])' "$1" "$2"
}
dm init >/dev/null
export DEALMAIL_NOW=2026-11-23T10:00:00Z
dm deal add --title A --contact uno@cliente.example --owner ana@example.com --stage proposal >/dev/null
dm deal add --title B --contact dos@cliente.example --owner ana@example.com --stage proposal >/dev/null
DEALMAIL_NOW=2026-11-24T10:30:00Z dm tick
# the List-Unsubscribe address of deal 1's first step, as the contact's client sees it
addr=$(sqlite3 "$T/dm.db" "SELECT raw FROM outbox WHERE kind = 'drip' AND rcpt = 'uno@cliente.example'" |
	tr -d '\r' | sed -n 's/^List-Unsubscribe: <mailto:\([^?>]*\).*/\1/p' | head -n1)
check "the drip carries a signed List-Unsubscribe address ($addr)" bash -c "echo '$addr' | grep -q '^ventas+u\.'"
printf 'From: uno@cliente.example\nTo: %s\nSubject: hola\nMessage-ID: <u1@cliente.example>\n\n(sent by the mail client)\n' "$addr" |
	DEALMAIL_NOW=2026-11-24T11:00:00Z dm ingest
check "the token unsubscribed the contact and stopped its sequence" [ "$(state uno@cliente.example 1)" = "True stopped" ]
# a forged token (another contact's id with a wrong MAC) changes nothing
printf 'From: dos@cliente.example\nTo: ventas+u.2-0000000000@example.com\nSubject: hola\nMessage-ID: <u2@cliente.example>\n\nsigo interesado\n' |
	DEALMAIL_NOW=2026-11-24T11:00:00Z dm ingest
check "a forged token unsubscribes nobody" bash -c "[ \"\$(DEALMAIL_SECRET=0123456789abcdef0123456789abcdef '$D' -q -c '$T/dealmail.conf' --db '$T/dm.db' export --json | /usr/bin/python3 -c 'import json,sys; print([c for c in json.load(sys.stdin)[\"contacts\"] if c[\"email\"]==\"dos@cliente.example\"][0][\"unsubscribed\"])')\" = False ]"
# deal 2's address, used from the client's other mailbox (an alias)
addr2=$(sqlite3 "$T/dm.db" "SELECT raw FROM outbox WHERE kind = 'drip' AND rcpt = 'dos@cliente.example'" |
	tr -d '\r' | sed -n 's/^List-Unsubscribe: <mailto:\([^?>]*\).*/\1/p' | head -n1)
printf 'From: Dos <dos@cliente-grupo.example>\nTo: %s\nSubject: unsubscribe\nMessage-ID: <u3@cliente-grupo.example>\n\n' "$addr2" |
	DEALMAIL_NOW=2026-11-24T11:05:00Z dm ingest
check "the token used from another address unsubscribed its contact" [ "$(state dos@cliente.example 2)" = "True stopped" ]
check "... and made no lead of the sender" [ "$(sqlite3 "$T/dm.db" "SELECT COUNT(*) FROM deals")" = 2 ]
printf 'From: nadie@otro.example\nTo: ventas@example.com\nSubject: darme de baja\nMessage-ID: <u4@otro.example>\n\ndarme de baja\n' |
	DEALMAIL_NOW=2026-11-24T11:10:00Z dm ingest
check "an unsubscribe from an address we do not know makes no lead" [ "$(sqlite3 "$T/dm.db" "SELECT COUNT(*) FROM deals")" = 2 ]
DEALMAIL_NOW=2026-11-27T10:30:00Z dm tick
n=$(sqlite3 "$T/dm.db" "SELECT COUNT(*) FROM outbox WHERE kind = 'drip' AND rcpt = 'uno@cliente.example'")
check "no further drip to the unsubscribed contact ($n in all)" [ "$n" = 1 ]
# ---- RFC 8058 one-click
cp "$T/dealmail.conf" "$T/oc.conf"
sed -i 's|^confirm = never|confirm = never\nunsubscribe_url = https://crm.example.com/unsubscribe|' "$T/oc.conf"
oc() { DEALMAIL_SECRET=0123456789abcdef0123456789abcdef "$D" -q -c "$T/oc.conf" --db "$T/oc.db" "$@"; }
oc init >/dev/null
DEALMAIL_NOW=2026-11-23T10:00:00Z oc deal add --title C --contact tres@cliente.example --owner ana@example.com --stage proposal >/dev/null
DEALMAIL_NOW=2026-11-24T10:30:00Z oc tick
hdr() {
	/usr/bin/python3 -c '
import email, email.policy, sqlite3, sys
raw = sqlite3.connect(sys.argv[1]).execute("SELECT raw FROM outbox WHERE kind = '"'"'drip'"'"'").fetchone()[0]
print(email.message_from_bytes(raw, policy=email.policy.default)[sys.argv[2]] or "")' "$T/oc.db" "$1"
}
lu=$(hdr List-Unsubscribe)
url=$(printf '%s' "$lu" | sed -n 's/^<\(https:[^>]*\)>, *<mailto:.*/\1/p')
check "the drip offers the one-click URL first, then the mailto ($lu)" bash -c "echo '$url' | grep -q '^https://crm.example.com/unsubscribe?token=u\.'"
check "... with List-Unsubscribe-Post: List-Unsubscribe=One-Click" [ "$(hdr List-Unsubscribe-Post)" = "List-Unsubscribe=One-Click" ]
oc unsubscribe "u.1-0000000000" >/dev/null 2>&1; rc=$?
check "a forged token: exit 65 (got $rc)" [ "$rc" = 65 ]
DEALMAIL_NOW=2026-11-24T11:00:00Z oc unsubscribe "${url#*token=}" >/dev/null; rc=$?
check "unsubscribe TOKEN: exit 0 (got $rc)" [ "$rc" = 0 ]
check "... the contact is unsubscribed and its sequence stopped" [ "$(sqlite3 "$T/oc.db" "SELECT c.unsubscribed || ' ' || e.status FROM contacts c JOIN deals d ON d.contact_id = c.id JOIN enrollments e ON e.deal_id = d.id")" = "1 stopped" ]
check "... and its deal loses the unsubscribe points (-3)" [ "$(sqlite3 "$T/oc.db" "SELECT score FROM deals")" = -3 ]
DEALMAIL_NOW=2026-11-24T11:05:00Z oc unsubscribe "${url#*token=}" >/dev/null; rc=$?
check "the same click again: exit 0, the points are not taken twice" [ "$rc:$(sqlite3 "$T/oc.db" "SELECT score FROM deals")" = "0:-3" ]
printf '[dealmail]\nunsubscribe_url = http://crm.example.com/u?x=1\n' > "$T/bad.conf"
"$D" -q -c "$T/bad.conf" config check >/dev/null 2>&1; rc=$?
check "config check refuses an unsubscribe_url that is not https:// without a query (exit $rc)" [ "$rc" = 78 ]
[ "$fail" = 0 ] && echo "t-unsubscribe-token: ok"
exit $fail
