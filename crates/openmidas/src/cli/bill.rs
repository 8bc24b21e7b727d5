//! `openmidas bill`: xpay's `download_bill`, then its CSV. The first call for a range answers
//! 268490011 (being generated, behaviour.md section 10.2): the command waits a second and
//! asks again, up to `--wait-secs`, then downloads the link's CSV to stdout or `--output`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use openmidas_client::xpay::{self, Bill};
use serde::Serialize;

use super::{block_on, env_of, Settings};

#[derive(Args, Debug)]
pub struct BillArgs {
    #[command(flatten)]
    settings: Settings,
    /// The first day, yyyymmdd (China time).
    #[arg(long, value_name = "YYYYMMDD", allow_negative_numbers = true)]
    begin: i64,
    /// The last day, included (at most 31 days after --begin's).
    #[arg(long, value_name = "YYYYMMDD", allow_negative_numbers = true)]
    end: i64,
    /// Write the CSV to this file instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// The sandbox's bill (env 1, signed with the sandbox AppKey).
    #[arg(long)]
    sandbox: bool,
    /// How long to keep asking while the bill is being generated.
    #[arg(long, default_value_t = 30)]
    wait_secs: u64,
}

/// What `--json` prints: the link and how many rows; the CSV itself when no `--output`.
#[derive(Serialize)]
struct Downloaded<'a> {
    url: &'a str,
    rows: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    csv: Option<&'a str>,
}

/// How long between two calls while the bill is being generated.
const POLL: Duration = Duration::from_secs(1);

pub fn run(args: BillArgs) -> anyhow::Result<()> {
    let range = xpay::bill_range(args.begin, args.end).map_err(|e| anyhow::anyhow!("bill: {e}"))?;
    let env = env_of(args.sandbox);
    let settings = args.settings.resolve()?;
    let client = settings.xpay_client()?;
    block_on(async {
        let xpay = client.xpay();
        let started = Instant::now();
        let link = loop {
            match xpay
                .download_bill(env, range)
                .await
                .map_err(|e| settings.xpay_failure("bill", e, None))?
            {
                Bill::Ready(link) => break link,
                Bill::Generating if started.elapsed() + POLL <= Duration::from_secs(args.wait_secs) => {
                    tokio::time::sleep(POLL).await;
                }
                Bill::Generating => anyhow::bail!(
                    "bill: the bill of {} to {} ({}) is still being generated after {} s (268490011): run the \
                     command again later",
                    args.begin,
                    args.end,
                    env.as_str(),
                    args.wait_secs
                ),
            }
        };
        let csv = xpay
            .download_bill_csv(&link)
            .await
            .map_err(|e| settings.xpay_failure("bill (downloading its CSV)", e, None))?;
        let rows = csv.lines().count().saturating_sub(1);
        match &args.output {
            Some(path) => {
                std::fs::write(path, &csv).with_context(|| format!("cannot write {}", path.display()))?;
                let shown = Downloaded {
                    url: &link.url,
                    rows,
                    output: Some(path.display().to_string()),
                    csv: None,
                };
                settings.print(&shown, || {
                    format!(
                        "wrote the bill of {} to {} ({}) to {}: {rows} rows",
                        args.begin,
                        args.end,
                        env.as_str(),
                        path.display()
                    )
                })
            }
            None if settings.json => {
                let shown = Downloaded {
                    url: &link.url,
                    rows,
                    output: None,
                    csv: Some(&csv),
                };
                settings.print(&shown, String::new)
            }
            None => {
                // The CSV alone on stdout, to pipe it.
                print!("{csv}");
                Ok(())
            }
        }
    })
}
