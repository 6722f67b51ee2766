//! bf16 GEMM for the frozen base: `C[m, n] = alpha * A[m, k] B[k, n]` (or `C += ...`) with `A` in
//! f32 (the activations or their gradient) and `B` a frozen weight kept as bf16 panels, packed once
//! at load ([`PackedB`]). Products are accumulated in f32.
//!
//! Why: the frozen projections hold almost all of a LoRA step's multiply-adds, and they do not need
//! f32 weights. bf16 keeps f32's exponent range with an 8-bit significand, so a product of two
//! rounded values is within `2^-8` (relative) of the exact one per factor, and the sums stay f32.
//! In exchange the CPU does more multiply-adds per instruction:
//!
//! - **AMX** (`tdpbf16ps`, Intel Sapphire Rapids and later): one instruction multiplies a 16 x 32
//!   tile of `A` by a 32 x 16 tile of `B` into a 16 x 16 tile of f32 sums. Linux hands out the
//!   tile registers only to a process that asks (`arch_prctl(ARCH_REQ_XCOMP_PERM)`), which
//!   [`Kernel::chosen`] does once.
//! - **AVX512_BF16** (`vdpbf16ps`, Zen 4 and later, Cooper Lake and later): each of 16 lanes adds a
//!   pair of bf16 products to an f32 sum, twice the multiply-adds of an f32 FMA.
//! - otherwise the weights stay f32 and [`crate::sgemm`] runs (AVX2 + FMA, or the `gemm` crate).
//!
//! `LOCALDX_KERNELS=f32|bf16|amx|auto` forces a path (falling back, with the reason, to the best
//! one this CPU has below it); [`Kernel::chosen`] says which ran and why, and the model's
//! `storage_reason` carries it into the run log.
//!
//! Layout shared by both kernels (it is the "VNNI" layout AMX's `B` tiles need): columns in blocks
//! of 16, and within a block rows in pairs, so the 32 bf16 values `B[2p..2p+2, 16q..16q+16]` are
//! one 64-byte line, column-major within a pair. `k` is padded with zeros to a multiple of 32 and
//! `n` to a multiple of 32, so every tile is whole. Checked against an f64 triple loop, on every
//! kernel this CPU can run, in `tests/model/bf16.rs`; `examples/gemm_bench.rs` prints GFLOP/s
//! against each format's peak.

use crate::sgemm::Operand;
use rayon::prelude::*;
use std::cell::RefCell;
use std::sync::OnceLock;

/// The variable that forces a kernel.
pub const KERNELS_VAR: &str = "LOCALDX_KERNELS";

/// Which GEMM multiplies by the frozen base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kernel {
    /// f32 weights, [`crate::sgemm`].
    F32,
    /// bf16 panels, AVX512_BF16 `vdpbf16ps`.
    Avx512Bf16,
    /// bf16 panels, AMX tiles (`tdpbf16ps`).
    Amx,
}

impl Kernel {
    pub const ALL: [Kernel; 3] = [Kernel::F32, Kernel::Avx512Bf16, Kernel::Amx];

    /// The short name `LOCALDX_KERNELS` takes.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::F32 => "f32",
            Kernel::Avx512Bf16 => "bf16",
            Kernel::Amx => "amx",
        }
    }

    /// What it is, for logs.
    pub fn describe(self) -> &'static str {
        match self {
            Kernel::F32 => "f32 weights (AVX2+FMA GEMM)",
            Kernel::Avx512Bf16 => "bf16 weights (AVX512_BF16 vdpbf16ps)",
            Kernel::Amx => "bf16 weights (AMX tdpbf16ps tiles)",
        }
    }

    /// Whether this CPU (and, for AMX, the operating system) runs it.
    pub fn supported(self) -> bool {
        match self {
            Kernel::F32 => true,
            Kernel::Avx512Bf16 => avx512_bf16(),
            Kernel::Amx => amx_ready(),
        }
    }

    /// Whether the frozen weights are kept as bf16 panels for this kernel.
    pub fn packs_bf16(self) -> bool {
        self != Kernel::F32
    }

    /// The kernel for this process and the reason, chosen once: `LOCALDX_KERNELS` if set (the best
    /// supported kernel at or below the one asked for), else the best this CPU has.
    pub fn chosen() -> (Kernel, &'static str) {
        static CHOICE: OnceLock<(Kernel, String)> = OnceLock::new();
        let (k, why) = CHOICE.get_or_init(|| choose(std::env::var(KERNELS_VAR).ok().as_deref()));
        (*k, why.as_str())
    }
}

