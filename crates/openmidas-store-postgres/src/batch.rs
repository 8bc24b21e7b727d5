//! The I/O of one group-commit transaction over a [`Batch`] of ledger commands, set-based: a
//! constant number of round trips whatever the batch size. What to read, the decisions and
//! what to write are the ledger's ([`Batch`]); this module only moves rows.
//!
//! 1. `BEGIN`, the read of every order of the batch and the read of every account of the
//!    batch, pipelined (sent together, answered in order). Both reads lock what they find
//!    (`FOR UPDATE`), in the batch's sorted key order, which is the same on every node:
//!    orders first, then accounts, each in one global order, so two nodes never wait on each
//!    other in a cycle.
//! 2. [`Batch::decide`], in memory.
//! 3. The writes, pipelined: one `UPDATE` of the accounts that existed (locked), one plain
//!    `INSERT` of the new accounts (no `ON CONFLICT`: a node that created one first makes it
//!    fail with 23505 and the whole batch is re-run), one `INSERT` of the new orders (the
//!    same for a number a node inserted first: the re-run sees it and answers the repeat),
//!    one `UPDATE` of the changed stored orders (locked in step 1), one `INSERT` of the
//!    journal rows in command order, one `INSERT` of the events the changes caused (the
//!    outbox, behaviour.md section 12) in command order. Rows are written in the sorted key
//!    order too.
//! 4. `COMMIT` (by the caller), and only then the answers.

use openmidas_ledger::account::{Account, AccountKey};
use openmidas_ledger::batch::{Batch, OrderWrite, Writes};
use openmidas_ledger::order::Order;
use tokio_postgres::Row;

use crate::error::TxError;
use crate::pool::Conn;
use crate::rows::{account_from_row, order_from_row};

const READ_ORDERS: &str = "SELECT k.i, o.kind, o.status, o.zone_id, o.openid, o.amount, o.used_gift, o.refunded_cash,
        o.refunded_gift, o.pay_number, o.balance_after, o.created_at_ms, o.updated_at_ms, o.product_id,
        o.fee_fen, o.wx_order_id, o.attach, o.paid_at_ms, o.delivered_at_ms, o.cancelled_at_ms,
        o.refunded_fee, o.completes_at_ms, o.orig_fee_fen, o.purchase_channel
 FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[])
        WITH ORDINALITY AS k (env, appid, offer_id, namespace, order_no, i)
 JOIN orders AS o ON o.env = k.env AND o.appid = k.appid AND o.offer_id = k.offer_id
        AND o.namespace = k.namespace AND o.order_no = k.order_no
 ORDER BY k.i
 FOR UPDATE OF o";

const READ_ACCOUNTS: &str = "SELECT k.i, a.cash, a.gift, a.save_amt, a.save_sum, a.cost_sum, a.present_sum, a.recharged
 FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[])
        WITH ORDINALITY AS k (env, appid, offer_id, zone_id, openid, i)
 JOIN accounts AS a ON a.env = k.env AND a.appid = k.appid AND a.offer_id = k.offer_id
        AND a.zone_id = k.zone_id AND a.openid = k.openid
 ORDER BY k.i
 FOR UPDATE OF a";

const UPDATE_ACCOUNTS: &str = "UPDATE accounts AS a SET cash = u.cash, gift = u.gift, save_amt = u.save_amt,
        save_sum = u.save_sum, cost_sum = u.cost_sum, present_sum = u.present_sum,
        recharged = u.recharged, updated_at_ms = u.updated_at_ms
 FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[], $7::BIGINT[],
             $8::BIGINT[], $9::BIGINT[], $10::BIGINT[], $11::BIGINT[], $12::BOOLEAN[], $13::BIGINT[])
        AS u (env, appid, offer_id, zone_id, openid, cash, gift, save_amt, save_sum, cost_sum,
              present_sum, recharged, updated_at_ms)
 WHERE a.env = u.env AND a.appid = u.appid AND a.offer_id = u.offer_id AND a.zone_id = u.zone_id
   AND a.openid = u.openid";

