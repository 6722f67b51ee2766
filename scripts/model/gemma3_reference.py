#!/usr/bin/env python3
"""Reference numbers for the Gemma 3 forward pass of the model crate.

Loads models/gemma-3-270m-q4_k_m.gguf with transformers (`gguf_file=`: the quantized blocks are
dequantized to float32 by the `gguf` package, the same values candle dequantizes), runs the text
model in float32 with eager attention, and writes for each text: its token count, the first 8
values and the L2 norm of the mean-pooled final hidden states, the first 8 values of the last
position's final hidden state, and the 5 largest next-token logits at the last position.

Texts: two short literal sentences and three spans of ../shared/data (file, byte offset, byte
length; the longest runs past the 512-token sliding window, so the local layers' window matters).
Ids come from Gemma's tokenizer.json (HF `tokenizers`), BOS first.

Usage (repo root, venv with torch, transformers, gguf, tokenizers):
  python scripts/model/gemma3_reference.py models crates/model/tests/model/gemma3_forward.txt
"""
import json
import os
import sys

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "data")
TEXTS = [
    ("literal", "The patient reports fever, dry cough and fatigue for three days."),
    ("literal", "BP 120/80, HR 72; Dx: community-acquired pneumonia.\n\nPlan: amoxicillin 500 mg TID"),
    ("span", "symptom2disease/Symptom2Disease.csv", 18, 156),
    ("span", "mtsamples/mtsamples.csv", 400000, 1500),
    ("span", "mtsamples/mtsamples.csv", 1200000, 3200),
]


def boundary(data, i):
    while 0 < i < len(data) and (data[i] & 0xC0) == 0x80:
        i += 1
    return i


def main():
    models, out = sys.argv[1], sys.argv[2]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    tok = Tokenizer.from_file(os.path.join(models, "gemma-3-270m-q4_k_m.tokenizer.json"))
    model = AutoModelForCausalLM.from_pretrained(
        models, gguf_file="gemma-3-270m-q4_k_m.gguf", dtype=torch.float32, attn_implementation="eager")
    model.eval()
    cfg = model.config
    lines = [
        "# Gemma 3 270M forward reference: scripts/model/gemma3_reference.py, transformers "
        + __import__("transformers").__version__ + ", torch " + torch.__version__,
        f"# config: layers {cfg.num_hidden_layers} hidden {cfg.hidden_size} heads {cfg.num_attention_heads}/"
        f"{cfg.num_key_value_heads} head_dim {cfg.head_dim} sliding_window {cfg.sliding_window} "
        f"layer_types {''.join('G' if t == 'full_attention' else 'L' for t in cfg.layer_types)} "
        f"query_pre_attn_scalar {cfg.query_pre_attn_scalar} final_logit_softcapping {cfg.final_logit_softcapping}",
    ]
    for spec in TEXTS:
        if spec[0] == "literal":
            text = spec[1]
            lines.append("text literal " + json.dumps(text))
        else:
            _, rel, off, n = spec
            data = open(os.path.join(DATA, rel), "rb").read()
            a = boundary(data, off)
            b = boundary(data, a + n)
            text = data[a:b].decode("utf-8")
            lines.append(f"text span {rel} {a} {b - a}")
        ids = tok.encode(text).ids
        with torch.no_grad():
            o = model(torch.tensor([ids]), output_hidden_states=True)
        h = o.hidden_states[-1][0]
        pooled = h.mean(0)
        top = torch.topk(o.logits[0, -1], 5)
        fmt = lambda xs: " ".join(f"{float(x):.6g}" for x in xs)
        lines.append(f"tokens {len(ids)}")
        lines.append("pooled8 " + fmt(pooled[:8]))
        lines.append(f"pooled_norm {float(pooled.norm()):.6g}")
        lines.append("last8 " + fmt(h[-1, :8]))
        lines.append("top5 " + " ".join(f"{int(i)}:{float(v):.6g}" for v, i in zip(top.values, top.indices)))
    open(out, "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
