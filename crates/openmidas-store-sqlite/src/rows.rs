//! Row reads and writes, shared by the writer thread and the readers: the SQL of the row
//! operations the ledger plans ([`RowRead`], [`RowWrite`], [`Writes`]) and of the reads.
//! Every statement is prepared once per connection (`prepare_cached`).

use openmidas_ledger::account::{Account, AccountKey, Env};
use openmidas_ledger::auth::{
    App, BillNoCharset, DuplicateBillPolicy, LoginCode, Session, SignatureHex, StoredCode, TokenKind, TokenRecord,
};
use openmidas_ledger::batch::Writes;
use openmidas_ledger::bill::Bill;
use openmidas_ledger::command::{JournalEntry, MovementKind};
use openmidas_ledger::order::{Book, Order, OrderKey, OrderKind, OrderStatus, Purchase, PurchaseChannel};
use openmidas_ledger::push::{
    NewPush, Push, PushAck, PushFilter, PushFormat, PushKind, PushMode, PushSettings, PushStatus,
};
use openmidas_ledger::store::{AccountFilter, OrderCursor, RowRead, RowValue, RowWrite};
use openmidas_ledger::Coins;
use rusqlite::{params, Connection, OptionalExtension, Row};

macro_rules! bill_columns {
    () => {
        "appid, env, begin_ds, end_ds, requested_at_ms, token, expires_at_ms"
    };
}

macro_rules! push_columns {
    () => {
        "id, appid, env, order_no, kind, channel, created_ms, status, attempts, scheduled_attempts,
         next_attempt_ms, lease_until_ms, last_reply"
    };
}

fn bad_text(column: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, what.to_string().into())
}

fn app_from_row(row: &Row<'_>) -> rusqlite::Result<App> {
    let policy: String = row.get(7)?;
    let window: Option<i64> = row.get(6)?;
    let hex: String = row.get(9)?;
    let charset: String = row.get(10)?;
    Ok(App {
        appid: row.get(0)?,
        secret: row.get(1)?,
        offer_id: row.get(2)?,
        app_key: row.get(3)?,
        sandbox_app_key: row.get(4)?,
        require_mp_sig: row.get(5)?,
        ts_window_secs: window.and_then(|w| u32::try_from(w).ok()),
        duplicate_bill_no: DuplicateBillPolicy::parse(&policy).ok_or_else(|| bad_text(7, "duplicate_bill_no"))?,
        cancel_window_secs: row.get(8)?,
        signature_hex: SignatureHex::parse(&hex).ok_or_else(|| bad_text(9, "signature_hex"))?,
        bill_no_charset: BillNoCharset::parse(&charset).ok_or_else(|| bad_text(10, "bill_no_charset"))?,
        coin_price_fen: row.get(11)?,
        session_ttl_secs: row.get::<_, Option<i64>>(12)?.and_then(|t| u32::try_from(t).ok()),
        refund_delay_secs: row.get(13)?,
        push: push_settings_from_row(row, 14)?,
        token_daily_limit: row.get(20)?,
    })
}

/// The push settings of an app row, columns `at` .. `at + 5` (url, token, key, mode, format,
/// ack); `None` when no URL is set.
fn push_settings_from_row(row: &Row<'_>, at: usize) -> rusqlite::Result<Option<PushSettings>> {
    let Some(url) = row.get::<_, Option<String>>(at)? else {
        return Ok(None);
    };
    let text = |i: usize| -> rusqlite::Result<String> { Ok(row.get::<_, Option<String>>(at + i)?.unwrap_or_default()) };
    Ok(Some(PushSettings {
        url,
        token: text(1)?,
        encoding_aes_key: row.get(at + 2)?,
        mode: PushMode::parse(&text(3)?).ok_or_else(|| bad_text(at + 3, "push_mode"))?,
        format: PushFormat::parse(&text(4)?).ok_or_else(|| bad_text(at + 4, "push_format"))?,
        ack: PushAck::parse(&text(5)?).ok_or_else(|| bad_text(at + 5, "push_ack"))?,
    }))
}

// Column lists as macros, so every statement is one literal built at compile time (a
// statement is looked up in the connection's cache by its text on every call).
macro_rules! app_columns {
    () => {
        "appid, secret, offer_id, app_key, sandbox_app_key, require_mp_sig, ts_window_secs,
         duplicate_bill_no, cancel_window_secs, signature_hex, bill_no_charset, coin_price_fen, session_ttl_secs,
         refund_delay_secs, push_url, push_token, push_encoding_aes_key, push_mode, push_format, push_ack,
         token_daily_limit"
    };
}

