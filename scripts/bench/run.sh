#!/usr/bin/env bash
# Benchmarks LocalDx's candle LoRA step against PyTorch + HF PEFT on the same CPU, same model, same
# settings (batch 1, rank 8 / alpha 16 / dropout 0 on all 7 projections of all 30 layers, a
# mean-pooled-hidden-state loss), each in every mode it has: LocalDx with each kernel this CPU runs
# (LOCALDX_KERNELS=f32, bf16, amx), PyTorch fp32, bf16 autocast and torch.compile (with bf16
# autocast), the engines alternating, at sequence lengths 256 and 512, with peak memory (max
# RSS of the whole process, model load included); and forward scoring of a 512-token note against
# llama.cpp (llama-cpp-python) on the same GGUF file; and the GEMM alone on the step's shapes,
# LocalDx's beside the `gemm` crate's (what candle's CPU matmul uses), PyTorch's (MKL) and
# NumPy's (OpenBLAS). One JSON line per measurement, then one line of ratios per length: LocalDx's
# fastest kernel against PyTorch's fastest mode (training and forward tokens/s, peak memory) and,
# at 512, LocalDx's forward against llama.cpp's. Run it once per thread count.
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
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load average before: $(cut -d' ' -f1-3 /proc/loadavg), threads $threads"

(cd "$root" && cargo build -q --profile "$profile" -p localdx-train --example symptom2disease)
(cd "$root" && cargo build -q --profile "$profile" -p localdx-model --example gemm_bench)
dir=debug; [ "$profile" = release ] && dir=release
bin="$target/$dir/examples/symptom2disease"
# LocalDx's kernels this CPU runs (LOCALDX_KERNELS values), from the GEMM bench's header line.
echo "GEMM: LocalDx (f32 and each bf16 kernel) and the gemm crate"
RAYON_NUM_THREADS="$threads" "$target/$dir/examples/gemm_bench" "$threads" | tee /tmp/localdx-gemm-bench.jsonl
kernels="$(grep -o '"kernels":\[[^]]*\]' /tmp/localdx-gemm-bench.jsonl | grep -o '"[a-z0-9]*"' | tr -d '"' | grep -v kernels | xargs)"
localdx() { # kernel seq
  echo "localdx kernels=$1 seq=$2"
  LOCALDX_KERNELS="$1" CANDLE_NUM_THREADS="$threads" RAYON_NUM_THREADS="$threads" peak "$bin" bench --model "$gguf" --seq "$2" --steps "$steps"
}
if [ "$skip_python" = 1 ]; then
  for seq in 256 512; do for k in $kernels; do localdx "$k" "$seq"; done; done
  exit 0
fi
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
"$venv/bin/python" -c 'import torch; print("torch", torch.__version__, "threads", torch.get_num_threads(), "bf16 kernels:", torch.backends.mkldnn.is_available())'
pytorch() { # mode seq
  echo "pytorch+peft mode=$1 seq=$2"
  peak "$venv/bin/python" "$root/scripts/bench/peft_bench.py" --gguf "$gguf" --seq "$2" --steps "$steps" --threads "$threads" --mode "$1"
}
# The engines alternate: each LocalDx kernel, then each PyTorch mode, per sequence length.
modes=(fp32 bf16 compile)
for seq in 256 512; do
  i=0
  for k in $kernels; do
    localdx "$k" "$seq"
    [ $i -lt ${#modes[@]} ] && pytorch "${modes[$i]}" "$seq"
    i=$((i + 1))
  done
  while [ $i -lt ${#modes[@]} ]; do pytorch "${modes[$i]}" "$seq"; i=$((i + 1)); done
done 2>&1 | tee /tmp/localdx-train-bench.txt
echo "GEMM: PyTorch and NumPy"
"$venv/bin/python" "$root/scripts/bench/gemm_peers.py" --threads "$threads"
echo "llama.cpp forward seq=512"
"$venv/bin/python" "$root/scripts/bench/llamacpp_bench.py" --gguf "$gguf" --seq 512 --threads "$threads" | tee /tmp/localdx-llamacpp-bench.txt \
  || echo "llama.cpp failed (exit $?): no llama.cpp ratio in this run"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
# Ratios against the strongest peer mode, from the lines above.
python3 - /tmp/localdx-train-bench.txt /tmp/localdx-llamacpp-bench.txt <<'PY'
import json, re, sys
rows, rss, last = [], {}, None
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("{"):
        last = json.loads(line); rows.append(last)
    elif line.startswith("max_rss_kb=") and last is not None:
        last["rss_gb"] = int(line.split("=")[1]) / 1e6
llama = [json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")]
for seq in (256, 512):
    ours = [r for r in rows if r.get("seq") == seq and "kernel" in r]
    peers = [r for r in rows if r.get("seq") == seq and r.get("engine") == "pytorch+peft"]
    if not ours or not peers:
        continue
    best = max(ours, key=lambda r: r["train_tokens_per_second"])
    peer = max(peers, key=lambda r: r["train_tokens_per_second"])
    fpeer = max(peers, key=lambda r: r["forward_tokens_per_second"])
    print(json.dumps({"seq": seq, "localdx_best": best["kernel"], "localdx_train": best["train_tokens_per_second"],
        "pytorch_best": peer["mode"], "pytorch_train": round(peer["train_tokens_per_second"], 1),
        "train_ratio": round(best["train_tokens_per_second"] / peer["train_tokens_per_second"], 2),
        "rss_ratio": round(best.get("rss_gb", 0) / max(peer.get("rss_gb", 1e-9), 1e-9), 2),
        "forward_ratio_vs_pytorch_best": round(best["forward_tokens_per_second"] / fpeer["forward_tokens_per_second"], 2),
        "forward_ratio_vs_llamacpp": round(best["forward_tokens_per_second"] / llama[0]["forward_tokens_per_second"], 2) if seq == 512 and llama else None}))
PY
