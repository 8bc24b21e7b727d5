//! `openmidas ui` (OpenMidas): opens the server's dashboard (`/ui`, behaviour.md section 14)
//! in the browser, logged in through a one-time link (`POST /admin/ui/login-links`: valid
//! once, for 60 s), so the admin token never enters a URL or the browser's history. Without
//! a browser (no `xdg-open` / `open`, no display, or `--print`), it prints the dashboard's
//! address and the one-time link instead.

use std::process::{Command, Stdio};

use clap::Args;
use serde_json::json;

use super::{block_on, AdminSettings};

#[derive(Args, Debug)]
pub struct UiArgs {
    #[command(flatten)]
    settings: AdminSettings,
    /// Print the address and a one-time login link instead of opening a browser.
    #[arg(long)]
    print: bool,
}

/// The command that opens a URL in the desktop's browser, if this machine has one.
fn opener() -> Option<&'static str> {
    if cfg!(target_os = "macos") {
        return Some("open");
    }
    let display = std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    display.then_some("xdg-open")
}

fn open(url: &str) -> bool {
    let Some(program) = opener() else {
        return false;
    };
    Command::new(program)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub fn run(args: UiArgs) -> anyhow::Result<()> {
    let settings = args.settings.resolve()?;
    let admin = settings.admin()?;
    let link = block_on(async { Ok(admin.ui_login_link().await?) })?;
    let dashboard = admin.ui_url();
    if !args.print && !settings.json && open(&link.url) {
        println!("Opened {dashboard} in the browser.");
        return Ok(());
    }
    settings.print(
        &json!({"url": dashboard, "login_link": link.url, "expires_in": link.expires_in}),
        || {
            format!(
                "Dashboard: {dashboard}\nOne-time login link (valid once, for {} s): {}\nOr log in there with the admin token.",
                link.expires_in, link.url
            )
        },
    )
}
