#!/usr/bin/env bash
# Each rep's digest speaks the rep's language in both parts: the HTML heading
# of a rep's (not a manager's) digest is "Tu embudo" / "Seu funil" /
# "Your pipeline", as its subject and text part say.
set -u
D=${DEALMAIL_BIN:?}
T=$(mktemp -d /tmp/dealmail-dlang.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0
check() { local what=$1; shift; if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fail=1; fi; }
cat > "$T/dealmail.conf" <<'CONF'
[dealmail]
address = ventas@example.com
language = es
[rep "ana@example.com"]
name = Ana López
language = es
[rep "luis@example.com"]
name = Luís Souza
language = pt
[rep "bob@example.com"]
name = Bob Smith
language = en
[digest]
time = 07:30
CONF
dm() { DEALMAIL_SECRET=0123456789abcdef0123456789abcdef DEALMAIL_NOW=2026-11-24T14:00:00Z "$D" -q -c "$T/dealmail.conf" --db "$T/dm.db" "$@"; }
dm init >/dev/null
dm deal add --title ACME --contact c@acme.mx --owner ana@example.com >/dev/null
for r in ana luis bob; do dm digest --rep $r@example.com --send >/dev/null 2>&1; done
/usr/bin/python3 - "$T" > "$T/h1.txt" <<'PY'
import email, email.policy, re, sqlite3, sys
db = sqlite3.connect(sys.argv[1] + "/dm.db")
for rcpt, raw in db.execute("SELECT rcpt, raw FROM outbox WHERE kind = 'digest' ORDER BY rcpt"):
    m = email.message_from_bytes(raw, policy=email.policy.default)
    html = m.get_body(preferencelist=("html",)).get_content()
    h1 = re.search(r"<h1[^>]*>([^<]*)</h1>", html).group(1)
    print(rcpt, h1)
PY
check "three digests" [ "$(wc -l < "$T/h1.txt")" -eq 3 ]
check "Spanish heading" grep -q '^ana@example.com Tu embudo · 2026-11-24$' "$T/h1.txt"
check "Portuguese heading" grep -q '^luis@example.com Seu funil · 2026-11-24$' "$T/h1.txt"
check "English heading" grep -q '^bob@example.com Your pipeline · 2026-11-24$' "$T/h1.txt"
[ "$fail" -eq 0 ] || cat "$T/h1.txt"
exit $fail
