//! What an event says, rendered from the orders it is about (behaviour.md section 12). Every
//! field comes from facts of the order that never change once the event exists, so every
//! delivery of an event carries the same content.

use openmidas_ledger::order::{Book, Order, OrderKey, Purchase, PurchaseChannel};
use openmidas_ledger::push::{Push, PushKind};
use openmidas_ledger::{App, Env, Store, StoreError};
use openmidas_protocol::push::{
    EventContent, MiniGameCoinDeliver, MiniGameCoinInfo, MiniGameGoodsDeliver, MiniGameGoodsInfo, MiniGamePayInfo,
    XpayCoinInfo, XpayCoinPay, XpayGoodsDeliver, XpayGoodsInfo, XpayPayInfo, XpayRefund,
};

/// The event's name on the wire.
pub fn event_name(push: &Push) -> &'static str {
    let kind = match (push.channel, push.kind) {
        (PurchaseChannel::MiniGame, PushKind::CoinsDelivered) => {
            openmidas_protocol::push::EventKind::MiniGameCoinDeliverCompleted
        }
        (PurchaseChannel::MiniGame, _) => openmidas_protocol::push::EventKind::MiniGameGoodsDeliverNotify,
        (PurchaseChannel::Xpay, PushKind::CoinsDelivered) => openmidas_protocol::push::EventKind::XpayCoinPayNotify,
        (PurchaseChannel::Xpay, PushKind::GoodsPaid) => openmidas_protocol::push::EventKind::XpayGoodsDeliverNotify,
        (PurchaseChannel::Xpay, PushKind::RefundDone) => openmidas_protocol::push::EventKind::XpayRefundNotify,
    };
    kind.as_str()
}

/// Why an event cannot be rendered: its order is gone (a reset, an import).
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("order {0} of the event no longer exists")]
    MissingOrder(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn secs(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

fn env_number(env: Env) -> u32 {
    match env {
        Env::Official => 0,
        Env::Sandbox => 1,
    }
}

async fn purchase_order(
    store: &dyn Store,
    app: &App,
    push: &Push,
    number: &str,
) -> Result<(Order, Purchase), ContentError> {
    let key = OrderKey {
        env: push.env,
        appid: app.appid.clone(),
        offer_id: app.offer_id.clone(),
        book: Book::Purchase,
        number: number.to_string(),
    };
    let order = store
        .order(&key)
        .await?
        .ok_or_else(|| ContentError::MissingOrder(number.to_string()))?;
    let purchase = order
        .purchase
        .clone()
        .ok_or_else(|| ContentError::MissingOrder(number.to_string()))?;
    Ok((order, purchase))
}

/// An event's content, and whose it is.
pub struct Rendered {
    pub content: EventContent,
    /// The player and zone of the order (an acknowledged item delivery is marked on it).
    pub openid: String,
    pub zone_id: String,
}

/// The event's content.
pub async fn render(store: &dyn Store, app: &App, push: &Push) -> Result<Rendered, ContentError> {
    let (order, purchase) = purchase_order(store, app, push, &push.number).await?;
    let content = content(store, app, push, &order, &purchase).await?;
    Ok(Rendered {
        content,
        openid: order.openid,
        zone_id: order.zone_id,
    })
}

async fn content(
    store: &dyn Store,
    app: &App,
    push: &Push,
    order: &Order,
    purchase: &Purchase,
) -> Result<EventContent, ContentError> {
    let env = env_number(push.env);
    let open_id = order.openid.clone();
    let out_trade_no = push.number.clone();
    Ok(match (push.channel, push.kind) {
        (PurchaseChannel::MiniGame, PushKind::CoinsDelivered) => {
            EventContent::MiniGameCoinDeliverCompleted(MiniGameCoinDeliver {
                open_id,
                env,
                out_trade_no,
                wechat_pay_info: MiniGamePayInfo {
                    mch_order_no: purchase.mch_order_no(),
                    transaction_id: purchase.transaction_id(),
                },
                coin_info: MiniGameCoinInfo {
                    zone_id: order.zone_id.clone(),
                    actual_price: purchase.fee_fen,
                    total_price: purchase.fee_fen,
                    buy_quantity: order.amount,
                    orig_price: purchase.orig_fee_fen,
                },
            })
        }
        (PurchaseChannel::MiniGame, _) => EventContent::MiniGameGoodsDeliverNotify(MiniGameGoodsDeliver {
            open_id,
            env,
            out_trade_no,
            wechat_pay_info: MiniGamePayInfo {
                mch_order_no: purchase.mch_order_no(),
                transaction_id: purchase.transaction_id(),
            },
            goods_info: MiniGameGoodsInfo {
                product_id: purchase.product_id.clone(),
                quantity: order.amount,
                zone_id: order.zone_id.clone(),
                orig_price: purchase.orig_fee_fen,
                actual_price: purchase.fee_fen,
                attach: purchase.attach.clone(),
                // 1: bought in the game (not in the mall).
                order_source: 1,
            },
        }),
        (PurchaseChannel::Xpay, PushKind::CoinsDelivered) => EventContent::XpayCoinPayNotify(XpayCoinPay {
            open_id,
            env,
            out_trade_no,
            wechat_pay_info: Some(xpay_pay_info(purchase)),
            coin_info: XpayCoinInfo {
                quantity: order.amount,
                orig_price: purchase.orig_fee_fen,
                actual_price: purchase.fee_fen,
                attach: purchase.attach.clone(),
            },
        }),
        (PurchaseChannel::Xpay, PushKind::GoodsPaid) => EventContent::XpayGoodsDeliverNotify(XpayGoodsDeliver {
            open_id,
            env,
            out_trade_no,
            wechat_pay_info: Some(xpay_pay_info(purchase)),
            goods_info: XpayGoodsInfo {
                product_id: purchase.product_id.clone(),
                quantity: order.amount,
                orig_price: purchase.orig_fee_fen,
                actual_price: purchase.fee_fen,
                attach: purchase.attach.clone(),
            },
            team_info: None,
        }),
        (PurchaseChannel::Xpay, PushKind::RefundDone) => {
            // The refund order names the purchase it gives money back from.
            let paid_number = order
                .pay_number
                .clone()
                .ok_or_else(|| ContentError::MissingOrder(push.number.clone()))?;
            let (_, paid) = purchase_order(store, app, push, &paid_number).await?;
            EventContent::XpayRefundNotify(XpayRefund {
                open_id,
                env,
                wx_refund_id: purchase.wx_order_id.clone(),
                mch_refund_id: push.number.clone(),
                wx_order_id: paid.wx_order_id.clone(),
                mch_order_id: paid_number,
                refund_fee: purchase.fee_fen,
                ret_code: 0,
                ret_msg: String::new(),
                refund_start_timestamp: secs(order.created_at_ms),
                refund_succ_timestamp: secs(purchase.completes_at_ms.unwrap_or(order.created_at_ms)),
                // WeChat Pay's refund id: derived as the purchase's transaction id is.
                wxpay_refund_transaction_id: format!("50{}", &purchase.transaction_id()[2..]),
                team_info: None,
            })
        }
    })
}

fn xpay_pay_info(purchase: &Purchase) -> XpayPayInfo {
    XpayPayInfo {
        mch_order_no: purchase.mch_order_no(),
        transaction_id: purchase.transaction_id(),
        paid_time: secs(purchase.paid_at_ms.unwrap_or_default()),
    }
}
