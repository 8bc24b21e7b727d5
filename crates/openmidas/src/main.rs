//! `openmidas`: one binary, with subcommands.
//!
//! - `serve`: run the server (see [`serve`]).
//! - `sign`: sign a v1 request body, or explain a signature (see [`sign`]).

mod config;
mod serve;
mod sign;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "openmidas",
    version,
    about = "A WeChat mini-game Midas server and currency ledger"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Sign a Midas v1 request (sig, and mp_sig with --session-key), or explain a signature.
    Sign(sign::SignArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Sign(args) => sign::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("openmidas: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
