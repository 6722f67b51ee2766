//! The metrics engine of LocalDx: how good are a model's diagnostic suggestions on a set of cases
//! whose true labels are known.
//!
//! Input is a validated [`Cases`] (labels, gold label indices per case, one probability per label
//! per case). From it: per-label precision, recall, F1 and support with micro, macro and weighted
//! averages ([`classify`]); top-k accuracy and recall@k ([`ranking`]); the confusion matrix of a
//! multi-class task ([`confusion`]); precision-recall curves, average precision and decision
//! thresholds chosen on a validation split ([`curves`]); reliability curves and expected
//! calibration error ([`calibration`]); bootstrap confidence intervals ([`bootstrap`]); paired
//! comparisons of two models on the same cases ([`compare`]); everything bundled in one
//! [`Evaluation`] ([`evaluate`]) and a self-contained HTML report ([`html`]); K-fold
//! cross-validation by patient: fold assignment, fold means with t-intervals and per-label
//! figures pooled over folds, and its report ([`cv`]).
//!
//! Conventions follow scikit-learn, against which the tests check reference values: a ratio
//! whose denominator is zero is 0 (`zero_division=0`), macro averages run over every label of
//! the label list (a label that never occurs and is never predicted contributes an F1 of 0).
//!
//! This crate is pure: it never reads files, the database, the clock or a model, and its only
//! randomness is a seeded generator passed in by the caller.

pub mod bootstrap;
pub mod calibration;
pub mod cases;
pub mod classify;
pub mod compare;
pub mod confusion;
pub mod curves;
pub mod cv;
pub mod error;
pub mod evaluate;
pub mod html;
pub mod pdf;
pub mod ranking;

pub use cases::{Cases, Kind, Thresholds};
pub use error::EvalError;
pub use evaluate::{evaluate, Evaluation, Options};
