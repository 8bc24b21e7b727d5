//! `openmidas refund-order`: xpay's `refund_order`, money (never coins) back from a paid
//! purchase as a refund order of its own, numbered `--refund-order-id` and retried safely
//! with it (behaviour.md section 10.2). Without `--left-fee`, what is left of the purchase is
//! read with `query_order` just before.

use clap::Args;
use openmidas_client::xpay::{self, RefundOrderRequest};

use super::{block_on, env_of, Settings, XpayOrderArgs};

#[derive(Args, Debug)]
pub struct RefundOrderArgs {
    #[command(flatten)]
    settings: Settings,
    /// The player who bought it.
    #[arg(long)]
    openid: String,
    #[command(flatten)]
    order: XpayOrderArgs,
    /// The refund's own unique number (8 to 32 of 0-9 A-Z a-z _ -): reuse it to retry,
    /// never for another refund.
    #[arg(long)]
    refund_order_id: String,
    /// Fen still refundable, as you believe (query_order's left_fee; a stale one is refused
    /// with 268490016) [default: read with query_order just before].
    #[arg(long, allow_negative_numbers = true)]
    left_fee: Option<i64>,
    /// Fen to give back: 1 to left_fee.
    #[arg(long, allow_negative_numbers = true)]
    refund_fee: i64,
    /// refund_reason: 0 none given, 1 product problem, 2 after-sales, 3 the player's wish,
    /// 4 price, 5 other.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=5))]
    reason: u8,
    /// req_from, who asked: 1 customer service, 2 the player, 3 other.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=3))]
    req_from: u8,
    /// Data kept with the refund (biz_meta, at most 1024 bytes).
    #[arg(long)]
    biz_meta: Option<String>,
    /// A purchase of the sandbox (env 1, signed with the sandbox AppKey).
    #[arg(long)]
    sandbox: bool,
}

pub fn run(args: RefundOrderArgs) -> anyhow::Result<()> {
    let order_ref = args.order.order_ref()?;
    let player = xpay::Player::new(&args.openid).env(env_of(args.sandbox));
    let settings = args.settings.resolve()?;
    let client = settings.xpay_client()?;
    let numbered = Some(("--refund-order-id", args.refund_order_id.as_str()));
    block_on(async {
        let xpay = client.xpay();
        let (left_fee, read) = match args.left_fee {
            Some(left_fee) => (left_fee, false),
            None => {
                let order = xpay
                    .query_order(&player, &order_ref)
                    .await
                    .map_err(|e| settings.xpay_failure("refund-order (reading left_fee)", e, None))?;
                let Some(left_fee) = order.left_fee else {
                    anyhow::bail!(
                        "{} has no left_fee (status {}): only a paid purchase can be refunded",
                        args.order.describe(),
                        order.status
                    );
                };
                (left_fee, true)
            }
        };
        let request = RefundOrderRequest {
            refund_order_id: args.refund_order_id.clone(),
            left_fee,
            refund_fee: args.refund_fee,
            refund_reason: args.reason,
            req_from: args.req_from,
            biz_meta: args.biz_meta.clone(),
        };
        let started = xpay
            .refund_order(&player, &order_ref, &request)
            .await
            .map_err(|e| settings.xpay_failure("refund-order", e, numbered))?;
        settings.print(&started, || {
            let mut lines = Vec::new();
            if read {
                lines.push(format!("left_fee:           {left_fee} (read with query_order)"));
            }
            lines.push(format!("refund_order_id:    {}", started.refund_order_id));
            for (label, value) in [
                ("refund_wx_order_id: ", &started.refund_wx_order_id),
                ("pay_order_id:       ", &started.pay_order_id),
                ("pay_wx_order_id:    ", &started.pay_wx_order_id),
            ] {
                if let Some(value) = value {
                    lines.push(format!("{label}{value}"));
                }
            }
            if started.replayed {
                lines.push(
                    "an earlier attempt, whose answer was lost, started this refund (its retry found it in \
                     progress or done)"
                        .to_string(),
                );
            }
            lines.push(format!(
                "refunding {} fen of {}: `openmidas order --dialect xpay --openid {} --order-id {}` shows when it is done",
                args.refund_fee,
                args.order.describe(),
                args.openid,
                started.refund_order_id
            ));
            lines.join("\n")
        })
    })
}
