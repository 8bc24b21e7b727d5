//! `openmidas purchase pay|close` (OpenMidas only): the player pays a purchase made to be
//! paid later (`buy --manual`), or walks away from it.

use clap::{Args, Subcommand};

use super::{block_on, Settings};

#[derive(Args, Debug)]
pub struct PurchaseArgs {
    #[command(subcommand)]
    action: PurchaseAction,
}

#[derive(Subcommand, Debug)]
enum PurchaseAction {
    /// Pay it: a coin purchase credits its coins, an item purchase becomes paid.
    Pay(SettleArgs),
    /// Close it: the player walked away; nothing is ever credited.
    Close(SettleArgs),
}

#[derive(Args, Debug)]
struct SettleArgs {
    #[command(flatten)]
    settings: Settings,
    /// The purchase's number.
    #[arg(long)]
    out_trade_no: String,
    /// A purchase of the sandbox.
    #[arg(long)]
    sandbox: bool,
}

pub fn run(args: PurchaseArgs) -> anyhow::Result<()> {
    let (pay, args) = match args.action {
        PurchaseAction::Pay(args) => (true, args),
        PurchaseAction::Close(args) => (false, args),
    };
    let settings = args.settings.resolve()?;
    let admin = settings.admin()?;
    let env = super::env_of(args.sandbox);
    block_on(async {
        let appid = settings.appid()?;
        let (what, settled) = if pay {
            ("purchase pay", admin.pay_purchase(appid, env, &args.out_trade_no).await)
        } else {
            (
                "purchase close",
                admin.close_purchase(appid, env, &args.out_trade_no).await,
            )
        };
        let settled = settled.map_err(|e| settings.failure(what, e, None))?;
        settings.print(&settled, || {
            let mut text = format!(
                "purchase {} ({}): {}",
                settled.out_trade_no,
                env.as_str(),
                settled.status
            );
            if let Some(balance) = settled.balance {
                text.push_str(&format!(", balance {balance}"));
            }
            text
        })
    })
}
