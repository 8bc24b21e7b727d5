//! `openmidas pay`: Midas v1 `pay`, retried safely with the same bill_no.

use clap::Args;
use openmidas_client::PayRequest;

use super::{block_on, PlayerArgs, Settings};

#[derive(Args, Debug)]
pub struct PayArgs {
    #[command(flatten)]
    settings: Settings,
    #[command(flatten)]
    player: PlayerArgs,
    /// Coins to deduct.
    #[arg(long)]
    amount: i64,
    /// The order's unique number: reuse it to retry, never for another purchase.
    #[arg(long)]
    bill_no: String,
    /// Item name.
    #[arg(long)]
    pay_item: Option<String>,
    /// Remark written to the account's ledger.
    #[arg(long)]
    app_remark: Option<String>,
}

pub fn run(args: PayArgs) -> anyhow::Result<()> {
    let settings = args.settings.resolve()?;
    let client = settings.client(true)?;
    let request = PayRequest {
        amt: args.amount,
        bill_no: args.bill_no.clone(),
        pay_item: args.pay_item.clone(),
        app_remark: args.app_remark.clone(),
    };
    block_on(async {
        let paid = client
            .pay(
                args.player.env(),
                &args.player.player(),
                &request,
                args.player.session_key().as_ref(),
            )
            .await
            .map_err(|e| settings.failure("pay", e, Some(&args.bill_no)))?;
        settings.print(&paid, || {
            let mut text = format!(
                "paid {} coins (bill_no {}): balance {}, gift coins used {}",
                args.amount, paid.bill_no, paid.balance, paid.used_gen_amt
            );
            if paid.replayed {
                text.push_str("\nthis bill_no was applied before (90012 with the original result): not charged again");
            }
            text
        })
    })
}
