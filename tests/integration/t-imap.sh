#!/usr/bin/env bash
# t-imap.sh — `watch` and `run` against a real Dovecot on 127.0.0.1 (its own
# config, passwd-file user, self-signed certificate; see imap/lib.sh).
#
# Each message comes from a distinct new sender, so each processed message
# creates exactly one deal: "N messages -> N deals, each contact once" is the
# exactly-once check.  The server side is checked with doveadm search.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/imap/lib.sh"
: "${DEALMAIL_BIN:?DEALMAIL_BIN must name the binary under test}"
W=${WRAP:-}
N_FIRST=${N_FIRST:-500}

dovecot_require t-imap.sh

fails=0
ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; fails=$((fails + 1)); }
check() {  # check DESCRIPTION ACTUAL EXPECTED
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', expected '$3'"; fi
}
now_ms() { date +%s%3N; }
# wait_deals N SECONDS: poll until N deals exist; prints the elapsed ms
wait_deals() {
	local want=$1 limit=$(($2 * 1000)) t0 n
	t0=$(now_ms)
	while :; do
		n=$(ndeals)
		[ "$n" = "$want" ] && { echo $(($(now_ms) - t0)); return 0; }
		[ $(($(now_ms) - t0)) -gt "$limit" ] && { echo "timeout($n)"; return 1; }
		sleep 0.05
	done
}
# wait_log PATTERN FILE SECONDS
wait_log() {
	local i
	for i in $(seq 1 $(($3 * 20))); do
		grep -q "$1" "$2" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
dm() { $W "$DEALMAIL_BIN" -c "$CONF" "$@"; }   # foreground only: in the background $! would be the subshell
BG_PIDS=

dovecot_init
dovecot_start || exit 1
CONF=$D/dealmail.conf
IMAPS=imaps://127.0.0.1:$IMAPS_PORT/INBOX

# ---- TLS: refused without the CA, accepted with it --------------------
dealmail_config "$CONF" "$IMAPS"
dm init >/dev/null || { bad "init"; exit 1; }
deliver_range 1 3 tls
dm watch --once 2>"$D/err"
rc=$?
check "untrusted certificate: watch --once exits 77" "$rc" 77
grep -q "certificate refused" "$D/err" && ok "untrusted certificate: says why" ||
	bad "untrusted certificate: message: $(cat "$D/err")"
check "untrusted certificate: nothing processed, nothing marked" "$(ndeals) $(count_search mailbox INBOX keyword '$Dealmail')" "0 0"
grep -q "Login: user=<test>" "$D/dovecot.log" &&
	bad "untrusted certificate: credentials were sent" || ok "untrusted certificate: no credentials sent"

dealmail_config "$CONF" "imaps://localhost:$IMAPS_PORT/INBOX" "ca_file = $D/cert.pem"
dm watch --once 2>"$D/err"
check "trusted CA, host name: watch --once exits 0" "$?" 0
check "trusted CA: 3 messages, 3 deals" "$(ndeals)" 3

openssl req -x509 -newkey rsa:2048 -nodes -days 30 -keyout "$D/other.key" -out "$D/other.pem" \
	-subj /CN=other.example -addext "subjectAltName=DNS:other.example" 2>/dev/null
dealmail_config "$CONF" "$IMAPS" "ca_file = $D/other.pem"
dm watch --once 2>"$D/err"
check "certificate of another CA: refused (77)" "$?" 77

dealmail_config "$CONF" "imap://127.0.0.1:$IMAP_PORT/INBOX" "ca_file = $D/cert.pem"
deliver_range 4 5 tls
dm watch --once 2>"$D/err"
check "STARTTLS with the CA: exits 0" "$?" 0
check "STARTTLS: 5 deals" "$(ndeals)" 5

DEALMAIL_IMAP_PASSWORD=wrong dm watch --once 2>"$D/err"
check "wrong password (from the environment): exits 77" "$?" 77
dealmail_config "$CONF" "$IMAPS" "ca_file = $D/cert.pem" "auth = plain"
deliver_range 6 6 tls
dm watch --once 2>"$D/err"
check "AUTHENTICATE PLAIN: exits 0" "$?" 0
check "AUTHENTICATE PLAIN: 6 deals" "$(ndeals)" 6

# ---- OpenSSL: loaded at the first TLS connection, never for plain text ------
# (imap.c dlopens libssl.so.3; the dynamic loader's trace says what was loaded)
dealmail_config "$CONF" "imap://127.0.0.1:$IMAP_PORT/INBOX" "tls = none"
deliver_range 7 7 plain
rm -f "$D"/ld.*
LD_DEBUG=files LD_DEBUG_OUTPUT=$D/ld dm watch --once 2>"$D/err"
check "tls = none: exits 0" "$?" 0
check "tls = none: 7 deals" "$(ndeals)" 7
cat "$D"/ld.* 2>/dev/null | grep -q "file=libssl.so.3" &&
	bad "tls = none: libssl was loaded" || ok "tls = none: libssl not loaded"
dealmail_config "$CONF" "$IMAPS" "ca_file = $D/cert.pem"
rm -f "$D"/ld.*
LD_DEBUG=files LD_DEBUG_OUTPUT=$D/ld dm watch --once 2>"$D/err"
check "imaps: exits 0" "$?" 0
cat "$D"/ld.* 2>/dev/null | grep -q "file=libssl.so.3" && ok "imaps: libssl loaded when needed" ||
	bad "imaps: libssl not seen in the loader's trace"
rm -f "$D"/ld.*
# an unloadable libssl.so.3 found first: what a system without libssl3 gets
mkdir -p "$D/nossl" && : > "$D/nossl/libssl.so.3"
deliver_range 8 8 nossl
LD_LIBRARY_PATH=$D/nossl${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} dm watch --once 2>"$D/err"
check "no libssl: exits 75 (temporary, like a failed TLS set-up)" "$?" 75
grep -q "cannot load OpenSSL (.*): install libssl3" "$D/err" && ok "no libssl: says what to install" ||
	bad "no libssl: message: $(cat "$D/err")"
check "no libssl: nothing processed" "$(ndeals)" 7
dealmail_config "$CONF" "imap://127.0.0.1:$IMAP_PORT/INBOX" "tls = none"
LD_LIBRARY_PATH=$D/nossl${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} dm watch --once 2>"$D/err"
check "no libssl, tls = none: exits 0 (plain text never needs it)" "$?" 0
check "no libssl, tls = none: the message processed" "$(ndeals)" 8

# ---- first pass over N_FIRST messages ------------------------------------
dealmail_config "$CONF" "$IMAPS" "ca_file = $D/cert.pem"
deliver_range 1001 $((1000 + N_FIRST)) first
t0=$(now_ms)
dm watch --once 2>"$D/err"
rc=$?
t1=$(now_ms)
check "first pass over $N_FIRST messages: exits 0" "$rc" 0
check "first pass: one deal per message" "$(ndeals)" $((8 + N_FIRST))
check_unique && ok "first pass: no contact has two deals" || bad "first pass: duplicates"
check "first pass: all marked \\Seen \$Dealmail on the server" \
	"$(count_search mailbox INBOX keyword '$Dealmail' seen)" $((8 + N_FIRST))
echo "     measured: $N_FIRST messages in $((t1 - t0)) ms ($((N_FIRST * 1000 / (t1 - t0 + 1))) msg/s, TLS included)"
dm watch --once 2>"$D/err"
check "second pass: nothing new, nothing applied twice" "$? $(ndeals)" "0 $((8 + N_FIRST))"
base=$((8 + N_FIRST))

# ---- an unparseable message: quarantined, marked, the pass goes on ----------
printf 'this is not a mail\001\002 at all\r\n' > "$D/junk.eml"
curl -s -T "$D/junk.eml" "imap://127.0.0.1:$IMAP_PORT/INBOX" -u test:secret
append_msg 1999 afterjunk
dm watch --once 2>"$D/err"
check "junk message: watch --once exits 0 (kept in the quarantine)" "$?" 0
check "junk message: 1 quarantined, the next message applied" "$(counts | cut -d' ' -f1,3)" "$((base + 1)) 1"
check "junk message: marked too" "$(count_search mailbox INBOX keyword '$Dealmail')" $((base + 2))
base=$((base + 1))

# ---- IDLE: an appended message is processed quickly ----------------------
$W "$DEALMAIL_BIN" -c "$CONF" -v watch 2>"$D/watch.log" &
wpid=$!
BG_PIDS="$wpid"
wait_log "waiting for new mail" "$D/watch.log" 10 || bad "watch did not reach IDLE: $(tail -3 "$D/watch.log")"
lat=""
for i in 1 2 3 4 5; do
	append_msg $((2000 + i)) idle
	ms=$(wait_deals $((base + i)) 5)
	lat="$lat $ms"
done
base=$((base + 5))
worst=$(echo $lat | tr ' ' '\n' | sort -n | tail -1)
echo "     measured: arrival-to-commit under IDLE (ms):$lat"
case $worst in
timeout*) bad "IDLE: a message was not picked up within 5 s" ;;
*) [ "$worst" -le 2000 ] && ok "IDLE: each appended message processed within 2 s (worst ${worst} ms)" ||
	bad "IDLE: slow pickup (worst ${worst} ms)" ;;
