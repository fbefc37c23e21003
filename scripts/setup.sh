#!/usr/bin/env bash
# Create .venv and install avatarchat into it, saying what it does (a first install downloads a
# few hundred MB -- MediaPipe, OpenCV, aiortc -- and a silent terminal for minutes looks hung).
#   setup.sh run   what running needs (scripts/run.sh)
#   setup.sh test  that plus the test tools: pytest, mypy, ruff, ... (scripts/test.sh), and
#                  puppeteer-core in web/node_modules for the Firefox test
# Re-installs only when pyproject.toml changed or more is needed than was installed (a stamp
# file holds the hash and what was installed), so repeated runs are instant.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}
case "$mode" in
  run) spec="." ;;
  test) spec=".[test]" ;;
  *) echo "usage: scripts/setup.sh [run|test]" >&2; exit 2 ;;
esac
say() { echo "avatarchat setup: $*" >&2; }

# The Firefox test's Node modules (web/package.json's devDependencies: puppeteer-core, which
# drives firefox-esr). Only the tests need them: the page itself needs no npm (web/vendor/ is
# committed), so only `setup.sh test` installs them, into web/node_modules, and only where
# firefox-esr is (system-deps.sh installs it as root) and the lockfile changed since.
web_test_modules() {
  command -v firefox-esr >/dev/null || return 0
  local want stamp=web/node_modules/.avatarchat-lock
  want=$(sha256sum web/package-lock.json | cut -d' ' -f1)
  [ "$(cat "$stamp" 2>/dev/null || true)" = "$want" ] && return 0
  if ! command -v npm >/dev/null; then
    say "no npm: web/node_modules not installed (the Firefox test skips)"
    return 0
  fi
  say "installing the Firefox test's driver (puppeteer-core, npm) into web/node_modules"
  # Not `npm ci`: it trips over the lockfile's omitted optional native add-on of cbor-x, as
  # web/refresh-vendor.sh says; `install --no-save` takes the lockfile's versions and writes
  # nothing back. No optional packages and no install scripts (the page uses the vendored
  # cbor-x; puppeteer-core downloads no browser, and PUPPETEER_SKIP_DOWNLOAD says so too).
  if (cd web && PUPPETEER_SKIP_DOWNLOAD=1 npm install --no-save --omit=optional \
      --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null); then
    echo "$want" > "$stamp"
  else
    say "npm install in web/ failed (see above): the Firefox test skips"
  fi
}
if [ "$mode" = test ]; then web_test_modules; fi

PY=${PYTHON:-python3}
stamp=.venv/.avatarchat-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
have=$(cat "$stamp" 2>/dev/null || true)
# A test install serves running too; a run install does not serve the tests.
if [ "$have" = "$want test" ] || [ "$have" = "$want $mode" ]; then
  exit 0
fi
if [ ! -x .venv/bin/python ]; then
  say "creating the virtual environment in .venv (first run)"
  "$PY" -m venv .venv
fi
say "installing avatarchat ($mode) into .venv: on a first run this downloads a few hundred MB"
say "(MediaPipe, OpenCV, aiortc, Textual); later runs skip this step"
log=.venv/pip-install.log
.venv/bin/python -m pip install -q --upgrade pip >"$log" 2>&1 || true
# pip's own "Collecting ..." lines are the progress (-q would hide them for minutes); the
# rest (build warnings) goes to a log that is shown only when the install fails.
set +e
.venv/bin/python -m pip install --progress-bar off -e "$spec" 2>&1 | tee -a "$log" \
  | grep --line-buffered -E "^(Collecting|Successfully installed)" | cut -c1-100 >&2
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  tail -n 30 "$log" >&2
  say "the install failed (pip exit $status; the whole log is $log)"
  exit 1
fi
echo "$want $mode" > "$stamp"
say "done"
