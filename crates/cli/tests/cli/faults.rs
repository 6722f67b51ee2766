//! `kill -9` at random points of import, PHI detection, a bulk review decision and release, on an
//! encrypted workspace. After every kill: SQLite's integrity check passes, the audit chain
//! verifies, no half-written dataset, decision or release is visible, and running the command
//! again finishes the work. (Training's kill and resume is `tests/training/kill_resume.rs`.)
//!
//! The kill times are drawn, from a fixed seed, over the time the uninterrupted command takes on
//! this machine, so they land at different points of its work. `LOCALDX_FAULT_KILLS` sets the kills
//! per command (default 4; the long run on demand: `LOCALDX_FAULT_KILLS=50 cargo test -p
//! localdx-cli --test cli faults -- --nocapture`).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ADMIN: (&str, &str) = ("ada", "ada-password-1");
/// Notes in the imported file: enough that import, detection and release take a while to kill.
const NOTES: usize = 12_000;

#[derive(Clone)]
struct Workspace {
    db: PathBuf,
    csv: PathBuf,
    /// A models folder without the tagger's encoder: detection runs the rules alone (fast, so a
    /// kill lands inside it), and says so.
    models: PathBuf,
}

impl Workspace {
    fn new(dir: &Path) -> Workspace {
        let (db, csv, models) = (dir.join("faults.sqlite"), dir.join("notes.csv"), dir.join("models"));
        std::fs::create_dir_all(&models).unwrap();
        let mut text = String::from("note_id,patient_id,note,dx\n");
        for i in 0..NOTES {
            text.push_str(&format!(
                "N{i},P{},\"Seen on 03/{:02}/2019 at Mercy Hospital, call 555-01{:02}. Cough and fever for {} days.\",J{:02}\n",
                i % 900,
                i % 28 + 1,
                i % 100,
                i % 9 + 1,
                i % 20
            ));
        }
        std::fs::write(&csv, text).unwrap();
        let w = Workspace { db, csv, models };
        let (ok, v) = w.run(&["init"]);
        assert!(ok, "init: {v}");
        w
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_localdx"));
        cmd.arg("--db").arg(&self.db).arg("--json").args(args);
        cmd.env("LOCALDX_USER", ADMIN.0).env("LOCALDX_PASSWORD", ADMIN.1).env("LOCALDX_NEW_PASSWORD", ADMIN.1);
        cmd.env("LOCALDX_MODELS", &self.models).env_remove("RUST_BACKTRACE");
        cmd
    }

    fn run(&self, args: &[&str]) -> (bool, Value) {
        let out = self.command(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let value = serde_json::from_str(&stdout).unwrap_or_else(|_| Value::String(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr))));
        (out.status.success(), value)
    }

    fn ok(&self, args: &[&str]) -> Value {
        let (ok, v) = self.run(args);
        assert!(ok, "{args:?}: {v}");
        v
    }

    /// Starts `args` and kills it with SIGKILL after `after`; whether it was still running.
    fn kill_after(&self, args: &[&str], after: Duration) -> bool {
        let mut child = self.command(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(after);
        let running = child.try_wait().unwrap().is_none();
        child.kill().unwrap(); // SIGKILL on Unix: no chance to clean up
        child.wait().unwrap();
        running
    }

    /// What must hold after any kill: the file is sound and the audit chain verifies.
    fn assert_sound(&self, after: &str) {
        let v = self.ok(&["audit", "verify"]);
        assert_eq!(v["integrity"], "ok", "after {after}: {v}");
        assert_eq!(v["ok"], true, "after {after}: the audit chain is broken: {v}");
    }

    fn datasets(&self) -> Vec<Value> {
        self.ok(&["datasets"]).as_array().unwrap().clone()
    }
}

/// A small deterministic generator (xorshift64*), so a failing kill time can be replayed.
struct Draw(u64);

