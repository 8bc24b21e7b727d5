//! Reads and writes of single rows (the ledger writes are set-based: see `batch`). Every
//! statement is prepared once per connection. The `*_for_update` reads lock the row they
//! find until the transaction ends, so a concurrent node's transaction on the same row waits
//! (or, under SERIALIZABLE, one of them fails with 40001 and is re-run).

use openmidas_ledger::account::{Account, AccountKey};
use openmidas_ledger::auth::{App, DuplicateBillPolicy, LoginCode, Session, TokenIssue, TokenKind, TokenRecord};
use openmidas_ledger::command::{JournalEntry, MovementKind, OrderNamespace, OrderRecord};
use tokio_postgres::Row;

use crate::error::TxError;
use crate::pool::Conn;

fn corrupt(what: &str) -> TxError {
    TxError::Corrupt(what.to_string())
}

fn app_from_row(row: &Row) -> Result<App, TxError> {
    let policy: String = row.try_get(7)?;
    let window: Option<i64> = row.try_get(6)?;
    Ok(App {
        appid: row.try_get(0)?,
        secret: row.try_get(1)?,
        offer_id: row.try_get(2)?,
        app_key: row.try_get(3)?,
        sandbox_app_key: row.try_get(4)?,
        require_mp_sig: row.try_get(5)?,
        ts_window_secs: window.and_then(|w| u32::try_from(w).ok()),
        duplicate_bill_no: DuplicateBillPolicy::parse(&policy).ok_or_else(|| corrupt("apps.duplicate_bill_no"))?,
    })
}

pub(crate) async fn app(conn: &mut Conn, appid: &str) -> Result<Option<App>, TxError> {
    let row = conn
        .query_opt(
            "SELECT appid, secret, offer_id, app_key, sandbox_app_key, require_mp_sig, ts_window_secs,
                    duplicate_bill_no
             FROM apps WHERE appid = $1",
            &[&appid],
        )
        .await?;
    row.as_ref().map(app_from_row).transpose()
}

pub(crate) async fn apps(conn: &mut Conn) -> Result<Vec<App>, TxError> {
    let rows = conn
        .query(
            "SELECT appid, secret, offer_id, app_key, sandbox_app_key, require_mp_sig, ts_window_secs,
                    duplicate_bill_no
             FROM apps ORDER BY appid",
            &[],
        )
        .await?;
    rows.iter().map(app_from_row).collect()
}

pub(crate) async fn upsert_app(conn: &mut Conn, app: &App, now_ms: i64) -> Result<(), TxError> {
    let window = app.ts_window_secs.map(i64::from);
    conn.execute(
        "INSERT INTO apps (appid, secret, offer_id, app_key, sandbox_app_key, require_mp_sig,
                           ts_window_secs, duplicate_bill_no, created_at_ms, updated_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
         ON CONFLICT (appid) DO UPDATE SET
            secret = excluded.secret, offer_id = excluded.offer_id, app_key = excluded.app_key,
            sandbox_app_key = excluded.sandbox_app_key, require_mp_sig = excluded.require_mp_sig,
            ts_window_secs = excluded.ts_window_secs, duplicate_bill_no = excluded.duplicate_bill_no,
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
            &now_ms,
        ],
    )
    .await?;
    Ok(())
}

