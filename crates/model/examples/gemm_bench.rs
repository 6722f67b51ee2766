//! GFLOP/s of LocalDx's GEMM (`localdx_model::sgemm`) beside the `gemm` crate's (what candle's CPU
//! matmul uses), measured in the same run on the shapes of a SmolLM2-135M LoRA training step:
//! forward `x W^T` and backward `dy W` for every projection, at 256 and 512 tokens, and for a
//! short note (64 tokens: one example of a DP-SGD batch, or a note scored alone).
//!
//!     cargo run -p localdx-model --example gemm_bench [-- THREADS]
//!
//! One JSON line per shape and direction. `scripts/bench/gemm_peers.py` gives PyTorch's (MKL) and
//! NumPy's (OpenBLAS) figures for the same shapes.
//!
//! Then the bf16 kernels of the frozen base (`localdx_model::bf16`) this CPU runs, on the same
//! shapes, each as GFLOP/s and as a share of its format's peak on one core:
//! `peak = clock * FLOP per cycle`, with the clock from `/proc/cpuinfo` (the nominal "cpu MHz";
//! turbo can run above it) and FLOP per cycle from the units: AVX2 f32 FMA 2 units x 8 lanes x 2 =
//! 32; AVX512_BF16 `vdpbf16ps` 2 units x 16 lanes x 2 products x 2 = 128; AMX `tdpbf16ps` one
//! 16 x 16 x 32 tile product (16,384 FLOP) per 16 cycles = 1,024. A register-only loop of
//! independent `vdpbf16ps` measures that unit's real ceiling beside it.

use localdx_model::bf16::{gemm as gemm16, Kernel, PackedB};
use localdx_model::sgemm::{sgemm, Operand};
use std::time::Instant;

/// The nominal clock in GHz, from /proc/cpuinfo.
fn clock_ghz() -> Option<f64> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("cpu MHz"))?;
    Some(line.split(':').nth(1)?.trim().parse::<f64>().ok()? / 1000.0)
}

/// FLOP per cycle and core of a kernel's units (see the module documentation).
fn flop_per_cycle(k: Kernel) -> f64 {
    match k {
        Kernel::F32 => 32.0,
        Kernel::Avx512Bf16 => 128.0,
        Kernel::Amx => 1024.0,
    }
}

/// GFLOP/s of a loop of 24 independent `vdpbf16ps` on registers (no memory): the unit's ceiling.
#[cfg(target_arch = "x86_64")]
fn dpbf16_ceiling() -> Option<f64> {
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn run(iters: usize) -> f32 {
        use std::arch::x86_64::*;
        let mut acc = [_mm512_setzero_ps(); 24];
        let a: __m512bh = unsafe { std::mem::transmute(_mm512_set1_epi32(0x3f80_3f80)) };
        let b: __m512bh = unsafe { std::mem::transmute(_mm512_set1_epi32(0x3c00_3c00)) };
        for _ in 0..iters {
            for v in acc.iter_mut() {
                *v = _mm512_dpbf16_ps(*v, a, b);
            }
        }
        acc.iter().map(|v| _mm512_reduce_add_ps(*v)).sum()
    }
    if !Kernel::Avx512Bf16.supported() {
        return None;
    }
    let iters = 2_000_000;
    let t = time(1, || {
        std::hint::black_box(unsafe { run(std::hint::black_box(iters)) });
    });
    Some((iters * 24 * 64) as f64 / t / 1e9)
}

#[cfg(not(target_arch = "x86_64"))]
fn dpbf16_ceiling() -> Option<f64> {
    None
}

/// GFLOP/s of a loop of `tdpbf16ps` into four independent tiles (operands loaded once): AMX's
/// ceiling. Runs only where the tiles were granted ([`Kernel::Amx`] supported).
#[cfg(target_arch = "x86_64")]
fn amx_ceiling() -> Option<f64> {
    use std::arch::asm;
    if !Kernel::Amx.supported() {
        return None;
    }
    #[repr(C, align(64))]
    struct Config([u8; 64]);
    let mut cfg = Config([0; 64]);
    cfg.0[0] = 1;
    for t in 0..8 {
        cfg.0[16 + 2 * t] = 64;
        cfg.0[48 + t] = 16;
    }
    let ones = vec![0x3f80u16; 16 * 32];
    let iters = 200_000usize;
    let t = time(1, || unsafe {
        asm!("ldtilecfg [{0}]", in(reg) cfg.0.as_ptr());
        asm!("tileloadd tmm4, [{p} + {s}]", "tileloadd tmm6, [{p} + {s}]", p = in(reg) ones.as_ptr(), s = in(reg) 64usize);
        asm!("tilezero tmm0", "tilezero tmm1", "tilezero tmm2", "tilezero tmm3");
        for _ in 0..std::hint::black_box(iters) {
            asm!("tdpbf16ps tmm0, tmm4, tmm6", "tdpbf16ps tmm1, tmm4, tmm6", "tdpbf16ps tmm2, tmm4, tmm6", "tdpbf16ps tmm3, tmm4, tmm6");
        }
        asm!("tilerelease");
    });
    Some((iters * 4 * 16 * 16 * 32 * 2) as f64 / t / 1e9)
}

