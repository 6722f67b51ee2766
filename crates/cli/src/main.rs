//! `localdx`: the command line of LocalDx. Every command is a thin shell over `localdx-api`:
//! parse arguments, call one API function, print a table or (with `--json`) one JSON value, and
//! exit non-zero on failure. This binary never touches the network.

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

mod audit;
mod data;
mod eval;
mod login;
mod models;
mod monitor;
mod output;
mod phi;
mod review;
mod suggest;
mod train;
mod user;

#[derive(Parser)]
#[command(name = "localdx", version, about = "Private diagnostic assistant for small clinics: import, redact, fine-tune, evaluate")]
pub struct Cli {
    /// The LocalDx database file.
    #[arg(long, global = true, env = "LOCALDX_DB", default_value = "localdx.sqlite")]
    pub db: PathBuf,
    /// Print one machine-readable JSON value instead of tables and progress bars.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Import a file or folder of notes as a new dataset.
    Import(data::ImportArgs),
    /// List datasets.
    Datasets,
    /// Inspect one dataset.
    #[command(subcommand)]
    Dataset(data::DatasetCommand),
    /// Detect, redact and evaluate protected health information.
    #[command(subcommand)]
    Phi(phi::PhiCommand),
    /// List, import and fetch base models.
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// Fine-tune a model on a dataset (LoRA), or resume a stopped run.
    Train(train::TrainArgs),
    /// List training runs; export a run's adapters (PEFT layout) or import them back.
    Runs(train::RunsArgs),
    /// Score a dataset split with a run or a base model; prints one object per record.
    Predict(train::PredictArgs),
    /// Precision, recall, F1, top-k, calibration and bootstrap intervals of a run or of predictions.
    Eval(eval::EvalArgs),
    /// Write a self-contained HTML report (tables and plots) of a run or of predictions, or a PDF (`--out report.pdf`).
    Report(eval::ReportArgs),
    /// Create a new encrypted database and its admin account.
    Init(user::InitArgs),
    /// Add, list and disable accounts; change your password.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Review detected PHI headless: detect, bulk accept, status, learned terms, gold and quality.
    #[command(subcommand)]
    Review(review::ReviewCommand),
    /// Release a reviewed dataset as an immutable redacted version (prints `version_id`).
    Release(review::ReleaseArgs),
    /// Export a released version as JSONL or CSV.
    Export(review::ExportArgs),
    /// Verify and list the hash-chained audit trail.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Ranked diagnoses for one note (read from stdin) and the words that most changed the top one.
    Suggest(suggest::SuggestArgs),
    /// Clinicians' feedback on suggestions: list it or export it as CSV of new labels.
    #[command(subcommand)]
    Feedback(suggest::FeedbackCommand),
    /// Weekly quality and input drift of the models in use, with alerts; replay dated notes.
    Monitor(monitor::MonitorArgs),
    /// Train a successor of a run on its release plus new released notes (from feedback), and
    /// compare it with the run in use on held-out notes.
    Retrain(train::RetrainArgs),
}

fn main() {
    // A closed pipe (`localdx datasets | head -1`) ends the process quietly, as for other Unix
    // tools, instead of a panic in `println!`: Rust ignores SIGPIPE by default.
    #[cfg(unix)]
    // SAFETY: set once at start-up, before any thread exists, to the default action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // SAFETY: as above, before any thread exists.
    unsafe { localdx_api::runtime::configure() };
    let cli = Cli::parse();
    let json = cli.json;
    if let Err(e) = run(cli) {
        output::fail(json, &e);
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    let ctx = output::Context { db: cli.db, json: cli.json };
    match cli.command {
        Command::Import(args) => data::import(&ctx, args),
        Command::Datasets => data::list(&ctx),
        Command::Dataset(cmd) => data::dataset(&ctx, cmd),
        Command::Phi(cmd) => phi::run(&ctx, cmd),
        Command::Models(cmd) => models::run(&ctx, cmd),
        Command::Train(args) => train::train(&ctx, args),
        Command::Runs(args) => train::runs(&ctx, args),
        Command::Predict(args) => train::predict(&ctx, args),
        Command::Eval(args) => eval::eval(&ctx, args),
        Command::Report(args) => eval::report(&ctx, args),
        Command::Init(args) => user::init(&ctx, args),
        Command::User(cmd) => user::run(&ctx, cmd),
        Command::Review(cmd) => review::run(&ctx, cmd),
        Command::Release(args) => review::release(&ctx, args),
        Command::Export(args) => review::export(&ctx, args),
        Command::Audit(cmd) => audit::run(&ctx, cmd),
        Command::Suggest(args) => suggest::suggest(&ctx, args),
        Command::Feedback(cmd) => suggest::feedback(&ctx, cmd),
        Command::Monitor(args) => monitor::run(&ctx, args),
        Command::Retrain(args) => train::retrain(&ctx, args),
    }
}
