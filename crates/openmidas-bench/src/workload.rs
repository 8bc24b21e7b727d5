//! What the generator sends: the workloads, provisioning, and pre-signed requests.

use std::fmt;
use std::str::FromStr;

use anyhow::{bail, Context};
use bytes::Bytes;
use openmidas_protocol::sign;
use serde_json::{json, Value};

use crate::load::Target;
use crate::load::{admin_many, one_request, Prepared};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// `GET /healthz`: a fixed JSON answer through the same stack. The HTTP ceiling.
    Ceiling,
    GetBalance,
    /// Durable pays, each with a fresh bill_no.
    Pay,
    Present,
    /// 80% getbalance, 15% pay, 4% present, 1% cancelpay.
    Mixed,
}

impl FromStr for Workload {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        Ok(match s {
            "ceiling" => Workload::Ceiling,
            "getbalance" => Workload::GetBalance,
            "pay" => Workload::Pay,
            "present" => Workload::Present,
            "mixed" => Workload::Mixed,
            other => bail!("unknown workload {other:?} (ceiling, getbalance, pay, present, mixed)"),
        })
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Workload::Ceiling => "ceiling",
            Workload::GetBalance => "getbalance",
            Workload::Pay => "pay",
            Workload::Present => "present",
            Workload::Mixed => "mixed",
        })
    }
}

const APPID: &str = "wxbench00000001";
const SECRET: &str = "bench-secret-0123456789abcdef012";
const OFFER_ID: &str = "1450099999";
const APP_KEY: &str = "benchAppKeyzNLgAGgqsEWJOg1nFVaO5r";
/// Coins each account starts with: enough for any run.
const FUNDS: i64 = 1_000_000_000;

/// The app, its token and funded accounts on the target.
pub struct Provisioned {
    access_token: String,
    accounts: Vec<String>,
    ts: i64,
    /// Distinguishes the bill_nos of one presign call from every other.
    run_id: std::cell::Cell<u64>,
    /// One signed getbalance body per account (reads can be sent again).
    balance_bodies: Vec<Bytes>,
}

async fn admin(target: &Target, path: &str, body: Value) -> anyhow::Result<Value> {
    let auth = format!("Bearer {}", target.admin_token);
    let (status, bytes) = one_request(target.addr, "POST", path, Some(&auth), Bytes::from(body.to_string())).await?;
    let value: Value = serde_json::from_slice(&bytes).with_context(|| format!("{path} answered {status}"))?;
    if value["errcode"] != 0 {
        bail!("{path} failed: {value}");
    }
    Ok(value)
}

impl Provisioned {
    pub async fn setup(target: &Target, accounts: usize) -> anyhow::Result<Provisioned> {
        admin(
            target,
            "/admin/apps",
            json!({"appid": APPID, "secret": SECRET, "offer_id": OFFER_ID, "app_key": APP_KEY, "sandbox_app_key": APP_KEY}),
        )
        .await?;
        let query = format!("/cgi-bin/token?grant_type=client_credential&appid={APPID}&secret={SECRET}");
        let (_, bytes) = one_request(target.addr, "GET", &query, None, Bytes::new()).await?;
        let answer: Value = serde_json::from_slice(&bytes)?;
        let access_token = answer["access_token"].as_str().context("no access_token")?.to_string();
        let names: Vec<String> = (0..accounts).map(|i| format!("bench-{i}")).collect();
        let started = std::time::Instant::now();
        let bodies: Vec<Bytes> = names
            .iter()
            .map(|name| {
                let recharge = json!({"appid": APPID, "openid": name, "env": "official", "buy_quantity": FUNDS});
                Bytes::from(recharge.to_string())
            })
            .collect();
        let auth = format!("Bearer {}", target.admin_token);
        admin_many(target.addr, &auth, "/admin/recharge", bodies, 32).await?;
        eprintln!(
            "provisioned {} accounts in {:.1} s",
            names.len(),
            started.elapsed().as_secs_f64()
        );
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs() as i64;
        let mut provisioned = Provisioned {
            access_token,
            accounts: names,
            ts,
            run_id: std::cell::Cell::new(0),
            balance_bodies: Vec::new(),
        };
        provisioned.balance_bodies = provisioned
            .accounts
            .iter()
            .map(|a| provisioned.signed("/cgi-bin/midas/getbalance", a, &[]))
            .collect();
        Ok(provisioned)
    }

