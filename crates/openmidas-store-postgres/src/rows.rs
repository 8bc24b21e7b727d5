//! Reads, and the SQL of the row operations the ledger plans ([`RowRead`], [`RowWrite`]);
//! the ledger's batch writes are set-based (see `batch`). Every statement is prepared once
//! per connection. The locking reads hold the row they find until the transaction ends, so
//! a concurrent node's transaction on the same row waits (or, under SERIALIZABLE, one of
//! them fails with 40001 and is re-run).

use openmidas_ledger::account::{Account, AccountKey, Env};
use openmidas_ledger::auth::{App, Session};
use openmidas_ledger::auth::{BillNoCharset, DuplicateBillPolicy, SignatureHex, StoredCode, TokenKind, TokenRecord};
use openmidas_ledger::bill::Bill;
use openmidas_ledger::command::{JournalEntry, MovementKind};
use openmidas_ledger::order::{Book, Order, OrderKey, OrderKind, OrderStatus, Purchase, PurchaseChannel};
use openmidas_ledger::push::{Push, PushAck, PushFilter, PushFormat, PushKind, PushMode, PushSettings, PushStatus};
use openmidas_ledger::store::{AccountFilter, OrderCursor, RowRead, RowValue, RowWrite};
use openmidas_ledger::Coins;
use tokio_postgres::Row;

use crate::error::TxError;
use crate::pool::Conn;

/// An order's columns, in the order [`order_from_row`] reads them.
macro_rules! order_columns {
    () => {
        "kind, status, zone_id, openid, amount, used_gift, refunded_cash, refunded_gift, pay_number,
         balance_after, created_at_ms, updated_at_ms, product_id, fee_fen, wx_order_id, attach,
         paid_at_ms, delivered_at_ms, cancelled_at_ms, refunded_fee, completes_at_ms, orig_fee_fen,
         purchase_channel"
    };
}

/// An app's columns, in the order [`app_from_row`] reads them.
macro_rules! app_columns {
    () => {
        "appid, secret, offer_id, app_key, sandbox_app_key, require_mp_sig, ts_window_secs,
         duplicate_bill_no, cancel_window_secs, signature_hex, bill_no_charset, coin_price_fen,
         session_ttl_secs, refund_delay_secs, push_url, push_token, push_encoding_aes_key, push_mode,
         push_format, push_ack, token_daily_limit"
    };
}

/// An event's columns, in the order [`push_from_row`] reads them.
macro_rules! push_columns {
    () => {
        "id, appid, env, order_no, kind, channel, created_ms, status, attempts, scheduled_attempts,
         next_attempt_ms, lease_until_ms, last_reply"
    };
}

macro_rules! bill_columns {
    () => {
        "appid, env, begin_ds, end_ds, requested_at_ms, token, expires_at_ms"
    };
}

fn corrupt(what: &str) -> TxError {
    TxError::Corrupt(what.to_string())
}

fn app_from_row(row: &Row) -> Result<App, TxError> {
    let policy: String = row.try_get(7)?;
    let window: Option<i64> = row.try_get(6)?;
    let hex: String = row.try_get(9)?;
    let charset: String = row.try_get(10)?;
    let cancel_window: i64 = row.try_get(8)?;
    let coin_price: i64 = row.try_get(11)?;
    let session_ttl: Option<i64> = row.try_get(12)?;
    let refund_delay: i64 = row.try_get(13)?;
    Ok(App {
        appid: row.try_get(0)?,
        secret: row.try_get(1)?,
        offer_id: row.try_get(2)?,
        app_key: row.try_get(3)?,
        sandbox_app_key: row.try_get(4)?,
        require_mp_sig: row.try_get(5)?,
        ts_window_secs: window.and_then(|w| u32::try_from(w).ok()),
        duplicate_bill_no: DuplicateBillPolicy::parse(&policy).ok_or_else(|| corrupt("apps.duplicate_bill_no"))?,
        cancel_window_secs: u32::try_from(cancel_window).map_err(|_| corrupt("apps.cancel_window_secs"))?,
        signature_hex: SignatureHex::parse(&hex).ok_or_else(|| corrupt("apps.signature_hex"))?,
        bill_no_charset: BillNoCharset::parse(&charset).ok_or_else(|| corrupt("apps.bill_no_charset"))?,
        coin_price_fen: u32::try_from(coin_price).map_err(|_| corrupt("apps.coin_price_fen"))?,
        session_ttl_secs: session_ttl.and_then(|t| u32::try_from(t).ok()),
        refund_delay_secs: u32::try_from(refund_delay).map_err(|_| corrupt("apps.refund_delay_secs"))?,
        push: push_settings_from_row(row, 14)?,
        token_daily_limit: u32::try_from(row.try_get::<_, i64>(20)?).map_err(|_| corrupt("apps.token_daily_limit"))?,
    })
}

