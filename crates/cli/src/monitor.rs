//! `localdx monitor`: weekly quality and drift figures of the models in use, the alert
//! thresholds (admins set them), and replaying dated notes through a model to back-test it.

use crate::output::Context;
use anyhow::{bail, Context as _, Result};
use localdx_api::monitor::{MonitorDto, ReplayNoteDto, Thresholds};
use localdx_api::suggest::ModelChoice;
use localdx_api::{Cancel, Progress};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct MonitorArgs {
    #[command(subcommand)]
    pub command: Option<MonitorCommand>,
    /// Only this model (a run id, or `base:MODEL`).
    #[arg(long)]
    pub model: Option<String>,
}

#[derive(clap::Subcommand)]
pub enum MonitorCommand {
    /// Show the alert thresholds, or set them (admins) from a JSON object such as
    /// '{"maxPsi": 0.2, "minAcceptance": 0.6}' (fields left out keep their defaults).
    Thresholds {
        #[arg(long)]
        set: Option<String>,
    },
    /// Suggest for dated notes (JSONL: {"at": "YYYY-MM-DD", "text": "...", "labels": [...]}) and
    /// log each as of its date, to back-test a model on past weeks.
    Replay {
        file: PathBuf,
        /// The run to replay through (default: the run in use for --dataset).
        #[arg(long)]
        run: Option<String>,
        #[arg(long)]
        dataset: Option<i64>,
    },
}

fn print_monitor(m: &MonitorDto) {
    if m.models.is_empty() {
        println!("no suggestion has been logged yet");
    }
    let opt = |v: Option<f64>, pct: bool| v.map_or_else(|| "-".to_owned(), |x| if pct { format!("{:.0}%", 100.0 * x) } else { format!("{x:.2}") });
    for model in &m.models {
        let task = model.dataset_id.map(|d| format!(" (dataset {d}{})", if model.in_use { ", in use" } else { "" })).unwrap_or_default();
        println!("{}{task}: {} weeks, {} with alerts", model.model, model.weeks.len(), model.weeks_alerting);
        println!("  {:<10} {:>5} {:>7} {:>6} {:>6} {:>6} {:>6} {:>7} {:>6}", "week", "shown", "accept", "top-5", "p(top)", "words", "len PSI", "unseen", "lab PSI");
        for w in &model.weeks {
            println!(
                "  {:<10} {:>5} {:>7} {:>6} {:>6.2} {:>6.0} {:>7} {:>6} {:>7}",
                w.week,
                w.suggestions,
                opt(w.acceptance, true),
                opt(w.top5_share, true),
                w.mean_top_probability,
                w.mean_words,
                opt(w.length_psi, false),
                opt(w.unseen_share, true),
                opt(w.label_psi, false)
            );
            for a in &w.alerts {
                println!("      alert: {a}");
            }
        }
    }
}

pub fn run(ctx: &Context, args: MonitorArgs) -> Result<()> {
    let api = ctx.open()?;
    match args.command {
        None => ctx.emit(&api.monitor(args.model.as_deref())?, print_monitor),
        Some(MonitorCommand::Thresholds { set: None }) => ctx.emit(&api.monitor_thresholds()?, |t| println!("{}", serde_json::to_string_pretty(t).unwrap_or_default())),
        Some(MonitorCommand::Thresholds { set: Some(json) }) => {
            let t: Thresholds = serde_json::from_str(&json).context("--set takes a JSON object of thresholds")?;
            ctx.emit(&api.set_monitor_thresholds(&t)?, |t| println!("{}", serde_json::to_string_pretty(t).unwrap_or_default()))
        }
        Some(MonitorCommand::Replay { file, run, dataset }) => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let mut notes = Vec::new();
            for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let note: ReplayNoteDto = serde_json::from_str(line).with_context(|| format!("{}:{}: not a note object", file.display(), i + 1))?;
                notes.push(note);
            }
            let run_id = match (run, dataset) {
                (Some(r), _) => r,
                (None, Some(d)) => match api.promoted(d)? {
                    Some(p) => p.run_id,
                    None => bail!("no run is in use for dataset {d}: give --run RUN"),
                },
                (None, None) => bail!("give --run RUN or --dataset ID (its run in use)"),
            };
            let bar = ctx.progress_bar();
            let report = |p: &Progress| bar.update(p);
            let result = api.replay(&ModelChoice::Run { run_id }, &notes, &report, &Cancel::new());
            bar.finish();
            ctx.emit(&result?, |r| println!("replayed {} notes through {}; see `localdx monitor --model {}`", r.notes, r.model, r.model))
        }
    }
}