pub fn app(conn: &Connection, appid: &str) -> rusqlite::Result<Option<App>> {
    conn.prepare_cached(concat!("SELECT ", app_columns!(), " FROM apps WHERE appid = ?1"))?
        .query_row([appid], app_from_row)
        .optional()
}

pub fn apps(conn: &Connection) -> rusqlite::Result<Vec<App>> {
    let mut stmt = conn.prepare_cached(concat!("SELECT ", app_columns!(), " FROM apps ORDER BY appid"))?;
    let rows = stmt.query_map([], app_from_row)?;
    rows.collect()
}

fn upsert_app(conn: &Connection, app: &App, now_ms: i64) -> rusqlite::Result<()> {
    let push = app.push.as_ref();
    conn.prepare_cached(concat!(
        "INSERT INTO apps (",
        app_columns!(),
        ", created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?14, ?14)
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
            updated_at_ms = excluded.updated_at_ms"
    ))?
    .execute(params![
        app.appid,
        app.secret,
        app.offer_id,
        app.app_key,
        app.sandbox_app_key,
        app.require_mp_sig,
        app.ts_window_secs.map(i64::from),
        app.duplicate_bill_no.as_str(),
        app.cancel_window_secs,
        app.signature_hex.as_str(),
        app.bill_no_charset.as_str(),
        app.coin_price_fen,
        app.session_ttl_secs.map(i64::from),
        now_ms,
        app.refund_delay_secs,
        push.map(|p| p.url.as_str()),
        push.map(|p| p.token.as_str()),
        push.and_then(|p| p.encoding_aes_key.as_deref()),
        push.map(|p| p.mode.as_str()),
        push.map(|p| p.format.as_str()),
        push.map(|p| p.ack.as_str()),
        app.token_daily_limit,
    ])?;
    Ok(())
}

fn token_from_row(row: &Row<'_>) -> rusqlite::Result<TokenRecord> {
    let kind: String = row.get(2)?;
    Ok(TokenRecord {
        token: row.get(0)?,
        appid: row.get(1)?,
        kind: TokenKind::parse(&kind).ok_or_else(|| bad_text(2, "token kind"))?,
        issued_at_ms: row.get(3)?,
        expires_at_ms: row.get(4)?,
        retired_at_ms: row.get(5)?,
    })
}

macro_rules! token_columns {
    () => {
        "token, appid, kind, issued_at_ms, expires_at_ms, retired_at_ms"
    };
}

pub fn token(conn: &Connection, token: &str) -> rusqlite::Result<Option<TokenRecord>> {
    conn.prepare_cached(concat!(
        "SELECT ",
        token_columns!(),
        " FROM access_tokens WHERE token = ?1"
    ))?
    .query_row([token], token_from_row)
    .optional()
}

pub fn session(conn: &Connection, appid: &str, openid: &str) -> rusqlite::Result<Option<Session>> {
    conn.prepare_cached(
        "SELECT appid, openid, session_key, created_at_ms FROM sessions WHERE appid = ?1 AND openid = ?2",
    )?
    .query_row([appid, openid], |row| {
        Ok(Session {
            appid: row.get(0)?,
            openid: row.get(1)?,
            session_key: row.get(2)?,
            created_at_ms: row.get(3)?,
        })
    })
    .optional()
}

