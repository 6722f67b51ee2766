//! Prints an evaluation's misses and most frequent false alarms, for people tuning detectors.
//! Usage: `cargo run --release -p localdx-phi --example misses -- FILE deid-jsonl|presidio-json [tuning|held-out|all] [N]`.
//!
//! The part defaults to `tuning`, the only part rules may be written from. On `held-out` (and on
//! `all`, which contains it) it prints the figures only, never a miss or a false alarm: the
//! held-out notes are for measuring (see `eval::Part` and docs/phi.md). The environment variable
//! `PHI_CONFIG` may hold a PHI configuration as JSON (e.g. `{"years_alone":true}`); default: none.

use localdx_phi::eval::{evaluate, read_gold, GoldFormat, Part};
use localdx_phi::Engine;
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(path), Some(fmt)) = (args.first(), args.get(1)) else {
        eprintln!("usage: misses FILE deid-jsonl|presidio-json [tuning|held-out|all] [N]");
        std::process::exit(2);
    };
    let part = match args.get(2) {
        Some(p) => Part::parse(p).ok_or("unknown part (tuning, held-out, all)")?,
        None => Part::Tuning,
    };
    let n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(40);
    let format = GoldFormat::parse(fmt).ok_or("unknown format")?;
    let notes = part.select(format, read_gold(Path::new(path), format)?);
    println!("part: {} ({} notes)", part.as_str(), notes.len());
    let clock = Instant::now();
    let engine = match std::env::var("PHI_CONFIG") {
        Ok(json) => Engine::new(localdx_phi::PhiConfig::from_json(&json)?),
        Err(_) => Engine::default(),
    };
    let r = evaluate(&|t| engine.detect(t), &notes, format, &|| clock.elapsed().as_secs_f64(), &());
    println!("token recall {:.4} precision {:.4} F2 {:.4} span recall {:.4} notes/s {:.0}", r.token_recall, r.token_precision, r.f2, r.span_recall, r.notes_per_second);
    for (k, v) in &r.per_type {
        println!("  {k:<20} spans {}/{} tokens {}/{} {}", v.found_spans, v.gold_spans, v.found_tokens, v.gold_tokens, if v.in_scope { "" } else { "(out of scope)" });
    }
    if part != Part::Tuning {
        eprintln!("************************************************************************");
        eprintln!("* part {:<8}: figures only. The held-out notes are for measuring;     *", part.as_str());
        eprintln!("* no miss or false alarm of theirs is shown, and no rule may be written *");
        eprintln!("* from them. Read misses with the part `tuning`.                       *");
        eprintln!("************************************************************************");
        return Ok(());
    }
    println!("MISSES ({})", r.misses.len());
    for m in r.misses.iter().take(n) {
        println!("  {:<18} {}", m.label, m.context);
    }
    // gold spans found only in part: the tokens no detection covers are marked with [[ ]]
    let mut partial = Vec::new();
    for note in &notes {
        let dets = engine.detect(&note.text);
        let doc = localdx_phi::Doc::new(&note.text);
        for g in &note.spans {
            let toks: Vec<_> = doc.tokens.iter().filter(|t| t.span.overlaps(&g.span)).collect();
            let missed: Vec<_> = toks.iter().filter(|t| !dets.iter().any(|d| d.span.overlaps(&t.span))).collect();
            if missed.is_empty() || missed.len() == toks.len() {
                continue;
            }
            let mut shown = String::new();
            let mut at = g.span.start;
            for t in &missed {
                shown.push_str(&note.text[at..t.span.start]);
                shown.push_str(&format!("[[{}]]", t.span.slice(&note.text)));
                at = t.span.end;
            }
            shown.push_str(&note.text[at..g.span.end]);
            partial.push((g.label.clone(), missed.len(), shown.replace('\n', " ")));
        }
    }
    println!("PARTIAL ({} spans, {} tokens)", partial.len(), partial.iter().map(|p| p.1).sum::<usize>());
    for (label, _, shown) in partial.iter().take(n) {
        println!("  {label:<18} {shown}");
    }
    let mut by: HashMap<(String, String), (usize, String)> = HashMap::new();
    for f in &r.false_alarms {
        let e = by.entry((f.text.to_lowercase(), f.pattern.clone())).or_insert((0, f.context.clone()));
        e.0 += 1;
    }
    let mut v: Vec<_> = by.into_iter().collect();
    v.sort_by(|a, b| b.1 .0.cmp(&a.1 .0));
    println!("FALSE ALARMS ({} tokens)", r.false_alarms.len());
    for ((t, p), (c, ctx)) in v.iter().take(n) {
        println!("  {c:>4} {t:<15} {p:<40} {ctx}");
    }
    Ok(())
}
