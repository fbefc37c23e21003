#!/usr/bin/env bash
# The one test command (README, .ci/run): system packages (installed when root, else named),
# .venv, lint, type-check, import boundaries, the whole suite.
#
# The whole suite runs as two pytest sessions at once: the tests marked `beside` (Textual Pilot
# and snapshot tests, pure unit tests: no process started, nothing timed; tests/conftest.py
# refuses a process in that lane) at nice 19, and the rest (real processes, windows, browsers,
# calls, timing bounds) at normal priority. The process-bound tests leave about one of CI's two
# cores idle while they wait on networks, timers and children; the nice-19 session takes only
# that idle time, so the timing-bound tests see the machine as before. With arguments, one
# plain pytest session runs exactly what was asked.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
bash scripts/setup.sh test
. .venv/bin/activate
ruff check .
mypy
lint-imports
if [ "$#" -gt 0 ]; then
    exec python -m pytest -q "$@"
fi
beside_log="$(mktemp -t avatarchat-beside.XXXXXX)"
trap 'rm -f "$beside_log"' EXIT
AVATARCHAT_TEST_LANE=beside nice -n 19 python -m pytest -q -p no:cacheprovider -m beside \
    >"$beside_log" 2>&1 &
beside_pid=$!
status=0
python -m pytest -q -m "not beside" || status=$?
beside_status=0
wait "$beside_pid" || beside_status=$?
echo
echo "=== the tests marked 'beside' (run at the same time, nice 19; exit $beside_status) ==="
cat "$beside_log"
if [ "$status" -eq 0 ]; then
    status=$beside_status
fi
exit "$status"