/// Carries out a [`RowRead`] (the writer is the only writer: nothing to lock).
pub fn row_read(conn: &Connection, read: RowRead<'_>) -> rusqlite::Result<RowValue> {
    match read {
        RowRead::Nothing => Ok(RowValue::Nothing),
        RowRead::CurrentToken {
            appid,
            kind,
            issued_after_ms,
            count_up_to,
        } => {
            // The few unretired tokens (access_tokens_unretired), not all of the app's.
            let current = conn
                .prepare_cached(concat!(
                    "SELECT ",
                    token_columns!(),
                    " FROM access_tokens
                     WHERE appid = ?1 AND kind = ?2 AND retired_at_ms IS NULL
                     ORDER BY issued_at_ms DESC LIMIT 1"
                ))?
                .query_row(params![appid, kind.as_str()], token_from_row)
                .optional()?;
            // Counted on access_tokens_by_app, never past the quota.
            let issued = conn
                .prepare_cached(
                    "SELECT count(*) FROM (SELECT 1 FROM access_tokens
                     WHERE appid = ?1 AND kind = ?2 AND issued_at_ms > ?3 LIMIT ?4)",
                )?
                .query_row(params![appid, kind.as_str(), issued_after_ms, count_up_to], |r| {
                    r.get(0)
                })?;
            Ok(RowValue::Token { current, issued })
        }
        RowRead::LoginCode { code } => conn
            .prepare_cached("SELECT appid, openid, expires_at_ms, used_at_ms FROM login_codes WHERE code = ?1")?
            .query_row([code], |r| {
                Ok(StoredCode {
                    appid: r.get(0)?,
                    openid: r.get(1)?,
                    expires_at_ms: r.get(2)?,
                    used_at_ms: r.get(3)?,
                })
            })
            .optional()
            .map(RowValue::Code),
        RowRead::Clock => crate::state::clock(conn).map(RowValue::Clock),
        RowRead::Bill {
            appid,
            env,
            begin_ds,
            end_ds,
        } => conn
            .prepare_cached(concat!(
                "SELECT ",
                bill_columns!(),
                " FROM bills WHERE appid = ?1 AND env = ?2 AND begin_ds = ?3 AND end_ds = ?4"
            ))?
            .query_row(params![appid, env.as_str(), begin_ds, end_ds], bill_from_row)
            .optional()
            .map(RowValue::Bill),
        // The one writer thread runs claims one at a time: no row needs a lock.
        RowRead::DuePushes { now_ms, limit } => {
            let mut stmt = conn.prepare_cached(concat!(
                "SELECT ",
                push_columns!(),
                " FROM pushes WHERE status = 'pending' AND next_attempt_ms <= ?1 AND lease_until_ms <= ?1
                  ORDER BY next_attempt_ms, id LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![now_ms, limit], push_from_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map(RowValue::Pushes)
        }
        RowRead::Push { id } => push(conn, id).map(RowValue::Push),
    }
}

/// Carries out a [`RowWrite`].
pub fn row_write(conn: &Connection, write: &RowWrite<'_>) -> rusqlite::Result<()> {
    match write {
        RowWrite::UpsertApp { app, now_ms } => upsert_app(conn, app, *now_ms),
        RowWrite::RetireTokens { appid, kind, at_ms } => conn
            .prepare_cached(
                "UPDATE access_tokens SET retired_at_ms = ?3
                 WHERE appid = ?1 AND kind = ?2 AND retired_at_ms IS NULL",
            )?
            .execute(params![appid, kind.as_str(), at_ms])
            .map(drop),
        // A bounded batch (access_tokens_by_expiry), never every expired token at once.
        RowWrite::PruneTokens {
            appid,
            expired_before_ms,
            limit,
        } => conn
            .prepare_cached(
                "DELETE FROM access_tokens WHERE rowid IN (
                    SELECT rowid FROM access_tokens WHERE appid = ?1 AND expires_at_ms < ?2
                    ORDER BY expires_at_ms LIMIT ?3)",
            )?
            .execute(params![appid, expired_before_ms, limit])
            .map(drop),
        RowWrite::InsertToken(t) => conn
            .prepare_cached(concat!(
                "INSERT INTO access_tokens (",
                token_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            ))?
            .execute(params![
                t.token,
                t.appid,
                t.kind.as_str(),
                t.issued_at_ms,
                t.expires_at_ms,
                t.retired_at_ms
            ])
            .map(drop),
        RowWrite::PruneLoginCodes { expired_before_ms } => conn
            .prepare_cached("DELETE FROM login_codes WHERE expires_at_ms < ?1")?
            .execute([expired_before_ms])
            .map(drop),
        RowWrite::InsertLoginCode(code) => insert_login_code(conn, code),
        RowWrite::MarkCodeUsed { code, at_ms } => conn
            .prepare_cached("UPDATE login_codes SET used_at_ms = ?2 WHERE code = ?1")?
            .execute(params![code, at_ms])
            .map(drop),
        RowWrite::UpsertSession(s) => conn
            .prepare_cached(
                "INSERT INTO sessions (appid, openid, session_key, created_at_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (appid, openid) DO UPDATE SET session_key = excluded.session_key,
                    created_at_ms = excluded.created_at_ms",
            )?
            .execute(params![s.appid, s.openid, s.session_key, s.created_at_ms])
            .map(drop),
        RowWrite::SetClock(state) => crate::state::set_clock(conn, state),
        RowWrite::Reset(scope) => crate::state::reset(conn, scope),
        RowWrite::ReplaceState(doc) => crate::state::replace(conn, doc),
        RowWrite::UpsertBill(bill) => conn
            .prepare_cached(concat!(
                "INSERT INTO bills (",
                bill_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (appid, env, begin_ds, end_ds) DO UPDATE SET token = excluded.token,
                    expires_at_ms = excluded.expires_at_ms"
            ))?
            .execute(params![
                bill.appid,
                bill.env.as_str(),
                bill.begin_ds,
                bill.end_ds,
                bill.requested_at_ms,
                bill.token,
                bill.expires_at_ms
            ])
            .map(drop),
        RowWrite::UpdatePush(p) => {
            let changed = conn
                .prepare_cached(
                    "UPDATE pushes SET status = ?2, attempts = ?3, scheduled_attempts = ?4, next_attempt_ms = ?5,
                        lease_until_ms = ?6, last_reply = ?7
                     WHERE id = ?1",
                )?
                .execute(params![
                    p.id,
                    p.status.as_str(),
                    p.attempts,
                    p.scheduled_attempts,
                    p.next_attempt_ms,
                    p.lease_until_ms,
                    p.last_reply
                ])?;
            exactly_one(changed)
        }
    }
}

