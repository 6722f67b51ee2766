#!/usr/bin/env bash
# Measures the redaction review screen on the 1,450-note PhysioNet dev set through WebDriver: the
# `localdx` CLI imports the notes and runs detection into a fresh (plain) database, then
# tests/e2e/review.mjs reviews notes by keyboard only in the real desktop app under Xvfb and prints
# keystrokes and seconds per note with PHI, and the time from a keystroke to the next note on screen.
# Screenshots go to tests/e2e/out/. Never uses the network.
#
#   bash tests/e2e/review.sh            # builds the UI, the app and the CLI first
#   E2E_SKIP_BUILD=1 E2E_BIN_DIR=/path/to/target/debug bash tests/e2e/review.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out=$root/tests/e2e/out
# shellcheck source=tests/e2e/lib.sh
source tests/e2e/lib.sh
e2e_need_tools
e2e_physionet_workspace review
"$bins/localdx" --json review detect 1 >/dev/null

e2e_start_display review

e2e_start_driver review

E2E_PORT=$E2E_DRIVER_PORT E2E_APP=$bins/localdx-app E2E_OUT=$out node tests/e2e/review.mjs
