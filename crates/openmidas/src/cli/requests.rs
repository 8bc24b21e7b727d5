//! `openmidas requests [ID]` (OpenMidas emulator): the server's request log
//! (`/admin/requests`): the newest requests to WeChat and simulated client routes as a
//! table, `--follow` to watch new ones arrive, or one request in full with the server's
//! diagnosis of a failed signature and the fault rule that fired on it.

use std::collections::VecDeque;
use std::io::Write;
use std::time::Duration;

use clap::Args;
use openmidas_client::openmidas::{AdminClient, FaultWhen, RequestEntry, RequestFilter};
use openmidas_client::Error;
use serde_json::json;

use super::time::{format_latency_us, format_utc_ms};
use super::{block_on, AdminSettings, Resolved};

/// The largest page the server gives.
const PAGE: u32 = 1000;
/// How often `--follow` asks for new requests.
const FOLLOW_POLL: Duration = Duration::from_millis(500);

#[derive(Args, Debug)]
pub struct RequestsArgs {
    #[command(flatten)]
    settings: AdminSettings,
    /// Show this request in full: the id that ends an errmsg (` rid: <id>`) or of the table.
    #[arg(conflicts_with_all = ["appid", "openid", "errcode", "limit", "follow"])]
    id: Option<String>,
    /// Only requests naming this app.
    #[arg(long)]
    appid: Option<String>,
    /// Only requests naming this player.
    #[arg(long)]
    openid: Option<String>,
    /// Only answers with this errcode (0: successes).
    #[arg(long, allow_negative_numbers = true)]
    errcode: Option<i64>,
    /// Show the newest N matching requests.
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
    limit: u32,
    /// Then keep watching: print each new matching request (polling every 500 ms) until Ctrl-C.
    #[arg(long)]
    follow: bool,
}

pub fn run(args: RequestsArgs) -> anyhow::Result<()> {
    let settings = args.settings.resolve()?;
    let admin = settings.admin()?;
    block_on(async {
        if let Some(id) = &args.id {
            let entry = admin
                .request(id)
                .await
                .map_err(|e| settings.failure("requests", e, None))?;
            return settings.print(&entry, || describe(&entry));
        }
        let filter = RequestFilter {
            appid: args.appid.clone(),
            openid: args.openid.clone(),
            errcode: args.errcode,
            after_id: None,
            limit: Some(PAGE),
            last: None,
        };
        let newest = newest(&admin, &filter, args.limit as usize)
            .await
            .map_err(|e| settings.failure("requests", e, None))?;
        if !args.follow {
            let items: Vec<&RequestEntry> = newest.iter().collect();
            return settings.print(&json!({ "items": items }), || {
                if newest.is_empty() {
                    "no requests logged (that match)".to_string()
                } else {
                    let mut lines = vec![header()];
                    lines.extend(newest.iter().map(row));
                    lines.join("\n")
                }
            });
        }
        if !settings.json {
            println!("{}", header());
        }
        for entry in &newest {
            if !print_entry(&settings, entry)? {
                return Ok(());
            }
        }
        follow(&admin, &settings, filter, newest.back().map(|e| e.id.clone())).await
    })
}

/// The newest `n` entries that pass `filter`, oldest first.
async fn newest(admin: &AdminClient, filter: &RequestFilter, n: usize) -> Result<VecDeque<RequestEntry>, Error> {
    let last = admin
        .requests(&RequestFilter {
            after_id: None,
            limit: None,
            last: Some(u32::try_from(n).unwrap_or(u32::MAX)),
            ..filter.clone()
        })
        .await?;
    Ok(last.into())
}

/// Prints each entry logged after `last_seen`, polling until the process is stopped.
async fn follow(
    admin: &AdminClient,
    settings: &Resolved,
    filter: RequestFilter,
    mut last_seen: Option<String>,
) -> anyhow::Result<()> {
    let mut unreachable = false;
    loop {
        let page = admin
            .requests(&RequestFilter {
                after_id: last_seen.clone(),
                ..filter.clone()
            })
            .await;
        match page {
            Ok(page) => {
                unreachable = false;
                for entry in &page {
                    if !print_entry(settings, entry)? {
                        return Ok(());
                    }
                }
                if let Some(last) = page.last() {
                    last_seen = Some(last.id.clone());
                }
                if page.len() == PAGE as usize {
                    // More are waiting: no pause.
                    continue;
                }
            }
            // The server no longer knows the last id: it restarted (its log is new), or
            // this is another node behind the same address. What it has now is all new.
            Err(Error::NotFound(_)) if last_seen.is_some() => {
                eprintln!(
                    "openmidas: the server no longer knows the last request seen (restarted?); following its new log"
                );
                last_seen = None;
            }
            Err(e @ Error::Transport { .. }) => {
                if !unreachable {
                    eprintln!("openmidas: cannot reach the server ({e}); still trying");
                    unreachable = true;
                }
            }
            Err(e) => return Err(settings.failure("requests --follow", e, None)),
        }
        tokio::time::sleep(FOLLOW_POLL).await;
    }
}

