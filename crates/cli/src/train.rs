//! `localdx train`, `localdx train resume RUN`, `localdx runs [export RUN --out DIR | import DIR]`,
//! `localdx predict`: argument parsing, progress and printing around `localdx_api::training` and
//! `localdx_api::adapters`. Runs live in `runs/` beside the database.

use crate::output::Context;
use anyhow::{bail, Result};
use localdx_api::adapters::AdapterDto;
use localdx_api::promotion::PromotionDto;
use localdx_api::training::{PredictionDto, RunDto, Scorer, TrainRequest, TrainResultDto};
use localdx_api::Cancel;
use localdx_api::training::TrainEvent;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TrainArgs {
    #[command(subcommand)]
    pub command: Option<TrainCommand>,
    /// The dataset to train on (its train and validation splits).
    #[arg(long)]
    pub dataset: Option<i64>,
    /// Base model name (see `localdx models list`); default: the default model.
    #[arg(long)]
    pub model: Option<String>,
    #[arg(long, value_parser = ["quick", "balanced", "thorough"], default_value = "quick")]
    pub preset: String,
    #[arg(long)]
    pub epochs: Option<usize>,
    /// LoRA rank (alpha = 2 x rank).
    #[arg(long)]
    pub rank: Option<usize>,
    /// Train with DP-SGD to this epsilon (delta = 1/N).
    #[arg(long)]
    pub dp_epsilon: Option<f64>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Tokens kept per note (the start and the end of a long note).
    #[arg(long)]
    pub max_len: Option<usize>,
    /// Adapt only the last N transformer layers (faster; the rest stay frozen and run once).
    #[arg(long)]
    pub layers: Option<usize>,
}

#[derive(clap::Subcommand)]
pub enum TrainCommand {
    /// Continue a stopped or killed run from its last checkpoint.
    Resume { run: String },
}

#[derive(clap::Args)]
pub struct RunsArgs {
    #[command(subcommand)]
    pub command: Option<RunsCommand>,
}

