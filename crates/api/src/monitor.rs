//! Watching a model once it is in use. Every suggestion shown is logged without the note's text
//! (`suggestion_log`, migration 10): the model, the note's length in words, the share of its words
//! the model's training notes never used, the top labels with their probabilities and, for a
//! stored case, its recorded labels. [`Api::monitor`] turns the log and the clinicians' verdicts
//! into weekly figures per model:
//! - quality: acceptance of suggestions (accepted / judged), the share of cases whose recorded
//!   diagnosis is in the top 5, and calibration (mean top probability against top-1 accuracy);
//! - input drift against the training notes: a population stability index (PSI) on note length
//!   in words and on the predicted top label's shares (against the labels' shares in training),
//!   corrected for the week's size ([`week_psi`]), and the mean share of unseen words;
//! - alerts where a week crosses the thresholds an admin sets ([`Thresholds`]).
//!
//! Replaying dated notes through a model ([`Api::replay`]) logs them as of their dates, to
//! back-test a model on last month's notes before trusting it with this month's.

use crate::suggest::{ModelChoice, SuggestionDto};
use crate::{Api, ApiError, Command, Permit, Result};
use localdx_job::{Cancel, Meter, Reporter};
use localdx_store::{NewLoggedSuggestion, Split};
use localdx_train::checkpoint::RunFiles;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

const SETTING: &str = "monitor.thresholds";
/// Upper edges of the note-length bins, in words (the last bin is open).
const LENGTH_BINS: [u64; 6] = [25, 50, 100, 200, 400, 800];
/// How many top labels a log row keeps.
const LOGGED: usize = 5;

/// Where a week raises an alert. A PSI above 0.25 is the usual mark of a population that has
/// shifted; 0.1 to 0.25 of one that is moving.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Thresholds {
    /// Fewer suggestions in a week than this, and the week is shown but judged on nothing.
    pub min_suggestions: u64,
    pub min_acceptance: f64,
    pub min_top5: f64,
    pub max_psi: f64,
    pub max_unseen: f64,
    /// Mean top probability minus top-1 accuracy, in absolute value.
    pub max_calibration_gap: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { min_suggestions: 10, min_acceptance: 0.5, min_top5: 0.6, max_psi: 0.25, max_unseen: 0.3, max_calibration_gap: 0.15 }
    }
}

/// One model's weeks.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelWatchDto {
    pub model: String,
    /// The task (imported dataset) the model serves, when known.
    pub dataset_id: Option<i64>,
    /// Whether the model is the one promoted for that task.
    pub in_use: bool,
    pub weeks: Vec<WeekDto>,
    /// Weeks with at least one alert.
    pub weeks_alerting: usize,
}

/// One week (Monday to Sunday, UTC) of one model.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WeekDto {
    /// The week's Monday, YYYY-MM-DD.
    pub week: String,
    pub suggestions: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub acceptance: Option<f64>,
    /// Suggestions for stored cases, whose recorded labels are known.
    pub with_gold: u64,
    pub top5_share: Option<f64>,
    pub mean_top_probability: f64,
    pub top1_accuracy: Option<f64>,
    pub calibration_gap: Option<f64>,
    pub mean_words: f64,
    pub length_psi: Option<f64>,
    pub unseen_share: Option<f64>,
    pub label_psi: Option<f64>,
    pub alerts: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitorDto {
    pub thresholds: Thresholds,
    pub models: Vec<ModelWatchDto>,
}

/// A dated note to replay through a model.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayNoteDto {
    /// When the note was written (YYYY-MM-DD, or a full timestamp).
    pub at: String,
    pub text: String,
    /// Its recorded labels, when known.
    #[serde(default)]
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayDto {
    pub model: String,
    pub notes: u64,
}

/// What a model's training notes looked like: their words, lengths and labels.
struct Reference {
    task: Option<i64>,
    vocabulary: HashSet<String>,
    /// Training notes per length bin, and per label.
    lengths: Vec<u64>,
    labels: BTreeMap<String, u64>,
}

/// References by workspace, model and released version (training data never changes: releases
/// are immutable).
static REFERENCES: Mutex<BTreeMap<String, Arc<Reference>>> = Mutex::new(BTreeMap::new());

/// Lower-case words of letters and digits.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase)
}

fn length_bin(words: u64) -> usize {
    LENGTH_BINS.iter().position(|&b| words <= b).unwrap_or(LENGTH_BINS.len())
}