const INSERT_ACCOUNTS: &str = "INSERT INTO accounts (env, appid, offer_id, zone_id, openid, cash, gift, save_amt,
        save_sum, cost_sum, present_sum, recharged, updated_at_ms)
 SELECT env, appid, offer_id, zone_id, openid, cash, gift, save_amt, save_sum, cost_sum, present_sum,
        recharged, updated_at_ms
 FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[], $7::BIGINT[],
             $8::BIGINT[], $9::BIGINT[], $10::BIGINT[], $11::BIGINT[], $12::BOOLEAN[], $13::BIGINT[])
        WITH ORDINALITY AS u (env, appid, offer_id, zone_id, openid, cash, gift, save_amt, save_sum,
                              cost_sum, present_sum, recharged, updated_at_ms, i)
 ORDER BY u.i";

const INSERT_ORDERS: &str = "INSERT INTO orders (env, appid, offer_id, namespace, order_no, kind, status, zone_id,
        openid, amount, used_gift, refunded_cash, refunded_gift, pay_number, balance_after, created_at_ms,
        updated_at_ms, product_id, fee_fen, wx_order_id, attach, paid_at_ms, delivered_at_ms,
        cancelled_at_ms, refunded_fee, completes_at_ms, orig_fee_fen, purchase_channel)
 SELECT env, appid, offer_id, namespace, order_no, kind, status, zone_id, openid, amount, used_gift,
        refunded_cash, refunded_gift, pay_number, balance_after, created_at_ms, updated_at_ms, product_id,
        fee_fen, wx_order_id, attach, paid_at_ms, delivered_at_ms, cancelled_at_ms, refunded_fee,
        completes_at_ms, orig_fee_fen, purchase_channel
 FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[],
             $8::TEXT[], $9::TEXT[], $10::BIGINT[], $11::BIGINT[], $12::BIGINT[], $13::BIGINT[],
             $14::TEXT[], $15::BIGINT[], $16::BIGINT[], $17::BIGINT[], $18::TEXT[], $19::BIGINT[],
             $20::TEXT[], $21::TEXT[], $22::BIGINT[], $23::BIGINT[], $24::BIGINT[], $25::BIGINT[],
             $26::BIGINT[], $27::BIGINT[], $28::TEXT[])
        WITH ORDINALITY AS u (env, appid, offer_id, namespace, order_no, kind, status, zone_id, openid,
                              amount, used_gift, refunded_cash, refunded_gift, pay_number, balance_after,
                              created_at_ms, updated_at_ms, product_id, fee_fen, wx_order_id, attach,
                              paid_at_ms, delivered_at_ms, cancelled_at_ms, refunded_fee, completes_at_ms,
                              orig_fee_fen, purchase_channel, i)
 ORDER BY u.i";

/// What can change of an order after it is made; and the price before discount and the
/// channel, which never change but are NULL in rows written before version 5 (the update
/// fills them in with what those rows read as).
const UPDATE_ORDERS: &str = "UPDATE orders AS o SET status = u.status, refunded_cash = u.refunded_cash,
        refunded_gift = u.refunded_gift, balance_after = u.balance_after, updated_at_ms = u.updated_at_ms,
        paid_at_ms = u.paid_at_ms, delivered_at_ms = u.delivered_at_ms, cancelled_at_ms = u.cancelled_at_ms,
        refunded_fee = u.refunded_fee, orig_fee_fen = u.orig_fee_fen, purchase_channel = u.purchase_channel
 FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::BIGINT[],
             $8::BIGINT[], $9::BIGINT[], $10::BIGINT[], $11::BIGINT[], $12::BIGINT[], $13::BIGINT[],
             $14::BIGINT[], $15::BIGINT[], $16::TEXT[])
        AS u (env, appid, offer_id, namespace, order_no, status, refunded_cash, refunded_gift,
              balance_after, updated_at_ms, paid_at_ms, delivered_at_ms, cancelled_at_ms, refunded_fee,
              orig_fee_fen, purchase_channel)
 WHERE o.env = u.env AND o.appid = u.appid AND o.offer_id = u.offer_id AND o.namespace = u.namespace
   AND o.order_no = u.order_no";

const INSERT_JOURNAL: &str = "INSERT INTO journal (env, appid, offer_id, zone_id, openid, kind, order_no, amount,
        cash_delta, gift_delta, balance_after, at_ms)
 SELECT env, appid, offer_id, zone_id, openid, kind, order_no, amount, cash_delta, gift_delta,
        balance_after, at_ms
 FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[],
             $8::BIGINT[], $9::BIGINT[], $10::BIGINT[], $11::BIGINT[], $12::BIGINT[])
        WITH ORDINALITY AS u (env, appid, offer_id, zone_id, openid, kind, order_no, amount, cash_delta,
                              gift_delta, balance_after, at_ms, i)
 ORDER BY u.i";

