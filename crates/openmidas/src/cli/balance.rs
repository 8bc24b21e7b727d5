//! `openmidas balance`: `getbalance`, Midas v1 (default) or 2.0 (`--dialect v2`), or xpay's
//! `query_user_balance` (`--dialect xpay`).

use clap::Args;
use openmidas_protocol::Dialect;

use super::{block_on, DialectArgs, PlayerArgs, Settings};

#[derive(Args, Debug)]
pub struct BalanceArgs {
    #[command(flatten)]
    settings: Settings,
    #[command(flatten)]
    dialect: DialectArgs,
    #[command(flatten)]
    player: PlayerArgs,
}

pub fn run(args: BalanceArgs) -> anyhow::Result<()> {
    match args.dialect.dialect {
        Dialect::V1 => run_v1(args),
        Dialect::V2 => run_v2(args),
        Dialect::Xpay => run_xpay(args),
    }
}

fn run_v1(args: BalanceArgs) -> anyhow::Result<()> {
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

fn run_v2(args: BalanceArgs) -> anyhow::Result<()> {
    let (player, session_key) = args.player.v2("balance")?;
    let settings = args.settings.resolve()?;
    let client = settings.client(true)?;
    block_on(async {
        let b = client
            .v2()
            .get_balance(&player, &session_key)
            .await
            .map_err(|e| settings.failure("balance", e, None))?;
        settings.print(&b, || {
            let first_save = if b.first_save {
                "never recharged"
            } else {
                "recharged before"
            };
            format!(
                "balance:         {}\npresent_balance: {} (gift coins)\nsum_save:        {}\nsum_present:     {}\nsum_balance:     {}\nsum_cost:        {}\nfirst_save:      {} ({first_save})",
                b.balance, b.present_balance, b.sum_save, b.sum_present, b.sum_balance, b.sum_cost, b.first_save
            )
        })
    })
}

fn run_xpay(args: BalanceArgs) -> anyhow::Result<()> {
    let account = args.player.xpay()?;
    let player = account.xpay()?;
    let session_key = account.xpay_session_key("balance")?;
    let settings = args.settings.resolve()?;
    let client = settings.xpay_client()?;
    block_on(async {
        let b = client
            .xpay()
            .query_user_balance(&player, &session_key)
            .await
            .map_err(|e| settings.xpay_failure("balance", e, None))?;
        settings.print(&b, || {
            let first_save = if b.first_save_flag {
                "never recharged"
            } else {
                "recharged before"
            };
            format!(
                "balance:         {}\npresent_balance: {} (gift coins)\nsum_save:        {}\nsum_present:     {}\nsum_balance:     {}\nsum_cost:        {}\nfirst_save_flag: {} ({first_save})",
                b.balance, b.present_balance, b.sum_save, b.sum_present, b.sum_balance, b.sum_cost, b.first_save_flag
            )
        })
    })
}
