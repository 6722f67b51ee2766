//! Files the app writes where the user chose: evaluation reports and the feedback CSV. Each goes
//! through one `Api` method that checks the permission matrix, refuses a path that would overwrite
//! the workspace's own files, writes through a temporary file and a rename (a crash leaves the old
//! file or the new one, never half of one), and records the export in the audit trail.

use crate::{Api, ApiError, ErrorCode, Result};
use localdx_access::Command;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Component, Path, PathBuf};

impl Api {
    /// Writes an evaluation report the caller holds (from `eval_run`/`report_run`) as `.html` or
    /// `.csv` to `path`; returns the absolute path written.
    pub fn export_report(&self, path: &Path, contents: &str) -> Result<String> {
        self.check(Command::Evaluate)?;
        Ok(self.write_export(path, &["html", "csv"], contents.as_bytes(), "export.report", json!({}))?.0)
    }

    /// Writes the clinicians' feedback as CSV (see [`crate::suggest::feedback_csv`]) to `path`;
    /// returns the absolute path written.
    pub fn export_feedback(&self, path: &Path) -> Result<String> {
        let csv = self.feedback_csv()?;
        Ok(self.write_export(path, &["csv"], csv.as_bytes(), "export.feedback", json!({}))?.0)
    }

    /// Writes the model card of `run_id` to `path`: Markdown for `.md`, HTML for `.html`, PDF for
    /// `.pdf` (built now, with its test evaluation); returns the absolute path written.
    pub fn export_model_card(&self, run_id: &str, path: &Path) -> Result<String> {
        let card = self.model_card(run_id)?;
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
        let body = match ext.as_str() {
            "html" => card.html.into_bytes(),
            "pdf" => card.pdf,
            _ => card.markdown.into_bytes(),
        };
        Ok(self.write_export(path, &["md", "html", "pdf"], &body, "export.model_card", json!({"run_id": run_id}))?.0)
    }

    /// Writes the report of a run as a PDF to `path` (scored again; the same figures as the
    /// report on screen); returns the absolute path written.
    pub fn export_report_pdf(&self, req: crate::eval::RunRequest, date: &str, path: &Path) -> Result<String> {
        let run_id = req.run_id.to_owned();
        let pdf = self.report_run_pdf(req, date, &crate::eval::EvalOptions::default())?;
        Ok(self.write_export(path, &["pdf"], &pdf, "export.report", json!({"run_id": run_id}))?.0)
    }

    /// Where an export named `path` goes: a relative path is read inside the workspace's
    /// `exports/` folder (and may not climb out of it); the extension must be one of `allowed`;
    /// the workspace's database, key file, runs and models are refused, as is a link.
    fn export_target(&self, path: &Path, allowed: &[&str]) -> Result<PathBuf> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
        if !allowed.contains(&ext.as_str()) {
            let wanted: Vec<String> = allowed.iter().map(|e| format!(".{e}")).collect();
            return Err(ApiError::invalid(format!("{}: this export is a {} file", path.display(), wanted.join(" or "))));
        }
        let target = if path.is_absolute() {
            path.to_owned()
        } else {
            if path.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
                return Err(ApiError::invalid(format!("{}: a relative export path stays inside {}", path.display(), self.layout.exports.display())));
            }
            self.layout.exports.join(path)
        };
        let refuse = |target: &Path| {
            ApiError::new(
                ErrorCode::Forbidden,
                format!("{}: is one of this workspace's own files (database, key file, runs, models); choose another place", target.display()),
            )
        };
        // Checked before any folder is made, and again once links in the folders are resolved.
        let lexical = std::path::absolute(&target).map_err(|e| ApiError::invalid(format!("{}: {e}", target.display())))?;
        if self.layout.holds(&lexical) {
            return Err(refuse(&lexical));
        }
        let name = target.file_name().ok_or_else(|| ApiError::invalid(format!("{}: the export has no file name", path.display())))?;
        let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| ApiError::invalid(format!("{}: {e}", parent.display())))?;
        let parent = std::fs::canonicalize(parent).map_err(|e| ApiError::invalid(format!("{}: {e}", parent.display())))?;
        let target = parent.join(name);
        if std::fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(ApiError::invalid(format!("{}: is a link; exports are written to plain files only", target.display())));
        }
        if self.layout.holds(&target) {
            return Err(refuse(&target));
        }
        Ok(target)
    }

    /// Writes `bytes` to the export `path` (see [`Api::export_target`]) and audits it as `action`
    /// with `details` plus the size and SHA-256; returns the path written and the hash. When the
    /// audit entry cannot be written, the file is removed: no export goes unrecorded.
    pub(crate) fn write_export(&self, path: &Path, allowed: &[&str], bytes: &[u8], action: &str, details: serde_json::Value) -> Result<(String, String)> {
        let target = self.export_target(path, allowed)?;
        let shown = target.display().to_string();
        let io = |e: std::io::Error| ApiError::invalid(format!("cannot write {shown}: {e}"));
        let tmp = target.with_file_name(format!(".{}.partial", target.file_name().unwrap_or_default().to_string_lossy()));
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        let written = file.write_all(bytes).and_then(|()| file.sync_all()).and_then(|()| std::fs::rename(&tmp, &target));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(e));
        }
        let sha256: String = Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
        let mut after = json!({"bytes": bytes.len(), "sha256": sha256});
        if let (Some(after), serde_json::Value::Object(extra)) = (after.as_object_mut(), details) {
            after.extend(extra);
        }
        if let Err(e) = self.audit(action, &format!("file:{shown}"), json!(null), after, "") {
            let _ = std::fs::remove_file(&target);
            return Err(e);
        }
        Ok((shown, sha256))
    }
}