/// New events (behaviour.md section 12), pending, first tried at `next_attempt_ms`.
const INSERT_PUSHES: &str = "INSERT INTO pushes (appid, env, order_no, kind, channel, created_ms, status, attempts,
        scheduled_attempts, next_attempt_ms, lease_until_ms, last_reply)
 SELECT appid, env, order_no, kind, channel, created_ms, 'pending', 0, 0, next_attempt_ms, 0, ''
 FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[], $7::BIGINT[])
        WITH ORDINALITY AS u (appid, env, order_no, kind, channel, created_ms, next_attempt_ms, i)
 ORDER BY u.i";

fn corrupt(what: &str) -> TxError {
    TxError::Corrupt(what.to_string())
}

/// The 1-based ordinal of a read row, as an index into the keys.
fn ordinal(row: &Row, len: usize) -> Result<usize, TxError> {
    let i: i64 = row.try_get(0)?;
    usize::try_from(i)
        .ok()
        .and_then(|i| i.checked_sub(1))
        .filter(|&i| i < len)
        .ok_or_else(|| corrupt("a locked row answered an unknown key"))
}

/// The first error of a pipeline, in the order the statements were sent: the one the
/// server met first (those after it only report the aborted transaction).
fn first_error<A, B, C>(
    a: Result<A, TxError>,
    b: Result<B, TxError>,
    c: Result<C, TxError>,
) -> Result<(A, B, C), TxError> {
    Ok((a?, b?, c?))
}

/// `BEGIN` and the locking reads, in one round trip: the rows of the batch's order keys and
/// account keys, in their order (`None`: no row).
pub(crate) async fn begin_and_read(
    conn: &mut Conn,
    begin: &str,
    batch: &Batch<'_>,
) -> Result<(Vec<Option<Order>>, Vec<Option<Account>>), TxError> {
    let read_orders = conn.statement(READ_ORDERS).await?;
    let read_accounts = conn.statement(READ_ACCOUNTS).await?;

    let order_keys = batch.order_keys();
    let o_env: Vec<&str> = order_keys.iter().map(|k| k.env.as_str()).collect();
    let o_appid: Vec<&str> = order_keys.iter().map(|k| k.appid.as_str()).collect();
    let o_offer: Vec<&str> = order_keys.iter().map(|k| k.offer_id.as_str()).collect();
    let o_book: Vec<&str> = order_keys.iter().map(|k| k.book.as_str()).collect();
    let o_no: Vec<&str> = order_keys.iter().map(|k| k.number.as_str()).collect();

    let account_keys = batch.account_keys();
    let a_env: Vec<&str> = account_keys.iter().map(|k| k.env.as_str()).collect();
    let a_appid: Vec<&str> = account_keys.iter().map(|k| k.appid.as_str()).collect();
    let a_offer: Vec<&str> = account_keys.iter().map(|k| k.offer_id.as_str()).collect();
    let a_zone: Vec<&str> = account_keys.iter().map(|k| k.zone_id.as_str()).collect();
    let a_openid: Vec<&str> = account_keys.iter().map(|k| k.openid.as_str()).collect();

    let client = &conn.client;
    // `biased`: polled in this order, so the requests go out in this order (each is sent
    // on its first poll); BEGIN must precede the reads.
    let (began, order_rows, account_rows) = tokio::join!(
        biased;
        async { client.batch_execute(begin).await.map_err(TxError::from) },
        async {
            client
                .query(&read_orders, &[&o_env, &o_appid, &o_offer, &o_book, &o_no])
                .await
                .map_err(TxError::from)
        },
        async {
            client
                .query(&read_accounts, &[&a_env, &a_appid, &a_offer, &a_zone, &a_openid])
                .await
                .map_err(TxError::from)
        },
    );
    let ((), order_rows, account_rows) = first_error(began, order_rows, account_rows)?;

    let mut orders: Vec<Option<Order>> = vec![None; order_keys.len()];
    for row in &order_rows {
        let i = ordinal(row, order_keys.len())?;
        orders[i] = Some(order_from_row(row, 1)?);
    }
    let mut accounts: Vec<Option<Account>> = vec![None; account_keys.len()];
    for row in &account_rows {
        let i = ordinal(row, account_keys.len())?;
        accounts[i] = Some(account_from_row(row, 1)?);
    }
    Ok((orders, accounts))
}

