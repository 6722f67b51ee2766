//! Word pieces per second of the frozen encoder on one synthetic note, LocalDx's fast path beside
//! its reference, `candle-transformers`' `BertModel`, in the same run (the PHI benchmark,
//! `scripts/phi/bench.sh`, measures whole notes against Presidio and Philter).
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
    let time = |f: &dyn Fn() -> Vec<f32>| {
        (0..3)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    };
    let ours = time(&|| enc.states(&pieces).unwrap());
    let reference = enc.reference().unwrap();
    let candle = time(&|| reference.states(&pieces).unwrap());
    let rate = |s: f64| pieces.len() as f64 / s;
    println!("{} pieces, best of 3 on {} threads:", pieces.len(), rayon::current_num_threads());
    println!("  LocalDx fast path          {:>7.0} pieces/s", rate(ours));
    println!("  candle-transformers BERT   {:>7.0} pieces/s", rate(candle));
    println!("  ratio                      {:>7.2}x", candle / ours);
}
