//! Trains the PHI tagger's head and writes `assets/phi-tagger.safetensors` and its card
//! `assets/phi-tagger.json` (the shipped head is this program's output).
//!
//! ```sh
//! cargo run --release -p localdx-tagger --example train_tagger -- \
//!   --models models --data ../shared/data --out crates/tagger/assets
//! ```
//!
//! Training data, all from the *tuning* side of the protocol in `docs/phi.md` (never the held-out
//! part, never the unseen notes):
//! - PhysioNet deid dev, tuning patients: those with `((patient - 1) / 2) % 3 != 2`; of them the
//!   patients with `((patient - 1) / 2) % 6 == 1` are the validation slice (threshold and epoch),
//!   the rest train;
//! - presidio-research synthetic sentences, tuning templates (`template_id % 3 != 2`); templates
//!   with `template_id % 6 == 1` are validation, the rest train;
//! - one surrogate copy of every training note: each gold span replaced by the project's own
//!   surrogate generator (`localdx_phi::redact::surrogate`) under a fresh secret, and the copy's
//!   case changed at random (capitals, lower case or as written), so the head learns shapes and
//!   cues rather than the names it saw;
//! - MTSamples transcriptions (`mtsamples.csv`, PHI-free), each with a few sentences inserted
//!   from templates whose slots are filled by the same surrogate generator: clinical English with
//!   its eponyms and drug names as `O`, around PHI in shapes notes use.
//!
//! The threshold comes from `localdx_tagger::train::choose_threshold` over a grid (0.05 to 0.95
//! by 0.05, then 0.97 and 0.99): the highest at which the union with the rules keeps token recall
//! >= 0.99 on the PhysioNet validation slice and >= 0.97 on the presidio one while keeping 80% of
//! the rules' precision; when none does, the one with the best mean token F2 over the two slices.
//!
//! `--rethreshold` re-applies that rule to the search recorded in an existing card (`--out`'s
//! `phi-tagger.json`) without training: the head and its figures stay as they are.

use candle_core::Device;
use localdx_phi::eval::{read_gold, GoldFormat, GoldNote, Predicted, Scorer};
use localdx_phi::{redact, Engine, EntityType};
use localdx_span::Span;
use localdx_tagger::labels::{target, Target, KINDS};
use localdx_tagger::train::{self, choose_threshold, Example, Options, Prepared, ThresholdRow};
use localdx_tagger::{decode, encoder, Encoder, HeadCard, CARD_VERSION};
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned().unwrap_or_else(|| default.to_string())
}

/// PhysioNet patient number -> (held out, validation).
fn physionet_part(patient: &str) -> (bool, bool) {
    let k = (patient.parse::<u64>().unwrap_or(1).saturating_sub(1)) / 2;
    (k % 3 == 2, k % 6 == 1)
}

fn presidio_templates(path: &Path) -> Vec<u64> {
    let rows: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(path).expect("presidio file")).expect("presidio json");
    rows.iter().map(|r| r["template_id"].as_u64().unwrap_or(0)).collect()
}

fn example(note: &GoldNote) -> Example {
    Example { text: note.text.clone(), spans: note.spans.iter().map(|s| (s.span, target(&s.label))).collect() }
}

/// A copy of `note` with every PHI span replaced by a surrogate of its kind, then re-cased.
fn surrogate_copy(note: &GoldNote, rng: &mut StdRng) -> Example {
    let secret: [u8; 16] = rng.random();
    let case = rng.random_range(0..3);
    let mut spans: Vec<_> = note.spans.clone();
    spans.sort_by_key(|s| s.span.start);
    let mut text = String::new();
    let mut out = Vec::new();
    let mut at = 0;
    for s in spans {
        if s.span.start < at {
            continue;
        }
        text.push_str(&note.text[at..s.span.start]);
        let original = s.span.slice(&note.text);
        let t = target(&s.label);
        let replaced = match t {
            Target::Kind(k) => redact::surrogate(&secret, &note.patient, KINDS[k], original),
            Target::Ignore => original.to_string(),
        };
        let start = text.len();
        text.push_str(&replaced);
        out.push((Span::new(start, text.len()), t));
        at = s.span.end;
    }
    text.push_str(&note.text[at..]);
    let recased = match case {
        0 => text.to_uppercase(),
        1 => text.to_lowercase(),
        _ => text.clone(),
    };
    // re-casing can change byte lengths outside ASCII: keep the copy as written then
    if recased.len() == text.len() {
        Example { text: recased, spans: out }
    } else {
        Example { text, spans: out }
    }
}

