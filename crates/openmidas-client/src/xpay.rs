//! xpay (`/xpay/*`, behaviour.md section 10): typed calls of the same [`Client`], reached
//! through [`Client::xpay`].
//!
//! - **Signing.** Each body is serialized once and signed over exactly those bytes with the
//!   protocol's signer: `pay_sig` (the AppKey of the body's `env`, over `path & body`) on every
//!   call, and `signature` (the player's session_key, over the body) on the three calls that
//!   show or move one player's coins: [`Xpay::query_user_balance`], [`Xpay::currency_pay`]
//!   and [`Xpay::cancel_currency_pay`] (section 10.1 step 2). xpay's query has no
//!   `sig_method`.
//! - **Accounts.** An xpay player is the app's zone-`"1"` account of v1 and 2.0, in the env
//!   of [`Player::env`] (section 8); its `order_id`s share the currency book with their
//!   `bill_no`s.
//! - **Retries** are the client's one retry loop: after -1, a timeout, a dropped connection
//!   or a 5xx the same body (same `order_id`) is sent again, so it is applied at most once.
//!   xpay answers a repeated `order_id` with 268490004 (`重复操作`) and no result (section
//!   10.2). When 268490004 answers the retry of a currency_pay, present_currency,
//!   cancel_currency_pay or refund_order whose earlier attempt's outcome was unknown, that
//!   earlier attempt applied it: the call succeeds with `replayed: true`, and the fields only
//!   the lost answer had (the balance, ...) are `None`. On a first attempt 268490004 stays an
//!   error ([`Code::Repeated`]): the number was used before, by this operation or another,
//!   and xpay cannot say which.
//! - **Errors** are read in xpay's table ([`crate::codes::Xpay`], then the platform's): match
//!   them with `e.is(codes::Xpay::InsufficientBalance)`; [`is_not_found`] tells `数据不存在`
//!   from the other 268490002s.

use openmidas_protocol::limits::MAX_REMARK_BYTES;
use openmidas_protocol::sign;
use openmidas_protocol::xpay::answer::{
    CancelCurrencyPayOk, CurrencyPayOk, DownloadBillOk, NotifyProvideGoodsOk, PresentCurrencyOk, QueryOrderOk,
    RefundOrderOk,
};
use openmidas_protocol::xpay::request::{MAX_BILL_DAYS, MAX_BIZ_META_BYTES, MAX_WX_ORDER_ID_BYTES};
use openmidas_protocol::xpay::{is_valid_order_id, is_valid_refund_order_id, Code, Op};
use openmidas_protocol::Dialect;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use openmidas_protocol::xpay::answer::Order;
pub use openmidas_protocol::xpay::{Date, DateRange, OrderRef, OrderStatus, OrderType};

use crate::client::{check_amount, decode_fields, Answer, Client};
use crate::error::{Error, Result};
use crate::http::{api_error, decode};
use crate::midas::MidasEnv;
use crate::secret::{AccessToken, SessionKey};

/// The player an xpay call addresses: `openid` in an environment (the zone is always `"1"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Player {
    pub openid: String,
    /// Default official (`env` 0).
    pub env: MidasEnv,
    /// Sent (and signed) only when set, and only to the operations that take it
    /// (query_user_balance, currency_pay, cancel_currency_pay).
    pub user_ip: Option<String>,
}

impl Player {
    /// `openid`, official.
    pub fn new(openid: impl Into<String>) -> Player {
        Player {
            openid: openid.into(),
            env: MidasEnv::Official,
            user_ip: None,
        }
    }

    pub fn env(mut self, env: MidasEnv) -> Player {
        self.env = env;
        self
    }

    pub fn user_ip(mut self, user_ip: impl Into<String>) -> Player {
        self.user_ip = Some(user_ip.into());
        self
    }
}

