#!/usr/bin/env bash
# ThreadSanitizer check of the batch (make tsan): `ingest --maildir` runs one
# parsing thread per core, a renaming thread and the applying thread.  Their
# shared state (the read-ahead ring, the marker, caches such as text_fold's)
# is exercised by 400 rep replies whose lines fold through libunistring
# (curly quotes, dashes, Cyrillic, Japanese: beyond the Latin fast path) and
# carry commands, in batches of 50.  Any ThreadSanitizer report fails it, and
# so does a wrong result: every note applied once, every file marked.
#   DEALMAIL_BIN  the ThreadSanitizer build (make tsan builds build-tsan/dealmail)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BIN=${DEALMAIL_BIN:?DEALMAIL_BIN: the ThreadSanitizer build of dealmail}
work=$(mktemp -d "${TMPDIR:-/tmp}/dealmail-tsan.XXXXXX")
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$here/gen.py" "$work" 400
export DEALMAIL_NOW=2026-11-23T15:00:00Z DEALMAIL_SECRET=tsan-secret-0123456789abcdef
export DEALMAIL_BATCH_MAX=50
export TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1"
dm() { "$BIN" -q -c "$work/dealmail.conf" --db "$work/dm.db" "$@"; }
dm init >/dev/null
dm deal import --csv "$work/deals.csv" >/dev/null
rc=0
dm ingest --maildir "$work/maildir" 2>"$work/stderr" || rc=$?
fail=0
if grep -q "ThreadSanitizer" "$work/stderr"; then
	echo "tsan: ThreadSanitizer reports:"
	grep -A14 "WARNING: ThreadSanitizer" "$work/stderr" | head -80
	fail=1
fi
if [ "$rc" != 0 ]; then
	echo "tsan: ingest --maildir exited $rc"
	tail -5 "$work/stderr"
	fail=1
fi
left=$(find "$work/maildir/new" -type f | wc -l)
notes=$(dm export --json | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(1 for e in d["events"] if e["type"] == "note"))')
if [ "$left" != 0 ] || [ "$notes" != 400 ]; then
	echo "tsan: $left files left in new/, $notes notes (want 0 and 400)"
	fail=1
fi
[ "$fail" = 0 ] && echo "tsan: 400 messages, 0 reports, 400 notes, new/ empty"
exit "$fail"
