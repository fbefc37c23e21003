#!/usr/bin/env bash
# The Debian packages the test suite starts or loads, installed when missing (scripts/test.sh
# runs this first, so one command sets up a fresh Debian-like machine).
#
# Why here and not only in CI: the README's test command must work on a fresh machine by
# itself. As root with apt-get, the missing packages are installed (apt-get update first, only
# when something is missing, so a set-up machine pays one dpkg-query). Otherwise this prints
# one line naming what is missing and carries on: the tests that need those packages skip with
# a reason naming the tool. AVATARCHAT_NO_SYSTEM_DEPS=1 only checks, even as root.
#
# Audited from tests/, netlab/ and the libraries the child processes load (/proc/PID/maps):
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # render_window tests and screenshots: an X server with GLX on Mesa llvmpipe, and the
  # X11/GL/font libraries pyglet loads with ctypes (its window, GL context and overlay text).
  xvfb libgl1 libglx-mesa0 libgl1-mesa-dri libegl1
  libx11-6 libxext6 libxi6 libxinerama1 libxrandr2 libxrender1 libxxf86vm1
  libfontconfig1 libfreetype6 fonts-dejavu-core
  # Hangul for the window's Korean banners (pyglet draws a label with one font, no fallback;
  # DejaVu has no Hangul). render_window/overlay.py picks NanumGothic by name.
  fonts-nanum
  # tracking: MediaPipe's wheel links EGL, GLESv2 and GLib even on the CPU path.
  libgles2 libglib2.0-0
  # TURN tests (relay, peer, netlab) run coturn's turnserver.
  coturn
  # relay scale-out test: nginx with deploy/nginx's config.
  nginx-light
  # TUI end-to-end test drives the app in a private tmux server.
  tmux
  # network lab: namespaces and veths (ip), listening checks (ss), sysctl, loss (iptables).
  iproute2 procps iptables
  # tracking privacy test: the syscall check runs the tracker under strace.
  strace
  # voice tests and scripts/bench_voice.py: speech synthesised by espeak-ng is the microphone
  # (the command line writes the WAV; netlab.speech loads libespeak-ng1 for phoneme timings).
  espeak-ng
  # browser peer tests (tests/web) and scripts/bench_browser.py: Playwright drives Debian's
  # Chromium (executable_path; Playwright's own browser download is never used).
  chromium
  # the same page in Firefox (tests/web/test_firefox_call.py): puppeteer-core drives Debian's
  # firefox-esr over WebDriver BiDi (scripts/firefox_driver.mjs; setup.sh test installs it).
  firefox-esr
)
# setup.sh makes .venv with "python3 -m venv", which on Debian needs python3-venv (ensurepip).
if [ ! -x .venv/bin/python ] && ! "${PYTHON:-python3}" -c 'import ensurepip' 2>/dev/null; then
  PACKAGES+=(python3-venv)
fi

if ! command -v dpkg-query >/dev/null; then
  echo "system-deps: not a Debian-like system (no dpkg-query); tests that need these skip" \
    "unless their equivalents are installed: ${PACKAGES[*]}"
  exit 0
fi

installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${PACKAGES[@]}" 2>/dev/null \
  | awk '$2 == "ii" { print $1 }' || true)
missing=()
for pkg in "${PACKAGES[@]}"; do
  grep -qxF "$pkg" <<<"$installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null || [ -n "${AVATARCHAT_NO_SYSTEM_DEPS:-}" ]; then
  why="not root"
  [ "$(id -u)" -eq 0 ] && why="no apt-get"
  [ -n "${AVATARCHAT_NO_SYSTEM_DEPS:-}" ] && why="AVATARCHAT_NO_SYSTEM_DEPS is set"
  echo "system-deps: missing Debian packages, not installed ($why; tests that need them skip):" \
    "${missing[*]}"
  exit 0
fi

echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -q >/dev/null \
  && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }; then
  # No network or no mirror: carry on, so the rest of the suite still runs and those skip.
  echo "system-deps: apt-get could not install them (see above); tests that need them skip:" \
    "${missing[*]}"
fi