/// An app's push settings from its six columns (`push_url` ... `push_ack`), starting at
/// column `base`: none when `push_url` is NULL.
fn push_settings_from_row(row: &Row, base: usize) -> Result<Option<PushSettings>, TxError> {
    let Some(url) = row.try_get::<_, Option<String>>(base)? else {
        return Ok(None);
    };
    let setting = |offset: usize, name: &str| -> Result<String, TxError> {
        row.try_get::<_, Option<String>>(base + offset)?
            .ok_or_else(|| corrupt(name))
    };
    let mode = setting(3, "apps.push_mode")?;
    let format = setting(4, "apps.push_format")?;
    let ack = setting(5, "apps.push_ack")?;
    Ok(Some(PushSettings {
        url,
        token: setting(1, "apps.push_token")?,
        encoding_aes_key: row.try_get(base + 2)?,
        mode: PushMode::parse(&mode).ok_or_else(|| corrupt("apps.push_mode"))?,
        format: PushFormat::parse(&format).ok_or_else(|| corrupt("apps.push_format"))?,
        ack: PushAck::parse(&ack).ok_or_else(|| corrupt("apps.push_ack"))?,
    }))
}

pub(crate) async fn app(conn: &mut Conn, appid: &str) -> Result<Option<App>, TxError> {
    let row = conn
        .query_opt(
            concat!("SELECT ", app_columns!(), " FROM apps WHERE appid = $1"),
            &[&appid],
        )
        .await?;
    row.as_ref().map(app_from_row).transpose()
}

pub(crate) async fn apps(conn: &mut Conn) -> Result<Vec<App>, TxError> {
    let rows = conn
        .query(concat!("SELECT ", app_columns!(), " FROM apps ORDER BY appid"), &[])
        .await?;
    rows.iter().map(app_from_row).collect()
}

async fn upsert_app(conn: &mut Conn, app: &App, now_ms: i64) -> Result<(), TxError> {
    let window = app.ts_window_secs.map(i64::from);
    let cancel_window = i64::from(app.cancel_window_secs);
    let coin_price = i64::from(app.coin_price_fen);
    let session_ttl = app.session_ttl_secs.map(i64::from);
    let refund_delay = i64::from(app.refund_delay_secs);
    let token_daily_limit = i64::from(app.token_daily_limit);
    let push = app.push.as_ref();
    let push_url = push.map(|p| p.url.as_str());
    let push_token = push.map(|p| p.token.as_str());
    let push_key = push.and_then(|p| p.encoding_aes_key.as_deref());
    let push_mode = push.map(|p| p.mode.as_str());
    let push_format = push.map(|p| p.format.as_str());
    let push_ack = push.map(|p| p.ack.as_str());
    conn.execute(
        "INSERT INTO apps (appid, secret, offer_id, app_key, sandbox_app_key, require_mp_sig,
                           ts_window_secs, duplicate_bill_no, cancel_window_secs, signature_hex,
                           bill_no_charset, coin_price_fen, session_ttl_secs, refund_delay_secs,
                           created_at_ms, updated_at_ms, push_url, push_token, push_encoding_aes_key,
                           push_mode, push_format, push_ack, token_daily_limit)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $15, $14, $14,
                 $16, $17, $18, $19, $20, $21, $22)
         ON CONFLICT (appid) DO UPDATE SET
            secret = excluded.secret, offer_id = excluded.offer_id, app_key = excluded.app_key,
            sandbox_app_key = excluded.sandbox_app_key, require_mp_sig = excluded.require_mp_sig,
            ts_window_secs = excluded.ts_window_secs, duplicate_bill_no = excluded.duplicate_bill_no,
            cancel_window_secs = excluded.cancel_window_secs, signature_hex = excluded.signature_hex,
            bill_no_charset = excluded.bill_no_charset, coin_price_fen = excluded.coin_price_fen,
            session_ttl_secs = excluded.session_ttl_secs, refund_delay_secs = excluded.refund_delay_secs,
            push_url = excluded.push_url, push_token = excluded.push_token,
            push_encoding_aes_key = excluded.push_encoding_aes_key, push_mode = excluded.push_mode,
            push_format = excluded.push_format, push_ack = excluded.push_ack,
            token_daily_limit = excluded.token_daily_limit,
            updated_at_ms = excluded.updated_at_ms",
        &[
            &app.appid,
            &app.secret,
            &app.offer_id,
            &app.app_key,
            &app.sandbox_app_key,
            &app.require_mp_sig,
            &window,
            &app.duplicate_bill_no.as_str(),
            &cancel_window,
            &app.signature_hex.as_str(),
            &app.bill_no_charset.as_str(),
            &coin_price,
            &session_ttl,
            &now_ms,
            &refund_delay,
            &push_url,
            &push_token,
            &push_key,
            &push_mode,
            &push_format,
            &push_ack,
            &token_daily_limit,
        ],
    )
    .await?;
    Ok(())
}

