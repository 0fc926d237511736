#!/usr/bin/env bash
# IMAP benchmarks against a throwaway Dovecot on 127.0.0.1 (needs root and
# dovecot-imapd; tests/integration/imap/lib.sh):
#   first pass: MAILDIR's messages (the shared ingest corpus) delivered into the
#   Dovecot mailbox, then `dealmail watch --once` over imaps:// vs the peer:
#   curl fetching the same mailbox over imaps:// into a Maildir (one process,
#   one connection) followed by `dealmail ingest --maildir`;
#   IDLE: N messages APPENDed one at a time to a running `dealmail watch`,
#   arrival-to-commit latency of each.
# usage: imap_bench.sh DEALMAIL_BIN CORPUS_MAILDIR DEALS_CSV N_IDLE
# prints: first_pass MSGS SECONDS PEAK_KB PEER_SECONDS
#         idle MEDIAN_MS MAX_MS
set -u
BIN=$1 CORPUS=$2 CSV=$3 NIDLE=${4:-100}
DEALMAIL_BIN=$BIN
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/integration/imap/lib.sh"
export DEALMAIL_SECRET=${DEALMAIL_SECRET:-bench-secret-0123456789abcdef} DEALMAIL_NOW=${DEALMAIL_NOW:-2026-11-23T15:00:00Z}
dovecot_init
n=0
for f in "$CORPUS"/cur/* "$CORPUS"/new/*; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	cp "$f" "$MAILDIR/new/$n.bench"
done
chown -R nobody:nogroup "$MAILDIR"
dovecot_start || exit 1
IMAPS="imaps://127.0.0.1:$IMAPS_PORT/INBOX"
CONF=$D/dm.conf
dealmail_config "$CONF" "$IMAPS" "ca_file = $D/cert.pem"
sed -i "s#^database = .*#database = $D/dm.db#" "$CONF"
printf '[rep "luis@example.com"]\nname = Luis\nlanguage = pt\n[rep "bob@example.com"]\nname = Bob\nlanguage = en\n' >> "$CONF"
"$BIN" -q -c "$CONF" init >/dev/null
"$BIN" -q -c "$CONF" deal import --csv "$CSV" >/dev/null
# Dovecot indexes the delivered files on the first SELECT: let that happen
# before timing anybody
curl -s --cacert "$D/cert.pem" -u test:secret "$IMAPS" -X 'EXAMINE INBOX' >/dev/null
t0=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$D/rss" "$BIN" -q -c "$CONF" watch --once
t1=$(date +%s.%N)
# the peer: curl into a Maildir, then ingest --maildir into a fresh database
mkdir -p "$D/fetched/cur" "$D/fetched/new" "$D/fetched/tmp"
CONF2=$D/dm2.conf
sed "s#^database = .*#database = $D/dm2.db#" "$CONF" > "$CONF2"
"$BIN" -q -c "$CONF2" init >/dev/null
"$BIN" -q -c "$CONF2" deal import --csv "$CSV" >/dev/null
t2=$(date +%s.%N)
curl -s --cacert "$D/cert.pem" -u test:secret "$IMAPS/;UID=[1-$n]" -o "$D/fetched/new/#1.eml"
"$BIN" -q -c "$CONF2" ingest --maildir "$D/fetched"
t3=$(date +%s.%N)
fetched=$(ls "$D/fetched/new" "$D/fetched/cur" | grep -c eml)
[ "$fetched" = "$n" ] || { echo "peer fetched $fetched of $n" >&2; exit 1; }
echo "first_pass $n $(awk "BEGIN{print $t1 - $t0}") $(cat "$D/rss") $(awk "BEGIN{print $t3 - $t2}")"

# IDLE latency
"$BIN" -q -c "$CONF" watch 2>"$D/watch.log" &
BG_PIDS=$!
sleep 1
lat=()
for i in $(seq 1 "$NIDLE"); do
	before=$(sqlite3 "$D/dm.db" "SELECT COUNT(*) FROM processed")
	mkmsg $((900000 + i)) idle > "$D/idle.eml"
	s=$(date +%s%N)
	curl -s -T "$D/idle.eml" "imap://127.0.0.1:$IMAP_PORT/INBOX" -u test:secret
	while [ "$(sqlite3 "$D/dm.db" "SELECT COUNT(*) FROM processed")" = "$before" ]; do
		[ $(( ($(date +%s%N) - s) / 1000000 )) -gt 10000 ] && { echo "idle: message $i not processed in 10 s" >&2; exit 1; }
		sleep 0.01
	done
	lat+=($(( ($(date +%s%N) - s) / 1000000 )))
done
printf '%s\n' "${lat[@]}" | sort -n | awk '{a[NR]=$1} END {printf "idle %d %d\n", a[int((NR+1)/2)], a[NR]}'
