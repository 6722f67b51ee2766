//! Prints every candidate detection for the text on standard input, before thresholds and
//! merging, with its explanation. Usage: `echo "..." | cargo run -p localdx-phi --example explain`.

use std::io::Read;

fn main() -> std::io::Result<()> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    let engine = localdx_phi::Engine::default();
    for d in engine.candidates(&text) {
        println!("{:>5}..{:<5} {:<10} {:.2} (base {:.2}) {}/{} {:?} {:?}", d.span.start, d.span.end, d.entity.as_str(), d.score, d.base_score, d.detector, d.pattern, d.context.as_ref().map(|c| (&c.word, c.delta)), d.span.slice(&text));
    }
    Ok(())
}