/// [`Kernel::chosen`] for a given value of `LOCALDX_KERNELS`.
fn choose(requested: Option<&str>) -> (Kernel, String) {
    let best_below = |top: Kernel| Kernel::ALL.into_iter().rev().filter(|k| *k <= top).find(|k| k.supported()).unwrap_or(Kernel::F32);
    let auto = best_below(Kernel::Amx);
    let wanted = match requested.map(str::trim) {
        None | Some("") | Some("auto") => return (auto, format!("{}: the fastest this CPU has", auto.describe())),
        Some(v) => Kernel::ALL.into_iter().find(|k| k.name() == v),
    };
    match wanted {
        Some(k) if k.supported() => (k, format!("{} ({KERNELS_VAR}={})", k.describe(), k.name())),
        Some(k) => {
            let got = best_below(k);
            (got, format!("{}: {KERNELS_VAR}={} asked for {}, which this CPU or system does not offer", got.describe(), k.name(), k.describe()))
        }
        None => (
            auto,
            format!(
                "{}: {KERNELS_VAR}={:?} is not one of f32, bf16, amx, auto",
                auto.describe(),
                requested.unwrap_or_default()
            ),
        ),
    }
}

fn avx512_bf16() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// AMX-BF16 on the CPU (CPUID leaf 7: EDX bits 22 and 24) and the tile data granted by Linux.
fn amx_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        {
            let edx = std::arch::x86_64::__cpuid_count(7, 0).edx;
            let cpu = edx & (1 << 22) != 0 && edx & (1 << 24) != 0;
            cpu && avx512_bf16() && request_tile_data()
        }
        #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
        {
            false
        }
    })
}

/// `arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`: Linux (5.16+) lets a process use the
/// AMX tile registers only after it asks; the grant covers every thread of the process.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn request_tile_data() -> bool {
    const SYS_ARCH_PRCTL: isize = 158;
    const ARCH_REQ_XCOMP_PERM: usize = 0x1023;
    const XFEATURE_XTILEDATA: usize = 18;
    let ret: isize;
    // SAFETY: a plain system call with integer arguments; it changes only this process's
    // permission to use the tile registers.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") SYS_ARCH_PRCTL => ret,
            in("rdi") ARCH_REQ_XCOMP_PERM,
            in("rsi") XFEATURE_XTILEDATA,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack)
        );
    }
    ret == 0
}

/// `x` rounded to the nearest bf16 (ties to even); NaN stays NaN.
pub fn to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) | 0x40) as u16;
    }
    (bits.wrapping_add(0x7fff + ((bits >> 16) & 1)) >> 16) as u16
}

/// The f32 a bf16 value stands for (exact).
pub fn from_bf16(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

/// Columns per block (the width of an AMX `B` tile and of one 512-bit vector of f32 sums).
const NB: usize = 16;
/// `k` and `n` are padded to multiples of this.
const PAD: usize = 32;

/// A `[k, n]` matrix as bf16 panels (see the module documentation for the layout).
#[derive(Clone)]
pub struct PackedB {
    k: usize,
    n: usize,
    /// `k` padded to a multiple of 32.
    kp: usize,
    data: Vec<u16>,
}

impl std::fmt::Debug for PackedB {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PackedB [{}, {}] bf16", self.k, self.n)
    }
}

