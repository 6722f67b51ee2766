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

# shellcheck source=tests/e2e/lib.sh
source tests/e2e/lib.sh
e2e_need_tools

if [ -z "${E2E_SKIP_BUILD:-}" ]; then
  echo "e2e: building the UI and the desktop app"
  npm run --silent ui:build
  cargo build -p localdx-app
fi
[ -x "$bin" ] || { echo "e2e: $bin is missing"; exit 2; }

rm -rf "$out"
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/localdx-e2e.XXXXXX")
e2e_start_display e2e

# The base model the training test fine-tunes (default: models/ of this checkout).
export LOCALDX_MODELS="${LOCALDX_MODELS:-$root/models}"

# drive SPEC DB: runs tests/e2e/SPEC.mjs against a fresh app (its own tauri-driver) on database DB.
status=0
drive() {
  local spec=$1 db=$2
  echo "e2e: $spec (database $db)"
  LOCALDX_DB="$db" e2e_start_driver "$spec"
  LOCALDX_DB="$db" E2E_PORT=$E2E_DRIVER_PORT E2E_APP=$bin E2E_OUT=$out E2E_WORK=$work node "tests/e2e/$spec.mjs" || status=$?
  kill "$E2E_DRIVER_PID" 2>/dev/null || true
  wait "$E2E_DRIVER_PID" 2>/dev/null || true
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
  for name in datasets import-preview import-progress import-refused import-result record-browser record-browser-large dataset-stats training suggestions suggestions-evidence report report-promoted monitoring retrain retrain-detector \
    first-run login accounts audit released; do
    # 256-colour PNGs: the UI is flat colours, so they stay sharp at a third of the size.
    if [ -f "$out/$name.png" ]; then
      convert "$out/$name.png" -strip +dither -colors 256 "PNG8:docs/screenshots/$name.png"
    fi
  done
fi
exit "$status"
