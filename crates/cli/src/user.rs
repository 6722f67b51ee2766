//! `localdx init` and `localdx user ...`: create an encrypted database with its admin, add, list and
//! disable accounts, change one's password (how every command logs in is `login`'s).

use crate::login::{env, new_password, open, prompt_line, prompt_password};
use crate::output::Context;
use anyhow::Result;
use clap::{Args, Subcommand};
use localdx_api::{Api, Credentials, UserDto};
use std::path::Path;

#[derive(Args)]
pub struct InitArgs {
    /// The admin's user name (default: LOCALDX_USER, else a prompt).
    #[arg(long)]
    pub admin: Option<String>,
    /// Convert this plain database: copy every table into the new encrypted one and seal its
    /// training runs into the new `runs/` folder. The plain file is left as it was.
    #[arg(long, value_name = "PLAIN.sqlite")]
    pub from: Option<std::path::PathBuf>,
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add an account. On a database that does not exist yet, creates it encrypted and the first
    /// user becomes its admin.
    Add {
        name: String,
        /// steward, clinician or admin.
        #[arg(long, default_value = "steward")]
        role: String,
    },
    /// List accounts (admins).
    List,
    /// Disable an account: its password no longer opens the database (admins).
    Disable {
        name: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Change your own password (the new one from LOCALDX_NEW_PASSWORD or a prompt).
    Passwd,
}

#[derive(serde::Serialize)]
struct InitOut {
    database: String,
    admin: String,
    encrypted: bool,
}

fn init_as(ctx: &Context, admin: String, password: String) -> Result<()> {
    let api = Api::init(&ctx.db, &Credentials::new(admin, password))?;
    let out = InitOut { database: ctx.db.display().to_string(), admin: api.session().user, encrypted: true };
    ctx.emit(&out, |o| {
        println!("created encrypted database {} with admin {}", o.database, o.admin);
        println!("its key file is {}.keys: keep both together, and back both up", o.database);
    })
}

/// `localdx init`.
pub fn init(ctx: &Context, args: InitArgs) -> Result<()> {
    let admin = match args.admin.or_else(|| env("LOCALDX_USER")) {
        Some(a) => a,
        None => prompt_line("admin user name")?,
    };
    let password = match env("LOCALDX_PASSWORD") {
        Some(p) => p,
        None => new_password(&format!("new password for {admin}"), None)?,
    };
    match args.from {
        Some(plain) => convert(ctx, &plain, admin, password),
        None => init_as(ctx, admin, password),
    }
}

/// `localdx init --from PLAIN.sqlite`.
fn convert(ctx: &Context, plain: &Path, admin: String, password: String) -> Result<()> {
    let (api, out) = Api::init_from(&ctx.db, &Credentials::new(admin, password), plain)?;
    // The warning goes to stderr, with --json too: the plain copy is still readable by anyone.
    let leftovers = match &out.from_runs {
        Some(r) => format!("{} and its runs folder {r}", out.from),
        None => out.from.clone(),
    };
    eprintln!(
        "warning: {leftovers} still hold the data unencrypted: check the new database, then delete them securely (e.g. `shred -u` on each file; on SSDs and copy-on-write file systems, wipe the free space or the disk)"
    );
    ctx.emit(&out, |o| {
        let rows: i64 = o.tables.values().sum();
        println!("created encrypted database {} with admin {} from {} ({} tables, {rows} rows, schema version {})", o.database, o.admin, o.from, o.tables.len(), o.user_version);
        if o.run_files > 0 {
            println!("sealed {} run files into {}", o.run_files, api.layout().runs.display());
        }
        println!("its key file is {}.keys: keep both together, and back both up", o.database);
    })
}

fn print_users(users: &Vec<UserDto>) {
    println!("{:<24} {:<10} {:<9} created", "name", "role", "status");
    for u in users {
        println!("{:<24} {:<10} {:<9} {} by {}", u.name, u.role.as_str(), if u.disabled { "disabled" } else { "active" }, u.created_at, u.created_by);
    }
}

pub fn run(ctx: &Context, cmd: UserCommand) -> Result<()> {
    match cmd {
        UserCommand::Add { name, role } => {
            if !ctx.db.exists() {
                if role != "admin" {
                    eprintln!("note: {} does not exist yet: {name} becomes its first user and admin", ctx.db.display());
                }
                let password = new_password(&format!("new password for {name}"), Some("LOCALDX_PASSWORD"))?;
                return init_as(ctx, name, password);
            }
            let api = open(&ctx.db)?;
            let password = new_password(&format!("new password for {name}"), None)?;
            let user = api.add_user(&name, &role, &password)?;
            ctx.emit(&user, |u| println!("added {} ({})", u.name, u.role.as_str()))
        }
        UserCommand::List => {
            let users = open(&ctx.db)?.users()?;
            ctx.emit(&users, print_users)
        }
        UserCommand::Disable { name, reason } => {
            open(&ctx.db)?.disable_user(&name, &reason)?;
            ctx.emit(&serde_json::json!({"disabled": name}), |_| println!("disabled {name}"))
        }
        UserCommand::Passwd => {
            let api = open(&ctx.db)?;
            let current = env("LOCALDX_PASSWORD").map(Ok).unwrap_or_else(|| prompt_password("current password"))?;
            let new = new_password("new password", None)?;
            api.change_password(&current, &new)?;
            ctx.emit(&serde_json::json!({"changed": api.session().user}), |_| println!("password changed"))
        }
    }
}
