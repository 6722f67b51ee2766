//! Training the head: examples (a note and its labelled spans) become pieces with BIO targets,
//! the frozen encoder's states are computed once per example, and the head learns on shuffled
//! blocks of pieces with AdamW and a class-weighted cross-entropy (PHI classes weigh more than
//! `O`: the tagger is meant to err towards flagging). The epoch kept is the one with the best
//! piece-level F2 on the validation examples.
//!
//! The loop takes its examples, seed and progress callback from the caller; it reads no file.

use crate::encoder::{Encoder, Pieces, HIDDEN};
use crate::error::Result;
use crate::head::{self, Head, FEATURES, SHAPE};
use crate::labels::{begin, inside, Target, CLASSES, OUTSIDE};
use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use localdx_span::Span;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// A note and its labelled spans (byte offsets).
#[derive(Debug, Clone)]
pub struct Example {
    pub text: String,
    pub spans: Vec<(Span, Target)>,
}

/// Targets left out of the loss.
pub const IGNORED: u32 = u32::MAX;

/// The BIO target of every piece: the first piece overlapping a span is `B-`, the rest `I-`;
/// pieces of ignored spans are [`IGNORED`]; the rest `O`.
pub fn targets(pieces: &Pieces, spans: &[(Span, Target)]) -> Vec<u32> {
    let mut out = vec![OUTSIDE as u32; pieces.len()];
    for (span, target) in spans {
        let mut first = true;
        for (i, &(s, e)) in pieces.spans.iter().enumerate() {
            if s < span.end && span.start < e {
                out[i] = match *target {
                    Target::Ignore => IGNORED,
                    Target::Kind(k) if first => begin(k) as u32,
                    Target::Kind(k) => inside(k) as u32,
                };
                first = false;
            }
        }
    }
    out
}

/// An example as the head sees it: encoder states, shape bits and targets of its pieces.
pub struct Prepared {
    pub states: Vec<f32>,
    pub shapes: Vec<f32>,
    pub targets: Vec<u32>,
}

impl Prepared {
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }
}

/// Runs the encoder over every example (the expensive part; done once).
pub fn prepare(encoder: &Encoder, examples: &[Example], progress: &dyn Fn(usize, usize)) -> Result<Vec<Prepared>> {
    let mut out = Vec::with_capacity(examples.len());
    for (n, ex) in examples.iter().enumerate() {
        let pieces = encoder.pieces(&ex.text);
        let states = encoder.states(&pieces)?;
        let shapes = head::shapes(&ex.text, &pieces);
        out.push(Prepared { targets: targets(&pieces, &ex.spans), states, shapes });
        progress(n + 1, examples.len());
    }
    Ok(out)
}

/// Settings of a training run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Options {
    pub epochs: usize,
    pub learning_rate: f64,
    /// Pieces per optimiser step.
    pub batch: usize,
    /// Weight of every PHI class in the loss (`O` weighs 1).
    pub phi_weight: f32,
    pub dropout: f32,
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options { epochs: 8, learning_rate: 1e-3, batch: 256, phi_weight: 3.0, dropout: 0.1, seed: 17 }
    }
}

/// Piece-level figures of PHI against `O` (any kind counts) at one threshold.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct PieceScore {
    pub threshold: f32,
    pub recall: f64,
    pub precision: f64,
    pub f2: f64,
}

/// One epoch's log line.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Epoch {
    pub epoch: usize,
    pub loss: f64,
    pub validation: PieceScore,
}

/// Piece-level recall, precision and F2 of `probs` against the targets, at `threshold`.
pub fn piece_score(probs: &[Vec<Vec<f32>>], data: &[Prepared], threshold: f32) -> PieceScore {
    let (mut tp, mut fp, mut fneg) = (0usize, 0usize, 0usize);
    for (p, d) in probs.iter().zip(data) {
        for (row, &t) in p.iter().zip(&d.targets) {
            if t == IGNORED {
                continue;
            }
            let flagged = 1.0 - row[OUTSIDE] >= threshold;
            match (flagged, t != OUTSIDE as u32) {
                (true, true) => tp += 1,
                (true, false) => fp += 1,
                (false, true) => fneg += 1,
                _ => {}
            }
        }
    }
    let recall = tp as f64 / (tp + fneg).max(1) as f64;
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    PieceScore { threshold, recall, precision, f2: f2(recall, precision) }
}

/// One row of a threshold search: the union's token (recall, precision) on each validation slice.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdRow {
    pub threshold: f32,
    pub union: Vec<(f64, f64)>,
}

/// How [`choose_threshold`] picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdRule {
    /// The highest threshold at which every slice reaches its recall goal while the union keeps at
    /// least [`PRECISION_KEPT`] of the rules' own precision there.
    RecallGoal,
    /// No threshold did: the one with the best mean token F2 over the slices.
    BestF2,
}