/// A `currency_pay`. `order_id` is the idempotency key: choose it once per purchase, store
/// it, and reuse it for every retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrencyPayRequest {
    /// 8 to 32 characters of `0-9 A-Z a-z _ - | * @`, not starting with `_`.
    pub order_id: String,
    pub amount: i64,
    /// Free text (by convention the JSON of the items bought), at most 1024 bytes; sent
    /// only when non-empty.
    pub payitem: Option<String>,
    /// At most 1024 bytes; sent only when non-empty.
    pub remark: Option<String>,
}

impl CurrencyPayRequest {
    pub fn new(order_id: impl Into<String>, amount: i64) -> CurrencyPayRequest {
        CurrencyPayRequest {
            order_id: order_id.into(),
            amount,
            payitem: None,
            remark: None,
        }
    }
}

/// `query_user_balance`, in xpay's names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    pub balance: i64,
    /// Gift coins still in the balance.
    pub present_balance: i64,
    /// All coins ever recharged.
    pub sum_save: i64,
    pub sum_present: i64,
    /// All coins ever gained.
    pub sum_balance: i64,
    pub sum_cost: i64,
    /// Whether the player was never recharged.
    pub first_save_flag: bool,
}

/// `currency_pay`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrencyPayResult {
    pub order_id: String,
    /// The balance after the pay; `None` when [`CurrencyPayResult::replayed`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<i64>,
    /// Gift coins the pay took; `None` when [`CurrencyPayResult::replayed`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_present_amount: Option<i64>,
    /// An earlier attempt of this call, whose answer was lost, applied the pay: the retry
    /// was answered 268490004, which carries no result (call
    /// [`Xpay::query_user_balance`] for the balance).
    #[serde(default)]
    pub replayed: bool,
}

/// `cancel_currency_pay`: a refund of coins of a currency_pay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelCurrencyPayResult {
    /// The refund's own number.
    pub order_id: String,
    /// An earlier attempt of this call, whose answer was lost, applied the refund (see
    /// [`CurrencyPayResult::replayed`]). xpay's answer has only `order_id` either way.
    #[serde(default)]
    pub replayed: bool,
}

/// `present_currency`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresentCurrencyResult {
    pub order_id: String,
    /// The balance after the present; `None` when [`PresentCurrencyResult::replayed`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<i64>,
    /// Gift coins in the balance after the present; `None` when replayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub present_balance: Option<i64>,
    /// An earlier attempt of this call, whose answer was lost, gave the coins (see
    /// [`CurrencyPayResult::replayed`]).
    #[serde(default)]
    pub replayed: bool,
}

/// A `refund_order`: money (never coins) back from a paid purchase, as a refund order of
/// its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundOrderRequest {
    /// The refund's own number, its idempotency key: 8 to 32 characters of
    /// `0-9 A-Z a-z _ -`.
    pub refund_order_id: String,
    /// Fen still refundable of the purchase, as the caller believes (query_order's
    /// `left_fee`); the service refuses a stale one (268490016), so two refunds racing on
    /// one purchase cannot both pass.
    pub left_fee: i64,
    /// Fen to give back: 1 to `left_fee`.
    pub refund_fee: i64,
    /// `refund_reason`, 0 to 5 (WeChat's reason codes; sent as the string `"0"`..`"5"`).
    pub refund_reason: u8,
    /// `req_from`, 1 to 3 (who asked for it; sent as the string `"1"`..`"3"`).
    pub req_from: u8,
    /// Sent only when non-empty; at most 1024 bytes.
    pub biz_meta: Option<String>,
}

impl RefundOrderRequest {
    /// A refund of `refund_fee` of the `left_fee` still refundable, reason 0, asked by 1.
    pub fn new(refund_order_id: impl Into<String>, left_fee: i64, refund_fee: i64) -> RefundOrderRequest {
        RefundOrderRequest {
            refund_order_id: refund_order_id.into(),
            left_fee,
            refund_fee,
            refund_reason: 0,
            req_from: 1,
            biz_meta: None,
        }
    }
}

