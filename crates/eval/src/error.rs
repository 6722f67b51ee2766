//! The typed errors of the metrics engine. Every one is about its input; none is a bug.

/// Why cases could not be evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// There is nothing to evaluate.
    #[error("no cases to evaluate")]
    Empty,
    /// A case's scores do not have one entry per label.
    #[error("case {case}: {got} scores for {expected} labels")]
    ScoreCount { case: usize, got: usize, expected: usize },
    /// A score is NaN, infinite or outside [0, 1].
    #[error("case {case}: score {value} of label {label} is not a probability")]
    BadScore { case: usize, label: usize, value: f64 },
    /// A gold label index is outside the label list.
    #[error("case {case}: gold label index {label} is outside the {labels} labels")]
    BadGold { case: usize, label: usize, labels: usize },
    /// A multi-class case does not have exactly one gold label.
    #[error("case {case}: a multi-class case needs exactly one gold label, it has {got}")]
    NotSingleLabel { case: usize, got: usize },
    /// The label list has no labels.
    #[error("no labels")]
    NoLabels,
    /// Two sets of cases compared pairwise differ in size or labels.
    #[error("paired comparison: {0}")]
    Unpaired(String),
    /// A threshold vector does not have one entry per label.
    #[error("{got} thresholds for {expected} labels")]
    ThresholdCount { got: usize, expected: usize },
    /// Cross-validation cannot deal the groups into the folds asked for.
    #[error("cross-validation: {0}")]
    Folds(String),
}
