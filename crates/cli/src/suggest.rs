//! `localdx suggest` (ranked diagnoses for one note read from stdin, with the words that most
//! changed the top suggestion) and `localdx feedback list|export` (clinicians' verdicts as CSV of
//! new labels): argument parsing and printing around `localdx_api::suggest`.

use crate::output::Context;
use anyhow::{bail, Context as _, Result};
use localdx_api::suggest::{FeedbackDto, ModelChoice, Occlusion, SuggestionDto};
use std::io::Read;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct SuggestArgs {
    /// Suggest with this run's best adapters and head (default: the run in use for --dataset,
    /// `runs promote`).
    #[arg(long, conflicts_with = "base")]
    pub run: Option<String>,
    /// Suggest with a base model's zero-shot head (`default` = the default model); needs
    /// `--dataset` for its labels.
    #[arg(long, requires = "dataset")]
    pub base: Option<String>,
    /// The dataset whose labels and training notes build the base model's zero-shot head, or
    /// whose promoted run suggests when --run is not given.
    #[arg(long)]
    pub dataset: Option<i64>,
    /// How many ranked labels to print.
    #[arg(long, default_value_t = 5)]
    pub top_k: usize,
    /// At most this many word windows are removed in turn to find the words that mattered
    /// (0: no attribution).
    #[arg(long, default_value_t = 32)]
    pub windows: usize,
}

#[derive(clap::Subcommand)]
pub enum FeedbackCommand {
    /// List the stored feedback.
    List,
    /// Write the feedback as CSV (accepted and added diagnoses are new labels) to FILE or stdout.
    Export {
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Make a new dataset of the notes of VERSION (a released version) that clinicians judged:
    /// recorded labels plus accepted and added diagnoses, less rejected ones. Review and release
    /// it like any import, then `localdx retrain --from RUN --with ITS_RELEASE`.
    Dataset {
        version: i64,
        #[arg(long)]
        name: Option<String>,
    },
}

fn print_suggestion(s: &SuggestionDto) {
    for (i, l) in s.labels.iter().enumerate() {
        let name = l.name.as_deref().map(|n| format!("  {n}")).unwrap_or_default();
        println!("{:>2}. {:<20} {:.3}{name}", i + 1, l.label, l.probability);
        if !l.evidence.is_empty() {
            let words: Vec<String> = l
                .evidence
                .iter()
                .map(|e| match (e.negated, e.relative) {
                    (true, _) => format!("{} (denied)", e.text),
                    (_, true) => format!("{} (family)", e.text),
                    _ => e.text.clone(),
                })
                .collect();
            println!("    in the note: {}", words.join(", "));
        }
    }
    if !s.attribution.is_empty() {
        let words: Vec<String> = s.attribution.iter().map(|a| format!("\"{}\" (-{:.3})", a.text, a.drop)).collect();
        println!("words that most supported the top suggestion: {}", words.join(", "));
    }
    println!("{} tokens of {} seen; scored in {:.2} s, attribution ({} windows) {:.2} s", s.tokens, s.max_tokens, s.score_seconds, s.windows, s.attribution_seconds);
}

pub fn suggest(ctx: &Context, args: SuggestArgs) -> Result<()> {
    let mut note = String::new();
    std::io::stdin().read_to_string(&mut note).context("reading the note from stdin")?;
    if args.top_k == 0 {
        bail!("--top-k must be at least 1");
    }
    let api = ctx.open()?;
    let choice = match (args.run, args.base, args.dataset) {
        (Some(run_id), _, _) => ModelChoice::Run { run_id },
        (None, Some(model), Some(dataset_id)) => ModelChoice::Base { model, dataset_id },
        (None, None, Some(dataset_id)) => match api.promoted(dataset_id)? {
            Some(p) => ModelChoice::Run { run_id: p.run_id },
            None => bail!("no run is in use for dataset {dataset_id}: give --run RUN, or promote one (`localdx runs promote RUN --reason ...`)"),
        },
        _ => bail!("give --run RUN, --base MODEL with --dataset ID, or --dataset ID for the run in use"),
    };
    let occlusion = (args.windows > 0).then_some(Occlusion { max_windows: args.windows, ..Occlusion::default() });
    let s = api.suggest(&choice, &note, args.top_k, occlusion)?;
    ctx.emit(&s, print_suggestion)
}

fn print_feedback(rows: &Vec<FeedbackDto>) {
    if rows.is_empty() {
        println!("no feedback");
    }
    for f in rows {
        let on = f.record_id.map(|r| format!("record {r}")).unwrap_or_else(|| "typed note".into());
        println!("{}  {}  {}  {} {} ({}) by {}", f.id, f.created_at, on, f.verdict, f.label, f.model, f.actor);
    }
}

#[derive(serde::Serialize)]
struct Exported {
    out: String,
    rows: usize,
}

pub fn feedback(ctx: &Context, cmd: FeedbackCommand) -> Result<()> {
    let api = ctx.open()?;
    match cmd {
        FeedbackCommand::List => ctx.emit(&api.feedback()?, print_feedback),
        FeedbackCommand::Dataset { version, name } => ctx.emit(&api.feedback_dataset(version, name.as_deref())?, |d| {
            println!("dataset {} \"{}\": {} notes from {} verdicts; review and release it before training on it", d.dataset_id, d.name, d.notes, d.verdicts)
        }),
        FeedbackCommand::Export { out } => {
            let csv = api.feedback_csv()?;
            let rows = csv.lines().count().saturating_sub(1);
            match out {
                None => {
                    print!("{csv}");
                    Ok(())
                }
                Some(path) => {
                    std::fs::write(&path, csv).with_context(|| format!("writing {}", path.display()))?;
                    ctx.emit(&Exported { out: path.display().to_string(), rows }, |e| println!("{} feedback rows written to {}", e.rows, e.out))
                }
            }
        }
    }
}
