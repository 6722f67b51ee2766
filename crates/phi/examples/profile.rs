//! Times each detector (for people tuning speed). With a file only, the whole file is one note;
//! with a gold format as well, every note of the gold file is run and the times are summed per
//! detector, which is how the engine meets short notes.
//! Usage: `cargo run --release -p localdx-phi --example profile -- FILE [deid-jsonl|presidio-json]`.

use localdx_phi::eval::{read_gold, GoldFormat};
use std::path::Path;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().cloned().unwrap_or_default();
    let texts: Vec<String> = match args.get(1).and_then(|f| GoldFormat::parse(f)) {
        Some(format) => read_gold(Path::new(&path), format)?.into_iter().map(|n| n.text).collect(),
        None => vec![std::fs::read_to_string(&path)?],
    };
    let t = Instant::now();
    let engine = localdx_phi::Engine::default();
    engine.detect("warm up: Dr. Marder in Baltimore");
    println!("{:<16} {:>8.3} s", "load", t.elapsed().as_secs_f64());
    let detectors = localdx_phi::detectors::all();
    let mut times = vec![0.0f64; detectors.len()];
    let mut counts = vec![0usize; detectors.len()];
    let mut doc_time = 0.0;
    for text in &texts {
        let t = Instant::now();
        let doc = localdx_phi::Doc::new(text);
        doc_time += t.elapsed().as_secs_f64();
        for (k, d) in detectors.iter().enumerate() {
            let t = Instant::now();
            let mut out = Vec::new();
            d.detect(&doc, &mut out);
            times[k] += t.elapsed().as_secs_f64();
            counts[k] += out.len();
        }
    }
    println!("{:<16} {:>8.3} s  {} notes", "doc", doc_time, texts.len());
    for (k, d) in detectors.iter().enumerate() {
        println!("{:<16} {:>8.3} s  {} candidates", d.name(), times[k], counts[k]);
    }
    let t = Instant::now();
    let n: usize = texts.iter().map(|text| engine.detect(text).len()).sum();
    let s = t.elapsed().as_secs_f64();
    println!("{:<16} {:>8.3} s  {} detections, {:.0} notes/s", "engine", s, n, texts.len() as f64 / s);
    Ok(())
}
