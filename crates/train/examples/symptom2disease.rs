//! The Symptom2Disease experiment, reading the CSV directly: a stratified row split
//! (70% train, 15% validation, 15% test, seeded), the zero-shot baseline and a LoRA fine-tune of
//! the default model, both scored on the test split. Also `bench`: training tokens/s at a fixed
//! sequence length and batch 1.
//!
//! cargo run -p localdx-train --example symptom2disease -- train [--model GGUF] [--preset P] [--dp-epsilon 8]
//!     [--epochs N] [--batch N] [--lr X] [--limit N] [--run-dir DIR]
//! cargo run -p localdx-train --example symptom2disease -- eval --run-dir DIR   (test split, best epoch)
//! cargo run -p localdx-train --example symptom2disease -- predictions --run-dir DIR --out-dir OUT
//!     (validation and test predictions of the run and of the zero-shot baseline, for `localdx eval`)
//! cargo run -p localdx-train --example symptom2disease -- bench --seq 256 --steps 5

use localdx_job::Cancel;
use localdx_train::metrics;
use localdx_train::predict::Predictor;
use localdx_train::trainer::{Example, Preset, TrainData, TrainEvent};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn main() -> anyhow::Result<()> {
    // SAFETY: first thing in main, before any thread exists.
    unsafe { localdx_train::localdx_model::runtime::configure() };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let model_path = arg(&args, "--model").map(PathBuf::from).unwrap_or(root.join("models/SmolLM2-135M-Instruct.Q4_1.gguf"));
    match args.first().map(String::as_str) {
        Some("bench") => bench(&model_path, &args),
        _ => experiment(&root, &model_path, &args),
    }
}

fn bench(model_path: &std::path::Path, args: &[String]) -> anyhow::Result<()> {
    use localdx_model::{LoadOptions, LoraConfig, Model};
    let seq: usize = arg(args, "--seq").map_or(Ok(256), |s| s.parse())?;
    let steps: usize = arg(args, "--steps").map_or(Ok(5), |s| s.parse())?;
    let storage = match arg(args, "--storage").as_deref() {
        Some("quantized") => localdx_model::BaseStorage::Quantized,
        Some("dense") => localdx_model::BaseStorage::Dense,
        Some("bf16") => localdx_model::BaseStorage::Bf16,
        // What training chooses: bf16 panels where the CPU has bf16 kernels (LOCALDX_KERNELS).
        _ => localdx_model::BaseStorage::Auto,
    };
    let t0 = Instant::now();
    let model = Model::load(model_path, &LoadOptions { lora: Some(LoraConfig::default()), storage, ..LoadOptions::default() })?;
    eprintln!("loaded in {:.1}s: {}", t0.elapsed().as_secs_f64(), model.llama.storage_reason);
    let vars: Vec<_> = model.llama.lora_vars().into_iter().map(|(_, v)| v).collect();
    let ids: Vec<u32> = (0..seq as u32).map(|i| 100 + (i * 37) % 30000).collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let mut times = Vec::new();
    let mut cpu_times = Vec::new();
    for step in 0..steps + 1 {
        let t = Instant::now();
        let c = cpu_seconds();
        let h = model.pooled(&[&ids], Some(&mut rng))?;
        let loss = h.sqr()?.mean_all()?;
        let grads = loss.backward()?;
        let n = vars.iter().filter(|v| grads.get(v.as_tensor()).is_some()).count();
        let dt = t.elapsed().as_secs_f64();
        if step > 0 {
            times.push(dt);
            cpu_times.push(cpu_seconds() - c);
        }
        eprintln!("step {step}: {dt:.2}s ({n} grads)");
    }
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    let cpu_mean = cpu_times.iter().sum::<f64>() / cpu_times.len().max(1) as f64;
    let (fwd, fwd_cpu) = {
        let t = Instant::now();
        let c = cpu_seconds();
        let _ = model.pooled(&[&ids], None)?;
        (t.elapsed().as_secs_f64(), cpu_seconds() - c)
    };
    println!(
        "{{\"seq\": {seq}, \"train_tokens_per_second\": {:.1}, \"forward_tokens_per_second\": {:.1}, \"train_tokens_per_cpu_second\": {:.1}, \"forward_tokens_per_cpu_second\": {:.1}, \"storage\": \"{:?}\", \"kernel\": \"{}\"}}",
        seq as f64 / mean,
        seq as f64 / fwd,
        seq as f64 / cpu_mean.max(1e-9),
        seq as f64 / fwd_cpu.max(1e-9),
        model.llama.storage,
        if model.llama.storage == localdx_model::BaseStorage::Bf16 { localdx_model::bf16::Kernel::chosen().0.name() } else { "f32" },
    );
    Ok(())
}