/// Sentences with PHI slots: `{name}`, `{first}`, `{last}`, `{date}`, `{place}`, `{hospital}`,
/// `{phone}`, `{id}`, `{street}`, `{age}`. Slot values are seeds that the surrogate generator
/// turns into new values of the same shape.
const TEMPLATES: &[&str] = &[
    "Patient {name} was seen in clinic on {date}.",
    "Seen by Dr. {last} on {date} for follow-up.",
    "Discussed with {first} ({relation}) at bedside, who agrees with the plan.",
    "Transferred from {hospital} on {date}.",
    "Please call {phone} with results.",
    "MRN: {id}",
    "Medical record number {id}, admitted {date}.",
    "Pt {name} lives at {street}, {place}.",
    "Attending: {name}, MD",
    "{last}, {first} - DOB {date}",
    "Family meeting held with {name} and Dr. {last}.",
    "Referred by {name}, NP, from {place}.",
    "The patient is a {age}-year-old resident of {place}.",
    "Follow up at {hospital} clinic in 2 weeks; appointment {date}.",
    "Spoke with wife {first} who can be reached at {phone}.",
    "Insurance policy #{id} verified by {first} {last}.",
    "Case discussed with {last} (RN) and {last} (resident).",
    "{name} / {date} / {hospital}",
    "Hx of MI in '{yy}, CABG at {hospital}.",
    "Last seen {date}; next visit {date}.",
    "Dictated by: {name}, M.D. Date: {date}",
    "cc: Dr. {first} {last}, {place}",
    "Social: lives with daughter {first} in {place}, retired from {employer}.",
    "Account {id}; SSN {ssn}.",
];

const RELATIONS: &[&str] = &["son", "daughter", "wife", "husband", "sister", "brother", "mother", "friend"];
const SEED_NAMES: &[&str] = &["John Smith", "Mary Jones", "Robert Miller", "Linda Garcia", "James Wilson", "Ana Lopez"];
const SEED_PLACES: &[&str] = &["Springfield", "Riverside", "Franklin", "Greenville", "Clinton", "Salem"];
const SEED_HOSPITALS: &[&str] = &["St. Mary's Hospital", "Mercy Medical Center", "City General Hospital", "Riverside Clinic", "Baptist Hospital"];
const SEED_EMPLOYERS: &[&str] = &["General Motors", "the post office", "Walmart", "Boeing"];

