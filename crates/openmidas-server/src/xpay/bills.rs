//! `GET /xpay/bills/<token>`: a bill that `download_bill` linked, as CSV (behaviour.md
//! section 10.2): a header row, then one row per purchase and purchase refund of the app and
//! env made in the bill's days (China time), oldest first. No token is needed beyond the
//! link's own, which stops working 30 minutes after it was handed out.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use openmidas_ledger::OrderKind;
use openmidas_protocol::xpay::{Date, DateRange};

use super::{not_found, orders};
use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// The most rows a bill holds (the oldest of a busier range).
pub const MAX_BILL_ROWS: u32 = 100_000;

/// The columns, in order.
const HEADER: [&str; 13] = [
    "order_id",
    "wx_order_id",
    "order_type",
    "status",
    "openid",
    "product_id",
    "order_fee",
    "paid_fee",
    "refund_fee",
    "create_time",
    "paid_time",
    "provide_time",
    "pay_order_id",
];

pub(crate) async fn get(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match bill(&state, &token).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn bill(state: &AppState, token: &str) -> ApiResult<Response> {
    let now_ms = state.clock.now_ms();
    let bill = state
        .store
        .bill(token)
        .await?
        .filter(|b| b.link_is_live(now_ms))
        .ok_or_else(|| ApiError {
            status: StatusCode::NOT_FOUND,
            ..not_found()
        })?;
    let range = match (Date::from_yyyymmdd(bill.begin_ds), Date::from_yyyymmdd(bill.end_ds)) {
        (Some(first), Some(last)) => DateRange { first, last },
        _ => return Err(not_found()),
    };
    let rows = state
        .store
        .purchases(
            &bill.appid,
            bill.env,
            range.start_unix_ms(),
            range.end_unix_ms(),
            MAX_BILL_ROWS,
        )
        .await?;
    let mut csv = csv::Writer::from_writer(Vec::new());
    let write = |csv: &mut csv::Writer<Vec<u8>>, record: &[String]| {
        csv.write_record(record).map_err(|e| {
            ApiError::msg(
                openmidas_protocol::common::Code::SystemError,
                format!("system error: {e}"),
            )
        })
    };
    write(&mut csv, &HEADER.map(str::to_string))?;
    for (key, order) in &rows {
        let found = orders::Found {
            key: key.clone(),
            order: order.clone(),
        };
        let shown = orders::render(&found, now_ms);
        let text = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        let product_id = order
            .purchase
            .as_ref()
            .map(|p| p.product_id.clone())
            .unwrap_or_default();
        let pay_order_id = match order.kind {
            OrderKind::PurchaseRefund => order.pay_number.clone().unwrap_or_default(),
            _ => String::new(),
        };
        write(
            &mut csv,
            &[
                shown.order_id,
                shown.wx_order_id.unwrap_or_default(),
                shown.order_type.to_string(),
                shown.status.to_string(),
                order.openid.clone(),
                product_id,
                shown.order_fee.to_string(),
                shown.paid_fee.to_string(),
                text(shown.refund_fee),
                shown.create_time.to_string(),
                text(shown.paid_time),
                text(shown.provide_time),
                pay_order_id,
            ],
        )?;
    }
    let body = csv.into_inner().map_err(|e| {
        ApiError::msg(
            openmidas_protocol::common::Code::SystemError,
            format!("system error: {e}"),
        )
    })?;
    let filename = format!("bill_{}_{}_{}.csv", bill.appid, bill.begin_ds, bill.end_ds);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response())
}