/// Population stability index of `actual` against `expected` (shares over the same bins), with
/// a small floor so that an empty bin does not make it infinite.
pub fn psi(actual: &[f64], expected: &[f64]) -> f64 {
    const FLOOR: f64 = 1e-4;
    actual.iter().zip(expected).map(|(&a, &e)| (a - e) * ((a + FLOOR) / (e + FLOOR)).ln()).sum()
}

/// The PSI of a week's `counts` against the training notes' `reference` counts over the same
/// bins, corrected for the samples' sizes: two samples of `n` and `m` notes from one population
/// differ by a PSI of about `(bins - 1) (1/n + 1/m)` (the PSI is close to a chi-square statistic),
/// which for 60 notes over 24 labels is 0.38, above the usual alert mark with no drift at all.
/// Both get half a note per bin (Jeffreys), so that an empty bin weighs what sampling makes of
/// it, and the expected sampling PSI is subtracted (floored at 0).
pub fn week_psi(counts: &[u64], reference: &[u64]) -> Option<f64> {
    let (n, m): (u64, u64) = (counts.iter().sum(), reference.iter().sum());
    let bins = counts.len();
    if n == 0 || m == 0 || bins < 2 || reference.len() != bins {
        return None;
    }
    let smooth = |c: &[u64], total: u64| -> Vec<f64> { c.iter().map(|&x| (x as f64 + 0.5) / (total as f64 + 0.5 * bins as f64)).collect() };
    let sampling = (bins - 1) as f64 * (1.0 / n as f64 + 1.0 / m as f64);
    Some((psi(&smooth(counts, n), &smooth(reference, m)) - sampling).max(0.0))
}

