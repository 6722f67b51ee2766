//! Integration tests of the metrics engine. The reference values come from scikit-learn (and
//! NumPy/SciPy where scikit-learn has no such metric), computed offline by
//! `scripts/eval/reference.py` into `fixtures/reference.json`: two tiny hand-made cases and four
//! random ones (300-400 cases each, fixed seed). The conventions checked are listed in that
//! script's docstring (zero_division=0, macro over every label, arg-max / `>=` threshold).

use localdx_eval::bootstrap::Settings;
use localdx_eval::calibration::{confidence_pairs, reliability};
use localdx_eval::compare::{compare, mcnemar};
use localdx_eval::curves::{best_f1_threshold, choose_thresholds, label_column, pr_curve, Strategy};
use localdx_eval::html::{render, ReportInfo};
use localdx_eval::{evaluate, Cases, EvalError, Evaluation, Kind, Options, Thresholds};
use serde_json::Value;

const TOL: f64 = 1e-12;

fn fixture() -> Value {
    let text = include_str!("fixtures/reference.json");
    serde_json::from_str(text).expect("fixture is JSON")
}

fn f(v: &Value) -> f64 {
    v.as_f64().expect("number")
}
fn fs(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(f).collect()
}

fn close(got: f64, want: f64, what: &str) {
    assert!((got - want).abs() <= TOL, "{what}: got {got}, scikit-learn {want}");
}
fn close_all(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        close(*g, *w, &format!("{what}[{i}]"));
    }
}

fn cases_of(row: &Value, scores_key: &str) -> Cases {
    let n = row["labels"].as_u64().unwrap() as usize;
    let labels = (0..n).map(|i| format!("L{i}")).collect();
    let gold = row["gold"].as_array().unwrap().iter().map(|g| g.as_array().unwrap().iter().map(|l| l.as_u64().unwrap() as usize).collect()).collect();
    let scores = row[scores_key].as_array().unwrap().iter().map(fs).collect();
    let kind = if row["kind"] == "multi_class" { Kind::MultiClass } else { Kind::MultiLabel };
    Cases::new(labels, gold, scores, kind).expect("valid fixture")
}

fn validation_of(row: &Value) -> Option<Cases> {
    let v = row.get("validation")?;
    let mut r = v.clone();
    r["labels"] = row["labels"].clone();
    r["kind"] = row["kind"].clone();
    Some(cases_of(&r, "scores"))
}