impl PackedB {
    /// Packs `B[p, j] = value(p, j)` for `p < k`, `j < n`.
    pub fn from_fn(k: usize, n: usize, value: impl Fn(usize, usize) -> f32 + Sync) -> PackedB {
        let kp = k.next_multiple_of(PAD);
        let blocks = n.next_multiple_of(PAD) / NB;
        let block = kp * NB;
        let mut data = vec![0u16; blocks * block];
        if block == 0 {
            return PackedB { k, n, kp, data };
        }
        data.par_chunks_mut(block).enumerate().for_each(|(q, panel)| {
            for j in 0..NB.min(n.saturating_sub(q * NB)) {
                for p in 0..k {
                    panel[(p / 2) * 2 * NB + j * 2 + p % 2] = to_bf16(value(p, q * NB + j));
                }
            }
        });
        PackedB { k, n, kp, data }
    }

    /// `W^T` (`[inp, out]`) for a row-major `W` `[out, inp]`: what `x W^T` multiplies by.
    pub fn transposed(w: &[f32], out: usize, inp: usize) -> PackedB {
        assert_eq!(w.len(), out * inp, "weight of {} values is not [{out}, {inp}]", w.len());
        PackedB::from_fn(inp, out, |p, j| w[j * inp + p])
    }

    /// `W` itself (`[out, inp]`): what `dy W` multiplies by.
    pub fn rows(w: &[f32], out: usize, inp: usize) -> PackedB {
        assert_eq!(w.len(), out * inp, "weight of {} values is not [{out}, {inp}]", w.len());
        PackedB::from_fn(out, inp, |p, j| w[p * inp + j])
    }

    pub fn k(&self) -> usize {
        self.k
    }

    pub fn n(&self) -> usize {
        self.n
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.data.len() * 2
    }

    /// `B[p, j]` as stored (rounded to bf16).
    pub fn get(&self, p: usize, j: usize) -> f32 {
        assert!(p < self.k && j < self.n, "({p}, {j}) outside [{}, {}]", self.k, self.n);
        from_bf16(self.data[self.index(p, j)])
    }

    fn index(&self, p: usize, j: usize) -> usize {
        (j / NB) * self.kp * NB + (p / 2) * 2 * NB + (j % NB) * 2 + p % 2
    }

    /// The first value of column block `q` (16 columns).
    fn block(&self, q: usize) -> *const u16 {
        self.data[q * self.kp * NB..].as_ptr()
    }
}

thread_local! {
    /// `A` in bf16, kept per thread across calls (the largest one used).
    static A16: RefCell<Vec<u16>> = const { RefCell::new(Vec::new()) };
}

/// Rows of `A` per tile: the AVX-512 micro-kernel keeps 12 x 32 sums in 24 registers; AMX takes
/// 32 rows (two tiles) at a time.
const MR_AVX: usize = 12;
const MR_AMX: usize = 32;
/// Pairs of `k` per block of the AVX-512 kernel (a 32-column panel of `B` of 256 rows is 16 KB).
const KC_PAIRS: usize = 128;

/// One call's work, as each kernel gets it: `A` in bf16 (`mp` rows of `b.kp`, the first `m` real),
/// `B`, and `C` with its row stride; moved into worker threads, each of which writes its own
/// column pairs of `C`.
#[derive(Clone, Copy)]
struct Job<'a> {
    a16: *const u16,
    mp: usize,
    m: usize,
    b: &'a PackedB,
    c: *mut f32,
    c_rs: usize,
    accumulate: bool,
    alpha: f32,
}
unsafe impl Send for Job<'_> {}
unsafe impl Sync for Job<'_> {}

impl<'a> Job<'a> {
    /// The job itself (a method, so that a closure captures the whole `Job`, which is `Sync`,
    /// rather than its raw-pointer fields).
    fn get(self) -> Job<'a> {
        self
    }
}

