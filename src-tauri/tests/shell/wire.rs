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