/// The one caller of the engine for reference rows: evaluates the fixture row with its
/// thresholds (chosen on its validation cases when it has them) and compares every figure.
fn check(row: &Value) {
    let name = row["name"].as_str().unwrap();
    let cases = cases_of(row, "scores");
    let exp = &row["expected"];
    let thresholds = match (&row["thresholds"], validation_of(row)) {
        (_, Some(val)) => {
            let chosen = choose_thresholds(&val, Strategy::PerLabel { min_positives: 1 }, 0.5);
            let Thresholds::PerLabel(per) = &chosen else { panic!("per-label") };
            close_all(per, &fs(&row["validation"]["per_label_thresholds"]), &format!("{name}: thresholds chosen on validation"));
            let Thresholds::Global(g) = choose_thresholds(&val, Strategy::Global, 0.5) else { panic!("global") };
            close(g, f(&row["validation"]["global_threshold"]), &format!("{name}: global threshold"));
            chosen
        }
        (Value::Array(_), None) => Thresholds::PerLabel(fs(&row["thresholds"])),
        _ => Thresholds::Global(0.5),
    };
    let opts = Options { curves: true, ..Options::default() };
    let e = evaluate(&cases, &thresholds, &opts).expect("evaluates");
    for (l, label) in cases.labels().iter().enumerate() {
        let r = e.per_label.iter().find(|r| &r.label == label).expect("row per label");
        close(r.precision, f(&exp["precision"][l]), &format!("{name}: precision {label}"));
        close(r.recall, f(&exp["recall"][l]), &format!("{name}: recall {label}"));
        close(r.f1, f(&exp["f1"][l]), &format!("{name}: f1 {label}"));
        assert_eq!(r.support as u64, exp["support"][l].as_u64().unwrap(), "{name}: support {label}");
        close(r.average_precision, f(&exp["average_precision"][l]), &format!("{name}: average precision {label}"));
    }
    let triple = |p, r, f1| vec![p, r, f1];
    close_all(&triple(e.micro_precision, e.micro_recall, e.micro_f1), &fs(&exp["micro"]), &format!("{name}: micro"));
    close_all(&triple(e.macro_precision, e.macro_recall, e.macro_f1), &fs(&exp["macro"]), &format!("{name}: macro"));
    close_all(&triple(e.weighted_precision, e.weighted_recall, e.weighted_f1), &fs(&exp["weighted"]), &format!("{name}: weighted"));
    close(e.accuracy, f(&exp["accuracy"]), &format!("{name}: accuracy"));
    let at = |v: &[localdx_eval::evaluate::AtK]| v.iter().map(|a| a.value).collect::<Vec<_>>();
    close_all(&at(&e.top_k_accuracy), &fs(&exp["top_k_accuracy"]), &format!("{name}: top-k accuracy"));
    close_all(&at(&e.top_k_recall), &fs(&exp["recall_at_k"]), &format!("{name}: recall@k"));
    match cases.kind() {
        Kind::MultiClass => {
            let want: Vec<Vec<usize>> = serde_json::from_value(exp["confusion"].clone()).unwrap();
            assert_eq!(e.confusion.as_ref(), Some(&want), "{name}: confusion matrix");
        }
        Kind::MultiLabel => assert_eq!(e.confusion, None),
    }
    let cal = &exp["calibration"];
    let bins = &e.calibration.bins;
    close_all(&bins.iter().map(|b| b.observed).collect::<Vec<_>>(), &fs(&cal["prob_true"]), &format!("{name}: calibration prob_true"));
    close_all(&bins.iter().map(|b| b.mean_probability).collect::<Vec<_>>(), &fs(&cal["prob_pred"]), &format!("{name}: calibration prob_pred"));
    assert_eq!(bins.iter().map(|b| b.count as f64).collect::<Vec<_>>(), fs(&cal["counts"]), "{name}: bin counts");
    close(e.calibration.ece, f(&cal["ece"]), &format!("{name}: ECE"));
    let curve = &e.pr_curves[0].curve;
    let want = &exp["pr_curve_label0"];
    close_all(&curve.precision, &fs(&want["precision"]), &format!("{name}: PR curve precision"));
    close_all(&curve.recall, &fs(&want["recall"]), &format!("{name}: PR curve recall"));
    close_all(&curve.thresholds, &fs(&want["thresholds"]), &format!("{name}: PR curve thresholds"));
    for l in 0..cases.n_labels() {
        let (s, p) = label_column(&cases, l);
        let got = best_f1_threshold(&s, &p).map(|(t, f1)| vec![t, f1]);
        let want = exp["best_threshold"][l].as_array().map(|_| fs(&exp["best_threshold"][l]));
        match (got, want) {
            (Some(g), Some(w)) => close_all(&g, &w, &format!("{name}: best F1 threshold of label {l}")),
            (g, w) => assert_eq!(g, w, "{name}: best F1 threshold of label {l}"),
        }
    }
    if let Some(m) = exp.get("mcnemar") {
        let other = cases_of(row, "other_scores");
        let cmp = compare(&cases, &thresholds, &other, &thresholds, &[1, 3, 5], Settings { resamples: 200, ..Settings::default() }).unwrap();
        let got = cmp.mcnemar.expect("multi-class has McNemar");
        assert_eq!((got.only_a as u64, got.only_b as u64), (m["only_a"].as_u64().unwrap(), m["only_b"].as_u64().unwrap()), "{name}");
        close(got.statistic, f(&m["statistic"]), &format!("{name}: McNemar statistic"));
        assert!((got.p_value - f(&m["p_value"])).abs() < 1e-10, "{name}: McNemar p {} vs {}", got.p_value, m["p_value"]);
        assert!((got.exact_p_value - f(&m["exact_p_value"])).abs() < 1e-10, "{name}: exact p {} vs {}", got.exact_p_value, m["exact_p_value"]);
        let acc = cmp.metrics.iter().find(|d| d.metric == "accuracy").unwrap();
        close(acc.difference, acc.b - acc.a, "difference is b - a");
        assert!(acc.low <= acc.difference && acc.difference <= acc.high, "{name}: paired interval covers the difference {acc:?}");
    }
}

