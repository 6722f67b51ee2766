"""LoRA training tokens/s of PyTorch + HF PEFT on the same GGUF model, same settings as LocalDx's
candle bench: batch 1, sequence length --seq, rank 8 (alpha 16, dropout 0) on all seven
projections, a mean-pooled-hidden-state loss (the work of a classification step without a
vocabulary-sized head). --mode picks PyTorch's path: fp32; bf16 (the forward and loss under
torch.autocast("cpu", dtype=torch.bfloat16), oneDNN's AMX or AVX512_BF16 kernels where the CPU has
them); compile (bf16 autocast on a torch.compile'd model; its compilation happens in the untimed
warm-up steps). Prints one JSON line. Run by scripts/bench/run.sh inside a venv."""
import argparse, contextlib, json, os, time

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModel

p = argparse.ArgumentParser()
p.add_argument("--gguf", required=True)
p.add_argument("--seq", type=int, default=256)
p.add_argument("--steps", type=int, default=5)
p.add_argument("--threads", type=int, default=os.cpu_count())
p.add_argument("--mode", choices=["fp32", "bf16", "compile"], default="fp32")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)

model = AutoModel.from_pretrained(os.path.dirname(a.gguf), gguf_file=os.path.basename(a.gguf), torch_dtype=torch.float32)
cfg = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0,
                 target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
model = get_peft_model(model, cfg)
model.train()
if a.mode == "compile":
    model = torch.compile(model)
autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if a.mode != "fp32" else contextlib.nullcontext
warmup = 3 if a.mode == "compile" else 1
ids = torch.tensor([[100 + (i * 37) % 30000 for i in range(a.seq)]])
times = []
for step in range(a.steps + warmup):
    t = time.perf_counter()
    with autocast():
        h = model(input_ids=ids).last_hidden_state
        loss = h.float().mean(dim=1).pow(2).mean()
    loss.backward()
    model.zero_grad(set_to_none=True)
    if step >= warmup:
        times.append(time.perf_counter() - t)
with torch.no_grad(), autocast():
    model.eval()
    model(input_ids=ids)
    t = time.perf_counter()
    model(input_ids=ids)
    fwd = time.perf_counter() - t
print(json.dumps({"engine": "pytorch+peft", "mode": a.mode, "seq": a.seq, "threads": a.threads,
                  "train_tokens_per_second": a.seq / (sum(times) / len(times)),
                  "forward_tokens_per_second": a.seq / fwd, "torch": torch.__version__}))
