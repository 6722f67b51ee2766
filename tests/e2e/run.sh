#!/usr/bin/env bash
# End-to-end test of the LocalDx desktop app: builds the UI and the real binary (ui/dist embedded),
# starts a headless X server (Xvfb) and tauri-driver (backed by WebKitWebDriver), then drives the
# app with tests/e2e/spec.mjs on a fresh plain database and tests/e2e/accounts.mjs from the first
# run of an encrypted one (E2E_SPECS="accounts" runs only that one). Screenshots go to tests/e2e/out/; the best ones
# are copied to docs/screenshots/ with E2E_UPDATE_SCREENSHOTS=1. Exits non-zero when any test fails. Never uses the network.
#
#   bash tests/e2e/run.sh              # or: npm run e2e
#   E2E_SKIP_BUILD=1 bash tests/e2e/run.sh   # reuse target/debug/localdx-app as it is
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out=$root/tests/e2e/out
bin=$root/target/debug/localdx-app

need() { command -v "$1" >/dev/null 2>&1 || { echo "e2e: '$1' not found ($2)"; exit 2; }; }
need Xvfb "apt-get install xvfb"
need WebKitWebDriver "apt-get install webkit2gtk-driver"
need tauri-driver "cargo install tauri-driver --locked"
need import "apt-get install imagemagick (screenshots of the X display)"

if [ -z "${E2E_SKIP_BUILD:-}" ]; then
  echo "e2e: building the UI and the desktop app"
  npm run --silent ui:build
  cargo build -p localdx-app
fi
[ -x "$bin" ] || { echo "e2e: $bin is missing"; exit 2; }

rm -rf "$out"
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/localdx-e2e.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# A private X display: the first free number from 90 up.
display=90
while [ -e "/tmp/.X11-unix/X$display" ] || [ -e "/tmp/.X$display-lock" ]; do display=$((display + 1)); done
Xvfb ":$display" -screen 0 1440x960x24 -nolisten tcp >"$out/xvfb.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$display" ] && break; sleep 0.1; done
[ -e "/tmp/.X11-unix/X$display" ] || { echo "e2e: Xvfb did not start (see $out/xvfb.log)"; exit 2; }
export DISPLAY=":$display"
unset WAYLAND_DISPLAY

# What the app sees: software rendering (no GPU under Xvfb) and the models of this checkout.
# The base model the training test fine-tunes (default: models/ of this checkout).
export LOCALDX_MODELS="${LOCALDX_MODELS:-$root/models}"
export WEBKIT_DISABLE_DMABUF_RENDERER=1
export LIBGL_ALWAYS_SOFTWARE=1
export NO_AT_BRIDGE=1

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# drive SPEC DB: runs tests/e2e/SPEC.mjs against a fresh app (its own tauri-driver) on database DB.
status=0
drive() {
  local spec=$1 db=$2 port native_port driver
  port=$(free_port)
  native_port=$(free_port)
  echo "e2e: $spec (database $db)"
  LOCALDX_DB="$db" tauri-driver --port "$port" --native-port "$native_port" --native-driver "$(command -v WebKitWebDriver)" \
    >"$out/tauri-driver-$spec.log" 2>&1 &
  driver=$!
  pids+=("$driver")
  for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  LOCALDX_DB="$db" E2E_PORT=$port E2E_APP=$bin E2E_OUT=$out E2E_WORK=$work node "tests/e2e/$spec.mjs" || status=$?
  kill "$driver" 2>/dev/null || true
  wait "$driver" 2>/dev/null || true
}

# E2E_SPECS picks the scenarios (default: both).
for spec in ${E2E_SPECS:-spec accounts}; do
  case $spec in
    # The workflow screens on a plain database, as the Quick start makes: an existing file without a
    # key file opens with no login (an empty file is an empty SQLite database).
    spec) : >"$work/e2e.sqlite"; drive spec "$work/e2e.sqlite" ;;
    # Accounts from the first run on: nothing at the path, so the app creates an encrypted database.
    accounts) drive accounts "$work/accounts/localdx.sqlite" ;;
    *) echo "e2e: unknown spec $spec (spec, accounts)"; exit 2 ;;
  esac
done

# Keep the screenshots small and copy the ones the README shows.
shopt -s nullglob
for png in "$out"/*.png; do
  convert "$png" -strip -define png:compression-level=9 "$png" 2>/dev/null || true
done
# The README's screenshots are refreshed only when asked (E2E_UPDATE_SCREENSHOTS=1), so that a
# test run leaves the checkout as it found it.
if [ "$status" -eq 0 ] && [ -n "${E2E_UPDATE_SCREENSHOTS:-}" ]; then
  mkdir -p docs/screenshots
  for name in datasets import-preview import-progress import-refused import-result record-browser record-browser-large training suggestions report \
    first-run login accounts audit released; do
    # 256-colour PNGs: the UI is flat colours, so they stay sharp at a third of the size.
    if [ -f "$out/$name.png" ]; then
      convert "$out/$name.png" -strip +dither -colors 256 "PNG8:docs/screenshots/$name.png"
    fi
  done
fi
exit "$status"