/// Days since 1970-01-01 of a `YYYY-MM-DD...` date (proleptic Gregorian).
fn days_from_civil(date: &str) -> Option<i64> {
    let y: i64 = date.get(0..4)?.parse().ok()?;
    let m: i64 = date.get(5..7)?.parse().ok()?;
    let d: i64 = date.get(8..10)?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// The Monday (YYYY-MM-DD) of the week holding `at`; 1970-01-01 was a Thursday.
fn week_of(at: &str) -> Option<String> {
    let days = days_from_civil(at)?;
    Some(crate::eval::civil_date(days - (days + 3).rem_euclid(7)))
}

impl Api {
    /// The training notes' reference for `choice` (its released version's train split).
    fn reference(&self, store: &Permit<'_>, choice: &ModelChoice) -> Result<Option<Arc<Reference>>> {
        let version = match choice {
            ModelChoice::Run { run_id } => {
                let files = RunFiles::open(&self.run_dir(run_id)?, &self.vault())?;
                match files.meta.context.get("dataset_id").and_then(|d| d.parse::<i64>().ok()) {
                    Some(v) => v,
                    None => return Ok(None),
                }
            }
            ModelChoice::Base { dataset_id, .. } => *dataset_id,
        };
        let key = format!("{}\u{0}{}\u{0}{version}", self.layout.db.display(), choice.name());
        if let Some(r) = REFERENCES.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(Some(r.clone()));
        }
        let task = Some(store.release_of_version(version)?.map_or(version, |r| r.dataset_id));
        let mut vocabulary = HashSet::new();
        let mut lengths = vec![0u64; LENGTH_BINS.len() + 1];
        let mut labels: BTreeMap<String, u64> = BTreeMap::new();
        for r in store.records(version, 0, u64::MAX, None)?.into_iter().filter(|r| r.split == Split::Train) {
            let mut n = 0;
            for w in words(&r.text) {
                n += 1;
                vocabulary.insert(w);
            }
            lengths[length_bin(n)] += 1;
            for l in r.labels {
                *labels.entry(l).or_default() += 1;
            }
        }
        let r = Arc::new(Reference { task, vocabulary, lengths, labels });
        REFERENCES.lock().unwrap_or_else(|p| p.into_inner()).insert(key, r.clone());
        Ok(Some(r))
    }

    /// Logs a suggestion that was shown (no note text is kept). `record_id` names a stored case
    /// (its recorded labels are logged with it), `gold` gives them for a replayed note, `at` its
    /// date (now when `None`).
    pub(crate) fn log_shown(&self, choice: &ModelChoice, text: &str, shown: &SuggestionDto, record_id: Option<i64>, gold: Option<Vec<String>>, at: Option<&str>) -> Result<()> {
        let store = self.permit(Command::Predict)?;
        let reference = self.reference(&store, choice)?;
        let note: Vec<String> = words(text).collect();
        let unseen = reference.as_ref().filter(|_| !note.is_empty()).map(|r| note.iter().filter(|w| !r.vocabulary.contains(*w)).count() as f64 / note.len() as f64);
        let gold = match (gold, record_id) {
            (Some(g), _) => Some(g),
            (None, Some(id)) => store.record_labels(id)?,
            (None, None) => None,
        };
        let top: Vec<(String, f64)> = shown.labels.iter().take(LOGGED).map(|l| (l.label.clone(), l.probability)).collect();
        store.log_suggestion(&NewLoggedSuggestion {
            at,
            actor: self.actor(),
            model: &shown.model,
            dataset_id: reference.as_ref().and_then(|r| r.task),
            record_id,
            words: note.len() as u64,
            unseen,
            top: &top,
            gold: gold.as_deref(),
        })?;
        Ok(())
    }

    /// Replays dated notes through the model `choice` names, logging each suggestion as of its
    /// note's date (top 5, no attribution): a back-test of the model on notes of past weeks.
    pub fn replay(&self, choice: &ModelChoice, notes: &[ReplayNoteDto], reporter: &dyn Reporter, cancel: &Cancel) -> Result<ReplayDto> {
        self.check(Command::Predict)?;
        for (i, n) in notes.iter().enumerate() {
            if week_of(&n.at).is_none() {
                return Err(ApiError::invalid(format!("note {}: the date {:?} is not YYYY-MM-DD", i + 1, n.at)));
            }
        }
        let p = self.load_model(choice)?;
        let names = crate::suggest::names_in(&self.layout.models);
        let mut meter = Meter::new("replay", "notes", Some(notes.len() as u64), reporter);
        for (i, n) in notes.iter().enumerate() {
            if cancel.is_cancelled() {
                return Err(ApiError::new(crate::ErrorCode::Cancelled, format!("replay cancelled after {i} notes; those are logged")));
            }
            let shown = crate::suggest::suggest(&p, &choice.name(), &n.text, LOGGED, None, names.as_ref())?;
            let gold = (!n.labels.is_empty()).then(|| n.labels.clone());
            self.log_shown(choice, &n.text, &shown, None, gold, Some(&n.at))?;
            meter.tick(i as u64 + 1);
        }
        meter.finish(notes.len() as u64);
        Ok(ReplayDto { model: choice.name(), notes: notes.len() as u64 })
    }

    /// The alert thresholds (defaults until an admin sets them).
    pub fn monitor_thresholds(&self) -> Result<Thresholds> {
        let store = self.permit(Command::Evaluate)?;
        Ok(match store.setting(SETTING)? {
            Some(json) => serde_json::from_str(&json).map_err(|e| ApiError::invalid(format!("the stored monitoring thresholds do not parse: {e}")))?,
            None => Thresholds::default(),
        })
    }

    /// Sets the alert thresholds (admins); audited with the old and new values.
    pub fn set_monitor_thresholds(&self, t: &Thresholds) -> Result<Thresholds> {
        let unit = [t.min_acceptance, t.min_top5, t.max_unseen, t.max_calibration_gap];
        if unit.iter().any(|v| !(0.0..=1.0).contains(v)) || !(t.max_psi >= 0.0) {
            return Err(ApiError::invalid("shares and gaps lie between 0 and 1, and the PSI limit is not negative"));
        }
        let before = self.monitor_thresholds()?;
        let store = self.permit(Command::ConfigureMonitoring)?;
        let value = serde_json::to_value(t).map_err(|e| ApiError::new(crate::ErrorCode::Internal, e.to_string()))?;
        store.atomically(|| {
            store.set_setting(SETTING, &value.to_string())?;
            self.audit("monitor.thresholds", "monitoring", serde_json::to_value(before).unwrap_or_default(), value.clone(), "")
        })?;
        Ok(*t)
    }

    /// Weekly quality and drift figures per model (of one model when given), oldest week first.
    pub fn monitor(&self, model: Option<&str>) -> Result<MonitorDto> {
        let thresholds = self.monitor_thresholds()?;
        let store = self.permit(Command::Evaluate)?;
        let logged = store.logged_suggestions(model)?;
        let feedback = store.feedback()?;
        let mut by_model: BTreeMap<String, Vec<localdx_store::LoggedSuggestion>> = BTreeMap::new();
        for l in logged {
            by_model.entry(l.model.clone()).or_default().push(l);
        }
        let mut models = Vec::new();
        for (name, rows) in by_model {
            // A run's training notes are its release's train split. A base model's rows name the
            // task, not the release its zero-shot head read, so it is watched without drift
            // figures (its unseen-word share was measured when each suggestion was logged).
            let choice = (!name.starts_with("base:")).then(|| ModelChoice::Run { run_id: name.clone() });
            // A run deleted since is watched without a reference too.
            let reference = match &choice {
                Some(c) => self.reference(&store, c).unwrap_or(None),
                None => None,
            };
            let dataset_id = reference.as_ref().and_then(|r| r.task).or_else(|| rows.iter().find_map(|r| r.dataset_id));
            let in_use = match dataset_id {
                Some(d) => store.current_promotion(d)?.is_some_and(|p| p.run_id == name),
                None => false,
            };
            let mut verdicts: HashMap<String, (u64, u64)> = HashMap::new();
            for f in feedback.iter().filter(|f| f.model == name) {
                let Some(week) = week_of(&f.created_at) else { continue };
                let v = verdicts.entry(week).or_default();
                match f.verdict.as_str() {
                    "accept" => v.0 += 1,
                    "reject" => v.1 += 1,
                    _ => {}
                }
            }
            let mut weeks: BTreeMap<String, Vec<&localdx_store::LoggedSuggestion>> = BTreeMap::new();
            for r in &rows {
                if let Some(w) = week_of(&r.at) {
                    weeks.entry(w).or_default().push(r);
                }
            }
            let weeks: Vec<WeekDto> = weeks.into_iter().map(|(week, rows)| {
                let (accepted, rejected) = verdicts.get(&week).copied().unwrap_or_default();
                week_figures(week, &rows, accepted, rejected, reference.as_deref(), &thresholds)
            }).collect();
            let weeks_alerting = weeks.iter().filter(|w| !w.alerts.is_empty()).count();
            models.push(ModelWatchDto { model: name, dataset_id, in_use, weeks, weeks_alerting });
        }
        Ok(MonitorDto { thresholds, models })
    }
}

