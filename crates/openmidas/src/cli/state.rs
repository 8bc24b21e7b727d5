//! `openmidas state export|import` (OpenMidas emulator): the whole state as one JSON
//! document (`/admin/state`): apps, tokens, login codes, sessions, accounts, orders and the
//! journal, secrets included. Export a prepared world once; import it before each test run.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use super::{block_on, AdminSettings};

#[derive(Args, Debug)]
pub struct StateArgs {
    #[command(flatten)]
    settings: AdminSettings,
    #[command(subcommand)]
    action: StateAction,
}

#[derive(Subcommand, Debug)]
enum StateAction {
    /// Print the state as pretty JSON (with --json: on one line), or write it to a file.
    Export {
        /// Write it to this file (created readable by its owner only: it holds the apps'
        /// secrets) instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Replace the whole state with a document from `state export` (one transaction; an
    /// invalid document changes nothing).
    Import {
        /// The document's file, or - for stdin.
        file: String,
    },
}

pub fn run(args: StateArgs) -> anyhow::Result<()> {
    let settings = args.settings.resolve()?;
    let admin = settings.admin()?;
    block_on(async {
        match &args.action {
            StateAction::Export { output } => {
                let document = admin
                    .export_state()
                    .await
                    .map_err(|e| settings.failure("state export", e, None))?;
                let Some(path) = output else {
                    // The document is the output, in either mode.
                    let text = if settings.json {
                        serde_json::to_string(&document)?
                    } else {
                        serde_json::to_string_pretty(&document)?
                    };
                    println!("{text}");
                    return Ok(());
                };
                write_private(path, &(serde_json::to_string_pretty(&document)? + "\n"))?;
                settings.print(&json!({"output": path, "rows": rows(&document)}), || {
                    format!("state exported to {}: {}", path.display(), summary(&document))
                })
            }
            StateAction::Import { file } => {
                let text = if file == "-" {
                    let mut text = String::new();
                    std::io::stdin()
                        .read_to_string(&mut text)
                        .context("cannot read the document from stdin")?;
                    text
                } else {
                    std::fs::read_to_string(file).with_context(|| format!("cannot read {file}"))?
                };
                let document: Value =
                    serde_json::from_str(&text).with_context(|| format!("{file} is not a JSON document"))?;
                admin
                    .import_state(&document)
                    .await
                    .map_err(|e| settings.failure("state import", e, None))?;
                settings.print(&json!({"imported": file, "rows": rows(&document)}), || {
                    format!(
                        "state imported from {file} (it replaced the whole state): {}",
                        summary(&document)
                    )
                })
            }
        }
    })
}

/// Writes `text` to a new or truncated file that only its owner may read.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// How many rows each table of the document has, in the document's order.
fn rows(document: &Value) -> Map<String, Value> {
    document
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(table, rows)| rows.as_array().map(|rows| (table.clone(), json!(rows.len()))))
        .collect()
}

/// `apps: 2, tokens: 1, codes: 0, ...` (rows per table).
fn summary(document: &Value) -> String {
    rows(document)
        .iter()
        .map(|(table, count)| format!("{table}: {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}
