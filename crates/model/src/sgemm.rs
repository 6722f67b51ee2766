//! Single-precision matrix multiplication for the CPU training path:
//! `C[m, n] = alpha * A[m, k] B[k, n]`, or `C += alpha * A B`, with any row and column strides for
//! `A` and `B` (so `W^T` or a head's slice of a projection is read in place, never copied).
//!
//! Why our own: the GEMMs are two thirds of a LoRA training step, and the `gemm` crate reaches about
//! half of this class of CPU's peak on the step's shapes (`[256..512, 576] x [576, 576..1536]`),
//! where OpenBLAS and MKL reach about 90%. This is the Goto/BLIS scheme that gets them there:
//!
//! - `B` is packed, `KC` rows at a time, into panels `NR` columns wide (zero-padded);
//! - `A` is packed, `MC x KC` at a time, into panels `MR` rows tall;
//! - a micro-kernel keeps an `MR x NR` tile of `C` in registers while it walks `KC` rank-1 updates
//!   over one panel of each (`6 x 16`: twelve 8-wide FMA accumulators, AVX2 + FMA).
//!
//! Blocking: a panel of `A` (6 KB) and of `B` (16 KB) fit in L1 together, a block of `A` in L2.
//! CPUs without AVX2 and FMA (and other architectures) go to the `gemm` crate. With `threads > 1` the
//! longer of `m` and `n` is split into one slice per thread (rayon), each packed on its own.
//! Checked against a plain triple loop in `tests/model/sgemm.rs`; `examples/gemm_bench.rs` prints
//! its GFLOP/s beside the `gemm` crate's on the training step's shapes.

use rayon::prelude::*;
use std::cell::RefCell;

/// Rows of the micro-kernel's tile.
pub const MR: usize = 6;
/// Columns of the micro-kernel's tile.
pub const NR: usize = 16;
const KC: usize = 256;
const MC: usize = 144;
const NC: usize = 4096;

/// A read-only matrix operand: element `(i, j)` is at `ptr + i * rs + j * cs`.
#[derive(Debug, Clone, Copy)]
pub struct Operand {
    pub ptr: *const f32,
    pub rs: isize,
    pub cs: isize,
}

impl Operand {
    /// A row-major `[rows, cols]` matrix with rows `stride` elements apart.
    pub fn rows(ptr: *const f32, stride: usize) -> Operand {
        Operand { ptr, rs: stride as isize, cs: 1 }
    }

    /// The transpose of a row-major matrix with rows `stride` elements apart.
    pub fn transposed(ptr: *const f32, stride: usize) -> Operand {
        Operand { ptr, rs: 1, cs: stride as isize }
    }

    /// # Safety
    /// The element `(i, j)` must lie inside the operand's allocation.
    unsafe fn at(self, i: usize, j: usize) -> *const f32 {
        unsafe { self.ptr.offset(i as isize * self.rs + j as isize * self.cs) }
    }
}

/// Pointers moved into worker threads; every thread writes a disjoint slice of `C`.
#[derive(Clone, Copy)]
struct Shared(Operand, Operand, *mut f32);
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Shared {
    fn get(self) -> (Operand, Operand, *mut f32) {
        (self.0, self.1, self.2)
    }
}

