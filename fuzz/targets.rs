//! The bodies of the fuzz targets: one function per reader of untrusted bytes, each asserting what
//! must hold whatever the bytes. Shared, through `#[path]`, by the cargo-fuzz binaries
//! (`fuzz/fuzz_targets/`, libFuzzer with AddressSanitizer, `scripts/fuzz.sh`) and by the stable
//! mutation run in `npm test` (`crates/api/tests/workflow/fuzz.rs`), which also replays every file
//! of the committed corpus (`fuzz/corpus/<target>/`, written by
//! `cargo run -p localdx-api --example fuzz_seeds`).
//!
//! The model's `tokenizer.json` has a target too (`tokenizer`): it is copied in with the model.
//!
//! A broken input must come back as an error: never a panic, never an abort, never a half-stored
//! import or an altered file that opens.

use localdx_access::KeyFile;
use localdx_ingest::{import as import_file, preview, ImportOptions};
use localdx_job::Cancel;
use localdx_model::{GgufFile, LoadOptions, Model};
use localdx_phi::{redact, Engine, PhiConfig, Strategy};
use localdx_sealed::Sealer;
use localdx_store::Store;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A scratch folder per process, for the targets whose reader takes a path.
fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a scratch folder for the fuzz targets")).path()
}

/// The GGUF reader and the whole model load (architecture check, tokenizer from the metadata,
/// weights as the default load options say).
pub fn gguf(bytes: &[u8]) {
    let path = scratch().join("probe.gguf");
    std::fs::write(&path, bytes).unwrap();
    if GgufFile::open(&path).is_ok() {
        let _ = Model::load(&path, &LoadOptions::default());
    }
}

/// A `tokenizer.json` beside a model (byte-level BPE or SentencePiece-style BPE): read, then texts
/// encoded and decoded with it. Every id it gives lies inside its vocabulary.
pub fn tokenizer(bytes: &[u8]) {
    let path = scratch().join("probe.tokenizer.json");
    std::fs::write(&path, bytes).unwrap();
    let Ok(tok) = localdx_model::tokenizer_json::load(&path) else { return };
    for text in ["Seen by Dr. Lee on 3/4/2024 for wheeze, 38,5 °C", "  two  spaces\n\ttab", "\u{2581}<bos> 😀 e\u{301}", ""] {
        let ids = tok.encode_for_model(text);
        assert!(ids.iter().all(|&id| (id as usize) < tok.vocab_size()), "an id outside the vocabulary of {}", tok.vocab_size());
        let _ = tok.decode(&ids);
    }
}

/// What the import target's database already holds before each input.
const STORED: &[u8] = b"note,dx\nChest pain for two days,I20.9\nHeadache and fever,R51\n";

/// Writes an import input where the importer will read it: the selector's low two bits pick CSV,
/// TSV, JSONL or a text folder (its labels table and notes separated by NUL bytes).
fn lay_out(format: u8, body: &[u8]) -> PathBuf {
    let root = scratch();
    let path = root.join(["probe.csv", "probe.tsv", "probe.jsonl", "notes"][format as usize & 3]);
    if format & 3 != 3 {
        std::fs::write(&path, body).unwrap();
        return path;
    }
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir_all(&path).unwrap();
    let mut parts = body.split(|&b| b == 0);
    std::fs::write(path.join("labels.tsv"), parts.next().unwrap_or_default()).unwrap();
    for (i, note) in parts.take(64).enumerate() {
        std::fs::write(path.join(format!("n{}.txt", i + 1)), note).unwrap();
    }
    path
}

