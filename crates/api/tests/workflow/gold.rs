//! Detector quality on a steward's gold sample (figures computed by hand below), who may see it,
//! and context words learned from an added span changing the next detection run.

use super::*;
use localdx_api::gold::QualityFindingDto;
use localdx_api::review::{DecisionDto, ReviewSpanDto};
use localdx_api::ErrorCode;

const N1: &str = "Seen by Dr. Marder on 10/18/2003. Moved to blue unit.";
const N2: &str = "Dr. Marder reviewed the chart on 11/02/2003.";
const N3: &str = "Patient transferred to blue unit for observation.";

fn span(api: &Api, record: i64, text: &str) -> ReviewSpanDto {
    let note = api.review_note(record).unwrap();
    note.spans.into_iter().find(|s| s.text == text).unwrap_or_else(|| panic!("no span {text:?} in record {record}"))
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

#[test]
fn quality_on_a_reviewed_gold_sample_matches_hand_counts() {
    let dir = tempfile::tempdir().unwrap();
    drop(workspace(dir.path()));
    let s = login(dir.path(), STEWARD);
    let id = import(&s, dir.path(), &[("n1", N1, "flu"), ("n2", N2, "flu"), ("n3", N3, "cold")]);
    let ids: Vec<i64> = s.records(id, 0, 10, None).unwrap().records.iter().map(|r| r.id).collect();
    let (r1, r2, r3) = (ids[0], ids[1], ids[2]);

    let drawn = s.gold_sample(id, 3, Some(11)).unwrap();
    assert_eq!(drawn.record_ids, ids, "a sample of every note");
    assert_eq!(s.gold_sample(id, 1, None).unwrap_err().code, ErrorCode::InvalidInput, "nothing left to draw");
    assert_eq!(s.gold_sample(id, 0, None).unwrap_err().code, ErrorCode::InvalidInput);

    s.review_detect(id, &(), &Cancel::new()).unwrap();
    // Note 1: both detections right, "blue unit" missed and added. Note 2: "Marder" rejected (the
    // detector was wrong here), the date right. Note 3 stays open, so it is not measured yet.
    s.review_decide(span(&s, r1, "Marder").id, &DecisionDto::Accept, "").unwrap();
    s.review_decide(span(&s, r1, "10/18/2003").id, &DecisionDto::Accept, "").unwrap();
    let at = N1.find("blue unit").unwrap();
    s.review_add_span(r1, at, at + 9, "location", "").unwrap();
    s.review_sign_off(r1).unwrap();
    s.review_decide(span(&s, r2, "Marder").id, &DecisionDto::Reject, "").unwrap();
    s.review_decide(span(&s, r2, "11/02/2003").id, &DecisionDto::Accept, "").unwrap();
    s.review_sign_off(r2).unwrap();

    let q = s.review_quality(id).unwrap();
    let status: Vec<(i64, &str)> = q.notes.iter().map(|n| (n.record_id, n.status.as_str())).collect();
    assert_eq!(status, vec![(r1, "measured"), (r2, "measured"), (r3, "open")]);
    assert_eq!(q.measured, 2);
    // Gold: Marder, 10/18/2003, blue unit (note 1); 11/02/2003 (note 2). Detections: Marder and the
    // date in each note. Spans: 3 of 4 gold found; 3 of 4 detections on gold.
    assert_eq!((q.gold_spans, q.detected_spans), (4, 4));
    assert!(close(Some(q.span_recall), 0.75) && close(Some(q.span_precision), 0.75), "{q:?}");
    // Tokens: gold Marder + 10 18 2003 + blue unit (6, 4 found) and 11 02 2003 (3, found) = 7 of 9;
    // detected Marder + 3 date tokens per note = 8, 7 of them gold.
    assert_eq!(q.gold_tokens, 9);
    assert!(close(Some(q.token_recall), 7.0 / 9.0) && close(Some(q.token_precision), 7.0 / 8.0), "{q:?}");
    let row = |t: &str| q.per_type.iter().find(|r| r.entity == t).unwrap_or_else(|| panic!("no row {t}")).clone();
    let (name, date, location) = (row("name"), row("date"), row("location"));
    assert_eq!((name.support, name.found, name.detected), (1, 1, 2));
    assert!(close(name.span_recall, 1.0) && close(name.span_precision, 0.5) && close(name.token_precision, 0.5));
    assert_eq!((date.support, date.detected), (2, 2));
    assert!(close(date.span_recall, 1.0) && close(date.span_precision, 1.0));
    assert_eq!((location.support, location.found, location.detected, location.span_precision), (1, 0, 0, None));
    assert!(close(location.span_recall, 0.0));
    let brief = |f: &QualityFindingDto| (f.record_id, f.entity.clone(), f.text.clone(), f.before.clone(), f.after.clone());
    assert_eq!(q.misses.iter().map(brief).collect::<Vec<_>>(), vec![(r1, "location".into(), "blue unit".into(), "n by Dr. Marder on 10/18/2003. Moved to ".into(), ".".into())], "40 chars each side");
    assert_eq!((q.misses[0].start, q.misses[0].end), (at, at + 9), "char offsets into the note");
    assert_eq!(q.false_positives.iter().map(brief).collect::<Vec<_>>(), vec![(r2, "name".into(), "Marder".into(), "Dr. ".into(), " reviewed the chart on 11/02/2003.".into())]);
    assert_eq!((q.misses_total, q.false_positives_total), (1, 1));
    drop(s);

    // Gold is raw PHI: clinicians may neither see the quality report nor manage gold notes.
    let c = login(dir.path(), CLINICIAN);
    assert_eq!(c.review_quality(id).unwrap_err().code, ErrorCode::Forbidden);
    assert_eq!(c.gold_sample(id, 1, Some(1)).unwrap_err().code, ErrorCode::Forbidden);
    assert_eq!(c.gold_import(id, &dir.path().join("gold.jsonl"), "deid-jsonl").unwrap_err().code, ErrorCode::Forbidden);
    drop(c);

    let admin = login(dir.path(), ADMIN);
    let sampled = admin.audit_list(&serde_json::from_value(serde_json::json!({"action": "gold.sample"})).unwrap()).unwrap();
    assert_eq!(sampled.len(), 1);
    assert_eq!((sampled[0].actor.as_str(), sampled[0].after["seed"].as_u64()), ("sam", Some(11)));
    assert!(admin.audit_verify(None).unwrap().ok);
}

#[test]
fn a_confirmed_context_word_finds_the_same_pattern_in_another_note() {
    let dir = tempfile::tempdir().unwrap();
    drop(workspace(dir.path()));
    let s = login(dir.path(), STEWARD);
    let a = "Parcel sent c/o Qxelbrandt yesterday.";
    let b = "Letters now go c/o Vrendakis at the farm.";
    let id = import(&s, dir.path(), &[("a", a, "flu"), ("b", b, "flu")]);
    let ids: Vec<i64> = s.records(id, 0, 10, None).unwrap().records.iter().map(|r| r.id).collect();
    let has = |api: &Api, record: i64, text: &str| api.review_note(record).unwrap().spans.iter().any(|s| s.text == text);

    s.review_detect(id, &(), &Cancel::new()).unwrap();
    assert!(!has(&s, ids[0], "Qxelbrandt") && !has(&s, ids[1], "Vrendakis"), "an unknown word after an unusual cue scores below the threshold");
    let at = a.find("Qxelbrandt").unwrap();
    s.review_add_span(ids[0], at, at + 10, "name", "missed").unwrap();
    let terms = s.review_terms().unwrap();
    let listed: Vec<(&str, &str, Option<&str>)> = terms.iter().map(|t| (t.list.as_str(), t.term.as_str(), t.entity.as_deref())).collect();
    assert_eq!(listed, vec![("deny", "Qxelbrandt", Some("name")), ("context", "c/o", Some("name"))], "the name itself is never a context word");

    // Proposed only: nothing changes. Confirmed: the next run finds the pattern in the other note.
    assert_eq!(s.review_detect(id, &(), &Cancel::new()).unwrap().context_terms, 0);
    assert!(!has(&s, ids[1], "Vrendakis"));
    s.review_confirm_term(terms[1].id).unwrap();
    let run = s.review_detect(id, &(), &Cancel::new()).unwrap();
    assert_eq!((run.context_terms, run.deny_terms), (1, 0));
    let found = span(&s, ids[1], "Vrendakis");
    assert_eq!((found.entity.as_str(), found.explanation["contextWord"].as_str(), found.explanation["contextLearned"].as_bool()), ("name", Some("c/o"), Some(true)));
}
