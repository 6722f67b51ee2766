//! A model card per run, for the clinic and for a regulator: intended use and who must not rely
//! on the model, the data version with its hash and the PHI its review found, the base model and
//! its licence, the training settings and privacy budget, the test-split metrics with intervals
//! per label, the labels it fails on, and who put it into use. Markdown for reading and diffing,
//! HTML (self-contained, no script) and PDF (`localdx_eval::pdf`, the report's renderer) for
//! printing and filing. Built from stored facts only: the run's files,
//! the release, the review and an evaluation on the test split run now.

use crate::eval::{EvalOptions, RunRequest};
use crate::{Api, ApiError, Command, Result};
use localdx_store::SpanState;
use localdx_train::checkpoint::RunFiles;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Labels below this test F1, or with fewer test cases than [`FEW`], are listed as failure modes.
pub const WEAK_F1: f64 = 0.5;
pub const FEW: usize = 5;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelCardDto {
    pub run_id: String,
    pub markdown: String,
    pub html: String,
    /// The same card as a PDF (not in the JSON).
    #[serde(skip)]
    pub pdf: Vec<u8>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn pct(x: f64) -> String {
    format!("{:.1}", 100.0 * x)
}

/// One section of the card: a heading, paragraphs and at most one table.
struct Section {
    title: &'static str,
    lines: Vec<String>,
    table: Option<(Vec<&'static str>, Vec<Vec<String>>)>,
}

fn markdown(title: &str, sections: &[Section]) -> String {
    let mut out = format!("# {title}\n");
    for s in sections {
        let _ = write!(out, "\n## {}\n\n", s.title);
        for l in &s.lines {
            let _ = writeln!(out, "- {l}");
        }
        if let Some((head, rows)) = &s.table {
            let _ = writeln!(out, "\n| {} |\n|{}|", head.join(" | "), head.iter().map(|_| "---").collect::<Vec<_>>().join("|"));
            for r in rows {
                let _ = writeln!(out, "| {} |", r.iter().map(|c| c.replace('|', "\\|")).collect::<Vec<_>>().join(" | "));
            }
        }
    }
    out
}

fn pdf(title: &str, sections: &[Section], footer: &str) -> Vec<u8> {
    use localdx_eval::pdf::{render, Block, Document};
    let mut blocks = Vec::new();
    for s in sections {
        blocks.push(Block::Heading(s.title.to_owned()));
        blocks.push(Block::Bullets(s.lines.clone()));
        if let Some((head, rows)) = &s.table {
            blocks.push(Block::Table { head: head.iter().map(|h| h.to_string()).collect(), rows: rows.clone(), numeric: true });
        }
    }
    blocks.push(Block::Paragraph(footer.to_owned()));
    render(&Document { title: title.to_owned(), blocks })
}

fn html(title: &str, sections: &[Section]) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>\
         body{{font:14px/1.45 system-ui,sans-serif;max-width:860px;margin:24px auto;color:#1f2933}}\
         h1{{font-size:22px}}h2{{font-size:16px;margin-top:22px;border-bottom:1px solid #d8dee4}}\
         table{{border-collapse:collapse;width:100%;font-size:13px}}th,td{{border-bottom:1px solid #e5e9ed;padding:4px 8px;text-align:left}}\
         @media print{{body{{margin:0}}}}</style></head><body>\n<h1>{t}</h1>\n",
        t = escape(title)
    );
    for s in sections {
        let _ = writeln!(out, "<h2>{}</h2>\n<ul>", escape(s.title));
        for l in &s.lines {
            let _ = writeln!(out, "<li>{}</li>", escape(l));
        }
        out.push_str("</ul>\n");
        if let Some((head, rows)) = &s.table {
            out.push_str("<table><thead><tr>");
            for h in head {
                let _ = write!(out, "<th>{}</th>", escape(h));
            }
            out.push_str("</tr></thead><tbody>\n");
            for r in rows {
                out.push_str("<tr>");
                for c in r {
                    let _ = write!(out, "<td>{}</td>", escape(c));
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</tbody></table>\n");
        }
    }
    out.push_str("</body></html>\n");
    out
}

impl Api {
    /// The model card of run `run_id` (its test split is evaluated now).
    pub fn model_card(&self, run_id: &str) -> Result<ModelCardDto> {
        let facts = self.run_facts(run_id)?;
        let files = RunFiles::open(&self.run_dir(run_id)?, &self.vault())?;
        let meta = &files.meta;
        let report = self.run_report(RunRequest { run_id, vs: None, split: "test" }, &crate::eval::today(), &EvalOptions::default())?;
        let e = &report.evaluation.evaluation;
        let store = self.permit(Command::Evaluate)?;
        let release = store.release_of_version(facts.dataset_id)?;
        let version = store.dataset(facts.dataset_id)?.ok_or_else(|| ApiError::not_found(format!("run {run_id}: its dataset {} is gone", facts.dataset_id)))?;
        let reviewed = release.as_ref().map_or(facts.dataset_id, |r| r.dataset_id);
        let mut phi: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for s in store.dataset_review_spans(reviewed)? {
            let row = phi.entry(s.view.entity.clone()).or_default();
            if s.view.state == SpanState::Rejected {
                row.1 += 1;
            } else {
                row.0 += 1;
            }
        }
        let promotion = store.current_promotion(release.as_ref().map_or(facts.dataset_id, |r| r.dataset_id))?;
        drop(store);
        let base = localdx_model::GgufFile::open(&meta.model_path).ok();
        let licence = base.as_ref().and_then(|f| f.string("general.license").ok().map(str::to_owned)).unwrap_or_else(|| "not stated in the model file".into());
        let cfg = &meta.config;
        let outcome = meta.outcome.as_ref();
        let interval = |m: &str| e.intervals.iter().find(|i| i.metric == m).map(|i| format!(" (95% CI {}–{})", pct(i.interval.low), pct(i.interval.high))).unwrap_or_default();
        let weak: Vec<String> = e.per_label.iter().filter(|l| l.support < FEW || l.f1 < WEAK_F1).map(|l| format!("{} (F1 {}, {} test cases)", l.label, pct(l.f1), l.support)).collect();

        let sections = vec![
            Section {
                title: "Intended use",
                lines: vec![
                    format!("Suggests, for a clinician to confirm or reject, which of {} labels of \"{}\" a note supports, ranked with probabilities.", meta.labels.len(), version.name),
                    "For notes like its training notes: the same clinic, kind of note and language. It is decision support; every diagnosis is the clinician's.".into(),
                ],
                table: None,
            },
            Section {
                title: "Who must not rely on it",
                lines: vec![
                    "Anyone without a clinician reviewing each suggestion: it is not a diagnosis, a triage or a billing code.".into(),
                    "Notes of another kind than its training notes (another specialty, language or note type): the Monitoring screen shows when new notes drift from them.".into(),
                    format!("Decisions on the labels under Known failure modes (test F1 below {:.0}% or fewer than {FEW} test cases).", 100.0 * WEAK_F1),
                ],
                table: None,
            },
            Section {
                title: "Data",
                lines: vec![
                    format!("Trained on released version {} \"{}\": {} notes, created {} by {}.", version.id, version.name, version.records, version.created_at, version.created_by),
                    match &release {
                        Some(r) => format!("Released from dataset {} by {} at {}, {} strategy, {} spans redacted; content SHA-256 {}.", r.dataset_id, r.released_by, r.released_at, r.strategy, r.spans, r.sha256),
                        None => "Not a released version (LocalDx trains on releases only; this run predates that rule or was imported).".into(),
                    },
                    format!("Data facts of the report: {}.", facts.dataset),
                ],
                table: Some((vec!["PHI type (review)", "redacted", "rejected as not PHI"], phi.iter().map(|(t, (r, x))| vec![t.clone(), r.to_string(), x.to_string()]).collect())),
            },
            Section {
                title: "Base model",
                lines: vec![
                    format!("{} ({}), frozen; only LoRA adapters and a classification head were trained.", facts.model, meta.model_path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default()),
                    format!("Licence: {licence}."),
                ],
                table: None,
            },
            Section {
                title: "Training",
                lines: vec![
                    format!(
                        "LoRA rank {}, alpha {}, on {}; {} epochs, batch {} x {}, learning rate {}, up to {} tokens per note, seed {}.",
                        cfg.lora.rank,
                        cfg.lora.alpha,
                        cfg.lora.last_layers.map_or_else(|| "all layers".to_owned(), |n| format!("the last {n} layers")),
                        cfg.epochs,
                        cfg.batch_size,
                        cfg.grad_accum,
                        cfg.optimizer.lr,
                        cfg.max_len,
                        cfg.seed
                    ),
                    match (outcome.and_then(|o| o.epsilon), outcome.and_then(|o| o.delta)) {
                        (Some(eps), Some(delta)) => format!("Differential privacy (DP-SGD): epsilon {eps:.2} at delta {delta:.1e}."),
                        _ => "No differential privacy: epsilon is not bounded.".into(),
                    },
                    outcome.map_or_else(
                        || "The run has not finished.".into(),
                        |o| format!("Best validation macro-F1 {} at epoch {} ({} steps, {:.0} s, {:.0} tokens/s); the base model's zero-shot head scored {}.", pct(o.best.macro_f1), o.best_epoch, o.steps, o.seconds, o.train_tokens_per_second, pct(o.zero_shot.macro_f1)),
                    ),
                    format!("Adapter SHA-256: {}.", facts.adapter_sha256),
                ],
                table: None,
            },
            Section {
                title: "Evaluation on the test split",
                lines: vec![
                    format!("{} test cases, never seen in training.", e.cases),
                    format!("Micro-F1 {}{}; macro-F1 {}{}; weighted F1 {}; accuracy {}{}.", pct(e.micro_f1), interval("micro_f1"), pct(e.macro_f1), interval("macro_f1"), pct(e.weighted_f1), pct(e.accuracy), interval("accuracy")),
                ],
                table: Some((
                    vec!["label", "test cases", "precision", "recall", "F1"],
                    e.per_label.iter().map(|l| vec![l.label.clone(), l.support.to_string(), pct(l.precision), pct(l.recall), pct(l.f1)]).collect(),
                )),
            },
            Section {
                title: "Known failure modes",
                lines: if weak.is_empty() { vec![format!("No label below F1 {:.0}% with at least {FEW} test cases.", 100.0 * WEAK_F1)] } else { weak },
                table: None,
            },
            Section {
                title: "In use",
                lines: vec![match &promotion {
                    Some(p) if p.run_id == run_id => format!("Promoted by {} on {}: {}.", p.promoted_by, p.promoted_at, p.reason),
                    Some(p) => format!("Not in use: {} is in use for this dataset (promoted by {} on {}).", p.run_id, p.promoted_by, p.promoted_at),
                    None => "Not in use: no run is promoted for this dataset.".into(),
                }],
                table: None,
            },
        ];
        let title = format!("Model card: {run_id} ({} on {})", facts.model, version.name);
        let footer = format!("Generated {} by LocalDx {} from the workspace's own records.", crate::eval::today(), env!("CARGO_PKG_VERSION"));
        let mut md = markdown(&title, &sections);
        let _ = write!(md, "\n{footer}\n");
        let html = html(&title, &sections);
        let pdf = pdf(&title, &sections, &footer);
        Ok(ModelCardDto { run_id: run_id.to_owned(), markdown: md, html, pdf })
    }
}
