//! `openmidas present`: Midas v1 `present` (gift coins), retried safely with the same bill_no.

use clap::Args;

use super::{block_on, PlayerArgs, Settings};

#[derive(Args, Debug)]
pub struct PresentArgs {
    #[command(flatten)]
    settings: Settings,
    #[command(flatten)]
    player: PlayerArgs,
    /// Gift coins to give (present_counts).
    #[arg(long)]
    amount: i64,
    /// The gift's unique number: reuse it to retry, never for another gift.
    #[arg(long)]
    bill_no: String,
}

pub fn run(args: PresentArgs) -> anyhow::Result<()> {
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
                text.push_str("\nthis bill_no was applied before (90012 with the original result): not given again");
            }
            text
        })
    })
}
