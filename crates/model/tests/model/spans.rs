//! Tokenizers against the reference (Hugging Face `tokenizers`) on 320 spans of six public data
//! sets in ../shared/data: clinical notes with runs of spaces and newlines, tabs, digits, upper
//! case, Spanish accents. The fixtures (written by scripts/model/tokenizer_reference.py) keep the
//! file, byte offset and length of each span and the reference ids, never the text itself.

use localdx_model::{tokenizer_json, GgufFile, Tokenizer};
use std::path::Path;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data");

/// (text, expected ids) of every fixture row; `None` when the data sets are absent.
fn rows(fixture: &str) -> Option<Vec<(String, String, Vec<u32>)>> {
    if !Path::new(DATA).exists() {
        localdx_testkit::skip(&format!("{DATA} is absent"));
        return None;
    }
    let mut files = std::collections::HashMap::new();
    let mut out = Vec::new();
    for line in fixture.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.splitn(4, '\t').collect();
        let (rel, off, len) = (f[0], f[1].parse::<usize>().unwrap(), f[2].parse::<usize>().unwrap());
        let bytes = files.entry(rel.to_owned()).or_insert_with(|| std::fs::read(format!("{DATA}/{rel}")).unwrap());
        let text = std::str::from_utf8(&bytes[off..off + len]).unwrap().to_owned();
        let ids = f[3].split(' ').filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect();
        out.push((format!("{rel}@{off}"), text, ids));
    }
    Some(out)
}

fn check(tok: &Tokenizer, fixture: &str, what: &str) {
    let Some(rows) = rows(fixture) else { return };
    assert_eq!(rows.len(), 320);
    let mut mismatches = Vec::new();
    for (place, text, expected) in &rows {
        let ids = tok.encode_for_model(text);
        if &ids != expected {
            mismatches.push(format!("{place}: {text:?}\n  got      {ids:?}\n  expected {expected:?}"));
        }
        // decoding gives the text back (BOS dropped)
        let body: Vec<u32> = ids.iter().copied().skip_while(|&i| tok.add_bos && Some(i) == tok.bos).collect();
        assert_eq!(&tok.decode(&body), text, "{what}: round trip of {place}");
    }
    assert!(mismatches.is_empty(), "{what}: {} of {} texts differ from the reference:\n{}", mismatches.len(), rows.len(), mismatches[..mismatches.len().min(5)].join("\n"));
}

#[test]
fn gemma3_gguf_tokenizer_matches_the_reference_id_for_id() {
    let Some(path) = crate::gemma_model_path() else { return };
    let tok = Tokenizer::from_gguf(&GgufFile::open(&path).unwrap()).unwrap();
    assert!(tok.is_sentencepiece());
    assert_eq!((tok.vocab_size(), tok.bos, tok.add_bos), (262_144, Some(2), true));
    check(&tok, include_str!("gemma3_spans.txt"), "gemma3 (GGUF metadata)");
}

#[test]
fn gemma3_tokenizer_json_matches_the_reference_and_wins_over_the_metadata() {
    let Some(path) = crate::gemma_model_path() else { return };
    let json = tokenizer_json::beside(&path);
    if !json.exists() {
        localdx_testkit::skip(&format!("{} is absent (run scripts/fetch-models.sh --gemma)", json.display()));
        return;
    }
    let tok = Tokenizer::for_model(&path, &GgufFile::open(&path).unwrap()).unwrap();
    assert_eq!(tok.source, json.display().to_string(), "a tokenizer.json beside the model wins");
    assert_eq!((tok.bos, tok.eos, tok.pad, tok.add_bos), (Some(2), Some(1), Some(0), true));
    check(&tok, include_str!("gemma3_spans.txt"), "gemma3 (tokenizer.json)");
}

#[test]
fn smollm2_gguf_tokenizer_matches_the_reference_id_for_id() {
    let Some(path) = crate::real_model_path() else { return };
    let tok = Tokenizer::from_gguf(&GgufFile::open(&path).unwrap()).unwrap();
    assert!(!tok.add_bos, "SmolLM2 adds no BOS");
    check(&tok, include_str!("smollm2_spans.txt"), "smollm2 (GGUF metadata)");
}