/// The share of the rules' precision the union must keep for a threshold to count as reaching
/// the recall goal (a threshold that flags half the note is no goal reached).
pub const PRECISION_KEPT: f64 = 0.8;

/// F-beta with beta 2: recall weighs four times precision.
pub fn f2(recall: f64, precision: f64) -> f64 {
    if recall + precision > 0.0 {
        5.0 * precision * recall / (4.0 * precision + recall)
    } else {
        0.0
    }
}

/// The threshold for a head, from a search on validation slices: `rules` holds the rules' own
/// (recall, precision) on each slice and `goals` each slice's recall goal. See [`ThresholdRule`].
pub fn choose_threshold(rows: &[ThresholdRow], rules: &[(f64, f64)], goals: &[f64]) -> Option<(f32, ThresholdRule)> {
    let reaches = |row: &ThresholdRow| {
        row.union.iter().zip(rules).zip(goals).all(|(((r, p), (_, rules_p)), goal)| *r >= *goal && *p >= PRECISION_KEPT * rules_p)
    };
    if let Some(row) = rows.iter().filter(|r| reaches(r)).max_by(|a, b| a.threshold.total_cmp(&b.threshold)) {
        return Some((row.threshold, ThresholdRule::RecallGoal));
    }
    let mean_f2 = |row: &ThresholdRow| row.union.iter().map(|(r, p)| f2(*r, *p)).sum::<f64>() / row.union.len().max(1) as f64;
    // ties go to the higher threshold (fewer false alarms for the same F2)
    rows.iter()
        .max_by(|a, b| mean_f2(a).total_cmp(&mean_f2(b)).then(a.threshold.total_cmp(&b.threshold)))
        .map(|row| (row.threshold, ThresholdRule::BestF2))
}

/// The head's probabilities for every prepared example.
pub fn predict(head: &Head, data: &[Prepared], device: &Device) -> Result<Vec<Vec<Vec<f32>>>> {
    data.iter().map(|d| crate::head_probabilities(head, &d.states, &d.shapes, device)).collect()
}

/// Trains a head from a seeded start; returns the best epoch's head (by validation F2 at threshold
/// 0.5) and the log.
pub fn train(train: &[Prepared], validation: &[Prepared], options: &Options, progress: &dyn Fn(&Epoch)) -> Result<(Head, Vec<Epoch>)> {
    train_from(Head::new(options.seed, &Device::Cpu)?, train, validation, options, progress, &|| false)
}

/// Trains `head` further (a steward's retraining starts from the head in use). With no validation
/// examples the last epoch is kept. `cancelled` is asked between optimiser steps; a cancelled
/// run returns [`crate::TaggerError::Cancelled`].
pub fn train_from(
    head: Head,
    train: &[Prepared],
    validation: &[Prepared],
    options: &Options,
    progress: &dyn Fn(&Epoch),
    cancelled: &dyn Fn() -> bool,
) -> Result<(Head, Vec<Epoch>)> {
    let device = Device::Cpu;
    let mut optimizer =
        AdamW::new(head.trainable(), ParamsAdamW { lr: options.learning_rate, weight_decay: 1e-4, ..Default::default() })?;
    let mut weights = vec![options.phi_weight; CLASSES];
    weights[OUTSIDE] = 1.0;
    let rows: Vec<(u32, u32)> = train
        .iter()
        .enumerate()
        .flat_map(|(e, d)| d.targets.iter().enumerate().filter(|(_, &t)| t != IGNORED).map(move |(i, _)| (e as u32, i as u32)))
        .collect();
    let mut rng = StdRng::seed_from_u64(options.seed);
    let mut order = rows.clone();
    let mut log = Vec::new();
    let mut best: Option<(f64, Vec<Tensor>)> = None;
    let mut x = Vec::with_capacity(options.batch * FEATURES);
    for epoch in 1..=options.epochs {
        order.shuffle(&mut rng);
        let (mut total, mut steps) = (0f64, 0usize);
        for block in order.chunks(options.batch) {
            if cancelled() {
                return Err(crate::TaggerError::Cancelled);
            }
            x.clear();
            let mut t = Vec::with_capacity(block.len());
            for &(e, i) in block {
                let d = &train[e as usize];
                let i = i as usize;
                features_of(d, i, &mut x);
                t.push(d.targets[i]);
            }
            let input = Tensor::from_slice(&x, (block.len(), FEATURES), &device)?;
            let loss = head::loss(&head.logits(&input, options.dropout)?, &t, &weights)?;
            optimizer.backward_step(&loss)?;
            total += loss.to_scalar::<f32>()? as f64;
            steps += 1;
        }
        let probs = predict(&head, validation, &device)?;
        let score = piece_score(&probs, validation, 0.5);
        let line = Epoch { epoch, loss: total / steps.max(1) as f64, validation: score };
        progress(&line);
        if !validation.is_empty() && best.as_ref().is_none_or(|(f, _)| score.f2 > *f) {
            let copy = head.trainable().iter().map(|v| v.as_tensor().copy()).collect::<candle_core::Result<Vec<_>>>()?;
            best = Some((score.f2, copy));
        }
        log.push(line);
    }
    if let Some((_, tensors)) = best {
        for (var, t) in head.trainable().iter().zip(tensors) {
            var.set(&t)?;
        }
    }
    Ok((head, log))
}

