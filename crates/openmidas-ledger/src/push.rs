//! Pushes (behaviour.md section 12): the events a change causes, kept in an outbox written
//! in the change's own transaction, and the rules of their delivery: when to try again,
//! when to give up, what an attempt changes.
//!
//! An event row names the order it is about; its content is rendered from that order's
//! facts, which never change once the event exists (what was bought, for how much, when it
//! was paid), so every delivery of an event carries the same content.

use std::fmt;

use crate::account::Env;
use crate::command::{Command, Op};
use crate::order::{Order, OrderKind, PurchaseChannel};

/// How long a node owns an event it is delivering: another node takes it only after that.
pub const PUSH_LEASE_MS: i64 = 30_000;
/// The longest reply (or failure reason) kept with an event, in bytes.
pub const MAX_PUSH_REPLY_BYTES: usize = 256;
/// The most events one claim takes.
pub const MAX_PUSH_CLAIM: u32 = 256;

/// The waits before each retry after a failed delivery, in seconds (section 12).
const RETRY_INTERVALS_SECS: [i64; 15] = [
    15, 15, 30, 180, 600, 1_200, 1_800, 1_800, 1_800, 3_600, 10_800, 10_800, 10_800, 21_600, 21_600,
];

/// The longest push URL, in bytes.
pub const MAX_PUSH_URL_BYTES: usize = 512;

/// How events reach the app's server, body and reply (behaviour.md section 12). Its
/// `Debug` hides the token and the key.
#[derive(Clone, PartialEq, Eq)]
pub struct PushSettings {
    pub url: String,
    /// Signs every delivery (`signature`, `msg_signature`).
    pub token: String,
    /// 43 characters; set exactly when `mode` is [`PushMode::Safe`].
    pub encoding_aes_key: Option<String>,
    pub mode: PushMode,
    pub format: PushFormat,
    pub ack: PushAck,
}

impl PushSettings {
    /// What WeChat's console accepts: an http(s) URL, a token of 3 to 32 letters and
    /// digits, and in safe mode a 43-character EncodingAESKey of letters and digits.
    pub fn check(&self) -> Result<(), String> {
        let url = self.url.as_str();
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .ok_or("push.url must start with http:// or https://")?;
        if rest.is_empty() || url.len() > MAX_PUSH_URL_BYTES || url.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(format!("push.url must be a URL of at most {MAX_PUSH_URL_BYTES} bytes"));
        }
        let alphanumeric = |text: &str| text.bytes().all(|b| b.is_ascii_alphanumeric());
        if !(3..=32).contains(&self.token.len()) || !alphanumeric(&self.token) {
            return Err("push.token must be 3 to 32 letters and digits".into());
        }
        match (self.mode, &self.encoding_aes_key) {
            (PushMode::Safe, Some(key)) if key.len() == 43 && alphanumeric(key) => Ok(()),
            (PushMode::Safe, _) => Err("push.encoding_aes_key must be 43 letters and digits in safe mode".into()),
            (PushMode::Plain, None) => Ok(()),
            (PushMode::Plain, Some(_)) => Err("push.encoding_aes_key is for mode \"safe\" only".into()),
        }
    }
}

impl fmt::Debug for PushSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushSettings")
            .field("url", &self.url)
            .field("token", &"<redacted>")
            .field(
                "encoding_aes_key",
                &self.encoding_aes_key.as_ref().map(|_| "<redacted>"),
            )
            .field("mode", &self.mode)
            .field("format", &self.format)
            .field("ack", &self.ack)
            .finish()
    }
}

/// Plaintext, or every message AES-encrypted (WeChat's "safe mode").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PushMode {
    #[default]
    Plain,
    Safe,
}

/// The body of xpay events (mini-game events are always JSON).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PushFormat {
    #[default]
    Json,
    Xml,
}

/// Which replies acknowledge an event: the documented ones, or also `errcode` 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PushAck {
    #[default]
    Strict,
    Lenient,
}

