#!/usr/bin/env bash
# The one run command (README): set up, then run the most complete thing the product has.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
exec avatarchat "${@:-frame}" 
