#!/usr/bin/env bash
# Outbox delivery against a real SMTP server on 127.0.0.1 (issue 3):
# python3-aiosmtpd run by tests/integration/smtp/server.py, on random high
# ports, in a temporary directory; every server is killed on exit.
#
#   1  plain SMTP (tls = none): every message arrives byte-exact, parses back
#      (encoded names and subjects, threading, no injected header), one
#      connection for the batch, envelope = VERP sender + one recipient
#   2  451 then 250: deferred with a growing delay, delivered once later
#   3  550 to one recipient: that row failed with the reply, the contact is
#      bouncing and its sequence stopped; the other messages delivered
#   4  STARTTLS + AUTH with a test CA (password file, then environment)
#   5  smtps:// (implicit TLS)
#   6  refusals, nothing sent and nothing lost: untrusted certificate, wrong
#      password, user configured but no AUTH offered, no STARTTLS offered
#   7  the server dies mid-DATA in the middle of a batch: nothing is lost,
#      nothing arrives twice after a restart
#   8  give up after the maximum age (default 4 days)
#   9  two `send` at once: every message once
#  10  maildir: default transport beside the database
#
#   DEALMAIL_BIN  binary under test;  KEEP=1 keeps the temporary directory
set -u
here=$(cd "$(dirname "$0")" && pwd)
D=${DEALMAIL_BIN:-$here/../../build/dealmail}
PY=/usr/bin/python3
SERVER=$here/smtp/server.py
CHECK=$here/smtp/check.py
T=$(mktemp -d "${TMPDIR:-/tmp}/dm-smtp.XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ "${KEEP:-}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fails=0
ok() { echo "ok - $1"; }
no() { echo "not ok - $1"; fails=$((fails + 1)); }
check() { local d=$1; shift; if "$@"; then ok "$d"; else no "$d"; fi; }

export DEALMAIL_SECRET=smtp-test-secret-0123456789abcdef
export DEALMAIL_NOW=2026-11-23T15:00:00Z
unset DEALMAIL_SMTP_PASSWORD DEALMAIL_RETRY

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_server NAME [server.py options]: sets PORT; waits until it listens
start_server() {
	local name=$1; shift
	PORT=$(free_port)
	mkdir -p "$T/srv/$name"
	rm -f "$T/srv/$name/pid"
	$PY "$SERVER" --port "$PORT" --maildir "$T/srv/$name/md" --pidfile "$T/srv/$name/pid" "$@" \
		>"$T/srv/$name/log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 100); do
		[ -s "$T/srv/$name/pid" ] && return 0
		kill -0 $! 2>/dev/null || break
		sleep 0.1
	done
	echo "server $name did not start:"; cat "$T/srv/$name/log"
	return 1
}
stop_server() { local p; p=$(cat "$T/srv/$1/pid" 2>/dev/null) && kill "$p" 2>/dev/null; sleep 0.2; }
received() { ls "$T/srv/$1/md/new" 2>/dev/null | wc -l; }

# mkcase NAME: a directory with dealmail.conf ([smtp] section from stdin) and
# an initialised database
mkcase() {
	local dir=$T/$1
	mkdir -p "$dir"
	{
		cat <<-EOF
		[dealmail]
		database = $dir/dm.db
		address = ventas@example.com
		name = Ventas Ejemplo
		language = es
		timezone = America/Mexico_City

		[rep "ana@example.com"]
		name = Ana López
		role = rep
		language = es

		[stage "proposal"]
		on_enter = sequence follow; notify owner

		[sequence "follow"]
		steps = 1d proposal-1, 3d proposal-2

		EOF
		cat
	} >"$dir/dealmail.conf"
	DEALMAIL_CONFIG=$dir/dealmail.conf "$D" init >/dev/null || { echo "init failed for $1"; return 1; }
}
dm() { local c=$1; shift; DEALMAIL_CONFIG=$T/$c/dealmail.conf "$D" "$@"; }
sql() { sqlite3 "$T/$1/dm.db" "$2"; }

# deals NAME N [contact-prefix]: N deals in proposal (each queues a
# notification to the owner now and a drip to the contact a day later)
deals() {
	local c=$1 n=$2 p=${3:-cliente}
	for i in $(seq "$n"); do
		dm "$c" deal add --title "Renovación ACME nº$i — año 2027" --contact "$p$i@acme.example" \
			--owner ana@example.com --stage proposal >/dev/null || return 1
	done
}

openssl_quiet() { openssl "$@" >/dev/null 2>&1; }
make_certs() {
	local d=$T/pki
	mkdir -p "$d"
	openssl_quiet req -x509 -newkey rsa:2048 -nodes -days 2 -keyout "$d/ca.key" -out "$d/ca.pem" \
		-subj "/CN=dealmail test CA" -addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" || return 1
	openssl_quiet req -newkey rsa:2048 -nodes -keyout "$d/srv.key" -out "$d/srv.csr" -subj /CN=localhost || return 1
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
		>"$d/ext"
	openssl_quiet x509 -req -in "$d/srv.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
		-out "$d/srv.pem" -days 2 -extfile "$d/ext" || return 1
	# a certificate nobody trusts, right name
	openssl_quiet req -x509 -newkey rsa:2048 -nodes -days 2 -keyout "$d/self.key" -out "$d/self.pem" \
		-subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" || return 1
}

command -v sqlite3 >/dev/null || { echo "t-smtp: sqlite3 missing"; exit 1; }
$PY -c 'import aiosmtpd' 2>/dev/null || { echo "t-smtp: python3-aiosmtpd missing (apt-get install python3-aiosmtpd)"; exit 1; }

# ---- 1 plain SMTP, byte-exact, parses back, one connection ------------------
start_server plain || exit 1
mkcase c1 <<EOF || exit 1
[smtp]
url = smtp://127.0.0.1:$PORT
tls = none
EOF
deals c1 5
# a header-injection attempt through a deal title (it becomes a Subject)
dm c1 deal add --title $'Evil\r\nBcc: victim@evil.example\r\nX-Injected: yes' --contact evil@acme.example \
	--owner ana@example.com --stage proposal >/dev/null
DEALMAIL_NOW=2026-11-24T15:00:00Z dm c1 tick >/dev/null 2>&1   # drips due (1 day), and delivery
rc=$?
check "1 tick exits 0 after delivering" [ "$rc" = 0 ]
n=$(sql c1 "SELECT COUNT(*) FROM outbox")
s=$(sql c1 "SELECT COUNT(*) FROM outbox WHERE status = 'sent' AND sent_at IS NOT NULL")
check "1 all $n outbox rows (notifications and drips) sent" [ "$n" -ge 12 -a "$s" = "$n" ]
check "1 received byte-exact, parse back, one recipient per transaction, one connection" \
	$PY "$CHECK" "$T/c1/dm.db" "$T/srv/plain/md" --all --count "$n" --one-connection
check "1 no injected header reached the wire (CR/LF in a deal title)" $PY -c '
import email, email.policy, glob, sys
bad = [f for f in glob.glob(sys.argv[1] + "/new/*")
       for m in [email.message_from_binary_file(open(f, "rb"), policy=email.policy.default)]
       if m.get("Bcc") or m.get("X-Injected")]
evil = [f for f in glob.glob(sys.argv[1] + "/new/*") if b"Evil" in open(f, "rb").read()]
sys.exit(1 if bad or not evil else 0)' "$T/srv/plain/md"
check "1 drips carry List-Unsubscribe with a u. token and a VERP envelope" \
	bash -c "$PY -c '
import email, email.policy, glob, sys
n = sum(1 for f in glob.glob(sys.argv[1] + \"/new/*\")
        if str(email.message_from_binary_file(open(f, \"rb\"), policy=email.policy.default)
               .get(\"List-Unsubscribe\", \"\")).strip().startswith(\"<mailto:ventas+u.\"))
sys.exit(0 if n == 6 else 1)' '$T/srv/plain/md' &&
		grep -c '\"mail_from\": \"ventas+b\.' '$T/srv/plain/md/log.jsonl' | grep -qx $n"
check "1 a second send has nothing to do" bash -c "DEALMAIL_NOW=2026-11-24T15:00:00Z DEALMAIL_CONFIG=$T/c1/dealmail.conf $D send && [ \$(ls $T/srv/plain/md/new | wc -l) = $n ]"
DEALMAIL_NOW=2026-11-24T16:00:00Z dm c1 digest --rep ana@example.com --send >/dev/null 2>&1
check "1 digest --send exits 0" [ "$?" = 0 ]
check "1 digest --send delivers the digest then and there" [ "$(sql c1 "SELECT status FROM outbox WHERE kind = 'digest'")" = sent ]
check "1 ... it reached the server" [ "$(ls "$T/srv/plain/md/new" | wc -l)" = $((n + 1)) ]

# ---- 2 4xx then 2xx ---------------------------------------------------------
start_server temp --tempfail cliente1@acme.example || exit 1
mkcase c2 <<EOF || exit 1
[smtp]
url = smtp://127.0.0.1:$PORT
tls = none
EOF
deals c2 2
DEALMAIL_NOW=2026-11-24T15:00:00Z dm c2 tick >/dev/null 2>&1
row="SELECT status || ' ' || attempts FROM outbox WHERE rcpt = 'cliente1@acme.example'"
check "2 the 451 row is deferred (queued, 1 attempt)" [ "$(sql c2 "$row")" = "queued 1" ]
check "2 the 451 reply is kept in last_error" \
	bash -c "sqlite3 $T/c2/dm.db \"SELECT last_error FROM outbox WHERE rcpt = 'cliente1@acme.example'\" | grep -q '^451 4.3.0'"
# next attempt 300 s +-10% later
delay=$(sql c2 "SELECT CAST(strftime('%s', next_attempt) AS INTEGER) - CAST(strftime('%s', '2026-11-24T15:00:00') AS INTEGER) FROM outbox WHERE rcpt = 'cliente1@acme.example'")
check "2 retried after 270..330 s (base 300 s, jitter), not before (got $delay)" [ "$delay" -ge 270 -a "$delay" -le 330 ]
check "2 the others were delivered meanwhile" [ "$(received temp)" = 3 ]
DEALMAIL_NOW=2026-11-24T15:01:00Z dm c2 send >/dev/null 2>&1
check "2 not retried before it is due" [ "$(sql c2 "$row")" = "queued 1" ]
DEALMAIL_NOW=2026-11-24T15:10:00Z dm c2 send >/dev/null 2>&1
check "2 delivered on the retry" [ "$(sql c2 "$row")" = "sent 2" ]
check "2 arrived exactly once" $PY "$CHECK" "$T/c2/dm.db" "$T/srv/temp/md" --all --count 4

# ---- 3 5xx for one recipient -------------------------------------------------
start_server rej --reject cliente2@acme.example || exit 1
mkcase c3 <<EOF || exit 1
[smtp]
url = smtp://127.0.0.1:$PORT
tls = none
EOF
deals c3 3
DEALMAIL_NOW=2026-11-24T15:00:00Z dm c3 tick >/dev/null 2>&1
check "3 the 550 row failed with the server's reply" bash -c \
	"sqlite3 $T/c3/dm.db \"SELECT status || '|' || last_error FROM outbox WHERE rcpt = 'cliente2@acme.example'\" | grep -q '^failed|550 5.1.1'"
check "3 the contact is marked bouncing" [ "$(sql c3 "SELECT bouncing FROM contacts WHERE email = 'cliente2@acme.example'")" = 1 ]
check "3 its sequence stopped (bounce)" \
	[ "$(sql c3 "SELECT e.status || ' ' || e.stopped_reason FROM enrollments e JOIN deals d ON d.id = e.deal_id JOIN contacts c ON c.id = d.contact_id WHERE c.email = 'cliente2@acme.example'")" = "stopped bounce" ]
check "3 the other recipients were not affected" [ "$(sql c3 "SELECT COUNT(*) FROM outbox WHERE status = 'sent'")" -ge 5 ]
check "3 delivered ones arrived intact" $PY "$CHECK" "$T/c3/dm.db" "$T/srv/rej/md" --all
DEALMAIL_NOW=2026-11-28T15:00:00Z dm c3 tick >/dev/null 2>&1
check "3 no further drip to the bouncing contact" \
	[ "$(sql c3 "SELECT COUNT(*) FROM outbox WHERE rcpt = 'cliente2@acme.example'")" = 1 ]

# ---- 4 STARTTLS + AUTH with a test CA ----------------------------------------
make_certs || { no "4 openssl could not make the test CA"; exit 1; }
start_server tls --cert "$T/pki/srv.pem" --key "$T/pki/srv.key" --require-tls --auth ventas:s3cret || exit 1
TLSPORT=$PORT
printf 's3cret\n' >"$T/smtp.pass"
chmod 600 "$T/smtp.pass"
mkcase c4 <<EOF || exit 1
[smtp]
url = smtp://127.0.0.1:$TLSPORT
user = ventas
password_file = $T/smtp.pass
ca_file = $T/pki/ca.pem
EOF
deals c4 3
dm c4 send >/dev/null 2>&1
check "4 STARTTLS + AUTH PLAIN with the test CA: delivered" [ "$(sql c4 "SELECT COUNT(*) FROM outbox WHERE status = 'sent'")" = 3 ]
check "4 over TLS, authenticated, intact, one connection" \
	$PY "$CHECK" "$T/c4/dm.db" "$T/srv/tls/md" --all --count 3 --tls --auth ventas --one-connection
mkcase c4b <<EOF || exit 1
[smtp]
url = smtp://127.0.0.1:$TLSPORT
user = ventas
auth = login
ca_file = $T/pki/ca.pem
EOF
deals c4b 1
DEALMAIL_SMTP_PASSWORD=s3cret dm c4b send >/dev/null 2>&1
check "4 AUTH LOGIN with the password from DEALMAIL_SMTP_PASSWORD" \
	[ "$(sql c4b "SELECT status FROM outbox")" = sent ]

# ---- 5 smtps:// ----------------------------------------------------------------
start_server implicit --cert "$T/pki/srv.pem" --key "$T/pki/srv.key" --implicit --auth ventas:s3cret || exit 1
mkcase c5 <<EOF || exit 1
[smtp]
url = smtps://127.0.0.1:$PORT
user = ventas
password_file = $T/smtp.pass
ca_file = $T/pki/ca.pem
EOF
deals c5 2
dm c5 send >/dev/null 2>&1
check "5 smtps:// implicit TLS: delivered over TLS with AUTH" \
	$PY "$CHECK" "$T/c5/dm.db" "$T/srv/implicit/md" --all --count 2 --tls --auth ventas

# ---- 6 refusals: nothing sent, nothing lost ---------------------------------
before=$(received tls)
mkcase c6a <<EOF || exit 1
[smtp]
url = smtp://127.0.0.1:$TLSPORT
user = ventas
password_file = $T/smtp.pass
EOF
deals c6a 2
dm c6a send >"$T/c6a/out" 2>&1
rc=$?
check "6 a certificate from an untrusted CA is refused (exit 75)" [ "$rc" = 75 ]
check "6 ... nothing was sent and the rows stay queued" \
	[ "$(received tls)" = "$before" -a "$(sql c6a "SELECT COUNT(*) FROM outbox WHERE status = 'queued'")" = 2 ]
check "6 ... the reason is recorded" bash -c "sqlite3 $T/c6a/dm.db 'SELECT last_error FROM outbox' | grep -qi 'certificate\|verif\|SSL'"

start_server selfsigned --cert "$T/pki/self.pem" --key "$T/pki/self.key" --auth ventas:s3cret || exit 1
mkcase c6b <<EOF || exit 1
[smtp]
url = smtp://127.0.0.1:$PORT
user = ventas
password_file = $T/smtp.pass
ca_file = $T/pki/ca.pem
EOF
deals c6b 1
dm c6b send >/dev/null 2>&1
check "6 a self-signed server certificate is refused even with a ca_file" \
	[ "$(received selfsigned)" = 0 -a "$(sql c6b "SELECT status FROM outbox")" = queued ]

mkcase c6c <<EOF || exit 1
[smtp]
url = smtp://127.0.0.1:$TLSPORT
user = ventas
ca_file = $T/pki/ca.pem
EOF
deals c6c 1
DEALMAIL_SMTP_PASSWORD=wrong dm c6c send >/dev/null 2>&1
rc=$?
check "6 a wrong password: exit 75, the row stays queued (not failed)" \
	[ "$rc" = 75 -a "$(sql c6c "SELECT status FROM outbox")" = queued -a "$(received tls)" = "$before" ]

start_server noauth --cert "$T/pki/srv.pem" --key "$T/pki/srv.key" || exit 1
mkcase c6d <<EOF || exit 1
[smtp]
url = smtp://127.0.0.1:$PORT
user = ventas
password_file = $T/smtp.pass
ca_file = $T/pki/ca.pem
EOF
deals c6d 1
dm c6d send >/dev/null 2>&1
rc=$?
check "6 a user is configured but the server offers no AUTH: nothing sent (exit 75)" \
	[ "$rc" = 75 -a "$(received noauth)" = 0 -a "$(sql c6d "SELECT status FROM outbox")" = queued ]
check "6 ... and says why" bash -c "sqlite3 $T/c6d/dm.db 'SELECT last_error FROM outbox' | grep -q 'did not authenticate'"

start_server notls || exit 1
mkcase c6e <<EOF || exit 1
[smtp]
url = smtp://127.0.0.1:$PORT
EOF
deals c6e 1
dm c6e send >/dev/null 2>&1
rc=$?
check "6 STARTTLS required by default: a server without it gets nothing (exit 75)" \
	[ "$rc" = 75 -a "$(received notls)" = 0 -a "$(sql c6e "SELECT status FROM outbox")" = queued ]

# ---- 7 the server dies mid-batch -----------------------------------------------
start_server dies --die-after 4 || exit 1
mkcase c7 <<EOF || exit 1
[smtp]
url = smtp://127.0.0.1:$PORT
tls = none
EOF
deals c7 10
dm c7 send >/dev/null 2>&1
rc=$?
check "7 the server died after 4 messages: send exits 75" [ "$rc" = 75 ]
# the message in flight is deferred; libcurl's attempt on the next one finds
# nobody (deferred too, and the batch stops): the rest is untouched
check "7 ... 4 sent, 2 deferred, the rest untouched" \
	[ "$(sql c7 "SELECT group_concat(n, ' ') FROM (SELECT status || ':' || attempts || '=' || COUNT(*) AS n FROM outbox GROUP BY status, attempts ORDER BY status, attempts)")" = "queued:0=4 queued:1=2 sent:1=4" ]
start_server back || exit 1
sed -i "s|^url = .*|url = smtp://127.0.0.1:$PORT|" "$T/c7/dealmail.conf"
DEALMAIL_NOW=2026-11-23T16:00:00Z dm c7 send >/dev/null 2>&1
check "7 after a restart every message is sent" [ "$(sql c7 "SELECT COUNT(*) FROM outbox WHERE status = 'sent'")" = 10 ]
cat "$T/srv/dies/md/log.jsonl" >>"$T/srv/back/md/log.jsonl"
cp "$T/srv/dies/md/new/"* "$T/srv/back/md/new/"
check "7 across both servers each message arrived exactly once, intact" \
	$PY "$CHECK" "$T/c7/dm.db" "$T/srv/back/md" --all --count 10

# ---- 8 give up after the maximum age -------------------------------------------
mkcase c8 <<EOF || exit 1
[smtp]
url = smtp://127.0.0.1:$(free_port)
tls = none
EOF
deals c8 1
dm c8 send >/dev/null 2>&1
check "8 nobody listening: deferred" [ "$(sql c8 "SELECT status FROM outbox")" = queued ]
DEALMAIL_NOW=2026-11-26T15:00:00Z dm c8 send >/dev/null 2>&1
check "8 still retried after 3 days" [ "$(sql c8 "SELECT status || ' ' || attempts FROM outbox")" = "queued 2" ]
DEALMAIL_NOW=2026-11-26T16:00:00Z dm c8 digest --send >/dev/null 2>&1   # Ana's digest of that day
DEALMAIL_NOW=2026-11-27T15:00:01Z dm c8 send >/dev/null 2>&1
check "8 given up after 4 days, with the reason" bash -c \
	"sqlite3 $T/c8/dm.db \"SELECT status || '|' || last_error FROM outbox WHERE kind <> 'digest'\" | grep -q '^failed|gave up after 3 attempts'"
check "8 the next digest lists it (queued before the previous digest, failed after it)" bash -c \
	"DEALMAIL_NOW=2026-11-28T16:00:00Z DEALMAIL_CONFIG=$T/c8/dealmail.conf $D digest --rep ana@example.com --print | grep -q 'gave up after 3 attempts'"

# the same with the policy from the config: [smtp] give_up_after = 1d
mkcase c8b <<EOF || exit 1
[smtp]
url = smtp://127.0.0.1:$(free_port)
tls = none
retry_base = 10m
give_up_after = 1d
EOF
deals c8b 1
dm c8b send >/dev/null 2>&1
delay=$(sql c8b "SELECT CAST(strftime('%s', next_attempt) AS INTEGER) - CAST(strftime('%s', created_at) AS INTEGER) FROM outbox")
check "8 retry_base = 10m: the first retry 540..660 s later (got $delay)" [ "$delay" -ge 540 -a "$delay" -le 660 ]
DEALMAIL_NOW=2026-11-25T15:00:01Z dm c8b send >/dev/null 2>&1
check "8 give_up_after = 1d: given up after a day" bash -c \
	"sqlite3 $T/c8b/dm.db \"SELECT status FROM outbox\" | grep -qx failed"

# ---- 9 two sends at once --------------------------------------------------------
start_server conc || exit 1
mkcase c9 <<EOF || exit 1
[smtp]
url = smtp://127.0.0.1:$PORT
tls = none
EOF
deals c9 40
senders=()
for _ in 1 2 3; do dm c9 send >/dev/null 2>&1 & senders+=($!); done
wait "${senders[@]}"
dm c9 send >/dev/null 2>&1
check "9 three concurrent sends: each of 40 messages arrived once" \
	$PY "$CHECK" "$T/c9/dm.db" "$T/srv/conc/md" --all --count 40

# ---- 10 the default transport: a Maildir beside the database --------------------
mkcase c10 </dev/null || exit 1
deals c10 2
dm c10 send >/dev/null 2>&1
check "10 no [smtp] url: written to <dbdir>/outbox-maildir/new" \
	[ "$(ls "$T/c10/outbox-maildir/new" | wc -l)" = 2 -a "$(sql c10 "SELECT COUNT(*) FROM outbox WHERE status = 'sent'")" = 2 ]
check "10 nothing left in tmp/" [ "$(ls "$T/c10/outbox-maildir/tmp" | wc -l)" = 0 ]

echo "t-smtp: $fails failed"
[ "$fails" = 0 ]
