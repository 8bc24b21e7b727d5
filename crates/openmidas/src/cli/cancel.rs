//! `openmidas cancel`: Midas v1 `cancelpay` (reverse a pay within 48 h).

use clap::Args;

use super::{block_on, PlayerArgs, Settings};

#[derive(Args, Debug)]
pub struct CancelArgs {
    #[command(flatten)]
    settings: Settings,
    #[command(flatten)]
    player: PlayerArgs,
    /// The bill_no of the pay to reverse.
    #[arg(long)]
    bill_no: String,
    /// Item name.
    #[arg(long)]
    pay_item: Option<String>,
}

pub fn run(args: CancelArgs) -> anyhow::Result<()> {
    let settings = args.settings.resolve()?;
    let client = settings.client(true)?;
    block_on(async {
        let cancelled = client
            .cancel_pay(
                args.player.env(),
                &args.player.player(),
                &args.bill_no,
                args.pay_item.as_deref(),
                args.player.session_key().as_ref(),
            )
            .await
            .map_err(|e| settings.failure("cancel", e, Some(&args.bill_no)))?;
        settings.print(&cancelled, || {
            let mut text = format!("cancelled the pay {}: its coins are back", cancelled.bill_no);
            if cancelled.already_cancelled {
                text.push_str(" (an earlier attempt whose answer was lost had cancelled it)");
            }
            text
        })
    })
}
