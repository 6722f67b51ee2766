//! Printable documents as PDF: the run report and the model card, for records that must outlive
//! the app. A [`Document`] is a title and blocks (headings, paragraphs, bullets, tables, bars);
//! [`render`] lays them out on A4 pages in Helvetica (one of the fonts every PDF reader has, so
//! nothing is embedded) with page numbers, and writes the file with `pdf-writer` (a small crate
//! with four dependencies, chosen over a full typesetting crate for the 2-core build).
//!
//! Text is encoded as WinAnsi (Latin-1 plus typographic marks); a character outside it prints as
//! `?`. Table cells that do not fit their column are cut with an ellipsis; paragraphs wrap.

use crate::compare::Comparison;
use crate::html::ReportInfo;
use crate::Evaluation;
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

/// A4 in points, and the margins.
const PAGE: (f32, f32) = (595.0, 842.0);
const MARGIN: f32 = 50.0;
const BODY: f32 = 10.0;

/// A block of a document.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Heading(String),
    Paragraph(String),
    Bullets(Vec<String>),
    /// A header row and rows of cells; the first column is left-aligned, the others right-aligned
    /// when `numeric`.
    Table { head: Vec<String>, rows: Vec<Vec<String>>, numeric: bool },
    /// Horizontal bars of values in 0..=1 (shown as percentages), one per label.
    Bars { rows: Vec<(String, f64)> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub title: String,
    pub blocks: Vec<Block>,
}

/// Helvetica's advance widths (thousandths of an em) for ASCII 32..=126, from its AFM metrics.
const WIDTHS: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278,
    584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944,
    667, 667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500,
    278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

/// The width of `text` in points at `size` (bold about 5% wider).
fn width(text: &str, size: f32, bold: bool) -> f32 {
    let em: u32 = text.chars().map(|c| if (' '..='~').contains(&c) { WIDTHS[c as usize - 32] as u32 } else { 556 }).sum();
    em as f32 * size / 1000.0 * if bold { 1.05 } else { 1.0 }
}

/// `text` in WinAnsi bytes (`?` for what it cannot encode).
fn winansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            ' '..='~' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '€' => 0x80,
            '‚' => 0x82,
            '„' => 0x84,
            '…' => 0x85,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '−' => b'-',
            _ => b'?',
        })
        .collect()
}

/// `text` cut to fit `max` points, with an ellipsis when cut.
fn fit(text: &str, size: f32, max: f32) -> String {
    if width(text, size, false) <= max {
        return text.to_owned();
    }
    let mut out = String::new();
    for c in text.chars() {
        if width(&format!("{out}{c}…"), size, false) > max {
            break;
        }
        out.push(c);
    }
    format!("{out}…")
}

