"""GFLOP/s of PyTorch's f32 matmul (MKL on x86) and NumPy's (OpenBLAS) on the shapes of a
SmolLM2-135M LoRA training step, the same shapes and directions as
`cargo run -p localdx-model --example gemm_bench -- THREADS`: forward `x W^T` and backward `dy W`
for every projection, at 256 and 512 tokens (and 64 for q/o and gate/up). Best of 5 rounds after a warm-up. One JSON line per
shape, direction and library."""
import argparse, json, os, time

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=1)
a = p.parse_args()
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(a.threads)
import numpy as np  # noqa: E402  (after the thread variables)
import torch  # noqa: E402

torch.set_num_threads(a.threads)
shapes = [(64, 576, 576), (64, 576, 1536), (256, 576, 576), (256, 576, 192), (256, 576, 1536), (256, 1536, 576), (512, 576, 576), (512, 576, 1536), (512, 1536, 576)]


def best(reps, f):
    for _ in range(3):
        f()
    times = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(reps):
            f()
        times.append((time.perf_counter() - t) / reps)
    return min(times)


rng = np.random.default_rng(0)
for m, k, n in shapes:
    x = rng.uniform(-0.5, 0.5, (m, k)).astype(np.float32)
    w = rng.uniform(-0.5, 0.5, (n, k)).astype(np.float32)
    dy = rng.uniform(-0.5, 0.5, (m, n)).astype(np.float32)
    flops = 2.0 * m * k * n
    reps = max(1, int(2e9 / flops))
    tx, tw, tdy = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(dy)
    runs = {
        ("pytorch", "forward"): lambda: tx @ tw.t(),
        ("pytorch", "backward"): lambda: tdy @ tw,
        ("numpy", "forward"): lambda: x @ w.T,
        ("numpy", "backward"): lambda: dy @ w,
    }
    for (lib, direction), f in runs.items():
        kk, nn = (k, n) if direction == "forward" else (n, k)
        print(json.dumps({"engine": lib, "m": m, "k": kk, "n": nn, "dir": direction, "threads": a.threads, "gflops": round(flops / best(reps, f) / 1e9, 1)}))
