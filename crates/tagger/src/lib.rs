//! LocalDx's learned PHI tagger: token classification (BIO over seven kinds of PHI) on a frozen
//! BERT encoder (all-MiniLM-L6-v2, uncased, fetched by setup), with a small trained head that ships
//! in this crate (`assets/`, about 1.2 MB).
//!
//! It sits beside the rules, never instead of them: `crates/phi` keeps the detector interface,
//! rules, merging and evaluation and knows nothing of candle; the API runs this tagger and hands
//! its detections to `Engine::detect_with`, which merges them with the rules' (a recall-first
//! union). Every detection says it came from the model (`detector: "tagger"`) and carries the
//! model's PHI probability as its score.
//!
//! Pure engine: no network, no database, no clock. It never logs note text.

pub mod decode;
pub mod encoder;
pub mod error;
pub mod fast;
pub mod head;
pub mod labels;
pub mod train;

pub use decode::DETECTOR;
pub use encoder::Encoder;
pub use error::{Result, TaggerError};
pub use head::Head;

use candle_core::{Device, Tensor};
use localdx_phi::Detection;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

/// What is known about a head besides its weights: the threshold chosen for it and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadCard {
    /// Format of this card and of the head's tensors.
    pub version: u32,
    /// The encoder the head was trained on (the folder name under the models folder).
    pub encoder: String,
    /// The SHA-256 of the encoder's `model.safetensors`, as setup pins it.
    pub encoder_sha256: String,
    /// PHI probability at or above which a piece is tagged.
    pub threshold: f32,
    /// How the head was made: the training files with their hashes, settings and validation figures.
    pub provenance: serde_json::Value,
}

/// The version of [`HeadCard`] this build reads.
pub const CARD_VERSION: u32 = 1;

/// The head that ships with LocalDx, trained by `examples/train_tagger.rs` (see its doc).
pub const SHIPPED_HEAD: &[u8] = include_bytes!("../assets/phi-tagger.safetensors");
/// The shipped head's card.
pub const SHIPPED_CARD: &str = include_str!("../assets/phi-tagger.json");

/// The encoder and a head.
pub struct Tagger {
    encoder: Arc<Encoder>,
    head: Head,
    card: HeadCard,
    device: Device,
}

impl Tagger {
    /// The shipped head on the encoder in `models/all-MiniLM-L6-v2`.
    pub fn load(models_dir: &Path) -> Result<Tagger> {
        Tagger::with_head(models_dir, SHIPPED_HEAD, Tagger::shipped_card()?)
    }

    /// Another head (a steward's retrained version) on the encoder in `models_dir`.
    pub fn with_head(models_dir: &Path, head: &[u8], card: HeadCard) -> Result<Tagger> {
        if card.version != CARD_VERSION {
            return Err(TaggerError::Mismatch(format!("card version {} where this build reads {CARD_VERSION}", card.version)));
        }
        let encoder = Arc::new(Encoder::load(&models_dir.join(&card.encoder))?);
        Tagger::with_encoder(encoder, head, card)
    }

    /// Another head on an encoder already loaded (the encoder is the large part: about 90 MB).
    pub fn with_encoder(encoder: Arc<Encoder>, head: &[u8], card: HeadCard) -> Result<Tagger> {
        if card.version != CARD_VERSION {
            return Err(TaggerError::Mismatch(format!("card version {} where this build reads {CARD_VERSION}", card.version)));
        }
        let device = Device::Cpu;
        let head = Head::from_bytes(head, &device)?;
        Ok(Tagger { encoder, head, card, device })
    }

    /// The shipped head's card.
    pub fn shipped_card() -> Result<HeadCard> {
        serde_json::from_str(SHIPPED_CARD).map_err(|e| TaggerError::Mismatch(format!("shipped card: {e}")))
    }

    pub fn head(&self) -> &Head {
        &self.head
    }

    pub fn encoder_arc(&self) -> Arc<Encoder> {
        self.encoder.clone()
    }

    pub fn card(&self) -> &HeadCard {
        &self.card
    }

    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// The PHI in `text` by the model alone, at the card's threshold.
    pub fn detect(&self, text: &str) -> Result<Vec<Detection>> {
        self.detect_at(text, self.card.threshold)
    }

    /// The PHI in `text` by the model alone, at `threshold`.
    pub fn detect_at(&self, text: &str, threshold: f32) -> Result<Vec<Detection>> {
        let (pieces, probs) = self.probabilities(text)?;
        Ok(decode::decode(text, &pieces, &probs, threshold))
    }

    /// The note's pieces and each piece's class probabilities.
    pub fn probabilities(&self, text: &str) -> Result<(encoder::Pieces, Vec<Vec<f32>>)> {
        let pieces = self.encoder.pieces(text);
        if pieces.is_empty() {
            return Ok((pieces, Vec::new()));
        }
        let states = self.encoder.states(&pieces)?;
        let shapes = head::shapes(text, &pieces);
        let probs = head_probabilities(&self.head, &states, &shapes, &self.device)?;
        Ok((pieces, probs))
    }
}

/// The head's probabilities for every piece of a note, in row blocks.
pub fn head_probabilities(head: &Head, states: &[f32], shapes: &[f32], device: &Device) -> Result<Vec<Vec<f32>>> {
    const ROWS: usize = 1024;
    let n = states.len() / encoder::HIDDEN;
    let mut out = Vec::with_capacity(n);
    let mut x = Vec::new();
    for start in (0..n).step_by(ROWS) {
        let end = (start + ROWS).min(n);
        x.clear();
        head::features(states, shapes, start..end, &mut x);
        let t = Tensor::from_slice(&x, (end - start, head::FEATURES), device)?;
        out.extend(head.probabilities(&t)?);
    }
    Ok(out)
}
