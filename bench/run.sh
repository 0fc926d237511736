#!/usr/bin/env bash
# make bench: every benchmark of the project, one table (figure, value, peer, ratio).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$here/bench.py" "$@"