#[cfg(test)]
mod tests {
    use crate::{Api, Credentials, ErrorCode};

    fn workspace() -> (tempfile::TempDir, Api) {
        let dir = tempfile::tempdir().unwrap();
        let api = Api::open(&dir.path().join("w.sqlite"), None).unwrap();
        (dir, api)
    }

    #[test]
    fn a_relative_report_lands_in_exports_and_is_audited() {
        let (dir, api) = workspace();
        let written = api.export_report("run-1.html".as_ref(), "<html>report</html>").unwrap();
        let expected = std::fs::canonicalize(dir.path()).unwrap().join("exports/run-1.html");
        assert_eq!(written, expected.display().to_string());
        assert_eq!(std::fs::read_to_string(&expected).unwrap(), "<html>report</html>");
        let entries = api.audit_list(&Default::default()).unwrap();
        let last = entries.iter().find(|e| e.action == "export.report").expect("the export is audited");
        assert!(last.subject.ends_with("run-1.html"), "{}", last.subject);
        // No temporary file is left beside it.
        let names: Vec<_> = std::fs::read_dir(expected.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn exports_refuse_the_workspaces_own_files_other_types_and_climbing_out() {
        let (dir, api) = workspace();
        let db = dir.path().join("w.sqlite");
        let refused = |path: &std::path::Path| api.export_report(path, "x").unwrap_err();
        assert_eq!(refused(&dir.path().join("runs/run-1/meta.csv")).code, ErrorCode::Forbidden);
        assert_eq!(refused(&dir.path().join("models/x.csv")).code, ErrorCode::Forbidden);
        assert_eq!(refused(&db).code, ErrorCode::InvalidInput, "a .sqlite is not an export type");
        assert_eq!(refused("../outside.csv".as_ref()).code, ErrorCode::InvalidInput);
        assert_eq!(refused(&dir.path().join("notes.txt")).code, ErrorCode::InvalidInput);
        assert!(std::fs::metadata(&db).unwrap().len() > 0, "the database is untouched");
        assert!(!dir.path().join("runs/run-1").exists(), "a refused export makes no folder");
    }

    #[test]
    fn a_clinician_exports_feedback_into_the_exports_folder() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("w.sqlite");
        let admin = Credentials::new("ada", "correct horse battery");
        let api = Api::init(&db, &admin).unwrap();
        api.add_user("cleo", "clinician", "clinician password 1").unwrap();
        drop(api);
        let clinician = Api::open(&db, Some(&Credentials::new("cleo", "clinician password 1"))).unwrap();
        let written = clinician.export_feedback("feedback.csv".as_ref()).unwrap();
        assert!(std::fs::read_to_string(written).unwrap().starts_with("feedback_id,"));
    }
}
