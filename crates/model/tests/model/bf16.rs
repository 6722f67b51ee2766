//! The bf16 GEMM on every kernel this CPU runs, against an f64 triple loop: edge tiles in every
//! direction, depths past one block of `k`, transposed and strided `A`, accumulation, scaling and
//! two threads. Kernels this CPU lacks are named in the output (compiled, not run).
//!
//! Tolerances come from the format. Each factor is rounded to bf16 (8 significant bits, so a
//! relative error of at most 2^-8), so against the exact product of the f32 inputs
//! `|C - AB| <= (2 * 2^-8 + 2^-16) S + f32 error`, where `S = sum_p |a_ip b_pj|`; against the
//! product of the rounded inputs only the f32 accumulation error remains, `k * 2^-23 * S` at most.

use localdx_model::bf16::{from_bf16, gemm, to_bf16, Kernel, PackedB};
use localdx_model::sgemm::Operand;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn kernels() -> Vec<Kernel> {
    let (run, skip): (Vec<Kernel>, Vec<Kernel>) = [Kernel::Avx512Bf16, Kernel::Amx].into_iter().partition(|k| k.supported());
    for k in &skip {
        eprintln!("not run on this CPU: {} (compiled only)", k.describe());
    }
    // The plain reference loop always runs.
    [vec![Kernel::F32], run].concat()
}

#[allow(clippy::too_many_arguments)]
fn check(kernel: Kernel, m: usize, n: usize, k: usize, a_transposed: bool, accumulate: bool, alpha: f32, threads: usize) {
    let mut rng = StdRng::seed_from_u64((m * 31 + n * 17 + k) as u64);
    let a: Vec<f32> = (0..m * k).map(|_| rng.random_range(-1.0..1.0)).collect();
    let b: Vec<f32> = (0..k * n).map(|_| rng.random_range(-1.0..1.0) * 3.0).collect();
    let a_at = |i: usize, p: usize| if a_transposed { a[p * m + i] } else { a[i * k + p] };
    let op = if a_transposed { Operand::transposed(a.as_ptr(), m) } else { Operand::rows(a.as_ptr(), k) };
    let packed = PackedB::from_fn(k, n, |p, j| b[p * n + j]);
    let c_rs = n + 3;
    let start: Vec<f32> = (0..m * c_rs).map(|_| rng.random_range(-1.0..1.0)).collect();
    let mut c = start.clone();
    unsafe { gemm(kernel, m, op, &packed, c.as_mut_ptr(), c_rs, accumulate, alpha, threads) };
    let round = |x: f32| from_bf16(to_bf16(x)) as f64;
    for i in 0..m {
        for j in 0..c_rs {
            let got = c[i * c_rs + j] as f64;
            if j >= n {
                assert_eq!(got as f32, start[i * c_rs + j], "{kernel:?}: padding column {j} of row {i} was written");
                continue;
            }
            let base = if accumulate { start[i * c_rs + j] as f64 } else { 0.0 };
            let exact: f64 = (0..k).map(|p| a_at(i, p) as f64 * b[p * n + j] as f64).sum();
            let rounded: f64 = (0..k).map(|p| round(a_at(i, p)) * round(b[p * n + j])).sum();
            let size: f64 = (0..k).map(|p| (a_at(i, p) as f64 * b[p * n + j] as f64).abs()).sum::<f64>() * alpha.abs() as f64;
            let f32_error = (k as f64 + 2.0) * f32::EPSILON as f64 * (size + base.abs());
            let format_error = (2.0 * 2f64.powi(-8) + 2f64.powi(-16)) * size;
            let what = format!("{kernel:?} m={m} n={n} k={k} transposed={a_transposed} acc={accumulate} threads={threads}: C[{i},{j}] = {got}");
            assert!((got - (alpha as f64 * rounded + base)).abs() <= f32_error + 1e-30, "{what}, rounded inputs give {}", alpha as f64 * rounded + base);
            assert!((got - (alpha as f64 * exact + base)).abs() <= format_error + f32_error, "{what}, exact {}", alpha as f64 * exact + base);
        }
    }
}

#[test]
fn every_kernel_matches_a_triple_loop_on_edge_tiles() {
    for kernel in kernels() {
        for m in [1, 11, 12, 13, 31, 32, 33, 70] {
            for n in [1, 15, 16, 17, 33, 70] {
                for k in [1, 2, 31, 33, 64] {
                    check(kernel, m, n, k, false, false, 1.0, 1);
                }
            }
        }
    }
}

#[test]
fn every_kernel_handles_deep_products_strides_accumulation_and_threads() {
    for kernel in kernels() {
        // k past one 256-deep block of the AVX-512 kernel, odd sizes everywhere.
        check(kernel, 45, 77, 601, false, false, 1.0, 1);
        check(kernel, 45, 77, 601, true, true, -0.5, 2);
        check(kernel, 64, 192, 576, false, true, 2.0, 2);
        check(kernel, 3, 250, 130, true, false, 1.0, 2);
    }
}

#[test]
fn an_empty_product_writes_zeros_or_leaves_c() {
    for kernel in kernels() {
        let packed = PackedB::from_fn(0, 5, |_, _| 1.0);
        let a = [0f32; 1];
        let mut c = vec![7f32; 2 * 5];
        unsafe { gemm(kernel, 2, Operand::rows(a.as_ptr(), 0), &packed, c.as_mut_ptr(), 5, true, 1.0, 1) };
        assert!(c.iter().all(|v| *v == 7.0), "{kernel:?}");
        unsafe { gemm(kernel, 2, Operand::rows(a.as_ptr(), 0), &packed, c.as_mut_ptr(), 5, false, 1.0, 1) };
        assert!(c.iter().all(|v| *v == 0.0), "{kernel:?}: {c:?}");
    }
}

/// Called from inside the thread pool, many at once, each asking for two threads: every result
/// stays right. (A thread waiting for its own parts may run another call; `gemm` takes its buffer
/// out of the thread-local so such a call finds none borrowed. This test makes that interleaving
/// possible but cannot force it: it checks the results, not the steal.)
#[test]
fn calls_nest_inside_the_thread_pool() {
    use rayon::prelude::*;
    for kernel in kernels() {
        (0..64).into_par_iter().for_each(|i| check(kernel, 40 + i % 7, 96, 70, false, false, 1.0, 2));
    }
}