fn token_from_row(row: &Row) -> Result<TokenRecord, TxError> {
    let kind: String = row.try_get(2)?;
    Ok(TokenRecord {
        token: row.try_get(0)?,
        appid: row.try_get(1)?,
        kind: TokenKind::parse(&kind).ok_or_else(|| corrupt("access_tokens.kind"))?,
        issued_at_ms: row.try_get(3)?,
        expires_at_ms: row.try_get(4)?,
        retired_at_ms: row.try_get(5)?,
    })
}

pub(crate) async fn token(conn: &mut Conn, token: &str) -> Result<Option<TokenRecord>, TxError> {
    let row = conn
        .query_opt(
            "SELECT token, appid, kind, issued_at_ms, expires_at_ms, retired_at_ms
             FROM access_tokens WHERE token = $1",
            &[&token],
        )
        .await?;
    row.as_ref().map(token_from_row).transpose()
}

/// Carries out a [`RowRead`], locking what it reads.
pub(crate) async fn row_read(conn: &mut Conn, read: RowRead<'_>) -> Result<RowValue, TxError> {
    match read {
        RowRead::Nothing => Ok(RowValue::Nothing),
        RowRead::CurrentToken {
            appid,
            kind,
            issued_after_ms,
            count_up_to,
        } => {
            // Token issues of one app, from any node, run one at a time.
            conn.query_opt("SELECT appid FROM apps WHERE appid = $1 FOR UPDATE", &[&appid])
                .await?;
            let row = conn
                .query_opt(
                    "SELECT token, appid, kind, issued_at_ms, expires_at_ms, retired_at_ms
                     FROM access_tokens
                     WHERE appid = $1 AND kind = $2 AND retired_at_ms IS NULL
                     ORDER BY issued_at_ms DESC LIMIT 1",
                    &[&appid, &kind.as_str()],
                )
                .await?;
            let current = row.as_ref().map(token_from_row).transpose()?;
            // Counted on access_tokens_by_app, never past the quota.
            let issued: i64 = conn
                .query_opt(
                    "SELECT count(*) FROM (SELECT 1 FROM access_tokens
                     WHERE appid = $1 AND kind = $2 AND issued_at_ms > $3 LIMIT $4) AS recent",
                    &[&appid, &kind.as_str(), &issued_after_ms, &i64::from(count_up_to)],
                )
                .await?
                .ok_or_else(|| corrupt("access_tokens count"))?
                .try_get(0)?;
            let issued = u32::try_from(issued).map_err(|_| corrupt("access_tokens count"))?;
            Ok(RowValue::Token { current, issued })
        }
        RowRead::LoginCode { code } => {
            let row = conn
                .query_opt(
                    "SELECT appid, openid, expires_at_ms, used_at_ms FROM login_codes WHERE code = $1 FOR UPDATE",
                    &[&code],
                )
                .await?;
            let stored = match row {
                None => None,
                Some(r) => Some(StoredCode {
                    appid: r.try_get(0)?,
                    openid: r.try_get(1)?,
                    expires_at_ms: r.try_get(2)?,
                    used_at_ms: r.try_get(3)?,
                }),
            };
            Ok(RowValue::Code(stored))
        }
        RowRead::Clock => crate::state::clock(conn, true).await.map(RowValue::Clock),
        RowRead::Bill {
            appid,
            env,
            begin_ds,
            end_ds,
        } => {
            let row = conn
                .query_opt(
                    concat!(
                        "SELECT ",
                        bill_columns!(),
                        " FROM bills WHERE appid = $1 AND env = $2 AND begin_ds = $3 AND end_ds = $4 FOR UPDATE"
                    ),
                    &[&appid, &env.as_str(), &begin_ds, &end_ds],
                )
                .await?;
            Ok(RowValue::Bill(row.as_ref().map(bill_from_row).transpose()?))
        }
        RowRead::DuePushes { now_ms, limit } => {
            // Several nodes claim at once: each takes rows no other transaction holds, so
            // an event is leased by one node only (its lease, written in this transaction,
            // keeps it from the next claims once committed).
            let limit = i64::from(limit);
            let rows = conn
                .query(
                    concat!(
                        "SELECT ",
                        push_columns!(),
                        " FROM pushes WHERE status = 'pending' AND next_attempt_ms <= $1 AND lease_until_ms <= $1
                          ORDER BY next_attempt_ms, id LIMIT $2 FOR UPDATE SKIP LOCKED"
                    ),
                    &[&now_ms, &limit],
                )
                .await?;
            Ok(RowValue::Pushes(
                rows.iter().map(push_from_row).collect::<Result<_, _>>()?,
            ))
        }
        RowRead::Push { id } => {
            let row = conn
                .query_opt(
                    concat!("SELECT ", push_columns!(), " FROM pushes WHERE id = $1 FOR UPDATE"),
                    &[&id],
                )
                .await?;
            Ok(RowValue::Push(row.as_ref().map(push_from_row).transpose()?))
        }
    }
}

