//! What LocalDx's tests share (a dev-dependency only): how a test that cannot run here says so.
//!
//! A test that needs a model, the shared data sets or a tool calls [`skip`] and returns when it is
//! absent. Under `CI=true` that fails the test, with the reason: a pass that tested nothing is not
//! a pass. Elsewhere the test is skipped, the reason goes to standard error, and, when
//! `LOCALDX_SKIPPED` names a file, a line is appended to it, so that `scripts/test.sh` can count
//! the skipped tests in its summary (cargo hides what passing tests print).

use std::io::Write;

/// The test running on this thread cannot run here because of `why` (what is absent and how to
/// get it). Panics under `CI=true`; else records the skip.
pub fn skip(why: &str) {
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true, and {test} needs what is absent: {why}");
    eprintln!("skipping {test}: {why}");
    if let Some(path) = std::env::var_os("LOCALDX_SKIPPED").filter(|p| !p.is_empty()) {
        // Several test processes may append at once: one short write per line.
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = f.write_all(format!("{test}: {why}\n").as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skip_is_recorded_outside_ci_and_fails_under_it() {
        let dir = std::env::temp_dir().join(format!("localdx-testkit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("skipped.txt");
        let ci = std::env::var("CI").ok();
        // The crate's only test: no other thread reads these variables meanwhile.
        std::env::set_var("LOCALDX_SKIPPED", &log);
        std::env::remove_var("CI");
        skip("the model is absent (run scripts/fetch-models.sh)");
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains("a_skip_is_recorded_outside_ci_and_fails_under_it: the model is absent"), "{text}");
        std::env::set_var("CI", "true");
        let failed = std::panic::catch_unwind(|| skip("the data is absent")).is_err();
        match ci {
            Some(v) => std::env::set_var("CI", v),
            None => std::env::remove_var("CI"),
        }
        std::env::remove_var("LOCALDX_SKIPPED");
        assert!(failed, "under CI=true a skip fails the test");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
