//! The LocalDx desktop app: a thin Tauri 2 shell over `localdx-api`.
//!
//! This file only wires things together: it finds the workspace database (from `LOCALDX_DB`, else
//! `<app data dir>/localdx.sqlite`; see `state` for first run, login and plain databases), registers the native dialog plugin and the command shims of
//! [`commands`], and runs the window that serves the embedded `ui/dist`. It holds no business
//! logic, never touches the network, and never renders note text itself (the UI does, as text).

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod state;

use tauri::Manager;

fn main() {
    // SAFETY: first thing in main, before any thread exists.
    unsafe { localdx_api::runtime::configure() };
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .manage(commands::TrainingJob::default())
        .manage(commands::LoadedModels::default())
        .setup(|app| {
            let path = state::database_path(app.handle())?;
            app.manage(state::Workspace::open(path));
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::workspace_info,
            commands::preview_import,
            commands::import_dataset,
            commands::cancel_import,
            commands::list_datasets,
            commands::get_dataset,
            commands::dataset_stats,
            commands::list_records,
            commands::get_record,
            commands::session,
            commands::review_detect,
            commands::review_counts,
            commands::review_open_notes,
            commands::review_note,
            commands::review_decide,
            commands::review_add_span,
            commands::review_undo,
            commands::review_sign_off,
            commands::review_accept_all,
            commands::release_dataset,
            commands::review_terms,
            commands::review_confirm_term,
            commands::gold_sample,
            commands::gold_import,
            commands::review_quality,
            commands::review_retrain_detector,
            commands::detector_versions,
            commands::cancel_job,
            commands::list_runs,
            commands::training_datasets,
            commands::training_plan,
            commands::start_training,
            commands::cancel_training,
            commands::detect_phi,
            commands::test_cases,
            commands::suggest_note,
            commands::save_feedback,
            commands::list_feedback,
            commands::run_report,
            commands::promote_run,
            commands::demote_run,
            commands::promoted_run,
            commands::list_promotions,
            commands::monitor,
            commands::export_model_card,
            commands::export_report_pdf,
            commands::feedback_dataset,
            commands::compare_successor,
            commands::set_monitor_thresholds,
            commands::export_dir,
            commands::export_report,
            commands::export_feedback,
            // Accounts, session, audit trail, released versions.
            commands::workspace_status,
            commands::create_admin,
            commands::login,
            commands::logout,
            commands::change_password,
            commands::list_users,
            commands::add_user,
            commands::disable_user,
            commands::audit_list,
            commands::audit_verify,
            commands::audit_export,
            commands::list_releases,
            commands::released_records,
        ])
        .build(tauri::generate_context!());
    match app {
        Ok(app) => app.run(|_, _| {}),
        Err(e) => {
            eprintln!("localdx-app: could not start the window: {e}");
            std::process::exit(1);
        }
    }
}
