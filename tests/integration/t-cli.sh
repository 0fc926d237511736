#!/usr/bin/env bash
# t-cli.sh — the command line of SPEC §2 as a script sees it: a bad command
# line is 64 with the reason on stderr and nothing on stdout, whatever the
# command (extra arguments, two sources, two messages for explain, an
# unknown --format); the good forms still work.
set -u
: "${DEALMAIL_BIN:?DEALMAIL_BIN must name the binary under test}"
T=$(mktemp -d /tmp/dmcli.XXXXXX)
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
export DEALMAIL_CONFIG=$T/dealmail.conf DEALMAIL_SECRET=cli-test-secret-0123456789abcdef DEALMAIL_NOW=2026-11-23T15:00:00Z
"$DEALMAIL_BIN" init >/dev/null || exit 1
printf 'From: Ana <ana@example.com>\nTo: ventas@example.com\nSubject: hola\nMessage-ID: <c1@example.com>\n\nhelp\n' > "$T/m.eml"
cp "$T/m.eml" "$T/n.eml"
mkdir -p "$T/md/new" "$T/md/cur" "$T/md/tmp"
: > "$T/box.mbox"

usage() {   # usage NAME ARGS...: exit 64, a reason on stderr, stdout empty
	local name=$1
	shift
	"$DEALMAIL_BIN" "$@" > "$T/out" 2> "$T/err"
	check "$name: exit 64" "$?" 64
	check "$name: nothing on stdout" "$(wc -c < "$T/out")" 0
	if [ -s "$T/err" ]; then echo "ok   - $name: says why on stderr"; else
		echo "FAIL - $name: nothing on stderr"; fails=$((fails + 1)); fi
}
usage "no command" -q
usage "version with an argument" version extra
usage "help with two arguments" help init extra
usage "deal list with an argument" deal list extra
usage "deal list --stage with an argument" deal list --stage new extra
usage "explain with two messages" explain "$T/m.eml" "$T/n.eml"
usage "explain --format=yaml" explain "$T/m.eml" --format=yaml
usage "explain --format yaml" explain "$T/m.eml" --format yaml
usage "ingest --mbox and --maildir" ingest --mbox "$T/box.mbox" --maildir "$T/md"
usage "ingest --maildir twice" ingest --maildir "$T/md" --maildir "$T/md"

"$DEALMAIL_BIN" explain "$T/m.eml" --format=json > "$T/out"
check "explain --format=json: exit 0" "$?" 0
check "explain --format=json: JSON" "$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["class"])' "$T/out")" rep
"$DEALMAIL_BIN" explain --format text < "$T/m.eml" | grep -q "^class: *rep"
check "explain from standard input, as text" "$?" 0
"$DEALMAIL_BIN" version > /dev/null
check "version: exit 0" "$?" 0
"$DEALMAIL_BIN" help ingest > /dev/null
check "help ingest: exit 0" "$?" 0
"$DEALMAIL_BIN" ingest --maildir "$T/md"
check "ingest --maildir (empty): exit 0" "$?" 0
# export --json writes a value as a person wrote it, not the nearest double's
# 17 digits (19.99, not 19.989999999999998), and a whole value with ".0"
"$DEALMAIL_BIN" -q deal add --title Cents --contact c1@acme.mx --owner ana@example.com --value 19.99 > /dev/null
"$DEALMAIL_BIN" -q deal add --title Whole --contact c2@acme.mx --owner ana@example.com --value '3.199,99 BRL' > /dev/null
"$DEALMAIL_BIN" -q deal add --title Round --contact c3@acme.mx --owner ana@example.com --value 12000 > /dev/null
check "export: 19.99 as written" "$("$DEALMAIL_BIN" export --json | grep -o '"value":[^,]*' | tr '\n' ' ')" '"value":19.99 "value":3199.99 "value":12000.0 '
# a deal added as lost follows the pipeline's rule for a rep's "lost:": the
# required reason (64 without it), given as --reason, read as the rep's is
usage "deal add --stage lost without the required --reason" deal add --title Gone --contact g@acme.mx --stage lost
"$DEALMAIL_BIN" -q deal add --title Gone --contact g@acme.mx --owner ana@example.com --stage lost --reason "la competencia" > /dev/null
check "deal add --stage lost --reason: exit 0" "$?" 0
check "deal add --reason: the configured reason" "$("$DEALMAIL_BIN" export --json | /usr/bin/python3 -c 'import json,sys; print([d["reason"] for d in json.load(sys.stdin)["deals"] if d["title"] == "Gone"])')" "['competitor']"
# a database nobody created: 74, and the error says what to do
"$DEALMAIL_BIN" --db "$T/nothing-here.db" deal list > /dev/null 2> "$T/err"
check "deal list on a database not created: exit 74" "$?" 74
check "... and says to run init" "$(grep -c 'run `dealmail init` first' "$T/err")" 1
# config check: require_auth without the authserv-id it trusts is reported
# with its line (78); a default stage that is the win stage too
printf '[dealmail]\naddress = ventas@example.com\nrequire_auth = yes\n' > "$T/auth.conf"
"$DEALMAIL_BIN" -c "$T/auth.conf" config check > /dev/null 2> "$T/err"
check "config check: require_auth without authserv_id: exit 78" "$?" 78
check "... at its line" "$(grep -c "auth.conf:3: require_auth = yes needs authserv_id" "$T/err")" 1
printf '[dealmail]\naddress = ventas@example.com\nrequire_auth = yes\nauthserv_id = mx.example.com\n' > "$T/auth.conf"
"$DEALMAIL_BIN" -c "$T/auth.conf" config check > /dev/null 2>&1
check "config check: require_auth with authserv_id: exit 0" "$?" 0
printf '[pipeline]\ndefault = won\n' > "$T/def.conf"
"$DEALMAIL_BIN" -c "$T/def.conf" config check > /dev/null 2> "$T/err"
check "config check: default = won: exit 78" "$?" 78
check "... at its line" "$(grep -c 'def.conf:2: "won" is both the default stage and the win stage' "$T/err")" 1
# help for a command with a subcommand, as the table writes it
"$DEALMAIL_BIN" help deal add > "$T/out" 2>&1
check "help deal add: exit 0" "$?" 0
check "... shows deal's usage" "$(grep -c 'deal add --title T' "$T/out")" 1
"$DEALMAIL_BIN" help config check > /dev/null 2>&1
check "help config check: exit 0" "$?" 0
"$DEALMAIL_BIN" help deal nonsense > /dev/null 2>&1
check "help deal nonsense: exit 64" "$?" 64
echo "t-cli: $fails failure(s)"
[ "$fails" -eq 0 ]
