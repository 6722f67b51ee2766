"""LoRA training tokens/s of PyTorch + HF PEFT on the same GGUF model, same settings as LocalDx's
candle bench: batch 1, sequence length --seq, rank 8 (alpha 16, dropout 0) on all seven
projections, fp32, a mean-pooled-hidden-state loss (the work of a classification step without a
vocabulary-sized head). Prints one JSON line. Run by scripts/bench/run.sh inside a venv."""
import argparse, json, os, time

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModel

p = argparse.ArgumentParser()
p.add_argument("--gguf", required=True)
p.add_argument("--seq", type=int, default=256)
p.add_argument("--steps", type=int, default=5)
p.add_argument("--threads", type=int, default=os.cpu_count())
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)

model = AutoModel.from_pretrained(os.path.dirname(a.gguf), gguf_file=os.path.basename(a.gguf), torch_dtype=torch.float32)
cfg = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0,
                 target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
model = get_peft_model(model, cfg)
model.train()
ids = torch.tensor([[100 + (i * 37) % 30000 for i in range(a.seq)]])
times = []
for step in range(a.steps + 1):
    t = time.perf_counter()
    h = model(input_ids=ids).last_hidden_state
    loss = h.mean(dim=1).pow(2).mean()
    loss.backward()
    model.zero_grad(set_to_none=True)
    if step > 0:
        times.append(time.perf_counter() - t)
with torch.no_grad():
    model.eval()
    t = time.perf_counter()
    model(input_ids=ids)
    fwd = time.perf_counter() - t
print(json.dumps({"engine": "pytorch+peft", "seq": a.seq, "train_tokens_per_second": a.seq / (sum(times) / len(times)),
                  "forward_tokens_per_second": a.seq / fwd, "torch": torch.__version__}))
