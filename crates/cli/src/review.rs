//! `localdx review ...`, `localdx release` and `localdx export`: the review workflow headless, for
//! scripted pipelines. Detection into the review queue, a steward's bulk accept (audited as one
//! bulk decision with a spot-check sample), queue status and learned terms, gold notes and the
//! detectors' quality on them, release with a strategy, and export of a released version. Thin
//! shells over `localdx_api::review`, `localdx_api::gold` and `localdx_api::release`.

use crate::output::Context;
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use localdx_api::phi::StrategyDto;
use localdx_api::review::{BulkAcceptDto, DecisionDto};
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
    /// The open notes in review order: note order, or with --uncertain-first the notes whose
    /// lowest-scoring undecided detection is lowest first.
    Queue {
        dataset: i64,
        #[arg(long)]
        uncertain_first: bool,
    },
    /// Terms learned from decisions (rejected -> allow-list, added -> deny-list, the words before
    /// an added span -> context words of its type).
    Terms,
    /// Confirm a learned term so that the next detection run uses it.
    Confirm { term: i64 },
    /// Gold notes: draw a sample to review as gold, or import a gold file.
    #[command(subcommand)]
    Gold(GoldCommand),
    /// One note's spans with their ids, states and why each was found (raw text: stewards, admins).
    Note { record: i64 },
    /// Decide one span: accept it, reject it (not PHI), or retype it (`retype --type TYPE`).
    Decide {
        span: i64,
        /// accept, reject or retype.
        verdict: String,
        /// The new type, for `retype`.
        #[arg(long = "type")]
        entity: Option<String>,
        /// Why, for the audit trail.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Mark a span that detection missed (char offsets into the note), accepted as `TYPE`.
    Add {
        record: i64,
        start: usize,
        end: usize,
        #[arg(long = "type")]
        entity: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Sign a note off (every span decided).
    SignOff { record: i64 },
    /// Reopen a signed-off note, with the reason (audited), to change a decision.
    Reopen {
        record: i64,
        #[arg(long)]
        reason: String,
    },
    /// Fine-tune the PHI tagger on the dataset's signed-off notes (not its gold notes); keep the
    /// new version only if the union's token recall on the gold notes does not drop.
    RetrainDetector { dataset: i64 },
    /// The retrained detector versions, newest first, and which one detection runs.
    DetectorVersions,
    /// Recall and precision of the detectors on the dataset's gold notes, per type, then the misses.
    Quality {
        dataset: i64,
        /// Misses and false positives listed (all are counted).
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

#[derive(Subcommand)]
pub enum GoldCommand {
    /// Draw notes at random as a gold sample; review and sign them off to make them gold.
    Sample {
        dataset: i64,
        #[arg(long)]
        size: usize,
        /// Seed of the draw (fresh when absent; printed and audited either way).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Import a gold file for the dataset's notes it names (ids as imported).
    Import {
        dataset: i64,
        file: PathBuf,
        /// deid-jsonl or presidio-json.
        #[arg(long)]
        format: String,
    },
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
                println!(
                    "{} notes ({} signed off, left alone), {} spans queued for review (detectors: {})",
                    s.notes,
                    s.skipped_signed_off,
                    s.spans,
                    s.detector.sources.join(" + ")
                );
                if let Some(w) = &s.detector.warning {
                    eprintln!("warning: {w}");
                }
                for (t, n) in &s.per_type {
                    println!("  {t:<16} {n}");
                }
            })
        }
        ReviewCommand::Queue { dataset, uncertain_first } => {
            let ids = api.review_open_notes(dataset, uncertain_first)?;
            ctx.emit(&ids, |ids| {
                println!("{} open notes{}:", ids.len(), if uncertain_first { ", least certain first" } else { "" });
                println!("{}", ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(" "));
            })
        }
        ReviewCommand::RetrainDetector { dataset } => {
            let bar = ctx.progress_bar();
            let result = api.review_retrain_detector(dataset, &|p: &localdx_api::Progress| bar.update(p), &Cancel::new());
            bar.finish();
            let r = result?;
            ctx.emit(&r, |r| {
                println!(
                    "version {} from {} signed-off notes ({} spans), measured on {} gold notes:",
                    r.version_id,
                    r.examples,
                    r.example_spans,
                    r.gold_notes
                );
                if r.held_back > 0 {
                    println!("  threshold {:.2}, chosen on {} held-back signed-off notes", r.threshold, r.held_back);
                }
                println!("  union token recall    {:.4} -> {:.4}", r.before.token_recall, r.after.token_recall);
                println!("  union token precision {:.4} -> {:.4}", r.before.token_precision, r.after.token_precision);
                println!("{} ({:.0} s)", r.verdict, r.seconds);
            })
        }
        ReviewCommand::DetectorVersions => {
            let list = api.detector_versions()?;
            ctx.emit(&list, |list| {
                if list.is_empty() {
                    println!("no retrained versions: detection runs the shipped tagger");
                }
                for v in list {
                    println!(
                        "{:>4} {} dataset {} {} notes, gold recall {:.4} -> {:.4} on {} notes {}{}",
                        v.id,
                        v.created_at,
                        v.dataset_id,
                        v.examples,
                        v.recall_before,
                        v.recall_after,
                        v.gold_notes,
                        if v.kept { "kept" } else { "not kept" },
                        if v.active { " (active)" } else { "" }
                    );
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
        ReviewCommand::Gold(GoldCommand::Sample { dataset, size, seed }) => {
            let s = api.gold_sample(dataset, size, seed)?;
            ctx.emit(&s, |s| {
                println!("drew {} notes of dataset {} as gold sample {} (seed {})", s.record_ids.len(), s.dataset_id, s.sample_id, s.seed);
                println!("review and sign them off: {:?}", s.record_ids);
            })
        }
        ReviewCommand::Gold(GoldCommand::Import { dataset, file, format }) => {
            let r = api.gold_import(dataset, &file, &format)?;
            ctx.emit(&r, |r| {
                println!("stored gold for {} notes ({} spans); {} notes of the file matched no record", r.notes, r.spans, r.unmatched);
                if !r.unmatched_ids.is_empty() {
                    println!("  unmatched ids: {}", r.unmatched_ids.join(", "));
                }
            })
        }
        ReviewCommand::Note { record } => ctx.emit(&api.review_note(record)?, |n| {
            println!("record {} ({}), {} undecided", n.record.id, n.state, n.undecided);
            for sp in &n.spans {
                let by = sp.explanation.get("detector").and_then(|d| d.as_str()).unwrap_or(&sp.origin);
                println!("  span {:<7} {:<10} {:<14} {:>5.3}  {:<8} {:?}", sp.id, format!("{:?}", sp.state).to_lowercase(), sp.entity, sp.score, by, sp.text);
            }
        }),
        ReviewCommand::Decide { span, verdict, entity, reason } => {
            let decision = match (verdict.as_str(), entity) {
                ("accept", None) => DecisionDto::Accept,
                ("reject", None) => DecisionDto::Reject,
                ("retype", Some(entity)) => DecisionDto::Retype { entity },
                ("retype", None) => bail!("retype needs --type TYPE"),
                ("accept" | "reject", Some(_)) => bail!("--type goes with retype only"),
                (other, _) => bail!("unknown verdict {other:?}: give accept, reject or retype --type TYPE"),
            };
            let s = api.review_decide(span, &decision, &reason)?;
            ctx.emit(&s, |s| println!("span {} of record {}: {:?} as {}", s.id, s.record_id, s.state, s.entity))
        }
        ReviewCommand::Add { record, start, end, entity, reason } => {
            let s = api.review_add_span(record, start, end, &entity, &reason)?;
            ctx.emit(&s, |s| println!("span {} added to record {}: {} {:?}", s.id, s.record_id, s.entity, s.text))
        }
        ReviewCommand::SignOff { record } => {
            api.review_sign_off(record)?;
            ctx.emit(&serde_json::json!({"recordId": record, "state": "signed_off"}), |_| println!("record {record} signed off"))
        }
        ReviewCommand::Reopen { record, reason } => {
            api.review_reopen(record, &reason)?;
            ctx.emit(&serde_json::json!({"recordId": record, "state": "open"}), |_| println!("record {record} reopened"))
        }
        ReviewCommand::Quality { dataset, limit } => {
            let mut q = api.review_quality(dataset)?;
            q.misses.truncate(limit);
            q.false_positives.truncate(limit);
            ctx.emit(&q, print_quality)
        }
    }
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_owned(), |v| format!("{:.3}", v))
}

fn print_quality(q: &localdx_api::gold::QualityDto) {
    let waiting = q.notes.iter().filter(|n| n.status != "measured").count();
    println!("{} gold notes measured ({} waiting for review or detection)", q.measured, waiting);
    println!(
        "overall: token recall {:.3}, token precision {:.3}, F2 {:.3}; span recall {:.3} of {} gold spans, span precision {:.3} of {} detections",
        q.token_recall, q.token_precision, q.f2, q.span_recall, q.gold_spans, q.span_precision, q.detected_spans
    );
    println!("{:<16} {:>8} {:>8} {:>9} {:>9} {:>10}", "type", "support", "recall", "detected", "precision", "tok.prec.");
    for t in &q.per_type {
        let scope = if t.in_scope { "" } else { "  (out of scope)" };
        println!(
            "{:<16} {:>8} {:>8} {:>9} {:>9} {:>10}{scope}",
            t.entity, t.support, pct(t.span_recall), t.detected, pct(t.span_precision), pct(t.token_precision)
        );
    }
    println!("misses ({} of {}):", q.misses.len(), q.misses_total);
    for m in &q.misses {
        println!("  record {:<6} {:<14} {}[[{}]]{}", m.record_id, m.entity, m.before, m.text, m.after);
    }
    println!("false positives ({} of {}):", q.false_positives.len(), q.false_positives_total);
    for f in &q.false_positives {
        println!("  record {:<6} {:<14} {}[[{}]]{}  ({} {:.2})", f.record_id, f.entity, f.before, f.text, f.after, f.pattern, f.score);
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
