#!/usr/bin/env bash
# make demo: a throwaway config and database, a handful of deals imported from
# CSV, a sample Maildir of rep and client replies (es, pt, en) ingested, and
# the pipeline before and after, with the replies dealmail queued.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
bin=${DEALMAIL_BIN:-$top/build/dealmail}
work=$(mktemp -d /tmp/dealmail-demo.XXXXXX)
cp "$here/dealmail.conf" "$here/deals.csv" "$work/"
cp -R "$here/maildir" "$work/maildir"
export DEALMAIL_NOW=${DEALMAIL_NOW:-2026-11-23T18:00:00Z}
dm() { "$bin" -c "$work/dealmail.conf" --db "$work/dealmail.db" "$@"; }

echo "== dealmail demo in $work"
dm init
dm deal import --csv "$work/deals.csv"
echo
echo "== pipeline before"
dm deal list
echo
echo "== ingesting $(ls "$work/maildir/cur" | wc -l) messages from the sample Maildir"
for f in "$work"/maildir/cur/*; do
	printf '\n-- %s\n' "$(grep -m1 -i '^Subject:' "$f")"
	dm explain "$f" | sed 's/^/   /'
done
dm ingest --maildir "$work/maildir"
echo
echo "== pipeline after"
dm deal list
echo
echo "== history of deal #1"
dm deal show 1
echo
echo "== replies and notifications queued in the outbox"
dm export --json | /usr/bin/env python3 -c '
import json, sys
d = json.load(sys.stdin)
for o in d["outbox"]:
    print("  #%-3d %-13s to %-24s %s" % (o["id"], o["kind"], o["to"], o["subject"]))
'
if dm send >/dev/null 2>&1; then
	echo
	echo "== delivered to the Maildir transport; the first confirmation and error:"
	for k in confirmation error; do
		f=$(grep -l "^Subject: " "$work"/outbox-maildir/new/* 2>/dev/null | xargs grep -l "X-Dealmail" | head -n1 || true)
		[ -n "$f" ] && sed -n '1,40p' "$f" | sed 's/^/   /' && break
	done
fi
echo
echo "demo files kept in $work"