impl Draw {
    fn fraction(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn kills() -> usize {
    std::env::var("LOCALDX_FAULT_KILLS").ok().and_then(|k| k.parse().ok()).unwrap_or(4)
}

/// How long `args` takes uninterrupted (in a scratch copy of the workspace); the kills are drawn
/// within it.
fn timed(w: &Workspace, args: &[&str]) -> Duration {
    let started = Instant::now();
    w.ok(args);
    started.elapsed()
}

fn copy_db(from: &Path, to: &Path) {
    for suffix in ["", ".keys", "-wal", "-shm"] {
        let (src, dst) = (PathBuf::from(format!("{}{suffix}", from.display())), PathBuf::from(format!("{}{suffix}", to.display())));
        let _ = std::fs::remove_file(&dst);
        if src.exists() {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

#[test]
fn kill_nine_during_import_detection_review_and_release_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let w = Workspace::new(dir.path());
    let mut draw = Draw(0x5eed_1dea);
    let csv = w.csv.to_str().unwrap().to_owned();
    let import = ["import", csv.as_str(), "--text-column", "note", "--label-column", "dx", "--patient-column", "patient_id", "--id-column", "note_id"];
    let mut summary = Vec::new();
    // Each stage: time the command once in a scratch copy, then kill it at drawn points in the
    // real workspace, checking after each kill, then run it to the end.
    let scratch = dir.path().join("scratch.sqlite");
    let mut stage = |name: &str, args: &[&str], check: &dyn Fn(&Workspace)| {
        copy_db(&w.db, &scratch);
        let took = timed(&Workspace { db: scratch.clone(), ..w.clone() }, args);
        let mut inside = 0;
        for k in 0..kills() {
            let at = took.mul_f64(0.05 + 0.95 * draw.fraction());
            inside += usize::from(w.kill_after(args, at));
            w.assert_sound(&format!("{name}, kill {k} at {at:?} of {took:?}"));
            check(&w);
        }
        summary.push(format!("{name}: {} kills ({inside} inside the command), uninterrupted {took:.2?}", kills()));
    };

    // Import: a dataset is there with every note, or not there at all.
    stage("import", &import, &|w| {
        for d in w.datasets() {
            assert_eq!(d["records"], NOTES as u64, "a half-imported dataset is visible: {d}");
        }
    });
    let (ok, v) = w.run(&import);
    assert!(ok || v.to_string().contains("already imported"), "the import after the kills: {v}");
    let datasets = w.datasets();
    assert_eq!(datasets.len(), 1, "one dataset, imported once: {datasets:?}");
    let id = datasets[0]["id"].to_string();

    // Detection: decisions stand and a note's detections are written whole; a second run finishes
    // the queue without duplicating any span (three per note in these notes).
    stage("review detect", &["review", "detect", &id], &|w| {
        let s = w.ok(&["review", "status", &id]);
        assert_eq!(s["signedOff"], 0, "{s}");
    });
    w.ok(&["review", "detect", &id]);
    let status = w.ok(&["review", "status", &id]);
    assert_eq!(status["spans"]["undecided"], 3 * NOTES as u64, "every note's spans once: {status}");

    // A bulk decision is one transaction: every span accepted, or none.
    stage("review accept", &["review", "accept", &id, "--all"], &|w| {
        let s = w.ok(&["review", "status", &id]);
        let undecided = s["spans"]["undecided"].as_u64().unwrap();
        assert!(undecided == 0 || undecided == 3 * NOTES as u64, "a bulk accept was half applied: {s}");
    });
    w.run(&["review", "accept", &id, "--all"]);
    let status = w.ok(&["review", "status", &id]);
    assert_eq!((status["spans"]["undecided"].as_u64(), status["signedOff"].as_u64()), (Some(0), Some(NOTES as u64)), "{status}");

    // Release: a released version holds every note, or there is none.
    stage("release", &["release", &id], &|w| {
        for d in w.datasets().iter().filter(|d| !d["parentId"].is_null()) {
            assert_eq!(d["records"], NOTES as u64, "a half-written release is visible: {d}");
        }
    });
    let before = w.datasets().len();
    if before == 1 {
        w.ok(&["release", &id]);
    }
    let versions: Vec<Value> = w.datasets().into_iter().filter(|d| !d["parentId"].is_null()).collect();
    assert!(!versions.is_empty() && versions.iter().all(|d| d["records"] == NOTES as u64), "{versions:?}");
    w.assert_sound("the last release");
    eprintln!("fault suite: {}", summary.join("; "));
}