/// `text` broken into lines of at most `max` points at word boundaries; a word longer than a
/// line (a hash, a path) is broken where it must be, so that none of it is lost.
fn wrap(text: &str, size: f32, max: f32) -> Vec<String> {
    let mut pieces = Vec::new();
    for word in text.split_whitespace() {
        let mut piece = String::new();
        for c in word.chars() {
            if !piece.is_empty() && width(&format!("{piece}{c}"), size, false) > max {
                pieces.push(std::mem::take(&mut piece));
            }
            piece.push(c);
        }
        pieces.push(piece);
    }
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in pieces {
        let candidate = if line.is_empty() { word.clone() } else { format!("{line} {word}") };
        if width(&candidate, size, false) <= max || line.is_empty() {
            line = candidate;
        } else {
            lines.push(std::mem::replace(&mut line, word));
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Pages being filled, top to bottom.
struct Layout {
    pages: Vec<Content>,
    y: f32,
}

impl Layout {
    fn new() -> Layout {
        let mut l = Layout { pages: Vec::new(), y: 0.0 };
        l.page();
        l
    }

    fn page(&mut self) {
        self.pages.push(Content::new());
        self.y = PAGE.1 - MARGIN;
    }

    /// Makes room for `h` points, starting a new page when the current one is full.
    fn room(&mut self, h: f32) {
        if self.y - h < MARGIN + 20.0 {
            self.page();
        }
    }

    fn content(&mut self) -> &mut Content {
        self.pages.last_mut().expect("a page")
    }

    fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, text: &str) {
        let font = if bold { Name(b"F2") } else { Name(b"F1") };
        let bytes = winansi(text);
        let c = self.content();
        c.begin_text();
        c.set_font(font, size);
        c.next_line(x, y);
        c.show(Str(&bytes));
        c.end_text();
    }

    fn line(&mut self, x0: f32, y: f32, x1: f32, grey: f32) {
        let c = self.content();
        c.set_stroke_rgb(grey, grey, grey);
        c.set_line_width(0.5);
        c.move_to(x0, y);
        c.line_to(x1, y);
        c.stroke();
    }
}

fn draw(l: &mut Layout, block: &Block) {
    let full = PAGE.0 - 2.0 * MARGIN;
    match block {
        Block::Heading(h) => {
            l.room(34.0);
            l.y -= 22.0;
            l.text(MARGIN, l.y, 13.0, true, h);
            l.y -= 4.0;
            let y = l.y;
            l.line(MARGIN, y, PAGE.0 - MARGIN, 0.75);
            l.y -= 8.0;
        }
        Block::Paragraph(p) => {
            for line in wrap(p, BODY, full) {
                l.room(14.0);
                l.y -= 13.0;
                l.text(MARGIN, l.y, BODY, false, &line);
            }
            l.y -= 4.0;
        }
        Block::Bullets(items) => {
            for item in items {
                for (i, line) in wrap(item, BODY, full - 12.0).into_iter().enumerate() {
                    l.room(14.0);
                    l.y -= 13.0;
                    if i == 0 {
                        l.text(MARGIN, l.y, BODY, false, "•");
                    }
                    l.text(MARGIN + 12.0, l.y, BODY, false, &line);
                }
            }
            l.y -= 4.0;
        }
        Block::Table { head, rows, numeric } => {
            let cols = head.len().max(1);
            let size = 9.0;
            let widest = |c: usize| rows.iter().filter_map(|r| r.get(c)).chain(head.get(c)).map(|t| width(t, size, true)).fold(0.0f32, f32::max);
            let widths: Vec<f32> = if *numeric {
                // Numbers take what their widest cell needs (at most 90 pt); the first column the rest.
                let others: Vec<f32> = (1..cols).map(|c| (widest(c) + 12.0).min(90.0)).collect();
                let first = (full - others.iter().sum::<f32>()).max(80.0);
                std::iter::once(first).chain(others).collect()
            } else {
                // Text: the first column as wide as it needs up to 45%, the others share the rest.
                let first = (widest(0) + 12.0).clamp(80.0, 0.45 * full).min(if cols > 1 { full - 80.0 * (cols - 1) as f32 } else { full });
                let rest = if cols > 1 { (full - first) / (cols - 1) as f32 } else { 0.0 };
                std::iter::once(if cols > 1 { first } else { full }).chain((1..cols).map(|_| rest)).collect()
            };
            // A numeric cell is cut to its column; a text cell wraps.
            let lines_of = |c: usize, cell: &str| -> Vec<String> {
                if *numeric && c > 0 { vec![fit(cell, size, widths[c] - 6.0)] } else { wrap(cell, size, widths[c] - 6.0) }
            };
            let header = |l: &mut Layout| {
                l.y -= 14.0;
                let mut x = MARGIN;
                for (c, h) in head.iter().enumerate() {
                    let text = fit(h, size, widths[c] - 6.0);
                    let tx = if *numeric && c > 0 { x + widths[c] - 4.0 - width(&text, size, true) } else { x };
                    l.text(tx, l.y, size, true, &text);
                    x += widths[c];
                }
                let y = l.y - 4.0;
                l.line(MARGIN, y, PAGE.0 - MARGIN, 0.4);
                l.y -= 4.0;
            };
            l.room(32.0);
            header(l);
            for row in rows {
                let cells: Vec<Vec<String>> = row.iter().enumerate().take(cols).map(|(c, cell)| lines_of(c, cell)).collect();
                let height = cells.iter().map(Vec::len).max().unwrap_or(1).max(1) as f32 * 11.0 + 2.0;
                if l.y - height < MARGIN + 20.0 {
                    l.page();
                    header(l);
                }
                let top = l.y - 11.0;
                let mut x = MARGIN;
                for (c, lines) in cells.iter().enumerate() {
                    for (i, text) in lines.iter().enumerate() {
                        let tx = if *numeric && c > 0 { x + widths[c] - 4.0 - width(text, size, false) } else { x };
                        l.text(tx, top - 11.0 * i as f32, size, false, text);
                    }
                    x += widths[c];
                }
                l.y -= height;
                let y = l.y + 1.5;
                l.line(MARGIN, y, PAGE.0 - MARGIN, 0.88);
            }
            l.y -= 8.0;
        }
        Block::Bars { rows } => {
            let (label_w, bar_w) = (150.0, full - 150.0 - 50.0);
            for (label, value) in rows {
                l.room(14.0);
                l.y -= 13.0;
                l.text(MARGIN, l.y, 9.0, false, &fit(label, 9.0, label_w - 8.0));
                let w = (value.clamp(0.0, 1.0) as f32) * bar_w;
                let (x, y) = (MARGIN + label_w, l.y - 1.0);
                let c = l.content();
                c.set_fill_rgb(0.06, 0.46, 0.43);
                c.rect(x, y, w.max(0.5), 9.0);
                c.fill_nonzero();
                c.set_fill_rgb(0.0, 0.0, 0.0);
                l.text(MARGIN + label_w + w + 4.0, l.y, 9.0, false, &format!("{:.1}%", 100.0 * value));
            }
            l.y -= 6.0;
        }
    }
}

/// The document as a PDF file.
pub fn render(doc: &Document) -> Vec<u8> {
    let mut l = Layout::new();
    l.y -= 20.0;
    for line in wrap(&doc.title, 17.0, PAGE.0 - 2.0 * MARGIN) {
        l.text(MARGIN, l.y, 17.0, true, &line);
        l.y -= 22.0;
    }
    for b in &doc.blocks {
        draw(&mut l, b);
    }
    let total = l.pages.len();
    let mut pdf = Pdf::new();
    let (catalog, tree, regular, bold, info) = (Ref::new(1), Ref::new(2), Ref::new(3), Ref::new(4), Ref::new(5));
    let ids: Vec<(Ref, Ref)> = (0..total).map(|i| (Ref::new(6 + 2 * i as i32), Ref::new(7 + 2 * i as i32))).collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(ids.iter().map(|p| p.0)).count(total as i32);
    pdf.type1_font(regular).base_font(Name(b"Helvetica")).encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold).base_font(Name(b"Helvetica-Bold")).encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.document_info(info).title(TextStr(&doc.title)).producer(TextStr("LocalDx"));
    let title = doc.title.clone();
    for (i, (mut content, (page_id, content_id))) in std::mem::take(&mut l.pages).into_iter().zip(&ids).enumerate() {
        let footer = winansi(&fit(&format!("{title} — page {} of {total}", i + 1), 8.0, PAGE.0 - 2.0 * MARGIN));
        content.begin_text();
        content.set_font(Name(b"F1"), 8.0);
        content.next_line(MARGIN, MARGIN - 20.0);
        content.show(Str(&footer));
        content.end_text();
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE.0, PAGE.1));
        page.parent(tree);
        page.contents(*content_id);
        let mut resources = page.resources();
        let mut fonts = resources.fonts();
        fonts.pair(Name(b"F1"), regular);
        fonts.pair(Name(b"F2"), bold);
        drop(fonts);
        drop(resources);
        page.finish();
        pdf.stream(*content_id, &content.finish());
    }
    pdf.finish()
}

