#!/usr/bin/env bash
# The one test command (README, .ci/run): set up, lint, type-check, run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
ruff check .
mypy
exec python -m pytest -q "$@"