fn push_from_row(row: &Row) -> Result<Push, TxError> {
    let env: String = row.try_get(2)?;
    let kind: String = row.try_get(4)?;
    let channel: String = row.try_get(5)?;
    let status: String = row.try_get(7)?;
    let count = |i: usize, what: &str| -> Result<u32, TxError> {
        u32::try_from(row.try_get::<_, i64>(i)?).map_err(|_| corrupt(what))
    };
    Ok(Push {
        id: row.try_get(0)?,
        appid: row.try_get(1)?,
        env: Env::parse(&env).ok_or_else(|| corrupt("pushes.env"))?,
        number: row.try_get(3)?,
        kind: PushKind::parse(&kind).ok_or_else(|| corrupt("pushes.kind"))?,
        channel: PurchaseChannel::parse(&channel).ok_or_else(|| corrupt("pushes.channel"))?,
        created_ms: row.try_get(6)?,
        status: PushStatus::parse(&status).ok_or_else(|| corrupt("pushes.status"))?,
        attempts: count(8, "pushes.attempts")?,
        scheduled_attempts: count(9, "pushes.scheduled_attempts")?,
        next_attempt_ms: row.try_get(10)?,
        lease_until_ms: row.try_get(11)?,
        last_reply: row.try_get(12)?,
    })
}

pub(crate) async fn pushes(conn: &mut Conn, filter: &PushFilter) -> Result<Vec<Push>, TxError> {
    let status = filter.status.map(PushStatus::as_str);
    let limit = i64::from(filter.limit);
    let rows = conn
        .query(
            concat!(
                "SELECT ",
                push_columns!(),
                " FROM pushes WHERE ($1::TEXT IS NULL OR appid = $1) AND ($2::TEXT IS NULL OR status = $2)
                    AND id > $3
                  ORDER BY id LIMIT $4"
            ),
            &[&filter.appid, &status, &filter.after_id, &limit],
        )
        .await?;
    rows.iter().map(push_from_row).collect()
}

pub(crate) async fn push(conn: &mut Conn, id: i64) -> Result<Option<Push>, TxError> {
    let row = conn
        .query_opt(
            concat!("SELECT ", push_columns!(), " FROM pushes WHERE id = $1"),
            &[&id],
        )
        .await?;
    row.as_ref().map(push_from_row).transpose()
}

