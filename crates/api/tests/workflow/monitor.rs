//! Monitoring a model in use: suggestions are logged without note text, and a replayed month of
//! notes whose later weeks drift (longer notes in words the training notes never used) raises
//! drift alerts in those weeks only; the thresholds are the admin's.

use crate::sealed::{released_dataset, tiny_models, tiny_run, LABELS};
use crate::{login, workspace, CLINICIAN};
use localdx_api::monitor::{ReplayNoteDto, Thresholds};
use localdx_api::suggest::{ModelChoice, Suggester};
use localdx_api::{Cancel, ErrorCode};

fn month() -> Vec<ReplayNoteDto> {
    let mut notes = Vec::new();
    for (week, day) in ["2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23"].into_iter().enumerate() {
        for i in 0..12 {
            let (label, text) = match (week < 2, i % 2 == 0) {
                (true, true) => (LABELS[0], format!("Seen on [DATE]: yellow plaques on the eyelids, visit {i}.")),
                (true, false) => (LABELS[1], format!("Seen on [DATE]: fever and a black nasal crust, visit {i}.")),
                (false, _) => (LABELS[0], "Patient presents with acute lower back pain radiating down the left leg after lifting boxes at work, \
                     with numbness across the foot, worse when sitting, partly relieved by ibuprofen; straight leg raise positive, \
                     reflexes preserved, advised physiotherapy, heat packs and a review in two weeks if symptoms persist or weakness appears."
                    .repeat(2)),
            };
            notes.push(ReplayNoteDto { at: day.to_owned(), text, labels: vec![label.to_owned()] });
        }
    }
    notes
}

#[test]
fn a_drifting_month_raises_drift_alerts_in_its_drifted_weeks() {
    let dir = tempfile::tempdir().unwrap();
    let models = tiny_models();
    let admin = workspace(dir.path()).with_models(models.path());
    let (_, version) = released_dataset(&admin, dir.path());
    let run = tiny_run(&admin, version);
    let choice = ModelChoice::Run { run_id: run.clone() };

    // A suggestion shown in the app for a stored case is logged with its recorded labels, and
    // no log row holds the note's text.
    let clinician = login(dir.path(), CLINICIAN).with_models(models.path());
    let case = clinician.test_cases(version, 1).unwrap().remove(0);
    Suggester::new(1).suggest(&clinician, &choice, &case.text, 3, None, Some(case.id)).unwrap();
    let now = clinician.monitor(Some(&run)).unwrap();
    let week = &now.models[0].weeks[0];
    assert_eq!((week.suggestions, week.with_gold, week.top5_share), (1, 1, Some(1.0)), "two labels: the recorded one is in the top 5");

    let replayed = admin.replay(&choice, &month(), &(), &Cancel::new()).unwrap();
    assert_eq!(replayed.notes, 48);
    let watch = admin.monitor(Some(&run)).unwrap();
    let m = &watch.models[0];
    let weeks: Vec<&str> = m.weeks.iter().map(|w| w.week.as_str()).collect();
    assert_eq!(&weeks[..4], ["2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23"], "one row per week, Mondays");
    let drift = |w: &localdx_api::monitor::WeekDto| w.alerts.iter().filter(|a| a.contains("never occur") || a.contains("note lengths")).count();
    for w in &m.weeks[..2] {
        assert_eq!(drift(w), 0, "{}: notes like the training notes raise no drift alert: {:?}", w.week, w.alerts);
        assert!(w.unseen_share.unwrap() < 0.3 && w.length_psi.unwrap() < 0.25, "{w:?}");
    }
    for w in &m.weeks[2..4] {
        assert_eq!(drift(w), 2, "{}: both drift alerts: {:?}", w.week, w.alerts);
        assert!(w.unseen_share.unwrap() > 0.5 && w.length_psi.unwrap() > 1.0, "{w:?}");
        assert_eq!((w.suggestions, w.with_gold), (12, 12));
    }
    assert!(m.weeks_alerting >= 2);

    // The band is the admin's: clinicians may read it, not move it.
    assert_eq!(clinician.set_monitor_thresholds(&Thresholds { max_unseen: 1.0, ..Thresholds::default() }).unwrap_err().code, ErrorCode::Forbidden);
    admin.set_monitor_thresholds(&Thresholds { max_unseen: 1.0, max_psi: 100.0, ..Thresholds::default() }).unwrap();
    assert_eq!(clinician.monitor_thresholds().unwrap().max_unseen, 1.0);
    let relaxed = clinician.monitor(Some(&run)).unwrap();
    assert!(relaxed.models[0].weeks.iter().all(|w| drift(w) == 0), "no drift alert above the admin's limits");
    assert!(admin.set_monitor_thresholds(&Thresholds { min_top5: 1.5, ..Thresholds::default() }).is_err(), "a share above 1 is refused");
    let audit = admin.audit_list(&serde_json::from_value(serde_json::json!({"action": "monitor.thresholds"})).unwrap()).unwrap();
    assert_eq!(audit.len(), 1);

    // A date that is not one is refused before anything is logged.
    let bad = vec![ReplayNoteDto { at: "last week".into(), text: "x".into(), labels: vec![] }];
    assert_eq!(admin.replay(&choice, &bad, &(), &Cancel::new()).unwrap_err().code, ErrorCode::InvalidInput);
    assert_eq!(admin.monitor(Some(&run)).unwrap().models[0].weeks.iter().map(|w| w.suggestions).sum::<u64>(), 49);
}
