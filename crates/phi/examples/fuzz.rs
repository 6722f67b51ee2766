//! Long-running randomized no-panic check of `Engine::detect` and `redact` from a generator of the
//! pieces detectors care about (beside the coverage-guided `phi` target of `fuzz/`, which mutates
//! bytes). Usage: `cargo run --release -p localdx-phi --example fuzz -- SECONDS [SEED]`.
//! Prints the number of inputs tried; any panic aborts with the seed and iteration to reproduce.

use localdx_phi::{redact, Engine, Strategy};
use std::time::{Duration, Instant};

const PIECES: &[&str] = &[
    "Dr. ", "MR ", "son ", "RN", ", ", "/", "-", "'", "9", "12", "1992", "(", ")", "@", ".", "é", "😀", "\u{301}", "\n", " ",
    "HOSPITAL", "St.", "Apt ", "#", ":", "x", "0", "GB", "::", "http://", "www.", "\u{0}", "\u{feff}", "ß", "İ", "ﬀ",
    "MRN: ", "Pager ", "lives in ", "Baltimore", "MD ", "21201", "'95", "March ", "3rd", "SSN ", "123-45-6789",
];

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(60);
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(0x9E37_79B9_7F4A_7C15);
    let engine = Engine::default();
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    // a 10 MB single line first
    let unit = "PT SEEN BY DR MARDER 10/3 CALL 410-322-1419 SON DAVID AT CALVERT HOSPITAL ééé ";
    let long = unit.repeat(10 * 1024 * 1024 / unit.len() + 1);
    let t = Instant::now();
    let found = engine.detect(&long).len();
    println!("10 MB single line: {found} detections in {:.2} s", t.elapsed().as_secs_f64());
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut n, mut bytes_total) = (0u64, 0u64);
    while Instant::now() < deadline {
        let len = (next() % 2000) as usize;
        let text = if n % 2 == 0 {
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            (0..len / 4).map(|_| PIECES[(next() % PIECES.len() as u64) as usize]).collect()
        };
        let dets = engine.detect(&text);
        for d in &dets {
            assert!(d.span.end <= text.len() && text.is_char_boundary(d.span.start) && text.is_char_boundary(d.span.end), "seed {seed} iteration {n}");
        }
        for s in [Strategy::Tag, Strategy::Mask('#'), Strategy::Surrogate { secret: vec![7; 16] }] {
            let _ = redact(&text, &dets, &s, "p");
        }
        bytes_total += text.len() as u64;
        n += 1;
    }
    println!("fuzz: {n} inputs ({bytes_total} bytes) in {seconds} s, seed {seed}, no panic");
}