/// Carries out a [`RowWrite`].
pub(crate) async fn row_write(conn: &mut Conn, write: &RowWrite<'_>) -> Result<(), TxError> {
    match write {
        RowWrite::UpsertApp { app, now_ms } => upsert_app(conn, app, *now_ms).await,
        RowWrite::RetireTokens { appid, kind, at_ms } => {
            conn.execute(
                "UPDATE access_tokens SET retired_at_ms = $3
                 WHERE appid = $1 AND kind = $2 AND retired_at_ms IS NULL",
                &[appid, &kind.as_str(), at_ms],
            )
            .await?;
            Ok(())
        }
        RowWrite::PruneTokens {
            appid,
            expired_before_ms,
            limit,
        } => {
            // A bounded batch (access_tokens_by_expiry), never every expired token at once;
            // `= ANY(ARRAY(...))` keeps the generic plan on the primary key (with `IN`, it
            // guessed a tenth of the table for `LIMIT $3` and hash-joined a full scan).
            conn.execute(
                "DELETE FROM access_tokens WHERE token = ANY(ARRAY(
                    SELECT token FROM access_tokens WHERE appid = $1 AND expires_at_ms < $2
                    ORDER BY expires_at_ms LIMIT $3))",
                &[appid, expired_before_ms, &i64::from(*limit)],
            )
            .await?;
            Ok(())
        }
        RowWrite::InsertToken(t) => {
            conn.execute(
                "INSERT INTO access_tokens (token, appid, kind, issued_at_ms, expires_at_ms, retired_at_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &t.token,
                    &t.appid,
                    &t.kind.as_str(),
                    &t.issued_at_ms,
                    &t.expires_at_ms,
                    &t.retired_at_ms,
                ],
            )
            .await?;
            Ok(())
        }
        RowWrite::PruneLoginCodes { expired_before_ms } => {
            conn.execute("DELETE FROM login_codes WHERE expires_at_ms < $1", &[expired_before_ms])
                .await?;
            Ok(())
        }
        RowWrite::InsertLoginCode(code) => {
            conn.execute(
                "INSERT INTO login_codes (code, appid, openid, created_at_ms, expires_at_ms)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &code.code,
                    &code.appid,
                    &code.openid,
                    &code.created_at_ms,
                    &code.expires_at_ms,
                ],
            )
            .await?;
            Ok(())
        }
        RowWrite::MarkCodeUsed { code, at_ms } => {
            conn.execute("UPDATE login_codes SET used_at_ms = $2 WHERE code = $1", &[code, at_ms])
                .await?;
            Ok(())
        }
        RowWrite::UpsertSession(s) => {
            conn.execute(
                "INSERT INTO sessions (appid, openid, session_key, created_at_ms) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (appid, openid) DO UPDATE SET session_key = excluded.session_key,
                    created_at_ms = excluded.created_at_ms",
                &[&s.appid, &s.openid, &s.session_key, &s.created_at_ms],
            )
            .await?;
            Ok(())
        }
        RowWrite::SetClock(state) => crate::state::set_clock(conn, state).await,
        RowWrite::Reset(scope) => crate::state::reset(conn, scope).await,
        RowWrite::ReplaceState(doc) => crate::state::replace(conn, doc).await,
        RowWrite::UpsertBill(bill) => {
            conn.execute(
                concat!(
                    "INSERT INTO bills (",
                    bill_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (appid, env, begin_ds, end_ds) DO UPDATE SET token = excluded.token,
                        expires_at_ms = excluded.expires_at_ms"
                ),
                &[
                    &bill.appid,
                    &bill.env.as_str(),
                    &bill.begin_ds,
                    &bill.end_ds,
                    &bill.requested_at_ms,
                    &bill.token,
                    &bill.expires_at_ms,
                ],
            )
            .await?;
            Ok(())
        }
        RowWrite::UpdatePush(push) => {
            let attempts = i64::from(push.attempts);
            let scheduled = i64::from(push.scheduled_attempts);
            conn.execute(
                "UPDATE pushes SET status = $2, attempts = $3, scheduled_attempts = $4, next_attempt_ms = $5,
                    lease_until_ms = $6, last_reply = $7
                 WHERE id = $1",
                &[
                    &push.id,
                    &push.status.as_str(),
                    &attempts,
                    &scheduled,
                    &push.next_attempt_ms,
                    &push.lease_until_ms,
                    &push.last_reply,
                ],
            )
            .await?;
            Ok(())
        }
    }
}

fn bill_from_row(row: &Row) -> Result<Bill, TxError> {
    let env: String = row.try_get(1)?;
    Ok(Bill {
        appid: row.try_get(0)?,
        env: Env::parse(&env).ok_or_else(|| corrupt("bills.env"))?,
        begin_ds: row.try_get(2)?,
        end_ds: row.try_get(3)?,
        requested_at_ms: row.try_get(4)?,
        token: row.try_get(5)?,
        expires_at_ms: row.try_get(6)?,
    })
}