fn push_from_row(row: &Row<'_>) -> rusqlite::Result<Push> {
    let text = |i: usize| row.get::<_, String>(i);
    Ok(Push {
        id: row.get(0)?,
        appid: row.get(1)?,
        env: Env::parse(&text(2)?).ok_or_else(|| bad_text(2, "push env"))?,
        number: row.get(3)?,
        kind: PushKind::parse(&text(4)?).ok_or_else(|| bad_text(4, "push kind"))?,
        channel: PurchaseChannel::parse(&text(5)?).ok_or_else(|| bad_text(5, "push channel"))?,
        created_ms: row.get(6)?,
        status: PushStatus::parse(&text(7)?).ok_or_else(|| bad_text(7, "push status"))?,
        attempts: row.get(8)?,
        scheduled_attempts: row.get(9)?,
        next_attempt_ms: row.get(10)?,
        lease_until_ms: row.get(11)?,
        last_reply: row.get(12)?,
    })
}

pub fn push(conn: &Connection, id: i64) -> rusqlite::Result<Option<Push>> {
    conn.prepare_cached(concat!("SELECT ", push_columns!(), " FROM pushes WHERE id = ?1"))?
        .query_row([id], push_from_row)
        .optional()
}

/// Events by id: `?1` appid or NULL, `?2` status or NULL.
pub fn pushes(conn: &Connection, filter: &PushFilter) -> rusqlite::Result<Vec<Push>> {
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT ",
        push_columns!(),
        " FROM pushes WHERE (?1 IS NULL OR appid = ?1) AND (?2 IS NULL OR status = ?2) AND id > ?3
          ORDER BY id LIMIT ?4"
    ))?;
    let rows = stmt.query_map(
        params![
            filter.appid,
            filter.status.map(PushStatus::as_str),
            filter.after_id,
            filter.limit
        ],
        push_from_row,
    )?;
    rows.collect()
}

fn insert_push(conn: &Connection, p: &NewPush) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO pushes (appid, env, order_no, kind, channel, created_ms, status, next_attempt_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7)",
    )?
    .execute(params![
        p.appid,
        p.env.as_str(),
        p.number,
        p.kind.as_str(),
        p.channel.as_str(),
        p.created_ms,
        p.first_attempt_ms
    ])
    .map(drop)
}

fn insert_login_code(conn: &Connection, code: &LoginCode) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO login_codes (code, appid, openid, created_at_ms, expires_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        code.code,
        code.appid,
        code.openid,
        code.created_at_ms,
        code.expires_at_ms
    ])
    .map(drop)
}

macro_rules! account_key {
    () => {
        "env = ?1 AND appid = ?2 AND offer_id = ?3 AND zone_id = ?4 AND openid = ?5"
    };
}