/// Fills a template: each slot becomes a surrogate of a seed value, shaped like the seed; the
/// returned spans are the slots (an employer is ignored: not a Safe Harbor identifier).
fn fill(template: &str, secret: &[u8], patient: &str, rng: &mut StdRng) -> (String, Vec<(Span, Target)>) {
    let mut text = String::new();
    let mut spans = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        text.push_str(&rest[..open]);
        let close = open + rest[open..].find('}').expect("closed slot");
        let slot = &rest[open + 1..close];
        rest = &rest[close + 1..];
        let name = *SEED_NAMES.choose(rng).unwrap();
        let (value, kind) = match slot {
            "name" => (redact::surrogate(secret, patient, EntityType::Name, name), Some(0)),
            "first" => (redact::surrogate(secret, patient, EntityType::Name, name.split(' ').next().unwrap()), Some(0)),
            "last" => (redact::surrogate(secret, patient, EntityType::Name, name.split(' ').nth(1).unwrap()), Some(0)),
            "date" => {
                let seeds = ["03/14/2011", "3/14", "March 14, 2011", "14-Mar-2011", "2011-03-14", "3/14/11", "Mar 14"];
                (redact::surrogate(secret, patient, EntityType::Date, seeds.choose(rng).unwrap()), Some(1))
            }
            "yy" => (format!("{:02}", rng.random_range(0..100)), Some(1)),
            "place" => (redact::surrogate(secret, patient, EntityType::Location, SEED_PLACES.choose(rng).unwrap()), Some(2)),
            "hospital" => (redact::surrogate(secret, patient, EntityType::Location, SEED_HOSPITALS.choose(rng).unwrap()), Some(2)),
            "street" => (redact::surrogate(secret, patient, EntityType::Address, "1234 Oak Street"), Some(3)),
            "phone" => {
                let seeds = ["(617) 555-0123", "617-555-0123", "555-0123", "617.555.0123"];
                (redact::surrogate(secret, patient, EntityType::Phone, seeds.choose(rng).unwrap()), Some(4))
            }
            "id" => {
                let seeds = ["123456", "AB-123456", "00123456", "MR1234567"];
                (redact::surrogate(secret, patient, EntityType::Id, seeds.choose(rng).unwrap()), Some(5))
            }
            "ssn" => (redact::surrogate(secret, patient, EntityType::Ssn, "123-45-6789"), Some(5)),
            "age" => (rng.random_range(90..104).to_string(), Some(6)),
            "relation" => (RELATIONS.choose(rng).unwrap().to_string(), None),
            "employer" => (SEED_EMPLOYERS.choose(rng).unwrap().to_string(), Some(usize::MAX)),
            other => panic!("unknown slot {other}"),
        };
        let start = text.len();
        text.push_str(&value);
        match kind {
            Some(usize::MAX) => spans.push((Span::new(start, text.len()), Target::Ignore)),
            Some(k) => spans.push((Span::new(start, text.len()), Target::Kind(k))),
            None => {}
        }
    }
    text.push_str(rest);
    (text, spans)
}

/// MTSamples transcriptions with template sentences inserted at sentence ends.
fn mtsamples(path: &Path, count: usize, rng: &mut StdRng) -> Vec<Example> {
    let mut reader = csv::Reader::from_path(path).expect("mtsamples.csv");
    let mut texts: Vec<String> = reader
        .records()
        .filter_map(|r| r.ok())
        .filter_map(|r| r.get(4).map(|t| t.trim().to_string()))
        .filter(|t| t.len() > 200)
        .collect();
    texts.sort();
    texts.dedup();
    texts.shuffle(rng);
    let mut out = Vec::new();
    for (n, t) in texts.into_iter().take(count).enumerate() {
        let cut = t.char_indices().take_while(|(i, _)| *i < 2000).last().map_or(t.len(), |(i, c)| i + c.len_utf8());
        let body = &t[..cut];
        let secret: [u8; 16] = rng.random();
        let patient = format!("mts{n}");
        let boundaries: Vec<usize> = body.match_indices(". ").map(|(i, _)| i + 2).collect();
        let mut inserts: Vec<usize> = (0..rng.random_range(1..4)).filter_map(|_| boundaries.choose(rng).copied()).collect();
        inserts.push(0);
        inserts.sort();
        inserts.dedup();
        let case = rng.random_range(0..4);
        let mut text = String::new();
        let mut spans = Vec::new();
        let mut at = 0;
        for &b in &inserts {
            text.push_str(&body[at..b]);
            let (sentence, slots) = fill(TEMPLATES.choose(rng).unwrap(), &secret, &patient, rng);
            let base = text.len();
            text.push_str(&sentence);
            text.push(' ');
            spans.extend(slots.into_iter().map(|(s, t)| (Span::new(s.start + base, s.end + base), t)));
            at = b;
        }
        text.push_str(&body[at..]);
        let recased = match case {
            0 => text.to_uppercase(),
            1 => text.to_lowercase(),
            _ => text.clone(),
        };
        out.push(Example { text: if recased.len() == text.len() { recased } else { text }, spans });
    }
    out
}

struct Validation {
    name: &'static str,
    notes: Vec<GoldNote>,
    format: GoldFormat,
    rules: Vec<Vec<Predicted>>,
    prepared: Vec<Prepared>,
    pieces: Vec<encoder::Pieces>,
    need: f64,
}

