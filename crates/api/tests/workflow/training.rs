//! Settings of a run as `localdx train` and the app ask for them: DP-SGD brings its own batch,
//! epochs and learning rate, which explicit options still override, and a DP run reports the
//! epsilon it spent.

use super::*;
use crate::sealed::{released_dataset, tiny_models};
use localdx_api::training::{self, TrainRequest};
use localdx_train::trainer::{DP_BATCH, DP_LR, DP_MIN_EPOCHS, DP_PATIENCE};

#[test]
fn a_dp_run_takes_dp_sgd_settings_unless_options_override_them() {
    let dir = tempfile::tempdir().unwrap();
    let models = tiny_models();
    let api = workspace(dir.path()).with_models(models.path());
    let (_, version) = released_dataset(&api, dir.path());
    let req = |epsilon: Option<f64>, epochs: Option<usize>| TrainRequest {
        dataset_id: version,
        model: Some("tiny".into()),
        dp_epsilon: epsilon,
        epochs,
        max_len: Some(16),
        last_layers: Some(1),
        ..Default::default()
    };

    let plain = api.prepare_train(&req(None, None)).unwrap();
    assert!(plain.config().dp.is_none());
    assert_eq!((plain.config().batch_size, plain.config().epochs), (8, 3), "the quick preset's own settings");

    let private = api.prepare_train(&req(Some(8.0), None)).unwrap();
    let cfg = private.config();
    assert_eq!(cfg.dp.as_ref().and_then(|d| d.target_epsilon), Some(8.0));
    assert_eq!((cfg.batch_size, cfg.epochs, cfg.optimizer.lr, cfg.patience), (DP_BATCH, DP_MIN_EPOCHS, DP_LR, DP_PATIENCE));

    let chosen = api.prepare_train(&req(Some(8.0), Some(1))).unwrap();
    assert_eq!((chosen.config().batch_size, chosen.config().epochs), (DP_BATCH, 1), "--epochs wins over DP's minimum");
    let done = training::execute(chosen, &Cancel::new(), &|_, _| {}).unwrap();
    let (epsilon, delta) = (done.epsilon.expect("a DP run reports epsilon"), done.delta.expect("and delta"));
    assert!(epsilon > 0.0 && epsilon <= 8.0 + 1e-6, "spent epsilon {epsilon}");
    assert!(delta > 0.0 && delta < 1.0);
}