/// The features of piece `i` of `d` (the same layout as [`head::features`]).
fn features_of(d: &Prepared, i: usize, out: &mut Vec<f32>) {
    let n = d.len();
    let row = |j: usize| &d.states[j * HIDDEN..(j + 1) * HIDDEN];
    out.extend_from_slice(row(i));
    if i > 0 {
        out.extend_from_slice(row(i - 1));
    } else {
        out.extend(std::iter::repeat_n(0.0, HIDDEN));
    }
    if i + 1 < n {
        out.extend_from_slice(row(i + 1));
    } else {
        out.extend(std::iter::repeat_n(0.0, HIDDEN));
    }
    out.extend_from_slice(&d.shapes[i * SHAPE..(i + 1) * SHAPE]);
}

#[cfg(test)]
mod tests {

    fn row(threshold: f32, union: &[(f64, f64)]) -> ThresholdRow {
        ThresholdRow { threshold, union: union.to_vec() }
    }

    #[test]
    fn threshold_reaching_the_goal_is_the_highest_that_keeps_precision() {
        let rules = [(0.95, 0.80)];
        let rows = [row(0.9, &[(0.97, 0.78)]), row(0.7, &[(0.991, 0.70)]), row(0.5, &[(0.995, 0.66)]), row(0.1, &[(0.999, 0.30)])];
        assert_eq!(choose_threshold(&rows, &rules, &[0.99]), Some((0.7, ThresholdRule::RecallGoal)));
    }

    #[test]
    fn recall_bought_with_most_of_the_precision_does_not_reach_the_goal() {
        // the shipped head's case: only the lowest threshold reaches 0.99, at a quarter of the precision
        let rules = [(0.981, 0.777), (0.943, 0.960)];
        let rows = [row(0.95, &[(0.981, 0.715), (0.990, 0.879)]), row(0.5, &[(0.984, 0.543), (0.996, 0.815)]), row(0.05, &[(0.991, 0.234), (0.999, 0.672)])];
        let (t, rule) = choose_threshold(&rows, &rules, &[0.99, 0.97]).unwrap();
        assert_eq!(rule, ThresholdRule::BestF2);
        assert_eq!(t, 0.95);
    }

    #[test]
    fn f2_weighs_recall_four_times() {
        assert!((f2(1.0, 1.0) - 1.0).abs() < 1e-12);
        assert!(f2(0.9, 0.5) > f2(0.5, 0.9));
        assert_eq!(f2(0.0, 0.0), 0.0);
        assert!(choose_threshold(&[], &[], &[]).is_none());
    }
    use super::*;

    #[test]
    fn targets_are_bio_over_overlapping_pieces() {
        // "dr jo smith on 3/4": pieces dr | jo | smi | ##th | on | 3 | / | 4
        let pieces = Pieces { ids: vec![0; 8], spans: vec![(0, 2), (3, 5), (6, 9), (9, 11), (12, 14), (15, 16), (16, 17), (17, 18)] };
        let spans = [(Span::new(3, 11), Target::Kind(0)), (Span::new(15, 18), Target::Ignore)];
        let m = IGNORED;
        assert_eq!(targets(&pieces, &spans), vec![0, begin(0) as u32, inside(0) as u32, inside(0) as u32, 0, m, m, m]);
        // negative row: no spans, all outside
        assert_eq!(targets(&pieces, &[]), vec![0; 8]);
    }

    #[test]
    fn features_of_matches_the_inference_layout() {
        let n = 3;
        let d = Prepared {
            states: (0..n * HIDDEN).map(|v| v as f32).collect(),
            shapes: (0..n * SHAPE).map(|v| -(v as f32)).collect(),
            targets: vec![0; n],
        };
        for i in 0..n {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            features_of(&d, i, &mut a);
            head::features(&d.states, &d.shapes, i..i + 1, &mut b);
            assert_eq!(a, b, "piece {i}");
        }
    }

    #[test]
    fn scores_count_pieces_against_outside() {
        let d = Prepared { states: vec![], shapes: vec![], targets: vec![0, 1, 2, IGNORED] };
        let p = |o: f32| {
            let mut v = vec![0.0; CLASSES];
            v[0] = o;
            v[1] = 1.0 - o;
            v
        };
        let probs = vec![vec![p(0.2), p(0.1), p(0.9), p(0.0)]];
        let s = piece_score(&probs, std::slice::from_ref(&d), 0.5);
        // flagged: pieces 0 (false alarm) and 1 (true); piece 2 missed; piece 3 ignored
        assert_eq!((s.recall, s.precision), (0.5, 0.5));
    }
}
