//! `openmidas sign`: sign a Midas v1 request exactly as the server verifies it.
//!
//! - `--body JSON`: prints the body with `sig` (and `mp_sig` given `--session-key` and
//!   `--access-token`) added, ready to POST.
//! - `key=value ...`: signs those parameters (values as text).
//!
//! `--explain` prints the canonical strings and the signatures, so a 90011 / 90009 can be
//! debugged by comparing them byte for byte with what a client signed.

use anyhow::{bail, Context};
use clap::Args;
use openmidas_protocol::json::{signing_text, RawObject};
use openmidas_protocol::sign;
use serde_json::{Map, Value};

#[derive(Args, Debug)]
pub struct SignArgs {
    /// The Midas AppKey of the environment (the sandbox key for /sandbox/ paths).
    #[arg(long, env = "OPENMIDAS_APP_KEY", hide_env_values = true)]
    app_key: String,
    /// The request path, which both signatures cover, e.g. /cgi-bin/midas/pay.
    #[arg(long)]
    uri: String,
    /// A JSON object body to sign; printed back with sig (and mp_sig) added.
    #[arg(long, conflicts_with = "params")]
    body: Option<String>,
    /// The player's session_key: also compute mp_sig (needs --access-token).
    #[arg(long, requires = "access_token", hide_env_values = true)]
    session_key: Option<String>,
    /// The access_token the request will carry in its query string (mp_sig covers it).
    #[arg(long)]
    access_token: Option<String>,
    /// Print the canonical strings and signatures instead of the signed body.
    #[arg(long)]
    explain: bool,
    /// Parameters as key=value, when no --body is given.
    params: Vec<String>,
}

/// `(key, signing text)` pairs.
type Params = Vec<(String, String)>;

pub fn run(args: SignArgs) -> anyhow::Result<()> {
    if !args.uri.starts_with('/') {
        bail!("--uri must be a path such as /cgi-bin/midas/getbalance");
    }
    let (mut body, params): (Option<Map<String, Value>>, Params) = match &args.body {
        Some(text) => {
            let value: Value = serde_json::from_str(text).context("--body is not valid JSON")?;
            let Value::Object(mut map) = value else {
                bail!("--body must be a JSON object")
            };
            map.remove("sig");
            map.remove("mp_sig");
            // Sign the bytes that will be sent: serialize first, then read them back.
            let sent = serde_json::to_vec(&map)?;
            let object = RawObject::parse(&sent).map_err(|e| anyhow::anyhow!(e.errmsg()))?;
            let params = object
                .iter()
                .map(|(k, raw)| (k.to_string(), signing_text(raw).into_owned()))
                .collect();
            (Some(map), params)
        }
        None => {
            if args.params.is_empty() {
                bail!("give --body JSON or key=value parameters");
            }
            let params = args
                .params
                .iter()
                .map(|p| {
                    p.split_once('=')
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .with_context(|| format!("parameter {p:?} is not key=value"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            (None, params)
        }
    };
    let pairs = || params.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let sig_string = sign::v1::sig_string(pairs(), &args.uri, &args.app_key);
    let sig = sign::v1::sig(pairs(), &args.uri, &args.app_key);
    let mp = match (&args.session_key, &args.access_token) {
        (Some(session_key), Some(token)) => Some((
            sign::v1::mp_sig_string(pairs(), token, &sig, &args.uri, session_key),
            sign::v1::mp_sig(pairs(), token, &sig, &args.uri, session_key),
        )),
        _ => None,
    };

    if args.explain {
        println!("sig_string: {sig_string}");
        println!("sig:        {sig}    (HMAC-SHA256 keyed with the AppKey)");
        if let Some((mp_string, mp_sig)) = &mp {
            println!("mp_sig_string: {mp_string}");
            println!("mp_sig:        {mp_sig}    (HMAC-SHA256 keyed with the session_key text)");
        }
        return Ok(());
    }
    match body.as_mut() {
        Some(map) => {
            map.insert("sig".into(), Value::String(sig));
            if let Some((_, mp_sig)) = mp {
                map.insert("mp_sig".into(), Value::String(mp_sig));
            }
            println!("{}", serde_json::to_string(map)?);
        }
        None => {
            println!("sig={sig}");
            if let Some((_, mp_sig)) = mp {
                println!("mp_sig={mp_sig}");
            }
        }
    }
    Ok(())
}
