//! What a run is given and what it gives back: the labelled notes ([`TrainData`], [`Example`]), every
//! setting of a run ([`TrainConfig`], its named [`Preset`]s and the DP-SGD settings of
//! [`TrainConfig::private`]) and the result of a finished run ([`Outcome`]).
//!
//! Plain data: the training loop (`trainer`), run folders (`checkpoint`), PEFT export (`peft`) and
//! prediction (`predict`) all read these types, and this module depends on none of them.

use crate::dp::DpConfig;
use crate::metrics::Metrics;
use crate::optim::AdamWConfig;
use localdx_model::{BaseStorage, HeadKind, LoraConfig};
use serde::{Deserialize, Serialize};

/// One labelled note. `labels` are indices into [`TrainData::labels`].
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub id: String,
    pub text: String,
    pub labels: Vec<usize>,
}

/// What a run trains on.
#[derive(Debug, Clone)]
pub struct TrainData {
    pub labels: Vec<String>,
    /// The text whose representation initialises each label (the label itself, or an ICD-10 name).
    pub label_texts: Vec<String>,
    pub train: Vec<Example>,
    pub validation: Vec<Example>,
}

/// Named bundles of settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// Short notes, few epochs: minutes on a laptop CPU.
    Quick,
    Balanced,
    Thorough,
}

impl Preset {
    pub fn parse(name: &str) -> Option<Preset> {
        match name {
            "quick" => Some(Preset::Quick),
            "balanced" => Some(Preset::Balanced),
            "thorough" => Some(Preset::Thorough),
            _ => None,
        }
    }

    pub fn config(self) -> TrainConfig {
        let base = TrainConfig::default();
        match self {
            // Adapters on the last 8 of SmolLM2's 30 layers: the 22 frozen layers below run once
            // per note (cached), which makes an epoch about 3.5x cheaper on a CPU.
            Preset::Quick => TrainConfig { epochs: 3, max_len: 64, lora: LoraConfig { last_layers: Some(8), ..LoraConfig::default() }, ..base },
            Preset::Balanced => TrainConfig { epochs: 5, max_len: 256, ..base },
            Preset::Thorough => TrainConfig { epochs: 10, max_len: 512, patience: 3, ..base },
        }
    }
}

/// Examples per DP-SGD update: one noise draw is shared by the whole batch, so its share per
/// example falls as the batch grows (see [`TrainConfig::private`]).
pub const DP_BATCH: usize = 64;
/// At least this many epochs under DP-SGD: a batch of 64 makes few updates per epoch.
pub const DP_MIN_EPOCHS: usize = 10;
/// The AdamW learning rate under DP-SGD.
pub const DP_LR: f64 = 1e-2;
/// Epochs without validation improvement before a DP-SGD run stops: its validation score is noisy.
pub const DP_PATIENCE: usize = 3;

impl TrainConfig {
    /// This configuration with DP-SGD at `epsilon` (clip 1, delta 1/N), and the settings DP-SGD
    /// needs to learn anything: batches of [`DP_BATCH`], at least [`DP_MIN_EPOCHS`] epochs, a
    /// learning rate of [`DP_LR`], a patience of [`DP_PATIENCE`] epochs. With the non-private
    /// defaults (batches of 8, 3 epochs) the noise of each update, `sigma * clip / 8` per
    /// coordinate, swamped the clipped signal: on Symptom2Disease at epsilon 8 the model reached
    /// 0.23 test accuracy against 0.95 without DP (docs/training.md has the runs behind these
    /// values).
    pub fn private(mut self, epsilon: f64) -> TrainConfig {
        self.dp = Some(DpConfig { target_epsilon: Some(epsilon), noise_multiplier: None, clip: 1.0, delta: None });
        self.batch_size = DP_BATCH;
        self.grad_accum = 1;
        self.epochs = self.epochs.max(DP_MIN_EPOCHS);
        self.optimizer.lr = DP_LR;
        self.patience = self.patience.max(DP_PATIENCE);
        self
    }
}

/// Every setting of a run; saved in the run folder so `resume` needs nothing else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub lora: LoraConfig,
    pub head_kind: HeadKind,
    /// Tokens kept per note (head and tail).
    pub max_len: usize,
    /// Share of `max_len` taken from the start of a long note; the rest from its end.
    pub head_share: f64,
    pub batch_size: usize,
    pub grad_accum: usize,
    pub epochs: usize,
    pub optimizer: AdamWConfig,
    /// Warm-up as a share of all updates.
    pub warmup_share: f64,
    /// Final learning rate as a share of the peak.
    pub lr_floor: f64,
    /// Epochs without validation improvement before stopping.
    pub patience: usize,
    pub seed: u64,
    pub eval_batch: usize,
    /// Updates between checkpoints (one is also written at every epoch end and on cancel).
    pub checkpoint_every: u64,
    /// Weigh classes by inverse frequency.
    pub class_weights: bool,
    pub head_scale: f64,
    pub storage: BaseStorage,
    pub dp: Option<DpConfig>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            lora: LoraConfig::default(),
            head_kind: HeadKind::MultiClass,
            max_len: 128,
            head_share: 0.5,
            batch_size: 8,
            grad_accum: 1,
            epochs: 3,
            optimizer: AdamWConfig { lr: 2e-3, ..AdamWConfig::default() },
            warmup_share: 0.1,
            lr_floor: 0.05,
            patience: 1,
            seed: 42,
            eval_batch: 16,
            checkpoint_every: 50,
            class_weights: true,
            head_scale: 20.0,
            storage: BaseStorage::Auto,
            dp: None,
        }
    }
}

/// The result of a finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub zero_shot: Metrics,
    pub best: Metrics,
    pub best_epoch: usize,
    pub steps: u64,
    pub epsilon: Option<f64>,
    pub delta: Option<f64>,
    pub noise_multiplier: Option<f64>,
    pub seconds: f64,
    pub train_tokens_per_second: f64,
}
