//! `openmidas deliver`: xpay's `notify_provide_goods`, the game server saying the goods of a
//! paid purchase were delivered (status 4), for when the delivery push did not reach it.
//! Repeating it is harmless.

use clap::Args;

use super::{block_on, env_of, Settings, XpayOrderArgs};

#[derive(Args, Debug)]
pub struct DeliverArgs {
    #[command(flatten)]
    settings: Settings,
    #[command(flatten)]
    order: XpayOrderArgs,
    /// A purchase of the sandbox (env 1, signed with the sandbox AppKey).
    #[arg(long)]
    sandbox: bool,
}

pub fn run(args: DeliverArgs) -> anyhow::Result<()> {
    let order_ref = args.order.order_ref()?;
    let env = env_of(args.sandbox);
    let settings = args.settings.resolve()?;
    let client = settings.xpay_client()?;
    block_on(async {
        client
            .xpay()
            .notify_provide_goods(env, &order_ref)
            .await
            .map_err(|e| settings.xpay_failure("deliver", e, None))?;
        settings.print(&serde_json::json!({"delivered": true}), || {
            format!(
                "delivered the goods of {} ({}): status 4",
                args.order.describe(),
                env.as_str()
            )
        })
    })
}