esac

# ---- SIGHUP: a bad configuration is refused, a good one reloaded -----------
cp "$CONF" "$D/good.conf"
echo "[pipeline]" >> "$CONF"
echo "default = nosuchstage" >> "$CONF"
kill -HUP "$wpid"
wait_log "keeping the running one" "$D/watch.log" 5 && ok "SIGHUP with a bad config: refused, the running one kept" ||
	bad "SIGHUP bad config: $(tail -2 "$D/watch.log")"
cp "$D/good.conf" "$CONF"
kill -HUP "$wpid"
wait_log "configuration reloaded" "$D/watch.log" 5 && ok "SIGHUP: configuration reloaded" || bad "SIGHUP: no reload"
append_msg 2100 hup
ms=$(wait_deals $((base + 1)) 5) && ok "after SIGHUP: still watching (${ms} ms)" || bad "after SIGHUP: $ms"
base=$((base + 1))

# ---- lock: a second watcher is refused ----------------------------------
dm watch --once 2>"$D/err"
rc=$?
check "second watcher on the same database: exits 75" "$rc" 75
grep -q "another dealmail" "$D/err" && ok "second watcher: says who holds the lock" || bad "lock message: $(cat "$D/err")"

# ---- Dovecot killed mid-IDLE, messages delivered while it is down ---------
dovecot_kill
deliver_range 3001 3020 down
sleep 1
dovecot_start || bad "dovecot restart"
ms=$(wait_deals $((base + 20)) 30) && ok "server killed and restarted: the 20 messages delivered meanwhile processed (${ms} ms after restart)" ||
	bad "after the server restart: $ms deals"
