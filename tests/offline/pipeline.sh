#!/usr/bin/env bash
# The whole pipeline offline, by construction and by observation: every step of the command line
# (import -> detect -> review -> release -> statistics -> train -> promote -> suggest with the run
# in use -> monitor -> report and model card as PDF) runs inside a network
# namespace with no interface but loopback (`unshare -n`), under strace counting every network
# system call. It must complete, and no socket may be opened in an internet family (AF_INET,
# AF_INET6) or to anything but loopback. Prints the counts. Needs root (or user namespaces),
# strace and util-linux (scripts/install-deps.sh) and the default model (scripts/fetch-models.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
localdx=$root/target/debug/localdx
[ -x "$localdx" ] || { echo "offline: $localdx is missing (cargo build -p localdx-cli)"; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/localdx-offline.XXXXXX")
trap 'rm -rf "$work"' EXIT
export LOCALDX_DB=$work/offline.sqlite LOCALDX_MODELS=${LOCALDX_MODELS:-$root/models}

cat >"$work/pipeline.sh" <<'STEPS'
set -euo pipefail
ldx() { "$LOCALDX" "$@"; }
ldx import "$SAMPLE" --name clinic-notes --text-column note --label-column diagnosis --patient-column patient_id --id-column note_id
ldx review detect 1
ldx review accept 1 --all --spot-check 0
version=$(ldx --json release 1 | sed -n 's/.*"version_id": *\([0-9]*\).*/\1/p')
ldx --json train --dataset "$version" --preset quick --epochs 1 --max-len 48 --layers 2 >"$WORK/train.json"
run=$(sed -n 's/.*"run_id": *"\([^"]*\)".*/\1/p' "$WORK/train.json" | head -1)
ldx --json dataset stats 1 >"$WORK/stats.json"
grep -q '"warnings"' "$WORK/stats.json"
echo "Cough, fever and wheeze for three days; chest tight at night." | ldx suggest --run "$run" --windows 4
ldx runs promote "$run" --reason "offline pipeline"
echo "Wheezing at night, relieved by the inhaler." | ldx --json suggest --dataset 1 >"$WORK/suggest.json"
grep -q "\"model\": \"$run\"" "$WORK/suggest.json"
ldx --json monitor >"$WORK/monitor.json"
grep -q "\"model\": \"$run\"" "$WORK/monitor.json"
ldx report --run "$run" --out "$WORK/report.html"
test -s "$WORK/report.html"
ldx report --run "$run" --out "$WORK/report.pdf"
ldx runs card "$run" --out "$WORK/card.pdf"
pdftotext "$WORK/card.pdf" - | grep -q "Model card: $run"
pdftotext "$WORK/report.pdf" - | grep -q "Micro-F1"
STEPS

LOCALDX=$localdx SAMPLE=$root/samples/clinic-notes.csv WORK=$work \
  unshare -n strace -f --seccomp-bpf -qq -e trace=%network -e signal=none -o "$work/net.log" bash "$work/pipeline.sh" >"$work/out.log" 2>&1 || {
  echo "offline: the pipeline failed inside the network namespace; its output:"
  tail -40 "$work/out.log"
  exit 1
}
calls=$(grep -c . "$work/net.log" || true)
kinds=$(sed -n "s/^[0-9]* *\([a-z_0-9]*\)(.*/\1/p" "$work/net.log" | sort | uniq -c | awk '{printf "%s %s; ", $2, $1}')
sockets=$(grep -c ' socket(' "$work/net.log" || true)
inet=$(grep -E ' socket\(AF_INET6?,' "$work/net.log" || true)
remote=$(grep -E ' connect\(' "$work/net.log" | grep -vE 'sun_path|127\.0\.0\.1|::1' || true)
echo "offline: pipeline completed in a namespace without network: $calls network system calls (${kinds:-none}), $sockets sockets, $(grep -c ' connect(' "$work/net.log" || true) connects"
if [ -n "$inet" ] || [ -n "$remote" ]; then
  echo "offline: internet sockets or remote connects were made:"
  printf '%s\n%s\n' "$inet" "$remote" | head -20
  exit 1
fi
echo "offline: no internet-family socket, no connect beyond loopback"
