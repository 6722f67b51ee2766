//! `kill -9` in the middle of `localdx train`, then `localdx train resume RUN`: the resumed run
//! ends where an uninterrupted run of the same seed ends (same validation metric, same adapter
//! and head tensors within numerical noise).

use crate::{command, import_slice, localdx, max_difference, models_dir, parse, read_safetensors, symptom2disease, HEAVY};
use std::time::{Duration, Instant};

/// Four diseases, 4 training, 2 validation and 2 test notes each; the quick preset (64 tokens per
/// note, adapters on the last 8 layers) for 2 epochs: 2 updates of 8 notes per epoch, and a
/// checkpoint at the end of each epoch.
pub const LABELS: [&str; 4] = ["Psoriasis", "Typhoid", "Migraine", "Pneumonia"];
pub const TRAIN: [&str; 9] = ["train", "--dataset", "1", "--preset", "quick", "--epochs", "2", "--seed", "7"];

#[test]
fn killed_train_resumes_to_the_same_result_as_an_uninterrupted_run() {
    let (Some(models), Some(csv)) = (models_dir(), symptom2disease()) else { return };
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (db, id) = import_slice(dir.path(), &models, &csv, &LABELS, (4, 2, 2));
    assert_eq!(id, "1");
    let runs = dir.path().join("runs");

    let (ok, full) = localdx(&db, &models, &TRAIN);
    assert!(ok, "{full}");
    assert_eq!(full["run_id"], "run-1");
    assert_eq!(full["steps"], 4);
    let uninterrupted = started.elapsed();

    // The same run again, killed with SIGKILL as soon as its first checkpoint is on disk.
    let mut child = command(&db, &models, &TRAIN).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let checkpoint = runs.join("run-2").join("checkpoint.safetensors");
    let deadline = Instant::now() + Duration::from_secs(300);
    while !checkpoint.exists() {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before its first checkpoint");
        assert!(Instant::now() < deadline, "no checkpoint after 300 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL on Unix: no chance to clean up
    let status = child.wait().unwrap();
    assert!(!status.success(), "the run was killed, not finished");
    let run_json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(runs.join("run-2/run.json")).unwrap()).unwrap();
    assert_eq!(run_json["status"], "running", "killed before it finished");

    let (ok, listed) = localdx(&db, &models, &["runs"]);
    assert!(ok);
    assert_eq!(listed[1]["status"], "stopped (resumable)", "{listed}");

    let args = ["train", "resume", "run-2"];
    let out = command(&db, &models, &args).output().unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let resumed = parse(&args, &out);
    assert_eq!(resumed["steps"], full["steps"]);
    for key in ["validation_macro_f1", "validation_accuracy", "zero_shot_validation_macro_f1", "best_epoch"] {
        let (a, b) = (full[key].as_f64().unwrap(), resumed[key].as_f64().unwrap());
        assert!((a - b).abs() < 1e-9, "{key}: {a} uninterrupted, {b} resumed");
    }
    let a = read_safetensors(&runs.join("run-1/best.safetensors"));
    let b = read_safetensors(&runs.join("run-2/best.safetensors"));
    assert!(a.len() > 8 * 7 * 2, "adapters of 8 layers and the head: {} tensors", a.len());
    let diff = max_difference(&a, &b);
    assert!(diff < 1e-5, "adapter tensors differ by {diff}");

    // Negative rows: resuming a finished run changes nothing, an unknown run is an error.
    let (ok, err) = localdx(&db, &models, &["train", "resume", "run-9"]);
    assert!(!ok && err["error"]["code"] == "not_found", "{err}");
    eprintln!("uninterrupted run {:.0} s, whole test {:.0} s", uninterrupted.as_secs_f64(), started.elapsed().as_secs_f64());
}
