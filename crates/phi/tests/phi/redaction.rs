//! Redaction with surrogates across the notes of one patient: the same real value gets the same
//! fake value in every note, other patients get other values, and intervals between a patient's
//! dates survive the shift. Text outside the spans never changes.

use localdx_phi::{redact, Engine, Strategy};

fn surrogate(text: &str, patient: &str) -> (String, Vec<(String, String)>) {
    let engine = Engine::default();
    let dets = engine.detect(text);
    let r = redact(text, &dets, &Strategy::Surrogate { secret: b"project secret".to_vec() }, patient);
    let pairs = r
        .replacements
        .iter()
        .map(|x| (x.original.slice(text).to_string(), x.replaced.slice(&r.text).to_string()))
        .collect();
    // outside the spans the text is unchanged
    let mut pos_in = 0;
    let mut pos_out = 0;
    for x in &r.replacements {
        assert_eq!(&text[pos_in..x.original.start], &r.text[pos_out..x.replaced.start]);
        pos_in = x.original.end;
        pos_out = x.replaced.end;
    }
    assert_eq!(&text[pos_in..], &r.text[pos_out..]);
    (r.text, pairs)
}

fn days(date: &str) -> i64 {
    // m/d/yyyy -> days since 1970 (civil calendar)
    let p: Vec<i64> = date.split('/').map(|x| x.parse().expect("number")).collect();
    let (m, d, y) = (p[0], p[1], if p[2] < 100 { 2000 + p[2] } else { p[2] });
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468
}

#[test]
fn surrogates_are_consistent_within_a_patient_and_keep_date_intervals() {
    let note1 = "Dr. Marder saw Mr. Nicholson on 3/1/2010. Call 410-322-1419.";
    let note2 = "MR. NICHOLSON SEEN BY DR. MARDER ON 3/15/2010, PHONE 410-322-1419";
    let (_, a) = surrogate(note1, "patient-7");
    let (_, b) = surrogate(note2, "patient-7");
    let (_, other) = surrogate(note1, "patient-8");
    let find = |pairs: &[(String, String)], k: &str| pairs.iter().find(|(o, _)| o == k).map(|(_, f)| f.clone()).expect(k);
    // same value -> same fake, case kept
    assert_eq!(find(&a, "Nicholson").to_uppercase(), find(&b, "NICHOLSON"));
    assert_eq!(find(&b, "NICHOLSON"), find(&b, "NICHOLSON").to_uppercase());
    assert_eq!(find(&a, "Marder").to_uppercase(), find(&b, "MARDER"));
    assert_eq!(find(&a, "410-322-1419"), find(&b, "410-322-1419"));
    assert_ne!(find(&a, "Nicholson"), "Nicholson");
    // another patient gets other values (for these inputs)
    assert_ne!(find(&a, "Nicholson"), find(&other, "Nicholson"));
    // the 14 days between the two dates survive, and the dates did move
    let (d1, d2) = (find(&a, "3/1/2010"), find(&b, "3/15/2010"));
    assert_ne!(d1, "3/1/2010");
    assert_eq!(days(&d2) - days(&d1), 14, "{d1} -> {d2}");
}
