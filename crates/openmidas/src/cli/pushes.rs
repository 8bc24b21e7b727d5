//! `openmidas pushes [redeliver ID]` (OpenMidas): the push outbox of the server
//! (`/admin/pushes`, behaviour.md section 12): the events it sends to each app's push URL,
//! where each one's delivery is, and sending one again now.

use anyhow::bail;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Subcommand};
use openmidas_client::openmidas::{PushItem, PushQuery, PushStatus};
use serde_json::json;

use super::time::format_utc_ms;
use super::{block_on, table, AdminSettings};

/// The longest last reply a table row shows (`pushes --json` has it whole).
const REPLY_WIDTH: usize = 60;

#[derive(Args, Debug)]
pub struct PushesArgs {
    #[command(flatten)]
    settings: AdminSettings,
    /// Without one: list the events.
    #[command(subcommand)]
    action: Option<PushesAction>,
    /// Only events of this app.
    #[arg(long)]
    appid: Option<String>,
    /// Only events in this state.
    #[arg(long, value_parser = status_parser())]
    status: Option<PushStatus>,
    /// Only events after this id (the last one of the previous page).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    after_id: Option<i64>,
    /// At most N events, lowest id first [default: 100].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    limit: Option<u32>,
}

#[derive(Subcommand, Debug)]
enum PushesAction {
    /// Send one event again now, whatever its state; prints it after that delivery.
    Redeliver {
        /// The event's id (from `openmidas pushes`).
        id: i64,
    },
}

fn status_parser() -> impl TypedValueParser<Value = PushStatus> {
    let names = PushStatus::ALL.map(PushStatus::as_str);
    PossibleValuesParser::new(names).try_map(|name: String| {
        PushStatus::parse(&name).ok_or_else(|| format!("{name:?} is not a status: use pending, delivered or failed"))
    })
}

impl PushesArgs {
    /// The list's filters that were given, as their flags.
    fn filters(&self) -> Vec<&'static str> {
        let given = [
            ("--appid", self.appid.is_some()),
            ("--status", self.status.is_some()),
            ("--after-id", self.after_id.is_some()),
            ("--limit", self.limit.is_some()),
        ];
        given.into_iter().filter(|(_, g)| *g).map(|(flag, _)| flag).collect()
    }
}

pub fn run(args: PushesArgs) -> anyhow::Result<()> {
    let settings = args.settings.resolve()?;
    if let (Some(PushesAction::Redeliver { .. }), [flag, ..]) = (&args.action, args.filters().as_slice()) {
        bail!("{flag} filters the list: `pushes redeliver ID` takes none");
    }
    let admin = settings.admin()?;
    block_on(async {
        match args.action {
            None => {
                let query = PushQuery {
                    appid: args.appid.clone(),
                    status: args.status,
                    after_id: args.after_id,
                    limit: args.limit,
                };
                let items = admin
                    .pushes(&query)
                    .await
                    .map_err(|e| settings.failure("pushes", e, None))?;
                let full = items.len() == args.limit.unwrap_or(100) as usize;
                settings.print(&json!({ "items": items }), || list(&items, full))
            }
            Some(PushesAction::Redeliver { id }) => {
                let push = admin
                    .redeliver_push(id)
                    .await
                    .map_err(|e| settings.failure("pushes redeliver", e, None))?;
                settings.print(&json!({ "push": push }), || redelivered(&push))
            }
        }
    })
}

fn list(items: &[PushItem], full: bool) -> String {
    if items.is_empty() {
        return "no push events (that match)".into();
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|push| {
            vec![
                push.id.to_string(),
                push.event.clone(),
                push.order_id.clone(),
                push.status.as_str().to_string(),
                push.attempts.to_string(),
                next_attempt(push),
                short(&push.last_reply),
            ]
        })
        .collect();
    let mut text = table(
        &[
            "ID",
            "EVENT",
            "ORDER_ID",
            "STATUS",
            "ATTEMPTS",
            "NEXT ATTEMPT (UTC)",
            "LAST REPLY",
        ],
        &rows,
    );
    if let (true, Some(last)) = (full, items.last()) {
        text.push_str(&format!("\n(there may be more: --after-id {})", last.id));
    }
    text
}

/// The next scheduled attempt: only a pending event has one.
fn next_attempt(push: &PushItem) -> String {
    if push.status == PushStatus::Pending {
        format_utc_ms(push.next_attempt_ms)
    } else {
        "-".into()
    }
}

/// A reply on one line, cut to [`REPLY_WIDTH`] characters; `-` before the first delivery.
fn short(reply: &str) -> String {
    let line: String = reply.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        return "-".into();
    }
    if line.chars().count() <= REPLY_WIDTH {
        return line;
    }
    let cut: String = line.chars().take(REPLY_WIDTH - 3).collect();
    format!("{cut}...")
}

fn redelivered(push: &PushItem) -> String {
    let mut lines = vec![
        format!(
            "sent push {} again: {} of order {} ({}, {})",
            push.id,
            push.event,
            push.order_id,
            push.appid,
            push.env.as_str()
        ),
        format!("status:       {}", push.status.as_str()),
        format!("attempts:     {}", push.attempts),
        format!("last reply:   {}", short(&push.last_reply)),
    ];
    if push.status == PushStatus::Pending {
        lines.push(format!("next attempt: {}", format_utc_ms(push.next_attempt_ms)));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_replies_are_cut_on_one_line() {
        assert_eq!(short(""), "-");
        assert_eq!(short("success"), "success");
        assert_eq!(short("a\nb  c"), "a b c");
        let long = "x".repeat(100);
        let cut = short(&long);
        assert_eq!(cut.chars().count(), REPLY_WIDTH);
        assert!(cut.ends_with("..."));
    }
}
