//! `openmidas token`: fetch an access_token.

use clap::Args;
use serde_json::json;

use super::{block_on, Settings};

#[derive(Args, Debug)]
pub struct TokenArgs {
    #[command(flatten)]
    settings: Settings,
    /// Use GET /cgi-bin/token instead of POST /cgi-bin/stable_token. Every such token
    /// retires the previous one after 5 minutes: never use it against a production app
    /// whose game servers hold a token.
    #[arg(long, conflicts_with = "force_refresh")]
    classic: bool,
    /// Ask stable_token for a new token (at most once per 30 s).
    #[arg(long)]
    force_refresh: bool,
}

pub fn run(args: TokenArgs) -> anyhow::Result<()> {
    let settings = args.settings.resolve()?;
    let client = settings.client(false)?;
    block_on(async {
        let issued = if args.classic {
            client.fetch_token().await
        } else {
            client.fetch_stable_token(args.force_refresh).await
        }
        .map_err(|e| settings.failure("token", e, None))?;
        let token = issued.access_token.expose();
        settings.print(&json!({"access_token": token, "expires_in": issued.expires_in}), || {
            format!("access_token: {token}\nexpires_in:   {} s", issued.expires_in)
        })
    })
}