fn mean(v: impl Iterator<Item = f64>) -> Option<f64> {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| s / n as f64)
}

fn week_figures(week: String, rows: &[&localdx_store::LoggedSuggestion], accepted: u64, rejected: u64, reference: Option<&Reference>, t: &Thresholds) -> WeekDto {
    let n = rows.len() as u64;
    let judged = accepted + rejected;
    let acceptance = (judged > 0).then(|| accepted as f64 / judged as f64);
    let gold: Vec<(&localdx_store::LoggedSuggestion, &Vec<String>)> = rows.iter().filter_map(|r| r.gold.as_ref().filter(|g| !g.is_empty()).map(|g| (*r, g))).collect();
    let top5_share = mean(gold.iter().map(|(r, g)| if r.top.iter().take(5).any(|(l, _)| g.contains(l)) { 1.0 } else { 0.0 }));
    let top1_accuracy = mean(gold.iter().map(|(r, g)| if r.top.first().is_some_and(|(l, _)| g.contains(l)) { 1.0 } else { 0.0 }));
    let mean_top_probability = mean(rows.iter().filter_map(|r| r.top.first().map(|t| t.1))).unwrap_or(0.0);
    let gold_top = mean(gold.iter().filter_map(|(r, _)| r.top.first().map(|t| t.1)));
    let calibration_gap = top1_accuracy.zip(gold_top).map(|(acc, p)| p - acc);
    let mean_words = mean(rows.iter().map(|r| r.words as f64)).unwrap_or(0.0);
    let unseen_share = mean(rows.iter().filter_map(|r| r.unseen));
    let (length_psi, label_psi) = match reference {
        Some(r) => {
            let mut lengths = vec![0u64; LENGTH_BINS.len() + 1];
            for row in rows {
                lengths[length_bin(row.words)] += 1;
            }
            let mut tops: BTreeMap<&str, u64> = BTreeMap::new();
            for row in rows {
                if let Some((l, _)) = row.top.first() {
                    *tops.entry(l.as_str()).or_default() += 1;
                }
            }
            let labels: Vec<&str> = r.labels.keys().map(String::as_str).chain(tops.keys().copied()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
            let actual: Vec<u64> = labels.iter().map(|l| tops.get(l).copied().unwrap_or(0)).collect();
            let expected: Vec<u64> = labels.iter().map(|l| r.labels.get(*l).copied().unwrap_or(0)).collect();
            (week_psi(&lengths, &r.lengths), week_psi(&actual, &expected))
        }
        None => (None, None),
    };
    let mut alerts = Vec::new();
    if n >= t.min_suggestions {
        let pct = |x: f64| format!("{:.0}%", 100.0 * x);
        if let Some(a) = acceptance.filter(|&a| judged >= 5 && a < t.min_acceptance) {
            alerts.push(format!("clinicians accepted {} of judged suggestions (below {})", pct(a), pct(t.min_acceptance)));
        }
        if let Some(s) = top5_share.filter(|&s| gold.len() >= 5 && s < t.min_top5) {
            alerts.push(format!("the recorded diagnosis was in the top 5 for {} of cases (below {})", pct(s), pct(t.min_top5)));
        }
        if let Some(g) = calibration_gap.filter(|&g| gold.len() >= 5 && g.abs() > t.max_calibration_gap) {
            alerts.push(format!("top probabilities are {} points {} than top-1 accuracy", (100.0 * g.abs()).round(), if g > 0.0 { "higher" } else { "lower" }));
        }
        if let Some(p) = length_psi.filter(|&p| p > t.max_psi) {
            alerts.push(format!("note lengths shifted from the training notes (PSI {p:.2} > {:.2})", t.max_psi));
        }
        if let Some(p) = label_psi.filter(|&p| p > t.max_psi) {
            alerts.push(format!("the predicted labels' shares shifted from training (PSI {p:.2} > {:.2})", t.max_psi));
        }
        if let Some(u) = unseen_share.filter(|&u| u > t.max_unseen) {
            alerts.push(format!("{} of the notes' words never occur in the training notes (above {})", pct(u), pct(t.max_unseen)));
        }
    }
    WeekDto {
        week,
        suggestions: n,
        accepted,
        rejected,
        acceptance,
        with_gold: gold.len() as u64,
        top5_share,
        mean_top_probability,
        top1_accuracy,
        calibration_gap,
        mean_words,
        length_psi,
        unseen_share,
        label_psi,
        alerts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shares(counts: &[u64]) -> Vec<f64> {
        let n: u64 = counts.iter().sum();
        counts.iter().map(|&c| c as f64 / n as f64).collect()
    }

    #[test]
    fn weeks_start_on_monday() {
        assert_eq!(days_from_civil("1970-01-01"), Some(0));
        assert_eq!(days_from_civil("2000-02-29T10:00:00Z"), Some(11_016));
        assert_eq!(days_from_civil("2026-11-22"), Some(20_779));
        assert_eq!(week_of("2026-12-04T03:00:00Z").as_deref(), Some("2026-11-30"), "a Friday");
        assert_eq!(week_of("2026-11-30").as_deref(), Some("2026-11-30"), "a Monday is its own week");
        assert_eq!(week_of("2026-12-06").as_deref(), Some("2026-11-30"), "a Sunday ends it");
        assert_eq!(week_of("1970-01-01").as_deref(), Some("1969-12-29"));
        assert_eq!(week_of("yesterday"), None);
        assert_eq!(week_of("2026-13-01"), None);
    }

    #[test]
    fn psi_is_zero_for_the_same_shares_and_grows_with_the_shift() {
        let base = [0.25, 0.25, 0.25, 0.25];
        assert!(psi(&base, &base).abs() < 1e-12);
        let small = psi(&[0.3, 0.2, 0.25, 0.25], &base);
        let large = psi(&[0.7, 0.1, 0.1, 0.1], &base);
        assert!(small > 0.0 && small < 0.1 && large > 0.25, "{small} {large}");
        // An empty bin does not make it infinite.
        assert!(psi(&[1.0, 0.0], &[0.0, 1.0]).is_finite());
    }

    #[test]
    fn a_week_drawn_from_the_training_shares_is_not_drift_however_many_labels() {
        // 60 notes over 24 equally likely labels, as a multinomial sample would fall, against
        // 40 training notes of each: raw PSI near 0.4, corrected near 0; a week of one label only
        // stays far above the mark.
        let expected = vec![1.0 / 24.0; 24];
        let reference = vec![40u64; 24];
        let mut state = 7u64;
        let mut counts = vec![0u64; 24];
        for _ in 0..60 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            counts[((state >> 33) % 24) as usize] += 1;
        }
        let raw = psi(&shares(&counts), &expected);
        let corrected = week_psi(&counts, &reference).unwrap();
        assert!(raw > 0.25 && corrected < 0.25, "raw {raw}, corrected {corrected}");
        let mut one = vec![0u64; 24];
        one[0] = 60;
        assert!(week_psi(&one, &reference).unwrap() > 1.0);
        assert_eq!(week_psi(&[0, 0], &[5, 5]), None);
        // A reference with empty bins (all training notes short) and a week like it: no drift.
        assert!(week_psi(&[12, 0, 0, 0], &[10, 0, 0, 0]).unwrap() < 0.05);
    }
}
