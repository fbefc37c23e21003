#!/usr/bin/env bash
# The one test command (README, .ci/run): system packages (installed when root, else named),
# .venv, lint, type-check, import boundaries, the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
bash scripts/setup.sh test
. .venv/bin/activate
ruff check .
mypy
lint-imports
exec python -m pytest -q "$@"
