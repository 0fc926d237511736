# tests/integration/imap/lib.sh — a throwaway Dovecot on 127.0.0.1 and mail
# helpers for the IMAP tests.  Source it; call dovecot_init once, then
# dovecot_start / dovecot_stop / dovecot_kill as needed; cleanup runs on EXIT.
#
# Needs root (Dovecot drops to nobody / dovenull itself) and dovecot-imapd.
# Ports are picked free at start, so several test runs can share a machine.

DOVECOT_BIN=${DOVECOT_BIN:-$(command -v dovecot || echo /usr/sbin/dovecot)}
DOVEADM_BIN=${DOVEADM_BIN:-$(command -v doveadm || echo /usr/bin/doveadm)}
PY=/usr/bin/python3
# tests/integration, for the Python parts: sys.path.insert(0, os.environ["TESTLIB"])
TESTLIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export TESTLIB

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# dovecot_require NAME: unless this runs as root (Dovecot drops privileges
# itself) with dovecot-imapd installed, print "SKIP: NAME ..." and exit 0
dovecot_require() {
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: $1 needs root to run Dovecot"
		exit 0
	fi
	if [ ! -x "$DOVECOT_BIN" ]; then
		echo "SKIP: dovecot-imapd is not installed (make deps)"
		exit 0
	fi
}

# dovecot_init [extra config lines...]: temp dir $D (short: base_dir must be
# under ~100 characters), certificate, passwd file, config.  Sets IMAP_PORT,
# IMAPS_PORT, DCONF, MAILDIR.
dovecot_init() {
	D=$(mktemp -d /tmp/dmi.XXXXXX)
	chmod 755 "$D"
	IMAP_PORT=$(free_port)
	IMAPS_PORT=$(free_port)
	while [ "$IMAPS_PORT" = "$IMAP_PORT" ]; do IMAPS_PORT=$(free_port); done
	mkdir -p "$D/run" "$D/state" "$D/home/test/Maildir/cur" "$D/home/test/Maildir/new" \
		"$D/home/test/Maildir/tmp"
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -keyout "$D/key.pem" -out "$D/cert.pem" \
		-subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
	echo 'test:{PLAIN}secret::::::' > "$D/passwd"
	printf 'secret\n' > "$D/imap.pass"
	chmod 600 "$D/imap.pass"
	MAILDIR=$D/home/test/Maildir
	DCONF=$D/dovecot.conf
	dovecot_config "$@"
	chown -R nobody:nogroup "$D/home"
}

# (re)write the Dovecot config; extra lines are appended (e.g. imap_capability)
dovecot_config() {
	cat > "$DCONF" <<EOC
protocols = imap
listen = 127.0.0.1
base_dir = $D/run
state_dir = $D/state
log_path = $D/dovecot.log
auth_failure_delay = 0
mail_uid = nobody
mail_gid = nogroup
mail_home = $D/home/%n
mail_location = maildir:~/Maildir
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $D/passwd
}
userdb {
  driver = static
  args = allow_all_users=yes
}
ssl = yes
ssl_cert = <$D/cert.pem
ssl_key = <$D/key.pem
ssl_dh = </usr/share/dovecot/dh.pem
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $IMAPS_PORT
    ssl = yes
  }
}
EOC
	for line in "$@"; do echo "$line" >> "$DCONF"; done
}

dovecot_start() {
	"$DOVECOT_BIN" -c "$DCONF" || return 1
	local i
	for i in $(seq 1 100); do
		if $PY -c "import socket,sys; socket.create_connection(('127.0.0.1',$IMAPS_PORT),0.2)" 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	echo "dovecot did not start; log:" >&2
	cat "$D/dovecot.log" >&2
	return 1
}

# stop with a signal (TERM: clean; KILL: a crash) — the whole process group,
# IDLE sessions included
dovecot_signal() {
	local sig=$1 pid
	pid=$(cat "$D/run/master.pid" 2>/dev/null) || return 0
	kill -"$sig" -- -"$pid" 2>/dev/null || kill -"$sig" "$pid" 2>/dev/null
	local i
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL -- -"$pid" 2>/dev/null
	rm -f "$D/run/master.pid"
	return 0
}
dovecot_stop() { dovecot_signal TERM; }
dovecot_kill() { dovecot_signal KILL; }