/// `C = alpha * A B` (or `C += alpha * A B` with `accumulate`), `A` `[m, k]`, `B` `[k, n]`, `C`
/// `[m, n]` row-major with rows `c_rs` elements apart. With `k == 0` the product is zero.
///
/// # Safety
/// Every element the sizes and strides reach must be valid to read (`A`, `B`) or write (`C`), and
/// `C` must not overlap `A` or `B`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn sgemm(
    (m, n, k): (usize, usize, usize),
    a: Operand,
    b: Operand,
    c: *mut f32,
    c_rs: usize,
    accumulate: bool,
    alpha: f32,
    threads: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    if !fast_path() {
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                c,
                1,
                c_rs as isize,
                accumulate,
                a.ptr,
                a.cs,
                a.rs,
                b.ptr,
                b.cs,
                b.rs,
                1.0,
                alpha,
                false,
                false,
                false,
                if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None },
            )
        };
        return;
    }
    // Slices of at least 4 tiles per thread, else one thread.
    let split_m = m >= n;
    let (len, unit) = if split_m { (m, MR) } else { (n, NR) };
    let parts = threads.min(len / (4 * unit)).max(1);
    if parts == 1 {
        unsafe { serial((m, n, k), a, b, c, c_rs, accumulate, alpha) };
        return;
    }
    let per = len.div_ceil(parts).div_ceil(unit) * unit;
    let shared = Shared(a, b, c);
    (0..parts).into_par_iter().for_each(|part| {
        let (a, b, c) = shared.get();
        let start = part * per;
        if start >= len {
            return;
        }
        let size = per.min(len - start);
        // SAFETY: each part writes rows (or columns) start..start + size of C only.
        unsafe {
            if split_m {
                let a = Operand { ptr: a.at(start, 0), ..a };
                serial((size, n, k), a, b, c.add(start * c_rs), c_rs, accumulate, alpha);
            } else {
                let b = Operand { ptr: b.at(0, start), ..b };
                serial((m, size, k), a, b, c.add(start), c_rs, accumulate, alpha);
            }
        }
    });
}

/// A vector of `len` values written by `fill` (given the uninitialised buffer), with no zeroing
/// pass first: the GEMM's outputs are written whole (`accumulate` off) before anything reads them.
///
/// # Safety
/// `fill` must write every one of the `len` values.
pub unsafe fn written(len: usize, fill: impl FnOnce(*mut f32)) -> Vec<f32> {
    let mut v = Vec::with_capacity(len);
    fill(v.as_mut_ptr());
    // SAFETY: the caller guarantees every value is written.
    unsafe { v.set_len(len) };
    v
}

/// Whether this CPU runs the packed AVX2 + FMA kernel.
fn fast_path() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

thread_local! {
    /// Packing buffers, kept per thread across calls: (A block, B block).
    static PACK: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// One thread's GEMM (the caller checked `fast_path`).
#[allow(clippy::too_many_arguments)]
unsafe fn serial(
    (m, n, k): (usize, usize, usize),
    a: Operand,
    b: Operand,
    c: *mut f32,
    c_rs: usize,
    accumulate: bool,
    alpha: f32,
) {
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                unsafe { std::ptr::write_bytes(c.add(i * c_rs), 0, n) };
            }
        }
        return;
    }
    PACK.with_borrow_mut(|(pa, pb)| {
        let kc_max = KC.min(k);
        pa.resize(MC.min(m.next_multiple_of(MR)) * kc_max, 0.0);
        pb.resize(NC.min(n.next_multiple_of(NR)) * kc_max, 0.0);
        for jc in (0..n).step_by(NC) {
            let nc = NC.min(n - jc);
            for pc in (0..k).step_by(KC) {
                let kc = KC.min(k - pc);
                let first = pc == 0 && !accumulate;
                unsafe { pack_b(kc, nc, Operand { ptr: b.at(pc, jc), ..b }, pb) };
                for ic in (0..m).step_by(MC) {
                    let mc = MC.min(m - ic);
                    unsafe { pack_a(mc, kc, Operand { ptr: a.at(ic, pc), ..a }, pa) };
                    for jr in (0..nc).step_by(NR) {
                        let nr = NR.min(nc - jr);
                        let bp = &pb[jr * kc..][..NR * kc];
                        for ir in (0..mc).step_by(MR) {
                            let mr = MR.min(mc - ir);
                            let ap = &pa[ir * kc..][..MR * kc];
                            let ct = unsafe { c.add((ic + ir) * c_rs + jc + jr) };
                            unsafe { tile(kc, ap, bp, ct, c_rs, (mr, nr), first, alpha) };
                        }
                    }
                }
            }
        }
    });
}

