//! `localdx audit verify` and `localdx audit list`: check the hash chain of the audit trail and SQLite's integrity check of the file (exit
//! status 1 and the first broken entry when it is broken) and list entries with filters. Admins
//! only; thin shells over `localdx_api::audit`.

use crate::output::Context;
use anyhow::Result;
use clap::Subcommand;
use localdx_api::audit::AuditFilterDto;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Walk the chain; name the first broken entry.
    Verify {
        /// A head hash kept elsewhere (printed by an earlier verify): the trail must contain it.
        #[arg(long)]
        expect_head: Option<String>,
    },
    /// List entries, oldest first.
    List {
        #[arg(long)]
        actor: Option<String>,
        /// Actions starting with this, e.g. `review.`.
        #[arg(long)]
        action: Option<String>,
        #[arg(long)]
        subject: Option<String>,
        /// The newest N.
        #[arg(long)]
        limit: Option<u64>,
    },
}

pub fn run(ctx: &Context, cmd: AuditCommand) -> Result<()> {
    let api = ctx.open()?;
    match cmd {
        AuditCommand::Verify { expect_head } => {
            let v = api.audit_verify(expect_head.as_deref())?;
            ctx.emit(&v, |v| {
                match (v.ok, v.broken_seq) {
                    (true, _) => println!("audit trail intact: {} entries, head {} {}", v.entries, v.head_seq.unwrap_or(0), v.head_hash.as_deref().unwrap_or("-")),
                    (false, seq) => println!("audit trail BROKEN at entry {}: {}", seq.unwrap_or(0), v.reason.as_deref().unwrap_or("")),
                }
                match v.integrity.as_str() {
                    "ok" => println!("database file: integrity check ok"),
                    problems => println!("database file DAMAGED (SQLite's integrity check):\n{problems}"),
                }
            })?;
            if !v.ok || v.integrity != "ok" {
                std::process::exit(1);
            }
            Ok(())
        }
        AuditCommand::List { actor, action, subject, limit } => {
            let entries = api.audit_list(&AuditFilterDto { actor, action, subject, limit, ..Default::default() })?;
            ctx.emit(&entries, |es| {
                for e in es {
                    println!("{:>6} {} {:<12} {:<20} {:<16} {} -> {} {}", e.seq, e.at, e.actor, e.action, e.subject, e.before, e.after, e.reason);
                }
            })
        }
    }
}
