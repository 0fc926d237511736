#!/usr/bin/env bash
# Runs every tests/integration/t-*.sh and t-*.py (each starts and stops its own
# servers on 127.0.0.1 in a temporary directory).  DEALMAIL_BIN is the binary under test;
# WRAP an optional prefix such as valgrind.
set -u
here=$(cd "$(dirname "$0")" && pwd)
export DEALMAIL_BIN=${DEALMAIL_BIN:-$here/../../build/dealmail}
fail=0; n=0
for t in "$here"/t-*.sh "$here"/t-*.py; do
	[ -e "$t" ] || continue
	n=$((n + 1))
	echo "== integration: $(basename "$t")"
	case "$t" in
	*.py) run=/usr/bin/python3 ;;
	*) run=bash ;;
	esac
	if ! "$run" "$t"; then
		echo "FAIL: $(basename "$t")"
		fail=$((fail + 1))
	fi
done
echo "integration: $((n - fail))/$n passed"
[ "$fail" -eq 0 ]
