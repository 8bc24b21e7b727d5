//! `download_bill`: the first call for a range answers 268490011 (generating); later calls a
//! link on this server, `/xpay/bills/<token>`, live 30 minutes on the server's clock
//! (behaviour.md section 10.2). What the bill holds is read when it is downloaded
//! ([`super::bills`]).

use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use openmidas_ledger::bill::{Bill, BillAnswer};
use openmidas_ledger::StoreExt;
use openmidas_protocol::common;
use openmidas_protocol::xpay::answer::DownloadBillOk;
use openmidas_protocol::xpay::{Code, DateRange};

use super::Verified;
use crate::error::{ApiError, ApiResult};
use crate::{secrets, AppState};

/// A bill link's token: unguessable, as WeChat's signed download links.
const TOKEN_CHARS: usize = 40;

pub(super) async fn run(state: &AppState, v: Verified, headers: &HeaderMap, range: DateRange) -> ApiResult<Response> {
    let bill = Bill {
        appid: v.app.appid.clone(),
        env: v.env,
        begin_ds: range.first.yyyymmdd(),
        end_ds: range.last.yyyymmdd(),
        requested_at_ms: v.now_ms,
        token: None,
        expires_at_ms: None,
    };
    let token = secrets::alphanumeric(TOKEN_CHARS);
    match state.store.request_bill(bill, token, v.now_ms).await? {
        BillAnswer::Generating => Err(ApiError::new(Code::BillGenerating)),
        BillAnswer::Ready { token, .. } => {
            // The link is on the address the caller reached this server by.
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
                .unwrap_or("127.0.0.1");
            Ok(Json(DownloadBillOk {
                errcode: common::Code::Ok.code(),
                errmsg: common::Code::Ok.errmsg().into(),
                url: format!("http://{host}/xpay/bills/{token}"),
            })
            .into_response())
        }
    }
}