pub(crate) async fn bill(conn: &mut Conn, token: &str) -> Result<Option<Bill>, TxError> {
    let row = conn
        .query_opt(
            concat!("SELECT ", bill_columns!(), " FROM bills WHERE token = $1"),
            &[&token],
        )
        .await?;
    row.as_ref().map(bill_from_row).transpose()
}

/// `offer_id, order_no`, then an order's columns.
fn keyed_order(row: &Row, appid: &str, env: Env) -> Result<(OrderKey, Order), TxError> {
    let key = OrderKey {
        env,
        appid: appid.to_string(),
        offer_id: row.try_get(0)?,
        book: Book::Purchase,
        number: row.try_get(1)?,
    };
    Ok((key, order_from_row(row, 2)?))
}

pub(crate) async fn order_by_wx_order_id(
    conn: &mut Conn,
    appid: &str,
    env: Env,
    wx_order_id: &str,
) -> Result<Option<(OrderKey, Order)>, TxError> {
    let row = conn
        .query_opt(
            concat!(
                "SELECT offer_id, order_no, ",
                order_columns!(),
                " FROM orders WHERE appid = $1 AND env = $2 AND wx_order_id = $3 AND namespace = 'trade' LIMIT 1"
            ),
            &[&appid, &env.as_str(), &wx_order_id],
        )
        .await?;
    row.as_ref().map(|r| keyed_order(r, appid, env)).transpose()
}

pub(crate) async fn purchases(
    conn: &mut Conn,
    appid: &str,
    env: Env,
    from_ms: i64,
    to_ms: i64,
    limit: u32,
) -> Result<Vec<(OrderKey, Order)>, TxError> {
    let limit = i64::from(limit);
    let rows = conn
        .query(
            concat!(
                "SELECT offer_id, order_no, ",
                order_columns!(),
                " FROM orders WHERE appid = $1 AND env = $2 AND namespace = 'trade'
                    AND created_at_ms >= $3 AND created_at_ms < $4
                  ORDER BY created_at_ms, order_no LIMIT $5"
            ),
            &[&appid, &env.as_str(), &from_ms, &to_ms, &limit],
        )
        .await?;
    rows.iter().map(|r| keyed_order(r, appid, env)).collect()
}

pub(crate) async fn session(conn: &mut Conn, appid: &str, openid: &str) -> Result<Option<Session>, TxError> {
    let row = conn
        .query_opt(
            "SELECT appid, openid, session_key, created_at_ms FROM sessions WHERE appid = $1 AND openid = $2",
            &[&appid, &openid],
        )
        .await?;
    match row {
        None => Ok(None),
        Some(r) => Ok(Some(Session {
            appid: r.try_get(0)?,
            openid: r.try_get(1)?,
            session_key: r.try_get(2)?,
            created_at_ms: r.try_get(3)?,
        })),
    }
}

/// An account from its seven columns, starting at column `base`.
pub(crate) fn account_from_row(r: &Row, base: usize) -> Result<Account, TxError> {
    Ok(Account {
        cash: r.try_get(base)?,
        gift: r.try_get(base + 1)?,
        save_amt: r.try_get(base + 2)?,
        save_sum: r.try_get(base + 3)?,
        cost_sum: r.try_get(base + 4)?,
        present_sum: r.try_get(base + 5)?,
        recharged: r.try_get(base + 6)?,
    })
}

pub(crate) async fn account(conn: &mut Conn, key: &AccountKey) -> Result<Option<Account>, TxError> {
    let row = conn
        .query_opt(
            "SELECT cash, gift, save_amt, save_sum, cost_sum, present_sum, recharged FROM accounts
             WHERE env = $1 AND appid = $2 AND offer_id = $3 AND zone_id = $4 AND openid = $5",
            &[&key.env.as_str(), &key.appid, &key.offer_id, &key.zone_id, &key.openid],
        )
        .await?;
    row.as_ref().map(|r| account_from_row(r, 0)).transpose()
}

