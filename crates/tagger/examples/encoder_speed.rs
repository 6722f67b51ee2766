//! Word pieces per second of the frozen encoder on one synthetic note (a quick check of the
//! inference path's speed; the PHI benchmark measures whole notes).
//!
//! `cargo run --release -p localdx-tagger --example encoder_speed -- models [pieces]`
use std::time::Instant;

fn main() {
    // SAFETY: first thing in main, before any thread exists.
    unsafe { localdx_model::runtime::configure() };
    let args: Vec<String> = std::env::args().collect();
    let models = std::path::PathBuf::from(args.get(1).map_or("models", |s| s.as_str()));
    let words: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let t = Instant::now();
    let enc = localdx_tagger::Encoder::load(&models.join(localdx_tagger::encoder::DIR_NAME)).unwrap_or_else(|e| panic!("{e}"));
    println!("load {:.2} s", t.elapsed().as_secs_f64());
    let vocab = ["patient", "was", "seen", "by", "dr", "smith", "on", "3/4", "with", "chest", "pain", "and", "shortness", "of", "breath."];
    let text: Vec<&str> = (0..words).map(|i| vocab[(i * 7) % vocab.len()]).collect();
    let text = text.join(" ");
    let pieces = enc.pieces(&text);
    for _ in 0..3 {
        let t = Instant::now();
        let states = enc.states(&pieces).unwrap();
        let s = t.elapsed().as_secs_f64();
        println!("{} pieces in {s:.3} s: {:.0} pieces/s ({} floats)", pieces.len(), pieces.len() as f64 / s, states.len());
    }
}
