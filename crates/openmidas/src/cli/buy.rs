//! `openmidas buy` (OpenMidas only): the simulated `wx.requestMidasPaymentGameItem`, an item
//! purchase made exactly as the player's phone makes it: signData built here, `paySig` over
//! `requestMidasPaymentGameItem&` + signData with the AppKey of the env, `signature` over
//! signData with the player's session_key. (Coins are `openmidas recharge`.)

use clap::Args;
use openmidas_client::openmidas::ItemPurchase;

use super::{block_on, Settings};

#[derive(Args, Debug)]
pub struct BuyArgs {
    #[command(flatten)]
    settings: Settings,
    /// The player's openid.
    #[arg(long)]
    openid: String,
    /// The player's session_key (from `openmidas login`): signs the purchase.
    #[arg(long, env = "OPENMIDAS_SESSION_KEY", hide_env_values = true)]
    session_key: Option<String>,
    /// The item (signData's productId).
    #[arg(long)]
    product_id: String,
    /// How many (buyQuantity).
    #[arg(long, default_value_t = 1)]
    quantity: i64,
    /// The unit price in fen (goodsPrice).
    #[arg(long)]
    price_fen: i64,
    /// The purchase's number (outTradeNo; a repeat is refused with -15003).
    #[arg(long)]
    out_trade_no: String,
    /// Data the game gets back with the purchase (attach).
    #[arg(long)]
    attach: Option<String>,
    /// The player's platform (signData's platform), sent when given.
    #[arg(long)]
    platform: Option<String>,
    /// Game zone (zoneId).
    #[arg(long, default_value = "1")]
    zone_id: String,
    /// Buy in the sandbox (env 1, signed with the sandbox AppKey).
    #[arg(long)]
    sandbox: bool,
    /// Leave the purchase unpaid until `openmidas purchase pay` (or `close`).
    #[arg(long)]
    manual: bool,
}

pub fn run(args: BuyArgs) -> anyhow::Result<()> {
    let session_key = args
        .session_key
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(openmidas_client::SessionKey::new)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "buy needs the player's session_key: the phone signs the purchase with it. Give \
                 --session-key or set OPENMIDAS_SESSION_KEY (`openmidas login --openid ID` prints it)"
            )
        })?;
    let settings = args.settings.resolve()?;
    let admin = settings.admin()?;
    let env = super::env_of(args.sandbox);
    let app_key = settings.app_key_for(env)?;
    let purchase = ItemPurchase {
        appid: settings.appid()?.to_string(),
        offer_id: settings.offer_id()?.to_string(),
        openid: args.openid.clone(),
        env,
        zone_id: Some(args.zone_id.clone()),
        platform: args.platform.clone(),
        product_id: args.product_id.clone(),
        quantity: args.quantity,
        price_fen: args.price_fen,
        out_trade_no: args.out_trade_no.clone(),
        attach: args.attach.clone(),
        pay_later: args.manual,
    };
    block_on(async {
        let bought = admin
            .buy_item(&purchase, &app_key, &session_key)
            .await
            .map_err(|e| settings.failure("buy", e, None))?;
        settings.print(&bought, || {
            let then = if bought.status == "created" {
                " (waiting to be paid: `openmidas purchase pay` or `close`)"
            } else {
                ""
            };
            format!(
                "bought {} x {} at {} fen for {} ({}): out_trade_no {}, status {}{then}",
                args.quantity,
                args.product_id,
                args.price_fen,
                args.openid,
                env.as_str(),
                bought.out_trade_no,
                bought.status
            )
        })
    })
}
