//! Redacted text from spans: [`redact_record`] is the one function that turns a dataset's note
//! into redacted text, for the release (the steward's decided spans) and for the unreviewed
//! redacted copy [`copy`] (`localdx phi redact`: fresh detections as the spans).

use crate::{Error, Result};
use localdx_access::Grant;
use localdx_job::{Cancel, Meter, Reporter};
use localdx_phi::redact::Redaction;
use localdx_phi::{Detection, Strategy};
use localdx_store::{Dataset, DatasetWriter, NewDataset, NewRecord, Record, Store};
use std::collections::BTreeMap;

/// `record`'s text with `spans` (sorted, non-overlapping; others are skipped) replaced by
/// `strategy`. Surrogates and date shifts are keyed by the record's patient, or by the record
/// itself when it has none.
pub fn redact_record(record: &Record, spans: &[Detection], strategy: &Strategy) -> Redaction {
    let patient = record.patient_id.clone().unwrap_or_else(|| format!("record-{}", record.id));
    localdx_phi::redact(&record.text, spans, strategy, &patient)
}

/// The name a strategy is stored and audited under: `tag`, `mask` or `surrogate`.
pub fn strategy_name(strategy: &Strategy) -> &'static str {
    match strategy {
        Strategy::Tag => "tag",
        Strategy::Mask(_) => "mask",
        Strategy::Surrogate { .. } => "surrogate",
    }
}

/// A redacted copy written but not committed: record it (event log, audit trail) through
/// [`RedactedCopy::writer`], then [`RedactedCopy::commit`]; dropped, it leaves the database as it was.
pub struct RedactedCopy<'a> {
    writer: DatasetWriter<'a>,
    meter: Meter<'a>,
    pub records: u64,
    /// Spans redacted, in all and per type.
    pub spans: u64,
    pub per_type: BTreeMap<String, u64>,
}

impl<'a> RedactedCopy<'a> {
    /// The dataset being written, to log and audit it in its transaction.
    pub fn writer(&self) -> &DatasetWriter<'a> {
        &self.writer
    }

    /// Commits the copy, reports the end of the work and returns the new dataset's id.
    pub fn commit(mut self) -> Result<i64> {
        let id = self.writer.finish()?;
        self.meter.finish(self.records);
        Ok(id)
    }
}

/// Writes a redacted copy of `dataset` as the new dataset `new`, each note redacted by
/// [`redact_record`] with the spans `detect` finds in it. Records keep their ids, patients,
/// labels, splits and source lines. One transaction: nothing is stored until [`RedactedCopy::commit`].
pub fn copy<'a>(
    store: &'a Store,
    grant: &Grant,
    dataset: &Dataset,
    new: &NewDataset,
    detect: &dyn Fn(&str) -> Vec<Detection>,
    strategy: &Strategy,
    reporter: &'a dyn Reporter,
    cancel: &Cancel,
) -> Result<RedactedCopy<'a>> {
    let mut writer = store.dataset_writer(new)?;
    let mut meter = Meter::new("redact", "notes", Some(dataset.records), reporter);
    let (mut done, mut spans) = (0u64, 0u64);
    let mut per_type: BTreeMap<String, u64> = BTreeMap::new();
    let mut offset = 0;
    loop {
        let records = store.records(grant, dataset.id, offset, 500, None)?;
        if records.is_empty() {
            break;
        }
        for r in &records {
            if cancel.is_cancelled() {
                return Err(Error::Cancelled("redaction cancelled; nothing was stored"));
            }
            let dets = detect(&r.text);
            for d in &dets {
                *per_type.entry(d.entity.as_str().to_string()).or_default() += 1;
            }
            spans += dets.len() as u64;
            let red = redact_record(r, &dets, strategy);
            writer.insert(&NewRecord {
                external_id: r.external_id.as_deref(),
                patient_id: r.patient_id.as_deref(),
                text: &red.text,
                labels: &r.labels,
                split: r.split,
                source_line: r.source_line,
            })?;
            done += 1;
            meter.tick(done);
        }
        offset += records.len() as u64;
    }
    Ok(RedactedCopy { writer, meter, records: done, spans, per_type })
}

#[cfg(test)]
mod tests {
    use super::*;
    use localdx_phi::EntityType;
    use localdx_span::Span;
    use localdx_store::Split;

    fn record(id: i64, patient: Option<&str>, text: &str) -> Record {
        Record { id, dataset_id: 1, external_id: None, patient_id: patient.map(str::to_owned), text: text.into(), labels: vec![], split: Split::Train, source_line: 0 }
    }

