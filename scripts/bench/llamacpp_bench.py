"""Forward (prompt scoring) tokens/s of llama.cpp (llama-cpp-python) on the same GGUF file, one
512-token note, logits of the last token only (LocalDx scores a note from its pooled hidden states
and never computes the vocabulary projection). Prints one JSON line."""
import argparse, json, os, time
from llama_cpp import Llama

p = argparse.ArgumentParser()
p.add_argument("--gguf", required=True)
p.add_argument("--seq", type=int, default=512)
p.add_argument("--threads", type=int, default=os.cpu_count())
a = p.parse_args()
llm = Llama(model_path=a.gguf, n_ctx=a.seq + 8, n_batch=a.seq, n_threads=a.threads, logits_all=False, embedding=False, verbose=False)
ids = [100 + (i * 37) % 30000 for i in range(a.seq)]
best = None
for _ in range(3):
    llm.reset()
    t = time.perf_counter()
    llm.eval(ids)
    dt = time.perf_counter() - t
    best = dt if best is None else min(best, dt)
print(json.dumps({"engine": "llama.cpp", "seq": a.seq, "forward_tokens_per_second": a.seq / best}))
