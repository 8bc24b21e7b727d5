//! `openmidas sign`: sign a request exactly as the server verifies it.
//!
//! Midas v1 (`/cgi-bin/midas/*` and any other path):
//! - `--body JSON`: prints the body with `sig` (and `mp_sig` given `--session-key` and
//!   `--access-token`) added, ready to POST.
//! - `key=value ...`: signs those parameters (values as text).
//!
//! Virtual payment 2.0 (a `/wxa/game/*` path of the route table): `--body` is signed as the
//! exact bytes given. Prints the body unchanged and, on the next line, the query string
//! (`access_token`, `signature` with `--session-key`, `sig_method`, `pay_sig`).
//!
//! A client item purchase (`--uri requestMidasPaymentGameItem`, `--body` the signData):
//! prints signData unchanged, then `pay_sig=...` and, with `--session-key`, `signature=...`.
//!
//! `--explain` prints what each signature signs and the signatures, so a 90011 / 90009 (v1)
//! or a 90011 / 90010 (2.0) can be debugged by comparing them byte for byte with what a
//! client signed.

use anyhow::{bail, Context};
use clap::Args;
use openmidas_protocol::client::game_item::PAY_SIG_URI;
use openmidas_protocol::json::RawObject;
use openmidas_protocol::route::Route;
use openmidas_protocol::{sign, Dialect};
use serde_json::{Map, Value};

/// `Debug` hides the AppKey, the session_key and the access_token.
#[derive(Args)]
pub struct SignArgs {
    /// The AppKey of the environment (v1: the sandbox key for /sandbox/ paths; 2.0 and a
    /// client purchase: the sandbox key when the body's env is 1).
    #[arg(long, env = "OPENMIDAS_APP_KEY", hide_env_values = true)]
    app_key: String,
    /// The request path, which the signatures cover, e.g. /cgi-bin/midas/pay or
    /// /wxa/game/pay; or requestMidasPaymentGameItem to sign a client purchase's signData.
    #[arg(long)]
    uri: String,
    /// A JSON object body to sign. v1: printed back with sig (and mp_sig) added; 2.0 and a
    /// client purchase: signed as these exact bytes and printed unchanged.
    #[arg(long, conflicts_with = "params")]
    body: Option<String>,
    /// The player's session_key: also compute v1's mp_sig (needs --access-token), or 2.0's
    /// signature.
    #[arg(long, hide_env_values = true)]
    session_key: Option<String>,
    /// The access_token the request will carry in its query string (v1's mp_sig covers it;
    /// 2.0's signed output puts it in the query string).
    #[arg(long)]
    access_token: Option<String>,
    /// Print the canonical strings and signatures instead of the signed body.
    #[arg(long)]
    explain: bool,
    /// Parameters as key=value, when no --body is given.
    params: Vec<String>,
}

impl std::fmt::Debug for SignArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::config::hidden;
        f.debug_struct("SignArgs")
            .field("app_key", &"***")
            .field("uri", &self.uri)
            .field("body", &self.body)
            .field("session_key", &hidden(&self.session_key))
            .field("access_token", &hidden(&self.access_token))
            .field("explain", &self.explain)
            .field("params", &self.params)
            .finish()
    }
}

/// What a `--uri` is signed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    /// Midas v1: sorted parameters, `sig` and `mp_sig`.
    V1,
    /// Virtual payment 2.0: `pay_sig` and `signature` over the exact body bytes.
    V2,
    /// xpay: as 2.0, but its query has no `sig_method`.
    Xpay,
    /// A client item purchase: `pay_sig` and `signature` over signData.
    ClientPurchase,
}

fn scheme(uri: &str) -> anyhow::Result<Scheme> {
    if uri == PAY_SIG_URI || uri == openmidas_protocol::client::virtual_payment::PAY_SIG_URI {
        return Ok(Scheme::ClientPurchase);
    }
    if !uri.starts_with('/') {
        bail!(
            "--uri must be a path such as /cgi-bin/midas/getbalance, /wxa/game/pay or /xpay/currency_pay, or {PAY_SIG_URI} or {}",
            openmidas_protocol::client::virtual_payment::PAY_SIG_URI
        );
    }
    Ok(match Route::find(uri).map(Route::dialect) {
        Some(Dialect::V2) => Scheme::V2,
        Some(Dialect::Xpay) => Scheme::Xpay,
        // v1 paths, and any other path (v1 signing was never limited to the route table).
        Some(Dialect::V1) | None => Scheme::V1,
    })
}

