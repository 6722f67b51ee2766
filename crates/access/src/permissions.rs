//! Roles, commands and the permission matrix. The matrix is data ([`PERMISSIONS`]): one row per
//! command naming the roles allowed to run it; [`check`] is the only reader.
//!
//! Decisions, written down because a clinic will ask:
//! - **clinician**: sees released, redacted versions only, and what is derived from them (runs,
//!   suggestions, reports). Never raw note text, never detections, never the audit trail.
//! - **steward**: imports, sees raw text, runs detection, decides on spans, signs notes off,
//!   releases and exports released versions, trains.
//! - **admin**: everything a steward may do, plus accounts and the audit trail. In a clinic of a
//!   few people the person who sets LocalDx up is usually its privacy officer; every action is
//!   audited under the admin's own name. A clinic that wants the account manager kept away from
//!   notes gives that person no admin account for daily work.

use crate::{AccessError, Result};
use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// A user's role. Exactly one per account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Steward,
    Clinician,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Steward, Role::Clinician, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Steward => "steward",
            Role::Clinician => "clinician",
            Role::Admin => "admin",
        }
    }

    /// Exactly the stored names.
    pub fn parse(s: &str) -> Result<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| AccessError::Invalid(format!("unknown role {s:?} (steward, clinician, admin)")))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is acting: the logged-in user and their role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub user: String,
    pub role: Role,
}

