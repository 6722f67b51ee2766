//! Releasing a reviewed dataset. A release needs every note signed off ([`plan`]). It redacts
//! each note with the steward's decisions ([`decided_spans`]: accepted, retyped, resized and added
//! spans; rejected ones stay) by the chosen strategy, then runs the caller's detector again on the
//! redacted text as a leakage scan: a hit outside the replacements blocks the release
//! ([`Error::Leaks`] lists them). Else the redacted notes are written as a new dataset, marked
//! released in the same transaction (the database then refuses any change to it), with the
//! SHA-256 of its content ([`build`]). Patient and note ids are replaced by keyed pseudonyms
//! ([`pseudonym`]), since they can be identifiers themselves.

use crate::redact::{redact_record, strategy_name};
use crate::{queue, round3, Error, Result};
use localdx_access::Grant;
use localdx_job::{Cancel, Meter, Reporter};
use localdx_phi::{Detection, EntityType, PhiConfig, Strategy};
use localdx_span::{CharIndex, Span};
use localdx_store::{Dataset, DatasetWriter, NewDataset, NewRecord, Record, Release, ReviewSpan, SpanState, Split, Store};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::fmt;

/// PHI the leakage scan found in a redacted note (char offsets into the redacted text).
#[derive(Debug, Clone, PartialEq)]
pub struct Leak {
    pub record_id: i64,
    pub entity: String,
    pub start: usize,
    pub end: usize,
    pub text: String,
    pub score: f64,
}

/// Everything the leakage scan found; its message lists the first 20 for the steward to fix.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaks(pub Vec<Leak>);

impl fmt::Display for Leaks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let listed: Vec<String> = self
            .0
            .iter()
            .take(20)
            .map(|l| format!("record {} {} {:?} at {}..{} (score {})", l.record_id, l.entity, l.text, l.start, l.end, l.score))
            .collect();
        write!(
            f,
            "release blocked: the leakage scan found {} possible PHI span(s) left in the redacted text; reopen those notes and decide on them:\n  {}{}",
            self.0.len(),
            listed.join("\n  "),
            if self.0.len() > 20 { "\n  ..." } else { "" }
        )
    }
}

impl std::error::Error for Leaks {}