    fn signed(&self, uri: &str, openid: &str, extra: &[(&str, Value)]) -> Bytes {
        let mut fields = serde_json::Map::new();
        fields.insert("appid".into(), json!(APPID));
        fields.insert("offer_id".into(), json!(OFFER_ID));
        fields.insert("openid".into(), json!(openid));
        fields.insert("pf".into(), json!("android"));
        fields.insert("ts".into(), json!(self.ts));
        fields.insert("zone_id".into(), json!("1"));
        for (k, v) in extra {
            fields.insert((*k).into(), v.clone());
        }
        // Signed by the one signer, over exactly the bytes sent.
        let body = Value::Object(fields).to_string();
        match sign::v1::sign_json(&body, uri, APP_KEY, None) {
            Ok(signed) => Bytes::from(signed.body),
            // The body was just serialized from a map: always an object.
            Err(e) => unreachable!("a serialized map is a JSON object: {}", e.errmsg()),
        }
    }

    fn path(&self, uri: &str) -> Bytes {
        Bytes::from(format!("{uri}?access_token={}", self.access_token))
    }

    /// Requests for each connection, signed now. Unique orders get bill_nos never used before.
    pub fn presign(&self, workload: Workload, connections: usize, budget: usize) -> Vec<Vec<Prepared>> {
        let run = self.run_id.get();
        self.run_id.set(run + 1);
        let per_connection = (budget / connections).max(1);
        let getbalance_path = self.path("/cgi-bin/midas/getbalance");
        let pay_path = self.path("/cgi-bin/midas/pay");
        let present_path = self.path("/cgi-bin/midas/present");
        let cancel_path = self.path("/cgi-bin/midas/cancelpay");
        let balance_bodies = &self.balance_bodies;
        let ceiling = Prepared {
            method: "GET",
            path: Bytes::from_static(b"/healthz"),
            body: Bytes::new(),
        };

        let mut all = Vec::with_capacity(connections);
        for c in 0..connections {
            let mut seed = (c as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ run;
            let mut next = move || {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed
            };
            let mut pays: Vec<(usize, String)> = Vec::new();
            let count = match workload {
                Workload::Ceiling | Workload::GetBalance => per_connection.min(self.accounts.len().max(1) * 4),
                _ => per_connection,
            };
            let mut requests = Vec::with_capacity(count);
            for i in 0..count {
                let account = (c + i * connections) % self.accounts.len();
                let openid = &self.accounts[account];
                let bill_no = format!("r{run}c{c}n{i}");
                let roll = next() % 100;
                let kind = match workload {
                    Workload::Ceiling => 'h',
                    Workload::GetBalance => 'g',
                    Workload::Pay => 'p',
                    Workload::Present => 'r',
                    Workload::Mixed if roll < 80 => 'g',
                    Workload::Mixed if roll < 95 => 'p',
                    Workload::Mixed if roll < 99 => 'r',
                    Workload::Mixed => 'c',
                };
                let prepared = match kind {
                    'h' => ceiling.clone(),
                    'g' => Prepared {
                        method: "POST",
                        path: getbalance_path.clone(),
                        body: balance_bodies[account].clone(),
                    },
                    'p' => {
                        pays.push((account, bill_no.clone()));
                        let body = self.signed(
                            "/cgi-bin/midas/pay",
                            openid,
                            &[("amt", json!(1)), ("bill_no", json!(bill_no))],
                        );
                        Prepared {
                            method: "POST",
                            path: pay_path.clone(),
                            body,
                        }
                    }
                    'r' => {
                        let extra = [("present_counts", json!(1)), ("bill_no", json!(bill_no))];
                        Prepared {
                            method: "POST",
                            path: present_path.clone(),
                            body: self.signed("/cgi-bin/midas/present", openid, &extra),
                        }
                    }
                    _ => match pays.pop() {
                        // Cancel a pay this connection sent earlier (it has been answered).
                        Some((account, bill)) => {
                            let body = self.signed(
                                "/cgi-bin/midas/cancelpay",
                                &self.accounts[account],
                                &[("bill_no", json!(bill))],
                            );
                            Prepared {
                                method: "POST",
                                path: cancel_path.clone(),
                                body,
                            }
                        }
                        None => Prepared {
                            method: "POST",
                            path: getbalance_path.clone(),
                            body: balance_bodies[account].clone(),
                        },
                    },
                };
                requests.push(prepared);
            }
            all.push(requests);
        }
        all
    }

    /// Whether a workload's requests may be sent again (reads), or are single-use.
    pub fn reusable(workload: Workload) -> bool {
        matches!(workload, Workload::Ceiling | Workload::GetBalance)
    }
}