base=$((base + 20))
append_msg 3100 after
ms=$(wait_deals $((base + 1)) 5) && ok "after reconnecting, IDLE works again (${ms} ms)" || bad "no IDLE after reconnect: $ms"
base=$((base + 1))
check_unique && ok "restart: nothing applied twice" || bad "restart: duplicates"
check "restart: everything marked on the server (the junk one too)" "$(count_search mailbox INBOX keyword '$Dealmail')" "$((base + 1))"

# ---- SIGTERM: clean exit --------------------------------------------------
kill -TERM "$wpid"
wait "$wpid"
check "watch: SIGTERM while idling exits 0" "$?" 0
BG_PIDS=

# ---- UIDVALIDITY change ------------------------------------------------
# Stop the server, drop its UID list and indexes, remove most messages: the
# survivors get UIDs 1.. under a new UIDVALIDITY, below our checkpoint, and
# new mail gets UIDs the old checkpoint would skip.
dovecot_stop
sleep 1.1   # Dovecot derives UIDVALIDITY from the clock
find "$MAILDIR/cur" "$MAILDIR/new" -type f | sort | tail -n +11 | xargs rm -f
rm -f "$MAILDIR"/dovecot-uidlist "$MAILDIR"/dovecot.index* "$MAILDIR"/dovecot-keywords
dovecot_start || bad "dovecot restart"
append_msg 4001 uv
append_msg 4002 uv
dm watch --once 2>"$D/err"
rc=$?
check "UIDVALIDITY change: exits 0" "$rc" 0
grep -q "UIDVALIDITY changed" "$D/err" && ok "UIDVALIDITY change: noticed" || bad "UIDVALIDITY change not logged"
check "UIDVALIDITY change: the 2 new messages applied, the 10 old ones not again" "$(ndeals)" $((base + 2))
base=$((base + 2))
check_unique && ok "UIDVALIDITY change: no duplicates" || bad "UIDVALIDITY: duplicates"
check "UIDVALIDITY change: all 12 marked" "$(count_search mailbox INBOX keyword '$Dealmail')" 12

