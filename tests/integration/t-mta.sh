#!/usr/bin/env bash
# t-mta.sh — the exit codes the MTA recipes of contrib/mta rely on, through
# the same command they run (contrib/mta/dealmail-ingest): 0 processed, 0 for a
# duplicate, 0 for an unparseable message (kept in the quarantine), and 75
# with a "4.3.0" line when the database is locked (the MTA keeps the message
# and retries), after which the retry applies it exactly once; a writer that
# stalls past pipe_timeout is answered 75 at the deadline, nothing applied.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${DEALMAIL_BIN:?DEALMAIL_BIN must name the binary under test}"
PY=/usr/bin/python3
T=$(mktemp -d /tmp/dmmta.XXXXXX)
trap 'kill -KILL ${LOCKER:-} 2>/dev/null; rm -rf "$T"' EXIT
fails=0
check() { if [ "$2" = "$3" ]; then echo "ok   - $1"; else echo "FAIL - $1: got '$2', expected '$3'"; fails=$((fails + 1)); fi; }
cat > "$T/dealmail.conf" <<EOC
[dealmail]
database = $T/dealmail.db
address = ventas@example.com
busy_timeout_ms = 200

[smtp]
url = maildir:$T/outbox

[rep "ana@example.com"]
name = Ana
EOC
export DEALMAIL=$DEALMAIL_BIN DEALMAIL_CONFIG=$T/dealmail.conf
ING=$here/../../contrib/mta/dealmail-ingest
"$DEALMAIL_BIN" init >/dev/null || exit 1
msg() {
	printf 'From: Lead %s <lead%s@customer.example>\r\nTo: ventas@example.com\r\nSubject: Quote %s\r\n' "$1" "$1" "$1"
	printf 'Message-ID: <mta-%s@customer.example>\r\nDate: Mon, 23 Nov 2026 09:00:00 +0000\r\n\r\nHello\r\n' "$1"
}
deals() { "$DEALMAIL_BIN" export --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)["deals"]))'; }

msg 1 | "$ING"; check "a message: exit 0" "$?" 0
msg 1 | "$ING"; check "the same message again: exit 0" "$?" 0
check "applied once" "$(deals)" 1
printf 'not a mail\001\n' | "$DEALMAIL_BIN" -q ingest; check "junk, dealmail itself: 65" "$?" 65
printf 'not a mail\002\n' | "$ING"; check "junk through the recipe's wrapper: 0 (kept in the quarantine)" "$?" 0

$PY -c '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE"); print("locked", flush=True); time.sleep(4)' "$T/dealmail.db" > "$T/locker" &
LOCKER=$!
for i in $(seq 1 50); do grep -q locked "$T/locker" 2>/dev/null && break; sleep 0.1; done
out=$(msg 2 | "$ING"); rc=$?
check "database locked: exit 75 (the MTA defers)" "$rc" 75
case $out in 4.3.0*) echo "ok   - database locked: prints an RFC 3463 4.3.0 line";;
*) echo "FAIL - database locked: stdout '$out'"; fails=$((fails + 1));; esac
# Postfix's pipe(8) reads stdout and stderr as one stream and takes the
# status from its start: the error logged on the way comes after the line
out=$(msg 3 | "$DEALMAIL_BIN" ingest 2>&1); rc=$?
check "database locked, logging on: exit 75" "$rc" 75
case $out in "4.3.0 "*locked*) echo "ok   - ... stdout and stderr together start with the 4.3.0 line, the log follows";;
*) echo "FAIL - ... stdout and stderr together: '$out'"; fails=$((fails + 1));; esac
wait "$LOCKER"; LOCKER=
msg 2 | "$ING"; check "the MTA's retry: exit 0" "$?" 0
check "retried message applied once" "$(deals)" 2
# one process per message leaves the WAL to grow to ~1 MiB and the process
# that reaches that checkpoints and empties it: bounded, and nothing lost
maxwal=0 shrank=0 prev=0
for i in $(seq 10 69); do
	msg "$i" | "$DEALMAIL_BIN" -q ingest >/dev/null || { echo "FAIL - pipe message $i: exit $?"; fails=$((fails + 1)); }
	sleep 0.05   # the worker closes the database after the MTA has its answer
	w=$(stat -c %s "$T/dealmail.db-wal" 2>/dev/null || echo 0)
	[ "$w" -gt "$maxwal" ] && maxwal=$w
	[ "$w" -lt "$prev" ] && shrank=$((shrank + 1))
	prev=$w
done
check "60 messages on the pipe: all applied" "$(deals)" 62
check "the WAL stayed under 2 MiB (largest: $maxwal bytes)" "$([ "$maxwal" -lt 2097152 ] && echo yes)" yes
check "the WAL was checkpointed and emptied along the way" "$([ "$shrank" -ge 2 ] && echo yes)" yes
# an MTA delivers several messages at once: four pipes at a time, each
# retried on 75 as an MTA would (busy_timeout_ms is only 200 here)
export -f msg
seq 100 179 | xargs -P 4 -I{} bash -c '
	for try in 1 2 3 4 5 6; do
		msg {} | "$0" -q ingest >/dev/null 2>&1; rc=$?
		[ $rc -ne 75 ] && break
		sleep 0.$RANDOM
	done
	[ $rc -eq 0 ] || echo "exit $rc for {}"' "$DEALMAIL_BIN" > "$T/par" 2>&1
check "80 messages, four at a time: every one accepted (0, after retries on 75)" "$(cat "$T/par")" ""
check "80 messages, four at a time: all applied once" "$(deals)" 142
sleep 0.2
msg 180 | "$DEALMAIL_BIN" -q ingest >/dev/null
w=$(stat -c %s "$T/dealmail.db-wal" 2>/dev/null || echo 0)
check "then alone again, the WAL is back under 2 MiB ($w bytes)" "$([ "$w" -lt 2097152 ] && echo yes)" yes
check "integrity_check" "$($PY -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA integrity_check").fetchone()[0])' "$T/dealmail.db")" ok

# a writer that stalls: pipe_timeout counts while the message arrives too
printf '[dealmail]\npipe_timeout = 1\n' > "$T/short.conf"
sed -n '/^database/,$p' "$T/dealmail.conf" >> "$T/short.conf"
before=$(deals)
{ msg 181; sleep 3; } | {
	start=$(date +%s%N)
	DEALMAIL_CONFIG=$T/short.conf "$ING" > "$T/stall.out" 2>/dev/null
	echo "$? $(( ($(date +%s%N) - start) / 1000000 ))" > "$T/stall.rc"
}
read -r rc ms < "$T/stall.rc"
check "a writer stalling past pipe_timeout = 1: 75 at the deadline, not when the writer ends ($ms ms)" \
	"$rc $([ "$ms" -lt 2500 ] && echo early)" "75 early"
check "... with a 4.3.0 line" "$(cut -c1-6 "$T/stall.out")" "4.3.0 "
check "... and nothing applied" "$(deals)" "$before"

echo "t-mta: $fails failure(s)"
[ "$fails" -eq 0 ]