pub fn account(conn: &Connection, key: &AccountKey) -> rusqlite::Result<Option<Account>> {
    conn.prepare_cached(concat!(
        "SELECT cash, gift, save_amt, save_sum, cost_sum, present_sum, recharged FROM accounts WHERE ",
        account_key!()
    ))?
    .query_row(
        params![key.env.as_str(), key.appid, key.offer_id, key.zone_id, key.openid],
        |row| {
            Ok(Account {
                cash: row.get(0)?,
                gift: row.get(1)?,
                save_amt: row.get(2)?,
                save_sum: row.get(3)?,
                cost_sum: row.get(4)?,
                present_sum: row.get(5)?,
                recharged: row.get(6)?,
            })
        },
    )
    .optional()
}

fn insert_account(conn: &Connection, key: &AccountKey, a: &Account, now_ms: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO accounts (env, appid, offer_id, zone_id, openid, cash, gift, save_amt, save_sum,
                               cost_sum, present_sum, recharged, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        key.env.as_str(),
        key.appid,
        key.offer_id,
        key.zone_id,
        key.openid,
        a.cash,
        a.gift,
        a.save_amt,
        a.save_sum,
        a.cost_sum,
        a.present_sum,
        a.recharged,
        now_ms
    ])
    .map(drop)
}

fn update_account(conn: &Connection, key: &AccountKey, a: &Account, now_ms: i64) -> rusqlite::Result<()> {
    let changed = conn
        .prepare_cached(concat!(
            "UPDATE accounts SET cash = ?6, gift = ?7, save_amt = ?8, save_sum = ?9, cost_sum = ?10,
                present_sum = ?11, recharged = ?12, updated_at_ms = ?13
             WHERE ",
            account_key!()
        ))?
        .execute(params![
            key.env.as_str(),
            key.appid,
            key.offer_id,
            key.zone_id,
            key.openid,
            a.cash,
            a.gift,
            a.save_amt,
            a.save_sum,
            a.cost_sum,
            a.present_sum,
            a.recharged,
            now_ms
        ])?;
    exactly_one(changed)
}

/// The batch read the row in this transaction, so exactly one row changes. Anything else is
/// a bug: fail the command (its transaction rolls back) rather than panic the writer.
fn exactly_one(changed: usize) -> rusqlite::Result<()> {
    if changed != 1 {
        return Err(rusqlite::Error::StatementChangedRows(changed));
    }
    Ok(())
}

macro_rules! order_key {
    () => {
        "env = ?1 AND appid = ?2 AND offer_id = ?3 AND namespace = ?4 AND order_no = ?5"
    };
}

macro_rules! order_columns {
    () => {
        "kind, status, zone_id, openid, amount, used_gift, refunded_cash, refunded_gift,
     pay_number, balance_after, created_at_ms, updated_at_ms, product_id, fee_fen, wx_order_id, attach,
     paid_at_ms, delivered_at_ms, cancelled_at_ms, refunded_fee, completes_at_ms, orig_fee_fen, purchase_channel"
    };
}

fn order_from_row(row: &Row<'_>) -> rusqlite::Result<Order> {
    order_from_row_at(row, 0)
}

/// An order from its columns (`order_columns!`), starting at column `base`.
fn order_from_row_at(row: &Row<'_>, base: usize) -> rusqlite::Result<Order> {
    let at = |i: usize| base + i;
    let kind: String = row.get(at(0))?;
    let kind = OrderKind::parse(&kind).ok_or_else(|| bad_text(at(0), "order kind"))?;
    let status: String = row.get(at(1))?;
    let purchase = match kind.book() {
        openmidas_ledger::Book::Currency => None,
        openmidas_ledger::Book::Purchase => Some(Purchase {
            product_id: row.get::<_, Option<String>>(at(12))?.unwrap_or_default(),
            fee_fen: row.get::<_, Option<i64>>(at(13))?.unwrap_or_default(),
            // Purchases made before version 5 had no discount and came through 2.0.
            orig_fee_fen: match row.get::<_, Option<i64>>(at(21))? {
                Some(fen) => fen,
                None => row.get::<_, Option<i64>>(at(13))?.unwrap_or_default(),
            },
            channel: match row.get::<_, Option<String>>(at(22))? {
                Some(text) => PurchaseChannel::parse(&text).ok_or_else(|| bad_text(at(22), "purchase_channel"))?,
                None => PurchaseChannel::default(),
            },
            wx_order_id: row.get::<_, Option<String>>(at(14))?.unwrap_or_default(),
            attach: row.get::<_, Option<String>>(at(15))?.unwrap_or_default(),
            paid_at_ms: row.get(at(16))?,
            delivered_at_ms: row.get(at(17))?,
            refunded_fee: row.get(at(19))?,
            completes_at_ms: row.get(at(20))?,
        }),
    };
    Ok(Order {
        kind,
        status: OrderStatus::parse(&status).ok_or_else(|| bad_text(at(1), "order status"))?,
        zone_id: row.get(at(2))?,
        openid: row.get(at(3))?,
        amount: row.get(at(4))?,
        gift: row.get(at(5))?,
        refunded: Coins {
            cash: row.get(at(6))?,
            gift: row.get(at(7))?,
        },
        pay_number: row.get(at(8))?,
        balance_after: row.get(at(9))?,
        created_at_ms: row.get(at(10))?,
        updated_at_ms: row.get(at(11))?,
        purchase,
    }
    .with_legacy_cancel(row.get(at(18))?))
}

