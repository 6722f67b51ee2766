//! The packed GEMM against a plain triple loop in f64: edge tiles in every direction, depths past
//! one `KC` block, widths past one `NC` block, transposed and strided operands (a head's columns of
//! a projection), accumulation, scaling, empty products and every thread count.

use localdx_model::sgemm::{sgemm, Operand, MR, NR};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A matrix stored in a buffer with its own strides (and room to spare around it).
struct Stored {
    data: Vec<f32>,
    offset: usize,
    rs: isize,
    cs: isize,
}

impl Stored {
    /// `rows x cols` values laid out row-major, column-major, or as columns `pad..pad+cols` of a
    /// wider row-major matrix.
    fn new(rows: usize, cols: usize, layout: Layout, rng: &mut StdRng) -> Stored {
        let (len, offset, rs, cs) = match layout {
            Layout::Rows => (rows * cols, 0, cols, 1),
            Layout::Columns => (rows * cols, 0, 1, rows),
            Layout::Slice { pad } => ((rows * (cols + 2 * pad)).max(1), pad, cols + 2 * pad, 1),
        };
        let data = (0..len).map(|_| rng.random_range(-1.0..1.0)).collect();
        Stored { data, offset, rs: rs as isize, cs: cs as isize }
    }

    fn get(&self, i: usize, j: usize) -> f32 {
        self.data[(self.offset as isize + i as isize * self.rs + j as isize * self.cs) as usize]
    }

    fn operand(&self) -> Operand {
        Operand { ptr: self.data[self.offset..].as_ptr(), rs: self.rs, cs: self.cs }
    }
}

#[derive(Clone, Copy, Debug)]
enum Layout {
    Rows,
    Columns,
    Slice { pad: usize },
}

#[allow(clippy::too_many_arguments)]
fn check(m: usize, n: usize, k: usize, la: Layout, lb: Layout, accumulate: bool, alpha: f32, threads: usize) {
    let mut rng = StdRng::seed_from_u64((m * 31 + n * 17 + k) as u64);
    let a = Stored::new(m, k, la, &mut rng);
    let b = Stored::new(k, n, lb, &mut rng);
    let c_rs = n + 3;
    let start: Vec<f32> = (0..m * c_rs).map(|_| rng.random_range(-1.0..1.0)).collect();
    let mut c = start.clone();
    unsafe { sgemm((m, n, k), a.operand(), b.operand(), c.as_mut_ptr(), c_rs, accumulate, alpha, threads) };
    for i in 0..m {
        for j in 0..c_rs {
            let got = c[i * c_rs + j];
            if j >= n {
                assert_eq!(got, start[i * c_rs + j], "padding column {j} of row {i} was written");
                continue;
            }
            let dot: f64 = (0..k).map(|p| a.get(i, p) as f64 * b.get(p, j) as f64).sum();
            let want = alpha as f64 * dot + if accumulate { start[i * c_rs + j] as f64 } else { 0.0 };
            let tol = 1e-5 * (k as f64).sqrt().max(1.0) * 4.0;
            assert!(
                (got as f64 - want).abs() <= tol,
                "m={m} n={n} k={k} {la:?} x {lb:?} acc={accumulate} threads={threads}: C[{i},{j}] = {got}, want {want}"
            );
        }
    }
}

#[test]
fn matches_a_triple_loop_on_edge_tiles() {
    for m in [1, MR - 1, MR, MR + 1, 2 * MR + 5] {
        for n in [1, NR - 1, NR, NR + 3, 3 * NR + 7] {
            for k in [1, 7, 64] {
                check(m, n, k, Layout::Rows, Layout::Rows, false, 1.0, 1);
            }
        }
    }
}

#[test]
fn matches_a_triple_loop_past_one_block() {
    // k past KC (256), m past MC (144), n past NC (4096).
    check(150, 40, 600, Layout::Rows, Layout::Columns, false, 1.0, 1);
    check(7, 4100, 9, Layout::Rows, Layout::Rows, true, 0.5, 1);
    check(300, 200, 520, Layout::Columns, Layout::Rows, true, -1.5, 1);
}

#[test]
fn reads_transposed_and_strided_operands() {
    let layouts = [Layout::Rows, Layout::Columns, Layout::Slice { pad: 5 }];
    for la in layouts {
        for lb in layouts {
            check(13, 37, 29, la, lb, false, 0.125, 1);
            check(13, 37, 29, la, lb, true, 2.0, 1);
        }
    }
}

#[test]
fn splits_rows_or_columns_across_threads() {
    for threads in [2, 3, 4] {
        check(97, 40, 50, Layout::Rows, Layout::Columns, false, 1.0, threads);
        check(9, 301, 50, Layout::Rows, Layout::Rows, true, 1.0, threads);
        check(256, 192, 70, Layout::Slice { pad: 2 }, Layout::Columns, false, 1.0, threads);
    }
}

#[test]
fn an_empty_depth_zeroes_or_keeps_c() {
    check(5, 9, 0, Layout::Rows, Layout::Rows, false, 1.0, 1);
    check(5, 9, 0, Layout::Rows, Layout::Rows, true, 1.0, 1);
    check(0, 9, 4, Layout::Rows, Layout::Rows, false, 1.0, 2);
}
