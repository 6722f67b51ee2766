//! Mutation fuzzing of the readers that take untrusted bytes, on stable Rust: the GGUF reader and
//! model loader, a model's `tokenizer.json`, the CSV / TSV / JSONL / text-folder import, the PHI engine, sealed files and the
//! key file. The target bodies are the cargo-fuzz targets' (`fuzz/targets.rs`, which says what each
//! asserts); the seeds are their committed corpus (`fuzz/corpus/<target>/`). Every corpus file is
//! replayed first (a file that once crashed a target stays a regression test), then mutated copies
//! (bit flips, byte runs replaced, cut, spliced, repeated, hostile tokens inserted) run for the
//! time budget; any panic fails the test with the input saved.
//!
//! In `npm test` each target runs for a couple of seconds; `LOCALDX_FUZZ_SECONDS` sets the budget.
//! The long runs are the cargo-fuzz ones (libFuzzer, AddressSanitizer): `scripts/fuzz.sh 600`.

#[path = "../../../../fuzz/targets.rs"]
mod targets;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// xorshift64*: a fixed seed per target, so a run can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&[u8]] = &[
    b"\"", b",", b"\n", b"\r\n", b"\t", b"\0", b"\xff\xfe", b"\xef\xbb\xbf", b"{", b"}", b"[", b"]", b"\\u0000", b"\xc3", b"\xe2\x80\xae",
    b"<script>", b"&#x0;", b"Dr. ", b"MRN: ", b"555-123-4567", b"01/02/2003", b"\xf0\x9f\x98\x80", b"NaN", b"-1", b"18446744073709551615",
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..=rng.below(4) {
        let len = data.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let (i, n) = (rng.below(len), 1 + rng.below(16));
                for b in data.iter_mut().skip(i).take(n) {
                    *b = rng.next() as u8;
                }
            }
            2 if len > 0 => data.truncate(rng.below(len)),
            3 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                let at = rng.below(len + 1);
                data.splice(at..at, token.iter().copied());
            }
            4 if len > 1 => {
                let (a, b) = (rng.below(len), rng.below(len));
                let (from, to) = (a.min(b), a.max(b).min(a.min(b) + 4096));
                let piece = data[from..to].to_vec();
                let at = rng.below(len + 1);
                data.splice(at..at, piece);
            }
            5 => {
                let other = &seeds[rng.below(seeds.len())];
                let cut = rng.below(other.len() + 1);
                let keep = rng.below(data.len() + 1);
                data.truncate(keep);
                data.extend_from_slice(&other[cut..]);
            }
            _ if len > 0 => {
                let (a, b) = (rng.below(len), rng.below(len));
                data.swap(a, b);
            }
            _ => data.push(rng.next() as u8),
        }
    }
    data
}

fn seconds() -> Duration {
    let s: f64 = std::env::var("LOCALDX_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(2.0);
    Duration::from_secs_f64(s)
}

/// The committed corpus of `target`, by file name.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (the fuzz corpus is committed; `cargo run -p localdx-api --example fuzz_seeds` writes its seeds)", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no seed", dir.display());
    files.into_iter().map(|path| (path.clone(), std::fs::read(&path).unwrap())).collect()
}

/// Replays the corpus of `name`, then runs `target` on mutations of it for the time budget; panics
/// (naming the corpus file, or the saved input) when the target panics. Returns the executions.
fn fuzz(name: &str, seed: u64, target: fn(&[u8])) -> u64 {
    let files = corpus(name);
    for (path, bytes) in &files {
        // The default hook prints the panic's message; this names the corpus file behind it.
        if catch_unwind(AssertUnwindSafe(|| target(bytes))).is_err() {
            panic!("fuzz {name}: corpus file {} panicked", path.display());
        }
    }
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let seeds: Vec<Vec<u8>> = files.into_iter().map(|(_, bytes)| bytes).collect();
    let mut rng = Rng(seed);
    let (budget, started, mut runs) = (seconds(), Instant::now(), 0u64);
    let mut failure = None;
    while started.elapsed() < budget {
        let input = mutate(&mut rng, &seeds);
        runs += 1;
        if catch_unwind(AssertUnwindSafe(|| target(&input))).is_err() {
            failure = Some(input);
            break;
        }
    }
    std::panic::set_hook(quiet);
    if let Some(input) = failure {
        let kept = std::env::temp_dir().join(format!("localdx-fuzz-{name}-crash-{runs}.bin"));
        std::fs::write(&kept, &input).unwrap();
        panic!("fuzz {name}: the target panicked on input {runs}; it is saved at {} (replay: cargo fuzz run {name} FILE)", kept.display());
    }
    eprintln!("fuzz {name}: {} corpus files replayed, {runs} mutated inputs in {:.1?}, no panic", seeds.len(), started.elapsed());
    runs
}

#[test]
fn readers_of_untrusted_bytes_never_panic() {
    let report = [
        ("gguf", fuzz("gguf", 1, targets::gguf)),
        ("tokenizer", fuzz("tokenizer", 3, targets::tokenizer)),
        ("import", fuzz("import", 2, targets::import)),
        ("phi", fuzz("phi", 5, targets::phi)),
        ("sealed", fuzz("sealed", 6, targets::sealed)),
        ("keyfile", fuzz("keyfile", 7, targets::keyfile)),
    ];
    eprintln!("fuzz: {}", report.iter().map(|(t, n)| format!("{t} {n}")).collect::<Vec<_>>().join(", "));
}