fn pct(x: f64) -> String {
    format!("{:.1}", 100.0 * x)
}

/// The run report as a document: its facts, headline metrics with intervals, the comparison, the
/// per-label table and F1 bars, and calibration (the HTML report's plots, as tables and bars).
pub fn report(e: &Evaluation, comparison: Option<&Comparison>, info: &ReportInfo) -> Document {
    let mut blocks = vec![Block::Table { head: vec!["Fact".into(), "Value".into()], rows: info.facts.iter().map(|(k, v)| vec![k.clone(), v.clone()]).collect(), numeric: false }];
    let interval = |m: &str| e.intervals.iter().find(|i| i.metric == m).map(|i| format!("{}–{}", pct(i.interval.low), pct(i.interval.high))).unwrap_or_else(|| "—".into());
    let headline = [
        ("Micro-F1", "micro_f1", e.micro_f1),
        ("Macro-F1", "macro_f1", e.macro_f1),
        ("Micro precision", "micro_precision", e.micro_precision),
        ("Micro recall", "micro_recall", e.micro_recall),
        ("Weighted F1", "weighted_f1", e.weighted_f1),
        ("Accuracy", "accuracy", e.accuracy),
    ];
    blocks.push(Block::Heading(format!("Metrics on {} cases, {} labels", e.cases, e.labels.len())));
    let mut rows: Vec<Vec<String>> = headline.iter().map(|(name, key, v)| vec![(*name).into(), pct(*v), interval(key)]).collect();
    rows.extend(e.top_k_recall.iter().map(|a| vec![format!("Top-{} recall", a.k), pct(a.value), "—".into()]));
    blocks.push(Block::Table { head: vec!["Metric".into(), "%".into(), "95% interval".into()], rows, numeric: true });
    if let Some(c) = comparison {
        blocks.push(Block::Heading(format!("Compared with B, paired on {} cases", c.cases)));
        blocks.push(Block::Table {
            head: vec!["Metric".into(), "A".into(), "B".into(), "B − A".into(), "95% interval".into(), "p".into()],
            rows: c.metrics.iter().map(|m| vec![m.metric.clone(), pct(m.a), pct(m.b), pct(m.difference), format!("{}–{}", pct(m.low), pct(m.high)), format!("{:.3}", m.p_value)]).collect(),
            numeric: true,
        });
    }
    blocks.push(Block::Heading("Per label (largest support first)".into()));
    blocks.push(Block::Table {
        head: vec!["Label".into(), "Support".into(), "Precision".into(), "Recall".into(), "F1".into(), "AP".into()],
        rows: e.per_label.iter().map(|r| vec![r.label.clone(), r.support.to_string(), pct(r.precision), pct(r.recall), pct(r.f1), pct(r.average_precision)]).collect(),
        numeric: true,
    });
    blocks.push(Block::Heading("F1 per label".into()));
    blocks.push(Block::Bars { rows: e.per_label.iter().take(40).map(|r| (r.label.clone(), r.f1)).collect() });
    blocks.push(Block::Heading("Calibration".into()));
    blocks.push(Block::Paragraph(format!("Expected calibration error {} points: the mean gap between predicted probability and observed frequency over the bins below.", pct(e.calibration.ece))));
    blocks.push(Block::Table {
        head: vec!["Mean probability".into(), "Observed".into(), "Cases".into()],
        rows: e.calibration.bins.iter().filter(|b| b.count > 0).map(|b| vec![pct(b.mean_probability), pct(b.observed), b.count.to_string()]).collect(),
        numeric: true,
    });
    Document { title: info.title.clone(), blocks }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text shown on the pages, from the content streams (uncompressed: `(...) Tj`, or
    /// `<hex> Tj` for strings with bytes above ASCII), decoded as Latin-1.
    fn shown(pdf: &[u8]) -> String {
        let s: String = pdf.iter().map(|&b| b as char).collect();
        let mut out = String::new();
        for line in s.lines().filter_map(|l| l.strip_suffix(" Tj")) {
            if let Some(t) = line.strip_prefix('(').and_then(|l| l.strip_suffix(')')) {
                out.push_str(t);
            } else if let Some(h) = line.strip_prefix('<').and_then(|l| l.strip_suffix('>')) {
                let bytes: Vec<u8> = (0..h.len() / 2).filter_map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).ok()).collect();
                out.extend(bytes.iter().map(|&b| b as char));
            }
            out.push('\n');
        }
        out
    }

    #[test]
    fn a_document_becomes_a_pdf_with_its_text_pages_and_numbers() {
        let rows: Vec<Vec<String>> = (0..120).map(|i| vec![format!("label {i}"), i.to_string(), "95.0".into()]).collect();
        let doc = Document {
            title: "Model card: run-7".into(),
            blocks: vec![
                Block::Heading("Intended use".into()),
                Block::Paragraph("A paragraph long enough to wrap across several lines of the page: ".repeat(8)),
                Block::Bullets(vec!["first point".into(), "second point, with an en dash – and é".into()]),
                Block::Table { head: vec!["Label".into(), "Cases".into(), "F1".into()], rows, numeric: true },
                Block::Bars { rows: vec![("asthma".into(), 0.9), ("flu".into(), 0.25)] },
            ],
        };
        let pdf = render(&doc);
        assert!(pdf.starts_with(b"%PDF-1.") && pdf.ends_with(b"%%EOF\n") || pdf.ends_with(b"%%EOF"), "a PDF file");
        let text = shown(&pdf);
        assert!(text.contains("Model card: run-7") && text.contains("Intended use") && text.contains("label 119"), "{text}");
        let raw = String::from_utf8_lossy(&pdf).into_owned();
        let count = raw.find("/Count ").map(|i| &raw[i + 7..]).and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next().and_then(|n| n.parse::<usize>().ok()));
        let pages = count.unwrap_or(0);
        assert!(pages >= 3, "120 table rows take more than two pages, got {pages}");
        assert!(text.contains(&format!("page 1 of {pages}")), "page numbers name the total");
        assert!(text.contains("dash \u{96} and \u{e9}"), "the en dash and é in WinAnsi (0x96, 0xE9)");
    }

    #[test]
    fn text_is_measured_cut_and_wrapped() {
        assert_eq!(width("Hello", 10.0, false), (722 + 556 + 222 + 222 + 556) as f32 / 100.0);
        let cut = fit("a rather long cell of text", 9.0, 40.0);
        assert!(cut.ends_with('…') && width(&cut, 9.0, false) <= 40.0, "{cut}");
        assert_eq!(fit("short", 9.0, 100.0), "short");
        let lines = wrap("one two three four five six seven eight nine ten", 10.0, 60.0);
        assert!(lines.len() > 2 && lines.iter().all(|l| width(l, 10.0, false) <= 60.0), "{lines:?}");
        let hash = "587430c56b1c0acdf97d1492ab3899e9572bfe4a280a9aa4a2b6560eeee946e8";
        let broken = wrap(hash, 9.0, 100.0);
        assert!(broken.len() > 1 && broken.concat() == hash, "a long word is broken, never cut: {broken:?}");
        assert_eq!(winansi("é–€x✓"), vec![0xe9, 0x96, 0x80, b'x', b'?']);
    }
}
