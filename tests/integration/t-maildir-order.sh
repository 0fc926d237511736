#!/usr/bin/env bash
# t-maildir-order.sh — `ingest --maildir` applies a Maildir's messages in
# delivery order as their names tell it, although the deliverers' names carry
# numbers that are not zero-padded: Dovecot's "<secs>.M<usecs>P<pid>.<host>"
# (M102345 was written after M98765 in the same second) and mbsync's
# "<secs>.<pid>_<n>.<host>" (_10 after _9).  A rep who writes `etapa:
# propuesta` and then `ganado: referido` within a second must end won, as by
# the pipe; sorted by strcmp() the deal was won, then reopened in proposal.
set -u
: "${DEALMAIL_BIN:?DEALMAIL_BIN must name the binary under test}"
T=$(mktemp -d /tmp/dmorder.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
check() { if [ "$2" = "$3" ]; then echo "ok   - $1"; else echo "FAIL - $1: got '$2', expected '$3'"; fails=$((fails + 1)); fi; }
cat > "$T/dealmail.conf" <<EOC
[dealmail]
database = dealmail.db
address = ventas@example.com
language = es
[rep "ana@example.com"]
name = Ana
language = es
EOC
export DEALMAIL_CONFIG=$T/dealmail.conf DEALMAIL_SECRET=order-test-secret-0123456789abcdef DEALMAIL_NOW=2026-11-23T15:45:00Z
msg() {   # msg FILE N COMMAND
	printf 'From: Ana <ana@example.com>\nTo: ventas@example.com\nSubject: Re: [deal #1] ACME renewal\nDate: Mon, 23 Nov 2026 09:41:%02d -0600\nMessage-ID: <order-%s@example.com>\n\n%s\n' \
		"$2" "$2" "$3" > "$1"
}
# run NAME FILE1 FILE2 [FILE3]: a fresh database and Maildir, the files
# (relative to the Maildir) written in delivery order, then one ingest
run() {
	local name=$1; shift
	rm -rf "$T/md" "$T"/dealmail.db*
	mkdir -p "$T/md/new" "$T/md/cur" "$T/md/tmp"
	"$DEALMAIL_BIN" -q init >/dev/null || exit 1
	"$DEALMAIL_BIN" -q deal add --title "ACME renewal" --contact cliente@acme.mx --owner ana@example.com \
		--stage demo --value 12000 >/dev/null || exit 1
	local cmds=("etapa: propuesta" "ganado: referido" "etapa: negociacion") i=0
	for f in "$@"; do
		msg "$T/md/$f" "$i" "${cmds[$i]}"
		i=$((i + 1))
	done
	"$DEALMAIL_BIN" -q ingest --maildir "$T/md"
	check "$name: exit 0" "$?" 0
	"$DEALMAIL_BIN" export --json | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["deals"][0]["stage"], " ".join("%s>%s" % (e["from"], e["to"]) for e in d["events"] if e["type"] == "stage"))' > "$T/out"
}
run "Dovecot, same second, unpadded microseconds" \
	"new/1795448472.M98765P2211.mx.example.com,S=300,W=310" "new/1795448472.M102345P2211.mx.example.com,S=300,W=310"
check "... applied in delivery order: proposal, then won" "$(cat "$T/out")" "won demo>proposal proposal>won"
run "mbsync, same second, _9 (read, in cur/) then _10 (in new/)" \
	"cur/1795448472.4242_9.laptop,U=9:2,S" "new/1795448472.4242_10.laptop,U=10"
check "... applied in delivery order: proposal, then won" "$(cat "$T/out")" "won demo>proposal proposal>won"
run "Dovecot, a second apart, microseconds of different lengths" \
	"new/1795448471.M999999P2211.mx.example.com" "new/1795448472.M5P2211.mx.example.com"
check "... applied in delivery order: proposal, then won" "$(cat "$T/out")" "won demo>proposal proposal>won"
run "zero-padded names still in order" \
	"new/1795448472.M000005P2211.h" "new/1795448472.M000010P2211.h"
check "... applied in delivery order: proposal, then won" "$(cat "$T/out")" "won demo>proposal proposal>won"
run "<secs>.<n> names, same second: .9 then .10 (compared as numbers before the rest)" \
	"new/1795448472.9.host:2," "new/1795448472.10.host:2,"
check "... applied in delivery order: proposal, then won" "$(cat "$T/out")" "won demo>proposal proposal>won"
run "seconds of different lengths, then a name with no number (sorts after digits)" \
	"new/999999999.5.host" "new/1000000000.1.host" "new/1000000000.Mx.host"
check "... applied in delivery order: proposal, won, negotiation" "$(cat "$T/out")" \
	"negotiation demo>proposal proposal>won won>negotiation"
echo "t-maildir-order: $fails failure(s)"
[ "$fails" -eq 0 ]
