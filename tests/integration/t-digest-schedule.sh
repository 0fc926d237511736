#!/usr/bin/env bash
# Digest scheduling through `tick` with a controllable clock: nothing before
# [digest] time in the configured zone, each recipient once per day (also when
# tick runs again, as after a restart), again the next local day, and a change
# of time zone does not send a day twice; a digest lists what moved since the
# previous one.
set -u
D=${DEALMAIL_BIN:?}
T=$(mktemp -d /tmp/dealmail-digest.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0
check() { local what=$1; shift; if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fail=1; fi; }
conf() {
	cat > "$T/dealmail.conf" <<EOC
[dealmail]
address = ventas@example.com
timezone = $1
[rep "ana@example.com"]
name = Ana
language = es
[rep "maria@example.com"]
name = María
role = manager
language = es
[digest]
time = 07:30
EOC
}
dm() { DEALMAIL_SECRET=0123456789abcdef0123456789abcdef "$D" -q -c "$T/dealmail.conf" --db "$T/dm.db" "$@"; }
digests() {
	dm export --json | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(1 for o in d["outbox"] if o["kind"] == "digest"))'
}
conf America/Mexico_City
dm init >/dev/null
DEALMAIL_NOW=2026-11-23T10:00:00Z dm deal add --title ACME --contact c@acme.mx --owner ana@example.com --stage demo >/dev/null
# 07:00 in Mexico City (UTC-6): not yet
DEALMAIL_NOW=2026-11-23T13:00:00Z dm tick
check "before 07:30 local: no digest" [ "$(digests)" = 0 ]
DEALMAIL_NOW=2026-11-23T13:31:00Z dm tick
check "after 07:30 local: one digest per rep and manager" [ "$(digests)" = 2 ]
DEALMAIL_NOW=2026-11-23T13:45:00Z dm tick
DEALMAIL_NOW=2026-11-23T23:59:00Z dm tick
check "ticks later the same day (a restart): nothing more" [ "$(digests)" = 2 ]
# 05:59 local on the 24th is still before the time: nothing
DEALMAIL_NOW=2026-11-24T11:59:00Z dm tick
check "next day before 07:30 local: nothing more" [ "$(digests)" = 2 ]
# a move between the two digests (04:00 local on the 24th)
printf 'From: Ana <ana@example.com>\nTo: ventas@example.com\nSubject: Re: [deal #1] ACME\nMessage-ID: <move-24@example.com>\n\netapa: propuesta\n' |
	DEALMAIL_NOW=2026-11-24T10:00:00Z dm ingest
DEALMAIL_NOW=2026-11-24T13:40:00Z dm tick
check "next day after 07:30 local: the next digests" [ "$(digests)" = 4 ]
# the scheduled digest lists what moved since the previous one (it once took
# its own row, written a moment before, as "the previous digest")
last_digest_text() {
	/usr/bin/python3 - "$T/dm.db" "$1" <<'PYEOF'
import email, email.policy, sqlite3, sys
raw = sqlite3.connect(sys.argv[1]).execute(
    "SELECT raw FROM outbox WHERE kind = 'digest' AND rcpt = ? ORDER BY id DESC LIMIT 1", (sys.argv[2],)).fetchone()[0]
m = email.message_from_bytes(raw, policy=email.policy.default)
print(m.get_body(preferencelist=("plain",)).get_content())
PYEOF
}
lists_move() { last_digest_text "$1" | grep -q 'ACME: Demo → Propuesta'; }
check "the 24th's digest for the rep lists the move made since the 23rd's" lists_move ana@example.com
check "... and so does the manager's" lists_move maria@example.com
# the team moves to Lisbon: 24th 13:50 UTC is 13:50 local, the 24th is done already
conf Europe/Lisbon
DEALMAIL_NOW=2026-11-24T13:50:00Z dm tick
check "time-zone change: the same local day is not sent twice" [ "$(digests)" = 4 ]
DEALMAIL_NOW=2026-11-25T07:31:00Z dm tick
check "time-zone change: the next local day goes out at 07:30 Lisbon" [ "$(digests)" = 6 ]
# by hand, the same day: still once per recipient per day (SPEC §5)
DEALMAIL_NOW=2026-11-25T09:00:00Z dm digest --rep ana@example.com --send >/dev/null
check "digest --send on a day already sent queues nothing more" [ "$(digests)" = 6 ]
DEALMAIL_NOW=2026-11-25T09:00:00Z dm digest --manager ana@example.com --print >/dev/null 2>&1
check "digest --manager naming a rep who is not a manager is a usage error (64)" [ $? = 64 ]
check "digests were delivered to the Maildir transport" \
	[ "$(ls "$T/outbox-maildir/new" 2>/dev/null | wc -l)" -ge 6 ]
[ "$fail" = 0 ] && echo "t-digest-schedule: ok"
exit $fail
