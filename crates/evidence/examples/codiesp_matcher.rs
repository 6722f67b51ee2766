//! The matcher alone as a diagnostic coder: CodiEsp English case reports, ICD-10-CM code names
//! (every code's name under its three-character category), each note's affirmed matches as its
//! predicted categories, ranked by [`Lexicon::support`]. Nothing here was tuned on CodiEsp.
//!
//!     cargo run --release -p localdx-evidence --example codiesp_matcher -- models/icd10cm.tsv ../shared/data/codiesp dev
//!
//! Prints one JSON line: notes, micro precision / recall / F1 of all affirmed categories, top-5
//! recall (gold categories found among the five best supported, over all gold), and notes/s.
//! `--category-names-only` keeps only the categories' own names (not their codes' names).

use localdx_evidence::Lexicon;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (names, root, split, categories_only) = match args.as_slice() {
        [n, r, s] => (n, r, s, false),
        [n, r, s, flag] if flag == "--category-names-only" => (n, r, s, true),
        _ => return Err("usage: codiesp_matcher ICD10CM.tsv CODIESP_DIR SPLIT [--category-names-only]".into()),
    };
    let table = std::fs::read_to_string(names).map_err(|e| format!("{names}: {e}"))?;
    let pairs = table
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once('\t'))
        .filter(|(code, _)| !categories_only || code.len() <= 3)
        .map(|(code, name)| (code[..3.min(code.len())].to_uppercase(), name.to_string()));
    let lexicon = Lexicon::new(pairs);
    let split_dir = std::path::Path::new(root).join(split);
    let gold_path = split_dir.join(format!("{split}D.tsv"));
    let mut gold: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in std::fs::read_to_string(&gold_path).map_err(|e| format!("{}: {e}", gold_path.display()))?.lines() {
        if let Some((file, code)) = line.split_once('\t') {
            gold.entry(file.to_string()).or_default().insert(code.trim()[..3.min(code.trim().len())].to_uppercase());
        }
    }
    let (mut tp, mut fp, mut fn_, mut top5, mut total) = (0usize, 0usize, 0usize, 0usize, 0usize);
    let started = Instant::now();
    let mut notes = 0;
    for (file, codes) in &gold {
        let path = split_dir.join("text_files_en").join(format!("{file}.txt"));
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        notes += 1;
        let ranked = lexicon.support(&text);
        let predicted: BTreeSet<String> = ranked.iter().map(|s| s.label.clone()).collect();
        tp += predicted.intersection(codes).count();
        fp += predicted.difference(codes).count();
        fn_ += codes.difference(&predicted).count();
        top5 += ranked.iter().take(5).filter(|s| codes.contains(&s.label)).count();
        total += codes.len();
    }
    let seconds = started.elapsed().as_secs_f64();
    let p = tp as f64 / (tp + fp).max(1) as f64;
    let r = tp as f64 / (tp + fn_).max(1) as f64;
    println!(
        "{{\"split\":\"{split}\",\"notes\":{notes},\"terms\":{},\"micro_precision\":{p:.3},\"micro_recall\":{r:.3},\"micro_f1\":{:.3},\"top5_recall\":{:.3},\"notes_per_second\":{:.0}}}",
        lexicon.len(),
        if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 },
        top5 as f64 / total.max(1) as f64,
        notes as f64 / seconds
    );
    Ok(())
}
