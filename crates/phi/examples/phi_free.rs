//! The share of PHI-free texts that get any detection (each one a false alarm), and what fires.
//! Usage: `cargo run --release -p localdx-phi --example phi_free -- [FILE.csv [COLUMN [N]]]`,
//! by default `../shared/data/symptom2disease/Symptom2Disease.csv`, column `text`, 20 examples.
//! Also prints the share among the PHI-free sentences of the Presidio file's tuning part (those
//! without any gold span).

use localdx_phi::eval::{phi_free_share, read_csv_column, read_gold, GoldFormat, Part};
use localdx_phi::Engine;
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().map(String::as_str).unwrap_or("../shared/data/symptom2disease/Symptom2Disease.csv");
    let column = args.get(1).map(String::as_str).unwrap_or("text");
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20);
    let engine = Engine::default();
    let texts = read_csv_column(Path::new(path), column)?;
    let r = phi_free_share(&|t| engine.detect(t), &texts, n);
    println!("{path} [{column}]: {} of {} PHI-free texts get a detection: {:.1}%", r.flagged, r.texts, 100.0 * r.share);
    for (pattern, count) in r.by_pattern.iter().take(15) {
        println!("  {count:>5} {pattern}");
    }
    for f in &r.examples {
        println!("  {:<10} {:<36} {}", f.label, f.pattern, f.context);
    }
    let presidio = Path::new("../shared/data/presidio_synth/synth_dataset_v2.json");
    if presidio.exists() {
        let free: Vec<String> = Part::Tuning.select(GoldFormat::PresidioJson, read_gold(presidio, GoldFormat::PresidioJson)?).into_iter().filter(|n| n.spans.is_empty()).map(|n| n.text).collect();
        let r = phi_free_share(&|t| engine.detect(t), &free, 0);
        println!("{} [tuning, no gold span]: {} of {} get a detection: {:.1}%", presidio.display(), r.flagged, r.texts, 100.0 * r.share);
    }
    Ok(())
}
