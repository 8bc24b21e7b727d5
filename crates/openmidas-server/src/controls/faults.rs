//! Fault rules (behaviour.md section 13.2): `POST/GET/DELETE /admin/faults`, and the draw
//! each observed request makes ([`Faults::draw`]).
//!
//! Rules live in this node's memory. A request fires at most one rule: the first (lowest
//! id) that matches, has firings left and wins its draw. A rule's draws come from its own
//! generator seeded by `seed`, so the same rule meeting the same requests fires on the same
//! ones: a flaky test replays.

use std::collections::VecDeque;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::Json;
use openmidas_protocol::common::Code;
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::dialect::Dialect;
use super::emulator;
use super::page::{unknown_id, Page};
use crate::admin::{json_object, Fields};
use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// Most rules at once.
pub const MAX_RULES: usize = 1000;
/// Longest delay a rule may add.
pub const MAX_DELAY_MS: i64 = 60_000;
/// Most firings a rule may be given.
pub const MAX_TIMES: i64 = 1_000_000;
/// Longest `errmsg` and `path`, in bytes.
const MAX_TEXT_BYTES: usize = 512;
/// Longest `appid` and `openid`, in bytes.
const MAX_ID_BYTES: usize = 128;

/// When a rule's fault answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum When {
    /// Instead of running the request: nothing changes.
    Before,
    /// After the request ran and its change was committed.
    After,
}

/// What a rule matches; `None` matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Match {
    pub dialect: Option<Dialect>,
    pub path: Option<String>,
    pub appid: Option<String>,
    pub openid: Option<String>,
}

/// What a request shows of itself to the rules.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub dialect: Dialect,
    pub path: &'a str,
    pub appid: Option<&'a str>,
    pub openid: Option<&'a str>,
}

impl Match {
    fn matches(&self, s: &Subject<'_>) -> bool {
        let same = |want: &Option<String>, have: Option<&str>| want.as_deref().is_none_or(|w| Some(w) == have);
        // A delivery is no request: only rules naming dialect "push" fire on it.
        let dialect = match self.dialect {
            None => s.dialect != Dialect::Push,
            Some(d) => d == s.dialect,
        };
        dialect && same(&self.path, Some(s.path)) && same(&self.appid, s.appid) && same(&self.openid, s.openid)
    }
}

/// A rule as listed.
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    pub id: u64,
    #[serde(rename = "match")]
    pub matches: Match,
    pub errcode: Option<i64>,
    pub errmsg: Option<String>,
    pub when: When,
    pub delay_ms: u64,
    pub drop_connection: bool,
    pub times: Option<u64>,
    pub probability: f64,
    pub seed: u64,
    pub fired: u64,
    pub remaining: Option<u64>,
    /// The rule's generator (SplitMix64): its state after the draws so far.
    #[serde(skip)]
    draws: u64,
}

/// What fires on one request.
#[derive(Debug, Clone)]
pub struct Firing {
    pub rule: u64,
    pub when: When,
    pub errcode: Option<i64>,
    pub errmsg: Option<String>,
    pub delay_ms: u64,
    pub drop_connection: bool,
}

impl Firing {
    /// Whether it replaces the answer (an error or a dropped connection), not only delays it.
    pub fn answers(&self) -> bool {
        self.errcode.is_some() || self.drop_connection
    }
}