/// Account rows as column arrays.
#[derive(Default)]
struct AccountColumns<'a> {
    env: Vec<&'a str>,
    appid: Vec<&'a str>,
    offer: Vec<&'a str>,
    zone: Vec<&'a str>,
    openid: Vec<&'a str>,
    cash: Vec<i64>,
    gift: Vec<i64>,
    save_amt: Vec<i64>,
    save_sum: Vec<i64>,
    cost_sum: Vec<i64>,
    present_sum: Vec<i64>,
    recharged: Vec<bool>,
    at_ms: Vec<i64>,
}

impl<'a> AccountColumns<'a> {
    fn of<'w: 'a>(writes: &'a [openmidas_ledger::batch::AccountWrite<'w>]) -> AccountColumns<'a> {
        let mut columns = AccountColumns::default();
        for w in writes {
            columns.push(w.key, &w.account, w.updated_at_ms);
        }
        columns
    }

    fn push(&mut self, key: &'a AccountKey, a: &Account, at_ms: i64) {
        self.env.push(key.env.as_str());
        self.appid.push(&key.appid);
        self.offer.push(&key.offer_id);
        self.zone.push(&key.zone_id);
        self.openid.push(&key.openid);
        self.cash.push(a.cash);
        self.gift.push(a.gift);
        self.save_amt.push(a.save_amt);
        self.save_sum.push(a.save_sum);
        self.cost_sum.push(a.cost_sum);
        self.present_sum.push(a.present_sum);
        self.recharged.push(a.recharged);
        self.at_ms.push(at_ms);
    }

    fn len(&self) -> usize {
        self.env.len()
    }

    async fn execute(
        &self,
        client: &tokio_postgres::Client,
        statement: &tokio_postgres::Statement,
    ) -> Result<u64, TxError> {
        if self.len() == 0 {
            return Ok(0);
        }
        Ok(client
            .execute(
                statement,
                &[
                    &self.env,
                    &self.appid,
                    &self.offer,
                    &self.zone,
                    &self.openid,
                    &self.cash,
                    &self.gift,
                    &self.save_amt,
                    &self.save_sum,
                    &self.cost_sum,
                    &self.present_sum,
                    &self.recharged,
                    &self.at_ms,
                ],
            )
            .await?)
    }
}

/// Order rows as column arrays (all of them for an insert; the key and the changeable
/// columns for an update).
#[derive(Default)]
struct OrderColumns<'a> {
    env: Vec<&'a str>,
    appid: Vec<&'a str>,
    offer: Vec<&'a str>,
    book: Vec<&'a str>,
    number: Vec<&'a str>,
    kind: Vec<&'a str>,
    status: Vec<&'a str>,
    zone: Vec<&'a str>,
    openid: Vec<&'a str>,
    amount: Vec<i64>,
    gift: Vec<i64>,
    refunded_cash: Vec<i64>,
    refunded_gift: Vec<i64>,
    pay_number: Vec<Option<&'a str>>,
    balance_after: Vec<i64>,
    created_at_ms: Vec<i64>,
    updated_at_ms: Vec<i64>,
    product_id: Vec<Option<&'a str>>,
    fee_fen: Vec<Option<i64>>,
    wx_order_id: Vec<Option<&'a str>>,
    attach: Vec<Option<&'a str>>,
    paid_at_ms: Vec<Option<i64>>,
    delivered_at_ms: Vec<Option<i64>>,
    /// What release 0.1 reads of a pay that gave anything back (`Order::legacy_cancelled_at_ms`).
    cancelled_at_ms: Vec<Option<i64>>,
    refunded_fee: Vec<i64>,
    completes_at_ms: Vec<Option<i64>>,
    orig_fee_fen: Vec<Option<i64>>,
    channel: Vec<Option<&'a str>>,
}