/// A keyed pseudonym of an identifier: the same id gives the same pseudonym within a project.
pub fn pseudonym(secret: &[u8], kind: &str, id: &str) -> String {
    let mut h = Sha256::new();
    for part in [secret, kind.as_bytes(), id.as_bytes()] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    let d = h.finalize();
    format!("{kind}-{}", d[..8].iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// One released note, ready to store.
struct Redacted {
    external_id: Option<String>,
    patient_id: Option<String>,
    text: String,
    labels: Vec<String>,
    split: Split,
}

/// SHA-256 over the released records in order, each field length-prefixed.
fn content_hash(records: &[Redacted]) -> Result<String> {
    let mut h = Sha256::new();
    for r in records {
        let labels = serde_json::to_string(&r.labels).map_err(|e| Error::Internal(e.to_string()))?;
        for f in [r.external_id.as_deref().unwrap_or(""), r.patient_id.as_deref().unwrap_or(""), r.split.as_str(), &labels, &r.text] {
            h.update((f.len() as u64).to_le_bytes());
            h.update(f.as_bytes());
        }
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The spans a note's decisions redact, as non-overlapping detections sorted by start
/// (overlapping decided spans are joined so no part of either stays).
pub fn decided_spans(spans: &[ReviewSpan]) -> Vec<Detection> {
    let mut dets: Vec<Detection> = spans
        .iter()
        .filter(|s| s.view.state.redacts())
        .filter_map(|s| {
            let entity = EntityType::parse(&s.view.entity)?;
            Some(Detection::new(Span::new(s.view.start, s.view.end), entity, s.score as f32, "review", "decision"))
        })
        .collect();
    dets.sort_by_key(|d| (d.span.start, std::cmp::Reverse(d.span.end)));
    let mut out: Vec<Detection> = Vec::with_capacity(dets.len());
    for d in dets {
        match out.last_mut() {
            Some(last) if d.span.start < last.span.end => last.span = last.span.union(&d.span),
            _ => out.push(d),
        }
    }
    out
}

/// A dataset whose every note is signed off, read with its decisions: what [`build`] releases.
pub struct Plan {
    dataset: Dataset,
    notes: Vec<(Record, Vec<ReviewSpan>)>,
}

impl Plan {
    pub fn dataset(&self) -> &Dataset {
        &self.dataset
    }

    /// The leakage scan's configuration: `config` (the project's, with its learned terms) plus
    /// every term the steward rejected in this dataset (decided not to be PHI).
    pub fn scan_config(&self, mut config: PhiConfig) -> PhiConfig {
        for (r, spans) in &self.notes {
            for s in spans.iter().filter(|s| s.view.state == SpanState::Rejected) {
                if let Some(t) = r.text.get(s.view.start..s.view.end) {
                    config.allow.push(t.trim().to_owned());
                }
            }
        }
        config
    }
}

/// Dataset `dataset_id` with its notes and decisions, refused ([`Error::NotSignedOff`]) while a
/// note is open, and on a released version.
pub fn plan(store: &Store, grant: &Grant, dataset_id: i64) -> Result<Plan> {
    let dataset = queue::reviewable(store, dataset_id)?;
    let open = store.open_notes(dataset_id)?;
    if !open.is_empty() {
        return Err(Error::NotSignedOff { open, records: dataset.records });
    }
    let records = store.records(grant, dataset_id, 0, u64::MAX, None)?;
    let mut notes = Vec::with_capacity(records.len());
    for r in records {
        let spans = store.review_spans(r.id)?;
        notes.push((r, spans));
    }
    Ok(Plan { dataset, notes })
}

/// A release written but not committed: audit it through [`PendingRelease::writer`] (the entry
/// commits with it), then [`PendingRelease::commit`]; dropped, it leaves the database as it was.
pub struct PendingRelease<'a> {
    store: &'a Store,
    writer: DatasetWriter<'a>,
    pub release_id: i64,
    /// The id the redacted dataset will have.
    pub version_id: i64,
    pub strategy: &'static str,
    pub sha256: String,
    pub records: u64,
    /// Spans redacted.
    pub spans: u64,
}

impl<'a> PendingRelease<'a> {
    /// The released version being written, to audit it in its transaction.
    pub fn writer(&self) -> &DatasetWriter<'a> {
        &self.writer
    }

    /// Commits the release and returns it as stored.
    pub fn commit(self) -> Result<Release> {
        let version_id = self.writer.finish()?;
        self.store.release_of_version(version_id)?.ok_or_else(|| Error::Internal("the release vanished".into()))
    }
}

/// Redacts every note of `plan` by its decisions with `strategy`, rescans each with `scan` (the
/// detector of [`Plan::scan_config`]), and writes the release as `actor`: refused with every leak
/// the scan found ([`Error::Leaks`]), or when cancelled, with nothing stored. Note and patient ids
/// become pseudonyms keyed by `secret`.
#[allow(clippy::too_many_arguments)]
pub fn build<'a>(
    store: &'a Store,
    plan: Plan,
    strategy: &Strategy,
    secret: &[u8],
    scan: &dyn Fn(&str) -> Vec<Detection>,
    actor: &str,
    reporter: &dyn Reporter,
    cancel: &Cancel,
) -> Result<PendingRelease<'a>> {
    let Plan { dataset: ds, notes } = plan;
    let mut out: Vec<Redacted> = Vec::with_capacity(notes.len());
    let mut leaks: Vec<Leak> = Vec::new();
    let mut spans_total = 0u64;
    let mut meter = Meter::new("release", "notes", Some(ds.records), reporter);
    for (i, (r, spans)) in notes.iter().enumerate() {
        if cancel.is_cancelled() {
            return Err(Error::Cancelled("release cancelled; nothing was stored"));
        }
        let dets = decided_spans(spans);
        spans_total += dets.len() as u64;
        let red = redact_record(r, &dets, strategy);
        let found = scan(&red.text);
        let index = CharIndex::new(&red.text);
        for d in found.iter().filter(|d| !red.replacements.iter().any(|x| x.replaced.overlaps(&d.span))) {
            let (start, end) = index.char_span(d.span);
            leaks.push(Leak {
                record_id: r.id,
                entity: d.entity.as_str().to_owned(),
                start,
                end,
                text: d.span.slice(&red.text).to_owned(),
                score: round3(d.score),
            });
        }
        out.push(Redacted {
            external_id: r.external_id.as_deref().map(|id| pseudonym(secret, "note", id)),
            patient_id: r.patient_id.as_deref().map(|id| pseudonym(secret, "patient", id)),
            text: red.text,
            labels: r.labels.clone(),
            split: r.split,
        });
        meter.tick(i as u64 + 1);
    }
    meter.finish(notes.len() as u64);
    if !leaks.is_empty() {
        return Err(Error::Leaks(Leaks(leaks)));
    }
    let sha256 = content_hash(&out)?;
    let n = store.releases(Some(ds.id))?.len() + 1;
    let strategy = strategy_name(strategy);
    let new = NewDataset {
        name: format!("{} (release {n})", ds.name),
        source_path: None,
        format: "release".into(),
        column_mapping: ds.column_mapping.clone(),
        source_sha256: None,
        parent_id: Some(ds.id),
        seed: ds.seed,
        options: json!({"derivation": "release", "strategy": strategy}),
        created_by: actor.to_owned(),
    };
    let mut writer = store.dataset_writer(&new)?;
    for r in &out {
        writer.insert(&NewRecord {
            external_id: r.external_id.as_deref(),
            patient_id: r.patient_id.as_deref(),
            text: &r.text,
            labels: &r.labels,
            split: r.split,
            source_line: 0,
        })?;
    }
    let release_id = writer.mark_released(ds.id, strategy, &sha256, out.len() as u64, spans_total, actor)?;
    let version_id = writer.dataset_id();
    Ok(PendingRelease { store, writer, release_id, version_id, strategy, sha256, records: out.len() as u64, spans: spans_total })
}