/// SplitMix64: small, seedable, and the same on every platform.
fn next_draw(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    // The top 53 bits as a fraction in [0, 1).
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// This node's rules.
#[derive(Default)]
pub struct Faults {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    rules: VecDeque<Rule>,
    next_id: u64,
}

impl Faults {
    /// The rule that fires on this request, if any; counts the firing.
    pub fn draw(&self, subject: &Subject<'_>) -> Option<Firing> {
        let mut inner = self.inner.lock();
        for rule in inner.rules.iter_mut() {
            if rule.remaining == Some(0) || !rule.matches.matches(subject) {
                continue;
            }
            if rule.probability < 1.0 && next_draw(&mut rule.draws) >= rule.probability {
                continue;
            }
            rule.fired += 1;
            rule.remaining = rule.remaining.map(|r| r - 1);
            return Some(Firing {
                rule: rule.id,
                when: rule.when,
                errcode: rule.errcode,
                errmsg: rule.errmsg.clone(),
                delay_ms: rule.delay_ms,
                drop_connection: rule.drop_connection,
            });
        }
        None
    }

    /// Whether any rule exists (a request then works out what it names).
    pub fn is_empty(&self) -> bool {
        self.inner.lock().rules.is_empty()
    }

    pub(crate) fn add(&self, mut rule: Rule) -> Result<u64, ApiError> {
        let mut inner = self.inner.lock();
        if inner.rules.len() >= MAX_RULES {
            return Err(ApiError::msg(
                Code::InvalidArgs,
                format!("invalid args: at most {MAX_RULES} fault rules; delete some first"),
            ));
        }
        inner.next_id += 1;
        rule.id = inner.next_id;
        inner.rules.push_back(rule);
        Ok(inner.next_id)
    }

    pub(crate) fn list(&self, after_id: u64, limit: usize) -> Vec<Rule> {
        let inner = self.inner.lock();
        inner
            .rules
            .iter()
            .filter(|r| r.id > after_id)
            .take(limit)
            .cloned()
            .collect()
    }

    pub(crate) fn remove(&self, id: u64) -> bool {
        let mut inner = self.inner.lock();
        let before = inner.rules.len();
        inner.rules.retain(|r| r.id != id);
        inner.rules.len() != before
    }

    fn clear(&self) {
        self.inner.lock().rules.clear();
    }
}

/// A rule from `POST /admin/faults`.
pub(crate) fn parse_rule(map: &Map<String, Value>) -> ApiResult<Rule> {
    let fields = Fields {
        map,
        invalid: Code::InvalidArgs,
    };
    const KNOWN: [&str; 9] = [
        "match",
        "errcode",
        "errmsg",
        "when",
        "delay_ms",
        "drop_connection",
        "times",
        "probability",
        "seed",
    ];
    if let Some(unknown) = map.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(fields.problem(unknown, "is not a field of a fault rule"));
    }
    let matches = match map.get("match") {
        None | Some(Value::Null) => Match::default(),
        Some(Value::Object(m)) => parse_match(m)?,
        Some(_) => return Err(fields.problem("match", "must be an object")),
    };
    let errcode = fields.integer("errcode", i64::from(i32::MIN), i64::from(i32::MAX))?;
    if errcode == Some(0) {
        return Err(fields.problem("errcode", "must not be 0 (a rule with only delay_ms answers normally)"));
    }
    let errmsg = fields.text("errmsg", MAX_TEXT_BYTES)?.map(str::to_string);
    let when = match fields.text("when", 16)? {
        None | Some("before") => When::Before,
        Some("after") => When::After,
        Some(_) => return Err(fields.problem("when", "must be \"before\" or \"after\"")),
    };
    let delay_ms = fields.integer("delay_ms", 0, MAX_DELAY_MS)?.unwrap_or(0) as u64;
    let drop_connection = fields.boolean("drop_connection")?.unwrap_or(false);
    if drop_connection && errcode.is_some() {
        return Err(fields.problem(
            "drop_connection",
            "excludes errcode: a dropped connection answers nothing",
        ));
    }
    if errmsg.is_some() && errcode.is_none() {
        return Err(fields.problem("errmsg", "needs errcode"));
    }
    if errcode.is_none() && !drop_connection && delay_ms == 0 {
        return Err(ApiError::msg(
            Code::InvalidArgs,
            "invalid args: a fault rule needs errcode, delay_ms or drop_connection",
        ));
    }
    let times = fields.integer("times", 1, MAX_TIMES)?.map(|t| t as u64);
    let probability = match map.get("probability") {
        None | Some(Value::Null) => 1.0,
        Some(Value::Number(n)) => match n.as_f64() {
            Some(p) if (0.0..=1.0).contains(&p) => p,
            _ => return Err(fields.problem("probability", "must be a number from 0 to 1")),
        },
        Some(_) => return Err(fields.problem("probability", "must be a number from 0 to 1")),
    };
    let seed = match map.get("seed") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| fields.problem("seed", "must be an integer from 0 to 18446744073709551615"))?,
        Some(_) => return Err(fields.problem("seed", "must be an integer from 0 to 18446744073709551615")),
    };
    Ok(Rule {
        id: 0,
        matches,
        errcode,
        errmsg,
        when,
        delay_ms,
        drop_connection,
        times,
        probability,
        seed,
        fired: 0,
        remaining: times,
        draws: seed,
    })
}

fn parse_match(map: &Map<String, Value>) -> ApiResult<Match> {
    let fields = Fields {
        map,
        invalid: Code::InvalidArgs,
    };
    if let Some(unknown) = map
        .keys()
        .find(|k| !["dialect", "path", "appid", "openid"].contains(&k.as_str()))
    {
        return Err(fields.problem(
            &format!("match.{unknown}"),
            "is not a match key (dialect, path, appid, openid)",
        ));
    }
    let dialect = match fields.text("dialect", 16)? {
        None => None,
        Some(name) => Some(Dialect::parse(name).ok_or_else(|| {
            fields.problem(
                "match.dialect",
                "must be \"v1\", \"v2\", \"xpay\", \"auth\", \"client\" or \"push\"",
            )
        })?),
    };
    let path = fields.text("path", MAX_TEXT_BYTES)?.map(str::to_string);
    if path.as_deref().is_some_and(|p| !p.starts_with('/')) {
        return Err(fields.problem("match.path", "must start with /"));
    }
    Ok(Match {
        dialect,
        path,
        appid: fields.text("appid", MAX_ID_BYTES)?.map(str::to_string),
        openid: fields.text("openid", MAX_ID_BYTES)?.map(str::to_string),
    })
}

pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Body) -> ApiResult<Json<Value>> {
    let emulator = emulator(&state, &headers)?;
    let map = json_object(body).await?;
    let rule = parse_rule(&map)?;
    let id = emulator.faults.add(rule)?;
    tracing::info!(id, "fault rule added");
    Ok(Json(json!({"errcode": 0, "errmsg": "ok", "id": id})))
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let emulator = emulator(&state, &headers)?;
    let page = Page::parse(query.as_deref())?;
    let after_id = match page.after_id.as_deref() {
        None => 0,
        Some(text) => text
            .parse::<u64>()
            .map_err(|_| ApiError::msg(Code::InvalidArgs, "[after_id] after_id must be a fault rule id"))?,
    };
    let items = emulator.faults.list(after_id, page.limit);
    Ok(Json(json!({"errcode": 0, "errmsg": "ok", "items": items})))
}

pub async fn delete_one(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let emulator = emulator(&state, &headers)?;
    let removed = id.parse::<u64>().is_ok_and(|id| emulator.faults.remove(id));
    if !removed {
        return Err(unknown_id("fault rule", &id));
    }
    Ok(Json(json!({"errcode": 0, "errmsg": "ok"})))
}

pub async fn delete_all(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let emulator = emulator(&state, &headers)?;
    emulator.faults.clear();
    Ok(Json(json!({"errcode": 0, "errmsg": "ok"})))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(json: Value) -> ApiResult<Rule> {
        parse_rule(json.as_object().unwrap())
    }

    const PAY: Subject<'static> = Subject {
        dialect: Dialect::V2,
        path: "/wxa/game/pay",
        appid: Some("wx1"),
        openid: Some("o1"),
    };

    #[test]
    fn the_same_seed_fires_on_the_same_requests() {
        let fired = |seed: u64| {
            let faults = Faults::default();
            faults
                .add(rule(json!({"errcode": -1, "probability": 0.3, "seed": seed})).unwrap())
                .unwrap();
            (0..200).map(|_| faults.draw(&PAY).is_some()).collect::<Vec<bool>>()
        };
        assert_eq!(fired(7), fired(7));
        assert_ne!(fired(7), fired(8));
        let count = fired(7).iter().filter(|f| **f).count();
        assert!((30..=90).contains(&count), "about 30% of 200, got {count}");
    }

    #[test]
    fn first_matching_rule_with_firings_left_fires() {
        let faults = Faults::default();
        let other = rule(json!({"match": {"path": "/wxa/game/present"}, "errcode": 1})).unwrap();
        faults.add(other).unwrap();
        let once = rule(json!({"match": {"dialect": "v2", "openid": "o1"}, "errcode": 2, "times": 1})).unwrap();
        faults.add(once).unwrap();
        faults.add(rule(json!({"errcode": 3})).unwrap()).unwrap();
        assert_eq!(faults.draw(&PAY).unwrap().errcode, Some(2));
        assert_eq!(faults.draw(&PAY).unwrap().errcode, Some(3));
        let listed = faults.list(0, 10);
        assert_eq!(
            (listed[1].fired, listed[1].remaining),
            (1, Some(0)),
            "used-up rules stay listed"
        );
    }

    #[test]
    fn bad_rules_name_the_field() {
        let problem = |v: Value| rule(v).unwrap_err().errmsg.into_owned();
        assert_eq!(
            problem(json!({"errcode": 0})),
            "[errcode] errcode must not be 0 (a rule with only delay_ms answers normally)"
        );
        assert_eq!(
            problem(json!({"errcode": -1, "drop_connection": true})),
            "[drop_connection] drop_connection excludes errcode: a dropped connection answers nothing"
        );
        assert_eq!(
            problem(json!({"match": {"dialect": "v3"}, "errcode": -1})),
            "[match.dialect] match.dialect must be \"v1\", \"v2\", \"xpay\", \"auth\", \"client\" or \"push\""
        );
        assert_eq!(
            problem(json!({})),
            "invalid args: a fault rule needs errcode, delay_ms or drop_connection"
        );
        assert_eq!(
            problem(json!({"errcode": -1, "probability": 1.5})),
            "[probability] probability must be a number from 0 to 1"
        );
    }
}