fn union_recall(v: &Validation, probs: &[Vec<Vec<f32>>], threshold: f32) -> (f64, f64) {
    let mut scorer = Scorer::for_format(v.format);
    for (i, note) in v.notes.iter().enumerate() {
        let mut predicted = v.rules[i].clone();
        predicted.extend(decode::decode(&note.text, &v.pieces[i], &probs[i], threshold).iter().map(Predicted::from));
        scorer.add(note, &predicted);
    }
    let r = scorer.finish(0.0);
    (r.token_recall, r.token_precision)
}

/// Encoder states are the slow part (minutes); `--cache DIR` keeps them between runs that change
/// only the head's settings. The file is keyed by the examples' texts and spans.
fn cached(dir: Option<&Path>, name: &str, examples: &[Example], compute: impl FnOnce() -> Vec<Prepared>) -> Vec<Prepared> {
    let Some(dir) = dir else { return compute() };
    let mut key = Sha256::new();
    for e in examples {
        key.update(e.text.as_bytes());
        key.update(format!("{:?}", e.spans).as_bytes());
    }
    let key: String = key.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    let path = dir.join(format!("{name}-{key}.bin"));
    if let Ok(bytes) = std::fs::read(&path) {
        let mut at = 0;
        let mut take = |n: usize| {
            let s = &bytes[at..at + n];
            at += n;
            s
        };
        let count = u64::from_le_bytes(take(8).try_into().unwrap()) as usize;
        let floats = |b: &[u8]| b.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect::<Vec<f32>>();
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let n = u64::from_le_bytes(take(8).try_into().unwrap()) as usize;
            let states = floats(take(n * encoder::HIDDEN * 4));
            let shapes = floats(take(n * localdx_tagger::head::SHAPE * 4));
            let targets = take(n * 4).chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
            out.push(Prepared { states, shapes, targets });
        }
        eprintln!("{name}: encoder states read from {}", path.display());
        return out;
    }
    let out = compute();
    let mut bytes = (out.len() as u64).to_le_bytes().to_vec();
    for p in &out {
        bytes.extend((p.len() as u64).to_le_bytes());
        p.states.iter().chain(&p.shapes).for_each(|v| bytes.extend(v.to_le_bytes()));
        p.targets.iter().for_each(|v| bytes.extend(v.to_le_bytes()));
    }
    std::fs::create_dir_all(dir).expect("cache dir");
    std::fs::write(&path, bytes).expect("write cache");
    out
}

/// Re-applies the threshold rule to the search recorded in `card_path`; writes the card back.
fn rethreshold(card_path: &Path) {
    let text = std::fs::read_to_string(card_path).unwrap_or_else(|e| panic!("{}: {e}", card_path.display()));
    let mut card: HeadCard = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", card_path.display()));
    let figures = |v: &serde_json::Value| -> Vec<(f64, f64)> {
        v.as_array().expect("slices").iter().map(|s| (s["token_recall"].as_f64().expect("recall"), s["token_precision"].as_f64().expect("precision"))).collect()
    };
    let p = &card.provenance;
    let rows: Vec<ThresholdRow> = p["threshold_search"]
        .as_array()
        .expect("threshold_search")
        .iter()
        .map(|row| ThresholdRow { threshold: row["threshold"].as_f64().expect("threshold") as f32, union: figures(&row["union"]) })
        .collect();
    let rules = figures(&p["rules_only_on_validation"]);
    let goals: Vec<f64> = p["rules_only_on_validation"]
        .as_array()
        .expect("slices")
        .iter()
        .map(|s| if s["slice"].as_str().is_some_and(|n| n.starts_with("PhysioNet")) { 0.99 } else { 0.97 })
        .collect();
    let (threshold, rule) = choose_threshold(&rows, &rules, &goals).expect("a recorded threshold search");
    eprintln!("threshold {:.2} -> {threshold:.2} ({rule:?})", card.threshold);
    card.threshold = threshold;
    card.provenance["threshold_rule"] = serde_json::json!(rule);
    std::fs::write(card_path, serde_json::to_string_pretty(&card).unwrap() + "\n").expect("write card");
}

