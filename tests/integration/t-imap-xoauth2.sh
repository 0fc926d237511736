#!/usr/bin/env bash
# [imap] auth = xoauth2 with the token read from token_file, against a real
# Dovecot whose oauth2 passdb asks a token-introspection endpoint (a small
# HTTP server in this test) whether the token is valid: a good token logs in
# and the message is processed, a bad one is refused (exit 77) and nothing is.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/imap/lib.sh"
if [ "$(id -u)" != 0 ]; then echo "SKIPPED - t-imap-xoauth2 needs root (Dovecot): NOT TESTED"; exit 0; fi
fail=0
check() { local what=$1; shift; if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fail=1; fi; }
export DEALMAIL_SECRET=0123456789abcdef0123456789abcdef DEALMAIL_NOW=2026-11-23T15:00:00Z
dovecot_init
OPORT=$(free_port)
$PY - "$OPORT" > "$D/oauth.log" 2>&1 <<'PY' &
import http.server, json, sys, urllib.parse
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        token = urllib.parse.parse_qs(body).get("token", [""])[0]
        ok = token == "good-token-123"
        out = json.dumps({"active": ok, "username": "test"} if ok else {"active": False}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
BG_PIDS=$!
disown "$BG_PIDS" 2>/dev/null
cat > "$D/oauth2.conf.ext" <<EOC
introspection_mode = post
introspection_url = http://127.0.0.1:$OPORT/introspect
username_attribute = username
active_attribute = active
active_value = true
EOC
dovecot_config "auth_mechanisms = plain login xoauth2" "passdb {" "  driver = oauth2" \
	"  mechanisms = xoauth2" "  args = $D/oauth2.conf.ext" "}"
dovecot_start || { echo "FAIL - dovecot did not start"; exit 1; }
deliver_range 1 1 ox
CONF=$D/dm.conf
dealmail_config "$CONF" "imaps://127.0.0.1:$IMAPS_PORT/INBOX" "ca_file = $D/cert.pem" "auth = xoauth2" \
	"token_file = $D/token"
sed -i '/^password_file/d' "$CONF"
"$DEALMAIL_BIN" -q -c "$CONF" init >/dev/null
printf 'wrong-token\n' > "$D/token"
"$DEALMAIL_BIN" -q -c "$CONF" watch --once 2>"$D/err1"
rc=$?
check "a refused token: watch --once exits 77 (got $rc)" [ "$rc" = 77 ]
check "... and nothing was processed" [ "$(ndeals)" = 0 ]
printf 'good-token-123\n' > "$D/token"
"$DEALMAIL_BIN" -q -c "$CONF" watch --once 2>"$D/err2"
rc=$?
check "a valid token: XOAUTH2 login, exit 0 (got $rc: $(head -c 200 "$D/err2"))" [ "$rc" = 0 ]
check "... and the message was processed" [ "$(ndeals)" = 1 ]
[ "$fail" = 0 ] && echo "t-imap-xoauth2: ok"
exit $fail