# ---- run: SIGTERM mid-batch, and a crash (SIGKILL) mid-batch --------------
# Each round lets `run` commit some 80 more messages, then stops it: TERM
# (finish the message in hand, make the batch durable, mark it, exit 0) or
# KILL (a crash: committed but unmarked messages are marked at the next start).
deliver_range 5001 5600 run
rounds=0 killed_mid=0
while [ "$rounds" -lt 12 ]; do
	rounds=$((rounds + 1))
	before=$(ndeals)
	$W "$DEALMAIL_BIN" -c "$CONF" run 2>>"$D/run.log" &
	rpid=$!
	BG_PIDS=$rpid
	for i in $(seq 1 200); do
		[ "$(ndeals)" -ge $((before + 80)) ] && break
		sleep 0.02
	done
	if [ $((rounds % 2)) = 0 ]; then
		kill -KILL "$rpid"; wait "$rpid" 2>/dev/null
		[ "$(ndeals)" -lt $((base + 600)) ] && killed_mid=$((killed_mid + 1))
	else
		kill -TERM "$rpid"; wait "$rpid"
		rc=$?
		[ "$rc" = 0 ] || bad "run: SIGTERM exit code $rc (round $rounds)"
	fi
	BG_PIDS=
	n=$(ndeals)
	marked=$(count_search mailbox INBOX keyword '$Dealmail')
	[ "$marked" -le "$n" ] || bad "run round $rounds: $marked marked but only $n committed"
	[ "$n" -ge $((base + 600)) ] && break
done
dm watch --once 2>>"$D/run.log"
check "run stopped $rounds times ($killed_mid by SIGKILL mid-pass): all 600 applied once" "$(ndeals)" $((base + 600))
base=$((base + 600))
check_unique && ok "run interrupted: no duplicates" || bad "run interrupted: duplicates"
check "run interrupted: all marked on the server" "$(count_search mailbox INBOX keyword '$Dealmail')" $((12 + 600))
# Whether a SIGTERM landed inside a pass depends on the machine's speed: say
# which case was exercised, but only the outcome above (all applied once, no
# duplicates, all marked) decides the test.
grep -q "quarantined (stopping)" "$D/run.log" && ok "run: SIGTERM stopped a pass in the middle and exited 0" ||
	echo "info - run: every SIGTERM arrived between passes this time ($killed_mid SIGKILLs landed mid-pass)"
grep -q "stopping: signal received" "$D/run.log" && ok "run: logs its clean stop" || bad "run: no stop message"

# ---- processed = move:FOLDER, and the no-MOVE fallback -------------------
dealmail_config "$CONF" "$IMAPS" "ca_file = $D/cert.pem" "processed = move:Done"
deliver_range 6001 6010 mv
dm watch --once 2>"$D/err"
check "move: exits 0" "$?" 0
check "move: 10 deals more" "$(ndeals)" $((base + 10))
base=$((base + 10))
# switching from flag to move also moves what was processed (and flagged)
# before: every UID at or below the checkpoint still in INBOX is processed
check "move: the 10 new and the 612 processed earlier are in Done" "$(count_search mailbox Done all)" 622
check "move: INBOX is empty" "$(count_search mailbox INBOX all)" 0

