//! `openmidas refund`: a refund of part or all of a pay, numbered by its own bill_no and
//! retried safely with it: 2.0 `cancelpay` (default), or xpay's `cancel_currency_pay`
//! (`--dialect xpay`: `--bill-no` is the refund's order_id, `--pay-bill-no` the pay's).

use clap::Args;
use openmidas_protocol::Dialect;

use super::{block_on, dialect_parser, AccountArgs, Settings};

#[derive(Args, Debug)]
pub struct RefundArgs {
    #[command(flatten)]
    settings: Settings,
    /// Which API: v2 (virtual payment 2.0's cancelpay) or xpay (cancel_currency_pay).
    #[arg(long, default_value = "v2", value_parser = dialect_parser(&[Dialect::V2, Dialect::Xpay]))]
    dialect: Dialect,
    #[command(flatten)]
    account: AccountArgs,
    /// The refund's own unique number: reuse it to retry, never for another refund.
    #[arg(long)]
    bill_no: String,
    /// The bill_no of the pay to refund (a pay made through v1, 2.0 or xpay).
    #[arg(long)]
    pay_bill_no: String,
    /// Coins to give back: at most what is left of the pay.
    #[arg(long, allow_negative_numbers = true)]
    amount: i64,
}

pub fn run(args: RefundArgs) -> anyhow::Result<()> {
    if args.dialect == Dialect::Xpay {
        return run_xpay(args);
    }
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

fn run_xpay(args: RefundArgs) -> anyhow::Result<()> {
    let player = args.account.xpay()?;
    let session_key = args.account.xpay_session_key("refund")?;
    let settings = args.settings.resolve()?;
    let client = settings.xpay_client()?;
    block_on(async {
        let refunded = client
            .xpay()
            .cancel_currency_pay(&player, &args.bill_no, &args.pay_bill_no, args.amount, &session_key)
            .await
            .map_err(|e| settings.xpay_failure("refund", e, Some(("--bill-no", &args.bill_no))))?;
        settings.print(&refunded, || {
            let mut text = format!(
                "refunded {} coins of the pay {} (refund order_id {}), cash back first; xpay's answer has no \
                 balance: `openmidas balance --dialect xpay`",
                args.amount, args.pay_bill_no, refunded.order_id
            );
            if refunded.replayed {
                text.push_str("\nan earlier attempt, whose answer was lost, applied it (its retry answered 268490004)");
            }
            text
        })
    })
}
