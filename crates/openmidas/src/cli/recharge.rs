//! `openmidas recharge` (OpenMidas only): the simulated `wx.requestMidasPayment` success.

use clap::Args;
use openmidas_client::openmidas::Recharge;
use openmidas_client::MidasEnv;
use serde_json::json;

use super::{block_on, Settings};

#[derive(Args, Debug)]
pub struct RechargeArgs {
    #[command(flatten)]
    settings: Settings,
    /// The player's openid.
    #[arg(long)]
    openid: String,
    /// Coins to add (buyQuantity).
    #[arg(long, allow_negative_numbers = true)]
    amount: i64,
    /// Game zone.
    #[arg(long, default_value = "1")]
    zone_id: String,
    /// The recharge's order number (a repeat is refused with -15003) [default: numbered by the server].
    #[arg(long)]
    out_trade_no: Option<String>,
    /// Recharge the sandbox account.
    #[arg(long)]
    sandbox: bool,
}

pub fn run(args: RechargeArgs) -> anyhow::Result<()> {
    let settings = args.settings.resolve()?;
    let admin = settings.admin()?;
    let env = if args.sandbox {
        MidasEnv::Sandbox
    } else {
        MidasEnv::Official
    };
    block_on(async {
        let recharge = Recharge {
            appid: settings.appid()?.to_string(),
            openid: args.openid.clone(),
            env,
            buy_quantity: args.amount,
            zone_id: Some(args.zone_id.clone()),
            out_trade_no: args.out_trade_no.clone(),
        };
        let done = admin
            .recharge(&recharge)
            .await
            .map_err(|e| settings.failure("recharge", e, None))?;
        settings.print(
            &json!({"openid": args.openid, "env": env, "amount": args.amount,
                    "out_trade_no": done.out_trade_no, "balance": done.balance}),
            || {
                format!(
                    "recharged {} coins for {} ({}): balance {}\nout_trade_no: {}",
                    args.amount,
                    args.openid,
                    env.as_str(),
                    done.balance,
                    done.out_trade_no
                )
            },
        )
    })
}
