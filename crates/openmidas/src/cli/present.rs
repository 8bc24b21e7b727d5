//! `openmidas present`: `present` (gift coins), Midas v1 (default) or 2.0
//! (`--dialect v2`), retried safely with the same bill_no.

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
    /// Gift coins to give (v1's present_counts, 2.0's amount).
    #[arg(long)]
    amount: i64,
    /// The gift's unique number: reuse it to retry, never for another gift.
    #[arg(long)]
    bill_no: String,
}

/// The line a repeated bill_no adds.
const REPLAYED: &str = "\nthis bill_no was applied before (90012 with the original result): not given again";

pub fn run(args: PresentArgs) -> anyhow::Result<()> {
    match args.dialect.dialect {
        Dialect::V1 => run_v1(args),
        Dialect::V2 => run_v2(args),
        Dialect::Xpay => anyhow::bail!("--dialect xpay is not in the CLI yet: use the server's /xpay/ routes directly"),
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
