//! What a dataset can support before anyone trains on it (`localdx dataset stats`, the Dataset
//! statistics screen): labels and their long tail, split balance, note length in the model's own
//! tokens against what each preset reads, exact and near duplicates (and those that cross from
//! training into test), notes per patient, the PHI the review found per type, and warnings for
//! data that cannot support a run.
//!
//! Nothing here returns note text: ids, counts and labels only.

use crate::{Api, ApiError, Result};
use localdx_ingest::Icd10Names;
use localdx_store::{Record, SpanState, Split};
use localdx_train::trainer::Preset;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Labels with fewer notes than this are the long tail.
pub const RARE: u64 = 5;
/// Fewer validation notes than this cannot choose thresholds or stop training early with any
/// confidence (one note moves the F1 by 5 points or more).
pub const MIN_VALIDATION: u64 = 20;
/// Two notes whose word 5-gram sets overlap this much (Jaccard) are near duplicates.
pub const NEAR: f64 = 0.8;
/// Upper edges of the length histogram's bins, in tokens (the last bin is open).
const BINS: [usize; 8] = [32, 64, 128, 256, 512, 1024, 2048, 4096];

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetStatsDto {
    pub dataset_id: i64,
    pub name: String,
    pub notes: u64,
    pub splits: SplitCountsDto,
    /// Notes with no label (left out of training and evaluation).
    pub unlabelled: u64,
    /// Most frequent first.
    pub labels: Vec<LabelStatDto>,
    /// Labels with fewer than [`RARE`] notes.
    pub rare_labels: u64,
    pub rare_threshold: u64,
    pub multi_label: bool,
    pub length: LengthStatsDto,
    pub duplicates: DuplicatesDto,
    pub patients: PatientsDto,
    /// The review's spans per PHI type (of the source dataset, for a released version).
    pub phi: Vec<PhiTypeDto>,
    /// What would make a run on this data misleading or impossible; empty when none.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SplitCountsDto {
    pub train: u64,
    pub validation: u64,
    pub test: u64,
}

impl SplitCountsDto {
    fn add(&mut self, split: Split) {
        match split {
            Split::Train => self.train += 1,
            Split::Validation => self.validation += 1,
            Split::Test => self.test += 1,
        }
    }

