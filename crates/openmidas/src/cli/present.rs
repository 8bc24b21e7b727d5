//! `openmidas present`: `present` (gift coins), Midas v1 (default) or 2.0
//! (`--dialect v2`), or xpay's `present_currency` (`--dialect xpay`, `--bill-no` being its
//! order_id), retried safely with the same number.

use clap::Args;
use openmidas_protocol::Dialect;

use super::{block_on, DialectArgs, PlayerArgs, Settings};

#[derive(Args, Debug)]
pub struct PresentArgs {
    #[command(flatten)]
    settings: Settings,
    #[command(flatten)]
    dialect: DialectArgs,
    #[command(flatten)]
    player: PlayerArgs,
    /// Gift coins to give (v1's present_counts, 2.0's and xpay's amount).
    #[arg(long, allow_negative_numbers = true)]
    amount: i64,
    /// The gift's unique number (xpay's order_id: 8 to 32 characters): reuse it to retry,
    /// never for another gift.
    #[arg(long)]
    bill_no: String,
}

/// The line a repeated bill_no adds.
const REPLAYED: &str = "\nthis bill_no was applied before (90012 with the original result): not given again";

pub fn run(args: PresentArgs) -> anyhow::Result<()> {
    match args.dialect.dialect {
        Dialect::V1 => run_v1(args),
        Dialect::V2 => run_v2(args),
        Dialect::Xpay => run_xpay(args),
    }
}

fn run_v1(args: PresentArgs) -> anyhow::Result<()> {
    let settings = args.settings.resolve()?;
    let client = settings.client(true)?;
    block_on(async {
        let given = client
            .present(
                args.player.env(),
                &args.player.player(),
                &args.bill_no,
                args.amount,
                args.player.session_key().as_ref(),
            )
            .await
            .map_err(|e| settings.failure("present", e, Some(&args.bill_no)))?;
        settings.print(&given, || {
            let mut text = format!(
                "presented {} coins (bill_no {}): balance {}",
                args.amount, given.bill_no, given.balance
            );
            if given.replayed {
                text.push_str(REPLAYED);
            }
            text
        })
    })
}

fn run_v2(args: PresentArgs) -> anyhow::Result<()> {
    let (player, session_key) = args.player.v2("present")?;
    let settings = args.settings.resolve()?;
    let client = settings.client(true)?;
    block_on(async {
        let given = client
            .v2()
            .present(&player, &args.bill_no, args.amount, &session_key)
            .await
            .map_err(|e| settings.failure("present", e, Some(&args.bill_no)))?;
        settings.print(&given, || {
            let mut text = format!(
                "presented {} coins (bill_no {}): balance {}",
                args.amount, given.bill_no, given.balance
            );
            if given.replayed {
                text.push_str(REPLAYED);
            }
            text
        })
    })
}

fn run_xpay(args: PresentArgs) -> anyhow::Result<()> {
    let account = args.player.xpay()?;
    account.refuse_xpay_user_ip("present_currency")?;
    // present_currency is signed with pay_sig alone: no session_key needed.
    let player = account.xpay()?;
    let settings = args.settings.resolve()?;
    let client = settings.xpay_client()?;
    block_on(async {
        let given = client
            .xpay()
            .present_currency(&player, &args.bill_no, args.amount)
            .await
            .map_err(|e| settings.xpay_failure("present", e, Some(("--bill-no", &args.bill_no))))?;
        settings.print(&given, || match (given.balance, given.present_balance) {
            (Some(balance), Some(gift)) => format!(
                "presented {} coins (order_id {}): balance {balance}, present_balance {gift} (gift coins)",
                args.amount, given.order_id
            ),
            _ => format!(
                "presented {} coins (order_id {}): an earlier attempt, whose answer was lost, gave them (its \
                 retry answered 268490004); xpay then gives no balance: `openmidas balance --dialect xpay`",
                args.amount, given.order_id
            ),
        })
    })
}
