//! The purchase-book orders the order operations work on (behaviour.md sections 10.2 and
//! 11): found by `order_id` or `wx_order_id`, and shown as xpay's `order` object.

use openmidas_ledger::{AccountKey, Book, Order, OrderKey, OrderKind, OrderStatus};
use openmidas_protocol::xpay::answer::{self, env_type, OrderType};
use openmidas_protocol::xpay::{OrderRef, OrderStatus as Status};

use super::{not_found, secs, Verified};
use crate::error::ApiResult;
use crate::AppState;

/// A purchase-book order and its key.
pub(crate) struct Found {
    pub key: OrderKey,
    pub order: Order,
}

impl Found {
    /// The account the order belongs to (its player, in its zone).
    pub fn account(&self) -> AccountKey {
        AccountKey {
            env: self.key.env,
            appid: self.key.appid.clone(),
            offer_id: self.key.offer_id.clone(),
            zone_id: self.order.zone_id.clone(),
            openid: self.order.openid.clone(),
        }
    }
}

/// The order `by` names in the app's purchase book of the request's env; when the request
/// names a player, only that player's (another's answers as not found, like a missing one).
pub(crate) async fn find(state: &AppState, v: &Verified, by: &OrderRef<'_>) -> ApiResult<Found> {
    let found = match by {
        OrderRef::OrderId(number) => {
            let key = OrderKey {
                env: v.env,
                appid: v.app.appid.clone(),
                offer_id: v.app.offer_id.clone(),
                book: Book::Purchase,
                number: number.to_string(),
            };
            state.store.order(&key).await?.map(|order| Found { key, order })
        }
        OrderRef::WxOrderId(wx_order_id) => state
            .store
            .order_by_wx_order_id(&v.app.appid, v.env, wx_order_id)
            .await?
            .map(|(key, order)| Found { key, order }),
    };
    let found = found.ok_or_else(not_found)?;
    if let Some(account) = &v.account {
        if found.order.openid != account.openid {
            return Err(not_found());
        }
    }
    Ok(found)
}

/// A purchase's status on the wire (1 created, 2 paid, 4 delivered, 5 refunded, 6 closed); a
/// refund's (1 while in progress, 5 once done).
fn status(order: &Order, now_ms: i64) -> Status {
    match (order.kind, order.status) {
        (OrderKind::PurchaseRefund, _) => {
            let in_progress = order.purchase.as_ref().is_some_and(|p| p.refund_in_progress(now_ms));
            if in_progress {
                Status::Created
            } else {
                Status::Refunded
            }
        }
        (_, OrderStatus::Created) => Status::Created,
        (_, OrderStatus::Paid) => Status::Paid,
        (_, OrderStatus::Delivered | OrderStatus::Done) => Status::Delivered,
        (_, OrderStatus::Refunded) => Status::Refunded,
        (_, OrderStatus::Closed) => Status::Closed,
    }
}

/// The `order` object of `query_order`: exactly the documented fields, the optional ones only
/// where they apply.
pub(crate) fn render(found: &Found, now_ms: i64) -> answer::Order {
    let order = &found.order;
    let details = order
        .purchase
        .clone()
        .unwrap_or_else(|| openmidas_ledger::order::Purchase {
            product_id: String::new(),
            fee_fen: 0,
            orig_fee_fen: 0,
            channel: openmidas_ledger::PurchaseChannel::Xpay,
            wx_order_id: String::new(),
            attach: String::new(),
            paid_at_ms: None,
            delivered_at_ms: None,
            refunded_fee: 0,
            completes_at_ms: None,
        });
    let sandbox = found.key.env == openmidas_ledger::Env::Sandbox;
    let common = |order_type: OrderType, paid_fee: i64| answer::Order {
        order_id: found.key.number.clone(),
        create_time: secs(order.created_at_ms),
        update_time: secs(order.updated_at_ms),
        status: status(order, now_ms).code(),
        biz_type: 0,
        order_fee: details.fee_fen,
        paid_fee,
        order_type: order_type.code(),
        refund_fee: None,
        paid_time: None,
        provide_time: None,
        biz_meta: None,
        env_type: env_type(sandbox),
        token: None,
        left_fee: None,
        wx_order_id: Some(details.wx_order_id.clone()),
        channel_order_id: None,
        wxpay_order_id: None,
        sett_time: None,
        sett_state: None,
    };
    if order.kind == OrderKind::PurchaseRefund {
        return answer::Order {
            refund_fee: Some(details.fee_fen),
            biz_meta: (!details.attach.is_empty()).then(|| details.attach.clone()),
            ..common(OrderType::Refund, 0)
        };
    }
    let paid = details.paid_at_ms.is_some();
    answer::Order {
        refund_fee: (details.refunded_fee > 0).then_some(details.refunded_fee),
        paid_time: details.paid_at_ms.map(secs),
        provide_time: details.delivered_at_ms.map(secs),
        left_fee: paid.then(|| details.left_fee()),
        channel_order_id: paid.then(|| details.transaction_id()),
        wxpay_order_id: paid.then(|| details.mch_order_no()),
        ..common(OrderType::Purchase, if paid { details.fee_fen } else { 0 })
    }
}