/// `C = alpha * A B` (or `C += alpha * A B` with `accumulate`): `A` `[m, k]` f32 with any strides,
/// `B` packed bf16, `C` `[m, n]` row-major with rows `c_rs` apart. `A` is rounded to bf16 once
/// per call. [`Kernel::F32`] runs a plain loop over the same rounded values (a reference for
/// machines without the instructions, not a fast path).
///
/// # Safety
/// Every element of `A` the sizes and strides reach must be valid to read, every element of `C`
/// valid to write, and `C` must not overlap `A`. `kernel` must be supported on this CPU.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm(kernel: Kernel, m: usize, a: Operand, b: &PackedB, c: *mut f32, c_rs: usize, accumulate: bool, alpha: f32, threads: usize) {
    let (k, n, kp) = (b.k, b.n, b.kp);
    if m == 0 || n == 0 {
        return;
    }
    assert!(kernel == Kernel::F32 || kernel.supported(), "{} is not supported here", kernel.describe());
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                // SAFETY: row i of C is writable for n values.
                unsafe { std::ptr::write_bytes(c.add(i * c_rs), 0, n) };
            }
        }
        return;
    }
    let mr = if kernel == Kernel::Amx { MR_AMX } else { MR_AVX };
    let mp = m.next_multiple_of(mr);
    // The buffer is taken out of the thread-local for the call: while this thread waits for the
    // other parts it may run another task of the pool that calls `gemm` too, which then finds an
    // empty buffer of its own instead of a borrowed one.
    let mut a16 = A16.with_borrow_mut(std::mem::take);
    {
        let a16 = &mut a16;
        a16.clear();
        a16.resize(mp * kp, 0);
        // SAFETY: the caller guarantees A's elements are readable.
        unsafe { round_rows(m, k, a, a16, kp) };
        let job = Job { a16: a16.as_ptr(), mp, m, b, c, c_rs, accumulate, alpha };
        // Column blocks in pairs (32 columns), split between threads.
        let pairs = n.div_ceil(PAD);
        let parts = threads.min(pairs).max(1);
        let per = pairs.div_ceil(parts);
        let run = |part: usize| {
            let job = job.get();
            let cols = (part * per, ((part + 1) * per).min(pairs));
            // SAFETY: this part writes columns 32 p0 .. 32 p1 of C only; A16 holds mp x kp values.
            unsafe {
                match kernel {
                    Kernel::Amx => amx::columns(job, cols),
                    Kernel::Avx512Bf16 => avx512::columns(job, cols),
                    Kernel::F32 => reference(job, cols),
                }
            }
        };
        if parts == 1 {
            run(0);
        } else {
            (0..parts).into_par_iter().for_each(run);
        }
    }
    A16.with_borrow_mut(|kept| {
        if kept.capacity() < a16.capacity() {
            *kept = a16;
        }
    });
}

/// Rounds `A[0..m, 0..k]` into `dst` (row-major, rows `kp` apart, padding left zero).
unsafe fn round_rows(m: usize, k: usize, a: Operand, dst: &mut [u16], kp: usize) {
    for i in 0..m {
        let row = &mut dst[i * kp..i * kp + k];
        // SAFETY (both): element (i, p) of A is readable for p < k.
        if a.cs == 1 {
            let src = unsafe { std::slice::from_raw_parts(a.ptr.offset(i as isize * a.rs), k) };
            round_slice(src, row);
        } else {
            for (p, d) in row.iter_mut().enumerate() {
                *d = to_bf16(unsafe { *a.ptr.offset(i as isize * a.rs + p as isize * a.cs) });
            }
        }
    }
}

/// `dst[i] = bf16(src[i])`, 16 at a time where AVX512_BF16 is there (`vcvtneps2bf16`, the same
/// rounding as [`to_bf16`]).
fn round_slice(src: &[f32], dst: &mut [u16]) {
    #[cfg(target_arch = "x86_64")]
    if avx512_bf16() {
        // SAFETY: the features were detected.
        unsafe { avx512::round(src, dst) };
        return;
    }
    for (d, s) in dst.iter_mut().zip(src) {
        *d = to_bf16(*s);
    }
}

/// Adds (or writes) a finished `rows x cols` block of sums `t` (rows `t_rs` apart) into `C`.
#[inline]
unsafe fn store(t: &[f32], t_rs: usize, rows: usize, cols: usize, c: *mut f32, c_rs: usize, first: bool, alpha: f32) {
    for i in 0..rows {
        // SAFETY: the caller passes a block of C inside its bounds.
        let dst = unsafe { std::slice::from_raw_parts_mut(c.add(i * c_rs), cols) };
        let src = &t[i * t_rs..i * t_rs + cols];
        if first {
            dst.iter_mut().zip(src).for_each(|(d, s)| *d = alpha * s);
        } else {
            dst.iter_mut().zip(src).for_each(|(d, s)| *d += alpha * s);
        }
    }
}

