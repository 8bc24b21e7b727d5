//! `openmidas refund`: 2.0 `cancelpay`, a refund of part or all of a pay, numbered by its
//! own bill_no and retried safely with it.

use clap::Args;

use super::{block_on, AccountArgs, Settings};

#[derive(Args, Debug)]
pub struct RefundArgs {
    #[command(flatten)]
    settings: Settings,
    #[command(flatten)]
    account: AccountArgs,
    /// The refund's own unique number: reuse it to retry, never for another refund.
    #[arg(long)]
    bill_no: String,
    /// The bill_no of the pay to refund (a pay made through v1 or 2.0).
    #[arg(long)]
    pay_bill_no: String,
    /// Coins to give back: at most what is left of the pay.
    #[arg(long)]
    amount: i64,
}

pub fn run(args: RefundArgs) -> anyhow::Result<()> {
    let (player, session_key) = args.account.v2("refund")?;
    let settings = args.settings.resolve()?;
    let client = settings.client(true)?;
    block_on(async {
        let refunded = client
            .v2()
            .refund(&player, &args.bill_no, &args.pay_bill_no, args.amount, &session_key)
            .await
            .map_err(|e| settings.failure("refund", e, Some(&args.bill_no)))?;
        settings.print(&refunded, || {
            let mut text = format!(
                "refunded {} coins of the pay {} (refund bill_no {}): balance {}, used_present_amount {} (gift coins given back)",
                args.amount, args.pay_bill_no, refunded.bill_no, refunded.balance, refunded.used_present_amount
            );
            if refunded.replayed {
                text.push_str(
                    "\nthis refund bill_no was applied before (90012 with the original result): not refunded again",
                );
            }
            text
        })
    })
}
