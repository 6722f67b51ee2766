#!/usr/bin/env bash
# A full disk, for real: the workspace lives on a small tmpfs (in a private mount namespace, so
# nothing outside this script sees it). An import too large for the space left, and a training run
# whose checkpoints do not fit, must each fail with a clear message, leave what was stored before
# as it was, and leave a database that passes SQLite's integrity check. Needs root (or user and
# mount namespaces), util-linux and the default model (scripts/fetch-models.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
[ -x target/debug/localdx ] || { echo "full disk: target/debug/localdx is missing (cargo build -p localdx-cli)"; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/localdx-full.XXXXXX")
trap 'rm -rf "$work"' EXIT
python3 - "$work/big.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("note_id,patient_id,note,dx\n")
    for i in range(30000):
        f.write(f'N{i},P{i % 700},"Cough and fever for {i % 9 + 1} days; chest clear, note {i}.",J{i % 20:02d}\n')
PY
cat >"$work/inside.sh" <<'INSIDE'
set -uo pipefail
disk=$WORK/disk
mkdir -p "$disk"
mount -t tmpfs -o size=3m tmpfs "$disk"
export LOCALDX_DB=$disk/localdx.sqlite
fail() { echo "full disk: $*"; exit 1; }
"$LOCALDX" import "$ROOT/samples/clinic-notes.csv" --name clinic-notes --text-column note --label-column diagnosis --patient-column patient_id --id-column note_id >/dev/null || fail "the first import did not fit"
before=$("$LOCALDX" datasets)
if "$LOCALDX" import "$WORK/big.csv" --name big --text-column note --label-column dx >"$WORK/import.out" 2>&1; then fail "the import into a full disk succeeded"; fi
grep -q "disk holding the database is full" "$WORK/import.out" || fail "the import's error does not say the disk is full: $(cat "$WORK/import.out")"
[ "$("$LOCALDX" datasets)" = "$before" ] || fail "the datasets changed"
echo "full disk: import refused: $(tail -1 "$WORK/import.out")"
"$LOCALDX" review detect 1 >/dev/null && "$LOCALDX" review accept 1 --all --spot-check 0 >/dev/null || fail "review did not fit"
version=$("$LOCALDX" --json release 1 | sed -n 's/.*"version_id": *\([0-9]*\).*/\1/p')
[ -n "$version" ] || fail "the release did not fit"
# Fill the disk but a little, then train: its run folder cannot take a checkpoint.
head -c $(( $(df --output=avail -B1 "$disk" | tail -1) - 65536 )) /dev/zero >"$disk/filler" 2>/dev/null || true
if "$LOCALDX" train --dataset "$version" --preset quick --epochs 1 --max-len 32 --layers 1 >"$WORK/train.out" 2>&1; then fail "training on a full disk succeeded"; fi
grep -qiE "no space left|disk .*full" "$WORK/train.out" || fail "training's error does not say the disk is full: $(tail -3 "$WORK/train.out")"
echo "full disk: training refused: $(grep -iE "no space left|disk .*full" "$WORK/train.out" | tail -1)"
leftovers=$(find "$disk/runs" -name '*.tmp' 2>/dev/null)
[ -z "$leftovers" ] || fail "half-written files were left: $leftovers"
rm -f "$disk/filler"
[ "$(sqlite3 "$LOCALDX_DB" 'PRAGMA integrity_check')" = ok ] || fail "the database fails its integrity check"
[ "$("$LOCALDX" --json datasets | grep -c '"records": 180')" -ge 2 ] || fail "the sample or its release was lost"
echo "full disk: the database passes its integrity check; the sample and its release are intact"
INSIDE
LOCALDX=$root/target/debug/localdx ROOT=$root WORK=$work LOCALDX_MODELS=${LOCALDX_MODELS:-$root/models} unshare -m bash "$work/inside.sh"