macro_rules! commands {
    ($($(#[$doc:meta])* $name:ident => $text:literal,)*) => {
        /// Everything a user can ask LocalDx to do, one per `Api` method (or group of methods
        /// that reveal the same thing).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        pub enum Command { $($(#[$doc])* $name,)* }

        impl Command {
            pub const ALL: &'static [Command] = &[$(Command::$name,)*];
            /// What the command does, as a phrase ("import datasets").
            pub fn describe(self) -> &'static str {
                match self { $(Command::$name => $text,)* }
            }
        }
    };
}

commands! {
    /// Preview and import files as datasets (reads raw text).
    ImportDataset => "import datasets",
    /// List datasets with names and counts.
    ListDatasets => "list datasets",
    /// One dataset's details (columns, labels, rejected rows).
    ViewDataset => "view dataset details",
    /// Raw record text.
    ReadRawRecords => "read raw note text",
    /// The project's PHI configuration.
    ReadPhiConfig => "read the PHI configuration",
    ChangePhiConfig => "change the PHI configuration",
    /// Detect PHI in a text or a dataset.
    DetectPhi => "run PHI detection",
    /// Write a redacted copy of a dataset outside the review workflow.
    RedactDataset => "redact datasets",
    /// Read detections and decisions of the review queue (with raw text).
    ReadReview => "read the review queue",
    /// Accept, reject, retype, resize, add spans; undo; sign notes off; bulk accept.
    DecideSpans => "decide on redactions",
    /// Confirm learned allow- and deny-list terms.
    ConfirmTerms => "confirm learned terms",
    /// Draw a gold sample of a dataset's notes, import a gold file (raw PHI offsets).
    ManageGold => "manage gold notes",
    /// Read detector quality on gold notes (its misses show raw PHI in context).
    ReadQuality => "read detector quality",
    /// Release a reviewed dataset as an immutable redacted version.
    ReleaseDataset => "release datasets",
    /// List released versions.
    ListReleases => "list released versions",
    /// Read the records of a released (redacted) version.
    ReadReleased => "read released versions",
    /// Export a released version to a file.
    ExportReleased => "export released versions",
    /// Start or resume training.
    Train => "train models",
    /// List training runs.
    ListRuns => "list training runs",
    /// Score notes and read suggestions.
    Predict => "score notes",
    /// Evaluate runs and write reports.
    Evaluate => "evaluate runs",
    /// List models.
    ListModels => "list models",
    /// Add or delete models.
    ManageModels => "add or delete models",
    /// Add users, disable them, reset their passwords.
    ManageUsers => "manage users",
    ListUsers => "list users",
    ChangeOwnPassword => "change their own password",
    /// End the session (audited as `logout`).
    Logout => "log out",
    /// List, verify and export the audit trail.
    ReadAudit => "read the audit trail",
    // Sealed run files (encryption of what training writes).
    /// Write a run's adapters as plain files for other tools (unencrypted in an encrypted
    /// workspace: an explicit, audited decision).
    ExportAdapters => "export model adapters",
    /// Fine-tune the PHI tagger on the steward's decisions and keep the version when recall holds.
    RetrainDetector => "retrain the PHI detector",
    /// Put a run into use for a dataset's task (clinicians' suggestions default to it), replace
    /// or withdraw it.
    PromoteModel => "promote a model into use",
    /// Set the thresholds where monitoring raises an alert.
    ConfigureMonitoring => "configure monitoring",
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

use Role::{Admin as A, Clinician as C, Steward as S};

/// The permission matrix: each command and the roles that may run it. Every command has exactly
/// one row (a unit test checks).
pub const PERMISSIONS: &[(Command, &[Role])] = &[
    (Command::ImportDataset, &[S, A]),
    (Command::ListDatasets, &[S, C, A]),
    (Command::ViewDataset, &[S, A]),
    (Command::ReadRawRecords, &[S, A]),
    (Command::ReadPhiConfig, &[S, A]),
    (Command::ChangePhiConfig, &[S, A]),
    (Command::DetectPhi, &[S, A]),
    (Command::RedactDataset, &[S, A]),
    (Command::ReadReview, &[S, A]),
    (Command::DecideSpans, &[S, A]),
    (Command::ConfirmTerms, &[S, A]),
    (Command::ManageGold, &[S, A]),
    (Command::ReadQuality, &[S, A]),
    (Command::ReleaseDataset, &[S, A]),
    (Command::ListReleases, &[S, C, A]),
    (Command::ReadReleased, &[S, C, A]),
    (Command::ExportReleased, &[S, A]),
    (Command::Train, &[S, A]),
    (Command::ListRuns, &[S, C, A]),
    (Command::Predict, &[S, C, A]),
    (Command::Evaluate, &[S, C, A]),
    (Command::ListModels, &[S, C, A]),
    (Command::ManageModels, &[A]),
    (Command::ManageUsers, &[A]),
    (Command::ListUsers, &[A]),
    (Command::ChangeOwnPassword, &[S, C, A]),
    (Command::Logout, &[S, C, A]),
    (Command::ReadAudit, &[A]),
    // Sealed run files.
    (Command::ExportAdapters, &[S, A]),
    (Command::RetrainDetector, &[S, A]),
    (Command::PromoteModel, &[S, A]),
    (Command::ConfigureMonitoring, &[A]),
];

/// What note text a command reads. The store's methods that return note text take a [`Grant`]
/// and serve raw notes only to a command that reads [`Reads::Raw`], and the notes of a released
/// (redacted) version to one that reads at least [`Reads::Released`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reads {
    /// No note text (names, counts, runs, accounts, the audit trail).
    Nothing,
    /// The notes of released versions only.
    Released,
    /// Any note, raw text included.
    Raw,
}

impl Command {
    /// The note text this command reads. A match, not a table, so that a new command does not
    /// compile until someone has decided what it may read.
    pub fn reads(self) -> Reads {
        use Command::*;
        match self {
            ImportDataset | ReadRawRecords | DetectPhi | RedactDataset | ReadReview | DecideSpans | ManageGold | ReadQuality
            | ReleaseDataset | RetrainDetector => Reads::Raw,
            ReadReleased | ExportReleased | Train | Predict | Evaluate | PromoteModel => Reads::Released,
            ListDatasets | ViewDataset | ReadPhiConfig | ChangePhiConfig | ConfirmTerms | ListReleases | ListRuns | ListModels
            | ManageModels | ManageUsers | ListUsers | ChangeOwnPassword | Logout | ReadAudit | ExportAdapters
            | ConfigureMonitoring => Reads::Nothing,
        }
    }
}

/// Proof that a role passed the permission matrix for one command. Only [`check`] makes one (its
/// fields are private to this crate), so a caller holding a `Grant` has run the matrix; the store
/// asks for one before it returns note text, and reads [`Grant::reads`] to decide which.
#[derive(Debug)]
pub struct Grant {
    command: Command,
    role: Role,
}

impl Grant {
    pub fn command(&self) -> Command {
        self.command
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// The note text the granted command reads: what [`Command::reads`] says, except that a
    /// command reading released notes reads raw ones too for a role that may read raw notes
    /// anyway (a steward scoring an unreleased dataset's notes). A clinician's grant never reads
    /// raw text, whatever the command.
    pub fn reads(&self) -> Reads {
        match self.command.reads() {
            Reads::Released if check(self.role, Command::ReadRawRecords).is_ok() => Reads::Raw,
            reads => reads,
        }
    }
}

/// Whether `role` may run `command`: a [`Grant`] when it may, [`AccessError::Forbidden`] when not.
/// A command missing from the matrix is refused for everyone.
pub fn check(role: Role, command: Command) -> Result<Grant> {
    let allowed = PERMISSIONS.iter().find(|(c, _)| *c == command).is_some_and(|(_, roles)| roles.contains(&role));
    if allowed {
        Ok(Grant { command, role })
    } else {
        Err(AccessError::Forbidden { command, role })
    }
}

/// How long a login waits when the account has `failures` failed attempts since its last success:
/// nothing at first, then 0.5 s doubling per failure, at most 30 s. The wait happens before the
/// password is checked, so a right password after many wrong ones waits too.
pub fn login_delay(failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let ms = 500u64.saturating_mul(1u64 << (failures - 1).min(16));
    Duration::from_millis(ms.min(30_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expected matrix written out independently: command, then S(teward) C(linician) A(dmin)
    /// with `-` where refused. Every command x every role is checked against it.
    const EXPECTED: &str = "
        ImportDataset     S - A
        ListDatasets      S C A
        ViewDataset       S - A
        ReadRawRecords    S - A
        ReadPhiConfig     S - A
        ChangePhiConfig   S - A
        DetectPhi         S - A
        RedactDataset     S - A
        ReadReview        S - A
        DecideSpans       S - A
        ConfirmTerms      S - A
        ManageGold        S - A
        ReadQuality       S - A
        ReleaseDataset    S - A
        ListReleases      S C A
        ReadReleased      S C A
        ExportReleased    S - A
        Train             S - A
        ListRuns          S C A
        Predict           S C A
        Evaluate          S C A
        ListModels        S C A
        ManageModels      - - A
        ManageUsers       - - A
        ListUsers         - - A
        ChangeOwnPassword S C A
        Logout            S C A
        ReadAudit         - - A
        ExportAdapters    S - A
        RetrainDetector   S - A
        PromoteModel      S - A
        ConfigureMonitoring - - A
    ";

    #[test]
    fn every_command_for_every_role() {
        let rows: Vec<Vec<&str>> = EXPECTED.lines().map(|l| l.split_whitespace().collect::<Vec<_>>()).filter(|r| !r.is_empty()).collect();
        assert_eq!(rows.len(), Command::ALL.len(), "one expected row per command");
        for (command, row) in Command::ALL.iter().zip(&rows) {
            assert_eq!(format!("{command:?}"), row[0], "rows in Command order");
            for (i, role) in Role::ALL.iter().enumerate() {
                let expected = row[i + 1] != "-";
                assert_eq!(check(*role, *command).is_ok(), expected, "{command:?} x {role}");
            }
        }
        // Each command appears exactly once in the matrix.
        for command in Command::ALL {
            assert_eq!(PERMISSIONS.iter().filter(|(c, _)| c == command).count(), 1, "{command:?}");
        }
    }

    #[test]
    fn clinicians_never_see_raw_text_or_decide() {
        for command in [Command::ReadRawRecords, Command::ReadReview, Command::DecideSpans, Command::DetectPhi, Command::ImportDataset, Command::ReadAudit, Command::ManageGold, Command::ReadQuality] {
            let err = check(Role::Clinician, command).unwrap_err();
            assert!(err.to_string().starts_with("clinician accounts may not"), "{err}");
        }
    }

    #[test]
    fn only_stewards_and_admins_are_granted_raw_text() {
        for command in Command::ALL {
            for role in Role::ALL {
                if let Ok(grant) = check(role, *command) {
                    assert_eq!((grant.command(), grant.role()), (*command, role));
                    if grant.reads() == Reads::Raw {
                        assert_ne!(role, Role::Clinician, "{command:?} would give a clinician raw text");
                    }
                    // A role's grant never reads more than the command does, except that one who
                    // may read raw notes reads them wherever the command reads released ones.
                    let widened = command.reads() == Reads::Released && role != Role::Clinician;
                    assert_eq!(grant.reads(), if widened { Reads::Raw } else { command.reads() }, "{command:?} as {role:?}");
                }
            }
        }
        // What the reads column says for the commands the review and the clinician's screens rely on.
        assert_eq!(Command::ReadRawRecords.reads(), Reads::Raw);
        assert_eq!(Command::ReadReleased.reads(), Reads::Released);
        assert_eq!(Command::Predict.reads(), Reads::Released);
        assert_eq!(Command::ListDatasets.reads(), Reads::Nothing);
        assert!(Reads::Raw > Reads::Released && Reads::Released > Reads::Nothing);
    }

    #[test]
    fn roles_parse_and_delays_grow() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()).unwrap(), role);
        }
        assert!(Role::parse("Admin").is_err() && Role::parse("root").is_err());
        let delays: Vec<u64> = [0, 1, 2, 3, 7, 8, 40, u32::MAX].iter().map(|&n| login_delay(n).as_millis() as u64).collect();
        assert_eq!(delays, vec![0, 500, 1000, 2000, 30_000, 30_000, 30_000, 30_000]);
    }
}