pub fn order(conn: &Connection, key: &OrderKey) -> rusqlite::Result<Option<Order>> {
    conn.prepare_cached(concat!(
        "SELECT ",
        order_columns!(),
        " FROM orders WHERE ",
        order_key!()
    ))?
    .query_row(
        params![key.env.as_str(), key.appid, key.offer_id, key.book.as_str(), key.number],
        order_from_row,
    )
    .optional()
}

fn insert_order(conn: &Connection, key: &OrderKey, o: &Order) -> rusqlite::Result<()> {
    let p = o.purchase.as_ref();
    conn.prepare_cached(concat!(
        "INSERT INTO orders (env, appid, offer_id, namespace, order_no, ",
        order_columns!(),
        ")
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21,
                 ?22, ?23, ?24, ?25, ?26, ?27, ?28)"
    ))?
    .execute(params![
        key.env.as_str(),
        key.appid,
        key.offer_id,
        key.book.as_str(),
        key.number,
        o.kind.as_str(),
        o.status.as_str(),
        o.zone_id,
        o.openid,
        o.amount,
        o.gift,
        o.refunded.cash,
        o.refunded.gift,
        o.pay_number,
        o.balance_after,
        o.created_at_ms,
        o.updated_at_ms,
        p.map(|p| &p.product_id),
        p.map(|p| p.fee_fen),
        p.map(|p| &p.wx_order_id),
        p.map(|p| &p.attach),
        p.and_then(|p| p.paid_at_ms),
        p.and_then(|p| p.delivered_at_ms),
        o.legacy_cancelled_at_ms(),
        p.map_or(0, |p| p.refunded_fee),
        p.and_then(|p| p.completes_at_ms),
        p.map(|p| p.orig_fee_fen),
        p.map(|p| p.channel.as_str()),
    ])
    .map(drop)
}

/// What can change of an order after it is made.
fn update_order(conn: &Connection, key: &OrderKey, o: &Order) -> rusqlite::Result<()> {
    let p = o.purchase.as_ref();
    let changed = conn
        .prepare_cached(concat!(
            "UPDATE orders SET status = ?6, refunded_cash = ?7, refunded_gift = ?8, balance_after = ?9,
                updated_at_ms = ?10, paid_at_ms = ?11, delivered_at_ms = ?12, cancelled_at_ms = ?13,
                refunded_fee = ?14
             WHERE ",
            order_key!()
        ))?
        .execute(params![
            key.env.as_str(),
            key.appid,
            key.offer_id,
            key.book.as_str(),
            key.number,
            o.status.as_str(),
            o.refunded.cash,
            o.refunded.gift,
            o.balance_after,
            o.updated_at_ms,
            p.and_then(|p| p.paid_at_ms),
            p.and_then(|p| p.delivered_at_ms),
            o.legacy_cancelled_at_ms(),
            p.map_or(0, |p| p.refunded_fee),
        ])?;
    exactly_one(changed)
}

fn insert_journal(conn: &Connection, j: &JournalEntry) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO journal (env, appid, offer_id, zone_id, openid, kind, order_no, amount,
                              cash_delta, gift_delta, balance_after, at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        j.key.env.as_str(),
        j.key.appid,
        j.key.offer_id,
        j.key.zone_id,
        j.key.openid,
        j.kind.as_str(),
        j.order_no,
        j.amount,
        j.cash_delta,
        j.gift_delta,
        j.balance_after,
        j.at_ms
    ])
    .map(drop)
}

