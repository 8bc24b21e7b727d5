//! `openmidas login` (OpenMidas only): the simulated `wx.login` mints a code through
//! `/admin/login`, and the game server exchanges it at `/sns/jscode2session`.

use clap::Args;
use serde_json::json;

use super::{block_on, Settings};

#[derive(Args, Debug)]
pub struct LoginArgs {
    #[command(flatten)]
    settings: Settings,
    /// The player's openid [default: a fresh one].
    #[arg(long)]
    openid: Option<String>,
}

pub fn run(args: LoginArgs) -> anyhow::Result<()> {
    let settings = args.settings.resolve()?;
    let admin = settings.admin()?;
    let client = settings.client(false)?;
    block_on(async {
        let code = admin
            .login_code(settings.appid()?, args.openid.as_deref())
            .await
            .map_err(|e| settings.failure("login (/admin/login)", e, None))?;
        let session = client
            .code_to_session(&code.code)
            .await
            .map_err(|e| settings.failure("login (jscode2session)", e, None))?;
        let session_key = session.session_key.expose();
        settings.print(&json!({"openid": session.openid, "session_key": session_key}), || {
            format!("openid:      {}\nsession_key: {session_key}", session.openid)
        })
    })
}