/// CPU time (user + system) this process has used, from `/proc/self/stat` (Linux; 0 elsewhere).
/// On a machine shared with other work, tokens per CPU-second of a one-thread run measure the
/// engine's work where wall-clock tokens/s mostly measure the neighbours.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the command name (which ends with ')'): utime and stime are the 12th and 13th.
    let Some(rest) = stat.rsplit(')').next() else { return 0.0 };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn experiment(root: &std::path::Path, model_path: &std::path::Path, args: &[String]) -> anyhow::Result<()> {
    let csv_path = root.join("../shared/data/symptom2disease/Symptom2Disease.csv");
    let mut reader = csv::Reader::from_path(&csv_path)?;
    let mut by_label: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for row in reader.records() {
        let row = row?;
        by_label.entry(row[1].trim().to_owned()).or_default().push((row[0].to_owned(), row[2].to_owned()));
    }
    let labels: Vec<String> = by_label.keys().cloned().collect();
    let limit: usize = arg(args, "--limit").map_or(Ok(usize::MAX), |s| s.parse())?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(2024);
    let (mut train, mut val, mut test) = (Vec::new(), Vec::new(), Vec::new());
    for (li, (_, rows)) in by_label.iter_mut().enumerate() {
        rows.shuffle(&mut rng);
        let n = rows.len();
        let (n_val, n_test) = ((n as f64 * 0.15).round() as usize, (n as f64 * 0.15).round() as usize);
        for (k, (id, text)) in rows.iter().enumerate() {
            let e = Example { id: id.clone(), text: text.clone(), labels: vec![li] };
            if k < n_test {
                test.push(e)
            } else if k < n_test + n_val {
                val.push(e)
            } else if train.len() < limit {
                train.push(e)
            }
        }
    }
    eprintln!("split: {} train, {} validation, {} test, {} labels", train.len(), val.len(), test.len(), labels.len());
    let data = TrainData { labels: labels.clone(), label_texts: labels.clone(), train, validation: val };
    let mut cfg = Preset::parse(&arg(args, "--preset").unwrap_or("quick".into())).unwrap_or(Preset::Quick).config();
    // As `localdx train`: DP-SGD's own settings first, explicit options over them.
    if let Some(eps) = arg(args, "--dp-epsilon") {
        cfg = cfg.private(eps.parse()?);
    }
    if let Some(e) = arg(args, "--epochs") {
        cfg.epochs = e.parse()?;
    }
    if let Some(b) = arg(args, "--batch") {
        cfg.batch_size = b.parse()?;
    }
    if let Some(lr) = arg(args, "--lr") {
        cfg.optimizer.lr = lr.parse()?;
    }
    let run_dir = PathBuf::from(arg(args, "--run-dir").unwrap_or_else(|| format!("/tmp/s2d-run-{}", std::process::id())));
    let gold: Vec<Vec<usize>> = test.iter().map(|e| e.labels.clone()).collect();
    let texts: Vec<&str> = test.iter().map(|e| e.text.as_str()).collect();
    let to_probs = |rows: Vec<Vec<localdx_train::predict::Scored>>| -> Vec<Vec<f32>> {
        rows.into_iter()
            .map(|r| {
                let mut p = vec![0f32; labels.len()];
                for s in r {
                    if let Some(i) = labels.iter().position(|l| *l == s.label) {
                        p[i] = s.probability;
                    }
                }
                p
            })
            .collect()
    };
    if args.first().map(String::as_str) == Some("predictions") {
        // Writes the zero-shot and fine-tuned predictions of the validation and test splits in the
        // format of `localdx predict --json`, for `localdx eval --predictions ...` (intervals,
        // thresholds chosen on validation, paired comparison).
        let out = PathBuf::from(arg(args, "--out-dir").unwrap_or_else(|| "s2d-predictions".into()));
        std::fs::create_dir_all(&out)?;
        let tuned = Predictor::from_run(&run_dir, &localdx_train::checkpoint::Vault::Plain)?;
        let train_texts: Vec<&str> = data.train.iter().map(|e| e.text.as_str()).collect();
        let zs = Predictor::zero_shot(model_path, labels.clone(), &labels, &train_texts, tuned.config.clone())?;
        for (split, rows) in [("validation", &data.validation), ("test", &test)] {
            let texts: Vec<&str> = rows.iter().map(|e| e.text.as_str()).collect();
            for (name, predictor) in [("fine-tuned", &tuned), ("zero-shot", &zs)] {
                let scored = predictor.predict(&texts)?;
                // The CSV's own index column repeats, so a record is named by its place in the split.
                let json: Vec<serde_json::Value> = rows
                    .iter()
                    .zip(scored)
                    .enumerate()
                    .map(|(k, (e, p))| {
                        let gold: Vec<&str> = e.labels.iter().map(|&i| labels[i].as_str()).collect();
                        serde_json::json!({"record_id": format!("{split}-{k}"), "gold": gold, "predictions": p})
                    })
                    .collect();
                let path = out.join(format!("{name}-{split}.json"));
                std::fs::write(&path, serde_json::to_string(&json)?)?;
                eprintln!("wrote {} ({} notes)", path.display(), rows.len());
            }
        }
        return Ok(());
    }
    if args.first().map(String::as_str) == Some("eval") {
        // Score the test split with the best epoch of an existing (possibly unfinished) run.
        let tuned = Predictor::from_run(&run_dir, &localdx_train::checkpoint::Vault::Plain)?;
        let m = metrics::evaluate(&to_probs(tuned.predict(&texts)?), &gold, labels.len(), false, 0.5);
        println!("{}", serde_json::json!({"run_dir": run_dir, "test": m}));
        return Ok(());
    }
    let t0 = Instant::now();
    let train_texts: Vec<&str> = data.train.iter().map(|e| e.text.as_str()).collect();
    let zs = Predictor::zero_shot(model_path, labels.clone(), &labels, &train_texts, cfg.clone())?;
    let zs_test = metrics::evaluate(&to_probs(zs.predict(&texts)?), &gold, labels.len(), false, 0.5);
    drop(zs);
    eprintln!("zero-shot test: {zs_test:?} ({:.0}s)", t0.elapsed().as_secs_f64());
    let cancel = Cancel::new();
    let on_event = |e: &TrainEvent| match e {
        TrainEvent::Step { step, steps_total, loss, tokens_per_second, eta_seconds, .. } if step % 10 == 0 || step == steps_total => {
            eprintln!("step {step}/{steps_total} loss {loss:.4} {tokens_per_second:.0} tok/s ETA {eta_seconds:.0}s")
        }
        TrainEvent::Step { .. } => {}
        other => eprintln!("{}", serde_json::to_string(other).unwrap_or_default()),
    };
    let t1 = Instant::now();
    let outcome = if run_dir.join("run.json").exists() {
        localdx_train::resume(&run_dir, &localdx_train::checkpoint::Vault::Plain, &data, &cancel, &on_event)?
    } else {
        localdx_train::train(&run_dir, model_path, &data, &cfg, &cancel, &on_event)?
    };
    let train_secs = t1.elapsed().as_secs_f64();
    let tuned = Predictor::from_run(&run_dir, &localdx_train::checkpoint::Vault::Plain)?;
    let ft_test = metrics::evaluate(&to_probs(tuned.predict(&texts)?), &gold, labels.len(), false, 0.5);
    let report = serde_json::json!({
        "run_dir": run_dir,
        "preset": cfg,
        "train_seconds": train_secs,
        "total_seconds": t0.elapsed().as_secs_f64(),
        "outcome": outcome,
        "test": {"zero_shot": zs_test, "fine_tuned": ft_test, "count": test.len()},
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
