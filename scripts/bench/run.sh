#!/usr/bin/env bash
# Benchmarks LocalDx's candle LoRA step against PyTorch + HF PEFT on the same CPU, same model, same
# settings (batch 1, rank 8 / alpha 16 / dropout 0 on all 7 projections of all 30 layers, fp32
# base, a mean-pooled-hidden-state loss), at sequence lengths 256 and 512, with peak memory (max
# RSS of the whole process, model load included); and forward scoring of a 512-token note against
# llama.cpp (llama-cpp-python) on the same GGUF file; and the GEMM alone on the step's shapes,
# LocalDx's beside the `gemm` crate's (what candle's CPU matmul uses), PyTorch's (MKL) and
# NumPy's (OpenBLAS). One JSON line per measurement.
#
#   scripts/bench/run.sh [--skip-python] [--steps N] [--threads N]
#
# Python packages go into a venv ($LOCALDX_BENCH_VENV, default /tmp/localdx-bench-venv), created
# and filled on first use: torch (the CPU wheel from download.pytorch.org when that index is
# reachable, else whatever PyPI serves), transformers, peft, gguf, sentencepiece and
# llama-cpp-python (built from source by pip: needs a C++ compiler; takes minutes). The candle
# side is the dev profile, whose dependencies (candle, gemm) are built at opt-level 3 (see the
# workspace Cargo.toml); `--release` builds the release profile instead.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
models="${LOCALDX_MODELS:-$root/models}"
gguf="$models/SmolLM2-135M-Instruct.Q4_1.gguf"
venv="${LOCALDX_BENCH_VENV:-/tmp/localdx-bench-venv}"
target="${CARGO_TARGET_DIR:-$root/target}"
steps=5
threads="$(nproc)"
skip_python=0
profile=dev
while [ $# -gt 0 ]; do
  case "$1" in
    --skip-python) skip_python=1 ;;
    --steps) steps="$2"; shift ;;
    --threads) threads="$2"; shift ;;
    --release) profile=release ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [ ! -f "$gguf" ]; then
  LOCALDX_MODELS="$models" "$root/scripts/fetch-models.sh"
fi
peak() { /usr/bin/time -f 'max_rss_kb=%M' "$@" 2>&1 | grep -E '^\{|max_rss'; }
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), threads $threads"

(cd "$root" && cargo build -q --profile "$profile" -p localdx-train --example symptom2disease)
(cd "$root" && cargo build -q --profile "$profile" -p localdx-model --example gemm_bench)
dir=debug; [ "$profile" = release ] && dir=release
bin="$target/$dir/examples/symptom2disease"
echo "GEMM: LocalDx and the gemm crate"
RAYON_NUM_THREADS="$threads" "$target/$dir/examples/gemm_bench" "$threads"
for seq in 256 512; do
  echo "candle seq=$seq"
  CANDLE_NUM_THREADS="$threads" RAYON_NUM_THREADS="$threads" peak "$bin" bench --model "$gguf" --seq "$seq" --steps "$steps"
done

[ "$skip_python" = 1 ] && exit 0
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
pip=("$venv/bin/python" -m pip install -q)
if ! "$venv/bin/python" -c 'import torch' 2>/dev/null; then
  if curl -fsS -m 10 -o /dev/null https://download.pytorch.org/whl/cpu/torch/; then
    "${pip[@]}" torch --index-url https://download.pytorch.org/whl/cpu
  else
    "${pip[@]}" torch
  fi
fi
for mod in transformers peft gguf sentencepiece llama_cpp; do
  if ! "$venv/bin/python" -c "import $mod" 2>/dev/null; then
    pkg="$mod"; [ "$mod" = llama_cpp ] && pkg=llama-cpp-python
    "${pip[@]}" "$pkg"
  fi
done
"$venv/bin/python" -c 'import torch; print("torch", torch.__version__, "threads", torch.get_num_threads())'
for seq in 256 512; do
  echo "pytorch+peft seq=$seq"
  peak "$venv/bin/python" "$root/scripts/bench/peft_bench.py" --gguf "$gguf" --seq "$seq" --steps "$steps" --threads "$threads"
done
echo "GEMM: PyTorch and NumPy"
"$venv/bin/python" "$root/scripts/bench/gemm_peers.py" --threads "$threads"
echo "llama.cpp forward seq=512"
"$venv/bin/python" "$root/scripts/bench/llamacpp_bench.py" --gguf "$gguf" --seq 512 --threads "$threads"
echo "candle forward seq=512 (from the candle seq=512 line above: forward_tokens_per_second)"
