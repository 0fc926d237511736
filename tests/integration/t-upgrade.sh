#!/usr/bin/env bash
# Schema upgrade in place: a database at schema version 1 (the first release:
# version 2 added the indexes tasks_message and enrollments_message, version 3
# events_stage_deal, version 4 dropped events_at, version 5 activities_deal
# and activities_message, version 6 added outbox.failed_at, version 7
# wrote the CHECK on deals.status without IN) is brought
# up to date by the first read-write command, e.g. the MTA pipe after the
# binary was upgraded, without an explicit `init`; a read-only command on the
# old database says to run `dealmail init` and changes nothing.
#   DEALMAIL_BIN, KEEP=1
set -u
BIN=${DEALMAIL_BIN:-build/dealmail}
D=$(mktemp -d /tmp/dealmail-upgrade.XXXXXX)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$D"' EXIT
export DEALMAIL_NOW=2026-11-23T15:00:00Z DEALMAIL_SECRET=upgrade-secret-0123456789abcdef
fails=0
check() { if eval "$2"; then echo "  ok   $1"; else echo "  FAIL $1"; fails=$((fails + 1)); fi; }
cat >"$D/conf" <<EOF
[dealmail]
address = ventas@example.com
database = $D/db
[rep "ana@example.com"]
name = Ana
EOF
dm() { "$BIN" -q -c "$D/conf" "$@"; }
dm init >/dev/null
dm deal add --title "Acme" --contact compras@acme.example --owner ana@example.com >/dev/null
# make it the version-1 database a first-release install has
sqlite3 "$D/db" "DROP INDEX tasks_message; DROP INDEX enrollments_message; DROP INDEX events_stage_deal;
	CREATE INDEX events_at ON events(at); CREATE INDEX activities_deal ON activities(deal_id);
	CREATE INDEX activities_message ON activities(message_id); ALTER TABLE outbox DROP COLUMN failed_at;
	PRAGMA writable_schema = ON;
	UPDATE sqlite_master SET sql = replace(sql, 'CHECK(status = ''open'' OR status = ''won'' OR status = ''lost'')',
		'CHECK(status IN (''open'',''won'',''lost''))') WHERE name = 'deals';
	PRAGMA writable_schema = OFF;
	PRAGMA user_version = 1;"
check "the version-1 database has the first release's CHECK" "sqlite3 '$D/db' \"SELECT sql FROM sqlite_master WHERE name = 'deals'\" | grep -q \"CHECK(status IN ('open','won','lost'))\""

dm export --json >"$D/ro.out" 2>"$D/ro.err"; rc=$?
check "read-only command on a v1 database exits 74" "[ $rc = 74 ]"
check "... and says to run dealmail init" "grep -q 'dealmail init' '$D/ro.err'"
check "... and leaves it at version 1" "[ \"\$(sqlite3 '$D/db' 'PRAGMA user_version')\" = 1 ]"

printf 'From: Ana <ana@example.com>\r\nTo: ventas@example.com\r\nSubject: Re: [deal #1] Acme\r\nMessage-ID: <up-1@example.com>\r\nDate: Mon, 23 Nov 2026 14:00:00 +0000\r\n\r\nnota: llamar el lunes\r\n' |
	dm ingest; rc=$?
check "pipe ingest on a v1 database exits 0" "[ $rc = 0 ]"
check "... and upgraded it to version 7" "[ \"\$(sqlite3 '$D/db' 'PRAGMA user_version')\" = 7 ]"
check "... with outbox.failed_at" "[ \"\$(sqlite3 '$D/db' \"SELECT count(*) FROM pragma_table_info('outbox') WHERE name = 'failed_at'\")\" = 1 ]"
check "... with the new indexes" "[ \"\$(sqlite3 '$D/db' \"SELECT count(*) FROM sqlite_master WHERE name IN ('tasks_message','enrollments_message','events_stage_deal')\")\" = 3 ]"
check "... and without those versions 4 and 5 dropped" "[ \"\$(sqlite3 '$D/db' \"SELECT count(*) FROM sqlite_master WHERE name IN ('events_at','activities_deal','activities_message')\")\" = 0 ]"
check "... with the CHECK on deals.status written without IN" "sqlite3 '$D/db' \"SELECT sql FROM sqlite_master WHERE name = 'deals'\" | grep -q \"CHECK(status = 'open' OR status = 'won' OR status = 'lost')\""
check "... which still refuses a status that is none of them" "! sqlite3 '$D/db' \"UPDATE deals SET status = 'closed'\" 2>/dev/null"
check "... and the database is sound" "[ \"\$(sqlite3 '$D/db' 'PRAGMA integrity_check')\" = ok ]"
check "the note was applied once" "[ \"\$(dm export --json | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(1 for e in d[\"events\"] if e[\"type\"]==\"note\"))')\" = 1 ]"
echo "t-upgrade: $fails failed"
[ "$fails" = 0 ]
