//! `openmidas order`: a purchase of the player: 2.0 `queryorderinfo` by its out_trade_no
//! (default), or xpay's `query_order` (`--dialect xpay`) by its order_id or wx_order_id,
//! which also finds the refunds of `refund-order` by their refund_order_id.

use clap::{Args, ValueEnum};
use openmidas_client::v2::BizId;
use openmidas_client::xpay::{Order, OrderStatus, OrderType};
use openmidas_protocol::Dialect;

use super::{block_on, dialect_parser, refuse_for_xpay, AccountArgs, Settings, XpayOrderArgs};

#[derive(Args, Debug)]
pub struct OrderArgs {
    #[command(flatten)]
    settings: Settings,
    /// Which API: v2 (virtual payment 2.0's queryorderinfo) or xpay (query_order).
    #[arg(long, default_value = "v2", value_parser = dialect_parser(&[Dialect::V2, Dialect::Xpay]))]
    dialect: Dialect,
    #[command(flatten)]
    account: AccountArgs,
    /// The purchase's number (its out_trade_no; 2.0).
    #[arg(long)]
    out_trade_no: Option<String>,
    /// What was bought (2.0): coins (wx.requestMidasPayment, biz_id 1) or an item
    /// (wx.requestMidasPaymentGameItem, biz_id 2).
    #[arg(long, value_enum)]
    biz: Option<Biz>,
    #[command(flatten)]
    xpay_order: XpayOrderArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Biz {
    Coins,
    Item,
}

pub fn run(args: OrderArgs) -> anyhow::Result<()> {
    if args.dialect == Dialect::Xpay {
        return run_xpay(args);
    }
    if args.account.user_ip.is_some() {
        anyhow::bail!("--user-ip does not apply: 2.0 queryorderinfo takes no user_ip");
    }
    if args.xpay_order.given() {
        anyhow::bail!("--order-id and --wx-order-id are xpay's: add --dialect xpay, or use --out-trade-no for 2.0");
    }
    let (Some(out_trade_no), Some(biz)) = (args.out_trade_no.as_deref(), args.biz) else {
        anyhow::bail!("order (2.0 queryorderinfo) needs --out-trade-no and --biz coins|item");
    };
    let (player, session_key) = args.account.v2("order")?;
    let biz_id = match biz {
        Biz::Coins => BizId::Coins,
        Biz::Item => BizId::Item,
    };
    let settings = args.settings.resolve()?;
    let client = settings.client(true)?;
    block_on(async {
        let order = client
            .v2()
            .query_order_info(&player, out_trade_no, biz_id, &session_key)
            .await
            .map_err(|e| settings.failure("order", e, None))?;
        settings.print(&order, || {
            let product = if order.product_id.is_empty() {
                "\"\" (coins)"
            } else {
                order.product_id.as_str()
            };
            let paid = if order.pay_state == 2 { "paid" } else { "unpaid" };
            let delivered = if order.deliver_state == 2 {
                "delivered"
            } else {
                "not delivered"
            };
            let finished = if order.pay_finish_time == 0 { " (unpaid)" } else { " (UNIX seconds)" };
            format!(
                "out_trade_no:    {}\nproduct_id:      {product}\npay_state:       {} ({paid})\ndeliver_state:   {} ({delivered})\npay_finish_time: {}{finished}\nmch_order_no:    {}\ntransaction_id:  {}",
                order.out_trade_no,
                order.pay_state,
                order.deliver_state,
                order.pay_finish_time,
                order.mch_order_no,
                order.transaction_id
            )
        })
    })
}

fn run_xpay(args: OrderArgs) -> anyhow::Result<()> {
    refuse_for_xpay(
        "--out-trade-no",
        args.out_trade_no.is_some(),
        "a purchase's out_trade_no is its --order-id",
    )?;
    refuse_for_xpay("--biz", args.biz.is_some(), "query_order finds coins and goods alike")?;
    args.account.refuse_xpay_user_ip("query_order")?;
    let player = args.account.xpay()?;
    let order_ref = args.xpay_order.order_ref()?;
    let settings = args.settings.resolve()?;
    let client = settings.xpay_client()?;
    block_on(async {
        let order = client
            .xpay()
            .query_order(&player, &order_ref)
            .await
            .map_err(|e| settings.xpay_failure("order", e, None))?;
        settings.print(&order, || describe(&order))
    })
}

/// An xpay order, one field a line, with what its numbers mean.
fn describe(order: &Order) -> String {
    let refund = order.order_type == OrderType::Refund.code();
    let status = match (refund, OrderStatus::from_code(order.status)) {
        (true, Some(OrderStatus::Created)) => "refund in progress",
        (true, Some(OrderStatus::Refunded)) => "refund done",
        (_, Some(OrderStatus::Created)) => "created, not paid",
        (_, Some(OrderStatus::Paid)) => "paid, goods waiting for delivery",
        (_, Some(OrderStatus::Delivering)) => "delivering",
        (_, Some(OrderStatus::Delivered)) => "delivered",
        (_, Some(OrderStatus::Refunded)) => "refunded in full",
        (_, Some(OrderStatus::Closed)) => "closed, never paid",
        (_, Some(OrderStatus::RefundFailed)) => "a refund failed",
        (_, None) => "a status OpenMidas does not know",
    };
    let order_type = if refund { "refund" } else { "purchase" };
    let env = if order.env_type == 2 { "sandbox" } else { "official" };
    let mut lines = vec![
        format!("order_id:         {}", order.order_id),
        format!("order_type:       {} ({order_type})", order.order_type),
        format!("status:           {} ({status})", order.status),
        format!("env_type:         {} ({env})", order.env_type),
        format!("order_fee:        {} (fen)", order.order_fee),
        format!("paid_fee:         {} (fen)", order.paid_fee),
    ];
    let optional_fen = [
        ("refund_fee:       ", order.refund_fee, "fen refunded"),
        ("left_fee:         ", order.left_fee, "fen still refundable"),
    ];
    for (label, value, meaning) in optional_fen {
        if let Some(value) = value {
            lines.push(format!("{label}{value} ({meaning})"));
        }
    }
    lines.push(format!("create_time:      {} (UNIX seconds)", order.create_time));
    lines.push(format!("update_time:      {} (UNIX seconds)", order.update_time));
    for (label, value) in [
        ("paid_time:        ", order.paid_time),
        ("provide_time:     ", order.provide_time),
    ] {
        if let Some(value) = value {
            lines.push(format!("{label}{value} (UNIX seconds)"));
        }
    }
    for (label, value) in [
        ("wx_order_id:      ", &order.wx_order_id),
        ("biz_meta:         ", &order.biz_meta),
        ("channel_order_id: ", &order.channel_order_id),
        ("wxpay_order_id:   ", &order.wxpay_order_id),
    ] {
        if let Some(value) = value {
            lines.push(format!("{label}{value}"));
        }
    }
    lines.join("\n")
}
