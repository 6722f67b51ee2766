//! LoRA fine-tuning of LocalDx models: a run's data, settings and result ([`config`]), the training
//! loop ([`trainer`]), AdamW and the learning-rate schedule ([`optim`]), run folders and checkpoints
//! ([`checkpoint`]), DP-SGD and its privacy accountant ([`dp`]), classification metrics
//! ([`metrics`]), PEFT adapter export ([`peft`]), and prediction with a finished run ([`predict`])
//! over the note scoring it shares with the loop ([`score`]).
//!
//! Dependencies run one way: `config` at the bottom, `score` and `checkpoint` over it, `trainer`,
//! `peft` and `predict` on top; the loop calls prediction's scoring, never the other way round.
//!
//! This crate never touches the network and never reads the database: callers hand it examples,
//! and the [`checkpoint::Vault`] through which a run's files are written (sealed in an encrypted
//! workspace); it knows nothing of accounts or keys beyond that.

pub mod checkpoint;
pub mod config;
pub mod dp;
pub mod error;
pub mod metrics;
pub mod optim;
pub mod peft;
pub mod predict;
pub mod score;
pub mod trainer;

pub use error::{Result, TrainError};
pub use localdx_model;
pub use config::{Example, Outcome, Preset, TrainConfig, TrainData};
pub use metrics::Metrics;
pub use trainer::{resume, train, train_with_context, TrainEvent};