/// Locks the app's row: token issues of one app, from any node, run one at a time.
pub(crate) async fn lock_app(conn: &mut Conn, appid: &str) -> Result<(), TxError> {
    conn.query_opt("SELECT appid FROM apps WHERE appid = $1 FOR UPDATE", &[&appid])
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

/// The newest token of this kind that nothing replaced yet.
pub(crate) async fn current_token(
    conn: &mut Conn,
    appid: &str,
    kind: TokenKind,
) -> Result<Option<TokenRecord>, TxError> {
    let row = conn
        .query_opt(
            "SELECT token, appid, kind, issued_at_ms, expires_at_ms, retired_at_ms
             FROM access_tokens
             WHERE appid = $1 AND kind = $2 AND retired_at_ms IS NULL
             ORDER BY issued_at_ms DESC LIMIT 1",
            &[&appid, &kind.as_str()],
        )
        .await?;
    row.as_ref().map(token_from_row).transpose()
}

/// Carries out a [`TokenIssue`]: retire, prune, insert, in that order.
pub(crate) async fn issue_token(conn: &mut Conn, issue: &TokenIssue) -> Result<(), TxError> {
    let record = &issue.record;
    if let Some(at_ms) = issue.retire_others_at_ms {
        retire_tokens(conn, &record.appid, record.kind, at_ms).await?;
    }
    prune_tokens(conn, &record.appid, record.issued_at_ms).await?;
    insert_token(conn, record).await
}

/// Every not-yet-retired token of this kind stops being the latest at `at_ms`.
async fn retire_tokens(conn: &mut Conn, appid: &str, kind: TokenKind, at_ms: i64) -> Result<(), TxError> {
    conn.execute(
        "UPDATE access_tokens SET retired_at_ms = $3
         WHERE appid = $1 AND kind = $2 AND retired_at_ms IS NULL",
        &[&appid, &kind.as_str(), &at_ms],
    )
    .await?;
    Ok(())
}

async fn insert_token(conn: &mut Conn, t: &TokenRecord) -> Result<(), TxError> {
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

/// Drops tokens that expired more than a day ago: they can only answer 40001 now, which an
/// unknown token answers too.
async fn prune_tokens(conn: &mut Conn, appid: &str, now_ms: i64) -> Result<(), TxError> {
    let horizon = now_ms - 86_400_000;
    conn.execute(
        "DELETE FROM access_tokens WHERE appid = $1 AND expires_at_ms < $2",
        &[&appid, &horizon],
    )
    .await?;
    Ok(())
}

pub(crate) async fn insert_login_code(conn: &mut Conn, code: &LoginCode) -> Result<(), TxError> {
    let horizon = code.created_at_ms - 86_400_000;
    conn.execute("DELETE FROM login_codes WHERE expires_at_ms < $1", &[&horizon])
        .await?;
    conn.execute(
        "INSERT INTO login_codes (code, appid, openid, created_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4, $5)",
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

/// A login code's `(appid, openid, expires_at_ms, used_at_ms)`, locked.
pub(crate) async fn login_code_for_update(
    conn: &mut Conn,
    code: &str,
) -> Result<Option<(String, String, i64, Option<i64>)>, TxError> {
    let row = conn
        .query_opt(
            "SELECT appid, openid, expires_at_ms, used_at_ms FROM login_codes WHERE code = $1 FOR UPDATE",
            &[&code],
        )
        .await?;
    match row {
        None => Ok(None),
        Some(r) => Ok(Some((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))),
    }
}

pub(crate) async fn mark_code_used(conn: &mut Conn, code: &str, now_ms: i64) -> Result<(), TxError> {
    conn.execute(
        "UPDATE login_codes SET used_at_ms = $2 WHERE code = $1",
        &[&code, &now_ms],
    )
    .await?;
    Ok(())
}

pub(crate) async fn upsert_session(conn: &mut Conn, s: &Session) -> Result<(), TxError> {
    conn.execute(
        "INSERT INTO sessions (appid, openid, session_key, created_at_ms) VALUES ($1, $2, $3, $4)
         ON CONFLICT (appid, openid) DO UPDATE SET session_key = excluded.session_key,
            created_at_ms = excluded.created_at_ms",
        &[&s.appid, &s.openid, &s.session_key, &s.created_at_ms],
    )
    .await?;
    Ok(())
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

fn account_from_row(r: &Row) -> Result<Account, TxError> {
    Ok(Account {
        cash: r.try_get(0)?,
        gift: r.try_get(1)?,
        save_amt: r.try_get(2)?,
        save_sum: r.try_get(3)?,
        cost_sum: r.try_get(4)?,
        present_sum: r.try_get(5)?,
        recharged: r.try_get(6)?,
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
    row.as_ref().map(account_from_row).transpose()
}

fn order_from_row(r: &Row) -> Result<OrderRecord, TxError> {
    let kind: String = r.try_get(0)?;
    Ok(OrderRecord {
        kind: MovementKind::parse(&kind).ok_or_else(|| corrupt("orders.kind"))?,
        zone_id: r.try_get(1)?,
        openid: r.try_get(2)?,
        amount: r.try_get(3)?,
        used_gift: r.try_get(4)?,
        balance_after: r.try_get(5)?,
        created_at_ms: r.try_get(6)?,
        cancelled_at_ms: r.try_get(7)?,
    })
}

pub(crate) async fn order(
    conn: &mut Conn,
    key: &AccountKey,
    namespace: OrderNamespace,
    order_no: &str,
) -> Result<Option<OrderRecord>, TxError> {
    let row = conn
        .query_opt(
            "SELECT kind, zone_id, openid, amount, used_gift, balance_after, created_at_ms, cancelled_at_ms
             FROM orders WHERE env = $1 AND appid = $2 AND offer_id = $3 AND namespace = $4 AND order_no = $5",
            &[
                &key.env.as_str(),
                &key.appid,
                &key.offer_id,
                &namespace.as_str(),
                &order_no,
            ],
        )
        .await?;
    row.as_ref().map(order_from_row).transpose()
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
