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
bins=${E2E_BIN_DIR:-${CARGO_TARGET_DIR:-$root/target}/debug}
data=$root/../shared/data/physionet_deid/deid_gold_dev.jsonl

need() { command -v "$1" >/dev/null 2>&1 || { echo "e2e: '$1' not found ($2)"; exit 2; }; }
need Xvfb "apt-get install xvfb"
need WebKitWebDriver "apt-get install webkit2gtk-driver"
need tauri-driver "cargo install tauri-driver --locked"
need import "apt-get install imagemagick"
[ -f "$data" ] || { echo "e2e: $data is absent"; exit 2; }

if [ -z "${E2E_SKIP_BUILD:-}" ]; then
  npm run --silent ui:build
  cargo build -p localdx-app -p localdx-cli
fi

mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/localdx-quality.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

export LOCALDX_DB="$work/review.sqlite"
"$bins/localdx" --json import "$data" --text-column text --id-column note_id --patient-column patient_id >/dev/null
"$bins/localdx" --json review gold import 1 "$data" --format deid-jsonl >/dev/null
"$bins/localdx" --json review detect 1 >/dev/null
"$bins/localdx" --json review quality 1 >"$work/quality.json"

display=90
while [ -e "/tmp/.X11-unix/X$display" ] || [ -e "/tmp/.X$display-lock" ]; do display=$((display + 1)); done
Xvfb ":$display" -screen 0 1440x960x24 -nolisten tcp >"$out/xvfb-quality.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$display" ] && break; sleep 0.1; done
export DISPLAY=":$display"
unset WAYLAND_DISPLAY
export WEBKIT_DISABLE_DMABUF_RENDERER=1 LIBGL_ALWAYS_SOFTWARE=1 NO_AT_BRIDGE=1

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
native_port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
tauri-driver --port "$port" --native-port "$native_port" --native-driver "$(command -v WebKitWebDriver)" \
  >"$out/tauri-driver-quality.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

E2E_PORT=$port E2E_APP=$bins/localdx-app E2E_OUT=$out E2E_QUALITY=$work/quality.json node tests/e2e/quality.mjs