#[cfg(test)]
mod tests {
    use super::*;
    use localdx_store::SpanView;

    #[test]
    fn pseudonyms_are_keyed_and_stable() {
        let a = pseudonym(b"secret", "patient", "MRN-12345");
        assert_eq!(a, pseudonym(b"secret", "patient", "MRN-12345"));
        assert!(a.starts_with("patient-") && !a.contains("12345"), "{a}");
        assert_ne!(a, pseudonym(b"other", "patient", "MRN-12345"));
        assert_ne!(a, pseudonym(b"secret", "patient", "MRN-12346"));
    }

    fn span(id: i64, state: SpanState, start: usize, end: usize, entity: &str) -> ReviewSpan {
        ReviewSpan {
            id,
            dataset_id: 1,
            record_id: 1,
            origin: "detected".into(),
            start,
            end,
            entity: entity.into(),
            score: 0.9,
            explanation: json!({}),
            view: SpanView { state, start, end, entity: entity.into() },
            decided_by: None,
        }
    }

    #[test]
    fn decided_spans_keep_what_redacts_and_join_overlaps() {
        use SpanState::*;
        let spans = [
            span(1, Rejected, 0, 4, "name"),
            span(2, Accepted, 20, 30, "date"),
            span(3, Accepted, 8, 12, "name"),
            span(4, Retyped, 10, 16, "location"),
            span(5, Undecided, 40, 44, "name"),
            span(6, Accepted, 22, 25, "date"),
            span(7, Accepted, 50, 54, "not-a-type"),
        ];
        let got: Vec<(usize, usize, &str)> = decided_spans(&spans).iter().map(|d| (d.span.start, d.span.end, d.entity.as_str())).collect();
        // rejected and undecided spans stay; 8..12 and 10..16 become one span of the first's type;
        // 22..25 lies inside 20..30; an unknown type redacts nothing
        assert_eq!(got, vec![(8, 16, "name"), (20, 30, "date")]);
        assert!(decided_spans(&[]).is_empty());
    }

    #[test]
    fn leaks_list_the_first_twenty() {
        let leak = |i: i64| Leak { record_id: i, entity: "name".into(), start: 3, end: 7, text: "Ward".into(), score: 0.85 };
        let one = Leaks(vec![leak(4)]).to_string();
        assert_eq!(
            one,
            "release blocked: the leakage scan found 1 possible PHI span(s) left in the redacted text; reopen those notes and decide on them:\n  record 4 name \"Ward\" at 3..7 (score 0.85)"
        );
        let many = Leaks((1..=21).map(leak).collect()).to_string();
        assert!(many.contains("found 21 ") && many.contains("record 20 ") && !many.contains("record 21 ") && many.ends_with("\n  ..."), "{many}");
    }
}
