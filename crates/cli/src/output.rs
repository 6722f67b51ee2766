//! What every command shares: the open database, JSON or human output, progress bars, errors.

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use localdx_api::{Api, Progress};
use serde::Serialize;
use std::path::PathBuf;

pub struct Context {
    pub db: PathBuf,
    pub json: bool,
}

impl Context {
    /// Opens the database, logging in when it is encrypted.
    pub fn open(&self) -> Result<Api> {
        crate::login::open(&self.db)
    }

    /// Prints `value` as JSON when `--json` was given, else calls `human` to print it for people.
    pub fn emit<T: Serialize>(&self, value: &T, human: impl FnOnce(&T)) -> Result<()> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(value)?);
        } else {
            human(value);
        }
        Ok(())
    }

    /// A progress bar on stderr with rate and ETA, hidden under `--json`.
    pub fn progress_bar(&self) -> Bar {
        let bar = if self.json { ProgressBar::hidden() } else { ProgressBar::new(0) };
        bar.set_style(
            ProgressStyle::with_template("{msg:>10} [{bar:40}] {percent:>3}% {human_pos}/{human_len} {per_sec} ETA {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        Bar(bar)
    }
}

/// Renders engine [`Progress`] events as an indicatif bar.
pub struct Bar(pub ProgressBar);

impl Bar {
    pub fn update(&self, p: &Progress) {
        if let Some(total) = p.total {
            self.0.set_length(total);
        }
        self.0.set_message(p.stage.clone());
        self.0.set_position(p.done);
    }
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// Reports a failure: a JSON object `{"error": {"code", "message"}}` on stdout under `--json`,
/// else the error and its causes on stderr.
pub fn fail(json: bool, e: &anyhow::Error) {
    if json {
        let value = match e.downcast_ref::<localdx_api::ApiError>() {
            Some(api) => serde_json::json!({ "error": api }),
            None => serde_json::json!({ "error": { "code": "internal", "message": format!("{e:#}") } }),
        };
        println!("{value}");
    } else {
        eprintln!("error: {e:#}");
    }
}
