#!/usr/bin/env bash
# Corpus test suite: real-shaped messages with expected outcomes, checked through
# the CLI only (export --json, explain --format json, exit codes).
#   DEALMAIL_BIN  the binary under test (default ./build/dealmail)
#   WRAP          optional command prefix for every dealmail call (e.g. valgrind ...)
#   CORPUS_ONLY   optional substring: run only the cases whose name contains it
#   CORPUS_KEEP   set to 1 to keep each case's temporary directory
#   CORPUS_JOBS   run this many cases at once (default 1); the report stays in case order
set -u
here=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$here/run.py" "$@"
