#!/usr/bin/env bash
# The manager's digest rendered by a real browser (Debian's headless Chromium,
# installed by `make deps`): the HTML part of the queued digest is rendered to
# a PNG and its text is dumped; the key figures (hand-computed below) and the
# deal tags must be on the page.  RENDER_PNG=FILE keeps the PNG (docs/digest.png
# is one such rendering).
set -u
D=${DEALMAIL_BIN:?}
here=$(cd "$(dirname "$0")" && pwd)
demo=$here/../../contrib/demo
T=$(mktemp -d /tmp/dealmail-render.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0
check() { local what=$1; shift; if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fail=1; fi; }
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
	echo "FAIL - chromium is not installed (make deps installs it)"
	exit 1
fi
cp "$demo/dealmail.conf" "$T/"
printf '\n[digest]\ntime = 07:30\nmonthly_target = 100000\n' >> "$T/dealmail.conf"
cp -R "$demo/maildir" "$T/maildir"
dm() { DEALMAIL_SECRET=0123456789abcdef0123456789abcdef "$D" -q -c "$T/dealmail.conf" --db "$T/dm.db" "$@"; }
export DEALMAIL_NOW=2026-11-23T18:00:00Z
dm init >/dev/null
dm deal import --csv "$demo/deals.csv" >/dev/null
dm ingest --maildir "$T/maildir"
DEALMAIL_NOW=2026-11-24T14:00:00Z dm digest --manager maria@example.com --send >/dev/null
/usr/bin/python3 - "$T" <<'PY'
import email, email.policy, sqlite3, sys
t = sys.argv[1]
raw = sqlite3.connect(t + "/dm.db").execute(
    "SELECT raw FROM outbox WHERE kind = 'digest' AND rcpt = 'maria@example.com'").fetchone()[0]
m = email.message_from_bytes(raw, policy=email.policy.default)
assert m.get_content_type() == "multipart/alternative", m.get_content_type()
open(t + "/digest.html", "w").write(m.get_body(preferencelist=("html",)).get_content())
PY
check "the digest is multipart/alternative with an HTML part" [ -s "$T/digest.html" ]
check "no script and no external image in the HTML" bash -c "! grep -qiE '<script|<img[^>]+src=\"?https?:' '$T/digest.html'"
flags="--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
 --disable-component-update --disable-sync --hide-scrollbars --user-data-dir=$T/profile"
timeout 60 "$CHROMIUM" $flags --window-size=700,2000 --screenshot="$T/digest.png" "file://$T/digest.html" >/dev/null 2>&1
check "Chromium rendered the digest to a PNG" bash -c "[ \$(stat -c %s '$T/digest.png' 2>/dev/null || echo 0) -gt 20000 ]"
# a phone-sized viewport and dark mode render too
timeout 60 "$CHROMIUM" $flags --window-size=390,2400 --force-dark-mode --screenshot="$T/phone.png" "file://$T/digest.html" >/dev/null 2>&1
check "… and on a phone-sized viewport in dark mode" bash -c "[ \$(stat -c %s '$T/phone.png' 2>/dev/null || echo 0) -gt 20000 ]"
timeout 60 "$CHROMIUM" $flags --dump-dom "file://$T/digest.html" 2>/dev/null | /usr/bin/python3 -c '
import html, re, sys
print(html.unescape(re.sub(r"<[^>]+>", " ", sys.stdin.read())))' > "$T/page.txt"
# hand-computed: open deals #1 (12.000,50 EUR @ proposal 50 %), #2 (48.000 BRL @ negotiation
# 70 %), #4 (22.000 EUR @ negotiation 70 %), #5 (no value).  Currencies are not added up:
# EUR (most deals' currency, the config has none) first, BRL beside it.  Weighted EUR
# 6.000,25 + 15.400, BRL 33.600; open EUR 34.000,50, BRL 48.000; the funnel shows each
# stage's weighted value too (SPEC §5): proposal 6.000,25, negotiation EUR 15.400 + BRL 33.600
for want in "EUR 21.400,25 + BRL 33.600" "EUR 34.000,50 + BRL 48.000" "[deal #1]" "[deal #2]" "[deal #3]" \
            "[deal #5]" "Propuesta pendiente" "Negociación" "competencia" "100.000" "6.000,25" \
            "EUR 15.400 + BRL 33.600"; do
	check "the rendered page shows \"$want\"" grep -qF -- "$want" "$T/page.txt"
done
[ -n "${RENDER_PNG:-}" ] && cp "$T/digest.png" "$RENDER_PNG"
[ "$fail" = 0 ] && echo "t-digest-render: ok"
exit $fail
