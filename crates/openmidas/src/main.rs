//! `openmidas`: one binary, with subcommands.
//!
//! - `serve`: run the server (see [`serve`]).
//! - `sign`: sign a v1 or 2.0 request body (or a client purchase's signData), or explain a
//!   signature (see [`sign`]).
//! - `token`, `login`, `recharge`, `balance`, `pay`, `cancel`, `present`, `refund`, `order`,
//!   `refund-order`, `deliver`, `bill`, `buy`, `purchase`: a client of the real WeChat API or of an OpenMidas server (see
//!   [`cli`]).
//! - `clock`, `faults`, `requests`, `reset`, `state`: the emulator controls of an OpenMidas
//!   in emulator mode (see [`cli::EmulatorCommand`]).
//! - `ca`: the local certificate authority of `serve --tls` (see [`ca`]); `completions`,
//!   `man`: shell completions and the man page.
//! - `pushes`: the push events of an OpenMidas server, and sending one again (see
//!   [`cli::pushes`]).

mod ca;
mod cli;
mod config;
mod healthcheck;
mod logging;
mod serve;
mod sign;

use clap::{Parser, Subcommand};

// glibc's malloc cost ~10% of a request's server CPU in profiles; mimalloc is far cheaper
// for the many small, short-lived allocations of request handling.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "openmidas",
    version,
    about = "A WeChat mini-game Midas server and currency ledger"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print JSON (one object on stdout) instead of text; before or after the subcommand.
    #[arg(long, global = true)]
    json: bool,
    /// Language of errcode explanations: en or zh-CN [default: from LC_ALL, LC_MESSAGES or
    /// LANG].
    #[arg(long, global = true, env = "OPENMIDAS_LANG", value_name = "LANG")]
    lang: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Sign a request: v1 (sig, and mp_sig with --session-key), 2.0 (pay_sig, and signature
    /// with --session-key) or a client purchase's signData; or explain a signature.
    Sign(sign::SignArgs),
    /// Fetch an access_token (stable_token by default).
    Token(cli::token::TokenArgs),
    /// OpenMidas only: log a player in (simulated wx.login + jscode2session); prints openid and session_key.
    Login(cli::login::LoginArgs),
    /// OpenMidas only: add coins to a player (simulated wx.requestMidasPayment).
    Recharge(cli::recharge::RechargeArgs),
    /// Read a player's balance (getbalance; v1, 2.0 with --dialect v2, or xpay query_user_balance with --dialect xpay).
    Balance(cli::balance::BalanceArgs),
    /// Deduct coins (pay; v1, 2.0 with --dialect v2, or xpay currency_pay with --dialect xpay); safe to repeat with the same --bill-no.
    Pay(cli::pay::PayArgs),
    /// Reverse a pay within 48 h (Midas v1 cancelpay).
    Cancel(cli::cancel::CancelArgs),
    /// Give gift coins (present; v1, 2.0 with --dialect v2, or xpay present_currency with --dialect xpay); safe to repeat with the same --bill-no.
    Present(cli::present::PresentArgs),
    /// Refund part or all of a pay (2.0 cancelpay, or xpay cancel_currency_pay with --dialect xpay); safe to repeat with the same --bill-no.
    Refund(cli::refund::RefundArgs),
    /// Look up a purchase of the player (2.0 queryorderinfo, or xpay query_order with --dialect xpay).
    Order(cli::order::OrderArgs),
    /// Refund money of a paid xpay purchase (xpay refund_order); safe to repeat with the same --refund-order-id.
    RefundOrder(cli::refund_order::RefundOrderArgs),
    /// Say the goods of a paid xpay purchase were delivered (xpay notify_provide_goods).
    Deliver(cli::deliver::DeliverArgs),
    /// Download xpay's bill of a range of days as CSV (xpay download_bill).
    Bill(cli::bill::BillArgs),
    /// OpenMidas only: buy as the player's phone does (simulated wx.requestMidasPaymentGameItem, or wx.requestVirtualPayment with --dialect xpay).
    Buy(cli::buy::BuyArgs),
    /// OpenMidas only: pay or close a purchase made with `buy --manual`.
    Purchase(cli::purchase::PurchaseArgs),
    /// OpenMidas only: list the push events sent to the apps' push URLs, or send one again (`redeliver ID`).
    Pushes(cli::pushes::PushesArgs),
    /// OpenMidas only: open the server's dashboard (/ui) in the browser, logged in by a one-time link; or print the link.
    Ui(cli::ui::UiArgs),
    /// The local certificate authority of `serve --tls`: make it if needed, print its certificate's path and how to trust it.
    Ca(ca::CaArgs),
    /// Exit 0 if the server on this machine answers GET /healthz with 200, 1 otherwise (for container health checks).
    Healthcheck(healthcheck::HealthcheckArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the man page (roff) of openmidas and its subcommands.
    Man(ManArgs),
    #[command(flatten)]
    Emulator(cli::EmulatorCommand),
}

#[derive(clap::Args)]
struct CompletionsArgs {
    /// The shell.
    shell: clap_complete::Shell,
}

#[derive(clap::Args)]
struct ManArgs {
    /// Write one page per command (openmidas.1, openmidas-serve.1, ...) into this directory
    /// instead of printing the main page.
    #[arg(long, value_name = "DIR")]
    dir: Option<std::path::PathBuf>,
}

fn completions(args: CompletionsArgs) -> anyhow::Result<()> {
    let mut command = <Cli as clap::CommandFactory>::command();
    clap_complete::generate(args.shell, &mut command, "openmidas", &mut std::io::stdout());
    Ok(())
}

fn man(args: ManArgs) -> anyhow::Result<()> {
    let command = <Cli as clap::CommandFactory>::command();
    match args.dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)?;
            clap_mangen::generate_to(command, &dir)?;
            Ok(())
        }
        None => {
            clap_mangen::Man::new(command).render(&mut std::io::stdout())?;
            Ok(())
        }
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli::choose_lang(cli.lang.as_deref()) {
        Ok(lang) => cli::set_output(cli::Output { json: cli.json, lang }),
        Err(e) => {
            eprintln!("openmidas: {e:#}");
            return std::process::ExitCode::from(2);
        }
    }
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Sign(args) => sign::run(args),
        Command::Token(args) => cli::token::run(args),
        Command::Login(args) => cli::login::run(args),
        Command::Recharge(args) => cli::recharge::run(args),
        Command::Balance(args) => cli::balance::run(args),
        Command::Pay(args) => cli::pay::run(args),
        Command::Cancel(args) => cli::cancel::run(args),
        Command::Present(args) => cli::present::run(args),
        Command::Refund(args) => cli::refund::run(args),
        Command::Order(args) => cli::order::run(args),
        Command::RefundOrder(args) => cli::refund_order::run(args),
        Command::Deliver(args) => cli::deliver::run(args),
        Command::Bill(args) => cli::bill::run(args),
        Command::Buy(args) => cli::buy::run(args),
        Command::Purchase(args) => cli::purchase::run(args),
        Command::Pushes(args) => cli::pushes::run(args),
        Command::Ui(args) => cli::ui::run(args),
        Command::Ca(args) => ca::run(args, cli.json),
        Command::Healthcheck(args) => healthcheck::run(args),
        Command::Completions(args) => completions(args),
        Command::Man(args) => man(args),
        Command::Emulator(command) => command.run(),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("openmidas: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
