//! Mutation fuzzing of the readers that take untrusted bytes, on stable Rust: the GGUF reader and
//! model loader, the CSV / TSV / JSONL import, the PHI engine, sealed files and the key file. Each
//! target starts from valid seeds and feeds mutated copies (bit flips, byte runs replaced, cut,
//! spliced, repeated, hostile tokens inserted); any panic fails the test with the input saved
//! beside the report. A clear error is the expected answer to a broken input.
//!
//! In `npm test` each target runs for a couple of seconds; for the long run:
//! `LOCALDX_FUZZ_SECONDS=600 cargo test -p localdx-api --test workflow fuzz -- --nocapture`
//! (per target). (`cargo fuzz` needs a nightly toolchain, which this project's machines lack.)

use localdx_access::{KeyFile, MasterKey};
use localdx_model::synthetic::{write_tiny_llama, TinySpec};
use localdx_model::{GgufFile, LoadOptions, Model};
use localdx_sealed::{Sealer, Vault};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
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

/// Runs `target` on mutations of `seeds` for the time budget; panics (naming the saved input) when
/// the target panics. Returns the number of executions.
fn fuzz(name: &str, seed: u64, seeds: Vec<Vec<u8>>, dir: &Path, target: &dyn Fn(&[u8])) -> u64 {
    let mut rng = Rng(seed);
    let (budget, started, mut runs) = (seconds(), Instant::now(), 0u64);
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut failure = None;
    while started.elapsed() < budget {
        let input = mutate(&mut rng, &seeds);
        runs += 1;
        if catch_unwind(AssertUnwindSafe(|| target(&input))).is_err() {
            let saved = dir.join(format!("{name}-crash-{runs}.bin"));
            std::fs::write(&saved, &input).unwrap();
            failure = Some(saved);
            break;
        }
    }
    std::panic::set_hook(quiet);
    if let Some(saved) = failure {
        let kept = std::env::temp_dir().join(saved.file_name().unwrap());
        std::fs::copy(&saved, &kept).unwrap();
        panic!("fuzz {name}: the target panicked on input {runs}; it is saved at {}", kept.display());
    }
    eprintln!("fuzz {name}: {runs} inputs in {:.1?}, no panic", started.elapsed());
    runs
}

#[test]
fn readers_of_untrusted_bytes_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut report = Vec::new();

    // GGUF: the header and tensor table, then the whole model load.
    let tiny = dir.path().join("tiny.gguf");
    write_tiny_llama(&tiny, &TinySpec::default()).unwrap();
    let gguf_seeds = vec![std::fs::read(&tiny).unwrap()];
    let probe = dir.path().join("probe.gguf");
    report.push(("gguf", fuzz("gguf", 1, gguf_seeds, dir.path(), &|bytes| {
        std::fs::write(&probe, bytes).unwrap();
        if GgufFile::open(&probe).is_ok() {
            let _ = Model::load(&probe, &LoadOptions::default());
        }
    })));

    // Import: CSV, TSV and JSONL files into a fresh database each time.
    let import_seeds: Vec<Vec<u8>> = vec![
        b"note_id,patient_id,note,dx\nA1,P1,\"Chest pain, 2 days\",I20.9\nA2,P2,\"Seen by Dr. Lee\",I10\n".to_vec(),
        b"note\tdx\nCough and fever\tJ06.9\nRash\tL30.9\n".to_vec(),
        b"{\"text\": \"Wheeze at night\", \"label\": \"J45\"}\n{\"text\": \"Thirst\", \"label\": \"E11\"}\n".to_vec(),
    ];
    for (ext, seed) in [("csv", 2u64), ("tsv", 3), ("jsonl", 4)] {
        let file = dir.path().join(format!("probe.{ext}"));
        let name = format!("import-{ext}");
        report.push(("import", fuzz(&name, seed, import_seeds.clone(), dir.path(), &|bytes| {
            std::fs::write(&file, bytes).unwrap();
            let store = localdx_store::Store::open_in_memory().unwrap();
            let opts = localdx_ingest::ImportOptions { skip_bad_rows: true, ..Default::default() };
            let _ = localdx_ingest::preview(&file, &opts, 20);
            let _ = localdx_ingest::import(&store, &file, &opts, &(), &localdx_job::Cancel::new());
        })));
    }

    // The PHI engine on any text, valid UTF-8 or not (converted lossily, as import does).
    let engine = localdx_phi::Engine::new(localdx_phi::PhiConfig::default());
    let phi_seeds = vec![
        b"Seen by Dr. John Smith on 2024-03-02 at Mercy Hospital, MRN 1234567, phone 555-123-4567.".to_vec(),
        b"PT: JANE DOE (RN) 3/4 [**2101-3-4**] Boston, MA 02115; SSN 123-45-6789; age 93 y/o".to_vec(),
    ];
    report.push(("phi", fuzz("phi", 5, phi_seeds, dir.path(), &|bytes| {
        let text = String::from_utf8_lossy(bytes);
        for d in engine.detect(&text) {
            assert!(d.span.start <= d.span.end && text.is_char_boundary(d.span.start) && text.is_char_boundary(d.span.end));
        }
    })));

    // Sealed files: a sealed run file, altered, must be refused, never panic or open.
    let vault = Vault::sealed(Sealer::derive(&[7u8; 32], "localdx fuzz"));
    let sealed_path = dir.path().join("run.json");
    vault.write(&sealed_path, b"{\"labels\":[\"J45\",\"I10\"]}").unwrap();
    let good = std::fs::read(&sealed_path).unwrap();
    report.push(("sealed", fuzz("sealed", 6, vec![good.clone()], dir.path(), &|bytes| {
        std::fs::write(&sealed_path, bytes).unwrap();
        if let Ok(opened) = vault.read(&sealed_path) {
            assert!(bytes == good.as_slice(), "an altered sealed file opened: {opened:?}");
        }
    })));

    // The key file: load and unlock with the right and a wrong password.
    let key_path = dir.path().join("w.sqlite.keys");
    KeyFile::create(&key_path, "ada", "ada-password-1", &MasterKey::generate().unwrap()).unwrap();
    let key_seed = std::fs::read(&key_path).unwrap();
    let probe_keys = dir.path().join("probe.keys");
    report.push(("keyfile", fuzz("keyfile", 7, vec![key_seed], dir.path(), &|bytes| {
        std::fs::write(&probe_keys, bytes).unwrap();
        if let Ok(mut file) = KeyFile::load(&probe_keys) {
            let _ = file.unlock("ada", "wrong password");
        }
    })));

    eprintln!("fuzz: {}", report.iter().map(|(t, n)| format!("{t} {n}")).collect::<Vec<_>>().join(", "));
}
