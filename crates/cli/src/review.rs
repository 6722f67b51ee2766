//! `localdx review ...`, `localdx release` and `localdx export`: the review workflow headless, for
//! scripted pipelines. Detection into the review queue, a steward's bulk accept (audited as one
//! bulk decision with a spot-check sample), queue status and learned terms, release with a
//! strategy, and export of a released version. Thin shells over `localdx_api::review` and
//! `localdx_api::release`.

use crate::output::Context;
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use localdx_api::phi::StrategyDto;
use localdx_api::review::BulkAcceptDto;
use localdx_api::Cancel;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum ReviewCommand {
    /// Run PHI detection over a dataset into its review queue (decisions already made stand).
    Detect { dataset: i64 },
    /// Accept undecided spans in bulk (a steward's decision, audited as one), then sign off every
    /// note left without undecided spans.
    Accept(AcceptArgs),
    /// Notes signed off and spans per state.
    Status { dataset: i64 },
    /// Terms learned from decisions (rejected -> allow-list, added -> deny-list).
    Terms,
    /// Confirm a learned term so that the next detection run uses it.
    Confirm { term: i64 },
}

#[derive(Args)]
pub struct AcceptArgs {
    pub dataset: i64,
    /// Every type (otherwise give --type).
    #[arg(long)]
    pub all: bool,
    /// Only spans of this PHI type.
    #[arg(long = "type")]
    pub entity: Option<String>,
    /// Only spans scoring at least this (0 to 1).
    #[arg(long)]
    pub min_score: Option<f64>,
    /// Accepted spans drawn at random for a spot check.
    #[arg(long, default_value_t = 20)]
    pub spot_check: usize,
    /// Do not sign notes off.
    #[arg(long)]
    pub no_sign_off: bool,
    /// Why, for the audit trail.
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Args)]
pub struct ReleaseArgs {
    pub dataset: i64,
    /// tag, mask or surrogate.
    #[arg(long, default_value = "tag")]
    pub strategy: String,
}

#[derive(Args)]
pub struct ExportArgs {
    /// The released version (its `version_id`).
    pub version: i64,
    #[arg(long)]
    pub out: PathBuf,
    /// jsonl or csv.
    #[arg(long, default_value = "jsonl")]
    pub format: String,
}

pub fn run(ctx: &Context, cmd: ReviewCommand) -> Result<()> {
    let api = ctx.open()?;
    match cmd {
        ReviewCommand::Detect { dataset } => {
            let bar = ctx.progress_bar();
            let summary = api.review_detect(dataset, &|p: &localdx_api::Progress| bar.update(p), &Cancel::new())?;
            bar.finish();
            ctx.emit(&summary, |s| {
                println!("{} notes ({} signed off, left alone), {} spans queued for review", s.notes, s.skipped_signed_off, s.spans);
                for (t, n) in &s.per_type {
                    println!("  {t:<16} {n}");
                }
            })
        }
        ReviewCommand::Accept(a) => {
            if !a.all && a.entity.is_none() {
                bail!("give --all (every type) or --type TYPE");
            }
            let req = BulkAcceptDto {
                entity: a.entity,
                min_score: a.min_score,
                sign_off: !a.no_sign_off,
                spot_check: Some(a.spot_check),
                seed: None,
                reason: a.reason,
            };
            let r = api.review_accept_all(a.dataset, &req)?;
            ctx.emit(&r, |r| {
                println!("accepted {} spans, signed off {} notes, {} notes still open", r.accepted, r.signed_off, r.open_notes);
                println!("spot-check these spans: {:?}", r.spot_check);
            })
        }
        ReviewCommand::Status { dataset } => {
            let c = api.review_counts(dataset)?;
            ctx.emit(&c, |c| {
                println!("{} of {} notes signed off", c.signed_off, c.notes);
                for (s, n) in &c.spans {
                    println!("  {s:<10} {n}");
                }
            })
        }
        ReviewCommand::Terms => {
            let terms = api.review_terms()?;
            ctx.emit(&terms, |ts| {
                for t in ts {
                    println!("{:>5} {:<5} {:<10} {} {}", t.id, t.list, t.entity.as_deref().unwrap_or("-"), if t.confirmed { "confirmed" } else { "proposed " }, t.term);
                }
            })
        }
        ReviewCommand::Confirm { term } => {
            api.review_confirm_term(term)?;
            ctx.emit(&serde_json::json!({"confirmed": term}), |_| println!("confirmed term {term}"))
        }
    }
}

/// `localdx release DATASET --strategy S`.
pub fn release(ctx: &Context, args: ReleaseArgs) -> Result<()> {
    let api = ctx.open()?;
    let strategy: StrategyDto = args.strategy.parse()?;
    let bar = ctx.progress_bar();
    let r = api.release(args.dataset, strategy, &|p: &localdx_api::Progress| bar.update(p), &Cancel::new());
    bar.finish();
    let r = r?;
    ctx.emit(&r, |r| {
        println!("released dataset {} as version {} ({} notes, {} spans redacted by {})", r.dataset_id, r.version_id, r.records, r.spans, r.strategy);
        println!("sha256 {}", r.sha256);
    })
}

/// `localdx export VERSION --out PATH`.
pub fn export(ctx: &Context, args: ExportArgs) -> Result<()> {
    let api = ctx.open()?;
    let e = api.export_release(args.version, &args.out, &args.format)?;
    ctx.emit(&e, |e| println!("wrote {} records to {} (sha256 {})", e.records, e.path, e.sha256))
}