/// The plain loop for [`Kernel::F32`]: column pairs `p0..p1` of `C`.
unsafe fn reference(Job { a16, m, b, c, c_rs, accumulate, alpha, .. }: Job, (p0, p1): (usize, usize)) {
    let (j0, j1) = (p0 * PAD, (p1 * PAD).min(b.n));
    let mut t = vec![0f32; j1 - j0];
    for i in 0..m {
        t.fill(0.0);
        for p in 0..b.k {
            // SAFETY: A16 holds at least m rows of kp values.
            let x = from_bf16(unsafe { *a16.add(i * b.kp + p) });
            for (j, s) in t.iter_mut().enumerate() {
                *s += x * from_bf16(b.data[b.index(p, j0 + j)]);
            }
        }
        // SAFETY: row i, columns j0..j1 of C.
        unsafe { store(&t, 0, 1, j1 - j0, c.add(i * c_rs + j0), c_rs, !accumulate, alpha) };
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{store, Job, KC_PAIRS, MR_AVX, NB, PAD};
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f,avx512bf16")]
    pub(super) unsafe fn round(src: &[f32], dst: &mut [u16]) {
        let n = src.len().min(dst.len());
        let full = n - n % 16;
        unsafe {
            for i in (0..full).step_by(16) {
                let v = _mm512_loadu_ps(src.as_ptr().add(i));
                let h: __m256i = std::mem::transmute(_mm512_cvtneps_pbh(v));
                _mm256_storeu_si256(dst.as_mut_ptr().add(i) as *mut __m256i, h);
            }
        }
        for i in full..n {
            dst[i] = super::to_bf16(src[i]);
        }
    }

    /// Column pairs `p0..p1` of `C` for every row, in blocks of `KC_PAIRS` pairs of `k`.
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub(super) unsafe fn columns(Job { a16, mp, m, b, c, c_rs, accumulate, alpha }: Job, (p0, p1): (usize, usize)) {
        let pairs_k = b.kp / 2;
        let mut t = [0f32; MR_AVX * PAD];
        for kc0 in (0..pairs_k).step_by(KC_PAIRS) {
            let kc = KC_PAIRS.min(pairs_k - kc0);
            let first = kc0 == 0 && !accumulate;
            for q in p0..p1 {
                let j0 = q * PAD;
                let cols = PAD.min(b.n - j0);
                // SAFETY: blocks 2q and 2q + 1 exist (n is padded to 32), kc pairs from kc0.
                let (b0, b1) = unsafe { (b.block(2 * q).add(kc0 * 2 * NB), b.block(2 * q + 1).add(kc0 * 2 * NB)) };
                for i0 in (0..mp).step_by(MR_AVX) {
                    let rows = MR_AVX.min(m.saturating_sub(i0));
                    if rows == 0 {
                        break;
                    }
                    // SAFETY: A16 rows i0..i0 + 12 exist (mp is a multiple of 12).
                    let a = unsafe { a16.add(i0 * b.kp + kc0 * 2) };
                    let ct = unsafe { c.add(i0 * c_rs + j0) };
                    if rows == MR_AVX && cols == PAD {
                        unsafe { tile(kc, a, b.kp, b0, b1, ct, c_rs, first, alpha) };
                    } else {
                        unsafe {
                            tile(kc, a, b.kp, b0, b1, t.as_mut_ptr(), PAD, true, 1.0);
                            store(&t, PAD, rows, cols, ct, c_rs, first, alpha);
                        }
                    }
                }
            }
        }
    }

    /// A 12 x 32 tile: `C = alpha * sum` (`first`) or `C += alpha * sum` over `kc` pairs of `k`.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn tile(kc: usize, a: *const u16, a_rs: usize, b0: *const u16, b1: *const u16, c: *mut f32, c_rs: usize, first: bool, alpha: f32) {
        unsafe {
            let mut acc = [[_mm512_setzero_ps(); 2]; MR_AVX];
            for p in 0..kc {
                let v0: __m512bh = std::mem::transmute(_mm512_loadu_si512(b0.add(p * 2 * NB) as *const _));
                let v1: __m512bh = std::mem::transmute(_mm512_loadu_si512(b1.add(p * 2 * NB) as *const _));
                for (i, row) in acc.iter_mut().enumerate() {
                    let x = std::ptr::read_unaligned(a.add(i * a_rs + 2 * p) as *const i32);
                    let x: __m512bh = std::mem::transmute(_mm512_set1_epi32(x));
                    row[0] = _mm512_dpbf16_ps(row[0], x, v0);
                    row[1] = _mm512_dpbf16_ps(row[1], x, v1);
                }
            }
            let al = _mm512_set1_ps(alpha);
            for (i, row) in acc.iter().enumerate() {
                for (h, v) in row.iter().enumerate() {
                    let dst = c.add(i * c_rs + h * NB);
                    let v = if first { _mm512_mul_ps(al, *v) } else { _mm512_fmadd_ps(al, *v, _mm512_loadu_ps(dst)) };
                    _mm512_storeu_ps(dst, v);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod amx {
    use super::{store, Job, MR_AMX, NB, PAD};
    use std::arch::asm;

    /// The tile configuration: palette 1; tiles 0-3 hold 16 x 16 f32 sums, 4-5 rows of `A`
    /// (16 x 32 bf16), 6-7 pairs of rows of `B` (16 x 32 bf16); every tile 16 rows of 64 bytes.
    #[repr(C, align(64))]
    struct Config([u8; 64]);

    fn config() -> Config {
        let mut c = Config([0; 64]);
        c.0[0] = 1;
        for t in 0..8 {
            c.0[16 + 2 * t] = 64;
            c.0[48 + t] = 16;
        }
        c
    }

    /// Column pairs `p0..p1` of `C` for every row: 32 x 32 blocks of `C` (four tiles) summed over
    /// the whole of `k`, 32 values of `k` per step.
    pub(super) unsafe fn columns(Job { a16, mp, m, b, c, c_rs, accumulate, alpha }: Job, (p0, p1): (usize, usize)) {
        let cfg = config();
        let a_stride = b.kp * 2;
        let steps = b.kp / PAD;
        let mut t = [0f32; MR_AMX * PAD];
        // SAFETY: the permission was granted (Kernel::supported); the configuration is valid.
        unsafe { asm!("ldtilecfg [{0}]", in(reg) cfg.0.as_ptr(), options(nostack, readonly)) };
        for q in p0..p1 {
            let j0 = q * PAD;
            let cols = PAD.min(b.n - j0);
            let (b0, b1) = (b.block(2 * q), b.block(2 * q + 1));
            for i0 in (0..mp).step_by(MR_AMX) {
                let rows = MR_AMX.min(m.saturating_sub(i0));
                if rows == 0 {
                    break;
                }
                // SAFETY: A16 rows i0..i0 + 32 of kp values exist (mp is a multiple of 32); each
                // step reads 32 values of k of them and 16 pairs of rows of two column blocks.
                // Whole blocks with alpha 1 (every frozen product) load and store their sums
                // straight from and to C; the others go through `t`.
                let direct = rows == MR_AMX && cols == PAD && alpha == 1.0;
                let (dst, dst_rs) = if direct { (unsafe { c.add(i0 * c_rs + j0) }, c_rs) } else { (t.as_mut_ptr(), PAD) };
                unsafe {
                    let a0 = a16.add(i0 * b.kp);
                    let a1 = a16.add((i0 + 16) * b.kp);
                    if direct && accumulate {
                        asm!(
                            "tileloadd tmm0, [{t0} + {s}]",
                            "tileloadd tmm1, [{t1} + {s}]",
                            "tileloadd tmm2, [{t2} + {s}]",
                            "tileloadd tmm3, [{t3} + {s}]",
                            t0 = in(reg) dst,
                            t1 = in(reg) dst.add(NB),
                            t2 = in(reg) dst.add(16 * dst_rs),
                            t3 = in(reg) dst.add(16 * dst_rs + NB),
                            s = in(reg) dst_rs * 4,
                            options(nostack, readonly)
                        );
                    } else {
                        asm!("tilezero tmm0", "tilezero tmm1", "tilezero tmm2", "tilezero tmm3", options(nostack, nomem));
                    }
                    for s in 0..steps {
                        // Each load as late as its first use: the tiles have no renaming, so
                        // a step's load waits for the last product reading that tile; ordered
                        // this way, loads overlap the products before them.
                        asm!(
                            "tileloadd tmm4, [{a0} + {sa}]",
                            "tileloadd tmm6, [{b0} + {sb}]",
                            "tdpbf16ps tmm0, tmm4, tmm6",
                            "tileloadd tmm7, [{b1} + {sb}]",
                            "tdpbf16ps tmm1, tmm4, tmm7",
                            "tileloadd tmm5, [{a1} + {sa}]",
                            "tdpbf16ps tmm2, tmm5, tmm6",
                            "tdpbf16ps tmm3, tmm5, tmm7",
                            a0 = in(reg) a0.add(s * PAD),
                            a1 = in(reg) a1.add(s * PAD),
                            b0 = in(reg) b0.add(s * PAD * NB),
                            b1 = in(reg) b1.add(s * PAD * NB),
                            sa = in(reg) a_stride,
                            sb = in(reg) 64usize,
                            options(nostack, readonly)
                        );
                    }
                    asm!(
                        "tilestored [{t0} + {s}], tmm0",
                        "tilestored [{t1} + {s}], tmm1",
                        "tilestored [{t2} + {s}], tmm2",
                        "tilestored [{t3} + {s}], tmm3",
                        t0 = in(reg) dst,
                        t1 = in(reg) dst.add(NB),
                        t2 = in(reg) dst.add(16 * dst_rs),
                        t3 = in(reg) dst.add(16 * dst_rs + NB),
                        s = in(reg) dst_rs * 4,
                        options(nostack)
                    );
                    if !direct {
                        store(&t, PAD, rows, cols, c.add(i0 * c_rs + j0), c_rs, !accumulate, alpha);
                    }
                }
            }
        }
        // SAFETY: gives the tile state back (the next call configures it again).
        unsafe { asm!("tilerelease", options(nostack, nomem)) };
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod avx512 {
    use super::Job;
    pub(super) unsafe fn round(_: &[f32], _: &mut [u16]) {
        unreachable!("AVX512_BF16 is x86_64 only")
    }
    pub(super) unsafe fn columns(_: Job, _: (usize, usize)) {
        unreachable!("AVX512_BF16 is x86_64 only")
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod amx {
    pub(super) use super::avx512::columns;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_to_nearest_even() {
        assert_eq!(to_bf16(1.0), 0x3f80);
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even one (1).
        assert_eq!(from_bf16(to_bf16(1.0 + 1.0 / 256.0)), 1.0);
        assert_eq!(from_bf16(to_bf16(1.0 + 3.0 / 256.0)), 1.0 + 4.0 / 256.0);
        assert!(from_bf16(to_bf16(f32::NAN)).is_nan());
        assert_eq!(from_bf16(to_bf16(f32::INFINITY)), f32::INFINITY);
        assert_eq!(from_bf16(to_bf16(-2.5)), -2.5);
    }

    #[test]
    fn the_choice_follows_the_variable_and_falls_back() {
        assert_eq!(choose(Some("f32")).0, Kernel::F32);
        let (k, why) = choose(Some("amx"));
        assert!(k.supported());
        if !Kernel::Amx.supported() {
            assert!(why.contains("does not offer"), "{why}");
        }
        let (k, why) = choose(Some("fast"));
        assert_eq!(k, choose(None).0);
        assert!(why.contains("not one of"), "{why}");
    }

    #[test]
    fn packing_keeps_every_value_at_its_place() {
        let (k, n) = (37, 45);
        let b = PackedB::from_fn(k, n, |p, j| (p * 100 + j) as f32);
        for p in 0..k {
            for j in 0..n {
                assert_eq!(b.get(p, j), from_bf16(to_bf16((p * 100 + j) as f32)));
            }
        }
        assert_eq!(b.bytes(), 64 * 64 * 2);
    }
}
