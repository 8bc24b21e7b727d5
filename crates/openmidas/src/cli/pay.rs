//! `openmidas pay`: `pay`, Midas v1 (default) or 2.0 (`--dialect v2`), or xpay's
//! `currency_pay` (`--dialect xpay`, `--bill-no` being its order_id), retried safely with the
//! same number.

use clap::Args;
use openmidas_client::{v2, xpay, PayRequest};
use openmidas_protocol::Dialect;

use super::{block_on, refuse_v1_flag, refuse_v2_flag, DialectArgs, PlayerArgs, Settings};

#[derive(Args, Debug)]
pub struct PayArgs {
    #[command(flatten)]
    settings: Settings,
    #[command(flatten)]
    dialect: DialectArgs,
    #[command(flatten)]
    player: PlayerArgs,
    /// Coins to deduct.
    #[arg(long, allow_negative_numbers = true)]
    amount: i64,
    /// The order's unique number (xpay's order_id: 8 to 32 characters): reuse it to retry,
    /// never for another purchase.
    #[arg(long)]
    bill_no: String,
    /// Item name (v1's pay_item).
    #[arg(long)]
    pay_item: Option<String>,
    /// Remark written to the account's ledger (v1's app_remark).
    #[arg(long)]
    app_remark: Option<String>,
    /// Item name (2.0's and xpay's payitem).
    #[arg(long)]
    payitem: Option<String>,
    /// Remark (2.0's and xpay's remark).
    #[arg(long)]
    remark: Option<String>,
}

pub fn run(args: PayArgs) -> anyhow::Result<()> {
    match args.dialect.dialect {
        Dialect::V1 => {
            refuse_v2_flag("--payitem", args.payitem.is_some(), "--pay-item")?;
            refuse_v2_flag("--remark", args.remark.is_some(), "--app-remark")?;
            run_v1(args)
        }
        Dialect::V2 => {
            refuse_v1_flag("--pay-item", args.pay_item.is_some(), Some("--payitem"), Dialect::V2)?;
            refuse_v1_flag("--app-remark", args.app_remark.is_some(), Some("--remark"), Dialect::V2)?;
            run_v2(args)
        }
        Dialect::Xpay => {
            refuse_v1_flag("--pay-item", args.pay_item.is_some(), Some("--payitem"), Dialect::Xpay)?;
            refuse_v1_flag(
                "--app-remark",
                args.app_remark.is_some(),
                Some("--remark"),
                Dialect::Xpay,
            )?;
            run_xpay(args)
        }
    }
}

/// The line a repeated bill_no adds.
const REPLAYED: &str = "\nthis bill_no was applied before (90012 with the original result): not charged again";

fn run_v1(args: PayArgs) -> anyhow::Result<()> {
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
                text.push_str(REPLAYED);
            }
            text
        })
    })
}

fn run_v2(args: PayArgs) -> anyhow::Result<()> {
    let (player, session_key) = args.player.v2("pay")?;
    let settings = args.settings.resolve()?;
    let client = settings.client(true)?;
    let request = v2::PayRequest {
        bill_no: args.bill_no.clone(),
        amount: args.amount,
        payitem: args.payitem.clone(),
        remark: args.remark.clone(),
    };
    block_on(async {
        let paid = client
            .v2()
            .pay(&player, &request, &session_key)
            .await
            .map_err(|e| settings.failure("pay", e, Some(&args.bill_no)))?;
        settings.print(&paid, || {
            let mut text = format!(
                "paid {} coins (bill_no {}): balance {}, used_present_amount {} (gift coins used)",
                args.amount, paid.bill_no, paid.balance, paid.used_present_amount
            );
            if paid.replayed {
                text.push_str(REPLAYED);
            }
            text
        })
    })
}

fn run_xpay(args: PayArgs) -> anyhow::Result<()> {
    let account = args.player.xpay()?;
    let player = account.xpay()?;
    let session_key = account.xpay_session_key("pay")?;
    let settings = args.settings.resolve()?;
    let client = settings.xpay_client()?;
    let request = xpay::CurrencyPayRequest {
        order_id: args.bill_no.clone(),
        amount: args.amount,
        payitem: args.payitem.clone(),
        remark: args.remark.clone(),
    };
    block_on(async {
        let paid = client
            .xpay()
            .currency_pay(&player, &request, &session_key)
            .await
            .map_err(|e| settings.xpay_failure("pay", e, Some(("--bill-no", &args.bill_no))))?;
        settings.print(&paid, || match (paid.balance, paid.used_present_amount) {
            (Some(balance), Some(gift)) => format!(
                "paid {} coins (order_id {}): balance {balance}, used_present_amount {gift} (gift coins used)",
                args.amount, paid.order_id
            ),
            _ => format!(
                "paid {} coins (order_id {}): an earlier attempt, whose answer was lost, applied it (its retry \
                 answered 268490004); xpay then gives no balance: `openmidas balance --dialect xpay`",
                args.amount, paid.order_id
            ),
        })
    })
}
