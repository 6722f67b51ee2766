//! PEFT adapter export: file names, config fields and tensor names other tools expect, and a round
//! trip back into a model.

use crate::{synthetic_task, tiny_model_file};
use localdx_job::Cancel;
use localdx_model::{LoadOptions, LoraConfig, Model};
use localdx_train::trainer::{TrainConfig, TrainEvent};

#[test]
fn exported_adapter_has_peft_layout_and_imports_back() {
    let (_d, model_path) = tiny_model_file();
    let data = synthetic_task(12, 6);
    let dirs = tempfile::tempdir().unwrap();
    let run = dirs.path().join("r");
    let cfg = TrainConfig { epochs: 1, max_len: 12, lora: LoraConfig { rank: 4, alpha: 8.0, ..LoraConfig::default() }, ..TrainConfig::default() };
    localdx_train::train(&run, &model_path, &data, &cfg, &Cancel::new(), &|_: &TrainEvent| {}).unwrap();
    let out = dirs.path().join("adapter");
    localdx_train::peft::export_run(&run, &localdx_train::checkpoint::Vault::Plain, &out).unwrap();

    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("adapter_config.json")).unwrap()).unwrap();
    assert_eq!(config["peft_type"], "LORA");
    assert_eq!(config["r"], 4);
    assert_eq!(config["lora_alpha"], 8.0);
    assert_eq!(config["target_modules"].as_array().unwrap().len(), 7);

    let (lora, tensors) = localdx_train::peft::import(&out).unwrap();
    assert_eq!(lora.rank, 4);
    assert_eq!(tensors.len(), 2 * 7 * 2);
    for name in [
        "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
        "base_model.model.model.layers.1.mlp.down_proj.lora_B.weight",
    ] {
        assert!(tensors.contains_key(name), "{name}");
    }
    assert_eq!(tensors["base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"].dims(), [32, 4]);
    assert_eq!(tensors["base_model.model.model.layers.1.mlp.down_proj.lora_A.weight"].dims(), [4, 64]);
    assert!(out.join("localdx_head.safetensors").exists());

    // Import into a fresh model: the adapters are set, name for name.
    let model = Model::load(&model_path, &LoadOptions { lora: Some(lora), ..LoadOptions::default() }).unwrap();
    localdx_train::checkpoint::set_vars(&tensors, &model.llama.lora_vars(), "adapter").unwrap();
    let b = &model.llama.lora_vars()[1].1;
    assert!(b.as_tensor().abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() > 0.0, "trained B is non-zero");

    // A missing config is an error, not a panic.
    assert!(localdx_train::peft::import(dirs.path()).is_err());
}
