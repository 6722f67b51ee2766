#!/usr/bin/env bash
# The Quick start's first command is idempotent: scripts/start.sh, headless (no display, so it
# stops after the set-up instead of opening the window), on a fresh database, run three times:
#   1. after an interrupted first run (the database file exists, nothing imported yet);
#   2. again, when the sample is already imported (it must not import it a second time);
#   3. once more.
# Each run must exit 0 and leave exactly one `clinic-notes` dataset. Never uses the network
# beyond what scripts/install-deps.sh and scripts/fetch-models.sh skip when all is there.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d "${TMPDIR:-/tmp}/localdx-start.XXXXXX")
trap 'rm -rf "$work"' EXIT
export LOCALDX_DB="$work/localdx.sqlite"
: >"$LOCALDX_DB"
for run in 1 2 3; do
  if ! env -u DISPLAY -u WAYLAND_DISPLAY bash scripts/start.sh >"$work/run$run.log" 2>&1; then
    echo "start twice: run $run of scripts/start.sh failed; its output:"
    cat "$work/run$run.log"
    exit 1
  fi
  count=$(target/debug/localdx datasets --json | grep -o '"name": *"clinic-notes"' | wc -l)
  if [ "$count" != 1 ]; then
    echo "start twice: after run $run the database holds $count clinic-notes datasets, not 1"
    cat "$work/run$run.log"
    exit 1
  fi
  echo "start twice: run $run exited 0, one clinic-notes dataset"
done