impl<'a> OrderColumns<'a> {
    fn of<'w: 'a>(writes: &'a [OrderWrite<'w>]) -> OrderColumns<'a> {
        let mut c = OrderColumns::default();
        for OrderWrite { key, order: o } in writes {
            let p = o.purchase.as_ref();
            c.env.push(key.env.as_str());
            c.appid.push(&key.appid);
            c.offer.push(&key.offer_id);
            c.book.push(key.book.as_str());
            c.number.push(&key.number);
            c.kind.push(o.kind.as_str());
            c.status.push(o.status.as_str());
            c.zone.push(&o.zone_id);
            c.openid.push(&o.openid);
            c.amount.push(o.amount);
            c.gift.push(o.gift);
            c.refunded_cash.push(o.refunded.cash);
            c.refunded_gift.push(o.refunded.gift);
            c.pay_number.push(o.pay_number.as_deref());
            c.balance_after.push(o.balance_after);
            c.created_at_ms.push(o.created_at_ms);
            c.updated_at_ms.push(o.updated_at_ms);
            c.product_id.push(p.map(|p| p.product_id.as_str()));
            c.fee_fen.push(p.map(|p| p.fee_fen));
            c.wx_order_id.push(p.map(|p| p.wx_order_id.as_str()));
            c.attach.push(p.map(|p| p.attach.as_str()));
            c.paid_at_ms.push(p.and_then(|p| p.paid_at_ms));
            c.delivered_at_ms.push(p.and_then(|p| p.delivered_at_ms));
            c.cancelled_at_ms.push(o.legacy_cancelled_at_ms());
            c.refunded_fee.push(p.map_or(0, |p| p.refunded_fee));
            c.completes_at_ms.push(p.and_then(|p| p.completes_at_ms));
            c.orig_fee_fen.push(p.map(|p| p.orig_fee_fen));
            c.channel.push(p.map(|p| p.channel.as_str()));
        }
        c
    }

    fn len(&self) -> usize {
        self.env.len()
    }

    async fn insert(
        &self,
        client: &tokio_postgres::Client,
        statement: &tokio_postgres::Statement,
    ) -> Result<u64, TxError> {
        if self.len() == 0 {
            return Ok(0);
        }
        Ok(client
            .execute(
                statement,
                &[
                    &self.env,
                    &self.appid,
                    &self.offer,
                    &self.book,
                    &self.number,
                    &self.kind,
                    &self.status,
                    &self.zone,
                    &self.openid,
                    &self.amount,
                    &self.gift,
                    &self.refunded_cash,
                    &self.refunded_gift,
                    &self.pay_number,
                    &self.balance_after,
                    &self.created_at_ms,
                    &self.updated_at_ms,
                    &self.product_id,
                    &self.fee_fen,
                    &self.wx_order_id,
                    &self.attach,
                    &self.paid_at_ms,
                    &self.delivered_at_ms,
                    &self.cancelled_at_ms,
                    &self.refunded_fee,
                    &self.completes_at_ms,
                    &self.orig_fee_fen,
                    &self.channel,
                ],
            )
            .await?)
    }

    async fn update(
        &self,
        client: &tokio_postgres::Client,
        statement: &tokio_postgres::Statement,
    ) -> Result<u64, TxError> {
        if self.len() == 0 {
            return Ok(0);
        }
        Ok(client
            .execute(
                statement,
                &[
                    &self.env,
                    &self.appid,
                    &self.offer,
                    &self.book,
                    &self.number,
                    &self.status,
                    &self.refunded_cash,
                    &self.refunded_gift,
                    &self.balance_after,
                    &self.updated_at_ms,
                    &self.paid_at_ms,
                    &self.delivered_at_ms,
                    &self.cancelled_at_ms,
                    &self.refunded_fee,
                    &self.orig_fee_fen,
                    &self.channel,
                ],
            )
            .await?)
    }
}

