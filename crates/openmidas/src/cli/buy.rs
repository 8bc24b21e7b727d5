//! `openmidas buy` (OpenMidas only): a purchase made exactly as the player's phone makes it:
//! signData built here, `paySig` over the client API's uri + `&` + signData with the AppKey of
//! the env, `signature` over signData with the player's session_key.
//!
//! - 2.0 (default): `wx.requestMidasPaymentGameItem`, an item (coins are `openmidas recharge`).
//! - xpay (`--dialect xpay`): `wx.requestVirtualPayment` (behaviour.md section 11.3), goods
//!   (`short_series_goods`, waiting for `openmidas deliver`) or, with `--coins`, coins
//!   (`short_series_coin`).

use anyhow::bail;
use clap::Args;
use openmidas_client::openmidas::{ItemPurchase, VirtualProduct, VirtualPurchase};
use openmidas_client::SessionKey;
use openmidas_protocol::Dialect;

use super::{block_on, dialect_parser, Settings};

#[derive(Args, Debug)]
pub struct BuyArgs {
    #[command(flatten)]
    settings: Settings,
    /// Which client API: v2 (wx.requestMidasPaymentGameItem) or xpay
    /// (wx.requestVirtualPayment).
    #[arg(long, default_value = "v2", value_parser = dialect_parser(&[Dialect::V2, Dialect::Xpay]))]
    dialect: Dialect,
    /// The player's openid.
    #[arg(long)]
    openid: String,
    /// The player's session_key (from `openmidas login`): signs the purchase.
    #[arg(long, env = "OPENMIDAS_SESSION_KEY", hide_env_values = true)]
    session_key: Option<String>,
    /// The item (signData's productId).
    #[arg(long)]
    product_id: Option<String>,
    /// xpay only: buy coins (short_series_coin, at the app's coin price) instead of an item.
    #[arg(long, conflicts_with_all = ["product_id", "price_fen", "activity_price_fen"])]
    coins: bool,
    /// How many (buyQuantity): items, or coins with --coins.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    quantity: i64,
    /// The unit price in fen (goodsPrice).
    #[arg(long, allow_negative_numbers = true)]
    price_fen: Option<i64>,
    /// xpay only: a discounted unit price in fen (activitySellingPrice), charged instead.
    #[arg(long, allow_negative_numbers = true)]
    activity_price_fen: Option<i64>,
    /// The purchase's number (outTradeNo; xpay's order_id; a repeat is refused with -15003).
    #[arg(long)]
    out_trade_no: String,
    /// Data the game gets back with the purchase (attach).
    #[arg(long)]
    attach: Option<String>,
    /// 2.0 only: the player's platform (signData's platform), sent when given.
    #[arg(long)]
    platform: Option<String>,
    /// 2.0 only: game zone (zoneId); an xpay purchase is the zone-"1" account's.
    #[arg(long)]
    zone_id: Option<String>,
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
        .map(SessionKey::new)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "buy needs the player's session_key: the phone signs the purchase with it. Give \
                 --session-key or set OPENMIDAS_SESSION_KEY (`openmidas login --openid ID` prints it)"
            )
        })?;
    match args.dialect {
        Dialect::Xpay => run_xpay(args, session_key),
        _ => run_v2(args, session_key),
    }
}

fn run_v2(args: BuyArgs, session_key: SessionKey) -> anyhow::Result<()> {
    if args.coins {
        bail!("--coins is xpay's (short_series_coin): with 2.0, coins are `openmidas recharge`");
    }
    if args.activity_price_fen.is_some() {
        bail!("--activity-price-fen is xpay's (activitySellingPrice): add --dialect xpay");
    }
    let (Some(product_id), Some(price_fen)) = (args.product_id.clone(), args.price_fen) else {
        bail!("buy needs --product-id and --price-fen (the item and its unit price in fen)");
    };
    let settings = args.settings.resolve()?;
    let admin = settings.admin()?;
    let env = super::env_of(args.sandbox);
    let app_key = settings.app_key_for(env)?;
    let purchase = ItemPurchase {
        appid: settings.appid()?.to_string(),
        offer_id: settings.offer_id()?.to_string(),
        openid: args.openid.clone(),
        env,
        zone_id: Some(args.zone_id.clone().unwrap_or_else(|| "1".to_string())),
        platform: args.platform.clone(),
        product_id: product_id.clone(),
        quantity: args.quantity,
        price_fen,
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
            format!(
                "bought {} x {product_id} at {price_fen} fen for {} ({}): out_trade_no {}, status {}{}",
                args.quantity,
                args.openid,
                env.as_str(),
                bought.out_trade_no,
                bought.status,
                waiting(&bought.status)
            )
        })
    })
}

fn run_xpay(args: BuyArgs, session_key: SessionKey) -> anyhow::Result<()> {
    if args.platform.is_some() {
        bail!("--platform is 2.0's: wx.requestVirtualPayment's signData has no platform");
    }
    if args.zone_id.as_deref().is_some_and(|zone| zone != "1") {
        bail!("--zone-id does not apply: an xpay purchase is the app's zone-\"1\" account's");
    }
    let product = if args.coins {
        VirtualProduct::Coins
    } else {
        let (Some(product_id), Some(price_fen)) = (args.product_id.clone(), args.price_fen) else {
            bail!("buy --dialect xpay needs --product-id and --price-fen (goods), or --coins");
        };
        VirtualProduct::Goods {
            product_id,
            price_fen,
            activity_price_fen: args.activity_price_fen,
        }
    };
    let settings = args.settings.resolve()?;
    let admin = settings.admin()?;
    let env = super::env_of(args.sandbox);
    let app_key = settings.app_key_for(env)?;
    let purchase = VirtualPurchase {
        appid: settings.appid()?.to_string(),
        offer_id: settings.offer_id()?.to_string(),
        openid: args.openid.clone(),
        env,
        product,
        quantity: args.quantity,
        out_trade_no: args.out_trade_no.clone(),
        attach: args.attach.clone().unwrap_or_default(),
        pay_later: args.manual,
    };
    block_on(async {
        let bought = admin
            .virtual_payment(&purchase, &app_key, &session_key)
            .await
            .map_err(|e| settings.failure("buy", e, None))?;
        settings.print(&bought, || {
            let what = match &purchase.product {
                VirtualProduct::Coins => format!("{} coins", args.quantity),
                VirtualProduct::Goods { product_id, .. } => format!("{} x {product_id}", args.quantity),
            };
            let then = match bought.status.as_str() {
                "paid" => " (goods waiting for delivery: `openmidas deliver --order-id ...`)",
                other => waiting(other),
            };
            format!(
                "bought {what} for {} ({}, xpay): order_id {}, wx_order_id {}, status {}, balance {}{then}",
                args.openid,
                env.as_str(),
                bought.out_trade_no,
                bought.wx_order_id,
                bought.status,
                bought.balance
            )
        })
    })
}

/// What to do next with a purchase left unpaid.
fn waiting(status: &str) -> &'static str {
    if status == "created" {
        " (waiting to be paid: `openmidas purchase pay` or `close`)"
    } else {
        ""
    }
}