/// `refund_order`: the refund's numbers and the purchase's. The refund completes later
/// (after the app's `refund_delay_secs` on OpenMidas): [`Xpay::query_order`] of the
/// `refund_order_id` shows status 1 while in progress, then 5.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundOrderResult {
    pub refund_order_id: String,
    /// `None` when [`RefundOrderResult::replayed`] (as the two below).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_wx_order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_wx_order_id: Option<String>,
    /// An earlier attempt of this call, whose answer was lost, started the refund: the retry
    /// was answered 268490014 (still in progress) or 268490004 (done), neither of which
    /// carries the numbers.
    #[serde(default)]
    pub replayed: bool,
}

/// What `download_bill` answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Bill {
    /// 268490011 (`数据生成中`): the bill of this range is being made; call again for its
    /// link (OpenMidas: at once; WeChat: later).
    Generating,
    /// The link to the bill's CSV ([`Xpay::download_bill_csv`]).
    Ready(BillLink),
}

/// Where a bill's CSV is: a link that works for 30 minutes and needs no other credential
/// (so it is as secret as the bill; it is never logged).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillLink {
    pub url: String,
}

impl std::fmt::Debug for BillLink {
    // The link is a bearer credential for the bill.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BillLink").field("url", &"***").finish()
    }
}

/// Whether an error is xpay's `数据不存在` (268490002 for an order that does not exist, is
/// another player's, or of the other env), rather than a field problem of the same code.
pub fn is_not_found(error: &Error) -> bool {
    error.api().is_some_and(|e| {
        e.is(Code::InvalidParameter) && e.errmsg.starts_with(openmidas_protocol::xpay::NOT_FOUND_ERRMSG)
    })
}

/// The days of a bill, `yyyymmdd` (China time), both included: real dates, `begin_ds` not
/// after `end_ds`, at most 31 days (behaviour.md section 10.2).
pub fn bill_range(begin_ds: i64, end_ds: i64) -> Result<DateRange> {
    let day = |field: &str, value: i64| {
        Date::from_yyyymmdd(value)
            .ok_or_else(|| Error::InvalidRequest(format!("{field} {value} is not a date as yyyymmdd")))
    };
    let range = DateRange {
        first: day("begin_ds", begin_ds)?,
        last: day("end_ds", end_ds)?,
    };
    check_range(range)?;
    Ok(range)
}

fn check_range(range: DateRange) -> Result<()> {
    if range.first > range.last {
        return Err(Error::InvalidRequest(format!(
            "begin_ds {} is after end_ds {}",
            range.first.yyyymmdd(),
            range.last.yyyymmdd()
        )));
    }
    if range.days() > MAX_BILL_DAYS {
        return Err(Error::InvalidRequest(format!(
            "a bill covers at most {MAX_BILL_DAYS} days; {} to {} is {}",
            range.first.yyyymmdd(),
            range.last.yyyymmdd(),
            range.days()
        )));
    }
    Ok(())
}

fn check_order_id(field: &str, order_id: &str) -> Result<()> {
    if is_valid_order_id(order_id) {
        Ok(())
    } else {
        Err(Error::InvalidRequest(format!(
            "{field} {order_id:?} must be 8 to 32 characters of 0-9 A-Z a-z _ - | * @ and not start with _"
        )))
    }
}

fn check_text(field: &str, text: &str, max: usize) -> Result<()> {
    if text.len() <= max {
        Ok(())
    } else {
        Err(Error::InvalidRequest(format!("{field} must be at most {max} bytes")))
    }
}

/// Adds `order_id` or `wx_order_id`.
fn insert_order_ref(fields: &mut Map<String, Value>, order: &OrderRef<'_>) -> Result<String> {
    match order {
        OrderRef::OrderId(order_id) => {
            check_order_id("order_id", order_id)?;
            fields.insert("order_id".into(), order_id.as_ref().into());
            Ok(order_id.to_string())
        }
        OrderRef::WxOrderId(wx_order_id) => {
            if wx_order_id.is_empty() || wx_order_id.len() > MAX_WX_ORDER_ID_BYTES {
                return Err(Error::InvalidRequest(format!(
                    "wx_order_id must be 1 to {MAX_WX_ORDER_ID_BYTES} bytes"
                )));
            }
            fields.insert("wx_order_id".into(), wx_order_id.as_ref().into());
            Ok(wx_order_id.to_string())
        }
    }
}

