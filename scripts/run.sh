#!/usr/bin/env bash
# The one run command (README): set up .venv, then run avatarchat.
#  - In a terminal: the TUI (avatarchat-tui). With nothing configured it starts a local relay
#    and offers the bundled sample clip when there is no camera; arguments go to the TUI.
#  - Without a terminal (CI, a pipe): a whole headless demo call (local relay + two clients with
#    the sample clip as their cameras) that prints live stats, so the command still shows the
#    product working end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh run
. .venv/bin/activate
if [ -t 0 ] && [ -t 1 ]; then
  exec avatarchat-tui "$@"
fi
exec avatarchat demo "$@"