/// Import of CSV, TSV, JSONL and text folders into a database that already holds a dataset. The
/// first byte picks the format (low two bits) and the options (4: skip bad rows, 8: merge
/// duplicates). The dataset already stored is untouched, a refused import stores nothing, and an
/// accepted one stores the records its report counts.
pub fn import(bytes: &[u8]) {
    let Some((&selector, body)) = bytes.split_first() else { return };
    let store = Store::open_in_memory().unwrap();
    let stored = scratch().join("stored.csv");
    std::fs::write(&stored, STORED).unwrap();
    let kept = import_file(&store, &stored, &ImportOptions::default(), &(), &Cancel::new()).unwrap().dataset_id.unwrap();

    let path = lay_out(selector, body);
    let opts = ImportOptions { skip_bad_rows: selector & 4 != 0, merge_duplicates: selector & 8 != 0, ..Default::default() };
    let _ = preview(&path, &opts, 20);
    let before = store.datasets().unwrap().len();
    match import_file(&store, &path, &opts, &(), &Cancel::new()) {
        Ok(report) => match report.dataset_id {
            Some(id) => assert_eq!(store.record_count(id, None).unwrap(), report.records, "the report counts other records than were stored"),
            None => assert_eq!(store.datasets().unwrap().len(), before, "a refused import stored a dataset"),
        },
        Err(_) => assert_eq!(store.datasets().unwrap().len(), before, "a failed import stored a dataset"),
    }
    assert_eq!(store.record_count(kept, None).unwrap(), 2, "the dataset already stored lost records");
}

/// The PHI engine on any text (bytes that are not UTF-8 are converted lossily, as import does):
/// every detection is a span of the text on character boundaries, and every redaction strategy
/// applies to them.
pub fn phi(bytes: &[u8]) {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    let engine = ENGINE.get_or_init(|| Engine::new(PhiConfig::default()));
    let text = String::from_utf8_lossy(bytes);
    let detections = engine.detect(&text);
    for d in &detections {
        let (start, end) = (d.span.start, d.span.end);
        assert!(start <= end && end <= text.len(), "detection {start}..{end} outside a text of {} bytes", text.len());
        assert!(text.is_char_boundary(start) && text.is_char_boundary(end), "detection {start}..{end} splits a character");
    }
    for strategy in [Strategy::Tag, Strategy::Mask('#'), Strategy::Surrogate { secret: vec![7; 16] }] {
        let _ = redact(&text, &detections, &strategy, "p1");
    }
}

/// The key, name and text of the sealed target (the seeds are this text sealed under this key
/// and name, each with its own nonce).
pub const SEALED_KEY: [u8; 32] = [7; 32];
pub const SEALED_LABEL: &str = "localdx fuzz";
pub const SEALED_NAME: &str = "run/metrics.json";
pub const SEALED_TEXT: &[u8] = b"{\"labels\":[\"J45\",\"I10\"],\"note\":\"run folder file\"}";

/// Sealed files: bytes that open under the target's key and name are a file it sealed (the same
/// text, the same length); anything altered is refused.
pub fn sealed(bytes: &[u8]) {
    static SEALER: OnceLock<Sealer> = OnceLock::new();
    let sealer = SEALER.get_or_init(|| Sealer::derive(&SEALED_KEY, SEALED_LABEL));
    if let Ok(opened) = sealer.open(Path::new(SEALED_NAME), bytes) {
        assert!(opened == SEALED_TEXT, "an altered sealed file opened to {} bytes", opened.len());
        let sealed_len = SEALED_TEXT.len() + localdx_sealed::MAGIC.len() + 1 + 12 + 16;
        assert_eq!(bytes.len(), sealed_len, "a sealed file with bytes added or removed opened");
    }
}

/// The password the key-file seeds' entries are sealed with.
pub const KEYFILE_PASSWORD: &str = "fuzz-password-1";

/// The key file: any bytes offered as `<db>.keys` are loaded; each entry (at most two) is unlocked
/// with a wrong password, which must fail, and with the seeds' password. Argon2id runs on every
/// unlock, so this target is slow by design.
pub fn keyfile(bytes: &[u8]) {
    let path = scratch().join("probe.sqlite.keys");
    std::fs::write(&path, bytes).unwrap();
    let Ok(mut file) = KeyFile::load(&path) else { return };
    for user in file.users().into_iter().take(2) {
        assert!(file.unlock(&user, "not the password").is_err(), "a wrong password unlocked {user:?}");
        let _ = file.unlock(&user, KEYFILE_PASSWORD);
    }
}