# mkmsg N [TAG]: an RFC 5322 message from a distinct new sender on stdout
mkmsg() {
	local n=$1 tag=${2:-t}
	printf 'Return-Path: <lead%s@customer%s.example>\r\n' "$n" "$n"
	printf 'From: "Lead %s" <lead%s@customer%s.example>\r\n' "$n" "$n" "$n"
	printf 'To: Ventas <ventas@example.com>\r\n'
	printf 'Subject: Pricing question %s\r\n' "$n"
	printf 'Date: Mon, 23 Nov 2026 09:%02d:00 +0000\r\n' $((n % 60))
	printf 'Message-ID: <lead-%s-%s@customer%s.example>\r\n' "$n" "$tag" "$n"
	printf 'MIME-Version: 1.0\r\n'
	printf 'Content-Type: text/plain; charset=utf-8\r\n'
	printf '\r\n'
	printf 'Hello,\r\n\r\nwe would like a quote for %s licences.\r\n\r\nRegards,\r\nLead %s\r\n' "$n" "$n"
}

# deliver N..M straight into the Maildir, as a local delivery agent would
deliver_range() {
	local a=$1 b=$2 tag=${3:-t} n
	for n in $(seq "$a" "$b"); do
		mkmsg "$n" "$tag" > "$MAILDIR/tmp/$n.$tag.eml"
		mv "$MAILDIR/tmp/$n.$tag.eml" "$MAILDIR/new/$(date +%s).$n$tag.dmtest"
	done
	chown -R nobody:nogroup "$MAILDIR"
}

# append N through IMAP (APPEND with curl)
append_msg() {
	local n=$1 tag=${2:-t} f
	f=$D/append.$n.$tag.eml
	mkmsg "$n" "$tag" > "$f"
	curl -s -T "$f" "imap://127.0.0.1:$IMAP_PORT/INBOX" -u test:secret
	rm -f "$f"
}

# number of messages in a mailbox matching a doveadm search query
count_search() {
	"$DOVEADM_BIN" -c "$DCONF" search -u test "$@" 2>/dev/null | wc -l
}

# dealmail config pointing at this Dovecot; $1 = file, $2 = url, then extra
# [imap] lines
dealmail_config() {
	local f=$1 url=$2
	shift 2
	cat > "$f" <<EOC
[dealmail]
database = $D/dealmail.db
address = ventas@example.com
timezone = UTC

[imap]
url = $url
user = test
password_file = $D/imap.pass
EOC
	for line in "$@"; do echo "$line" >> "$f"; done
	cat >> "$f" <<EOC

[smtp]
url = maildir:$D/outbox

[rep "ana@example.com"]
name = Ana
team = norte

[distribution]
team = norte
EOC
}

# "deals events quarantine" counts from export --json
counts() {
	local out i
	for i in 1 2 3; do
		out=$("$DEALMAIL_BIN" -c "$CONF" export --json 2>>"$D/export.err") && break
		echo "export failed (exit $?), retrying" >>"$D/export.err"
		sleep 0.2
	done
	printf '%s' "$out" | $PY -c '
import json, sys
d = json.load(sys.stdin)
print(len(d.get("deals", [])), len(d.get("events", [])), len(d.get("quarantine", [])))'
}
ndeals() { counts | cut -d" " -f1; }

# distinct contacts in deals must equal deals (one deal per sender, none twice)
check_unique() {
	"$DEALMAIL_BIN" -c "$CONF" export --json | $PY -c '
import json, sys, collections
d = json.load(sys.stdin)
c = collections.Counter(x["contact"] for x in d["deals"])
dup = [k for k, v in c.items() if v > 1]
if dup:
    print("contacts with more than one deal:", dup[:5]); sys.exit(1)'
}

cleanup() {
	local p
	for p in ${BG_PIDS:-}; do kill -KILL "$p" 2>/dev/null; done
	[ -n "${D:-}" ] && dovecot_kill
	[ -n "${D:-}" ] && [ -z "${KEEP:-}" ] && rm -rf "$D"
}
trap cleanup EXIT
