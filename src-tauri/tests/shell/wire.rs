//! The UI's hand-written DTO types against the JSON the API really produces.
//!
//! A tiny CSV goes through every dataset function of `localdx_api::Api` on a temporary database;
//! each JSON object's keys must equal the fields of the matching interface in
//! `ui/src/lib/backend.ts`. Reads and writes only a temporary directory.

use localdx_api::datasets::ImportOptionsDto;
use localdx_api::{Api, ApiError, Cancel, ErrorCode, Progress};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Interfaces = BTreeMap<String, BTreeSet<String>>;

/// The field names of every `export interface` in `source` (with `extends` folded in). Only what
/// the UI writes is understood: one field per line, indented two spaces, `}` closing at column 0.
fn interfaces(source: &str) -> Interfaces {
    let mut found = Interfaces::new();
    let mut current: Option<String> = None;
    for line in source.lines() {
        if let Some(rest) = line.strip_prefix("export interface ") {
            let mut words = rest.split_whitespace();
            let name = words.next().unwrap_or_default().to_owned();
            let mut fields = BTreeSet::new();
            if words.next() == Some("extends") {
                let base = words.next().unwrap_or_default();
                fields.extend(found.get(base).cloned().unwrap_or_default());
            }
            found.insert(name.clone(), fields);
            current = Some(name);
        } else if line.starts_with('}') {
            current = None;
        } else if let (Some(name), Some(field)) = (&current, field_name(line)) {
            found.get_mut(name).map(|f| f.insert(field));
        }
    }
    found
}

