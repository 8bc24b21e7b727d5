//! `openmidas clock` (OpenMidas emulator): shows the server's clock, or moves, freezes,
//! resumes or resets it (`/admin/clock`). Every rule that reads time follows it: token and
//! login-code expiry, sessions, the 48 h cancel window, the `ts` window, order times.

use clap::Args;
use openmidas_client::openmidas::{ClockChange, ClockState};

use super::time::{format_span_ms, format_utc_ms, parse_duration_secs, parse_instant_ms};
use super::{block_on, AdminSettings};

#[derive(Args, Debug)]
pub struct ClockArgs {
    #[command(flatten)]
    settings: AdminSettings,
    /// Back to the machine's time, running (applied first).
    #[arg(long)]
    reset: bool,
    /// Move it to this time: RFC 3339 (2026-01-01T08:00:00+08:00) or epoch milliseconds.
    #[arg(long, value_name = "TIME", value_parser = parse_instant_ms, allow_negative_numbers = true)]
    set: Option<i64>,
    /// Move it forward by 48h, 90m, 3600s, 2d, 1h30m or a number of seconds; -1h goes back.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_secs, allow_hyphen_values = true)]
    advance: Option<i64>,
    /// Stop it where it stands (a set or advance still moves it).
    #[arg(long, conflicts_with = "resume")]
    freeze: bool,
    /// Let a frozen clock run on from where it stands.
    #[arg(long)]
    resume: bool,
}

pub fn run(args: ClockArgs) -> anyhow::Result<()> {
    let settings = args.settings.resolve()?;
    let admin = settings.admin()?;
    let change = ClockChange {
        reset: args.reset,
        set_ms: args.set,
        advance_secs: args.advance,
        freeze: match (args.freeze, args.resume) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
    };
    block_on(async {
        let clock = if change == ClockChange::default() {
            admin.clock().await.map_err(|e| settings.failure("clock", e, None))?
        } else {
            admin
                .move_clock(change)
                .await
                .map_err(|e| settings.failure("clock", e, None))?
        };
        settings.print(&clock, || describe(&clock))
    })
}

fn describe(clock: &ClockState) -> String {
    let offset = match clock.offset_ms {
        0 => "0s (the server machine's time)".to_string(),
        ms if ms > 0 => format!("{} (ahead of the server machine's clock)", format_span_ms(ms)),
        ms => format!("{} (behind the server machine's clock)", format_span_ms(ms)),
    };
    let state = if clock.frozen {
        "frozen (stands still until `openmidas clock --resume`)"
    } else {
        "running"
    };
    format!(
        "now:    {} (epoch ms {})\noffset: {offset}\nstate:  {state}",
        format_utc_ms(clock.now_ms),
        clock.now_ms
    )
}
