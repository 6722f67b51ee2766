//! A self-contained HTML report of an [`Evaluation`]: summary with bootstrap intervals, facts
//! that identify what was evaluated (given by the caller: data version, model, adapter hash,
//! privacy budget, date), top-k table, per-label table and bars sorted by support, PR curves,
//! confusion heatmap (multi-class), calibration plot, and an optional paired comparison.
//!
//! The page references nothing outside itself: no scripts, no external style sheets, fonts or
//! images; plots are inline SVG. Every text that comes from data (labels, facts) is escaped.
//! Rendering is a pure function of its arguments (the caller passes the date).

use crate::compare::Comparison;
use crate::evaluate::Evaluation;
use crate::Kind;
use std::fmt::Write;

/// What identifies the evaluated model and data, shown at the top of the report.
#[derive(Debug, Clone, Default)]
pub struct ReportInfo {
    pub title: String,
    /// (name, value) rows: dataset and data version, model, adapter hash, privacy budget, date.
    pub facts: Vec<(String, String)>,
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

pub(crate) const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}\
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\
th{background:#f3f3f3}td.l,th.l{text-align:left}h2{margin-top:1.6em;border-bottom:1px solid #ddd}\
svg{background:#fff;border:1px solid #ddd;margin:0.3em 0}svg text{font-size:11px;font-family:system-ui,sans-serif}\
.note{color:#666;font-size:0.9em}";

/// A colour per series, cycling.
fn colour(i: usize) -> &'static str {
    const C: [&str; 10] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
    C[i % C.len()]
}

fn pct(x: f64) -> String {
    format!("{x:.3}")
}

/// Axes of a unit-square plot of `size` pixels with a margin; returns a function mapping
/// (x, y) in [0, 1] to pixel coordinates.
fn unit_axes(svg: &mut String, size: f64, m: f64, xlabel: &str, ylabel: &str) -> impl Fn(f64, f64) -> (f64, f64) {
    let w = size - 2.0 * m;
    let _ = write!(svg, r##"<rect x="{m}" y="{m}" width="{w}" height="{w}" fill="none" stroke="#999"/>"##);
    for i in 0..=4 {
        let v = i as f64 / 4.0;
        let x = m + v * w;
        let y = m + (1.0 - v) * w;
        let _ = write!(
            svg,
            r##"<line x1="{x}" y1="{m}" x2="{x}" y2="{}" stroke="#eee"/><line x1="{m}" y1="{y}" x2="{}" y2="{y}" stroke="#eee"/><text x="{x}" y="{}" text-anchor="middle">{v:.2}</text><text x="{}" y="{}" text-anchor="end">{v:.2}</text>"##,
            m + w,
            m + w,
            m + w + 14.0,
            m - 4.0,
            y + 4.0
        );
    }
    let _ = write!(
        svg,
        r##"<text x="{}" y="{}" text-anchor="middle">{}</text><text text-anchor="middle" transform="translate(14 {}) rotate(-90)">{}</text>"##,
        m + w / 2.0,
        size - 6.0,
        escape(xlabel),
        m + w / 2.0,
        escape(ylabel)
    );
    move |x: f64, y: f64| (m + x * w, m + (1.0 - y) * w)
}

fn pr_plot(e: &Evaluation, out: &mut String) {
    if e.pr_curves.is_empty() {
        return;
    }
    // The labels with most support, so the plot stays readable; all are in the table.
    let shown: Vec<&str> = e.per_label.iter().filter(|r| r.support > 0).take(10).map(|r| r.label.as_str()).collect();
    let (size, m) = (436.0, 56.0);
    let mut svg = format!(r#"<svg width="{}" height="{size}" role="img" aria-label="precision-recall curves">"#, size + 220.0);
    let at = unit_axes(&mut svg, size, m, "recall", "precision");
    for (i, label) in shown.iter().enumerate() {
        let Some(c) = e.pr_curves.iter().find(|c| c.label == *label) else { continue };
        // A step plot: point i's precision holds on the recall interval down to point i + 1,
        // so the area under the steps is the average precision.
        let (r, p) = (&c.curve.recall, &c.curve.precision);
        let mut pts: Vec<String> = Vec::with_capacity(2 * r.len());
        for i in 0..r.len() {
            let (x, y) = at(r[i], p[i]);
            pts.push(format!("{x:.1},{y:.1}"));
            if let Some(&next) = r.get(i + 1) {
                let (x, y) = at(next, p[i]);
                pts.push(format!("{x:.1},{y:.1}"));
            }
        }
        let ap = e.per_label.iter().find(|r| r.label == *label).map_or(0.0, |r| r.average_precision);
        let _ = write!(
            svg,
            r##"<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"/><rect x="{}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}">{} (AP {ap:.2})</text>"##,
            colour(i),
            pts.join(" "),
            size + 5.0,
            m + i as f64 * 16.0,
            colour(i),
            size + 20.0,
            m + i as f64 * 16.0 + 9.0,
            escape(label)
        );
    }
    svg.push_str("</svg>");
    let _ = write!(out, "<h2>Precision-recall curves</h2><p class=\"note\">The {} labels with most support; mean average precision {} over labels with support.</p>{svg}", shown.len(), pct(e.mean_average_precision));
}

fn bars(e: &Evaluation, out: &mut String) {
    let rows = &e.per_label;
    let (name_w, bar_w, row_h) = (200.0, 420.0, 30.0);
    let h = 30.0 + rows.len() as f64 * row_h;
    let mut svg = format!(r#"<svg width="{}" height="{h}" role="img" aria-label="per-label precision, recall and F1">"#, name_w + bar_w + 90.0);
    for (i, (name, c)) in [("precision", 0usize), ("recall", 1), ("F1", 2)].iter().enumerate() {
        let _ = write!(svg, r##"<rect x="{}" y="6" width="10" height="10" fill="{}"/><text x="{}" y="15">{name}</text>"##, name_w + i as f64 * 90.0, colour(*c), name_w + 14.0 + i as f64 * 90.0);
    }
    for (i, r) in rows.iter().enumerate() {
        let y = 26.0 + i as f64 * row_h;
        let _ = write!(svg, r##"<text x="{}" y="{}" text-anchor="end">{} ({})</text>"##, name_w - 6.0, y + 16.0, escape(&r.label), r.support);
        for (j, v) in [r.precision, r.recall, r.f1].iter().enumerate() {
            let _ = write!(svg, r##"<rect x="{name_w}" y="{}" width="{:.1}" height="8" fill="{}"/>"##, y + 2.0 + j as f64 * 9.0, v * bar_w, colour(j));
        }
        let _ = write!(svg, r##"<text x="{}" y="{}">{:.2}</text>"##, name_w + bar_w + 6.0, y + 19.0, r.f1);
    }
    svg.push_str("</svg>");
    let _ = write!(out, "<h2>Per-label precision, recall and F1</h2><p class=\"note\">Sorted by support (in brackets), largest first; the number is F1.</p>{svg}");
}

fn heatmap(e: &Evaluation, out: &mut String) {
    let Some(m) = &e.confusion else { return };
    let n = e.labels.len();
    let cell = (600.0 / n as f64).clamp(8.0, 40.0);
    let left = 180.0;
    let top = 10.0;
    let size = left + cell * n as f64 + 40.0;
    let mut svg = format!(r#"<svg width="{size}" height="{}" role="img" aria-label="confusion matrix">"#, top + cell * n as f64 + 160.0);
    for (g, row) in m.iter().enumerate() {
        let total: usize = row.iter().sum();
        let _ = write!(svg, r##"<text x="{}" y="{}" text-anchor="end">{}</text>"##, left - 4.0, top + g as f64 * cell + cell / 2.0 + 4.0, escape(&e.labels[g]));
        for (p, &count) in row.iter().enumerate() {
            let share = if total == 0 { 0.0 } else { count as f64 / total as f64 };
            let shade = (255.0 - share * 200.0).round() as u8;
            let (x, y) = (left + p as f64 * cell, top + g as f64 * cell);
            let _ = write!(svg, r##"<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="rgb({shade},{shade},255)" stroke="#fff"><title>gold {} / predicted {}: {count}</title></rect>"##, escape(&e.labels[g]), escape(&e.labels[p]));
            if cell >= 20.0 && count > 0 {
                let _ = write!(svg, r##"<text x="{}" y="{}" text-anchor="middle">{count}</text>"##, x + cell / 2.0, y + cell / 2.0 + 4.0);
            }
        }
    }
    for (p, label) in e.labels.iter().enumerate() {
        let x = left + p as f64 * cell + cell / 2.0;
        let y = top + n as f64 * cell + 6.0;
        let _ = write!(svg, r##"<text transform="translate({x} {y}) rotate(60)">{}</text>"##, escape(label));
    }
    svg.push_str("</svg>");
    let _ = write!(out, "<h2>Confusion matrix</h2><p class=\"note\">Rows: gold label; columns: predicted label; shade: share of the row.</p>{svg}");
}

fn calibration_plot(e: &Evaluation, out: &mut String) {
    let (size, m) = (396.0, 56.0);
    let mut svg = format!(r#"<svg width="{size}" height="{size}" role="img" aria-label="reliability curve">"#);
    let at = unit_axes(&mut svg, size, m, "predicted probability", "observed frequency");
    let (x0, y0) = at(0.0, 0.0);
    let (x1, y1) = at(1.0, 1.0);
    let _ = write!(svg, r##"<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" stroke="#aaa" stroke-dasharray="4 3"/>"##);
    let max_count = e.calibration.bins.iter().map(|b| b.count).max().unwrap_or(1).max(1);
    let pts: Vec<String> = e
        .calibration
        .bins
        .iter()
        .map(|b| {
            let (x, y) = at(b.mean_probability, b.observed);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    let _ = write!(svg, r##"<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"/>"##, colour(0), pts.join(" "));
    for b in &e.calibration.bins {
        let (x, y) = at(b.mean_probability, b.observed);
        let r = 2.0 + 6.0 * (b.count as f64 / max_count as f64).sqrt();
        let _ = write!(svg, r##"<circle cx="{x:.1}" cy="{y:.1}" r="{r:.1}" fill="{}" fill-opacity="0.6"><title>{:.2}-{:.2}: {} predictions, mean {:.3}, observed {:.3}</title></circle>"##, colour(0), b.lower, b.upper, b.count, b.mean_probability, b.observed);
    }
    svg.push_str("</svg>");
    let what = match e.kind {
        Kind::MultiClass => "the top-1 probability against whether the top-1 label is right",
        Kind::MultiLabel => "every label probability against whether the label is gold",
    };
    let _ = write!(out, "<h2>Calibration</h2><p class=\"note\">Reliability curve of {what}, {} equal-width bins (dot area: number of predictions). Expected calibration error {}.</p>{svg}", e.calibration.bins.len(), pct(e.calibration.ece));
}

fn summary(e: &Evaluation, out: &mut String) {
    out.push_str("<h2>Summary</h2><table><tr><th class=\"l\">metric</th><th>value</th><th>95% CI</th></tr>");
    let rows = [
        ("micro_f1", "micro F1", e.micro_f1),
        ("macro_f1", "macro F1", e.macro_f1),
        ("", "weighted F1", e.weighted_f1),
        ("micro_precision", "micro precision", e.micro_precision),
        ("micro_recall", "micro recall", e.micro_recall),
        ("", "macro precision", e.macro_precision),
        ("", "macro recall", e.macro_recall),
        ("accuracy", if e.kind == Kind::MultiClass { "accuracy" } else { "subset accuracy" }, e.accuracy),
        ("", "mean average precision", e.mean_average_precision),
        ("", "expected calibration error", e.calibration.ece),
    ];
    for (key, name, v) in rows {
        let ci = e.interval(key).map(|i| format!("{} - {}", pct(i.low), pct(i.high))).unwrap_or_default();
        let _ = write!(out, "<tr><td class=\"l\">{name}</td><td>{}</td><td>{ci}</td></tr>", pct(v));
    }
    out.push_str("</table><table><tr><th class=\"l\">k</th><th>top-k accuracy</th><th>recall@k</th><th>95% CI of recall@k</th></tr>");
    for (a, r) in e.top_k_accuracy.iter().zip(&e.top_k_recall) {
        let ci = e.interval(&format!("recall_at_{}", r.k)).map(|i| format!("{} - {}", pct(i.low), pct(i.high))).unwrap_or_default();
        let _ = write!(out, "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{ci}</td></tr>", a.k, pct(a.value), pct(r.value));
    }
    out.push_str("</table>");
}

fn label_table(e: &Evaluation, out: &mut String) {
    let thr = e.kind == Kind::MultiLabel;
    out.push_str("<h2>Per-label table</h2><table><tr><th class=\"l\">label</th><th>support</th><th>predicted</th><th>precision</th><th>recall</th><th>F1</th><th>AP</th>");
    if thr {
        out.push_str("<th>threshold</th>");
    }
    out.push_str("</tr>");
    for r in &e.per_label {
        let _ = write!(
            out,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
            escape(&r.label),
            r.support,
            r.predicted,
            pct(r.precision),
            pct(r.recall),
            pct(r.f1),
            pct(r.average_precision)
        );
        if let Some(t) = r.threshold.filter(|_| thr) {
            let _ = write!(out, "<td>{t:.3}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</table><p class=\"note\">A label never predicted has precision 0 and a label absent from the gold labels has recall 0 (zero_division=0); macro averages include every label.</p>");
}

fn comparison(c: &Comparison, out: &mut String) {
    let _ = write!(out, "<h2>Paired comparison</h2><p class=\"note\">Model B minus model A on the same {} cases; 95% paired-bootstrap intervals.</p><table><tr><th class=\"l\">metric</th><th>A</th><th>B</th><th>B - A</th><th>95% CI</th><th>p</th></tr>", c.cases);
    for d in &c.metrics {
        let _ = write!(out, "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{:+.3}</td><td>{:+.3} - {:+.3}</td><td>{:.3}</td></tr>", escape(&d.metric), pct(d.a), pct(d.b), d.difference, d.low, d.high, d.p_value);
    }
    out.push_str("</table>");
    if let Some(m) = &c.mcnemar {
        let _ = write!(out, "<p>McNemar: {} cases only A gets right, {} only B; statistic {:.3}, p = {:.4} (exact p = {:.4}).</p>", m.only_a, m.only_b, m.statistic, m.p_value, m.exact_p_value);
    }
}

/// The whole report as one HTML document.
pub fn render(e: &Evaluation, cmp: Option<&Comparison>, info: &ReportInfo) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let title = escape(&info.title);
    let _ = write!(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title><style>{STYLE}</style></head><body><h1>{title}</h1><table>");
    for (k, v) in &info.facts {
        let _ = write!(out, "<tr><th class=\"l\">{}</th><td class=\"l\">{}</td></tr>", escape(k), escape(v));
    }
    let kind = match e.kind {
        Kind::MultiClass => "multi-class (one diagnosis per note, arg-max decision)",
        Kind::MultiLabel => "multi-label (several codes per note, thresholds chosen on the validation split)",
    };
    let _ = write!(out, "<tr><th class=\"l\">Task</th><td class=\"l\">{kind}</td></tr><tr><th class=\"l\">Cases</th><td class=\"l\">{} notes, {} labels</td></tr></table>", e.cases, e.labels.len());
    summary(e, &mut out);
    if let Some(c) = cmp {
        comparison(c, &mut out);
    }
    bars(e, &mut out);
    pr_plot(e, &mut out);
    heatmap(e, &mut out);
    calibration_plot(e, &mut out);
    label_table(e, &mut out);
    out.push_str("</body></html>\n");
    out
}