/// Prints one entry as a table row, or as one JSON line (`--follow --json`). Answers
/// `false` when stdout was closed (`requests --follow | head`): time to stop.
fn print_entry(settings: &Resolved, entry: &RequestEntry) -> anyhow::Result<bool> {
    let line = if settings.json {
        serde_json::to_string(entry)?
    } else {
        row(entry)
    };
    match writeln!(std::io::stdout().lock(), "{line}") {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Fixed widths, so the rows `--follow` prints one by one line up under the header.
fn columns(time: &str, id: &str, method: &str, path: &str, errcode: &str, latency: &str, note: &str) -> String {
    format!("{time:<24}  {id:<26}  {method:<6}  {path:<30}  {errcode:>7}  {latency:>9}  {note}")
        .trim_end()
        .to_string()
}

fn header() -> String {
    columns("TIME (UTC)", "ID", "METHOD", "PATH", "ERRCODE", "LATENCY", "NOTE")
}

fn row(entry: &RequestEntry) -> String {
    let errcode = entry.errcode.map_or("-".to_string(), |c| c.to_string());
    columns(
        &format_utc_ms(entry.time_ms),
        &entry.id,
        &entry.method,
        &entry.path,
        &errcode,
        &format_latency_us(entry.latency_us),
        &note(entry),
    )
}

/// What to look at with `openmidas requests <id>`: a signature diagnosis, a fault.
fn note(entry: &RequestEntry) -> String {
    let mut notes = Vec::new();
    if let Some(diagnosis) = &entry.diagnosis {
        notes.push(format!("bad {} (diagnosed)", diagnosis.signature));
    }
    if let Some(fault) = &entry.fault {
        let what = if fault.drop_connection {
            "dropped the connection"
        } else if fault.errcode.is_none() {
            "delayed"
        } else {
            fault.when.as_str()
        };
        notes.push(format!("fault {} ({what})", fault.id));
    }
    notes.join("; ")
}

/// `label:` and its value, continuation lines aligned under the value.
fn field(out: &mut Vec<String>, indent: &str, width: usize, label: &str, value: &str) {
    let pad = " ".repeat(indent.len() + width);
    let mut lines = value.split('\n');
    let first = lines.next().unwrap_or_default();
    out.push(format!("{indent}{:<width$}{first}", format!("{label}:")));
    out.extend(lines.map(|line| format!("{pad}{line}")));
}

fn or_none(text: &str) -> &str {
    if text.is_empty() {
        "(none)"
    } else {
        text
    }
}

fn describe(entry: &RequestEntry) -> String {
    let mut out = Vec::new();
    let top = |out: &mut Vec<String>, label: &str, value: &str| field(out, "", 10, label, value);
    top(&mut out, "request", &entry.id);
    top(
        &mut out,
        "time",
        &format!("{} (epoch ms {})", format_utc_ms(entry.time_ms), entry.time_ms),
    );
    top(&mut out, "method", &entry.method);
    top(
        &mut out,
        "path",
        &format!("{} ({})", entry.path, entry.dialect.as_str()),
    );
    top(&mut out, "appid", entry.appid.as_deref().unwrap_or("(none)"));
    top(&mut out, "openid", entry.openid.as_deref().unwrap_or("(none)"));
    let status = entry
        .status
        .map_or("none: the connection was dropped".to_string(), |s| s.to_string());
    top(&mut out, "status", &status);
    top(
        &mut out,
        "errcode",
        &entry.errcode.map_or("(none)".to_string(), |c| c.to_string()),
    );
    top(&mut out, "latency", &format_latency_us(entry.latency_us));
    top(&mut out, "query", or_none(&entry.query));
    top(&mut out, "body", or_none(&entry.body));
    top(&mut out, "answer", or_none(&entry.answer));

    if let Some(d) = &entry.diagnosis {
        out.push(String::new());
        out.push(format!(
            "signature diagnosis: {} did not match ({})",
            d.signature, d.algorithm
        ));
        let item = |out: &mut Vec<String>, label: &str, value: &str| field(out, "  ", 15, label, value);
        item(&mut out, "key", &d.key);
        item(&mut out, "signed", &d.signed);
        item(&mut out, "expected", or_none(&d.expected));
        item(&mut out, "received", or_none(&d.received));
        item(
            &mut out,
            "likely cause",
            d.likely_cause
                .as_deref()
                .unwrap_or("(none of the usual mistakes reproduces the received signature)"),
        );
        item(&mut out, "hint", &d.hint);
    }
    if let Some(f) = &entry.fault {
        out.push(String::new());
        let when = match f.when {
            FaultWhen::Before => "before: instead of running the request",
            FaultWhen::After => "after: the request ran, its change is committed",
        };
        out.push(format!("fault rule {} fired ({when})", f.id));
        let item = |out: &mut Vec<String>, label: &str, value: &str| field(out, "  ", 18, label, value);
        if let Some(code) = f.errcode {
            item(&mut out, "errcode", &code.to_string());
        }
        if f.delay_ms > 0 {
            item(&mut out, "delay", &format!("{} ms", f.delay_ms));
        }
        if f.drop_connection {
            item(&mut out, "connection", "dropped without an answer");
        }
        if let Some(replaced) = &f.replaced_answer {
            item(&mut out, "replaced answer", replaced);
            out.push("  (the real answer, which the fault kept from the client)".to_string());
        }
    }
    out.join("\n")
}