/// An order from its twenty-three columns (`kind` ... `purchase_channel`, as
/// `order_columns!`), starting at column `base`.
pub(crate) fn order_from_row(r: &Row, base: usize) -> Result<Order, TxError> {
    let kind: String = r.try_get(base)?;
    let kind = OrderKind::parse(&kind).ok_or_else(|| corrupt("orders.kind"))?;
    let status: String = r.try_get(base + 1)?;
    let fee_fen = r.try_get::<_, Option<i64>>(base + 13)?.unwrap_or_default();
    let purchase = match kind.book() {
        Book::Currency => None,
        Book::Purchase => Some(Purchase {
            product_id: r.try_get::<_, Option<String>>(base + 12)?.unwrap_or_default(),
            fee_fen,
            // Purchases made before version 5 kept neither: no discount, mini-game.
            orig_fee_fen: r.try_get::<_, Option<i64>>(base + 21)?.unwrap_or(fee_fen),
            channel: match r.try_get::<_, Option<String>>(base + 22)? {
                Some(channel) => PurchaseChannel::parse(&channel).ok_or_else(|| corrupt("orders.purchase_channel"))?,
                None => PurchaseChannel::default(),
            },
            wx_order_id: r.try_get::<_, Option<String>>(base + 14)?.unwrap_or_default(),
            attach: r.try_get::<_, Option<String>>(base + 15)?.unwrap_or_default(),
            paid_at_ms: r.try_get(base + 16)?,
            delivered_at_ms: r.try_get(base + 17)?,
            refunded_fee: r.try_get(base + 19)?,
            completes_at_ms: r.try_get(base + 20)?,
        }),
    };
    Ok(Order {
        kind,
        status: OrderStatus::parse(&status).ok_or_else(|| corrupt("orders.status"))?,
        zone_id: r.try_get(base + 2)?,
        openid: r.try_get(base + 3)?,
        amount: r.try_get(base + 4)?,
        gift: r.try_get(base + 5)?,
        refunded: Coins {
            cash: r.try_get(base + 6)?,
            gift: r.try_get(base + 7)?,
        },
        pay_number: r.try_get(base + 8)?,
        balance_after: r.try_get(base + 9)?,
        created_at_ms: r.try_get(base + 10)?,
        updated_at_ms: r.try_get(base + 11)?,
        purchase,
    }
    .with_legacy_cancel(r.try_get(base + 18)?))
}

pub(crate) async fn order(conn: &mut Conn, key: &OrderKey) -> Result<Option<Order>, TxError> {
    let row = conn
        .query_opt(
            concat!(
                "SELECT ",
                order_columns!(),
                " FROM orders WHERE env = $1 AND appid = $2 AND offer_id = $3 AND namespace = $4 AND order_no = $5"
            ),
            &[
                &key.env.as_str(),
                &key.appid,
                &key.offer_id,
                &key.book.as_str(),
                &key.number,
            ],
        )
        .await?;
    row.as_ref().map(|r| order_from_row(r, 0)).transpose()
}

pub(crate) async fn journal(
    conn: &mut Conn,
    key: &AccountKey,
    after_id: i64,
    limit: u32,
) -> Result<Vec<(i64, JournalEntry)>, TxError> {
    let limit = i64::from(limit);
    let rows = conn
        .query(
            "SELECT id, kind, order_no, amount, cash_delta, gift_delta, balance_after, at_ms FROM journal
             WHERE env = $1 AND appid = $2 AND offer_id = $3 AND zone_id = $4 AND openid = $5 AND id > $6
             ORDER BY id LIMIT $7",
            &[
                &key.env.as_str(),
                &key.appid,
                &key.offer_id,
                &key.zone_id,
                &key.openid,
                &after_id,
                &limit,
            ],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let kind: String = r.try_get(1)?;
            Ok((
                r.try_get::<_, i64>(0)?,
                JournalEntry {
                    key: key.clone(),
                    kind: MovementKind::parse(&kind).ok_or_else(|| corrupt("journal.kind"))?,
                    order_no: r.try_get(2)?,
                    amount: r.try_get(3)?,
                    cash_delta: r.try_get(4)?,
                    gift_delta: r.try_get(5)?,
                    balance_after: r.try_get(6)?,
                    at_ms: r.try_get(7)?,
                },
            ))
        })
        .collect()
}

