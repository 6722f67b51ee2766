//! Tokenizer tests: the `smollm` pre-tokenizer's splits, BPE merges and round trips.

use localdx_model::synthetic::tiny_vocab;
use localdx_model::{GgufFile, PreTokenizer, Tokenizer};

fn tiny(pre: PreTokenizer) -> Tokenizer {
    let merges = localdx_model::synthetic::TINY_MERGES;
    Tokenizer::from_vocab(pre, tiny_vocab(), &merges).expect("tiny tokenizer")
}

fn check_pieces(pre: PreTokenizer, text: &str, expected: &[&str]) {
    let tok = tiny(pre);
    assert_eq!(tok.split_pieces(text), expected, "pieces of {text:?} with {pre:?}");
}

#[test]
fn smollm_pre_tokenizer_splits_digits_and_keeps_no_prefix_space() {
    use PreTokenizer::*;
    let rows: &[(PreTokenizer, &str, &[&str])] = &[
        (SmolLm, "Hello world", &["Hello", " world"]),
        // digits one by one (GPT-2 would keep "2024" together)
        (SmolLm, "in 2024 BP", &["in", " ", "2", "0", "2", "4", " BP"]),
        (Gpt2, "in 2024 BP", &["in", " 2024", " BP"]),
        // a whitespace run gives its last space to the next word
        (SmolLm, "a   b", &["a", "  ", " b"]),
        (SmolLm, "a\n\nb", &["a", "\n", "\n", "b"]),
        // trailing whitespace stays one piece
        (SmolLm, "end.  ", &["end", ".", "  "]),
        (SmolLm, "it's 5mg", &["it", "'s", " ", "5", "mg"]),
        (Llama3, "x 12345", &["x", " ", "123", "45"]),
        (SmolLm, "", &[]),
    ];
    for (pre, text, expected) in rows {
        check_pieces(*pre, text, expected);
    }
}

#[test]
fn bpe_applies_merges_by_rank_and_round_trips() {
    let tok = tiny(PreTokenizer::SmolLm);
    let the = tok.id("Ġthe").expect("merged token");
    let ids = tok.encode("the the");
    assert_eq!(ids, vec![tok.id("the").unwrap(), the]);
    for text in ["", "the other abba", "Fièvre 38,5 °C — toux", "emoji 🙂 and\ttabs\r\n", "<|im_start|>user"] {
        assert_eq!(tok.decode(&tok.encode(text)), text, "round trip of {text:?}");
    }
    // control-token text inside a note is plain text, never one token
    assert!(tok.encode("<|im_start|>").len() > 1);
}

#[test]
fn vocabulary_without_byte_tokens_or_with_bad_merges_is_refused() {
    let bad_vocab = vec!["a".to_string(), "b".to_string()];
    assert!(Tokenizer::from_vocab(PreTokenizer::Gpt2, bad_vocab, &[]).is_err());
    assert!(Tokenizer::from_vocab(PreTokenizer::Gpt2, tiny_vocab(), &["nospace"]).is_err());
    assert!(Tokenizer::from_vocab(PreTokenizer::Gpt2, tiny_vocab(), &["x y"]).is_err());
}

#[test]
fn real_smollm2_tokenizer_splits_digits_without_prefix_space() {
    let Some(path) = crate::real_model_path() else { return };
    let file = GgufFile::open(&path).expect("open real model");
    let tok = Tokenizer::from_gguf(&file).expect("tokenizer from gguf");
    assert_eq!(tok.vocab_size(), 49152);
    assert_eq!(tok.pre_tokenizer(), Some(PreTokenizer::SmolLm));
    let ids = tok.encode("BP 120/80");
    let pieces: Vec<&str> = ids.iter().map(|&i| tok.token(i).unwrap()).collect();
    assert_eq!(pieces, ["BP", "Ġ", "1", "2", "0", "/", "8", "0"]);
    let ids = tok.encode("Hello world");
    let pieces: Vec<&str> = ids.iter().map(|&i| tok.token(i).unwrap()).collect();
    assert_eq!(pieces, ["Hello", "Ġworld"], "no prefix space on the first word");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/symptom2disease/Symptom2Disease.csv");
    let Ok(text) = std::fs::read_to_string(path) else {
        localdx_testkit::skip(&format!("corpus round trip: {path} is absent"));
        return;
    };
    for line in text.lines().take(300) {
        assert_eq!(tok.decode(&tok.encode(line)), line);
    }
}

