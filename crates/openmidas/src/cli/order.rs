//! `openmidas order`: 2.0 `queryorderinfo`, a purchase of the player by its out_trade_no.

use clap::{Args, ValueEnum};
use openmidas_client::v2::BizId;

use super::{block_on, AccountArgs, Settings};

#[derive(Args, Debug)]
pub struct OrderArgs {
    #[command(flatten)]
    settings: Settings,
    #[command(flatten)]
    account: AccountArgs,
    /// The purchase's number (its out_trade_no).
    #[arg(long)]
    out_trade_no: String,
    /// What was bought: coins (wx.requestMidasPayment, biz_id 1) or an item
    /// (wx.requestMidasPaymentGameItem, biz_id 2).
    #[arg(long, value_enum)]
    biz: Biz,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Biz {
    Coins,
    Item,
}

pub fn run(args: OrderArgs) -> anyhow::Result<()> {
    if args.account.user_ip.is_some() {
        anyhow::bail!("--user-ip does not apply: 2.0 queryorderinfo takes no user_ip");
    }
    let (player, session_key) = args.account.v2("order")?;
    let biz_id = match args.biz {
        Biz::Coins => BizId::Coins,
        Biz::Item => BizId::Item,
    };
    let settings = args.settings.resolve()?;
    let client = settings.client(true)?;
    block_on(async {
        let order = client
            .v2()
            .query_order_info(&player, &args.out_trade_no, biz_id, &session_key)
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