/// Carries out what a ledger batch decided, in its transaction.
pub fn write_ledger(conn: &Connection, writes: &Writes<'_>) -> rusqlite::Result<()> {
    for w in &writes.account_inserts {
        insert_account(conn, w.key, &w.account, w.updated_at_ms)?;
    }
    for w in &writes.account_updates {
        update_account(conn, w.key, &w.account, w.updated_at_ms)?;
    }
    for w in &writes.order_inserts {
        insert_order(conn, w.key, &w.order)?;
    }
    for w in &writes.order_updates {
        update_order(conn, w.key, &w.order)?;
    }
    for entry in &writes.journal {
        insert_journal(conn, entry)?;
    }
    for push in &writes.pushes {
        insert_push(conn, push)?;
    }
    Ok(())
}

pub fn journal(
    conn: &Connection,
    key: &AccountKey,
    after_id: i64,
    limit: u32,
) -> rusqlite::Result<Vec<(i64, JournalEntry)>> {
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT id, kind, order_no, amount, cash_delta, gift_delta, balance_after, at_ms FROM journal
         WHERE ",
        account_key!(),
        " AND id > ?6 ORDER BY id LIMIT ?7"
    ))?;
    let rows = stmt.query_map(
        params![
            key.env.as_str(),
            key.appid,
            key.offer_id,
            key.zone_id,
            key.openid,
            after_id,
            limit
        ],
        |row| {
            let kind: String = row.get(1)?;
            Ok((
                row.get::<_, i64>(0)?,
                JournalEntry {
                    key: key.clone(),
                    kind: MovementKind::parse(&kind).ok_or_else(|| bad_text(1, "journal kind"))?,
                    order_no: row.get(2)?,
                    amount: row.get(3)?,
                    cash_delta: row.get(4)?,
                    gift_delta: row.get(5)?,
                    balance_after: row.get(6)?,
                    at_ms: row.get(7)?,
                },
            ))
        },
    )?;
    rows.collect()
}

fn bill_from_row(row: &Row<'_>) -> rusqlite::Result<Bill> {
    let env: String = row.get(1)?;
    Ok(Bill {
        appid: row.get(0)?,
        env: Env::parse(&env).ok_or_else(|| bad_text(1, "bill env"))?,
        begin_ds: row.get(2)?,
        end_ds: row.get(3)?,
        requested_at_ms: row.get(4)?,
        token: row.get(5)?,
        expires_at_ms: row.get(6)?,
    })
}

/// The bill whose link has this token.
pub fn bill(conn: &Connection, token: &str) -> rusqlite::Result<Option<Bill>> {
    conn.prepare_cached(concat!("SELECT ", bill_columns!(), " FROM bills WHERE token = ?1"))?
        .query_row([token], bill_from_row)
        .optional()
}

/// The purchase-book order of an app and env with this platform id.
pub fn order_by_wx_order_id(
    conn: &Connection,
    appid: &str,
    env: Env,
    wx_order_id: &str,
) -> rusqlite::Result<Option<(OrderKey, Order)>> {
    conn.prepare_cached(concat!(
        "SELECT offer_id, order_no, ",
        order_columns!(),
        " FROM orders WHERE appid = ?1 AND env = ?2 AND wx_order_id = ?3 AND namespace = 'trade' LIMIT 1"
    ))?
    .query_row(params![appid, env.as_str(), wx_order_id], |row| {
        keyed_order(row, appid, env)
    })
    .optional()
}

/// Purchase-book orders of an app and env created in `from_ms..to_ms`, oldest first.
pub fn purchases(
    conn: &Connection,
    appid: &str,
    env: Env,
    from_ms: i64,
    to_ms: i64,
    limit: u32,
) -> rusqlite::Result<Vec<(OrderKey, Order)>> {
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT offer_id, order_no, ",
        order_columns!(),
        " FROM orders WHERE appid = ?1 AND env = ?2 AND namespace = 'trade'
            AND created_at_ms >= ?3 AND created_at_ms < ?4
          ORDER BY created_at_ms, order_no LIMIT ?5"
    ))?;
    let rows = stmt.query_map(params![appid, env.as_str(), from_ms, to_ms, limit], |row| {
        keyed_order(row, appid, env)
    })?;
    rows.collect()
}