/// Packs `A[0..mc, 0..kc]` into panels of `MR` rows: panel `q` holds `A[q*MR + i, p]` at
/// `q*MR*kc + p*MR + i`, rows past `mc` zero.
unsafe fn pack_a(mc: usize, kc: usize, a: Operand, dst: &mut [f32]) {
    for (q, i0) in (0..mc).step_by(MR).enumerate() {
        let rows = MR.min(mc - i0);
        let d = &mut dst[q * MR * kc..][..MR * kc];
        if a.cs == 1 && rows == MR {
            // Six rows read side by side, the panel written in order.
            let src: [&[f32]; MR] = std::array::from_fn(|i| unsafe { std::slice::from_raw_parts(a.at(i0 + i, 0), kc) });
            for (p, d) in d.chunks_exact_mut(MR).enumerate() {
                for (dv, row) in d.iter_mut().zip(&src) {
                    *dv = row[p];
                }
            }
            continue;
        }
        for p in 0..kc {
            for i in 0..rows {
                d[p * MR + i] = unsafe { *a.at(i0 + i, p) };
            }
        }
        if rows < MR {
            for p in 0..kc {
                d[p * MR + rows..(p + 1) * MR].fill(0.0);
            }
        }
    }
}

/// Packs `B[0..kc, 0..nc]` into panels of `NR` columns: panel `q` holds `B[p, q*NR + j]` at
/// `q*NR*kc + p*NR + j`, columns past `nc` zero.
unsafe fn pack_b(kc: usize, nc: usize, b: Operand, dst: &mut [f32]) {
    for (q, j0) in (0..nc).step_by(NR).enumerate() {
        let cols = NR.min(nc - j0);
        let d = &mut dst[q * NR * kc..][..NR * kc];
        if b.cs == 1 && cols == NR {
            // Whole rows of the panel: fixed-size copies (register moves, not memcpy calls).
            for (p, d) in d.chunks_exact_mut(NR).enumerate() {
                let src = unsafe { std::ptr::read_unaligned(b.at(p, j0) as *const [f32; NR]) };
                d.copy_from_slice(&src);
            }
        } else if b.cs == 1 {
            for p in 0..kc {
                let src = unsafe { std::slice::from_raw_parts(b.at(p, j0), cols) };
                d[p * NR..p * NR + cols].copy_from_slice(src);
            }
        } else if b.rs == 1 && cols == NR {
            // Sixteen columns of B (rows of W for B = W^T), transposed 8 x 8 in registers.
            let src: [&[f32]; NR] = std::array::from_fn(|j| unsafe { std::slice::from_raw_parts(b.at(0, j0 + j), kc) });
            unsafe { transpose_panel(&src, kc, d) };
            continue;
        } else {
            for p in 0..kc {
                for j in 0..cols {
                    d[p * NR + j] = unsafe { *b.at(p, j0 + j) };
                }
            }
        }
        if cols < NR {
            for p in 0..kc {
                d[p * NR + cols..(p + 1) * NR].fill(0.0);
            }
        }
    }
}

