//! Detection into the review queue, decisions, learning, sign-off, release and its leakage scan,
//! and what clinicians can and cannot read.

use super::*;
use localdx_api::phi::StrategyDto;
use localdx_api::review::{BulkAcceptDto, DecisionDto, ReviewSpanDto};
use localdx_api::ErrorCode;

const N1: &str = "Seen by Dr. Marder on 10/18/2003. Moved to blue unit.";
const N2: &str = "Dr. Marder reviewed the chart on 11/02/2003.";
const N3: &str = "Patient transferred to blue unit for observation.";

fn spans(api: &Api, record: i64) -> Vec<ReviewSpanDto> {
    api.review_note(record).unwrap().spans
}

fn find<'a>(spans: &'a [ReviewSpanDto], text: &str) -> Option<&'a ReviewSpanDto> {
    spans.iter().find(|s| s.text == text)
}

#[test]
fn review_learn_sign_off_release_and_read_as_clinician() {
    let dir = tempfile::tempdir().unwrap();
    drop(workspace(dir.path()));
    let s = login(dir.path(), STEWARD);
    let id = import(&s, dir.path(), &[("n1", N1, "flu"), ("n2", N2, "flu"), ("n3", N3, "cold")]);
    let ids: Vec<i64> = s.records(id, 0, 10, None).unwrap().records.iter().map(|r| r.id).collect();
    let (r1, r2, r3) = (ids[0], ids[1], ids[2]);

    let first = s.review_detect(id, &(), &Cancel::new()).unwrap();
    assert_eq!((first.notes, first.per_type.get("name"), first.per_type.get("date")), (3, Some(&2), Some(&2)), "{first:?}");
    let marder1 = find(&spans(&s, r1), "Marder").unwrap().clone();
    assert_eq!((marder1.start, marder1.end, marder1.entity.as_str()), (12, 18, "name"));
    assert!(marder1.explanation["detector"].is_string(), "every span says why");
    assert!(find(&spans(&s, r3), "blue unit").is_none());

    // Reject "Marder" (say it is a device here) and add the missed "blue unit".
    s.review_decide(marder1.id, &DecisionDto::Reject, "device name in this clinic").unwrap();
    let at = N1.find("blue unit").unwrap();
    s.review_add_span(r1, at, at + 9, "location", "ward name").unwrap();
    let terms = s.review_terms().unwrap();
    let listed: Vec<(&str, &str, bool)> = terms.iter().map(|t| (t.list.as_str(), t.term.as_str(), t.confirmed)).collect();
    assert_eq!(listed, vec![("allow", "Marder", false), ("deny", "blue unit", false), ("context", "moved to", false)]);
    // Unconfirmed terms change nothing; confirmed ones change the next run.
    s.review_detect(id, &(), &Cancel::new()).unwrap();
    assert!(find(&spans(&s, r2), "Marder").is_some());
    for t in &terms {
        s.review_confirm_term(t.id).unwrap();
    }
    let again = s.review_detect(id, &(), &Cancel::new()).unwrap();
    assert_eq!((again.allow_terms, again.deny_terms), (1, 1));
    assert!(find(&spans(&s, r2), "Marder").is_none(), "allow-listed");
    assert_eq!(find(&spans(&s, r3), "blue unit").map(|x| x.entity.as_str()), Some("location"), "deny-listed");
    let n1 = s.review_note(r1).unwrap();
    assert_eq!(find(&n1.spans, "Marder").unwrap().state, localdx_store::SpanState::Rejected, "decisions survive a new run");

    // Resize, retype and undo.
    let date2 = find(&spans(&s, r2), "11/02/2003").unwrap().clone();
    let resized = s.review_decide(date2.id, &DecisionDto::Resize { start: date2.start - 3, end: date2.end }, "").unwrap();
    assert_eq!(resized.text, "on 11/02/2003");
    assert_eq!(s.review_decide(date2.id, &DecisionDto::Resize { start: 5, end: 2 }, "").unwrap_err().code, ErrorCode::InvalidInput);
    assert_eq!(s.review_decide(date2.id, &DecisionDto::Retype { entity: "planet".into() }, "").unwrap_err().code, ErrorCode::InvalidInput);
    let undone = s.review_undo(r2).unwrap();
    assert_eq!(find(&undone.spans, "11/02/2003").unwrap().state, localdx_store::SpanState::Undecided);

    // Sign-off and release are blocked while anything is undecided.
    assert_eq!(s.review_sign_off(r1).unwrap_err().code, ErrorCode::Blocked);
    let blocked = s.release(id, StrategyDto::Tag, &(), &Cancel::new()).unwrap_err();
    assert_eq!(blocked.code, ErrorCode::Blocked);
    assert!(blocked.message.contains("3 of 3 notes are not signed off"), "{}", blocked.message);

    let bulk = s.review_accept_all(id, &BulkAcceptDto { sign_off: true, spot_check: Some(2), seed: Some(9), ..Default::default() }).unwrap();
    assert_eq!((bulk.accepted, bulk.signed_off, bulk.open_notes, bulk.spot_check.len()), (3, 3, 0, 2), "{bulk:?}");
    assert_eq!(s.review_decide(marder1.id, &DecisionDto::Accept, "").unwrap_err().code, ErrorCode::Blocked, "signed off");

    let release = s.release(id, StrategyDto::Tag, &(), &Cancel::new()).unwrap();
    assert_eq!((release.dataset_id, release.records, release.strategy.as_str()), (id, 3, "tag"));
    assert_eq!(release.sha256.len(), 64);

    // A clinician reads the released version only.
    let c = login(dir.path(), CLINICIAN);
    let page = c.released_records(release.version_id, 0, 10).unwrap();
    let texts: Vec<&str> = page.records.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(texts, vec!["Seen by Dr. Marder on [DATE]. Moved to [LOCATION].", "Dr. Marder reviewed the chart on [DATE].", "Patient transferred to [LOCATION] for observation."]);
    assert!(page.records.iter().all(|r| r.external_id.as_deref().is_some_and(|x| x.starts_with("note-"))), "note ids are pseudonyms");
    for refused in [c.released_records(id, 0, 10).err(), c.records(id, 0, 10, None).err(), c.review_note(r1).err(), c.record(r1).err()] {
        assert_eq!(refused.map(|e| e.code), Some(ErrorCode::Forbidden));
    }
    assert_eq!(c.training_version(id).unwrap().version_id, release.version_id);
    assert_eq!(c.export_release(release.version_id, &dir.path().join("x.jsonl"), "jsonl").unwrap_err().code, ErrorCode::Forbidden);
    drop(c);

    // Export: the redacted text only; a raw dataset is refused.
    let out = dir.path().join("release.jsonl");
    let export = s.export_release(release.version_id, &out, "jsonl").unwrap();
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!((export.records, written.lines().count()), (3, 3));
    assert!(!written.contains("10/18/2003") && !written.contains("blue unit") && written.contains("[DATE]"));
    let csv = dir.path().join("release.csv");
    assert_eq!(s.export_release(release.version_id, &csv, "csv").unwrap().records, 3);
    assert_eq!(s.export_release(id, &csv, "csv").unwrap_err().code, ErrorCode::Forbidden);
    std::fs::remove_file(&out).unwrap();
    std::fs::remove_file(&csv).unwrap();
    assert_eq!(s.review_detect(release.version_id, &(), &Cancel::new()).unwrap_err().code, ErrorCode::InvalidInput, "released versions are not reviewed");

    // An unreleased dataset has no version for training; a configuration that now finds more PHI
    // blocks the next release with the leak listed.
    let id2 = import(&s, dir.path(), &[("m1", "Seen on Ward Nine today.", "flu")]);
    assert_eq!(s.training_version(id2).unwrap_err().code, ErrorCode::Blocked);
    s.review_detect(id2, &(), &Cancel::new()).unwrap();
    s.review_accept_all(id2, &BulkAcceptDto { sign_off: true, ..Default::default() }).unwrap();
    s.set_phi_config(r#"{"deny":[{"term":"Ward Nine","type":"location"}]}"#).unwrap();
    let leak = s.release(id2, StrategyDto::Mask, &(), &Cancel::new()).unwrap_err();
    assert_eq!(leak.code, ErrorCode::Blocked);
    assert!(leak.message.contains("leakage scan found 1") && leak.message.contains("\"Ward Nine\""), "{}", leak.message);
    assert!(s.releases(Some(id2)).unwrap().is_empty());
    drop(s);

    let admin = login(dir.path(), ADMIN);
    assert!(admin.audit_verify(None).unwrap().ok);
    let bulk_entries = admin.audit_list(&serde_json::from_value(serde_json::json!({"action": "review.bulk_accept"})).unwrap()).unwrap();
    assert_eq!(bulk_entries[0].after["spotCheck"].as_array().unwrap().len(), 2);
    assert_eq!(bulk_entries[0].actor, "sam");
    let actions: Vec<String> = admin.audit_list(&Default::default()).unwrap().into_iter().map(|e| e.action).collect();
    for expected in ["review.reject", "review.add", "review.resize", "review.undo", "review.confirm_term", "release", "release.export", "release.blocked", "phi.config"] {
        assert!(actions.iter().any(|a| a == expected), "{expected} audited: {actions:?}");
    }
}

/// The queue can put the closest calls first: notes ordered by their lowest-scoring undecided
/// detection (checked against the scores the review notes show), notes without one last, and a
/// decided span no longer counts.
#[test]
fn the_queue_puts_the_least_certain_notes_first() {
    let dir = tempfile::tempdir().unwrap();
    drop(workspace(dir.path()));
    let s = login(dir.path(), STEWARD);
    let id = import(
        &s,
        dir.path(),
        &[
            ("a", "Chest pain on exertion, relieved by rest.", "x"),
            ("b", "Seen by Dr. Marder on 10/18/2003 in clinic.", "x"),
            ("c", "Call 617-555-0134 about the results; SSN 123-45-6789.", "x"),
            ("d", "Moved to blue unit, family at bedside, John aware.", "x"),
        ],
    );
    s.review_detect(id, &(), &Cancel::new()).unwrap();
    let open = s.review_open_notes(id, false).unwrap();
    let least = |ids: &[i64]| -> Vec<(i64, Option<f64>)> {
        ids.iter()
            .map(|&r| (r, spans(&s, r).iter().filter(|x| x.origin == "detected" && x.state.as_str() == "undecided").map(|x| x.score).reduce(f64::min)))
            .collect()
    };
    let mut want = least(&open);
    want.sort_by(|a, b| match (a.1, b.1) {
        (Some(x), Some(y)) => x.total_cmp(&y).then(a.0.cmp(&b.0)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.0.cmp(&b.0),
    });
    let ordered = s.review_open_notes(id, true).unwrap();
    assert_eq!(ordered, want.iter().map(|w| w.0).collect::<Vec<_>>());
    assert_eq!(want.last().unwrap().1, None, "the note without PHI comes last: {want:?}");
    assert!(want.iter().filter(|w| w.1.is_some()).count() >= 2, "{want:?}");
    // deciding every span of the first note moves it behind the others that still have some
    let first = ordered[0];
    for x in spans(&s, first) {
        s.review_decide(x.id, &DecisionDto::Accept, "").unwrap();
    }
    let again = s.review_open_notes(id, true).unwrap();
    assert_ne!(again[0], first);
    assert!(again.iter().position(|&r| r == first).unwrap() >= want.iter().filter(|w| w.1.is_some()).count() - 1);
}