# [imap] quarantine = FOLDER: an unparseable message is kept in the database
# and moved to that folder instead of being marked like the others
dealmail_config "$CONF" "$IMAPS" "ca_file = $D/cert.pem" "processed = move:Done" "quarantine = Quarantine"
q0=$(counts | cut -d' ' -f3)
printf 'not a mail either\001\r\n' > "$D/junk2.eml"
curl -s -T "$D/junk2.eml" "imap://127.0.0.1:$IMAP_PORT/INBOX" -u test:secret
append_msg 6050 afterjunk2
dm watch --once 2>"$D/err"
check "quarantine folder: exits 0" "$?" 0
check "quarantine folder: one more in the database's quarantine, the next message applied" \
	"$(counts | cut -d' ' -f3) $(ndeals)" "$((q0 + 1)) $((base + 1))"
base=$((base + 1))
check "quarantine folder: the junk is in Quarantine" "$(count_search mailbox Quarantine all)" 1
check "quarantine folder: the good one is in Done, INBOX is empty" \
	"$(count_search mailbox Done all) $(count_search mailbox INBOX all)" "623 0"

# a folder named in Spanish goes out in modified UTF-7 ("A&APE-o": the server
# refused raw UTF-8 and nothing was ever moved); moving to the mailbox read
# itself is refused (each pass would fetch its messages again)
dealmail_config "$CONF" "$IMAPS" "ca_file = $D/cert.pem" "processed = move:Año"
append_msg 6060 utf8folder
dm watch --once 2>"$D/err"
check "move:Año: exits 0" "$?" 0
check "move:Año: the message is in Año, INBOX is empty" \
	"$(count_search mailbox 'Año' all) $(count_search mailbox INBOX all) $(ndeals)" "1 0 $((base + 1))"
base=$((base + 1))
# SPEC's own example, "move:Dealmail/Done": this Dovecot's hierarchy
# separator is '.', and a '/' in a name was refused on every MOVE
dealmail_config "$CONF" "$IMAPS" "ca_file = $D/cert.pem" "processed = move:Dealmail/Done"
append_msg 6070 nestedfolder
dm watch --once 2>"$D/err"
check "move:Dealmail/Done: exits 0" "$?" 0
check "move:Dealmail/Done: the message is in Dealmail.Done (the server's separator), INBOX is empty" \
	"$(count_search mailbox 'Dealmail.Done' all) $(count_search mailbox INBOX all) $(ndeals)" "1 0 $((base + 1))"
base=$((base + 1))
dealmail_config "$CONF" "$IMAPS" "ca_file = $D/cert.pem" "processed = move:INBOX"
dm watch --once 2>"$D/err"
check "move:INBOX, the mailbox read: exit 78" "$?" 78
dealmail_config "$CONF" "$IMAPS" "ca_file = $D/cert.pem" "processed = move:Done" "quarantine = Quarantine"

dovecot_stop
dovecot_config "imap_capability = IMAP4rev1 SASL-IR LITERAL+ UIDPLUS"   # no IDLE, no MOVE
dovecot_start || bad "dovecot restart"
deliver_range 6101 6105 cp
dm watch --once 2>"$D/err"
check "no MOVE: COPY + \\Deleted + UID EXPUNGE: exits 0" "$?" 0
check "no MOVE: 5 deals more" "$(ndeals)" $((base + 5))
base=$((base + 5))
check "no MOVE: the 5 are in Done" "$(count_search mailbox Done header Message-ID cp)" 5
check "no MOVE: none left in INBOX" "$(count_search mailbox INBOX header Message-ID cp)" 0

$W "$DEALMAIL_BIN" -c "$CONF" -v watch 2>"$D/noop.log" &
wpid=$!
BG_PIDS=$wpid
wait_log "selected" "$D/noop.log" 10
sleep 0.5
append_msg 6201 noop
ms=$(wait_deals $((base + 1)) 25) && ok "no IDLE: NOOP polling picks the message up (${ms} ms)" || bad "no IDLE: $ms"
base=$((base + 1))
kill -TERM "$wpid"; wait "$wpid"
BG_PIDS=

echo "t-imap: $fails failure(s)"
[ "$fails" -eq 0 ]