macro_rules! names {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }

            pub fn parse(text: &str) -> Option<$ty> {
                match text {
                    $($name => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

names!(PushMode { Plain => "plain", Safe => "safe" });
names!(PushFormat { Json => "json", Xml => "xml" });
names!(PushAck { Strict => "strict", Lenient => "lenient" });

/// Which events a listing shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushFilter {
    pub appid: Option<String>,
    pub status: Option<PushStatus>,
    /// Only events with a greater id (paging).
    pub after_id: i64,
    pub limit: u32,
}

/// What happened, as the game server hears it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushKind {
    /// A coin purchase was paid and its coins credited.
    CoinsDelivered,
    /// An item purchase was paid: the game server ships it (the ack marks it delivered).
    GoodsPaid,
    /// A money refund of a purchase completed.
    RefundDone,
}

impl PushKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            PushKind::CoinsDelivered => "coins_delivered",
            PushKind::GoodsPaid => "goods_paid",
            PushKind::RefundDone => "refund_done",
        }
    }

    pub fn parse(text: &str) -> Option<PushKind> {
        [PushKind::CoinsDelivered, PushKind::GoodsPaid, PushKind::RefundDone]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

impl fmt::Display for PushKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an event is in its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushStatus {
    /// Not acknowledged yet; tried at `next_attempt_ms`.
    Pending,
    Delivered,
    /// Given up after the last retry.
    Failed,
}

impl PushStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            PushStatus::Pending => "pending",
            PushStatus::Delivered => "delivered",
            PushStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<PushStatus> {
        [PushStatus::Pending, PushStatus::Delivered, PushStatus::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

impl fmt::Display for PushStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event a change caused, to be written with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPush {
    pub appid: String,
    pub env: Env,
    /// The purchase (or purchase refund) it is about, in the purchase book.
    pub number: String,
    pub kind: PushKind,
    pub channel: PurchaseChannel,
    /// The change's time: the event's `CreateTime`.
    pub created_ms: i64,
    /// When it is first sent (a refund's: when it completes).
    pub first_attempt_ms: i64,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    pub id: i64,
    pub appid: String,
    pub env: Env,
    pub number: String,
    pub kind: PushKind,
    pub channel: PurchaseChannel,
    pub created_ms: i64,
    pub status: PushStatus,
    /// Deliveries started so far, manual ones included; a scheduled one counts when it is
    /// claimed, so one cut short by a crash counts too.
    pub attempts: u32,
    /// Deliveries the schedule started so far: which retry interval comes next.
    pub scheduled_attempts: u32,
    pub next_attempt_ms: i64,
    /// Until then a node is delivering it; 0 when none.
    pub lease_until_ms: i64,
    /// The last reply, or why the last delivery failed ("" before the first).
    pub last_reply: String,
}

/// The result of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushAttempt {
    pub id: i64,
    pub at_ms: i64,
    /// The game server acknowledged it (section 12's success rules).
    pub acked: bool,
    /// Its reply, or why the delivery failed.
    pub reply: String,
    /// Made by the schedule (`false`: a manual redelivery, which moves no schedule).
    pub scheduled: bool,
    /// A scheduled delivery: the lease its claim took. Its result is recorded only while
    /// that lease is the event's (another claim after it expired owns the event now).
    pub lease_until_ms: i64,
}

impl Push {
    /// The waits of this event's retries: 15 for item deliveries and every xpay event, the
    /// first 13 for the other mini-game events.
    pub fn retry_intervals_secs(&self) -> &'static [i64] {
        match (self.channel, self.kind) {
            (PurchaseChannel::MiniGame, PushKind::CoinsDelivered | PushKind::RefundDone) => &RETRY_INTERVALS_SECS[..13],
            _ => &RETRY_INTERVALS_SECS,
        }
    }

    /// Whether an acknowledgement marks the purchase delivered (item purchases).
    pub fn delivers_on_ack(&self) -> bool {
        self.kind == PushKind::GoodsPaid
    }

    /// The event as a worker claims it at `now_ms`: leased for [`PUSH_LEASE_MS`], the
    /// delivery counted.
    pub fn claimed(&self, now_ms: i64) -> Push {
        Push {
            lease_until_ms: now_ms.saturating_add(PUSH_LEASE_MS),
            attempts: self.attempts.saturating_add(1),
            scheduled_attempts: self.scheduled_attempts.saturating_add(1),
            ..self.clone()
        }
    }

    /// `RetryTimes` of a delivery: the deliveries started before it.
    pub fn retry_times(&self, scheduled: bool) -> u32 {
        if scheduled {
            // Its claim counted it already.
            self.attempts.saturating_sub(1)
        } else {
            self.attempts
        }
    }

    /// Whether `attempt`'s result belongs to the event as it stands: a scheduled delivery's
    /// only while its lease is still the event's.
    pub fn takes(&self, attempt: &PushAttempt) -> bool {
        !attempt.scheduled || self.lease_until_ms == attempt.lease_until_ms
    }

    /// The event after `attempt`: delivered when acknowledged; else, for a scheduled one,
    /// the next retry, or failed after the last; a manual redelivery that fails changes
    /// only the counts and the reply. Either way the lease is released.
    pub fn after_attempt(&self, attempt: &PushAttempt) -> Push {
        let mut next = self.clone();
        if !attempt.scheduled {
            next.attempts = self.attempts.saturating_add(1);
        }
        next.lease_until_ms = 0;
        next.last_reply = truncate(&attempt.reply, MAX_PUSH_REPLY_BYTES);
        if attempt.acked {
            next.status = PushStatus::Delivered;
        } else if attempt.scheduled && self.status == PushStatus::Pending {
            // The first delivery is attempt 1; retry k waits intervals[k - 1].
            let retry = next.scheduled_attempts.max(1) as usize;
            match self.retry_intervals_secs().get(retry - 1) {
                Some(wait_secs) => next.next_attempt_ms = attempt.at_ms.saturating_add(wait_secs * 1000),
                None => next.status = PushStatus::Failed,
            }
        }
        next
    }
}

/// Cuts `text` to at most `max` bytes, on a character boundary.
fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// The event a command's change causes, if any, given the orders it wrote (`changed`, by
/// their index in [`Command::reads`]). Only a purchase that becomes paid and a purchase
/// refund that starts cause one, and only when the command asks for pushes (its app has
/// a push URL); a refund's event goes out when the refund completes.
pub fn caused(command: &Command, changed: &[(usize, Order)]) -> Option<NewPush> {
    let account = &command.account;
    let new = |order: &Order, number: &str, kind: PushKind, first_attempt_ms: i64| {
        let purchase = order.purchase.as_ref()?;
        Some(NewPush {
            appid: account.appid.clone(),
            env: account.env,
            number: number.to_string(),
            kind,
            channel: purchase.channel,
            created_ms: command.now_ms,
            first_attempt_ms,
        })
    };
    let paid_now = |number: &str| {
        let (_, order) = changed.iter().find(|(i, _)| *i == 0)?;
        let paid = order.purchase.as_ref()?.paid_at_ms == Some(command.now_ms);
        if !paid {
            return None;
        }
        let kind = match order.kind {
            OrderKind::CoinPurchase => PushKind::CoinsDelivered,
            OrderKind::ItemPurchase => PushKind::GoodsPaid,
            _ => return None,
        };
        new(order, number, kind, command.now_ms)
    };
    match &command.op {
        Op::Purchase(order) if order.push => paid_now(&order.number),
        Op::PayPurchase { number, push: true } => paid_now(number),
        Op::RefundPurchase(refund) if refund.push => {
            let (_, order) = changed.iter().find(|(i, _)| *i == 0)?;
            let purchase = order.purchase.as_ref()?;
            // Only xpay tells the game server of a money refund (xpay_refund_notify).
            if purchase.channel != PurchaseChannel::Xpay {
                return None;
            }
            let completes_at_ms = purchase.completes_at_ms.unwrap_or(command.now_ms);
            new(order, &refund.number, PushKind::RefundDone, completes_at_ms)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(channel: PurchaseChannel, kind: PushKind) -> Push {
        Push {
            id: 1,
            appid: "wx".into(),
            env: Env::Official,
            number: "n".into(),
            kind,
            channel,
            created_ms: 0,
            status: PushStatus::Pending,
            attempts: 0,
            scheduled_attempts: 0,
            next_attempt_ms: 0,
            lease_until_ms: 5,
            last_reply: String::new(),
        }
    }

    fn failed_at(at_ms: i64, scheduled: bool) -> PushAttempt {
        PushAttempt {
            id: 1,
            at_ms,
            acked: false,
            reply: "HTTP 500".into(),
            scheduled,
            lease_until_ms: 0,
        }
    }

    /// A scheduled delivery at `at_ms`: claim, then the failed attempt.
    fn scheduled_failure(p: &Push, at_ms: i64) -> Push {
        let claimed = p.claimed(at_ms);
        let attempt = PushAttempt {
            lease_until_ms: claimed.lease_until_ms,
            ..failed_at(at_ms, true)
        };
        assert!(claimed.takes(&attempt));
        claimed.after_attempt(&attempt)
    }

    /// Drives the schedule to its end: the waits between tries, in seconds.
    fn waits(mut p: Push) -> (Vec<i64>, Push) {
        let mut waits = Vec::new();
        let mut now = 0;
        loop {
            let next = scheduled_failure(&p, now);
            if next.status != PushStatus::Pending {
                return (waits, next);
            }
            waits.push((next.next_attempt_ms - now) / 1000);
            now = next.next_attempt_ms;
            p = next;
        }
    }

    #[test]
    fn schedules_follow_section_12() {
        let (goods, last) = waits(push(PurchaseChannel::MiniGame, PushKind::GoodsPaid));
        assert_eq!(goods, RETRY_INTERVALS_SECS);
        assert_eq!((last.status, last.attempts), (PushStatus::Failed, 16));
        let (xpay_coins, _) = waits(push(PurchaseChannel::Xpay, PushKind::CoinsDelivered));
        assert_eq!(xpay_coins.len(), 15);
        let (mini_game_coins, last) = waits(push(PurchaseChannel::MiniGame, PushKind::CoinsDelivered));
        assert_eq!(mini_game_coins, RETRY_INTERVALS_SECS[..13]);
        assert_eq!(last.attempts, 14);
    }

    #[test]
    fn an_ack_delivers_and_a_manual_failure_moves_no_schedule() {
        let p = push(PurchaseChannel::Xpay, PushKind::GoodsPaid);
        let first = scheduled_failure(&p, 1_000);
        assert_eq!((first.next_attempt_ms, first.lease_until_ms), (16_000, 0));
        assert_eq!(first.retry_times(false), 1, "the next manual delivery's RetryTimes");
        assert_eq!(first.claimed(16_000).retry_times(true), 1, "the next scheduled one's");
        let manual = first.after_attempt(&failed_at(2_000, false));
        assert_eq!(
            (manual.attempts, manual.scheduled_attempts, manual.next_attempt_ms),
            (2, 1, 16_000)
        );
        let acked = manual.after_attempt(&PushAttempt {
            acked: true,
            reply: "success".into(),
            ..failed_at(3_000, false)
        });
        assert_eq!((acked.status, acked.attempts), (PushStatus::Delivered, 3));
        // A failed redelivery of a delivered event leaves it delivered.
        let again = acked.after_attempt(&failed_at(4_000, false));
        assert_eq!(again.status, PushStatus::Delivered);
    }

    #[test]
    fn a_delivery_cut_short_counts_and_a_stale_lease_records_nothing() {
        let p = push(PurchaseChannel::Xpay, PushKind::GoodsPaid);
        // Claimed, then the node died: the lease runs out and another node claims it.
        let lost = p.claimed(0);
        let again = lost.claimed(PUSH_LEASE_MS);
        assert_eq!((again.attempts, again.retry_times(true)), (2, 1));
        // The first node's late result does not belong to the event any more.
        let late = PushAttempt {
            lease_until_ms: lost.lease_until_ms,
            ..failed_at(PUSH_LEASE_MS + 1, true)
        };
        assert!(!again.takes(&late));
        let current = PushAttempt {
            lease_until_ms: again.lease_until_ms,
            ..failed_at(PUSH_LEASE_MS + 1, true)
        };
        assert!(again.takes(&current));
    }

    #[test]
    fn replies_are_bounded_on_a_character_boundary() {
        let p = push(PurchaseChannel::Xpay, PushKind::GoodsPaid);
        let long = "é".repeat(MAX_PUSH_REPLY_BYTES);
        let next = p.after_attempt(&PushAttempt {
            reply: long,
            ..failed_at(0, false)
        });
        assert!(next.last_reply.len() <= MAX_PUSH_REPLY_BYTES);
        assert!(next.last_reply.chars().all(|c| c == 'é'));
    }

    #[test]
    fn only_a_purchase_becoming_paid_or_an_xpay_refund_starting_causes_an_event() {
        use crate::account::{Account, AccountKey};
        use crate::command::{Goods, PurchaseOrder, PurchaseRefund};
        use crate::decide::{decide, Decision};

        let account = AccountKey {
            env: Env::Sandbox,
            appid: "wx".into(),
            offer_id: "o".into(),
            zone_id: "1".into(),
            openid: "u".into(),
        };
        let command = |now_ms: i64, op: Op| Command::new(account.clone(), now_ms, op);
        let buy = |paid: bool, push: bool, channel: PurchaseChannel| {
            command(
                10,
                Op::Purchase(PurchaseOrder {
                    number: "t1".into(),
                    goods: Goods::Item {
                        product_id: "sword".into(),
                        quantity: 2,
                    },
                    fee_fen: 80,
                    orig_fee_fen: 100,
                    channel,
                    wx_order_id: "wx1".into(),
                    attach: String::new(),
                    paid,
                    push,
                }),
            )
        };
        let run = |command: &Command, read: &[Option<&Order>]| match decide(command, read, &Account::default()) {
            Ok(Decision::Apply(effect)) => (caused(command, &effect.orders), effect.orders),
            other => panic!("{other:?}"),
        };
        let (event, orders) = run(&buy(true, true, PurchaseChannel::Xpay), &[None]);
        let event = event.expect("a paid purchase is pushed");
        assert_eq!(
            (
                event.kind,
                event.channel,
                event.env,
                event.created_ms,
                event.first_attempt_ms
            ),
            (PushKind::GoodsPaid, PurchaseChannel::Xpay, Env::Sandbox, 10, 10)
        );
        assert_eq!(
            run(&buy(true, false, PurchaseChannel::Xpay), &[None]).0,
            None,
            "no push URL"
        );
        let (event, unpaid) = run(&buy(false, true, PurchaseChannel::MiniGame), &[None]);
        assert_eq!(event, None, "not paid yet");
        let pay = command(
            20,
            Op::PayPurchase {
                number: "t1".into(),
                push: true,
            },
        );
        let (event, _) = run(&pay, &[Some(&unpaid[0].1)]);
        assert_eq!(event.map(|e| (e.kind, e.created_ms)), Some((PushKind::GoodsPaid, 20)));
        // A refund: pushed when it completes, for xpay purchases only.
        let refund = |channel_order: &Order| {
            let left_fee = channel_order.purchase.as_ref().map_or(0, |p| p.left_fee());
            let command = command(
                30,
                Op::RefundPurchase(PurchaseRefund {
                    number: "r1".into(),
                    purchase_number: "t1".into(),
                    left_fee,
                    refund_fee: 10,
                    wx_order_id: "wx-r1".into(),
                    biz_meta: String::new(),
                    delay_ms: 5_000,
                    push: true,
                }),
            );
            run(&command, &[None, Some(channel_order)]).0
        };
        let event = refund(&orders[0].1).expect("an xpay refund is pushed");
        assert_eq!(
            (event.kind, event.number.as_str(), event.first_attempt_ms),
            (PushKind::RefundDone, "r1", 5_030)
        );
        let mut mini_game = orders[0].1.clone();
        if let Some(p) = mini_game.purchase.as_mut() {
            p.channel = PurchaseChannel::MiniGame;
        }
        assert_eq!(refund(&mini_game), None);
    }
}
