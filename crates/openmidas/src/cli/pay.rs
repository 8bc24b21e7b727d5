//! `openmidas pay`: `pay`, Midas v1 (default) or 2.0 (`--dialect v2`), retried safely with
//! the same bill_no.

use clap::Args;
use openmidas_client::{v2, PayRequest};
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
    #[arg(long)]
    amount: i64,
    /// The order's unique number: reuse it to retry, never for another purchase.
    #[arg(long)]
    bill_no: String,
    /// Item name (v1's pay_item).
    #[arg(long)]
    pay_item: Option<String>,
    /// Remark written to the account's ledger (v1's app_remark).
    #[arg(long)]
    app_remark: Option<String>,
    /// Item name (2.0's payitem).
    #[arg(long)]
    payitem: Option<String>,
    /// Remark (2.0's remark).
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
            refuse_v1_flag("--pay-item", args.pay_item.is_some(), Some("--payitem"))?;
            refuse_v1_flag("--app-remark", args.app_remark.is_some(), Some("--remark"))?;
            run_v2(args)
        }
        Dialect::Xpay => anyhow::bail!("--dialect xpay is not in the CLI yet: use the server's /xpay/ routes directly"),
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
