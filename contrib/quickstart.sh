#!/bin/sh
# Quick start on a fresh Debian 12: install what is missing (build tools,
# libraries, test servers), build, and run the demo.
set -eu
cd "$(dirname "$0")/.."
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
if ! command -v make >/dev/null 2>&1 || ! command -v cc >/dev/null 2>&1; then
	$SUDO apt-get update -qq
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends make build-essential
fi
missing=0
for p in libetpan-dev libsqlite3-dev libpcre2-dev libssl-dev nettle-dev libinih-dev libxml2-dev \
         libunistring-dev libcmocka-dev libmimalloc2.0 dovecot-imapd python3-aiosmtpd pkg-config; do
	dpkg -s "$p" >/dev/null 2>&1 || missing=1
done
[ "$missing" = 0 ] || $SUDO make deps
make -j2
make demo