/// Writes what the batch decided, in one round trip.
pub(crate) async fn write(conn: &mut Conn, writes: &Writes<'_>) -> Result<(), TxError> {
    let updated = AccountColumns::of(&writes.account_updates);
    let inserted = AccountColumns::of(&writes.account_inserts);
    let new_orders = OrderColumns::of(&writes.order_inserts);
    let changed_orders = OrderColumns::of(&writes.order_updates);

    let journal = &writes.journal;
    let j_env: Vec<&str> = journal.iter().map(|j| j.key.env.as_str()).collect();
    let j_appid: Vec<&str> = journal.iter().map(|j| j.key.appid.as_str()).collect();
    let j_offer: Vec<&str> = journal.iter().map(|j| j.key.offer_id.as_str()).collect();
    let j_zone: Vec<&str> = journal.iter().map(|j| j.key.zone_id.as_str()).collect();
    let j_openid: Vec<&str> = journal.iter().map(|j| j.key.openid.as_str()).collect();
    let j_kind: Vec<&str> = journal.iter().map(|j| j.kind.as_str()).collect();
    let j_no: Vec<&str> = journal.iter().map(|j| j.order_no.as_str()).collect();
    let j_amount: Vec<i64> = journal.iter().map(|j| j.amount).collect();
    let j_cash: Vec<i64> = journal.iter().map(|j| j.cash_delta).collect();
    let j_gift: Vec<i64> = journal.iter().map(|j| j.gift_delta).collect();
    let j_balance: Vec<i64> = journal.iter().map(|j| j.balance_after).collect();
    let j_at: Vec<i64> = journal.iter().map(|j| j.at_ms).collect();

    let pushes = &writes.pushes;
    let p_appid: Vec<&str> = pushes.iter().map(|p| p.appid.as_str()).collect();
    let p_env: Vec<&str> = pushes.iter().map(|p| p.env.as_str()).collect();
    let p_no: Vec<&str> = pushes.iter().map(|p| p.number.as_str()).collect();
    let p_kind: Vec<&str> = pushes.iter().map(|p| p.kind.as_str()).collect();
    let p_channel: Vec<&str> = pushes.iter().map(|p| p.channel.as_str()).collect();
    let p_created: Vec<i64> = pushes.iter().map(|p| p.created_ms).collect();
    let p_first: Vec<i64> = pushes.iter().map(|p| p.first_attempt_ms).collect();

    let update_accounts = conn.statement(UPDATE_ACCOUNTS).await?;
    let insert_accounts = conn.statement(INSERT_ACCOUNTS).await?;
    let insert_orders = conn.statement(INSERT_ORDERS).await?;
    let update_orders = conn.statement(UPDATE_ORDERS).await?;
    let insert_journal = conn.statement(INSERT_JOURNAL).await?;
    let insert_pushes = conn.statement(INSERT_PUSHES).await?;
    let client = &conn.client;

    // `biased`: sent in this order (accounts, then orders, each in key order, as on every
    // node), answered in this order.
    let (r_update, r_insert, r_orders, r_changed, r_journal, r_pushes) = tokio::join!(
        biased;
        updated.execute(client, &update_accounts),
        inserted.execute(client, &insert_accounts),
        new_orders.insert(client, &insert_orders),
        changed_orders.update(client, &update_orders),
        async {
            if j_env.is_empty() {
                return Ok(0);
            }
            client
                .execute(
                    &insert_journal,
                    &[
                        &j_env, &j_appid, &j_offer, &j_zone, &j_openid, &j_kind, &j_no, &j_amount, &j_cash,
                        &j_gift, &j_balance, &j_at,
                    ],
                )
                .await
                .map_err(TxError::from)
        },
        async {
            if pushes.is_empty() {
                return Ok(0);
            }
            client
                .execute(
                    &insert_pushes,
                    &[&p_appid, &p_env, &p_no, &p_kind, &p_channel, &p_created, &p_first],
                )
                .await
                .map_err(TxError::from)
        },
    );
    // The first error in the order sent is the one the server met first.
    let updated_rows = r_update?;
    let inserted_rows = r_insert?;
    let order_rows = r_orders?;
    let changed_rows = r_changed?;
    let journal_rows = r_journal?;
    let push_rows = r_pushes?;
    // Every updated row was locked by this transaction, so each must have changed; the
    // inserts either insert every row or fail.
    if updated_rows != updated.len() as u64 {
        return Err(corrupt("a locked account row vanished"));
    }
    if changed_rows != changed_orders.len() as u64 {
        return Err(corrupt("a locked order row vanished"));
    }
    if inserted_rows != inserted.len() as u64
        || order_rows != new_orders.len() as u64
        || journal_rows != journal.len() as u64
        || push_rows != pushes.len() as u64
    {
        return Err(corrupt("an insert wrote fewer rows than asked"));
    }
    Ok(())
}
