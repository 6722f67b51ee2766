//! `localdx models list|import|fetch-default`: argument parsing and printing around
//! `localdx_api::models`. Models live in `models/` beside the database (or `$LOCALDX_MODELS`).

use crate::output::Context;
use anyhow::Result;
use localdx_api::models::{self, ModelDto};
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum ModelsCommand {
    /// List the GGUF models in the models folder.
    List,
    /// Check a GGUF file and copy it into the models folder.
    Import { path: PathBuf },
    /// Fetch the default model (SmolLM2-135M-Instruct) with the setup script: the one command that
    /// uses the network, and only when asked.
    FetchDefault,
}

/// The workspace's models folder (the API's one rule: `$LOCALDX_MODELS`, else `models/` beside the database).
fn models_dir(ctx: &Context) -> PathBuf {
    localdx_api::workspace::Layout::for_db(&ctx.db).models
}

fn print_models(list: &Vec<ModelDto>) {
    if list.is_empty() {
        println!("no models (run `localdx models fetch-default`)");
    }
    for m in list {
        let mark = if m.is_default { " (default)" } else { "" };
        let ok = if m.supported { "" } else { "  [unsupported]" };
        println!("{}{mark}  {}  {:.1} MB  {}{ok}", m.name, m.architecture, m.bytes as f64 / 1e6, m.detail);
    }
}

pub fn run(ctx: &Context, cmd: ModelsCommand) -> Result<()> {
    let dir = models_dir(ctx);
    match cmd {
        ModelsCommand::List => ctx.emit(&models::list(&dir)?, print_models),
        ModelsCommand::Import { path } => {
            let m = models::import(&dir, &path)?;
            ctx.emit(&m, |m| println!("imported {} into {}", m.name, dir.display()))
        }
        ModelsCommand::FetchDefault => {
            let script = std::env::var_os("LOCALDX_SETUP_SCRIPT")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/fetch-models.sh")));
            let m = models::fetch_default(&dir, &script)?;
            ctx.emit(&m, |m| println!("default model ready: {}", m.path))
        }
    }
}
