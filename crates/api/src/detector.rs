//! The PHI detector the API runs wherever notes are scanned (review detection, the release's
//! leakage rescan, `phi detect`): the rules of `localdx-phi` and, when its encoder is installed in
//! the models folder, the learned tagger of `localdx-tagger`, as one recall-first union through
//! `Engine::detect_with` (thresholds, allow and deny lists and merging apply to both).
//!
//! When the tagger cannot be loaded (encoder not fetched, a truncated or altered file) the
//! detector runs the rules alone and says so in [`DetectorDto::warning`]; it never drops the
//! model silently. The tagger is loaded once per models folder and process (about 90 MB).

use crate::Permit;
use crate::{Api, ApiError, ErrorCode, Result};
use localdx_phi::{Detection, Engine, PhiConfig};
use localdx_tagger::Tagger;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Which sources ran, and why one did not.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DetectorDto {
    /// `rules`, and `tagger` when the model ran.
    pub sources: Vec<String>,
    /// The retrained head in use (`detector_versions` id); none when the shipped head runs.
    pub version: Option<i64>,
    /// Set when the tagger was meant to run and did not (the reason, naming the file), or failed
    /// on some notes, which were then scanned by the rules alone.
    pub warning: Option<String>,
}

type Loaded = Arc<std::result::Result<Arc<Tagger>, String>>;


static TAGGERS: Mutex<BTreeMap<PathBuf, Loaded>> = Mutex::new(BTreeMap::new());

/// The shipped tagger on the encoder in `models`, loaded once per folder.
pub fn tagger(models: &Path) -> Loaded {
    let mut loaded = TAGGERS.lock().unwrap_or_else(|p| p.into_inner());
    loaded.entry(models.to_path_buf()).or_insert_with(|| Arc::new(Tagger::load(models).map(Arc::new).map_err(|e| e.to_string()))).clone()
}

/// The rules and, when it loads, the tagger.
pub struct Detector {
    engine: Engine,
    tagger: Option<Arc<Tagger>>,
    version: Option<i64>,
    unavailable: Option<String>,
    failures: AtomicUsize,
}

impl Detector {
    /// The rules of `config` with the tagger of `models` (rules alone if it does not load).
    pub fn new(config: PhiConfig, models: &Path) -> Detector {
        let (tagger, unavailable) = match &*tagger(models) {
            Ok(t) => (Some(t.clone()), None),
            Err(e) => (None, Some(format!("rules only: {e}"))),
        };
        Detector { engine: Engine::new(config), tagger, version: None, unavailable, failures: AtomicUsize::new(0) }
    }

    /// The rules of `config` with a given tagger (a retrained version, `version`).
    pub fn with_tagger(config: PhiConfig, tagger: Arc<Tagger>, version: Option<i64>) -> Detector {
        Detector { engine: Engine::new(config), tagger: Some(tagger), version, unavailable: None, failures: AtomicUsize::new(0) }
    }

    /// The rules alone (for callers that compare sources).
    pub fn rules_only(config: PhiConfig) -> Detector {
        Detector { engine: Engine::new(config), tagger: None, version: None, unavailable: None, failures: AtomicUsize::new(0) }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn tagger(&self) -> Option<&Tagger> {
        self.tagger.as_deref()
    }

    /// The union's detections in `text`.
    pub fn detect(&self, text: &str) -> Vec<Detection> {
        let Some(tagger) = &self.tagger else { return self.engine.detect(text) };
        match tagger.detect(text) {
            Ok(found) => self.engine.detect_with(text, found),
            Err(_) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                self.engine.detect(text)
            }
        }
    }

    /// What ran so far.
    pub fn dto(&self) -> DetectorDto {
        let mut sources = vec!["rules".to_string()];
        if self.tagger.is_some() {
            sources.push("tagger".to_string());
        }
        let failures = self.failures.load(Ordering::Relaxed);
        let warning = self.unavailable.clone().or_else(|| {
            (failures > 0).then(|| format!("the tagger failed on {failures} notes; they were scanned by the rules alone"))
        });
        DetectorDto { sources, version: self.version, warning }
    }
}

impl Api {
    /// The detector for this workspace: `config`'s rules with the tagger from its models folder,
    /// carrying the newest retrained head the workspace kept (the shipped head when none).
    /// A scan of text the caller holds (`phi detect` on a text) needs only `DetectPhi`.
    pub fn detector(&self, config: PhiConfig) -> Result<Detector> {
        let store = self.permit(crate::Command::DetectPhi)?;
        self.detector_for(&store, config)
    }

    /// [`Api::detector`] for an operation that already holds its permit (review, release, redact).
    pub(crate) fn detector_for(&self, store: &Permit<'_>, config: PhiConfig) -> Result<Detector> {
        Ok(match self.active_tagger(store)? {
            Some((tagger, version)) => Detector::with_tagger(config, tagger, version),
            None => Detector::new(config, &self.layout.models),
        })
    }

    /// The tagger detection runs in this workspace and its version (None: the shipped head);
    /// `Ok(None)` when the encoder cannot be loaded.
    pub(crate) fn active_tagger(&self, store: &Permit<'_>) -> Result<Option<(Arc<Tagger>, Option<i64>)>> {
        let shipped = match &*tagger(&self.layout.models) {
            Ok(t) => t.clone(),
            Err(_) => return Ok(None),
        };
        let Some((version, head)) = store.active_detector()? else { return Ok(Some((shipped, None))) };
        let card: localdx_tagger::HeadCard = serde_json::from_str(&version.card)
            .map_err(|e| ApiError::new(ErrorCode::Internal, format!("detector version {}: its card does not parse: {e}", version.id)))?;
        let tagger = Tagger::with_encoder(shipped.encoder_arc(), &head, card)
            .map_err(|e| ApiError::new(ErrorCode::Internal, format!("detector version {}: {e}", version.id)))?;
        Ok(Some((Arc::new(tagger), Some(version.id))))
    }

    /// Detects PHI in one text the caller holds (the app's typed note) with this workspace's
    /// detector: its PHI configuration, and its retrained head when one is kept.
    pub fn detect_text(&self, text: &str) -> Result<Vec<crate::phi::SpanDto>> {
        let detector = self.detector(self.phi_config()?)?;
        Ok(crate::phi::TextDetector::from_detector(detector).detect(text))
    }

    /// The models folder of this workspace.
    pub fn models_dir(&self) -> &Path {
        &self.layout.models
    }
}
