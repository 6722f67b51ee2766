//! GFLOP/s of LocalDx's GEMM (`localdx_model::sgemm`) beside the `gemm` crate's (what candle's CPU
//! matmul uses), measured in the same run on the shapes of a SmolLM2-135M LoRA training step:
//! forward `x W^T` and backward `dy W` for every projection, at 256 and 512 tokens, and for a
//! short note (64 tokens: one example of a DP-SGD batch, or a note scored alone).
//!
//!     cargo run -p localdx-model --example gemm_bench [-- THREADS]
//!
//! One JSON line per shape and direction. `scripts/bench/gemm_peers.py` gives PyTorch's (MKL) and
//! NumPy's (OpenBLAS) figures for the same shapes.

use localdx_model::sgemm::{sgemm, Operand};
use std::time::Instant;

/// Seconds per call: the best of 5 rounds of `reps` calls after a warm-up.
fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..3 {
        f();
    }
    (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..reps {
                f();
            }
            t.elapsed().as_secs_f64() / reps as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let threads: usize = std::env::args().nth(1).map_or(1, |t| t.parse().expect("THREADS is a number"));
    let par = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    // (tokens, in, out) of q/o, k/v, gate/up and down; 64 tokens for q/o and gate/up only.
    let shapes = [(64, 576, 576), (64, 576, 1536), (256, 576, 576), (256, 576, 192), (256, 576, 1536), (256, 1536, 576), (512, 576, 576), (512, 576, 1536), (512, 1536, 576)];
    for (m, k, n) in shapes {
        let x: Vec<f32> = (0..m * k).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect();
        let w: Vec<f32> = (0..n * k).map(|i| ((i * 104729) % 1000) as f32 / 1000.0 - 0.5).collect();
        let dy: Vec<f32> = (0..m * n).map(|i| ((i * 31) % 1000) as f32 / 1000.0 - 0.5).collect();
        let mut y = vec![0f32; m * n];
        let mut dx = vec![0f32; m * k];
        let flops = 2.0 * (m * k * n) as f64;
        let reps = (2e9 / flops).ceil() as usize;
        // Forward: y = x W^T. Backward: dx = dy W.
        let ours_f = time(reps, || unsafe {
            sgemm((m, n, k), Operand::rows(x.as_ptr(), k), Operand::transposed(w.as_ptr(), k), y.as_mut_ptr(), n, false, 1.0, threads)
        });
        let peer_f = time(reps, || unsafe {
            gemm::gemm(m, n, k, y.as_mut_ptr(), 1, n as isize, false, x.as_ptr(), 1, k as isize, w.as_ptr(), k as isize, 1, 0.0, 1.0, false, false, false, par)
        });
        let ours_b = time(reps, || unsafe {
            sgemm((m, k, n), Operand::rows(dy.as_ptr(), n), Operand::rows(w.as_ptr(), k), dx.as_mut_ptr(), k, false, 1.0, threads)
        });
        let peer_b = time(reps, || unsafe {
            gemm::gemm(m, k, n, dx.as_mut_ptr(), 1, k as isize, false, dy.as_ptr(), 1, n as isize, w.as_ptr(), 1, k as isize, 0.0, 1.0, false, false, false, par)
        });
        for (dir, ours, peer) in [("forward", ours_f, peer_f), ("backward", ours_b, peer_b)] {
            println!(
                "{{\"engine\":\"localdx-sgemm\",\"peer\":\"gemm-crate\",\"m\":{m},\"k\":{},\"n\":{},\"dir\":\"{dir}\",\"threads\":{threads},\"gflops\":{:.1},\"peer_gflops\":{:.1},\"ratio\":{:.2}}}",
                if dir == "forward" { k } else { n },
                if dir == "forward" { n } else { k },
                flops / ours / 1e9,
                flops / peer / 1e9,
                peer / ours
            );
        }
    }
}
