#!/usr/bin/env bash
# End-to-end check of the Review screen's "Detector quality" tab on the 1,450-note PhysioNet dev set:
# the `localdx` CLI imports the notes, imports the same file as their gold and runs detection into a
# fresh (plain) database; tests/e2e/quality.mjs then opens the tab in the real desktop app under Xvfb,
# checks that its figures are the CLI's (`review quality --json`), that the per-type table and the
# misses are listed, and that a miss opens its note. Screenshot in tests/e2e/out/. Never uses the network.
#
#   bash tests/e2e/quality.sh            # builds the UI, the app and the CLI first
#   E2E_SKIP_BUILD=1 E2E_BIN_DIR=/path/to/target/debug bash tests/e2e/quality.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out=$root/tests/e2e/out
# shellcheck source=tests/e2e/lib.sh
source tests/e2e/lib.sh
e2e_need_tools
e2e_physionet_workspace quality
"$bins/localdx" --json review gold import 1 "$data" --format deid-jsonl >/dev/null
"$bins/localdx" --json review detect 1 >/dev/null
"$bins/localdx" --json review quality 1 >"$work/quality.json"

e2e_start_display quality

e2e_start_driver quality

E2E_PORT=$E2E_DRIVER_PORT E2E_APP=$bins/localdx-app E2E_OUT=$out E2E_QUALITY=$work/quality.json node tests/e2e/quality.mjs