/// The xpay calls of a [`Client`].
#[derive(Debug, Clone, Copy)]
pub struct Xpay<'c> {
    client: &'c Client,
}

impl Client {
    /// xpay calls with this client's app, keys, token cache and retries.
    pub fn xpay(&self) -> Xpay<'_> {
        Xpay { client: self }
    }
}

impl Xpay<'_> {
    /// `query_user_balance`: the player's coins (signed with the session_key).
    pub async fn query_user_balance(&self, player: &Player, session_key: &SessionKey) -> Result<Balance> {
        let answer = self
            .call(
                Op::QueryUserBalance,
                player.env,
                Some(player),
                Map::new(),
                Some(session_key),
                "",
                &[],
            )
            .await?;
        decode(answer.value, Dialect::Xpay)
    }

    /// `currency_pay`: deducts `amount` coins, gift coins first. Retried with the same
    /// `order_id`; a 268490004 after a lost answer is success ([`CurrencyPayResult::replayed`]).
    /// 268490006 when the balance is lower.
    pub async fn currency_pay(
        &self,
        player: &Player,
        request: &CurrencyPayRequest,
        session_key: &SessionKey,
    ) -> Result<CurrencyPayResult> {
        check_order_id("order_id", &request.order_id)?;
        check_amount("amount", request.amount)?;
        let mut fields = Map::new();
        fields.insert("amount".into(), request.amount.into());
        fields.insert("order_id".into(), request.order_id.clone().into());
        for (field, value) in [("payitem", &request.payitem), ("remark", &request.remark)] {
            if let Some(text) = value.as_ref().filter(|s| !s.is_empty()) {
                check_text(field, text, MAX_REMARK_BYTES)?;
                fields.insert(field.into(), text.clone().into());
            }
        }
        let answer = self
            .call(
                Op::CurrencyPay,
                player.env,
                Some(player),
                fields,
                Some(session_key),
                &request.order_id,
                &[],
            )
            .await?;
        if self.replayed(&answer, &[Code::Repeated])? {
            return Ok(CurrencyPayResult {
                order_id: request.order_id.clone(),
                balance: None,
                used_present_amount: None,
                replayed: true,
            });
        }
        let paid: CurrencyPayOk = decode_fields(answer.value)?;
        Ok(CurrencyPayResult {
            order_id: paid.order_id,
            balance: Some(paid.balance),
            used_present_amount: Some(paid.used_present_amount),
            replayed: false,
        })
    }

    /// `cancel_currency_pay`: gives back `amount` coins of the currency_pay `pay_order_id`,
    /// as the refund numbered `order_id` (cash back first, then gift; partial and repeated
    /// refunds up to the pay, within the app's cancel window). Retried like
    /// [`Xpay::currency_pay`]. 268490005 when the pay was refunded in full, 268490006 when
    /// `amount` is above what is left, 268490002 `数据不存在` for an unknown pay.
    pub async fn cancel_currency_pay(
        &self,
        player: &Player,
        order_id: &str,
        pay_order_id: &str,
        amount: i64,
        session_key: &SessionKey,
    ) -> Result<CancelCurrencyPayResult> {
        check_order_id("pay_order_id", pay_order_id)?;
        check_order_id("order_id", order_id)?;
        check_amount("amount", amount)?;
        let mut fields = Map::new();
        fields.insert("pay_order_id".into(), pay_order_id.into());
        fields.insert("order_id".into(), order_id.into());
        fields.insert("amount".into(), amount.into());
        let answer = self
            .call(
                Op::CancelCurrencyPay,
                player.env,
                Some(player),
                fields,
                Some(session_key),
                order_id,
                &[],
            )
            .await?;
        if self.replayed(&answer, &[Code::Repeated])? {
            return Ok(CancelCurrencyPayResult {
                order_id: order_id.to_string(),
                replayed: true,
            });
        }
        let refunded: CancelCurrencyPayOk = decode_fields(answer.value)?;
        Ok(CancelCurrencyPayResult {
            order_id: refunded.order_id,
            replayed: false,
        })
    }

    /// `present_currency`: gives `amount` gift coins (no session_key: xpay signs it with
    /// `pay_sig` alone). Retried like [`Xpay::currency_pay`].
    pub async fn present_currency(
        &self,
        player: &Player,
        order_id: &str,
        amount: i64,
    ) -> Result<PresentCurrencyResult> {
        check_order_id("order_id", order_id)?;
        check_amount("amount", amount)?;
        let mut fields = Map::new();
        fields.insert("order_id".into(), order_id.into());
        fields.insert("amount".into(), amount.into());
        let answer = self
            .call(
                Op::PresentCurrency,
                player.env,
                Some(player),
                fields,
                None,
                order_id,
                &[],
            )
            .await?;
        if self.replayed(&answer, &[Code::Repeated])? {
            return Ok(PresentCurrencyResult {
                order_id: order_id.to_string(),
                balance: None,
                present_balance: None,
                replayed: true,
            });
        }
        let given: PresentCurrencyOk = decode_fields(answer.value)?;
        Ok(PresentCurrencyResult {
            order_id: given.order_id,
            balance: Some(given.balance),
            present_balance: Some(given.present_balance),
            replayed: false,
        })
    }

    /// `query_order`: a purchase of the player (through `wx.requestVirtualPayment`, or a 2.0
    /// client purchase) or one of its refunds, by `order_id` (the purchase's `out_trade_no`,
    /// a refund's `refund_order_id`) or `wx_order_id`. Another player's order, or one of the
    /// other env, is `数据不存在` ([`is_not_found`]).
    pub async fn query_order(&self, player: &Player, order: &OrderRef<'_>) -> Result<Order> {
        let mut fields = Map::new();
        let number = insert_order_ref(&mut fields, order)?;
        let answer = self
            .call(Op::QueryOrder, player.env, Some(player), fields, None, &number, &[])
            .await?;
        let found: QueryOrderOk = decode(answer.value, Dialect::Xpay)?;
        Ok(found.order)
    }

    /// `refund_order`: gives `refund_fee` fen of a paid purchase back to the player (never
    /// coins), as the refund numbered `refund_order_id`. Retried with the same body; after a
    /// lost answer, a retry answered 268490014 (in progress) or 268490004 (done) is success
    /// ([`RefundOrderResult::replayed`]). On a first attempt those two mean the number was
    /// used before: 268490014 ([`Code::RefundInProgress`], retryable: that refund is still
    /// in progress; [`Xpay::query_order`] of the number shows it) and 268490004 (it is done,
    /// or the number is another order's). 268490016 when `left_fee` is not what is left.
    pub async fn refund_order(
        &self,
        player: &Player,
        order: &OrderRef<'_>,
        request: &RefundOrderRequest,
    ) -> Result<RefundOrderResult> {
        let mut fields = Map::new();
        insert_order_ref(&mut fields, order)?;
        if !is_valid_refund_order_id(&request.refund_order_id) {
            return Err(Error::InvalidRequest(format!(
                "refund_order_id {:?} must be 8 to 32 characters of 0-9 A-Z a-z _ -",
                request.refund_order_id
            )));
        }
        if request.left_fee < 0 {
            return Err(Error::InvalidRequest(format!(
                "left_fee must not be negative, got {}",
                request.left_fee
            )));
        }
        if !(1..=request.left_fee).contains(&request.refund_fee) {
            return Err(Error::InvalidRequest(format!(
                "refund_fee must be in 1..=left_fee ({}), got {}",
                request.left_fee, request.refund_fee
            )));
        }
        if request.refund_reason > 5 {
            return Err(Error::InvalidRequest(format!(
                "refund_reason must be 0 to 5, got {}",
                request.refund_reason
            )));
        }
        if !(1..=3).contains(&request.req_from) {
            return Err(Error::InvalidRequest(format!(
                "req_from must be 1 to 3, got {}",
                request.req_from
            )));
        }
        fields.insert("refund_order_id".into(), request.refund_order_id.clone().into());
        fields.insert("left_fee".into(), request.left_fee.into());
        fields.insert("refund_fee".into(), request.refund_fee.into());
        fields.insert("refund_reason".into(), request.refund_reason.to_string().into());
        fields.insert("req_from".into(), request.req_from.to_string().into());
        if let Some(meta) = request.biz_meta.as_ref().filter(|s| !s.is_empty()) {
            check_text("biz_meta", meta, MAX_BIZ_META_BYTES)?;
            fields.insert("biz_meta".into(), meta.clone().into());
        }
        // 268490014 is this refund's definite answer (the number is in progress), not an
        // unknown outcome: it comes back here rather than being re-sent.
        let answer = self
            .call(
                Op::RefundOrder,
                player.env,
                Some(player),
                fields,
                None,
                &request.refund_order_id,
                &[Code::RefundInProgress.code()],
            )
            .await?;
        if self.replayed(&answer, &[Code::Repeated, Code::RefundInProgress])? {
            return Ok(RefundOrderResult {
                refund_order_id: request.refund_order_id.clone(),
                refund_wx_order_id: None,
                pay_order_id: None,
                pay_wx_order_id: None,
                replayed: true,
            });
        }
        let started: RefundOrderOk = decode_fields(answer.value)?;
        Ok(RefundOrderResult {
            refund_order_id: started.refund_order_id,
            refund_wx_order_id: Some(started.refund_wx_order_id),
            pay_order_id: Some(started.pay_order_id),
            pay_wx_order_id: Some(started.pay_wx_order_id),
            replayed: false,
        })
    }

    /// `notify_provide_goods`: the goods of a paid purchase were delivered (status 4), for
    /// when the delivery push did not reach the game server. Again is fine; a purchase not
    /// paid answers 268490002.
    pub async fn notify_provide_goods(&self, env: MidasEnv, order: &OrderRef<'_>) -> Result<()> {
        let mut fields = Map::new();
        let number = insert_order_ref(&mut fields, order)?;
        let answer = self
            .call(Op::NotifyProvideGoods, env, None, fields, None, &number, &[])
            .await?;
        let _delivered: NotifyProvideGoodsOk = decode(answer.value, Dialect::Xpay)?;
        Ok(())
    }

    /// `download_bill`: the app's purchases and purchase refunds of the range's days (China
    /// time). The first call for a range answers [`Bill::Generating`] (268490011, handed
    /// back rather than retried); call again for the [`BillLink`], then
    /// [`Xpay::download_bill_csv`].
    pub async fn download_bill(&self, env: MidasEnv, range: DateRange) -> Result<Bill> {
        check_range(range)?;
        let mut fields = Map::new();
        fields.insert("begin_ds".into(), range.first.yyyymmdd().into());
        fields.insert("end_ds".into(), range.last.yyyymmdd().into());
        let answer = self
            .call(
                Op::DownloadBill,
                env,
                None,
                fields,
                None,
                "",
                &[Code::BillGenerating.code()],
            )
            .await?;
        match api_error(&answer.value, Dialect::Xpay)? {
            Some(e) if e.is(Code::BillGenerating) => Ok(Bill::Generating),
            Some(e) => Err(Error::Api(e)),
            None => {
                let ready: DownloadBillOk = decode_fields(answer.value)?;
                Ok(Bill::Ready(BillLink { url: ready.url }))
            }
        }
    }

    /// `GET` a bill link: its CSV (on OpenMidas a header row, then one row per purchase and
    /// purchase refund, oldest first). One attempt: a link is read, not a state change, so
    /// a failure can simply be repeated. A dead or unknown link answers its errcode (OpenMidas:
    /// 404 with 268490002).
    pub async fn download_bill_csv(&self, link: &BillLink) -> Result<String> {
        let http = self.client.http();
        // The link is the bill's credential: never keep it in an error.
        let service = reqwest::Url::parse(&link.url)
            .map(|url| crate::error::service_of(&url))
            .unwrap_or_else(|_| "the bill link".into());
        let transport = |e: reqwest::Error| Error::Transport {
            service: service.clone(),
            source: e.without_url(),
        };
        let response = http.client.get(&link.url).send().await.map_err(transport)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(transport)?;
        if status.is_success() {
            return String::from_utf8(bytes.to_vec())
                .map_err(|e| Error::Decode(format!("the bill is not UTF-8 text: {e}")));
        }
        if let Ok(value) = serde_json::from_slice::<Value>(&bytes) {
            if let Some(e) = api_error(&value, Dialect::Xpay)? {
                return Err(Error::Api(e));
            }
        }
        Err(Error::Http {
            status: status.as_u16(),
            body: String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).into_owned(),
        })
    }

    /// Ok(false) on errcode 0; Ok(true) when the answer is one of `repeats` (268490004,
    /// and 268490014 for refund_order) after an attempt whose outcome was unknown: that
    /// attempt applied the operation (when the client accepts repeats); else the error.
    fn replayed(&self, answer: &Answer, repeats: &[Code]) -> Result<bool> {
        let Some(e) = api_error(&answer.value, Dialect::Xpay)? else {
            return Ok(false);
        };
        let repeat = repeats.iter().any(|code| e.is(*code));
        if repeat && answer.after_uncertain_attempt && self.client.accepts_repeats() {
            tracing::info!(
                errcode = e.errcode,
                "a retry found its order number applied: the earlier attempt, whose answer was lost, applied it"
            );
            return Ok(true);
        }
        Err(Error::Api(e))
    }

    /// The body (`openid` when the operation names a player, `env`, `user_ip` where taken,
    /// then the operation's fields), serialized once, signed, sent and retried.
    #[allow(clippy::too_many_arguments)]
    async fn call(
        &self,
        op: Op,
        env: MidasEnv,
        player: Option<&Player>,
        extra: Map<String, Value>,
        session_key: Option<&SessionKey>,
        order_no: &str,
        answers: &[i64],
    ) -> Result<Answer> {
        let client = self.client;
        let mut fields = Map::new();
        if let Some(player) = player {
            fields.insert("openid".into(), player.openid.clone().into());
        }
        fields.insert("env".into(), i64::from(env.is_sandbox()).into());
        if let Some(ip) = player.and_then(|p| p.user_ip.as_ref()).filter(|s| !s.is_empty()) {
            if op.takes_user_ip() {
                fields.insert("user_ip".into(), ip.clone().into());
            }
        }
        fields.extend(extra);
        let body = Value::Object(fields).to_string();
        let session_key = match (op.needs_signature(), session_key) {
            (true, Some(key)) => Some(key.expose()),
            (true, None) => {
                return Err(Error::InvalidRequest(format!(
                    "{} is signed with the player's session_key",
                    op.name()
                )))
            }
            (false, _) => None,
        };
        let signed = sign::v2::sign(op.uri(), &body, client.key_for(env)?.expose(), session_key);
        // xpay's query: the token, `signature` where the operation takes one, `pay_sig`; no
        // `sig_method` (behaviour.md section 10.1 step 2).
        let signatures = match &signed.signature {
            Some(signature) => format!("&signature={signature}&pay_sig={}", signed.pay_sig),
            None => format!("&pay_sig={}", signed.pay_sig),
        };
        let http = client.http();
        let url = http.url(op.uri());
        client
            .call(Dialect::Xpay, op.uri(), order_no, answers, |token: &AccessToken| {
                Ok(http
                    .client
                    .post(format!("{url}?access_token={}{signatures}", token.expose()))
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone()))
            })
            .await
    }
}
