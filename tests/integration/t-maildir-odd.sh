#!/usr/bin/env bash
# t-maildir-odd.sh — `ingest --maildir` on a Maildir whose new/ holds things
# that are not mail beside two messages: a directory, a FIFO (its open used
# to block the run for ever), a symlink to a file outside the Maildir (it
# was read as a message).  The messages are applied and marked; the rest is
# left where it is, untouched and unmarked, and the run ends.
set -u
: "${DEALMAIL_BIN:?DEALMAIL_BIN must name the binary under test}"
T=$(mktemp -d /tmp/dmodd.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
check() { if [ "$2" = "$3" ]; then echo "ok   - $1"; else echo "FAIL - $1: got '$2', expected '$3'"; fails=$((fails + 1)); fi; }
cat > "$T/dealmail.conf" <<EOC
[dealmail]
database = $T/dealmail.db
address = ventas@example.com
[rep "ana@example.com"]
name = Ana
EOC
export DEALMAIL_CONFIG=$T/dealmail.conf DEALMAIL_SECRET=odd-test-secret-0123456789abcdef DEALMAIL_NOW=2026-11-23T15:00:00Z
"$DEALMAIL_BIN" -q init >/dev/null || exit 1
M=$T/md
mkdir -p "$M/new" "$M/cur" "$M/tmp"
for i in 1 2; do
	printf 'From: Lead %s <lead%s@customer.example>\nTo: ventas@example.com\nSubject: Quote %s\nMessage-ID: <odd-%s@customer.example>\n\nHello\n' \
		"$i" "$i" "$i" "$i" > "$M/new/100$i.odd.host"
done
mkdir "$M/new/1000.subdir"
mkfifo "$M/new/1001.fifo"
printf 'From: x@y\nSubject: secret\n\nroot:x:0:0\n' > "$T/outside"
ln -s "$T/outside" "$M/new/1001.link"
timeout 20 "$DEALMAIL_BIN" -q ingest --maildir "$M" 2>"$T/err"
rc=$?
check "the run ends, exit 0 (what is not mail is no error)" "$rc" 0
check "the two messages: two leads" "$("$DEALMAIL_BIN" export --json | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["deals"]))')" 2
check "... marked (moved to cur/)" "$(ls "$M/cur" | grep -c '^100[12]\.odd\.host:2,S$')" 2
check "the directory, the FIFO and the symlink are left in new/, unmarked" \
	"$(cd "$M/new" && ls | sort | tr '\n' ' ')" "1000.subdir 1001.fifo 1001.link "
check "nothing of the file outside went to the quarantine" \
	"$("$DEALMAIL_BIN" export --json | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["quarantine"]))')" 0
grep -q "not a file, left alone\|left in place" "$T/err" && echo "ok   - says what it left alone" ||
	{ echo "FAIL - no word of what was left: $(cat "$T/err")"; fails=$((fails + 1)); }
echo "t-maildir-odd: $fails failure(s)"
[ "$fails" -eq 0 ]
