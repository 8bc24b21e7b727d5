//! The request log (behaviour.md section 13.3): this node's recent requests to WeChat and
//! simulated client routes, bounded by count and bytes, and `GET /admin/requests`.
//!
//! Entries are written by [`crate::observe`] once the answer is known, already masked:
//! nothing here ever sees a secret.

use std::collections::VecDeque;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::Json;
use openmidas_protocol::common::Code;
use openmidas_protocol::diagnose::Diagnosis;
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{json, Value};

use super::dialect::Dialect;
use super::emulator;
use super::faults::When;
use super::page::{unknown_id, Page, MAX_PAGE};
use crate::error::{ApiError, ApiResult};
use crate::pipeline::{query_pairs, query_param};
use crate::AppState;

/// Default bounds: 10,000 entries, 64 MiB.
pub const DEFAULT_MAX_ENTRIES: usize = 10_000;
pub const DEFAULT_MAX_BYTES: usize = 64 << 20;

/// What a fault did to a request.
#[derive(Debug, Clone, Serialize)]
pub struct FaultNote {
    pub id: u64,
    pub when: When,
    pub errcode: Option<i64>,
    pub delay_ms: u64,
    pub drop_connection: bool,
    /// The answer an `after` fault kept from the client (masked like `answer`).
    pub replaced_answer: Option<String>,
}

/// One request, as the client sent it and as it was answered (secrets masked).
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: String,
    pub time_ms: i64,
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: String,
    pub status: Option<u16>,
    pub answer: String,
    pub errcode: Option<i64>,
    pub latency_us: u64,
    pub dialect: Dialect,
    pub appid: Option<String>,
    pub openid: Option<String>,
    pub diagnosis: Option<Diagnosis>,
    pub fault: Option<FaultNote>,
}

impl Entry {
    /// What the entry costs against the byte bound: its texts, plus a fixed overhead.
    fn size(&self) -> usize {
        let diagnosis = self.diagnosis.as_ref().map_or(0, |d| {
            d.signed.len()
                + d.key.len()
                + d.expected.len()
                + d.received.len()
                + d.hint.len()
                + d.likely_cause.as_ref().map_or(0, String::len)
        });
        let fault = self
            .fault
            .as_ref()
            .and_then(|f| f.replaced_answer.as_ref())
            .map_or(0, String::len);
        256 + self.id.len()
            + self.method.len()
            + self.path.len()
            + self.query.len()
            + self.body.len()
            + self.answer.len()
            + self.appid.as_ref().map_or(0, String::len)
            + self.openid.as_ref().map_or(0, String::len)
            + diagnosis
            + fault
    }
}

/// A bounded log, oldest first.
pub struct RequestLog {
    inner: Mutex<Inner>,
    max_entries: usize,
    max_bytes: usize,
}

struct Inner {
    entries: VecDeque<Arc<Entry>>,
    bytes: usize,
}

/// Which entries a list shows.
#[derive(Debug, Default)]
pub struct Filter {
    pub appid: Option<String>,
    pub openid: Option<String>,
    pub errcode: Option<i64>,
}

impl Filter {
    fn keeps(&self, e: &Entry) -> bool {
        let same = |want: &Option<String>, have: &Option<String>| want.is_none() || want == have;
        same(&self.appid, &e.appid)
            && same(&self.openid, &e.openid)
            && self.errcode.is_none_or(|c| e.errcode == Some(c))
    }
}

impl RequestLog {
    pub fn new(max_entries: usize, max_bytes: usize) -> RequestLog {
        assert!(max_entries > 0 && max_bytes > 0, "the request log needs room");
        RequestLog {
            inner: Mutex::new(Inner {
                entries: VecDeque::new(),
                bytes: 0,
            }),
            max_entries,
            max_bytes,
        }
    }

    /// Appends an entry, dropping the oldest ones past either bound.
    pub fn push(&self, entry: Entry) {
        let size = entry.size();
        let mut inner = self.inner.lock();
        inner.entries.push_back(Arc::new(entry));
        inner.bytes += size;
        while inner.entries.len() > self.max_entries || (inner.bytes > self.max_bytes && inner.entries.len() > 1) {
            if let Some(old) = inner.entries.pop_front() {
                inner.bytes -= old.size();
            }
        }
    }

    /// How many entries, and how many bytes they count for.
    pub fn usage(&self) -> (usize, usize) {
        let inner = self.inner.lock();
        (inner.entries.len(), inner.bytes)
    }

    pub fn get(&self, id: &str) -> Option<Arc<Entry>> {
        self.inner.lock().entries.iter().rev().find(|e| e.id == id).cloned()
    }

    /// Entries logged after `after_id` that pass `filter`, oldest first. An `after_id` no
    /// longer in the log (dropped by the bound, or by a reset) is placed by its counter,
    /// when it is one of this process's ids; `None` when it is none of this node's.
    pub fn list(&self, filter: &Filter, after_id: Option<&str>, limit: usize) -> Option<Vec<Arc<Entry>>> {
        let inner = self.inner.lock();
        let start = match after_id {
            None => 0,
            Some(id) => match inner.entries.iter().rposition(|e| e.id == id) {
                Some(position) => position + 1,
                None => {
                    let counter = crate::pipeline::counter_of_own_id(id)?;
                    inner
                        .entries
                        .iter()
                        .position(|e| crate::pipeline::counter_of_own_id(&e.id).is_some_and(|c| c > counter))
                        .unwrap_or(inner.entries.len())
                }
            },
        };
        Some(
            inner
                .entries
                .iter()
                .skip(start)
                .filter(|e| filter.keeps(e))
                .take(limit)
                .cloned()
                .collect(),
        )
    }