/// The dashboard's players: one SQL text per combination of bounds, each a range of index
/// `accounts_by_openid` (openids compare byte-wise, `COLLATE "C"`).
macro_rules! accounts_sql {
    ($($bound:literal),*) => {
        concat!(
            "SELECT offer_id, zone_id, openid, cash, gift, save_amt, save_sum, cost_sum, present_sum, recharged
             FROM accounts WHERE env = $1 AND appid = $2 AND openid COLLATE \"C\" >= $3",
            $($bound,)*
            " ORDER BY openid COLLATE \"C\", offer_id, zone_id LIMIT $4"
        )
    };
}

/// Accounts of an app and env in `(openid, offer_id, zone_id)` order.
pub(crate) async fn accounts(conn: &mut Conn, filter: &AccountFilter) -> Result<Vec<(AccountKey, Account)>, TxError> {
    let limit = i64::from(filter.limit);
    let env = filter.env.as_str();
    let end = filter.prefix_end();
    let lower = filter.range_start();
    let rows = match (&end, &filter.after) {
        (None, None) => {
            conn.query(accounts_sql!(), &[&env, &filter.appid, &filter.openid_prefix, &limit])
                .await?
        }
        (Some(end), None) => {
            conn.query(
                accounts_sql!(" AND openid COLLATE \"C\" < $5"),
                &[&env, &filter.appid, &filter.openid_prefix, &limit, end],
            )
            .await?
        }
        (None, Some(after)) => {
            conn.query(
                accounts_sql!(" AND (openid COLLATE \"C\", offer_id, zone_id) > ($5, $6, $7)"),
                &[
                    &env,
                    &filter.appid,
                    &lower,
                    &limit,
                    &after.openid,
                    &after.offer_id,
                    &after.zone_id,
                ],
            )
            .await?
        }
        (Some(end), Some(after)) => {
            conn.query(
                accounts_sql!(
                    " AND openid COLLATE \"C\" < $8",
                    " AND (openid COLLATE \"C\", offer_id, zone_id) > ($5, $6, $7)"
                ),
                &[
                    &env,
                    &filter.appid,
                    &lower,
                    &limit,
                    &after.openid,
                    &after.offer_id,
                    &after.zone_id,
                    end,
                ],
            )
            .await?
        }
    };
    rows.iter()
        .map(|r| {
            let key = AccountKey {
                env: filter.env,
                appid: filter.appid.clone(),
                offer_id: r.try_get(0)?,
                zone_id: r.try_get(1)?,
                openid: r.try_get(2)?,
            };
            Ok((key, account_from_row(r, 3)?))
        })
        .collect()
}

/// An account's orders of both books, newest first (index `orders_by_account`).
pub(crate) async fn orders_of(
    conn: &mut Conn,
    key: &AccountKey,
    after: Option<&OrderCursor>,
    limit: u32,
) -> Result<Vec<(OrderKey, Order)>, TxError> {
    let limit = i64::from(limit);
    let env = key.env.as_str();
    let rows = match after {
        None => {
            conn.query(
                concat!(
                    "SELECT namespace, order_no, ",
                    order_columns!(),
                    " FROM orders WHERE env = $1 AND appid = $2 AND offer_id = $3 AND zone_id = $4 AND openid = $5
                      ORDER BY created_at_ms DESC, namespace DESC, order_no DESC LIMIT $6"
                ),
                &[&env, &key.appid, &key.offer_id, &key.zone_id, &key.openid, &limit],
            )
            .await?
        }
        Some(after) => {
            conn.query(
                concat!(
                    "SELECT namespace, order_no, ",
                    order_columns!(),
                    " FROM orders WHERE env = $1 AND appid = $2 AND offer_id = $3 AND zone_id = $4 AND openid = $5
                      AND (created_at_ms, namespace, order_no) < ($7, $8, $9)
                      ORDER BY created_at_ms DESC, namespace DESC, order_no DESC LIMIT $6"
                ),
                &[
                    &env,
                    &key.appid,
                    &key.offer_id,
                    &key.zone_id,
                    &key.openid,
                    &limit,
                    &after.created_at_ms,
                    &after.book.as_str(),
                    &after.number,
                ],
            )
            .await?
        }
    };
    rows.iter()
        .map(|r| {
            let book: String = r.try_get(0)?;
            let order_key = OrderKey {
                env: key.env,
                appid: key.appid.clone(),
                offer_id: key.offer_id.clone(),
                book: Book::parse(&book).ok_or_else(|| corrupt("orders.namespace"))?,
                number: r.try_get(1)?,
            };
            Ok((order_key, order_from_row(r, 2)?))
        })
        .collect()
}