#[test]
fn matches_scikit_learn_reference_values() {
    let fx = fixture();
    let cases = fx["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 6, "fixture has the tiny and the random cases");
    for row in cases {
        check(row);
    }
}

#[test]
fn label_never_predicted_has_precision_zero() {
    // The tiny multi-class fixture: label 2 occurs once and is never predicted, label 3 never
    // occurs. zero_division=0: precision 0 (not NaN, not 1), and both still count in the macro
    // average, as scikit-learn does with labels=range(L).
    let fx = fixture();
    let row = &fx["cases"][0];
    let e = evaluate(&cases_of(row, "scores"), &Thresholds::Global(0.5), &Options::default()).unwrap();
    let l2 = e.per_label.iter().find(|r| r.label == "L2").unwrap();
    assert_eq!((l2.predicted, l2.support, l2.precision, l2.recall, l2.f1), (0, 1, 0.0, 0.0, 0.0));
    let l3 = e.per_label.iter().find(|r| r.label == "L3").unwrap();
    assert_eq!((l3.predicted, l3.support, l3.precision), (0, 0, 0.0));
    assert!(e.macro_f1 < e.micro_f1, "absent labels pull the macro average down");
}

#[test]
fn negative_inputs_are_refused() {
    let labels = vec!["a".to_string(), "b".to_string()];
    let empty = Cases::new(labels.clone(), vec![], vec![], Kind::MultiLabel).unwrap();
    assert_eq!(evaluate(&empty, &Thresholds::Global(0.5), &Options::default()).err(), Some(EvalError::Empty));
    let one = Cases::new(labels.clone(), vec![vec![0]], vec![vec![0.7, 0.2]], Kind::MultiLabel).unwrap();
    assert_eq!(
        evaluate(&one, &Thresholds::PerLabel(vec![0.5]), &Options::default()).err(),
        Some(EvalError::ThresholdCount { got: 1, expected: 2 })
    );
    let other = Cases::new(labels.clone(), vec![vec![1]], vec![vec![0.7, 0.2]], Kind::MultiLabel).unwrap();
    assert!(matches!(
        compare(&one, &Thresholds::Global(0.5), &other, &Thresholds::Global(0.5), &[1], Settings::default()),
        Err(EvalError::Unpaired(_))
    ));
    assert_eq!(Cases::new(vec![], vec![], vec![], Kind::MultiClass).err(), Some(EvalError::NoLabels));
    // No predictions at all: no bins, ECE 0; a curve without positives has recall 1 (scikit-learn warns).
    assert_eq!(reliability(&[], &[], 10).ece, 0.0);
    assert_eq!(pr_curve(&[0.3, 0.6], &[false, false]).recall, vec![1.0, 1.0, 0.0]);
}

#[test]
fn bootstrap_intervals_cover_the_point_estimate_and_are_seeded() {
    let fx = fixture();
    for row in fx["cases"].as_array().unwrap().iter().skip(2) {
        let cases = cases_of(row, "scores");
        let t = Thresholds::Global(0.5);
        let opts = Options { bootstrap: Some(Settings { resamples: 300, ..Settings::default() }), ..Options::default() };
        let e = evaluate(&cases, &t, &opts).unwrap();
        assert_eq!(e.intervals.len(), 8, "5 metrics + recall@1,3,5");
        for i in &e.intervals {
            let v = i.interval;
            assert!(v.low <= v.estimate && v.estimate <= v.high, "{}: {} {v:?}", row["name"], i.metric);
            // Degenerate only when the metric is 1 on every resample (recall@5 with 5 labels).
            let spread = v.high - v.low > 0.0 || (v.low, v.estimate, v.high) == (1.0, 1.0, 1.0);
            assert!(spread && v.high - v.low < 0.3, "{}: {} width {v:?}", row["name"], i.metric);
        }
        close(e.interval("micro_f1").unwrap().estimate, e.micro_f1, "interval estimate is the point metric");
        close(e.interval("macro_f1").unwrap().estimate, e.macro_f1, "interval estimate is the point metric");
        close(e.interval("recall_at_3").unwrap().estimate, e.top_k_recall[1].value, "recall@3");
        assert_eq!(evaluate(&cases, &t, &opts).unwrap(), e, "same seed, same intervals");
        let reseeded = Options { bootstrap: Some(Settings { resamples: 300, seed: 1, level: 0.95 }), ..Options::default() };
        assert_ne!(evaluate(&cases, &t, &reseeded).unwrap().intervals, e.intervals, "the seed matters");
    }
}

#[test]
fn paired_comparison_of_a_model_with_itself_is_zero() {
    let fx = fixture();
    let cases = cases_of(&fx["cases"][2], "scores");
    let t = Thresholds::Global(0.5);
    let c = compare(&cases, &t, &cases, &t, &[1, 3], Settings { resamples: 100, ..Settings::default() }).unwrap();
    for d in &c.metrics {
        assert_eq!((d.difference, d.low, d.high, d.p_value), (0.0, 0.0, 0.0, 1.0), "{}", d.metric);
    }
    let m = c.mcnemar.unwrap();
    assert_eq!((m.only_a, m.only_b, m.p_value, m.exact_p_value), (0, 0, 1.0, 1.0));
    // scipy: chi2.sf((|10-2|-1)^2/12, 1) = 0.04331..., 2*binom.cdf(2, 12, .5) = 0.03857421875
    let m = mcnemar(10, 2);
    assert!((m.statistic - 49.0 / 12.0).abs() < TOL);
    assert!((m.exact_p_value - 0.03857421875).abs() < 1e-12, "{}", m.exact_p_value);
}

#[test]
fn calibration_pairs_use_top1_for_multi_class() {
    let c = Cases::new(vec!["a".into(), "b".into()], vec![vec![0], vec![1]], vec![vec![0.8, 0.2], vec![0.9, 0.1]], Kind::MultiClass).unwrap();
    assert_eq!(confidence_pairs(&c), (vec![0.8, 0.9], vec![true, false]));
    // 0.8 is in bin [0.7, 0.8] (right-inclusive, as scikit-learn bins), 0.9 in [0.8, 0.9].
    let r = reliability(&[0.8, 0.9], &[true, false], 10);
    assert_eq!(r.bins.iter().map(|b| b.lower).collect::<Vec<_>>(), vec![0.7000000000000001, 0.8]);
    assert!((r.ece - (0.5 * 0.2 + 0.5 * 0.9)).abs() < TOL);
}

fn report_of(row: &Value) -> (Evaluation, String) {
    let cases = cases_of(row, "scores");
    let e = evaluate(&cases, &Thresholds::Global(0.5), &Options { curves: true, ..Options::default() }).unwrap();
    let info = ReportInfo {
        title: "Run <run-1> & co".into(),
        facts: vec![("Dataset".into(), "1 \"notes\"".into()), ("Privacy".into(), "epsilon 8.00".into())],
    };
    let html = render(&e, None, &info);
    (e, html)
}

#[test]
fn html_report_is_self_contained_and_escaped() {
    let fx = fixture();
    for row in [&fx["cases"][2], &fx["cases"][4]] {
        let (e, html) = report_of(row);
        assert!(html.starts_with("<!DOCTYPE html>"));
        for forbidden in ["http://", "https://", "<link", "<script", "src=", "url(", "@import"] {
            assert!(!html.contains(forbidden), "{}: report contains {forbidden}", row["name"]);
        }
        assert!(html.contains("Run &lt;run-1&gt; &amp; co"), "title escaped");
        assert!(html.contains("1 &quot;notes&quot;"), "facts escaped");
        assert!(html.matches("<svg").count() >= 3, "PR curves, per-label bars, calibration");
        assert_eq!(html.contains("Confusion"), e.kind == Kind::MultiClass, "heatmap only for multi-class");
        assert!(html.contains(&format!("{:.3}", e.micro_f1)));
    }
}
