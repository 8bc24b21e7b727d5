//! `openmidas balance`: Midas v1 `getbalance`.

use clap::Args;

use super::{block_on, PlayerArgs, Settings};

#[derive(Args, Debug)]
pub struct BalanceArgs {
    #[command(flatten)]
    settings: Settings,
    #[command(flatten)]
    player: PlayerArgs,
}

pub fn run(args: BalanceArgs) -> anyhow::Result<()> {
    let settings = args.settings.resolve()?;
    let client = settings.client(true)?;
    block_on(async {
        let b = client
            .get_balance(
                args.player.env(),
                &args.player.player(),
                args.player.session_key().as_ref(),
            )
            .await
            .map_err(|e| settings.failure("balance", e, None))?;
        settings.print(&b, || {
            let first_save = if b.first_save == 1 {
                "never recharged"
            } else {
                "recharged before"
            };
            format!(
                "balance:     {}\ngen_balance: {} (gift coins)\nfirst_save:  {} ({first_save})\nsave_amt:    {}\nsave_sum:    {}\ncost_sum:    {}\npresent_sum: {}",
                b.balance, b.gen_balance, b.first_save, b.save_amt, b.save_sum, b.cost_sum, b.present_sum
            )
        })
    })
}