fn main() {
    // SAFETY: first thing in main, before any thread exists.
    unsafe { localdx_model::runtime::configure() };
    let args: Vec<String> = std::env::args().collect();
    let models = PathBuf::from(arg(&args, "--models", "models"));
    let data = PathBuf::from(arg(&args, "--data", "../shared/data"));
    let out = PathBuf::from(arg(&args, "--out", "crates/tagger/assets"));
    if args.iter().any(|a| a == "--rethreshold") {
        rethreshold(&out.join("phi-tagger.json"));
        return;
    }
    let cache = args.iter().position(|a| a == "--cache").and_then(|i| args.get(i + 1)).map(PathBuf::from);
    let mts_count: usize = arg(&args, "--mtsamples", "200").parse().expect("--mtsamples N");
    let options = Options {
        epochs: arg(&args, "--epochs", "8").parse().expect("--epochs N"),
        phi_weight: arg(&args, "--phi-weight", "3").parse().expect("--phi-weight W"),
        ..Options::default()
    };
    let clock = Instant::now();
    let encoder_dir = models.join(encoder::DIR_NAME);
    let encoder = Encoder::load(&encoder_dir).unwrap_or_else(|e| panic!("{e}"));
    let mut rng = StdRng::seed_from_u64(options.seed);

    let physionet_path = data.join("physionet_deid/deid_gold_dev.jsonl");
    let presidio_path = data.join("presidio_synth/synth_dataset_v2.json");
    let mts_path = data.join("mtsamples/mtsamples.csv");
    let physionet = read_gold(&physionet_path, GoldFormat::DeidJsonl).expect("physionet");
    let presidio = read_gold(&presidio_path, GoldFormat::PresidioJson).expect("presidio");
    let templates = presidio_templates(&presidio_path);

    let (mut train_ex, mut val_physionet, mut val_presidio) = (Vec::new(), Vec::new(), Vec::new());
    for note in physionet {
        match physionet_part(&note.patient) {
            (true, _) => {}
            (false, true) => val_physionet.push(note),
            (false, false) => {
                train_ex.push(example(&note));
                train_ex.push(surrogate_copy(&note, &mut rng));
            }
        }
    }
    for (note, t) in presidio.into_iter().zip(&templates) {
        match (t % 3 == 2, t % 6 == 1) {
            (true, _) => {}
            (false, true) => val_presidio.push(note),
            (false, false) => {
                train_ex.push(example(&note));
                train_ex.push(surrogate_copy(&note, &mut rng));
            }
        }
    }
    let n_gold = train_ex.len();
    train_ex.extend(mtsamples(&mts_path, mts_count, &mut rng));
    eprintln!(
        "examples: {} from the gold tuning parts (with surrogate copies), {} MTSamples; validation {} PhysioNet + {} presidio notes",
        n_gold,
        train_ex.len() - n_gold,
        val_physionet.len(),
        val_presidio.len()
    );

    let progress = |what: &'static str| {
        move |n: usize, total: usize| {
            if n % 200 == 0 || n == total {
                eprintln!("  encoding {what}: {n}/{total} ({:.0} s)", clock.elapsed().as_secs_f64());
            }
        }
    };
    let prepared = cached(cache.as_deref(), "train", &train_ex, || {
        train::prepare(&encoder, &train_ex, &progress("training examples")).expect("encode")
    });
    let pieces: usize = prepared.iter().map(|p| p.len()).sum();
    eprintln!("training pieces: {pieces}");
    let engine = Engine::default();
    let validation = |name: &'static str, notes: Vec<GoldNote>, format: GoldFormat, need: f64| {
        let ex: Vec<Example> = notes.iter().map(example).collect();
        let prepared = cached(cache.as_deref(), name.split(' ').next().unwrap(), &ex, || {
            train::prepare(&encoder, &ex, &progress(name)).expect("encode")
        });
        let pieces = notes.iter().map(|n| encoder.pieces(&n.text)).collect();
        let rules = notes.iter().map(|n| engine.detect(&n.text).iter().map(Predicted::from).collect()).collect();
        Validation { name, notes, format, rules, prepared, pieces, need }
    };
    let vals = [
        validation("PhysioNet validation", val_physionet, GoldFormat::DeidJsonl, 0.99),
        validation("presidio validation", val_presidio, GoldFormat::PresidioJson, 0.97),
    ];
    // the epoch is chosen on the PhysioNet validation slice
    let (head, log) = train::train(&prepared, &vals[0].prepared, &options, &|e| {
        eprintln!(
            "epoch {}: loss {:.4}, validation pieces recall {:.4} precision {:.4} F2 {:.4} ({:.0} s)",
            e.epoch,
            e.loss,
            e.validation.recall,
            e.validation.precision,
            e.validation.f2,
            clock.elapsed().as_secs_f64()
        )
    })
    .expect("train");

    let device = Device::Cpu;
    let probs: Vec<Vec<Vec<Vec<f32>>>> = vals.iter().map(|v| train::predict(&head, &v.prepared, &device).expect("predict")).collect();
    let mut grid: Vec<f32> = (1..=19).rev().map(|step| step as f32 * 0.05).collect();
    grid.splice(0..0, [0.99, 0.97]);
    let mut table = Vec::new();
    let mut rows = Vec::new();
    for &t in &grid {
        let figures: Vec<(f64, f64)> = vals.iter().zip(&probs).map(|(v, p)| union_recall(v, p, t)).collect();
        eprintln!(
            "threshold {t:.2}: {}",
            vals.iter().zip(&figures).map(|(v, (r, p))| format!("{} union recall {r:.4} precision {p:.4}", v.name)).collect::<Vec<_>>().join("; ")
        );
        table.push(serde_json::json!({"threshold": t, "union": vals.iter().zip(&figures).map(|(v, (r, p))| serde_json::json!({"slice": v.name, "token_recall": r, "token_precision": p})).collect::<Vec<_>>()}));
        rows.push(ThresholdRow { threshold: t, union: figures });
    }
    let rules_only: Vec<(f64, f64)> = vals.iter().zip(&probs).map(|(v, p)| union_recall(v, p, 1.01)).collect();
    let goals: Vec<f64> = vals.iter().map(|v| v.need).collect();
    let (threshold, rule) = choose_threshold(&rows, &rules_only, &goals).expect("a threshold grid");
    eprintln!("rules alone: {rules_only:?}; chosen threshold {threshold:.2} ({rule:?})");

    let files = [&physionet_path, &presidio_path, &mts_path];
    let card = HeadCard {
        version: CARD_VERSION,
        encoder: encoder::DIR_NAME.to_string(),
        encoder_sha256: sha256(&encoder_dir.join("model.safetensors")),
        threshold,
        provenance: serde_json::json!({
            "program": "crates/tagger/examples/train_tagger.rs",
            "training_files": files.iter().map(|f| serde_json::json!({"file": f.file_name().unwrap().to_string_lossy(), "sha256": sha256(f)})).collect::<Vec<_>>(),
            "examples": {"gold_tuning_with_surrogate_copies": n_gold, "mtsamples": train_ex.len() - n_gold, "pieces": pieces},
            "options": options,
            "epochs": log,
            "threshold_search": table,
            "threshold_rule": rule,
            "rules_only_on_validation": vals.iter().zip(&rules_only).map(|(v, (r, p))| serde_json::json!({"slice": v.name, "token_recall": r, "token_precision": p})).collect::<Vec<_>>(),
            "seconds": clock.elapsed().as_secs_f64().round(),
        }),
    };
    std::fs::create_dir_all(&out).expect("out dir");
    std::fs::write(out.join("phi-tagger.safetensors"), head.to_bytes().expect("head bytes")).expect("write head");
    std::fs::write(out.join("phi-tagger.json"), serde_json::to_string_pretty(&card).unwrap() + "\n").expect("write card");
    eprintln!("wrote {} ({:.0} s)", out.display(), clock.elapsed().as_secs_f64());
}
