//! `openmidas faults [add|delete]` (OpenMidas emulator): the fault rules of the server
//! (`/admin/faults`): answer an errcode instead of (or after) running a request, delay it,
//! or drop its connection. `openmidas requests` shows which request each one fired on.

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{ArgGroup, Args, Subcommand};
use openmidas_client::openmidas::{FaultListed, FaultMatch, FaultRule, FaultWhen, RouteFamily};
use serde_json::json;

use super::{block_on, table, AdminSettings};

#[derive(Args, Debug)]
pub struct FaultsArgs {
    #[command(flatten)]
    settings: AdminSettings,
    /// Without one: list the rules.
    #[command(subcommand)]
    action: Option<FaultsAction>,
}

#[derive(Subcommand, Debug)]
enum FaultsAction {
    /// Add a rule; it prints the rule's id.
    Add(AddArgs),
    /// Delete one rule by id, or --all.
    #[command(group(ArgGroup::new("which").required(true).args(["id", "all"])))]
    Delete {
        /// The rule's id (from `openmidas faults`).
        id: Option<u64>,
        /// Every rule.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("fault").required(true).multiple(true).args(["errcode", "delay_ms", "drop_connection"])))]
struct AddArgs {
    /// Only requests to this path, exactly (/wxa/game/pay).
    #[arg(long)]
    path: Option<String>,
    /// Only requests of this family: v1, v2, auth (token, stable_token, jscode2session) or
    /// client (the simulated player's purchases).
    #[arg(long, value_parser = family_parser())]
    dialect: Option<RouteFamily>,
    /// Only requests naming this app.
    #[arg(long)]
    appid: Option<String>,
    /// Only requests naming this player.
    #[arg(long)]
    openid: Option<String>,
    /// Answer this errcode (HTTP 200), e.g. -1.
    #[arg(long, allow_negative_numbers = true, conflicts_with = "drop_connection")]
    errcode: Option<i64>,
    /// The errmsg of that answer [default: the family's errmsg of the errcode].
    #[arg(long, requires = "errcode")]
    errmsg: Option<String>,
    /// before: answer instead of running the request (nothing changes); after: run it
    /// (its change is committed), then answer the fault instead of the real answer.
    #[arg(long, default_value = "before", value_parser = when_parser())]
    when: FaultWhen,
    /// Wait this long first (up to 60000); alone, it only delays the real answer.
    #[arg(long)]
    delay_ms: Option<u64>,
    /// Close the connection without an answer (with --when after: once the change is committed).
    #[arg(long)]
    drop_connection: bool,
    /// Fire at most this many times [default: unlimited].
    #[arg(long)]
    times: Option<u64>,
    /// The chance (0 to 1) that a matching request fires the rule.
    #[arg(long, default_value_t = 1.0)]
    probability: f64,
    /// Seeds the rule's draws: the same requests fire it again in the next run.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn family_parser() -> impl TypedValueParser<Value = RouteFamily> {
    let names = RouteFamily::MATCHABLE.map(RouteFamily::as_str);
    PossibleValuesParser::new(names).try_map(|name: String| {
        RouteFamily::parse_matchable(&name)
            .ok_or_else(|| format!("{name:?} is not a family: use v1, v2, auth or client"))
    })
}

fn when_parser() -> impl TypedValueParser<Value = FaultWhen> {
    PossibleValuesParser::new(["before", "after"]).map(|name: String| {
        if name == "after" {
            FaultWhen::After
        } else {
            FaultWhen::Before
        }
    })
}

impl AddArgs {
    fn rule(&self) -> FaultRule {
        FaultRule {
            matches: FaultMatch {
                dialect: self.dialect,
                path: self.path.clone(),
                appid: self.appid.clone(),
                openid: self.openid.clone(),
            },
            errcode: self.errcode,
            errmsg: self.errmsg.clone(),
            when: self.when,
            delay_ms: self.delay_ms.unwrap_or(0),
            drop_connection: self.drop_connection,
            times: self.times,
            probability: self.probability,
            seed: self.seed,
        }
    }
}

pub fn run(args: FaultsArgs) -> anyhow::Result<()> {
    let settings = args.settings.resolve()?;
    let admin = settings.admin()?;
    block_on(async {
        match args.action {
            None => {
                // A node holds at most 1000 rules: one page is all of them.
                let rules = admin
                    .faults(None, Some(1000))
                    .await
                    .map_err(|e| settings.failure("faults", e, None))?;
                settings.print(&json!({ "items": rules }), || list(&rules))
            }
            Some(FaultsAction::Add(add)) => {
                let rule = add.rule();
                let id = admin
                    .add_fault(&rule)
                    .await
                    .map_err(|e| settings.failure("faults add", e, None))?;
                settings.print(&json!({ "id": id }), || {
                    format!(
                        "added fault rule {id}: {} {}, on {}{}",
                        action(&rule),
                        when(&rule),
                        matches(&rule.matches),
                        limits(&rule)
                    )
                })
            }
            Some(FaultsAction::Delete { id: Some(id), .. }) => {
                admin
                    .delete_fault(id)
                    .await
                    .map_err(|e| settings.failure("faults delete", e, None))?;
                settings.print(&json!({ "deleted": id }), || format!("deleted fault rule {id}"))
            }
            Some(FaultsAction::Delete { id: None, .. }) => {
                admin
                    .delete_faults()
                    .await
                    .map_err(|e| settings.failure("faults delete --all", e, None))?;
                settings.print(&json!({ "deleted": "all" }), || "deleted every fault rule".to_string())
            }
        }
    })
}

fn list(rules: &[FaultListed]) -> String {
    if rules.is_empty() {
        return "no fault rules".into();
    }
    let rows: Vec<Vec<String>> = rules
        .iter()
        .map(|listed| {
            let rule = &listed.rule;
            vec![
                listed.id.to_string(),
                matches(&rule.matches),
                action(rule),
                if answers(rule) {
                    rule.when.as_str().to_string()
                } else {
                    "-".into()
                },
                listed.fired.to_string(),
                listed.remaining.map_or("unlimited".into(), |r| r.to_string()),
                chance(rule),
            ]
        })
        .collect();
    table(&["ID", "MATCH", "FAULT", "WHEN", "FIRED", "LEFT", "CHANCE"], &rows)
}

/// Whether the rule replaces the answer (not only delays it).
fn answers(rule: &FaultRule) -> bool {
    rule.errcode.is_some() || rule.drop_connection
}

/// `v2 /wxa/game/pay appid=wx1 openid=o1`, or `every request`.
fn matches(matches: &FaultMatch) -> String {
    if matches.is_any() {
        return "every request".into();
    }
    let mut parts = Vec::new();
    if let Some(family) = matches.dialect {
        parts.push(family.as_str().to_string());
    }
    if let Some(path) = &matches.path {
        parts.push(path.clone());
    }
    if let Some(appid) = &matches.appid {
        parts.push(format!("appid={appid}"));
    }
    if let Some(openid) = &matches.openid {
        parts.push(format!("openid={openid}"));
    }
    parts.join(" ")
}

/// `errcode -1 "system error"`, `drop the connection`, `delay 200 ms`, `... after 200 ms`.
fn action(rule: &FaultRule) -> String {
    let mut text = match (rule.errcode, rule.drop_connection) {
        (Some(code), _) => match &rule.errmsg {
            Some(errmsg) => format!("errcode {code} {errmsg:?}"),
            None => format!("errcode {code}"),
        },
        (None, true) => "drop the connection".into(),
        (None, false) => format!("delay {} ms", rule.delay_ms),
    };
    if answers(rule) && rule.delay_ms > 0 {
        text.push_str(&format!(" after {} ms", rule.delay_ms));
    }
    text
}

fn when(rule: &FaultRule) -> &'static str {
    match (answers(rule), rule.when) {
        (false, _) => "then answer normally",
        (true, FaultWhen::Before) => "instead of running the request",
        (true, FaultWhen::After) => "after running the request",
    }
}

/// `, once`, `, 3 times, chance 0.5 (seed 7)`.
fn limits(rule: &FaultRule) -> String {
    let mut text = match rule.times {
        None => String::new(),
        Some(1) => ", once".into(),
        Some(n) => format!(", {n} times"),
    };
    if rule.probability < 1.0 {
        text.push_str(&format!(", chance {}", chance(rule)));
    }
    text
}

fn chance(rule: &FaultRule) -> String {
    if rule.probability < 1.0 {
        format!("{} (seed {})", rule.probability, rule.seed)
    } else {
        "1".into()
    }
}
