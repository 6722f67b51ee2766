//! Times each detector on the file given as the first argument (for people tuning speed).
//! Usage: `cargo run --release -p localdx-phi --example profile -- FILE`.

use std::time::Instant;

fn main() -> std::io::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_default();
    let text = std::fs::read_to_string(path)?;
    let t = Instant::now();
    let doc = localdx_phi::Doc::new(&text);
    println!("{:<16} {:>8.3} s  {} tokens", "doc", t.elapsed().as_secs_f64(), doc.tokens.len());
    for d in localdx_phi::detectors::all() {
        let t = Instant::now();
        let mut out = Vec::new();
        d.detect(&doc, &mut out);
        println!("{:<16} {:>8.3} s  {} candidates", d.name(), t.elapsed().as_secs_f64(), out.len());
    }
    let t = Instant::now();
    let n = localdx_phi::Engine::default().detect(&text).len();
    println!("{:<16} {:>8.3} s  {} detections", "engine", t.elapsed().as_secs_f64(), n);
    Ok(())
}
