//! No panic on any input: random bytes read as lossy UTF-8, a 10 MB single line, empty notes,
//! and strings built from the characters detectors care about. The long-running variant is the
//! `fuzz` example: `cargo run --release -p localdx-phi --example fuzz -- 600`.

use localdx_phi::{redact, Engine, Strategy};

/// A small deterministic generator (xorshift), so failures reproduce from the seed.
pub struct Rng(u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const PIECES: &[&str] = &[
    "Dr. ", "MR ", "son ", "RN", ", ", "/", "-", "'", "9", "12", "1992", "(", ")", "@", ".", "é", "😀", "\u{301}", "\n", " ",
    "HOSPITAL", "St.", "Apt ", "#", ":", "x", "0", "GB", "::", "http://", "www.", "\u{0}", "\u{feff}", "ß", "İ", "ﬀ",
];

fn check(engine: &Engine, text: &str) {
    let dets = engine.detect(text);
    for d in &dets {
        assert!(d.span.start <= d.span.end && d.span.end <= text.len());
        assert!(text.is_char_boundary(d.span.start) && text.is_char_boundary(d.span.end));
    }
    for s in [Strategy::Tag, Strategy::Mask('*'), Strategy::Surrogate { secret: vec![1, 2, 3] }] {
        let _ = redact(text, &dets, &s, "p");
    }
}

#[test]
fn random_inputs_do_not_panic() {
    let engine = Engine::default();
    let mut rng = Rng(0x9E3779B97F4A7C15);
    check(&engine, "");
    for _ in 0..300 {
        let len = (rng.next() % 300) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        check(&engine, &String::from_utf8_lossy(&bytes));
        let s: String = (0..len / 3).map(|_| PIECES[(rng.next() % PIECES.len() as u64) as usize]).collect();
        check(&engine, &s);
    }
}

fn long_line(megabytes: usize) {
    let engine = Engine::default();
    // clinical filler with some PHI in it, repeated to 10 MB without a line break
    let unit = "pt resting comfortably overnight, vital signs stable, tolerating tube feeds at goal, \
                lungs clear bilaterally, urine output adequate, skin intact, será ok; seen by Dr Marder 10/3. ";
    let text: String = unit.repeat(megabytes * 1024 * 1024 / unit.len() + 1);
    assert!(text.len() >= megabytes * 1024 * 1024 && !text.contains('\n'));
    let dets = engine.detect(&text);
    assert!(dets.len() > megabytes * 1000);
}

#[test]
fn one_megabyte_single_line_does_not_panic() {
    long_line(1);
}

/// The 10 MB line takes about a second in release and most of a minute in a debug build, so the
/// default suite runs the 1 MB line: `cargo test --release -p localdx-phi -- --ignored`.
#[test]
#[ignore]
fn ten_megabyte_single_line_does_not_panic() {
    long_line(10);
}