#[cfg(not(target_arch = "x86_64"))]
fn amx_ceiling() -> Option<f64> {
    None
}

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
    bf16_kernels(threads, &shapes);
}

/// The bf16 kernels beside the f32 GEMM, with their share of the peak.
fn bf16_kernels(threads: usize, shapes: &[(usize, usize, usize)]) {
    let ghz = clock_ghz();
    let (chosen, why) = Kernel::chosen();
    println!(
        "{{\"kernels\":[{}],\"chosen\":\"{}\",\"why\":{:?},\"clock_ghz\":{},\"vdpbf16ps_ceiling_gflops\":{},\"tdpbf16ps_ceiling_gflops\":{}}}",
        Kernel::ALL.iter().filter(|k| k.supported()).map(|k| format!("\"{}\"", k.name())).collect::<Vec<_>>().join(","),
        chosen.name(),
        why,
        ghz.map_or("null".into(), |g| format!("{g:.3}")),
        dpbf16_ceiling().map_or("null".into(), |g| format!("{g:.1}")),
        amx_ceiling().map_or("null".into(), |g| format!("{g:.1}")),
    );
    for &(m, k, n) in shapes {
        let x: Vec<f32> = (0..m * k).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect();
        let w: Vec<f32> = (0..n * k).map(|i| ((i * 104729) % 1000) as f32 / 1000.0 - 0.5).collect();
        let dy: Vec<f32> = (0..m * n).map(|i| ((i * 31) % 1000) as f32 / 1000.0 - 0.5).collect();
        let (fwd, bwd) = (PackedB::transposed(&w, n, k), PackedB::rows(&w, n, k));
        let mut y = vec![0f32; m * n];
        let mut dx = vec![0f32; m * k];
        let flops = 2.0 * (m * k * n) as f64;
        let reps = (2e9 / flops).ceil() as usize;
        for dir in ["forward", "backward"] {
            let f32_time = time(reps, || unsafe {
                if dir == "forward" {
                    sgemm((m, n, k), Operand::rows(x.as_ptr(), k), Operand::transposed(w.as_ptr(), k), y.as_mut_ptr(), n, false, 1.0, threads)
                } else {
                    sgemm((m, k, n), Operand::rows(dy.as_ptr(), n), Operand::rows(w.as_ptr(), k), dx.as_mut_ptr(), k, false, 1.0, threads)
                }
            });
            for kernel in [Kernel::Avx512Bf16, Kernel::Amx].into_iter().filter(|k| k.supported()) {
                let t = time(reps, || unsafe {
                    if dir == "forward" {
                        gemm16(kernel, m, Operand::rows(x.as_ptr(), k), &fwd, y.as_mut_ptr(), n, false, 1.0, threads)
                    } else {
                        gemm16(kernel, m, Operand::rows(dy.as_ptr(), n), &bwd, dx.as_mut_ptr(), k, false, 1.0, threads)
                    }
                });
                let gflops = flops / t / 1e9;
                let peak = ghz.map(|g| g * flop_per_cycle(kernel) * threads as f64);
                println!(
                    "{{\"engine\":\"localdx-{}\",\"peer\":\"localdx-sgemm-f32\",\"m\":{m},\"k\":{},\"n\":{},\"dir\":\"{dir}\",\"threads\":{threads},\"gflops\":{gflops:.1},\"peer_gflops\":{:.1},\"ratio\":{:.2},\"share_of_peak\":{}}}",
                    kernel.name(),
                    if dir == "forward" { k } else { n },
                    if dir == "forward" { n } else { k },
                    flops / f32_time / 1e9,
                    f32_time / t,
                    peak.map_or("null".into(), |p| format!("{:.2}", gflops / p)),
                );
            }
        }
    }
}