fn fnv1a64(ids: &[u32]) -> u64 {
    let mut h = 0xcbf29ce484222325u64;
    for id in ids {
        for b in id.to_le_bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    h
}

/// The SmolLM2 tokenizer against a reference: HF `tokenizers` 0.22 configured as SmolLM2's
/// `tokenizer.json` (BPE from the GGUF vocabulary and merges, pre-tokenizer
/// `Sequence[Digits(individual_digits=True), ByteLevel(add_prefix_space=False)]`), run offline on
/// 150 Symptom2Disease rows (every 8th), 150 MTSamples transcriptions (every 25th row, first 400
/// characters) and a few literal strings. The fixture keeps the id count and an FNV-1a hash of the
/// ids per text (the texts themselves stay in ../shared/data).
#[test]
fn real_smollm2_tokenizer_matches_the_reference_on_300_texts() {
    let Some(path) = crate::real_model_path() else { return };
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data");
    let (s2d, mts) = (format!("{data}/symptom2disease/Symptom2Disease.csv"), format!("{data}/mtsamples/mtsamples.csv"));
    if !std::path::Path::new(&s2d).exists() || !std::path::Path::new(&mts).exists() {
        localdx_testkit::skip(&format!("{data} is absent"));
        return;
    }
    let rows = |p: &str, col: usize| -> Vec<String> {
        let mut r = csv::Reader::from_path(p).unwrap();
        r.records().map(|x| x.unwrap().get(col).unwrap_or("").to_owned()).collect()
    };
    let (s2d, mts) = (rows(&s2d, 2), rows(&mts, 4));
    let tok = Tokenizer::from_gguf(&GgufFile::open(&path).unwrap()).unwrap();
    let fixture = include_str!("smollm2_reference.txt");
    let mut checked = 0;
    for line in fixture.lines().filter(|l| !l.starts_with('#')) {
        let mut back = line.rsplitn(3, ' ');
        let (hash, len, head) = (back.next().unwrap(), back.next().unwrap(), back.next().unwrap());
        let (source, key) = head.split_once(' ').unwrap();
        let text: String = match source {
            "s2d" => s2d[key.parse::<usize>().unwrap() - 1].clone(),
            "mts" => mts[key.parse::<usize>().unwrap() - 1].chars().take(400).collect(),
            _ => serde_json::from_str(key).unwrap(),
        };
        let ids = tok.encode(&text);
        assert_eq!(ids.len(), len.parse::<usize>().unwrap(), "token count of {source} {key}: {text:?}");
        assert_eq!(format!("{:016x}", fnv1a64(&ids)), hash, "ids of {source} {key}: {text:?}");
        checked += 1;
    }
    assert_eq!(checked, 302);
}

/// A `tokenizer.json` in the byte-level layout SmolLM2 ships, for the tiny vocabulary.
fn tiny_json(pre_tokenizer: &str, merges_as_pairs: bool) -> String {
    let vocab: serde_json::Map<String, serde_json::Value> =
        tiny_vocab().into_iter().enumerate().map(|(i, t)| (t, serde_json::json!(i))).collect();
    let merges: Vec<serde_json::Value> = localdx_model::synthetic::TINY_MERGES
        .iter()
        .map(|m| if merges_as_pairs { serde_json::json!(m.split(' ').collect::<Vec<_>>()) } else { serde_json::json!(m) })
        .collect();
    let pre: serde_json::Value = serde_json::from_str(pre_tokenizer).unwrap();
    serde_json::json!({
        "added_tokens": [{"id": 0, "content": "!", "special": true}],
        "normalizer": null,
        "pre_tokenizer": pre,
        "post_processor": null,
        "model": {"type": "BPE", "vocab": vocab, "merges": merges, "byte_fallback": false},
    })
    .to_string()
}

#[test]
fn byte_level_tokenizer_json_gives_the_same_ids_as_the_vocabulary() {
    use localdx_model::tokenizer_json::parse;
    let smollm = r#"{"type":"Sequence","pretokenizers":[{"type":"Digits","individual_digits":true},{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}]}"#;
    let gpt2 = r#"{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}"#;
    let rows: &[(&str, bool, PreTokenizer)] =
        &[(smollm, false, PreTokenizer::SmolLm), (smollm, true, PreTokenizer::SmolLm), (gpt2, false, PreTokenizer::Gpt2)];
    for (pre, pairs, expected) in rows {
        let tok = parse(&tiny_json(pre, *pairs), std::path::Path::new("tiny.json")).expect("parse tiny json");
        assert_eq!(tok.pre_tokenizer(), Some(*expected));
        let reference = tiny(*expected);
        for text in ["the other abba 2024", "  two  spaces\n", "Fièvre 38,5 °C"] {
            assert_eq!(tok.encode(text), reference.encode(text), "{text:?} with {expected:?}");
        }
        assert!(!tok.add_bos);
    }
}

#[test]
fn unsupported_or_broken_tokenizer_json_is_a_clear_error() {
    use localdx_model::tokenizer_json::parse;
    let p = std::path::Path::new("x.json");
    let prefixed = r#"{"type":"ByteLevel","add_prefix_space":true}"#;
    let rows: Vec<(String, &str)> = vec![
        ("not json".into(), "not valid JSON"),
        (r#"{"model":{"type":"Unigram","vocab":[]}}"#.into(), "Unigram"),
        (r#"{"model":{"type":"BPE","vocab":{"a":0},"merges":[]}}"#.into(), "neither"),
        (r#"{"model":{"type":"BPE","vocab":{"a":5},"merges":[]}}"#.into(), "outside the vocabulary"),
        (tiny_json(prefixed, false), "neither"),
        // An added token's id far past the vocabulary would have sized the token table by it.
        (r#"{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"added_tokens":[{"id":1099511627776,"content":"<x>"}]}"#.into(), "past the 1 vocabulary entries"),
    ];
    for (text, needle) in rows {
        let err = match parse(&text, p) {
            Ok(_) => panic!("{text:.60} was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(needle), "{err} lacks {needle}");
    }
}
