"""Checks that an adapter written by `localdx runs export` is a real PEFT adapter: it loads it with
HF PEFT onto the transformers model read from the same GGUF file, checks that every LoRA tensor of
the file landed in the model (none left at PEFT's initial values), then rebuilds LocalDx's head
(`localdx_head.json` + `localdx_head.safetensors`: cosine classifier on mean-pooled final hidden
states) in PyTorch and compares the label probabilities with `localdx predict --run ... --json`
for the same notes. Prints one JSON line; exits 1 when a check fails.

  python peft_check.py --gguf MODEL.gguf --adapter DIR --predictions pred.json --texts texts.json
(texts.json: the notes, in the order of pred.json)"""
import argparse, json, os, sys

import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

p = argparse.ArgumentParser()
p.add_argument("--gguf", required=True)
p.add_argument("--adapter", required=True)
p.add_argument("--predictions", required=True)
p.add_argument("--texts", required=True)
a = p.parse_args()
torch.set_grad_enabled(False)

d, f = os.path.dirname(a.gguf), os.path.basename(a.gguf)
tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
base = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, torch_dtype=torch.float32)
model = PeftModel.from_pretrained(base, a.adapter)
model.eval()

# 1. Every tensor of adapter_model.safetensors is in the model, with the file's values.
saved = load_file(os.path.join(a.adapter, "adapter_model.safetensors"))
state = model.state_dict()
missing, worst = [], 0.0
for name, t in saved.items():
    key = name.replace(".lora_A.weight", ".lora_A.default.weight").replace(".lora_B.weight", ".lora_B.default.weight")
    if key not in state:
        missing.append(name)
        continue
    worst = max(worst, (state[key] - t).abs().max().item())
lora_in_model = sum(1 for k in state if ".lora_" in k)

# 2. The head on mean-pooled final hidden states reproduces localdx's probabilities.
side = json.load(open(os.path.join(a.adapter, "localdx_head.json")))
head = load_file(os.path.join(a.adapter, "localdx_head.safetensors"))
w = torch.nn.functional.normalize(head["head.weight"], dim=-1)
texts = json.load(open(a.texts))
preds = json.load(open(a.predictions))
max_prob_diff, same_top = 0.0, 0
for text, row in zip(texts, preds):
    ids = tok(text, add_special_tokens=False)["input_ids"]
    n, h_share = side["max_len"], side["head_share"]
    if len(ids) > n:
        k = min(n, -(-int(n * h_share * 1e9) // int(1e9)))
        ids = ids[:k] + ids[len(ids) - (n - k):]
    out = model(input_ids=torch.tensor([ids]), output_hidden_states=True)
    pooled = out.hidden_states[-1][0].mean(0)
    x = torch.nn.functional.normalize(pooled - head["head.center"], dim=-1)
    logits = side["head_scale"] * (w @ x) + head["head.bias"]
    probs = torch.softmax(logits, -1) if side["head_kind"] == "multi_class" else torch.sigmoid(logits)
    ours = {q["label"]: q["probability"] for q in row["predictions"]}
    for label, pr in zip(side["labels"], probs.tolist()):
        max_prob_diff = max(max_prob_diff, abs(pr - ours[label]))
    same_top += side["labels"][int(probs.argmax())] == row["predictions"][0]["label"]

ok = not missing and lora_in_model == len(saved) and worst == 0.0 and same_top == len(preds) and max_prob_diff < 1e-3
print(json.dumps({"peft": __import__("peft").__version__, "transformers": __import__("transformers").__version__,
                  "adapter_tensors": len(saved), "lora_tensors_in_model": lora_in_model, "missing": missing[:3],
                  "max_weight_difference": worst, "notes": len(preds), "same_top_label": same_top,
                  "max_probability_difference": max_prob_diff, "ok": ok}))
sys.exit(0 if ok else 1)