/// `offer_id, order_no`, then an order's columns.
fn keyed_order(row: &Row<'_>, appid: &str, env: Env) -> rusqlite::Result<(OrderKey, Order)> {
    let key = OrderKey {
        env,
        appid: appid.to_string(),
        offer_id: row.get(0)?,
        book: openmidas_ledger::Book::Purchase,
        number: row.get(1)?,
    };
    Ok((key, order_from_row_at(row, 2)?))
}

/// Accounts of an app and env in `(openid, offer_id, zone_id)` order (the dashboard's
/// players): a range of index `accounts_by_openid`, never a scan of the app.
pub fn accounts(conn: &Connection, filter: &AccountFilter) -> rusqlite::Result<Vec<(AccountKey, Account)>> {
    let end = filter.prefix_end();
    let mut sql = String::from(
        "SELECT offer_id, zone_id, openid, cash, gift, save_amt, save_sum, cost_sum, present_sum, recharged
         FROM accounts WHERE env = ?1 AND appid = ?2 AND openid >= ?3",
    );
    if end.is_some() {
        sql.push_str(" AND openid < ?4");
    }
    if filter.after.is_some() {
        sql.push_str(" AND (openid, offer_id, zone_id) > (?5, ?6, ?7)");
    }
    sql.push_str(" ORDER BY openid, offer_id, zone_id LIMIT ?8");
    let after = filter.after.as_ref();
    let mut stmt = conn.prepare_cached(&sql)?;
    // Parameters a variant does not name are still bound by number: give each one.
    let mut bind = vec![
        (1, filter.env.as_str().to_string()),
        (2, filter.appid.clone()),
        (3, filter.range_start().to_string()),
    ];
    if let Some(end) = end {
        bind.push((4, end));
    }
    if let Some(after) = after {
        bind.push((5, after.openid.clone()));
        bind.push((6, after.offer_id.clone()));
        bind.push((7, after.zone_id.clone()));
    }
    for (index, value) in &bind {
        stmt.raw_bind_parameter(*index, value)?;
    }
    stmt.raw_bind_parameter(8, filter.limit)?;
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let key = AccountKey {
            env: filter.env,
            appid: filter.appid.clone(),
            offer_id: row.get(0)?,
            zone_id: row.get(1)?,
            openid: row.get(2)?,
        };
        let account = Account {
            cash: row.get(3)?,
            gift: row.get(4)?,
            save_amt: row.get(5)?,
            save_sum: row.get(6)?,
            cost_sum: row.get(7)?,
            present_sum: row.get(8)?,
            recharged: row.get(9)?,
        };
        out.push((key, account));
    }
    Ok(out)
}

/// An account's orders of both books, newest first (index `orders_by_account`).
pub fn orders_of(
    conn: &Connection,
    key: &AccountKey,
    after: Option<&OrderCursor>,
    limit: u32,
) -> rusqlite::Result<Vec<(OrderKey, Order)>> {
    let sql = if after.is_some() {
        concat!(
            "SELECT namespace, order_no, ",
            order_columns!(),
            " FROM orders WHERE ",
            account_key!(),
            " AND (created_at_ms, namespace, order_no) < (?6, ?7, ?8)
              ORDER BY created_at_ms DESC, namespace DESC, order_no DESC LIMIT ?9"
        )
    } else {
        concat!(
            "SELECT namespace, order_no, ",
            order_columns!(),
            " FROM orders WHERE ",
            account_key!(),
            " ORDER BY created_at_ms DESC, namespace DESC, order_no DESC LIMIT ?6"
        )
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let read = |row: &Row<'_>| -> rusqlite::Result<(OrderKey, Order)> {
        let book: String = row.get(0)?;
        let order_key = OrderKey {
            env: key.env,
            appid: key.appid.clone(),
            offer_id: key.offer_id.clone(),
            book: Book::parse(&book).ok_or_else(|| bad_text(0, "order namespace"))?,
            number: row.get(1)?,
        };
        Ok((order_key, order_from_row_at(row, 2)?))
    };
    let rows = match after {
        Some(after) => stmt.query_map(
            params![
                key.env.as_str(),
                key.appid,
                key.offer_id,
                key.zone_id,
                key.openid,
                after.created_at_ms,
                after.book.as_str(),
                after.number,
                limit
            ],
            read,
        )?,
        None => stmt.query_map(
            params![
                key.env.as_str(),
                key.appid,
                key.offer_id,
                key.zone_id,
                key.openid,
                limit
            ],
            read,
        )?,
    };
    rows.collect()
}
