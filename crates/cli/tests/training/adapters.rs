//! `localdx runs export RUN --out DIR` writes the PEFT layout plus the head and labels;
//! `localdx runs import DIR` brings it back as a new run; `predict` with the imported run gives the
//! predictions of the original run.

use crate::{import_slice, localdx, max_difference, models_dir, read_safetensors, symptom2disease, HEAVY};

#[test]
fn exported_adapter_imports_back_and_predicts_the_same() {
    let (Some(models), Some(csv)) = (models_dir(), symptom2disease()) else { return };
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let (db, id) = import_slice(dir.path(), &models, &csv, &["Acne", "Malaria", "diabetes"], (4, 2, 3));
    let (ok, run) = localdx(&db, &models, &["train", "--dataset", &id, "--preset", "quick", "--epochs", "1"]);
    assert!(ok, "{run}");

    let out = dir.path().join("adapter");
    let (ok, exported) = localdx(&db, &models, &["runs", "export", "run-1", "--out", out.to_str().unwrap()]);
    assert!(ok, "{exported}");
    assert_eq!((exported["rank"].as_u64(), exported["labels"].as_u64()), (Some(8), Some(3)));
    assert_eq!(exported["layers"], serde_json::json!((22..30).collect::<Vec<_>>()));
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("adapter_config.json")).unwrap()).unwrap();
    assert_eq!(config["peft_type"], "LORA");
    assert_eq!(config["target_modules"], serde_json::json!(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]));
    let tensors = read_safetensors(&out.join("adapter_model.safetensors"));
    assert_eq!(tensors.len(), 8 * 7 * 2);
    assert_eq!(tensors["base_model.model.model.layers.29.mlp.down_proj.lora_A.weight"].len(), 8 * 1536);
    let head: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("localdx_head.json")).unwrap()).unwrap();
    assert_eq!(head["labels"], serde_json::json!(["Acne", "Malaria", "diabetes"]));
    assert_eq!(head["head_kind"], "multi_class");

    let (ok, imported) = localdx(&db, &models, &["runs", "import", out.to_str().unwrap()]);
    assert!(ok, "{imported}");
    assert_eq!(imported["runId"], "run-2");
    let runs = dir.path().join("runs");
    let diff = max_difference(&read_safetensors(&runs.join("run-1/best.safetensors")), &read_safetensors(&runs.join("run-2/best.safetensors")));
    assert_eq!(diff, 0.0, "the imported run holds the exported weights");

    let predict = |run: &str| {
        let (ok, rows) = localdx(&db, &models, &["predict", "--run", run, "--dataset", &id, "--split", "test"]);
        assert!(ok, "{rows}");
        rows
    };
    let (a, b) = (predict("run-1"), predict("run-2"));
    let (a, b) = (a.as_array().unwrap(), b.as_array().unwrap());
    assert_eq!(a.len(), 9);
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x["record_id"], y["record_id"]);
        let labels = |r: &serde_json::Value| r["predictions"].as_array().unwrap().iter().map(|p| p["label"].clone()).collect::<Vec<_>>();
        assert_eq!(labels(x), labels(y), "same ranking for record {}", x["record_id"]);
        for (p, q) in x["predictions"].as_array().unwrap().iter().zip(y["predictions"].as_array().unwrap()) {
            let (p, q) = (p["probability"].as_f64().unwrap(), q["probability"].as_f64().unwrap());
            assert!((p - q).abs() < 1e-6, "record {}: {p} vs {q}", x["record_id"]);
        }
    }

    // Negative rows: exporting over an adapter, importing a folder without one or with a broken
    // head file, and an unknown run are errors with a message, and no run is added.
    let (ok, err) = localdx(&db, &models, &["runs", "export", "run-1", "--out", out.to_str().unwrap()]);
    assert!(!ok && err["error"]["message"].as_str().unwrap().contains("already holds an adapter"), "{err}");
    let (ok, err) = localdx(&db, &models, &["runs", "export", "run-7", "--out", dir.path().join("x").to_str().unwrap()]);
    assert!(!ok && err["error"]["code"] == "not_found", "{err}");
    let (ok, err) = localdx(&db, &models, &["runs", "import", dir.path().to_str().unwrap()]);
    assert!(!ok && err["error"]["message"].as_str().unwrap().contains("adapter_config.json"), "{err}");
    let broken = dir.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    for f in ["adapter_config.json", "adapter_model.safetensors", "localdx_head.safetensors"] {
        std::fs::copy(out.join(f), broken.join(f)).unwrap();
    }
    let mut side = head.clone();
    side["labels"] = serde_json::json!(["Acne", "Malaria"]);
    std::fs::write(broken.join("localdx_head.json"), side.to_string()).unwrap();
    let (ok, err) = localdx(&db, &models, &["runs", "import", broken.to_str().unwrap()]);
    assert!(!ok && err["error"]["message"].as_str().unwrap().contains("label"), "{err}");
    let (ok, listed) = localdx(&db, &models, &["runs"]);
    assert!(ok);
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    assert_eq!(listed[1]["status"], "imported");
}
