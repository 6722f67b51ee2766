//! Writes the seed corpora of the fuzz targets (`fuzz/targets.rs`): valid inputs of every format
//! each target reads, into `fuzz/corpus/<target>/`. The fuzzer mutates from these; what it finds
//! on top of them it keeps in a scratch copy (see `scripts/fuzz.sh`), so the committed corpus stays
//! these seeds plus the inputs that once crashed a target (which `npm test` replays).
//! Run from the checkout's root: `cargo run -p localdx-api --example fuzz_seeds [OUT]`.

#[allow(dead_code)] // the seeds need only the targets' keys and passwords
#[path = "../../../fuzz/targets.rs"]
mod targets;

use localdx_access::{KeyFile, MasterKey};
use localdx_model::candle_core::quantized::GgmlDType;
use localdx_model::synthetic::{tiny_spm_vocab, tiny_vocab, write_tiny_gemma3, write_tiny_llama, TinySpec, TINY_MERGES};
use localdx_model::{LoadOptions, Model};
use serde_json::json;
use localdx_sealed::Sealer;
use std::path::{Path, PathBuf};

fn put(target: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let out = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("fuzz/corpus"));
    let dir = out.join(target);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(name), bytes)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scratch = tempfile::tempdir()?;

    // GGUF: a tiny llama with F32 and with Q8_0 projections, and a tiny Gemma 3.
    let small = TinySpec { layers: 1, ..TinySpec::default() };
    for (name, spec, gemma) in [
        ("llama-f32.gguf", small.clone(), false),
        ("llama-q8_0.gguf", TinySpec { dtype: GgmlDType::Q8_0, ..small.clone() }, false),
        ("gemma3-f32.gguf", small.clone(), true),
    ] {
        let path = scratch.path().join(name);
        if gemma { write_tiny_gemma3(&path, &spec)? } else { write_tiny_llama(&path, &spec)? }
        Model::load(&path, &LoadOptions::default()).map_err(|e| format!("seed {name}: {e}"))?;
        put("gguf", name, &std::fs::read(&path)?)?;
    }

    // tokenizer.json: the tiny byte-level vocabulary in SmolLM2's layout (merges as strings) and in
    // GPT-2's (merges as pairs, a BOS template), and the tiny SentencePiece vocabulary in Gemma's.
    let byte_vocab: serde_json::Map<String, serde_json::Value> = tiny_vocab().into_iter().enumerate().map(|(i, t)| (t, json!(i))).collect();
    let byte_level = json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true});
    let smollm_pre = json!({"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true}, byte_level]});
    let pairs: Vec<Vec<&str>> = TINY_MERGES.iter().map(|m| m.split(' ').collect()).collect();
    let bos_template = |id: u32, name: &str| {
        json!({"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": name, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
               "special_tokens": {name: {"id": name, "ids": [id], "tokens": [name]}}})
    };
    let (spm_tokens, _, _) = tiny_spm_vocab();
    let spm_vocab: serde_json::Map<String, serde_json::Value> = spm_tokens.iter().enumerate().map(|(i, t)| (t.clone(), json!(i))).collect();
    let spm_merges: Vec<String> = ["t h", "th e", "\u{2581} the", "a b", "\u{2581} a"].iter().map(|m| m.to_string()).collect();
    let tokenizers = [
        ("smollm2.json", json!({"added_tokens": [{"id": 0, "content": "!", "special": true}], "pre_tokenizer": smollm_pre,
            "model": {"type": "BPE", "vocab": byte_vocab, "merges": TINY_MERGES, "byte_fallback": false}})),
        ("gpt2-bos.json", json!({"added_tokens": [{"id": 262, "content": "<|bos|>", "special": true}], "pre_tokenizer": byte_level,
            "post_processor": bos_template(262, "<|bos|>"), "model": {"type": "BPE", "vocab": byte_vocab, "merges": pairs}})),
        ("gemma.json", json!({"added_tokens": [{"id": 2, "content": "<bos>", "special": true}, {"id": spm_tokens.len() - 1, "content": "  ", "special": false}],
            "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "\u{2581}"}, "pre_tokenizer": null,
            "post_processor": bos_template(2, "<bos>"),
            "model": {"type": "BPE", "vocab": spm_vocab, "merges": spm_merges, "byte_fallback": true, "unk_token": "<unk>"}})),
    ];
    for (name, tokenizer) in tokenizers {
        let text = tokenizer.to_string();
        localdx_model::tokenizer_json::parse(&text, Path::new(name)).map_err(|e| format!("seed {name}: {e}"))?;
        put("tokenizer", name, text.as_bytes())?;
    }

    // Import: the first byte picks the format (0 CSV, 1 TSV, 2 JSONL, 3 text folder) and options
    // (4: skip bad rows, 8: merge duplicates).
    let csv = b"note_id,patient_id,note,dx\nA1,P1,\"Chest pain, 2 days\",I20.9\nA2,P2,\"Seen by Dr. Lee\",I10\nA3,P2,\"Seen by Dr. Lee\",I10\n";
    let sample = std::fs::read("samples/clinic-notes.csv")?;
    let sample_head: Vec<u8> = sample.split_inclusive(|&b| b == b'\n').take(6).flatten().copied().collect();
    let cp1252 = b"note,dx\n\"Caf\xe9 worker, na\xefve to \x93inhalers\x94\",J45\n".to_vec();
    let utf16: Vec<u8> = [0xff, 0xfe].into_iter().chain("note,dx\nCough,J06.9\n".encode_utf16().flat_map(u16::to_le_bytes)).collect();
    let imports: [(&str, u8, &[u8]); 9] = [
        ("csv", 0, csv),
        ("csv-skip-merge", 12, csv),
        ("csv-sample", 0, &sample_head),
        ("csv-cp1252", 0, &cp1252),
        ("csv-utf16", 0, &utf16),
        ("tsv", 1, b"note\tdx\nCough and fever\tJ06.9\nRash\tL30.9\n"),
        ("jsonl", 2, b"{\"text\": \"Wheeze at night\", \"label\": \"J45\"}\n{\"text\": \"Thirst\", \"label\": [\"E11\", \"R63.1\"]}\n"),
        ("jsonl-skip", 6, b"{\"text\": \"Wheeze\", \"label\": \"J45\"}\n{\"text\": 3}\nnot json\n"),
        ("folder", 3, b"n1\tJ45\nn2\tI10\nn2\tE11\n\0Wheeze at night, worse with cold air.\0BP 150/95, seen by Dr. Ortiz."),
    ];
    for (name, selector, body) in imports {
        put("import", name, &[&[selector][..], body].concat())?;
    }

    // PHI: notes with identifiers of every kind the engine looks for, and a PHI-free one.
    let notes: [&[u8]; 4] = [
        b"Seen by Dr. John Smith on 2024-03-02 at Mercy Hospital, MRN 1234567, phone 555-123-4567.",
        b"PT: JANE DOE (RN) 3/4 [**2101-3-4**] Boston, MA 02115; SSN 123-45-6789; age 93 y/o; ins. # AB-123456",
        b"Babinski sign negative, Glasgow Coma Scale 15, first treated in 2019 for Graves disease.",
        b"<p>Lives at 6697 Mill Street, Fresno, CA 93721.</p> email j.doe@example.org, ward 4B, 'ninety-two'",
    ];
    for (i, note) in notes.into_iter().enumerate() {
        put("phi", &format!("note-{i}"), note)?;
    }
    for (i, line) in sample.split(|&b| b == b'\n').skip(1).take(3).enumerate() {
        put("phi", &format!("sample-{i}"), line)?;
    }

    // Sealed: the text the target seals, under its key and name, with two nonces.
    let sealer = Sealer::derive(&targets::SEALED_KEY, targets::SEALED_LABEL);
    for i in 0..2 {
        put("sealed", &format!("metrics-{i}"), &sealer.seal(Path::new(targets::SEALED_NAME), targets::SEALED_TEXT)?)?;
    }

    // Key file: two users sealed with the target's password.
    let keys = scratch.path().join("w.sqlite.keys");
    let master = MasterKey::generate()?;
    let mut file = KeyFile::create(&keys, "ada", targets::KEYFILE_PASSWORD, &master)?;
    file.add("grace", targets::KEYFILE_PASSWORD, &master)?;
    put("keyfile", "two-users", &std::fs::read(&keys)?)?;

    println!("fuzz seeds written");
    Ok(())
}
