#!/usr/bin/env bash
# Benchmarks LocalDx's candle LoRA step against PyTorch + HF PEFT on the same CPU, same model, same
# settings (batch 1, rank 8 on all 7 projections, fp32), at sequence lengths 256 and 512, with peak
# memory (max RSS); and forward scoring of a 512-token note against llama.cpp (llama-cpp-python).
# Python packages go into a venv under /tmp (created on first use). Results: one JSON line each.
#
#   scripts/bench/run.sh [--skip-python] [--steps N]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
gguf="$root/models/SmolLM2-135M-Instruct.Q4_1.gguf"
venv="${LOCALDX_BENCH_VENV:-/tmp/localdx-bench-venv}"
steps=5
skip_python=0
while [ $# -gt 0 ]; do
  case "$1" in
    --skip-python) skip_python=1 ;;
    --steps) steps="$2"; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ -f "$gguf" ] || "$root/scripts/fetch-models.sh"

(cd "$root" && cargo build -q --release -p localdx-train --example symptom2disease)
bin="$root/target/release/examples/symptom2disease"
for seq in 256 512; do
  echo "candle seq=$seq"
  /usr/bin/time -f 'max_rss_kb=%M' "$bin" bench --seq "$seq" --steps "$steps" 2>&1 | grep -E '^\{|max_rss'
done

[ "$skip_python" = 1 ] && exit 0
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q torch transformers peft gguf sentencepiece llama-cpp-python
fi
for seq in 256 512; do
  echo "pytorch+peft seq=$seq"
  /usr/bin/time -f 'max_rss_kb=%M' "$venv/bin/python" "$root/scripts/bench/peft_bench.py" --gguf "$gguf" --seq "$seq" --steps "$steps" 2>&1 | grep -E '^\{|max_rss'
done
echo "llama.cpp forward seq=512"
"$venv/bin/python" "$root/scripts/bench/llamacpp_bench.py" --gguf "$gguf" --seq 512
