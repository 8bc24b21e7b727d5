//! `openmidas reset` (OpenMidas emulator): empties accounts, orders, the journal, tokens,
//! sessions, login codes and the request log, of one app or of all (`/admin/reset`). The
//! clock and fault rules stay.

use clap::Args;
use openmidas_client::openmidas::ResetScope;

use super::{block_on, AdminSettings};

#[derive(Args, Debug)]
pub struct ResetArgs {
    #[command(flatten)]
    settings: AdminSettings,
    /// Only this app's state [default: every app's]. Not taken from OPENMIDAS_APPID: a
    /// reset of everything is never narrowed by a variable left in the shell.
    #[arg(long)]
    appid: Option<String>,
    /// Remove the app (or every app) too.
    #[arg(long)]
    drop_apps: bool,
}

pub fn run(args: ResetArgs) -> anyhow::Result<()> {
    let settings = args.settings.resolve()?;
    let admin = settings.admin()?;
    let scope = ResetScope {
        appid: args.appid.clone(),
        keep_apps: !args.drop_apps,
    };
    block_on(async {
        admin
            .reset(&scope)
            .await
            .map_err(|e| settings.failure("reset", e, None))?;
        settings.print(&scope, || {
            let (whose, apps) = match (&scope.appid, scope.keep_apps) {
                (Some(appid), true) => (format!("app {appid}"), "the app is kept"),
                (Some(appid), false) => (format!("app {appid}"), "the app is removed"),
                (None, true) => ("every app".to_string(), "the apps are kept"),
                (None, false) => ("every app".to_string(), "the apps are removed"),
            };
            format!(
                "reset {whose}: accounts, orders, journal, tokens, sessions, login codes and request log emptied; \
                 {apps} (the clock and fault rules are unchanged)"
            )
        })
    })
}