#[derive(clap::Subcommand)]
pub enum RunsCommand {
    /// Write a run's best adapters in the PEFT layout (adapter_config.json,
    /// adapter_model.safetensors) with its head and labels (localdx_head.*) into a folder.
    Export {
        run: String,
        #[arg(long)]
        out: PathBuf,
        /// In an encrypted workspace: write the adapters unencrypted anyway (audited with the
        /// files' SHA-256; stewards and admins only). Refused without it.
        #[arg(long)]
        unencrypted: bool,
    },
    /// Bring an exported adapter folder back as a new run that `predict --run` can use.
    Import {
        dir: PathBuf,
        /// Base model name (default: the model the adapter names, if present, else the default model).
        #[arg(long)]
        model: Option<String>,
    },
    /// Put a run into use for its dataset's task, after reading its report: suggestions default
    /// to it. Builds the run's report on its test split first; replaces the run in use.
    Promote {
        run: String,
        /// Why this run (kept in the audit trail).
        #[arg(long)]
        reason: String,
    },
    /// Withdraw the run in use for a dataset's task (a released version or its source).
    Demote {
        dataset: i64,
        #[arg(long)]
        reason: String,
    },
    /// The promotions, current and ended (of one dataset's task with --dataset).
    Promotions {
        #[arg(long)]
        dataset: Option<i64>,
    },
    /// The run's model card (intended use, data and its hash, base model and licence, training
    /// and privacy, test metrics per label, failure modes, promotion) as Markdown on stdout, or
    /// into --out (`.md` Markdown, `.html` HTML, `.pdf` PDF).
    Card {
        run: String,
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
pub struct RetrainArgs {
    /// The run to succeed: its settings and base model, and its release's notes.
    #[arg(long)]
    pub from: String,
    /// The released version of new notes (`feedback dataset`, reviewed and released) to add.
    #[arg(long = "with")]
    pub with_version: i64,
}

#[derive(clap::Args)]
pub struct PredictArgs {
    /// Score with this run's best adapters.
    #[arg(long, conflicts_with = "base", required_unless_present = "base")]
    pub run: Option<String>,
    /// Score with a base model's zero-shot head (`default` = the default model).
    #[arg(long)]
    pub base: Option<String>,
    #[arg(long)]
    pub dataset: i64,
    #[arg(long, default_value = "test")]
    pub split: String,
}

fn progress(ctx: &Context) -> (crate::output::Bar, impl Fn(&str, &TrainEvent) + '_) {
    let bar = ctx.progress_bar();
    let inner = bar.0.clone();
    let json = ctx.json;
    let on = move |run: &str, e: &TrainEvent| match e {
        TrainEvent::Step { step, steps_total, loss, tokens_per_second, .. } => {
            inner.set_length(*steps_total);
            inner.set_position(*step);
            inner.set_message(format!("{run} loss {loss:.3} {tokens_per_second:.0} tok/s"));
        }
        TrainEvent::Validation { epoch, metrics, improved } if !json => inner.println(format!(
            "epoch {}: validation accuracy {:.3}, macro-F1 {:.3}{}",
            epoch + 1,
            metrics.accuracy,
            metrics.macro_f1,
            if *improved { " (best)" } else { "" }
        )),
        TrainEvent::ZeroShot { metrics } if !json => inner.println(format!(
            "zero-shot: validation accuracy {:.3}, macro-F1 {:.3}",
            metrics.accuracy, metrics.macro_f1
        )),
        TrainEvent::Started { storage, noise_multiplier, .. } if !json => {
            inner.println(storage.to_string());
            if let Some(s) = noise_multiplier {
                inner.println(format!("DP-SGD noise multiplier {s:.3}"));
            }
        }
        _ => {}
    };
    (bar, on)
}

fn print_result(r: &TrainResultDto) {
    println!(
        "{}: validation accuracy {:.3}, macro-F1 {:.3} (zero-shot {:.3} / {:.3}), best epoch {}, {} steps, {:.0} s",
        r.run_id,
        r.validation_accuracy,
        r.validation_macro_f1,
        r.zero_shot_validation_accuracy,
        r.zero_shot_validation_macro_f1,
        r.best_epoch + 1,
        r.steps,
        r.seconds
    );
    if let (Some(e), Some(d)) = (r.epsilon, r.delta) {
        println!("privacy: epsilon {e:.2} at delta {d:.2e}");
    }
}

pub fn train(ctx: &Context, args: TrainArgs) -> Result<()> {
    let api = ctx.open()?;
    let cancel = Cancel::new();
    let (bar, on) = progress(ctx);
    let result = match args.command {
        Some(TrainCommand::Resume { run }) => api.resume(&run, &cancel, &on),
        None => {
            let Some(dataset_id) = args.dataset else { bail!("--dataset is required (or `localdx train resume RUN`)") };
            let req = TrainRequest {
                dataset_id,
                model: args.model,
                preset: Some(args.preset),
                epochs: args.epochs,
                rank: args.rank,
                dp_epsilon: args.dp_epsilon,
                seed: args.seed,
                max_len: args.max_len,
                last_layers: args.layers,
            };
            api.train(&req, &cancel, &on)
        }
    };
    bar.finish();
    ctx.emit(&result?, print_result)
}

fn print_runs(runs: &Vec<RunDto>) {
    if runs.is_empty() {
        println!("no runs");
    }
    for r in runs {
        let best = r.best.map(|m| format!("val acc {:.3} macro-F1 {:.3}", m.accuracy, m.macro_f1)).unwrap_or_default();
        let dp = r.epsilon.map(|e| format!(" epsilon {e:.2}")).unwrap_or_default();
        println!(
            "{}  {}  dataset {}  {}  r={} epochs={}  {best}{dp}",
            r.run_id,
            r.status,
            r.dataset_id.as_deref().unwrap_or("?"),
            r.model,
            r.rank,
            r.epochs
        );
    }
}

fn print_adapter(verb: &'static str) -> impl Fn(&AdapterDto) {
    move |a| {
        let layers = a.layers.as_ref().map(|l| format!("{} layers", l.len())).unwrap_or_else(|| "all layers".into());
        println!(
            "{verb} {}: {}  rank {} alpha {} on {} ({layers}), {} labels, base {}",
            a.run_id,
            a.dir,
            a.rank,
            a.alpha,
            a.target_modules.join(","),
            a.labels,
            a.base_model.as_deref().unwrap_or("?")
        )
    }
}

pub fn runs(ctx: &Context, args: RunsArgs) -> Result<()> {
    match args.command {
        None => ctx.emit(&ctx.open()?.runs()?, print_runs),
        Some(RunsCommand::Export { run, out, unencrypted }) => {
            let dto = ctx.open()?.export_adapters(&run, &out, unencrypted)?;
            ctx.emit(&dto, print_adapter("exported"))
        }
        Some(RunsCommand::Import { dir, model }) => {
            let dto = ctx.open()?.import_adapters(&dir, model.as_deref())?;
            ctx.emit(&dto, print_adapter("imported as"))
        }
        Some(RunsCommand::Promote { run, reason }) => ctx.emit(&ctx.open()?.promote(&run, &reason)?, |p| print_promotions(&vec![p.clone()])),
        Some(RunsCommand::Demote { dataset, reason }) => ctx.emit(&ctx.open()?.demote(dataset, &reason)?, |p| print_promotions(&vec![p.clone()])),
        Some(RunsCommand::Promotions { dataset }) => ctx.emit(&ctx.open()?.promotions(dataset)?, print_promotions),
        Some(RunsCommand::Card { run, out }) => {
            let card = ctx.open()?.model_card(&run)?;
            match out {
                None => ctx.emit(&card, |c| print!("{}", c.markdown)),
                Some(path) => {
                    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
                    let body: &[u8] = match ext.as_str() {
                        "html" => card.html.as_bytes(),
                        "pdf" => &card.pdf,
                        _ => card.markdown.as_bytes(),
                    };
                    std::fs::write(&path, body).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
                    ctx.emit(&serde_json::json!({"out": path.display().to_string(), "bytes": body.len()}), |_| println!("wrote {} ({} bytes)", path.display(), body.len()))
                }
            }
        }
    }
}

/// `localdx retrain --from RUN --with VERSION`: a successor trained on both releases, compared
/// with the run in use on held-out notes.
pub fn retrain(ctx: &Context, args: RetrainArgs) -> Result<()> {
    let api = ctx.open()?;
    let cancel = Cancel::new();
    let (bar, on) = progress(ctx);
    let result = api.retrain(&args.from, args.with_version, &cancel, &on);
    bar.finish();
    ctx.emit(&result?, |r| {
        let s = &r.comparison;
        println!("{} trained on the release of {} plus dataset {}", s.successor, args.from, args.with_version);
        println!(
            "held-out notes: {} ({} left out: the new data repeats them); macro-F1 {} {:.3} -> {} {:.3}: {:+.3} (95% CI {:+.3} to {:+.3}, p {:.3})",
            s.held_out, s.left_out, s.compared_with, s.macro_f1_before, s.successor, s.macro_f1_after, s.difference, s.low, s.high, s.p_value
        );
        if s.offered {
            println!("not worse than {}: promote it with `localdx runs promote {} --reason ...`", s.compared_with, s.successor);
        } else {
            println!("worse than {} on these notes: not offered for promotion", s.compared_with);
        }
    })
}

fn print_promotions(list: &Vec<PromotionDto>) {
    if list.is_empty() {
        println!("no run has been promoted");
    }
    for p in list {
        let f1 = p.metrics["macroF1"].as_f64().map(|f| format!("test macro-F1 {f:.3}")).unwrap_or_default();
        let state = match (&p.ended_at, &p.end_reason) {
            (None, _) => "in use".to_owned(),
            (Some(at), reason) => format!("ended {at} by {} ({})", p.ended_by.as_deref().unwrap_or("?"), reason.as_deref().unwrap_or("")),
        };
        println!("{}  dataset {} (release {})  {f1}  promoted {} by {}: {}  [{state}]", p.run_id, p.dataset_id, p.version_id, p.promoted_at, p.promoted_by, p.reason);
    }
}

fn print_predictions(rows: &Vec<PredictionDto>) {
    for r in rows {
        let top: Vec<String> = r.predictions.iter().take(3).map(|p| format!("{} {:.2}", p.label, p.probability)).collect();
        println!("{}  gold {:?}  -> {}", r.record_id, r.gold, top.join(", "));
    }
}

pub fn predict(ctx: &Context, args: PredictArgs) -> Result<()> {
    let api = ctx.open()?;
    let scorer = match (&args.run, &args.base) {
        (Some(run), _) => Scorer::Run(run),
        (None, Some(base)) => Scorer::Base(base),
        (None, None) => bail!("give --run RUN or --base MODEL"),
    };
    let rows = api.predict(scorer, args.dataset, &args.split)?;
    ctx.emit(&rows, print_predictions)
}