    /// The newest `n` entries that pass `filter`, oldest first.
    pub fn last(&self, filter: &Filter, n: usize) -> Vec<Arc<Entry>> {
        let inner = self.inner.lock();
        let mut newest: Vec<Arc<Entry>> = inner
            .entries
            .iter()
            .rev()
            .filter(|e| filter.keeps(e))
            .take(n)
            .cloned()
            .collect();
        newest.reverse();
        newest
    }

    /// Forgets the entries of one app, or all.
    pub fn clear(&self, appid: Option<&str>) {
        let mut inner = self.inner.lock();
        match appid {
            None => {
                inner.entries.clear();
                inner.bytes = 0;
            }
            Some(appid) => {
                inner.entries.retain(|e| e.appid.as_deref() != Some(appid));
                inner.bytes = inner.entries.iter().map(|e| e.size()).sum();
            }
        }
    }
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let emulator = emulator(&state, &headers)?;
    let page = Page::parse(query.as_deref())?;
    let pairs = query_pairs(query.as_deref());
    let errcode = match query_param(&pairs, "errcode") {
        None => None,
        Some(text) => Some(
            text.parse::<i64>()
                .map_err(|_| ApiError::msg(Code::InvalidArgs, "[errcode] errcode must be an integer"))?,
        ),
    };
    let filter = Filter {
        appid: query_param(&pairs, "appid").map(str::to_string),
        openid: query_param(&pairs, "openid").map(str::to_string),
        errcode,
    };
    // `last=N`: the newest N (what "why did my last request fail" wants), without paging
    // through the whole log.
    let items = match query_param(&pairs, "last") {
        Some(text) => {
            let n = match text.parse::<usize>() {
                Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
                _ => {
                    return Err(ApiError::msg(
                        Code::InvalidArgs,
                        format!("[last] last must be an integer from 1 to {MAX_PAGE}"),
                    ))
                }
            };
            if page.after_id.is_some() || query_param(&pairs, "limit").is_some() {
                return Err(ApiError::msg(
                    Code::InvalidArgs,
                    "[last] last excludes after_id and limit",
                ));
            }
            emulator.log.last(&filter, n)
        }
        None => emulator
            .log
            .list(&filter, page.after_id.as_deref(), page.limit)
            .ok_or_else(|| unknown_id("request", page.after_id.as_deref().unwrap_or_default()))?,
    };
    let items: Vec<&Entry> = items.iter().map(Arc::as_ref).collect();
    Ok(Json(json!({"errcode": 0, "errmsg": "ok", "items": items})))
}

pub async fn get(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let emulator = emulator(&state, &headers)?;
    let entry = emulator.log.get(&id).ok_or_else(|| unknown_id("request", &id))?;
    Ok(Json(json!({"errcode": 0, "errmsg": "ok", "request": entry.as_ref()})))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, appid: &str, body_bytes: usize) -> Entry {
        Entry {
            id: id.to_string(),
            time_ms: 0,
            method: "POST".into(),
            path: "/wxa/game/pay".into(),
            query: String::new(),
            body: "x".repeat(body_bytes),
            status: Some(200),
            answer: "{}".into(),
            errcode: Some(0),
            latency_us: 1,
            dialect: Dialect::V2,
            appid: Some(appid.to_string()),
            openid: None,
            diagnosis: None,
            fault: None,
        }
    }

    #[test]
    fn bounded_by_count_and_bytes() {
        let log = RequestLog::new(3, 1 << 20);
        for i in 0..5 {
            log.push(entry(&format!("id{i}"), "wx", 10));
        }
        let ids: Vec<String> = log
            .list(&Filter::default(), None, 10)
            .unwrap()
            .iter()
            .map(|e| e.id.clone())
            .collect();
        assert_eq!(ids, ["id2", "id3", "id4"]);

        let log = RequestLog::new(1000, 10_000);
        for i in 0..50 {
            log.push(entry(&format!("id{i}"), "wx", 1000));
        }
        let (count, bytes) = log.usage();
        assert!(bytes <= 10_000, "{bytes}");
        assert!(count < 10, "{count}");
    }

    #[test]
    fn paging_and_clearing_one_app() {
        let log = RequestLog::new(100, 1 << 20);
        for i in 0..6 {
            log.push(entry(&format!("id{i}"), if i % 2 == 0 { "a" } else { "b" }, 1));
        }
        let after = log.list(&Filter::default(), Some("id3"), 10).unwrap();
        assert_eq!(after.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["id4", "id5"]);
        assert!(log.list(&Filter::default(), Some("not-ours"), 10).is_none());
        log.clear(Some("a"));
        let left = log.list(&Filter::default(), None, 10).unwrap();
        assert_eq!(
            left.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            ["id1", "id3", "id5"]
        );
    }
}
