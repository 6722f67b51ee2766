//! Suggestion latency for a 512-token note on this CPU: median and p95 over repeated scorings with
//! the model loaded once (what the app pays per click after loading), then, separately, the cost of
//! the occlusion attribution (up to 32 windows re-scored). The note is made of real Symptom2Disease
//! notes joined until it is at least 512 tokens long; the predictor reads exactly 512 of them.
//!
//!   cargo run -p localdx-api --example suggest_latency -- [MODEL.gguf] [RUNS] [RUN_DIR]
//!
//! With RUN_DIR the run's adapters and head are used (its token budget raised to 512); otherwise
//! the base model's zero-shot head over the data set's 24 labels. Prints the figures; writes nothing.

use localdx_api::suggest::{suggest, Occlusion};
use localdx_train::predict::Predictor;
use localdx_train::trainer::Preset;
use std::path::PathBuf;
use std::time::Instant;

fn percentile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // SAFETY: first thing in main, before any thread exists.
    unsafe { localdx_api::runtime::configure() };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model = PathBuf::from(args.first().cloned().unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/SmolLM2-135M-Instruct.Q4_1.gguf").into()));
    let runs: usize = args.get(1).map(|r| r.parse()).transpose()?.unwrap_or(20);
    let data = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/symptom2disease/Symptom2Disease.csv"));
    let mut reader = csv_rows(&std::fs::read_to_string(&data)?);
    let header = reader.remove(0);
    let (label_col, text_col) = (header.iter().position(|h| h == "label").ok_or("no label column")?, header.iter().position(|h| h == "text").ok_or("no text column")?);
    let mut labels: Vec<String> = reader.iter().map(|r| r[label_col].clone()).collect();
    labels.sort();
    labels.dedup();
    let texts: Vec<&str> = reader.iter().map(|r| r[text_col].as_str()).collect();

    let started = Instant::now();
    let mut p = match args.get(2) {
        Some(run) => Predictor::from_run(&PathBuf::from(run), &localdx_train::checkpoint::Vault::Plain)?,
        None => {
            let cfg = Preset::Thorough.config();
            Predictor::zero_shot(&model, labels.clone(), &labels, &texts[..64], cfg)?
        }
    };
    p.config.max_len = 512;
    let load = started.elapsed().as_secs_f64();

    let mut note = String::new();
    for t in &texts {
        if p.model.tokenizer.encode(&note).len() >= 512 {
            break;
        }
        note.push_str(t);
        note.push(' ');
    }
    let total_tokens = p.model.tokenizer.encode(&note).len();
    let warm = suggest(&p, "bench", &note, 5, None, None)?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        suggest(&p, "bench", &note, 5, None, None)?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let occ_runs = (runs / 4).max(3);
    let mut occ = Vec::with_capacity(occ_runs);
    let mut windows = 0;
    for _ in 0..occ_runs {
        let s = suggest(&p, "bench", &note, 5, Some(Occlusion::default()), None)?;
        windows = s.windows;
        occ.push(s.attribution_seconds * 1000.0);
    }
    occ.sort_by(f64::total_cmp);
    println!("model {} ({}), loaded with its head in {load:.2} s", model.display(), if args.get(2).is_some() { "run adapters" } else { "zero-shot head, 24 labels" });
    println!("note: {total_tokens} tokens, {} read by the model (max {})", warm.tokens, p.config.max_len);
    println!("suggestion latency over {runs} runs: median {:.0} ms, p95 {:.0} ms, min {:.0} ms, max {:.0} ms", percentile(&times, 0.5), percentile(&times, 0.95), times[0], times[times.len() - 1]);
    println!("occlusion attribution ({windows} windows) over {occ_runs} runs: median {:.0} ms, p95 {:.0} ms", percentile(&occ, 0.5), percentile(&occ, 0.95));
    Ok(())
}

/// A small CSV reader (quoted fields with doubled quotes, commas and newlines inside quotes).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, _) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, '\r') => {}
            (false, _) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows.retain(|r| r.len() > 1);
    rows
}