    #[test]
    fn notes_are_redacted_by_their_spans_and_keyed_by_patient() {
        let text = "Seen by Dr. Marder on 10/18/2003.";
        let spans = [
            Detection::new(Span::new(12, 18), EntityType::parse("name").unwrap(), 0.9, "review", "decision"),
            Detection::new(Span::new(22, 32), EntityType::parse("date").unwrap(), 0.9, "review", "decision"),
        ];
        assert_eq!(redact_record(&record(1, None, text), &spans, &Strategy::Tag).text, "Seen by Dr. [NAME] on [DATE].");
        assert_eq!(redact_record(&record(1, None, text), &spans, &Strategy::Mask('*')).text, "Seen by Dr. ****** on **********.");
        let surrogate = Strategy::Surrogate { secret: b"secret".to_vec() };
        let a = redact_record(&record(1, Some("p1"), text), &spans, &surrogate).text;
        assert_eq!(a, redact_record(&record(2, Some("p1"), text), &spans, &surrogate).text, "keyed by the patient, not the record");
        let alone = redact_record(&record(1, None, text), &spans, &surrogate).text;
        assert_eq!(alone, localdx_phi::redact(text, &spans, &surrogate, "record-1").text, "a record without a patient keys itself");
        assert!(!a.contains("Marder") && !a.contains("10/18/2003"), "{a}");
    }

    fn dataset(name: &str) -> NewDataset {
        NewDataset {
            name: name.into(),
            source_path: None,
            format: "csv".into(),
            column_mapping: serde_json::json!({}),
            source_sha256: None,
            parent_id: None,
            seed: None,
            options: serde_json::json!({}),
            created_by: "sam".into(),
        }
    }

    #[test]
    fn a_redacted_copy_is_stored_only_when_committed() {
        let store = Store::open_in_memory().unwrap();
        let labels = vec!["flu".to_string()];
        let notes = [(Some("n1"), Some("p1"), "Seen by Dr. Marder today."), (Some("n2"), None, "Marder called; Marder again.")];
        let id = store
            .create_dataset(
                &dataset("notes"),
                notes.iter().map(|&(external_id, patient_id, text)| NewRecord { external_id, patient_id, text, labels: &labels, split: Split::Test, source_line: 3 }),
            )
            .unwrap();
        let ds = store.dataset(id).unwrap().unwrap();
        let name = EntityType::parse("name").unwrap();
        let marder = |t: &str| -> Vec<Detection> {
            t.match_indices("Marder").map(|(at, w)| Detection::new(Span::new(at, at + w.len()), name, 0.9, "test", "marder")).collect()
        };
        let new = NewDataset { parent_id: Some(id), format: "derived".into(), ..dataset("notes (redacted)") };
        let grant = localdx_access::check(localdx_access::Role::Steward, localdx_access::Command::RedactDataset).unwrap();

        let dropped = copy(&store, &grant, &ds, &new, &marder, &Strategy::Tag, &(), &Cancel::new()).unwrap();
        assert_eq!(dropped.writer().dataset_id(), id + 1);
        drop(dropped);
        assert_eq!(store.datasets().unwrap().len(), 1, "dropped uncommitted: nothing stored");
        let cancel = Cancel::new();
        cancel.cancel();
        assert!(matches!(copy(&store, &grant, &ds, &new, &marder, &Strategy::Tag, &(), &cancel), Err(Error::Cancelled(_))));
        assert_eq!(store.datasets().unwrap().len(), 1);

        let done = copy(&store, &grant, &ds, &new, &marder, &Strategy::Tag, &(), &Cancel::new()).unwrap();
        assert_eq!((done.records, done.spans, done.per_type.clone()), (2, 3, [("name".to_string(), 3)].into_iter().collect()));
        let copied = done.commit().unwrap();
        let got = store.records(&grant, copied, 0, 10, None).unwrap();
        let texts: Vec<&str> = got.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(texts, vec!["Seen by Dr. [NAME] today.", "[NAME] called; [NAME] again."]);
        let kept: Vec<_> = got.iter().map(|r| (r.external_id.as_deref(), r.patient_id.as_deref(), r.labels.clone(), r.split, r.source_line)).collect();
        assert_eq!(kept, vec![(Some("n1"), Some("p1"), labels.clone(), Split::Test, 3), (Some("n2"), None, labels.clone(), Split::Test, 3)]);
        assert_eq!(store.dataset(copied).unwrap().unwrap().parent_id, Some(id));
    }
}
