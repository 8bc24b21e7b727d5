//! Reads and writes of single rows, shared by the writer thread and the readers.
//! Every statement is prepared once per connection (`prepare_cached`).

use openmidas_ledger::account::{Account, AccountKey};
use openmidas_ledger::auth::{App, DuplicateBillPolicy, Session, TokenIssue, TokenKind, TokenRecord};
use openmidas_ledger::command::{JournalEntry, MovementKind, OrderNamespace, OrderRecord};
use rusqlite::{params, Connection, OptionalExtension, Row};

fn bad_text(column: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, what.to_string().into())
}

fn app_from_row(row: &Row<'_>) -> rusqlite::Result<App> {
    let policy: String = row.get(7)?;
    let window: Option<i64> = row.get(6)?;
    Ok(App {
        appid: row.get(0)?,
        secret: row.get(1)?,
        offer_id: row.get(2)?,
        app_key: row.get(3)?,
        sandbox_app_key: row.get(4)?,
        require_mp_sig: row.get(5)?,
        ts_window_secs: window.and_then(|w| u32::try_from(w).ok()),
        duplicate_bill_no: DuplicateBillPolicy::parse(&policy).ok_or_else(|| bad_text(7, "duplicate_bill_no"))?,
    })
}

const APP_COLUMNS: &str =
    "appid, secret, offer_id, app_key, sandbox_app_key, require_mp_sig, ts_window_secs, duplicate_bill_no";

pub fn app(conn: &Connection, appid: &str) -> rusqlite::Result<Option<App>> {
    conn.prepare_cached(&format!("SELECT {APP_COLUMNS} FROM apps WHERE appid = ?1"))?
        .query_row([appid], app_from_row)
        .optional()
}

pub fn apps(conn: &Connection) -> rusqlite::Result<Vec<App>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {APP_COLUMNS} FROM apps ORDER BY appid"))?;
    let rows = stmt.query_map([], app_from_row)?;
    rows.collect()
}

pub fn upsert_app(conn: &Connection, app: &App, now_ms: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO apps (appid, secret, offer_id, app_key, sandbox_app_key, require_mp_sig,
                           ts_window_secs, duplicate_bill_no, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
         ON CONFLICT (appid) DO UPDATE SET
            secret = excluded.secret, offer_id = excluded.offer_id, app_key = excluded.app_key,
            sandbox_app_key = excluded.sandbox_app_key, require_mp_sig = excluded.require_mp_sig,
            ts_window_secs = excluded.ts_window_secs, duplicate_bill_no = excluded.duplicate_bill_no,
            updated_at_ms = excluded.updated_at_ms",
    )?
    .execute(params![
        app.appid,
        app.secret,
        app.offer_id,
        app.app_key,
        app.sandbox_app_key,
        app.require_mp_sig,
        app.ts_window_secs.map(i64::from),
        app.duplicate_bill_no.as_str(),
        now_ms
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

const TOKEN_COLUMNS: &str = "token, appid, kind, issued_at_ms, expires_at_ms, retired_at_ms";

pub fn token(conn: &Connection, token: &str) -> rusqlite::Result<Option<TokenRecord>> {
    conn.prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE token = ?1"))?
        .query_row([token], token_from_row)
        .optional()
}

/// The newest token of this kind that nothing replaced yet.
pub fn current_token(conn: &Connection, appid: &str, kind: TokenKind) -> rusqlite::Result<Option<TokenRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {TOKEN_COLUMNS} FROM access_tokens
         WHERE appid = ?1 AND kind = ?2 AND retired_at_ms IS NULL
         ORDER BY issued_at_ms DESC LIMIT 1"
    ))?
    .query_row(params![appid, kind.as_str()], token_from_row)
    .optional()
}

/// Carries out a [`TokenIssue`]: retire, prune, insert, in that order.
pub fn issue_token(conn: &Connection, issue: &TokenIssue) -> rusqlite::Result<()> {
    let record = &issue.record;
    if let Some(at_ms) = issue.retire_others_at_ms {
        retire_tokens(conn, &record.appid, record.kind, at_ms)?;
    }
    prune_tokens(conn, &record.appid, record.issued_at_ms)?;
    insert_token(conn, record)
}

/// Every not-yet-retired token of this kind stops being the latest at `at_ms` (or earlier).
fn retire_tokens(conn: &Connection, appid: &str, kind: TokenKind, at_ms: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE access_tokens SET retired_at_ms = ?3
         WHERE appid = ?1 AND kind = ?2 AND retired_at_ms IS NULL",
    )?
    .execute(params![appid, kind.as_str(), at_ms])?;
    Ok(())
}

fn insert_token(conn: &Connection, t: &TokenRecord) -> rusqlite::Result<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO access_tokens ({TOKEN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    ))?
    .execute(params![
        t.token,
        t.appid,
        t.kind.as_str(),
        t.issued_at_ms,
        t.expires_at_ms,
        t.retired_at_ms
    ])?;
    Ok(())
}