    fn total(&self) -> u64 {
        self.train + self.validation + self.test
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelStatDto {
    pub label: String,
    /// The ICD-10-CM name when the label is a code and the table is installed.
    pub name: Option<String>,
    pub notes: SplitCountsDto,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LengthStatsDto {
    /// What counted the tokens: the default model's tokenizer, or an estimate (characters / 4)
    /// when no model is installed.
    pub tokenizer: String,
    pub counted: u64,
    pub median: usize,
    pub p90: usize,
    pub max: usize,
    pub bins: Vec<LengthBinDto>,
    pub presets: Vec<PresetCutDto>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LengthBinDto {
    /// Notes of at most this many tokens (and more than the previous bin's); none for the last.
    pub up_to: Option<usize>,
    pub notes: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PresetCutDto {
    pub preset: String,
    pub max_len: usize,
    /// Notes longer than the preset reads (the rest of such a note is never seen).
    pub truncated: u64,
    pub share: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DuplicatesDto {
    /// Notes whose text (case and spacing aside) repeats an earlier note's.
    pub exact: u64,
    /// Pairs of distinct notes whose word 5-grams overlap at least [`NEAR`].
    pub near_pairs: u64,
    pub near_threshold: f64,
    /// Exact or near pairs with one note in training and the other in validation or test: the
    /// evaluation partly scores notes the model has seen.
    pub across_splits: u64,
    /// Up to 20 pairs, most similar first.
    pub examples: Vec<DuplicatePairDto>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DuplicatePairDto {
    pub a: i64,
    pub b: i64,
    pub similarity: f64,
    /// The splits of `a` and `b`.
    pub splits: [String; 2],
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PatientsDto {
    /// Notes that name their patient.
    pub notes_with_patient: u64,
    pub patients: u64,
    pub max_notes: u64,
    /// Patients by how many notes they have: `[notes, patients]`, fewest notes first.
    pub notes_per_patient: Vec<[u64; 2]>,
    /// Patients with notes in more than one split.
    pub across_splits: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhiTypeDto {
    pub entity: String,
    /// Redacted at release: accepted, retyped or resized, or added by the steward.
    pub redacted: u64,
    pub added: u64,
    pub rejected: u64,
    pub undecided: u64,
}

impl Api {
    /// The statistics of `dataset_id` (an imported dataset or a released version). Reads note
    /// text to count it, so it needs what reading the notes needs: `ReadReleased` for a released
    /// version, `ReadRawRecords` for anything else.
    pub fn dataset_stats(&self, dataset_id: i64) -> Result<DatasetStatsDto> {
        let release = self.permit(crate::Command::ReadReleased).and_then(|store| Ok(store.release_of_version(dataset_id)?));
        let release = release?;
        let store = self.permit(if release.is_some() { crate::Command::ReadReleased } else { crate::Command::ReadRawRecords })?;
        let dataset = store.dataset(dataset_id)?.ok_or_else(|| ApiError::not_found(format!("no dataset {dataset_id}")))?;
        let records = store.records(dataset_id, 0, u64::MAX, None)?;
        let reviewed = release.as_ref().map_or(dataset_id, |r| r.dataset_id);
        let mut phi: BTreeMap<String, PhiTypeDto> = BTreeMap::new();
        for s in store.dataset_review_spans(reviewed)? {
            let row = phi.entry(s.view.entity.clone()).or_insert_with(|| PhiTypeDto { entity: s.view.entity.clone(), ..Default::default() });
            match (s.origin.as_str(), s.view.state) {
                ("added", _) => row.added += 1,
                (_, SpanState::Undecided) => row.undecided += 1,
                (_, SpanState::Rejected) => row.rejected += 1,
                _ => row.redacted += 1,
            }
        }
        let names = Icd10Names::in_models_dir(&self.layout.models).and_then(|r| r.ok());
        let tokenizer = crate::models::resolve(&self.layout.models, "default").ok().and_then(|path| {
            let file = localdx_model::GgufFile::open(&path).ok()?;
            let tok = localdx_model::Tokenizer::for_model(&path, &file).ok()?;
            Some((path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(), tok))
        });
        let count: Box<dyn Fn(&str) -> usize> = match &tokenizer {
            Some((_, tok)) => Box::new(|t: &str| tok.encode_for_model(t).len()),
            None => Box::new(|t: &str| t.chars().count().div_ceil(4)),
        };
        let tokenizer_name = tokenizer.as_ref().map_or_else(|| "estimate: characters / 4 (no model installed)".to_owned(), |(n, _)| format!("{n} tokenizer"));
        let mut stats = statistics(&records, names.as_ref(), &*count, tokenizer_name);
        stats.dataset_id = dataset_id;
        stats.name = dataset.name;
        stats.phi = phi.into_values().collect();
        Ok(stats)
    }
}

/// The statistics of `records`, with `count` giving a note's length in tokens (the dataset's id,
/// name and PHI are the caller's).
pub fn statistics(records: &[Record], names: Option<&Icd10Names>, count: &dyn Fn(&str) -> usize, tokenizer: String) -> DatasetStatsDto {
    let mut splits = SplitCountsDto::default();
    let mut labels: BTreeMap<&str, SplitCountsDto> = BTreeMap::new();
    for r in records {
        splits.add(r.split);
        for l in &r.labels {
            labels.entry(l.as_str()).or_default().add(r.split);
        }
    }
    let mut label_rows: Vec<LabelStatDto> = labels
        .iter()
        .map(|(l, n)| LabelStatDto { label: (*l).to_owned(), name: names.and_then(|t| t.name(l)).map(str::to_owned), notes: *n })
        .collect();
    label_rows.sort_by(|a, b| b.notes.total().cmp(&a.notes.total()).then_with(|| a.label.cmp(&b.label)));
    let rare_labels = label_rows.iter().filter(|l| l.notes.total() < RARE).count() as u64;
    let multi_label = records.iter().any(|r| r.labels.len() > 1);
    let unlabelled = records.iter().filter(|r| r.labels.is_empty()).count() as u64;
    let length = lengths(records, count, tokenizer);
    let duplicates = duplicates(records);
    let patients = patients(records);
    let mut out = DatasetStatsDto {
        dataset_id: 0,
        name: String::new(),
        notes: records.len() as u64,
        splits,
        unlabelled,
        labels: label_rows,
        rare_labels,
        rare_threshold: RARE,
        multi_label,
        length,
        duplicates,
        patients,
        phi: Vec::new(),
        warnings: Vec::new(),
    };
    out.warnings = warnings(&out);
    out
}

fn warnings(s: &DatasetStatsDto) -> Vec<String> {
    let mut out = Vec::new();
    let list = |ls: &[&LabelStatDto]| {
        let shown: Vec<&str> = ls.iter().take(5).map(|l| l.label.as_str()).collect();
        let more = if ls.len() > 5 { format!(" and {} more", ls.len() - 5) } else { String::new() };
        format!("{}{more}", shown.join(", "))
    };
    if s.splits.train == 0 {
        out.push("no note is in the training split: nothing to train on".to_owned());
    }
    let untrainable: Vec<&LabelStatDto> = s.labels.iter().filter(|l| l.notes.train == 0).collect();
    if !untrainable.is_empty() {
        out.push(format!("{} labels have no training note and cannot be learned: {}", untrainable.len(), list(&untrainable)));
    }
    if s.splits.validation < MIN_VALIDATION {
        out.push(format!(
            "the validation split has {} notes: too few to choose thresholds or the best epoch (at least {MIN_VALIDATION})",
            s.splits.validation
        ));
    } else if s.multi_label {
        let blind: Vec<&LabelStatDto> = s.labels.iter().filter(|l| l.notes.train > 0 && l.notes.validation == 0).collect();
        if !blind.is_empty() {
            out.push(format!("{} labels have no validation note, so their thresholds cannot be chosen: {}", blind.len(), list(&blind)));
        }
    }
    if s.splits.test == 0 {
        out.push("no note is in the test split: a run cannot be evaluated on unseen notes".to_owned());
    }
    if s.rare_labels > 0 && !s.labels.is_empty() {
        out.push(format!("{} of {} labels have fewer than {RARE} notes: expect little precision or recall on them", s.rare_labels, s.labels.len()));
    }
    if s.duplicates.across_splits > 0 {
        out.push(format!(
            "{} pairs of identical or nearly identical notes cross from training into validation or test: those figures will be optimistic",
            s.duplicates.across_splits
        ));
    }
    if s.patients.across_splits > 0 {
        out.push(format!("{} patients have notes in more than one split: the test notes are not of unseen patients", s.patients.across_splits));
    }
    if let Some(quick) = s.length.presets.first() {
        if quick.share > 0.25 {
            out.push(format!(
                "the {} preset reads {} tokens and cuts {:.0}% of the notes: consider a longer preset",
                quick.preset,
                quick.max_len,
                100.0 * quick.share
            ));
        }
    }
    out
}

fn percentile(sorted: &[usize], p: f64) -> usize {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn lengths(records: &[Record], count: &dyn Fn(&str) -> usize, tokenizer: String) -> LengthStatsDto {
    let mut n: Vec<usize> = records.iter().map(|r| count(&r.text)).collect();
    n.sort_unstable();
    let mut bins: Vec<LengthBinDto> = BINS.iter().map(|&b| LengthBinDto { up_to: Some(b), notes: 0 }).collect();
    bins.push(LengthBinDto { up_to: None, notes: 0 });
    for &len in &n {
        let i = BINS.iter().position(|&b| len <= b).unwrap_or(BINS.len());
        bins[i].notes += 1;
    }
    let presets = [Preset::Quick, Preset::Balanced, Preset::Thorough]
        .into_iter()
        .map(|p| {
            let max_len = p.config().max_len;
            let truncated = n.iter().filter(|&&len| len > max_len).count() as u64;
            let preset = serde_json::to_value(p).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            PresetCutDto { preset, max_len, truncated, share: if n.is_empty() { 0.0 } else { truncated as f64 / n.len() as f64 } }
        })
        .collect();
    LengthStatsDto {
        tokenizer,
        counted: n.len() as u64,
        median: percentile(&n, 0.5),
        p90: percentile(&n, 0.9),
        max: n.last().copied().unwrap_or(0),
        bins,
        presets,
    }
}

/// Lower-case words of letters and digits.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// FNV-1a, seeded: a stable hash (the std hasher's seed changes between runs).
fn fnv(bytes: &[u8], seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A note's word 5-grams, hashed (the whole note as one shingle when it is shorter).
fn shingles(text: &str) -> HashSet<u64> {
    let w = words(text);
    if w.len() < 5 {
        return HashSet::from([fnv(w.join(" ").as_bytes(), 0)]);
    }
    w.windows(5).map(|g| fnv(g.join(" ").as_bytes(), 0)).collect()
}

fn jaccard(a: &HashSet<u64>, b: &HashSet<u64>) -> f64 {
    let inter = a.intersection(b).count();
    let union = a.len() + b.len() - inter;
    if union == 0 { 1.0 } else { inter as f64 / union as f64 }
}

const HASHES: usize = 64;
const BANDS: usize = 16;

/// Exact duplicates by normalised text; near duplicates by MinHash over word 5-grams, with
/// banding (16 bands of 4 rows: pairs above 0.8 Jaccard collide with probability above 0.99)
/// and every candidate pair verified by its exact Jaccard.
fn duplicates(records: &[Record]) -> DuplicatesDto {
    let mut out = DuplicatesDto { near_threshold: NEAR, ..Default::default() };
    let mut first: HashMap<String, usize> = HashMap::new();
    let mut pairs: Vec<(usize, usize, f64)> = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let key = words(&r.text).join(" ");
        match first.get(&key) {
            Some(&j) => {
                out.exact += 1;
                pairs.push((j, i, 1.0));
            }
            None => {
                first.insert(key, i);
            }
        }
    }
    let exact_of: HashSet<usize> = pairs.iter().map(|p| p.1).collect();
    let sets: Vec<HashSet<u64>> = records.iter().map(|r| shingles(&r.text)).collect();
    let signature = |s: &HashSet<u64>| -> [u64; HASHES] {
        let mut sig = [u64::MAX; HASHES];
        for &x in s {
            for (k, slot) in sig.iter_mut().enumerate() {
                *slot = (*slot).min(fnv(&x.to_le_bytes(), k as u64 + 1));
            }
        }
        sig
    };
    let mut buckets: HashMap<(usize, u64), Vec<usize>> = HashMap::new();
    for (i, s) in sets.iter().enumerate() {
        if exact_of.contains(&i) {
            continue;
        }
        let sig = signature(s);
        let rows = HASHES / BANDS;
        for band in 0..BANDS {
            let bytes: Vec<u8> = sig[band * rows..(band + 1) * rows].iter().flat_map(|v| v.to_le_bytes()).collect();
            buckets.entry((band, fnv(&bytes, 0))).or_default().push(i);
        }
    }
    let mut seen: HashSet<(usize, usize)> = HashSet::new();
    for members in buckets.values() {
        for (x, &i) in members.iter().enumerate() {
            for &j in &members[x + 1..] {
                if !seen.insert((i, j)) {
                    continue;
                }
                let sim = jaccard(&sets[i], &sets[j]);
                if sim >= NEAR {
                    out.near_pairs += 1;
                    pairs.push((i, j, sim));
                }
            }
        }
    }
    let crosses = |a: Split, b: Split| (a == Split::Train) != (b == Split::Train);
    out.across_splits = pairs.iter().filter(|&&(i, j, _)| crosses(records[i].split, records[j].split)).count() as u64;
    pairs.sort_by(|a, b| b.2.total_cmp(&a.2).then((a.0, a.1).cmp(&(b.0, b.1))));
    out.examples = pairs
        .iter()
        .take(20)
        .map(|&(i, j, similarity)| DuplicatePairDto { a: records[i].id, b: records[j].id, similarity, splits: [records[i].split.to_string(), records[j].split.to_string()] })
        .collect();
    out
}

fn patients(records: &[Record]) -> PatientsDto {
    let mut by: HashMap<&str, (u64, HashSet<Split>)> = HashMap::new();
    for r in records {
        if let Some(p) = r.patient_id.as_deref().filter(|p| !p.is_empty()) {
            let e = by.entry(p).or_default();
            e.0 += 1;
            e.1.insert(r.split);
        }
    }
    let mut hist: BTreeMap<u64, u64> = BTreeMap::new();
    for (n, _) in by.values() {
        *hist.entry(*n).or_default() += 1;
    }
    PatientsDto {
        notes_with_patient: by.values().map(|v| v.0).sum(),
        patients: by.len() as u64,
        max_notes: by.values().map(|v| v.0).max().unwrap_or(0),
        notes_per_patient: hist.into_iter().map(|(n, p)| [n, p]).collect(),
        across_splits: by.values().filter(|v| v.1.len() > 1).count() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: i64, text: &str, labels: &[&str], split: Split, patient: Option<&str>) -> Record {
        Record {
            id,
            dataset_id: 1,
            external_id: None,
            patient_id: patient.map(str::to_owned),
            text: text.to_owned(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
            split,
            source_line: id as u64,
        }
    }

    fn words_count(t: &str) -> usize {
        words(t).len()
    }

    const LONG: &str = "patient reports chest pain radiating to the left arm since this morning with sweating and nausea, \
                        no prior cardiac history, blood pressure elevated on arrival. electrocardiogram shows st elevation \
                        in the inferior leads, troponin pending, aspirin given in the ambulance and cardiology paged for \
                        urgent catheterisation; the family was informed and consent was obtained at the bedside";

    #[test]
    fn labels_splits_and_the_long_tail() {
        let mut rs: Vec<Record> = (0..24).map(|i| record(i, &format!("note number {i} about flu"), &["flu"], if i < 20 { Split::Train } else { Split::Validation }, None)).collect();
        rs.push(record(100, "cough and wheeze", &["asthma"], Split::Test, None));
        rs.push(record(101, "nothing recorded", &[], Split::Train, None));
        let s = statistics(&rs, None, &words_count, "words".into());
        assert_eq!((s.notes, s.unlabelled, s.splits), (26, 1, SplitCountsDto { train: 21, validation: 4, test: 1 }));
        assert_eq!(s.labels[0].label, "flu");
        assert_eq!(s.labels[0].notes, SplitCountsDto { train: 20, validation: 4, test: 0 });
        assert_eq!((s.rare_labels, s.multi_label), (1, false));
        let w = s.warnings.join("\n");
        assert!(w.contains("1 labels have no training note and cannot be learned: asthma"), "{w}");
        assert!(w.contains("validation split has 4 notes"), "{w}");
        assert!(w.contains("1 of 2 labels have fewer than 5 notes"), "{w}");
    }

    #[test]
    fn lengths_against_presets() {
        let rs = vec![record(1, "a b c", &["x"], Split::Train, None), record(2, &"w ".repeat(300), &["x"], Split::Train, None), record(3, &"w ".repeat(5000), &["x"], Split::Test, None)];
        let s = statistics(&rs, None, &words_count, "words".into());
        assert_eq!((s.length.counted, s.length.median, s.length.max), (3, 300, 5000));
        let bins: Vec<u64> = s.length.bins.iter().map(|b| b.notes).collect();
        assert_eq!(bins, [1, 0, 0, 0, 1, 0, 0, 0, 1]);
        let quick = &s.length.presets[0];
        assert_eq!(quick.preset, "quick");
        let longer = [300usize, 5000].iter().filter(|&&n| n > quick.max_len).count() as u64;
        assert_eq!(quick.truncated, longer);
    }

    #[test]
    fn exact_and_near_duplicates_and_the_pairs_that_cross_splits() {
        let near = LONG.replace("this morning", "this  Morning").replace("nausea", "mild nausea");
        let rs = vec![
            record(1, LONG, &["mi"], Split::Train, None),
            record(2, &LONG.to_uppercase(), &["mi"], Split::Test, None),
            record(3, &near, &["mi"], Split::Train, None),
            record(4, "an unrelated note about a sprained ankle after football practice yesterday evening", &["sprain"], Split::Train, None),
        ];
        let s = statistics(&rs, None, &words_count, "words".into());
        assert_eq!(s.duplicates.exact, 1, "case and spacing aside, note 2 repeats note 1");
        assert_eq!(s.duplicates.near_pairs, 1, "{:?}", s.duplicates.examples);
        let p = &s.duplicates.examples[1];
        assert_eq!((p.a, p.b), (1, 3));
        assert!(p.similarity >= NEAR && p.similarity < 1.0, "{}", p.similarity);
        assert_eq!(s.duplicates.across_splits, 1, "only the exact copy lies in test");
        assert!(s.warnings.iter().any(|w| w.contains("1 pairs of identical or nearly identical notes cross")), "{:?}", s.warnings);
    }

    #[test]
    fn notes_per_patient_and_patients_across_splits() {
        let rs = vec![
            record(1, "a", &["x"], Split::Train, Some("p1")),
            record(2, "b", &["x"], Split::Test, Some("p1")),
            record(3, "c", &["x"], Split::Train, Some("p2")),
            record(4, "d", &["x"], Split::Train, Some("p2")),
            record(5, "e", &["x"], Split::Train, Some("p2")),
            record(6, "f", &["x"], Split::Train, None),
        ];
        let s = statistics(&rs, None, &words_count, "words".into());
        assert_eq!((s.patients.notes_with_patient, s.patients.patients, s.patients.max_notes, s.patients.across_splits), (5, 2, 3, 1));
        assert_eq!(s.patients.notes_per_patient, vec![[2, 1], [3, 1]]);
    }

    #[test]
    fn an_empty_dataset_says_what_is_missing() {
        let s = statistics(&[], None, &words_count, "words".into());
        assert_eq!((s.notes, s.length.median, s.duplicates.exact), (0, 0, 0));
        assert!(s.warnings.iter().any(|w| w.contains("nothing to train on")), "{:?}", s.warnings);
    }
}