/// `d[p * NR + j] = src[j][p]` for a whole panel: blocks of 8 x 8 transposed in AVX registers
/// (8 loads and 8 stores per 64 values instead of 64 scalar loads), the last `kc % 8` rows one by
/// one. Only called on the fast path (AVX2 present).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn transpose_panel(src: &[&[f32]; NR], kc: usize, d: &mut [f32]) {
    use std::arch::x86_64::*;
    let full = kc - kc % 8;
    for p0 in (0..full).step_by(8) {
        for half in 0..NR / 8 {
            unsafe {
                let r: [__m256; 8] = std::array::from_fn(|j| _mm256_loadu_ps(src[half * 8 + j].as_ptr().add(p0)));
                let t0 = _mm256_unpacklo_ps(r[0], r[1]);
                let t1 = _mm256_unpackhi_ps(r[0], r[1]);
                let t2 = _mm256_unpacklo_ps(r[2], r[3]);
                let t3 = _mm256_unpackhi_ps(r[2], r[3]);
                let t4 = _mm256_unpacklo_ps(r[4], r[5]);
                let t5 = _mm256_unpackhi_ps(r[4], r[5]);
                let t6 = _mm256_unpacklo_ps(r[6], r[7]);
                let t7 = _mm256_unpackhi_ps(r[6], r[7]);
                let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
                let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
                let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
                let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
                let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
                let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
                let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
                let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
                let rows = [
                    _mm256_permute2f128_ps::<0x20>(u0, u4),
                    _mm256_permute2f128_ps::<0x20>(u1, u5),
                    _mm256_permute2f128_ps::<0x20>(u2, u6),
                    _mm256_permute2f128_ps::<0x20>(u3, u7),
                    _mm256_permute2f128_ps::<0x31>(u0, u4),
                    _mm256_permute2f128_ps::<0x31>(u1, u5),
                    _mm256_permute2f128_ps::<0x31>(u2, u6),
                    _mm256_permute2f128_ps::<0x31>(u3, u7),
                ];
                for (i, row) in rows.iter().enumerate() {
                    _mm256_storeu_ps(d[(p0 + i) * NR + half * 8..][..8].as_mut_ptr(), *row);
                }
            }
        }
    }
    for p in full..kc {
        for (j, col) in src.iter().enumerate() {
            d[p * NR + j] = col[p];
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn transpose_panel(_: &[&[f32]; NR], _: usize, _: &mut [f32]) {
    unreachable!("the packed path runs on x86_64 only (see fast_path)")
}

/// One `mr x nr` tile of `C` from a packed panel of `A` and one of `B`; partial tiles go through
/// a full tile on the stack.
#[allow(clippy::too_many_arguments)]
unsafe fn tile(kc: usize, ap: &[f32], bp: &[f32], c: *mut f32, c_rs: usize, (mr, nr): (usize, usize), first: bool, alpha: f32) {
    if mr == MR && nr == NR {
        unsafe { kernel(kc, ap.as_ptr(), bp.as_ptr(), c, c_rs, first, alpha) };
        return;
    }
    let mut t = [0f32; MR * NR];
    unsafe { kernel(kc, ap.as_ptr(), bp.as_ptr(), t.as_mut_ptr(), NR, true, alpha) };
    for i in 0..mr {
        let row = unsafe { std::slice::from_raw_parts_mut(c.add(i * c_rs), nr) };
        let src = &t[i * NR..i * NR + nr];
        if first {
            row.copy_from_slice(src);
        } else {
            row.iter_mut().zip(src).for_each(|(d, s)| *d += s);
        }
    }
}

/// The `MR x NR` micro-kernel: `C = alpha * sum_p a[p] b[p]^T` (`first`) or `C += ...`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel(kc: usize, a: *const f32, b: *const f32, c: *mut f32, c_rs: usize, first: bool, alpha: f32) {
    use std::arch::x86_64::*;
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); 2]; MR];
        for p in 0..kc {
            let b0 = _mm256_loadu_ps(b.add(p * NR));
            let b1 = _mm256_loadu_ps(b.add(p * NR + 8));
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = _mm256_broadcast_ss(&*a.add(p * MR + i));
                row[0] = _mm256_fmadd_ps(ai, b0, row[0]);
                row[1] = _mm256_fmadd_ps(ai, b1, row[1]);
            }
        }
        let al = _mm256_set1_ps(alpha);
        for (i, row) in acc.iter().enumerate() {
            let ci = c.add(i * c_rs);
            for (h, v) in row.iter().enumerate() {
                let dst = ci.add(h * 8);
                let v = if first { _mm256_mul_ps(al, *v) } else { _mm256_fmadd_ps(al, *v, _mm256_loadu_ps(dst)) };
                _mm256_storeu_ps(dst, v);
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn kernel(_: usize, _: *const f32, _: *const f32, _: *mut f32, _: usize, _: bool, _: f32) {
    unreachable!("the packed kernel runs on x86_64 only (see fast_path)")
}