/// Drops tokens that expired more than a day ago: they can only answer 40001 now, which an
/// unknown token answers too.
fn prune_tokens(conn: &Connection, appid: &str, now_ms: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM access_tokens WHERE appid = ?1 AND expires_at_ms < ?2")?
        .execute(params![appid, now_ms - 86_400_000])?;
    Ok(())
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

pub fn account(conn: &Connection, key: &AccountKey) -> rusqlite::Result<Option<Account>> {
    conn.prepare_cached(
        "SELECT cash, gift, save_amt, save_sum, cost_sum, present_sum, recharged FROM accounts
         WHERE env = ?1 AND appid = ?2 AND offer_id = ?3 AND zone_id = ?4 AND openid = ?5",
    )?
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

pub fn upsert_account(conn: &Connection, key: &AccountKey, a: &Account, now_ms: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO accounts (env, appid, offer_id, zone_id, openid, cash, gift, save_amt, save_sum,
                               cost_sum, present_sum, recharged, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (env, appid, offer_id, zone_id, openid) DO UPDATE SET
            cash = excluded.cash, gift = excluded.gift, save_amt = excluded.save_amt,
            save_sum = excluded.save_sum, cost_sum = excluded.cost_sum,
            present_sum = excluded.present_sum, recharged = excluded.recharged,
            updated_at_ms = excluded.updated_at_ms",
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
    ])?;
    Ok(())
}

pub fn order(
    conn: &Connection,
    key: &AccountKey,
    namespace: OrderNamespace,
    order_no: &str,
) -> rusqlite::Result<Option<OrderRecord>> {
    conn.prepare_cached(
        "SELECT kind, zone_id, openid, amount, used_gift, balance_after, created_at_ms, cancelled_at_ms
         FROM orders WHERE env = ?1 AND appid = ?2 AND offer_id = ?3 AND namespace = ?4 AND order_no = ?5",
    )?
    .query_row(
        params![key.env.as_str(), key.appid, key.offer_id, namespace.as_str(), order_no],
        |row| {
            let kind: String = row.get(0)?;
            Ok(OrderRecord {
                kind: MovementKind::parse(&kind).ok_or_else(|| bad_text(0, "order kind"))?,
                zone_id: row.get(1)?,
                openid: row.get(2)?,
                amount: row.get(3)?,
                used_gift: row.get(4)?,
                balance_after: row.get(5)?,
                created_at_ms: row.get(6)?,
                cancelled_at_ms: row.get(7)?,
            })
        },
    )
    .optional()
}

pub fn insert_order(
    conn: &Connection,
    key: &AccountKey,
    namespace: OrderNamespace,
    order_no: &str,
    o: &OrderRecord,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO orders (env, appid, offer_id, namespace, order_no, kind, zone_id, openid, amount,
                             used_gift, balance_after, created_at_ms, cancelled_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        key.env.as_str(),
        key.appid,
        key.offer_id,
        namespace.as_str(),
        order_no,
        o.kind.as_str(),
        o.zone_id,
        o.openid,
        o.amount,
        o.used_gift,
        o.balance_after,
        o.created_at_ms,
        o.cancelled_at_ms
    ])?;
    Ok(())
}

pub fn mark_order_cancelled(
    conn: &Connection,
    key: &AccountKey,
    order_no: &str,
    cancelled_at_ms: i64,
) -> rusqlite::Result<()> {
    let changed = conn
        .prepare_cached(
            "UPDATE orders SET cancelled_at_ms = ?5
             WHERE env = ?1 AND appid = ?2 AND offer_id = ?3 AND namespace = 'bill' AND order_no = ?4
               AND cancelled_at_ms IS NULL",
        )?
        .execute(params![
            key.env.as_str(),
            key.appid,
            key.offer_id,
            order_no,
            cancelled_at_ms
        ])?;
    // decide() saw the order uncancelled in this same transaction, so exactly one row
    // changes. Anything else is a bug: fail the command (its transaction rolls back)
    // rather than panic the writer thread.
    if changed != 1 {
        return Err(rusqlite::Error::StatementChangedRows(changed));
    }
    Ok(())
}

pub fn insert_journal(conn: &Connection, j: &JournalEntry) -> rusqlite::Result<()> {
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
    ])?;
    Ok(())
}

pub fn journal(
    conn: &Connection,
    key: &AccountKey,
    after_id: i64,
    limit: u32,
) -> rusqlite::Result<Vec<(i64, JournalEntry)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, kind, order_no, amount, cash_delta, gift_delta, balance_after, at_ms FROM journal
         WHERE env = ?1 AND appid = ?2 AND offer_id = ?3 AND zone_id = ?4 AND openid = ?5 AND id > ?6
         ORDER BY id LIMIT ?7",
    )?;
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