pub fn run(args: SignArgs) -> anyhow::Result<()> {
    match scheme(&args.uri)? {
        Scheme::V1 => run_v1(args),
        scheme => run_v2(args, scheme),
    }
}

/// 2.0 and client purchases: the exact bytes of `--body`, unchanged.
fn run_v2(args: SignArgs, scheme: Scheme) -> anyhow::Result<()> {
    let what = match scheme {
        Scheme::ClientPurchase => "a client purchase signs its signData",
        _ => "2.0 signs the exact body bytes",
    };
    let Some(body) = &args.body else {
        bail!("{what}: give it as --body JSON (key=value parameters are v1's)");
    };
    // The server refuses anything else before checking a signature.
    RawObject::parse_any_size(body.as_bytes())
        .map_err(|e| anyhow::anyhow!("--body is not what the server takes: {}", e.errmsg()))?;
    let session_key = args.session_key.as_deref().filter(|s| !s.is_empty());
    let signed = sign::v2::sign(&args.uri, body, &args.app_key, session_key);

    if args.explain {
        println!("pay_sig_message: {}", signed.pay_sig_message);
        println!(
            "pay_sig:         {}    (HMAC-SHA256 keyed with the AppKey)",
            signed.pay_sig
        );
        if let Some(signature) = &signed.signature {
            println!("signature_message: {body}");
            println!("signature:         {signature}    (HMAC-SHA256 keyed with the session_key text)");
        }
        return Ok(());
    }
    if scheme == Scheme::ClientPurchase {
        println!("{body}");
        println!("pay_sig={}", signed.pay_sig);
        if let Some(signature) = &signed.signature {
            println!("signature={signature}");
        }
        return Ok(());
    }
    let Some(access_token) = args.access_token.as_deref() else {
        bail!(
            "2.0 output is the body and its query string, which carries the access_token: give \
             --access-token (or --explain to see the signatures alone)"
        );
    };
    if signed.signature.is_none() {
        eprintln!("openmidas: no --session-key: the query has no signature, which every 2.0 call needs");
    }
    println!("{body}");
    let query = signed.query(access_token);
    if scheme == Scheme::Xpay {
        // xpay's query is the same without sig_method.
        println!("{}", query.replace("&sig_method=hmac_sha256", ""));
    } else {
        println!("{query}");
    }
    Ok(())
}

/// Midas v1, through the one signer ([`sign::v1::sign_json`]): a `--body` is serialized,
/// signed over exactly those bytes and printed with `sig` (and `mp_sig`) appended;
/// key=value parameters are signed as the string values of a body.
fn run_v1(args: SignArgs) -> anyhow::Result<()> {
    if args.session_key.is_some() && args.access_token.is_none() {
        bail!("--session-key needs --access-token for v1: mp_sig covers the access_token");
    }
    let session = match (&args.session_key, &args.access_token) {
        (Some(session_key), Some(token)) => Some((token.as_str(), session_key.as_str())),
        _ => None,
    };
    let (body, from_params) = match &args.body {
        Some(text) => {
            let value: Value = serde_json::from_str(text).context("--body is not valid JSON")?;
            let Value::Object(mut map) = value else {
                bail!("--body must be a JSON object")
            };
            map.remove("sig");
            map.remove("mp_sig");
            (serde_json::to_string(&map)?, false)
        }
        None => {
            if args.params.is_empty() {
                bail!("give --body JSON or key=value parameters");
            }
            let mut map = Map::new();
            for param in &args.params {
                let (key, value) = param
                    .split_once('=')
                    .with_context(|| format!("parameter {param:?} is not key=value"))?;
                if map.insert(key.to_string(), Value::String(value.to_string())).is_some() {
                    bail!("parameter {key:?} is given twice");
                }
            }
            (serde_json::to_string(&map)?, true)
        }
    };
    let signed = sign::v1::sign_json(&body, &args.uri, &args.app_key, session)
        .map_err(|e| anyhow::anyhow!("cannot sign the body: {}", e.errmsg()))?;

    if args.explain {
        println!("sig_string: {}", signed.sig_string);
        println!("sig:        {}    (HMAC-SHA256 keyed with the AppKey)", signed.sig);
        if let Some((mp_string, mp_sig)) = &signed.mp {
            println!("mp_sig_string: {mp_string}");
            println!("mp_sig:        {mp_sig}    (HMAC-SHA256 keyed with the session_key text)");
        }
    } else if from_params {
        println!("sig={}", signed.sig);
        if let Some((_, mp_sig)) = &signed.mp {
            println!("mp_sig={mp_sig}");
        }
    } else {
        println!("{}", signed.body);
    }
    Ok(())
}