fn field_name(line: &str) -> Option<String> {
    let rest = line.strip_prefix("  ")?;
    if rest.starts_with(' ') {
        return None;
    }
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let after = &rest[name.len()..];
    (!name.is_empty() && (after.starts_with(':') || after.starts_with("?:"))).then_some(name)
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn interfaces_are_read_from_typescript() {
    let ts = "export interface A {\n  id: number;\n  name?: string | null;\n  nested: { x: number }[];\n}\n\
              export interface B extends A {\n  more: boolean;\n    notAField: 1;\n}\n";
    let found = interfaces(ts);
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(found["A"], names(&["id", "name", "nested"]));
    assert_eq!(found["B"], names(&["id", "name", "nested", "more"]));
    // Negative rows: comments, code and deeper lines are not fields.
    assert_eq!(field_name("  // id: number"), None);
    assert_eq!(field_name("  invoke('x', { a: 1 })"), None);
    assert_eq!(field_name("    deep: number;"), None);
}

/// Every interface of backend.ts is compared with real API JSON by a test of this file: its name
/// appears here as a string. A new interface without a check fails this test.
#[test]
fn every_interface_of_backend_ts_is_checked() {
    let ts = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/backend.ts")).expect("backend.ts");
    let here = include_str!("wire.rs");
    let unchecked: Vec<String> = interfaces(&ts).into_keys().filter(|name| !here.contains(&format!("\"{name}\","))).collect();
    assert!(unchecked.is_empty(), "interfaces of backend.ts no test compares with the API's JSON: {unchecked:?}");
}

#[test]
fn backend_ts_matches_the_api_json() {
    let ts_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/backend.ts");
    let ts = std::fs::read_to_string(&ts_path).expect("ui/src/lib/backend.ts is readable");
    let ui = interfaces(&ts);

    let dir = tempfile::tempdir().expect("a temporary directory");
    let api = Api::open(&dir.path().join("wire.sqlite"), None).expect("a fresh database opens");
    let csv = dir.path().join("notes.csv");
    std::fs::write(
        &csv,
        "note_id,patient_id,note,diagnosis\nA1,P1,Chest pain on exertion,I20.9\nA2,P2,,I10\n",
    )
    .expect("the CSV is written");

    let mut seen: Vec<(&str, Value)> = Vec::new();
    let mut add = |name: &'static str, v: Value| seen.push((name, v));

    let preview = api
        .preview_import(&csv, &ImportOptionsDto::default())
        .expect("preview");
    let preview = serde_json::to_value(preview).expect("json");
    add("Roles", preview["roles"].clone());
    add("Preview", preview);

    let options: ImportOptionsDto = serde_json::from_value(serde_json::json!({
        "textColumn": "note", "labelColumn": "diagnosis", "patientColumn": "patient_id",
        "idColumn": "note_id", "skipBadRows": true
    }))
    .expect("options");
    add(
        "ImportOptions",
        serde_json::to_value(&options).expect("json"),
    );
    let seen_progress = std::sync::Mutex::new(None);
    let reporter = |p: &Progress| {
        if let Ok(mut s) = seen_progress.lock() {
            *s = Some(p.clone());
        }
    };
    let report = api
        .import(&csv, &options, &reporter, &Cancel::new())
        .expect("import");
    let id = report.dataset_id.expect("the import stored a dataset");
    let report = serde_json::to_value(report).expect("json");
    add("RowError", report["errors"][0].clone());
    add("SplitCount", report["splits"][0].clone());
    add("ImportReport", report);
    let progress = seen_progress
        .into_inner()
        .ok()
        .flatten()
        .expect("the import reported progress");
    add("Progress", serde_json::to_value(progress).expect("json"));

    add(
        "Dataset",
        serde_json::to_value(&api.datasets().expect("datasets")[0]).expect("json"),
    );
    let detail = serde_json::to_value(api.dataset(id).expect("dataset")).expect("json");
    add("LabelCount", detail["labels"][0].clone());
    add("DatasetDetail", detail);
    // Statistics of a dataset with a repeated note, after PHI detection.
    let repeated = dir.path().join("repeated.csv");
    std::fs::write(&repeated, "note,dx\nSeen by Dr. John Smith on 2024-03-02 for chest pain.,I20.9\nSeen by Dr. John Smith on 2024-03-02 for chest pain.,I20.9\nCough for two weeks.,J20\n")
        .expect("the CSV is written");
    let guessed = ImportOptionsDto::default();
    let repeated = api.import(&repeated, &guessed, &|_: &Progress| {}, &Cancel::new()).expect("import").dataset_id.expect("stored");
    api.review_detect(repeated, &|_: &Progress| {}, &Cancel::new()).expect("detect");
    let stats = serde_json::to_value(api.dataset_stats(repeated).expect("stats")).expect("json");
    add("SplitCounts", stats["splits"].clone());
    add("LabelStat", stats["labels"][0].clone());
    add("LengthStats", stats["length"].clone());
    add("LengthBin", stats["length"]["bins"][0].clone());
    add("PresetCut", stats["length"]["presets"][0].clone());
    add("Duplicates", stats["duplicates"].clone());
    add("DuplicatePair", stats["duplicates"]["examples"][0].clone());
    add("Patients", stats["patients"].clone());
    add("PhiType", stats["phi"][0].clone());
    add("DatasetStats", stats);
    let page = serde_json::to_value(api.records(id, 0, 10, None).expect("records")).expect("json");
    add("NoteRecord", page["records"][0].clone());
    add("RecordPage", page);
    let missing = api.record(i64::MAX).expect_err("no such record");
    add("ApiError", serde_json::to_value(&missing).expect("json"));

    for (name, json) in &seen {
        let got = keys(json);
        assert!(
            !got.is_empty(),
            "{name}: the API produced no object: {json}"
        );
        assert_eq!(
            ui.get(*name),
            Some(&got),
            "{name} in backend.ts differs from the API's JSON {json}"
        );
    }

    // Every error code the API can send is one the UI's ApiError type names.
    let codes = [
        ErrorCode::InvalidInput,
        ErrorCode::NotFound,
        ErrorCode::Cancelled,
        ErrorCode::Store,
        ErrorCode::Internal,
    ];
    for code in codes {
        let wire = serde_json::to_value(ApiError::new(code, "")).expect("json")["code"]
            .as_str()
            .map(|c| format!("'{c}'"))
            .expect("a string code");
        assert!(
            ts.contains(&wire),
            "backend.ts does not name the error code {wire}"
        );
    }
}

/// The types of the Training, Suggestions and Reports screens against the API's JSON. Values come
/// from real API calls where no model is needed (plan without models, PHI, feedback, evaluation);
/// the model-bound DTOs are serialized from values built here, which checks their field names.
#[test]
fn training_suggestion_and_report_types_match_the_api_json() {
    use localdx_api::eval::{evaluate_scores, report_csv, EvalOptions, FactDto, PredictionRow, ReportDto, Scores, ScoredIn};
    use localdx_api::suggest::{AttributionDto, EvidenceDto, FeedbackInputDto, SuggestedLabelDto, SuggestionDto};
    use localdx_api::training::{RunDto, TrainDoneDto, TrainEvent, TrainProgressDto, TrainRequest};

    let ts_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/backend.ts");
    let ui = interfaces(&std::fs::read_to_string(&ts_path).expect("ui/src/lib/backend.ts is readable"));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let api = Api::open(&dir.path().join("wire.sqlite"), None).expect("a fresh database opens");
    let csv = dir.path().join("notes.csv");
    let mut lines = String::from("note,diagnosis\n");
    for i in 0..30 {
        lines.push_str(&format!("note {i} about {},{}\n", ["cough", "rash", "thirst"][i % 3], ["J45", "L30.9", "E11.9"][i % 3]));
    }
    std::fs::write(&csv, lines).expect("the CSV is written");
    let options: ImportOptionsDto =
        serde_json::from_value(serde_json::json!({"textColumn": "note", "labelColumn": "diagnosis"})).expect("options");
    let id = api.import(&csv, &options, &|_: &Progress| {}, &Cancel::new()).expect("import").dataset_id.expect("stored");

    let mut seen: Vec<(&str, Value)> = Vec::new();
    let metrics: localdx_api::training::Metrics =
        serde_json::from_value(serde_json::json!({"accuracy": 0.5, "macro_f1": 0.4, "micro_f1": 0.5, "count": 10})).expect("metrics");
    let run = RunDto {
        run_id: "run-1".into(),
        status: "finished".into(),
        dataset_id: Some(id.to_string()),
        model: "default".into(),
        epochs: 3,
        rank: 8,
        dp: false,
        zero_shot: Some(metrics),
        best: Some(metrics),
        epsilon: None,
    };
    let run = serde_json::to_value(run).expect("json");
    seen.push(("Metrics", run["best"].clone()));
    seen.push(("Run", run));
    seen.push(("TrainRequest", serde_json::to_value(TrainRequest::default()).expect("json")));
    let events = [
        TrainEvent::Started { storage: "dense".into(), steps_total: 10, train: 20, validation: 5, noise_multiplier: None },
        TrainEvent::ZeroShot { metrics },
        TrainEvent::Step { step: 1, steps_total: 10, loss: 1.2, lr: 1e-3, tokens_per_second: 300.0, eta_seconds: 12.0 },
        TrainEvent::Validation { epoch: 0, metrics, improved: true },
        TrainEvent::Checkpoint { step: 1 },
    ];
    for e in &events {
        seen.push(("TrainProgress", serde_json::to_value(TrainProgressDto::from_event("run-1", e)).expect("json")));
    }
    let done = TrainDoneDto { run_id: "run-1".into(), ok: false, error: Some(ApiError::new(ErrorCode::Cancelled, "stopped")) };
    seen.push(("TrainDone", serde_json::to_value(done).expect("json")));
    let promotion = localdx_api::promotion::PromotionDto {
        id: 1,
        dataset_id: 1,
        run_id: "run-1".into(),
        version_id: 2,
        report_sha256: "ab".repeat(32),
        metrics: serde_json::json!({"cases": 10, "macroF1": 0.8}),
        reason: "read the report".into(),
        promoted_by: "sam".into(),
        promoted_at: "2026-12-04T04:00:00.000Z".into(),
        ended_by: None,
        ended_at: None,
        end_reason: None,
    };
    seen.push(("Promotion", serde_json::to_value(promotion).expect("json")));
    // Monitoring: the thresholds and the (empty) monitor from the API; a week and a model's
    // weeks built here (they need a model's logged suggestions).
    seen.push(("MonitorThresholds", serde_json::to_value(api.monitor_thresholds().expect("thresholds")).expect("json")));
    seen.push(("Monitor", serde_json::to_value(api.monitor(None).expect("monitor")).expect("json")));
    let week = localdx_api::monitor::WeekDto {
        week: "2026-11-30".into(),
        suggestions: 12,
        accepted: 3,
        rejected: 1,
        acceptance: Some(0.75),
        with_gold: 10,
        top5_share: Some(0.9),
        mean_top_probability: 0.6,
        top1_accuracy: Some(0.5),
        calibration_gap: Some(0.1),
        mean_words: 40.0,
        length_psi: Some(0.02),
        unseen_share: Some(0.1),
        label_psi: Some(0.05),
        alerts: vec![],
    };
    seen.push(("MonitorWeek", serde_json::to_value(&week).expect("json")));
    let watch = localdx_api::monitor::ModelWatchDto { model: "run-1".into(), dataset_id: Some(1), in_use: true, weeks: vec![week], weeks_alerting: 0 };
    seen.push(("ModelWatch", serde_json::to_value(watch).expect("json")));
    // Retraining from feedback (a trained successor is needed for real values).
    let made = localdx_api::successor::FeedbackDatasetDto { dataset_id: 5, name: "notes feedback".into(), notes: 3, verdicts: 4, from_records: vec![7, 9] };
    seen.push(("FeedbackDataset", serde_json::to_value(made).expect("json")));
    let compared = localdx_api::successor::SuccessorDto {
        successor: "run-2".into(),
        compared_with: "run-1".into(),
        held_out: 10,
        left_out: 2,
        macro_f1_before: 0.8,
        macro_f1_after: 0.82,
        difference: 0.02,
        low: -0.05,
        high: 0.09,
        p_value: 0.6,
        offered: true,
    };
    seen.push(("SuccessorComparison", serde_json::to_value(compared).expect("json")));

    // The plan is real; the models folder holds the default model when it was fetched.
    let models = std::env::var_os("LOCALDX_MODELS").map(std::path::PathBuf::from).unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../models"));
    // Training reads released versions only: review (one bulk decision) and release first.
    let quiet = |_: &Progress| {};
    api.review_detect(id, &quiet, &Cancel::new()).expect("detect");
    let bulk = localdx_api::review::BulkAcceptDto { sign_off: true, ..Default::default() };
    api.review_accept_all(id, &bulk).expect("accept");
    api.release(id, localdx_api::phi::StrategyDto::Surrogate, &quiet, &Cancel::new()).expect("release");
    let api = api.with_models(&models);
    let plan = serde_json::to_value(api.train_plan(id).expect("plan")).expect("json");
    seen.push(("PresetEstimate", plan["presets"][0].clone()));
    if plan["models"][0].is_object() {
        seen.push(("ModelChoice", plan["models"][0].clone()));
    } else {
        eprintln!("ModelChoice not checked: no model in {}", models.display());
    }
    seen.push(("TrainPlan", plan));

    let spans = api.detect_text("Seen by Dr. John Smith on 2024-03-02, phone 555-123-4567.").expect("detect");
    seen.push(("PhiSpan", serde_json::to_value(&spans[0]).expect("json")));

    let suggestion = SuggestionDto {
        model: "run-1".into(),
        labels: vec![SuggestedLabelDto {
            label: "J45".into(),
            probability: 0.7,
            icd10: true,
            name: None,
            evidence: vec![EvidenceDto { start: 0, end: 6, text: "asthma".into(), negated: false, relative: false }],
        }],
        attribution: vec![AttributionDto { start: 0, end: 5, text: "cough".into(), drop: 0.2 }],
        tokens: 5,
        max_tokens: 64,
        windows: 1,
        score_seconds: 0.1,
        attribution_seconds: 0.1,
    };
    let suggestion = serde_json::to_value(suggestion).expect("json");
    seen.push(("SuggestedLabel", suggestion["labels"][0].clone()));
    seen.push(("Evidence", suggestion["labels"][0]["evidence"][0].clone()));
    seen.push(("Attribution", suggestion["attribution"][0].clone()));
    seen.push(("Suggestion", suggestion));
    let input = FeedbackInputDto {
        dataset_id: Some(id),
        record_id: None,
        note_text: Some("typed".into()),
        save_note: false,
        model: "run-1".into(),
        label: "J45".into(),
        verdict: "accept".into(),
        probability: Some(0.7),
    };
    seen.push(("FeedbackInput", serde_json::to_value(&input).expect("json")));
    seen.push(("Feedback", serde_json::to_value(api.save_feedback(&input).expect("feedback")).expect("json")));

    // A real evaluation with curves and a paired comparison (multi-class, so McNemar too).
    let row = |rid: i64, gold: &str, p: f64| PredictionRow {
        record_id: rid.into(),
        gold: vec![gold.into()],
        predictions: vec![ScoredIn { label: "a".into(), probability: p }, ScoredIn { label: "b".into(), probability: 1.0 - p }],
    };
    let a: Vec<PredictionRow> = (0..8).map(|i| row(i, if i % 2 == 0 { "a" } else { "b" }, if i < 6 { 0.8 } else { 0.3 })).collect();
    let b: Vec<PredictionRow> = (0..8).map(|i| row(i, if i % 2 == 0 { "a" } else { "b" }, 0.6)).collect();
    let opts = EvalOptions { curves: true, resamples: 50, ..EvalOptions::default() };
    let evaluation = evaluate_scores(&Scores { test: &a, validation: None }, Some(&Scores { test: &b, validation: None }), &opts).expect("evaluation");
    let facts = vec![("Run".to_string(), "run-1".to_string())];
    let report = ReportDto {
        title: "t".into(),
        facts: facts.iter().map(|(n, v)| FactDto { name: n.clone(), value: v.clone() }).collect(),
        compared_with: Some("base:default".into()),
        csv: report_csv(&facts, &evaluation),
        evaluation,
        html: String::new(),
    };
    let report = serde_json::to_value(report).expect("json");
    let e = &report["evaluation"];
    seen.push(("AtK", e["top_k_recall"][0].clone()));
    seen.push(("LabelRow", e["per_label"][0].clone()));
    seen.push(("LabelCurve", e["pr_curves"][0].clone()));
    seen.push(("PrCurve", e["pr_curves"][0]["curve"].clone()));
    seen.push(("Reliability", e["calibration"].clone()));
    seen.push(("CalibrationBin", e["calibration"]["bins"][0].clone()));
    seen.push(("NamedInterval", e["intervals"][0].clone()));
    seen.push(("Comparison", e["comparison"].clone()));
    seen.push(("PairedDiff", e["comparison"]["metrics"][0].clone()));
    seen.push(("McNemar", e["comparison"]["mcnemar"].clone()));
    seen.push(("Evaluation", e.clone()));
    seen.push(("Fact", report["facts"][0].clone()));
    seen.push(("Report", report));

    for (name, json) in &seen {
        let got = keys(json);
        assert!(!got.is_empty(), "{name}: the API produced no object: {json}");
        assert_eq!(ui.get(*name), Some(&got), "{name} in backend.ts differs from the API's JSON {json}");
    }
}

/// The types of the review screen's learned terms, gold notes and Detector quality panel against
/// the API's JSON: a real detection run, a gold sample reviewed with a rejection and an added
/// span (so there is a miss, a false positive and a context word), and the quality report.
#[test]
fn review_gold_and_quality_types_match_the_api_json() {
    use localdx_api::gold::GoldImportDto;
    use localdx_api::review::DecisionDto;

    let ts_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/backend.ts");
    let ui = interfaces(&std::fs::read_to_string(&ts_path).expect("ui/src/lib/backend.ts is readable"));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let api = Api::open(&dir.path().join("wire.sqlite"), None).expect("a fresh database opens");
    let csv = dir.path().join("notes.csv");
    let text = "Seen by Dr. Marder on 10/18/2003. Moved to blue unit.";
    std::fs::write(&csv, format!("note,dx\n\"{text}\",flu\n")).expect("the CSV is written");
    let options: ImportOptionsDto = serde_json::from_value(serde_json::json!({"textColumn": "note", "labelColumn": "dx"})).expect("options");
    let id = api.import(&csv, &options, &|_: &Progress| {}, &Cancel::new()).expect("import").dataset_id.expect("stored");

    let mut seen: Vec<(&str, Value)> = Vec::new();
    let sample = api.gold_sample(id, 1, Some(5)).expect("sample");
    let record = sample.record_ids[0];
    seen.push(("GoldSample", serde_json::to_value(&sample).expect("json")));
    let summary = serde_json::to_value(api.review_detect(id, &|_: &Progress| {}, &Cancel::new()).expect("detect")).expect("json");
    seen.push(("Detector", summary["detector"].clone()));
    seen.push(("DetectSummary", summary));
    let note = api.review_note(record).expect("note");
    let note_json = serde_json::to_value(&note).expect("json");
    seen.push(("ReviewSpan", note_json["spans"][0].clone()));
    seen.push(("ReviewNote", note_json));
    seen.push(("ReviewCounts", serde_json::to_value(api.review_counts(id).expect("counts")).expect("json")));
    for s in &note.spans {
        let decision = if s.entity == "date" { DecisionDto::Reject } else { DecisionDto::Accept };
        api.review_decide(s.id, &decision, "").expect("decide");
    }
    let at = text.find("blue unit").expect("in the text");
    api.review_add_span(record, at, at + 9, "location", "").expect("add");
    api.review_sign_off(record).expect("sign off");
    seen.push(("Term", serde_json::to_value(&api.review_terms().expect("terms")[0]).expect("json")));
    let bulk = localdx_api::review::BulkAcceptDto { sign_off: true, ..Default::default() };
    seen.push(("BulkAccept", serde_json::to_value(&bulk).expect("json")));
    seen.push(("BulkResult", serde_json::to_value(api.review_accept_all(id, &bulk).expect("bulk accept")).expect("json")));
    seen.push(("WorkspaceInfo", serde_json::to_value(localdx_api::workspace::WorkspaceInfoDto::for_db(&dir.path().join("wire.sqlite"))).expect("json")));
    let quality = serde_json::to_value(api.review_quality(id).expect("quality")).expect("json");
    seen.push(("GoldNote", quality["notes"][0].clone()));
    seen.push(("TypeQuality", quality["perType"][0].clone()));
    seen.push(("QualityFinding", quality["misses"][0].clone()));
    seen.push(("QualityFinding", quality["falsePositives"][0].clone()));
    seen.push(("Quality", quality));
    let import = GoldImportDto { dataset_id: id, format: "deid-jsonl".into(), notes: 1, spans: 2, unmatched: 1, unmatched_ids: vec!["7-1".into()] };
    seen.push(("GoldImport", serde_json::to_value(import).expect("json")));

    for (name, json) in &seen {
        let got = keys(json);
        assert!(!got.is_empty(), "{name}: the API produced no object: {json}");
        assert_eq!(ui.get(*name), Some(&got), "{name} in backend.ts differs from the API's JSON {json}");
    }
}

/// The types of the first-run, login, Accounts, Audit and Released screens against the API's JSON,
/// from real calls on an encrypted database (made as the first run makes it) and a release.
#[test]
fn account_audit_and_release_types_match_the_api_json() {
    use localdx_api::audit::AuditFilterDto;
    use localdx_api::{Credentials, WorkspaceState, WorkspaceStatusDto};

    let ts_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/backend.ts");
    let ts = std::fs::read_to_string(&ts_path).expect("ui/src/lib/backend.ts is readable");
    let ui = interfaces(&ts);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join("wire.sqlite");
    let api = Api::init(&db, &Credentials::new("ada", "ada-password-1")).expect("the first run creates the database");
    let user = api.add_user("sam", "steward", "sam-password-1").expect("a steward is added");

    let csv = dir.path().join("notes.csv");
    std::fs::write(&csv, "note,diagnosis\nSeen by Dr. John Smith on 2024-03-02.,I10\nCough at night.,J45\n").expect("the CSV is written");
    let options: ImportOptionsDto =
        serde_json::from_value(serde_json::json!({"textColumn": "note", "labelColumn": "diagnosis"})).expect("options");
    let id = api.import(&csv, &options, &|_: &Progress| {}, &Cancel::new()).expect("import").dataset_id.expect("stored");
    let quiet = |_: &Progress| {};
    api.review_detect(id, &quiet, &Cancel::new()).expect("detect");
    let bulk = localdx_api::review::BulkAcceptDto { sign_off: true, ..Default::default() };
    api.review_accept_all(id, &bulk).expect("accept");
    let release = api.release(id, localdx_api::phi::StrategyDto::Tag, &quiet, &Cancel::new()).expect("release");
    let page = api.released_records(release.version_id, 0, 10).expect("released records");

    let filter = AuditFilterDto { action: Some("user.".into()), limit: Some(10), ..Default::default() };
    let export = api.audit_export(&filter, "jsonl", &dir.path().join("audit.jsonl")).expect("export");
    let entries = api.audit_list(&AuditFilterDto::default()).expect("audit list");
    let verify = api.audit_verify(None).expect("verify");
    let open = WorkspaceStatusDto::new(WorkspaceState::Open, &db, Some(api.session()), None);
    let broken = WorkspaceStatusDto::new(WorkspaceState::Open, &db, None, Some(ApiError::new(ErrorCode::Store, "unreadable")));

    let json = |v: &dyn erased::Json| v.value();
    let seen: Vec<(&str, Value)> = vec![
        ("Session", json(&api.session())),
        ("User", json(&user)),
        ("WorkspaceStatus", json(&open)),
        ("WorkspaceStatus", json(&broken)),
        ("AuditEntry", json(&entries[0])),
        ("AuditFilter", json(&filter)),
        ("AuditVerify", json(&verify)),
        ("AuditExport", json(&export)),
        ("Release", json(&release)),
        ("RecordPage", json(&page)),
    ];
    for (name, json) in &seen {
        let got = keys(json);
        assert!(!got.is_empty(), "{name}: the API produced no object: {json}");
        assert_eq!(ui.get(*name), Some(&got), "{name} in backend.ts differs from the API's JSON {json}");
    }
    // The states and roles the UI branches on are the ones the API sends.
    for state in [WorkspaceState::FirstRun, WorkspaceState::Locked, WorkspaceState::Open] {
        let wire = serde_json::to_value(state).expect("json");
        assert!(ts.contains(&format!("'{}'", wire.as_str().expect("a string"))), "backend.ts does not name the state {wire}");
    }
    for code in [ErrorCode::Unauthorized, ErrorCode::Forbidden, ErrorCode::Blocked] {
        let wire = serde_json::to_value(ApiError::new(code, "")).expect("json")["code"].as_str().map(|c| format!("'{c}'")).expect("a code");
        assert!(ts.contains(&wire), "backend.ts does not name the error code {wire}");
    }
}

/// Serializing any DTO to a JSON value in one list.
mod erased {
    pub trait Json {
        fn value(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Json for T {
        fn value(&self) -> serde_json::Value {
            serde_json::to_value(self).expect("a DTO serializes")
        }
    }
}

/// The Detector quality tab's retraining types against the API's JSON, from a real retraining on
/// the encoder setup fetched (a gold sample of one note, two notes to learn from).
#[test]
fn retrain_types_match_the_api_json() {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    if !models.join("all-MiniLM-L6-v2/model.safetensors").is_file() {
        localdx_testkit::skip(&format!("no encoder in {}", models.display()));
        return;
    }
    let ts_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/backend.ts");
    let ui = interfaces(&std::fs::read_to_string(&ts_path).expect("ui/src/lib/backend.ts is readable"));
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::os::unix::fs::symlink(models.canonicalize().expect("models"), dir.path().join("models")).expect("link the models folder");
    let api = Api::open(&dir.path().join("wire.sqlite"), None).expect("a fresh database opens");
    let csv = dir.path().join("notes.csv");
    std::fs::write(&csv, "note,dx\nSeen by Dr. Marder on 10/18/2003.,flu\nDr. Okafor called 617-555-0134.,flu\nMrs. Lindqvist seen 3/4/2019.,cold\n").expect("the CSV is written");
    let options: ImportOptionsDto = serde_json::from_value(serde_json::json!({"textColumn": "note", "labelColumn": "dx"})).expect("options");
    let id = api.import(&csv, &options, &|_: &Progress| {}, &Cancel::new()).expect("import").dataset_id.expect("stored");
    api.gold_sample(id, 1, Some(5)).expect("sample");
    let summary = serde_json::to_value(api.review_detect(id, &|_: &Progress| {}, &Cancel::new()).expect("detect")).expect("json");
    let bulk = localdx_api::review::BulkAcceptDto { sign_off: true, ..Default::default() };
    api.review_accept_all(id, &bulk).expect("accept");
    let retrain = serde_json::to_value(api.review_retrain_detector(id, &|_: &Progress| {}, &Cancel::new()).expect("retrain")).expect("json");
    let versions = serde_json::to_value(api.detector_versions().expect("versions")).expect("json");
    let spans = api.detect_text("Seen by Dr. John Smith on 2024-03-02.").expect("detect");

    let seen: Vec<(&str, Value)> = vec![
        ("Detector", summary["detector"].clone()),
        ("Retrain", retrain.clone()),
        ("GoldFigures", retrain["before"].clone()),
        ("RetrainEpoch", retrain["epochs"][0].clone()),
        ("PieceScore", retrain["epochs"][0]["validation"].clone()),
        ("DetectorVersion", versions[0].clone()),
        ("PhiSpan", serde_json::to_value(&spans[0]).expect("json")),
    ];
    assert_eq!(summary["detector"]["sources"], serde_json::json!(["rules", "tagger"]));
    for (name, json) in &seen {
        let got = keys(json);
        assert!(!got.is_empty(), "{name}: the API produced no object: {json}");
        assert_eq!(ui.get(*name), Some(&got), "{name} in backend.ts differs from the API's JSON {json}");
    }
}
