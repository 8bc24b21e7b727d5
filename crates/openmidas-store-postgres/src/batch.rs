//! One group-commit transaction over a batch of ledger commands, set-based: a constant
//! number of round trips whatever the batch size.
//!
//! 1. `BEGIN`, the read of every order of the batch and the read of every account of the
//!    batch, pipelined (sent together, answered in order). Both reads lock what they find
//!    (`FOR UPDATE`), in the batch's sorted key order, which is the same on every node:
//!    orders first, then accounts, each in one global order, so two nodes never wait on each
//!    other in a cycle.
//! 2. [`decide`] for each command in queue order, in memory, carrying each account's state
//!    and each order created or cancelled earlier in the batch forward: the batch answers
//!    exactly what the commands would have answered one after another.
//! 3. The writes, pipelined: one `UPDATE` of the accounts that existed (locked), one plain
//!    `INSERT` of the new accounts (no `ON CONFLICT`: a node that created one first makes it
//!    fail with 23505 and the whole batch is re-run), one `INSERT` of the new orders (the
//!    same for a `bill_no` a node inserted first: the re-run sees it and answers the
//!    duplicate), one `UPDATE` of the cancelled orders (locked in step 1), one `INSERT` of
//!    the journal rows in command order. Rows are inserted in the sorted key order too.
//! 4. `COMMIT` (by the caller), and only then the answers.

use openmidas_ledger::account::{Account, AccountKey, Env, InvariantViolation};
use openmidas_ledger::command::{
    decide, Decision, JournalEntry, LedgerCommand, MovementKind, OrderRecord, OrderWrite, Outcome,
};
use tokio_postgres::Row;

use crate::error::TxError;
use crate::pool::Conn;

/// An order's primary key: `(env, appid, offer_id, namespace, order_no)`.
pub(crate) type OrderRef<'a> = (Env, &'a str, &'a str, &'static str, &'a str);

pub(crate) fn order_ref(command: &LedgerCommand) -> OrderRef<'_> {
    let key = command.key();
    let (namespace, order_no) = command.order_ref();
    (key.env, &key.appid, &key.offer_id, namespace.as_str(), order_no)
}

/// An account of the batch: what the database holds (if anything) and its state so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AccountSlot {
    /// Whether the row exists (and is locked): UPDATE, else INSERT.
    pub(crate) stored: bool,
    pub(crate) state: Account,
    /// The time of the last command that changed it, if one did.
    pub(crate) changed_at_ms: Option<i64>,
}

impl AccountSlot {
    pub(crate) fn new(stored: Option<Account>) -> AccountSlot {
        AccountSlot {
            stored: stored.is_some(),
            state: stored.unwrap_or_default(),
            changed_at_ms: None,
        }
    }
}

/// An order number of the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OrderSlot {
    /// The order as it stands so far: read from the database, or created by a command of
    /// the batch.
    pub(crate) record: Option<OrderRecord>,
    /// Whether `record` came from the database (then it is locked, and a cancel is an
    /// UPDATE); otherwise a command of the batch created it (an INSERT of its final state).
    pub(crate) stored: bool,
    /// A stored order a command of the batch cancelled.
    pub(crate) cancelled_now: bool,
}

impl OrderSlot {
    pub(crate) fn new(stored: Option<OrderRecord>) -> OrderSlot {
        OrderSlot {
            stored: stored.is_some(),
            record: stored,
            cancelled_now: false,
        }
    }
}

/// The distinct keys of a batch, sorted: the order in which every node locks and inserts.
pub(crate) struct Keys<'a> {
    pub(crate) orders: Vec<OrderRef<'a>>,
    pub(crate) accounts: Vec<&'a AccountKey>,
}

impl<'a> Keys<'a> {
    pub(crate) fn of(commands: &[&'a LedgerCommand]) -> Keys<'a> {
        let mut orders: Vec<OrderRef<'a>> = commands.iter().map(|c| order_ref(c)).collect();
        orders.sort_unstable();
        orders.dedup();
        let mut accounts: Vec<&'a AccountKey> = commands.iter().map(|c| c.key()).collect();
        accounts.sort_unstable();
        accounts.dedup();
        Keys { orders, accounts }
    }

    fn order_index(&self, r: &OrderRef<'_>) -> Result<usize, TxError> {
        self.orders
            .binary_search_by(|probe| probe.cmp(r))
            .map_err(|_| TxError::Corrupt("an order of the batch is missing from its keys".into()))
    }

    fn account_index(&self, key: &AccountKey) -> Result<usize, TxError> {
        self.accounts
            .binary_search_by(|probe| (*probe).cmp(key))
            .map_err(|_| TxError::Corrupt("an account of the batch is missing from its keys".into()))
    }
}

/// Decides every command in queue order against the slots (one per key of `keys`, in the
/// same order), updating them as each applied command would have changed the rows. Returns
/// the outcomes and the journal rows, both in command order.
pub(crate) fn decide_all(
    commands: &[&LedgerCommand],
    keys: &Keys<'_>,
    orders: &mut [OrderSlot],
    accounts: &mut [AccountSlot],
) -> Result<(Vec<Outcome>, Vec<JournalEntry>), TxError> {
    let mut outcomes = Vec::with_capacity(commands.len());
    let mut journal = Vec::with_capacity(commands.len());
    for command in commands {
        let o = keys.order_index(&order_ref(command))?;
        let a = keys.account_index(command.key())?;
        let order = orders
            .get_mut(o)
            .ok_or_else(|| TxError::Corrupt("order slot missing".into()))?;
        let account = accounts
            .get_mut(a)
            .ok_or_else(|| TxError::Corrupt("account slot missing".into()))?;
        match decide(command, order.record.as_ref(), &account.state)? {
            Decision::Refuse(refusal) => outcomes.push(Outcome::Refused(refusal)),
            Decision::Apply(effect) => {
                account.state = effect.account;
                account.changed_at_ms = Some(effect.journal.at_ms);
                match effect.order {
                    OrderWrite::Insert(record) => {
                        if order.record.is_some() {
                            return Err(InvariantViolation("decide() created an order that exists".into()).into());
                        }
                        order.record = Some(record);
                        order.stored = false;
                    }
                    OrderWrite::MarkCancelled { cancelled_at_ms } => {
                        let record = order.record.as_mut().ok_or_else(|| {
                            TxError::from(InvariantViolation("decide() cancelled a missing order".into()))
                        })?;
                        if record.cancelled_at_ms.is_some() {
                            return Err(InvariantViolation("decide() cancelled a cancelled order".into()).into());
                        }
                        record.cancelled_at_ms = Some(cancelled_at_ms);
                        if order.stored {
                            order.cancelled_now = true;
                        }
                    }
                }
                journal.push(effect.journal);
                outcomes.push(effect.outcome);
            }
        }
    }
    Ok((outcomes, journal))
}

const READ_ORDERS: &str = "SELECT k.i, o.kind, o.zone_id, o.openid, o.amount, o.used_gift, o.balance_after,
        o.created_at_ms, o.cancelled_at_ms
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

const INSERT_ORDERS: &str = "INSERT INTO orders (env, appid, offer_id, namespace, order_no, kind, zone_id, openid,
        amount, used_gift, balance_after, created_at_ms, cancelled_at_ms)
 SELECT env, appid, offer_id, namespace, order_no, kind, zone_id, openid, amount, used_gift,
        balance_after, created_at_ms, cancelled_at_ms
 FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[],
             $8::TEXT[], $9::BIGINT[], $10::BIGINT[], $11::BIGINT[], $12::BIGINT[], $13::BIGINT[])
        WITH ORDINALITY AS u (env, appid, offer_id, namespace, order_no, kind, zone_id, openid, amount,
                              used_gift, balance_after, created_at_ms, cancelled_at_ms, i)
 ORDER BY u.i";

const CANCEL_ORDERS: &str = "UPDATE orders AS o SET cancelled_at_ms = u.cancelled_at_ms
 FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[])
        AS u (env, appid, offer_id, namespace, order_no, cancelled_at_ms)
 WHERE o.env = u.env AND o.appid = u.appid AND o.offer_id = u.offer_id AND o.namespace = u.namespace
   AND o.order_no = u.order_no AND o.cancelled_at_ms IS NULL";

const INSERT_JOURNAL: &str = "INSERT INTO journal (env, appid, offer_id, zone_id, openid, kind, order_no, amount,
        cash_delta, gift_delta, balance_after, at_ms)
 SELECT env, appid, offer_id, zone_id, openid, kind, order_no, amount, cash_delta, gift_delta,
        balance_after, at_ms
 FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[],
             $8::BIGINT[], $9::BIGINT[], $10::BIGINT[], $11::BIGINT[], $12::BIGINT[])
        WITH ORDINALITY AS u (env, appid, offer_id, zone_id, openid, kind, order_no, amount, cash_delta,
                              gift_delta, balance_after, at_ms, i)
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

fn order_from_row(r: &Row) -> Result<OrderRecord, TxError> {
    let kind: String = r.try_get(1)?;
    Ok(OrderRecord {
        kind: MovementKind::parse(&kind).ok_or_else(|| corrupt("orders.kind"))?,
        zone_id: r.try_get(2)?,
        openid: r.try_get(3)?,
        amount: r.try_get(4)?,
        used_gift: r.try_get(5)?,
        balance_after: r.try_get(6)?,
        created_at_ms: r.try_get(7)?,
        cancelled_at_ms: r.try_get(8)?,
    })
}

fn account_from_row(r: &Row) -> Result<Account, TxError> {
    Ok(Account {
        cash: r.try_get(1)?,
        gift: r.try_get(2)?,
        save_amt: r.try_get(3)?,
        save_sum: r.try_get(4)?,
        cost_sum: r.try_get(5)?,
        present_sum: r.try_get(6)?,
        recharged: r.try_get(7)?,
    })
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

/// `BEGIN` and the locking reads, in one round trip. Returns the slots of `keys`.
pub(crate) async fn begin_and_read(
    conn: &mut Conn,
    begin: &str,
    keys: &Keys<'_>,
) -> Result<(Vec<OrderSlot>, Vec<AccountSlot>), TxError> {
    let read_orders = conn.statement(READ_ORDERS).await?;
    let read_accounts = conn.statement(READ_ACCOUNTS).await?;

    let o_env: Vec<&str> = keys.orders.iter().map(|k| k.0.as_str()).collect();
    let o_appid: Vec<&str> = keys.orders.iter().map(|k| k.1).collect();
    let o_offer: Vec<&str> = keys.orders.iter().map(|k| k.2).collect();
    let o_namespace: Vec<&str> = keys.orders.iter().map(|k| k.3).collect();
    let o_no: Vec<&str> = keys.orders.iter().map(|k| k.4).collect();

    let a_env: Vec<&str> = keys.accounts.iter().map(|k| k.env.as_str()).collect();
    let a_appid: Vec<&str> = keys.accounts.iter().map(|k| k.appid.as_str()).collect();
    let a_offer: Vec<&str> = keys.accounts.iter().map(|k| k.offer_id.as_str()).collect();
    let a_zone: Vec<&str> = keys.accounts.iter().map(|k| k.zone_id.as_str()).collect();
    let a_openid: Vec<&str> = keys.accounts.iter().map(|k| k.openid.as_str()).collect();

    let client = &conn.client;
    // `biased`: polled in this order, so the requests go out in this order (each is sent
    // on its first poll); BEGIN must precede the reads.
    let (began, order_rows, account_rows) = tokio::join!(
        biased;
        async { client.batch_execute(begin).await.map_err(TxError::from) },
        async {
            client
                .query(&read_orders, &[&o_env, &o_appid, &o_offer, &o_namespace, &o_no])
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

    let mut orders: Vec<Option<OrderRecord>> = vec![None; keys.orders.len()];
    for row in &order_rows {
        let i = ordinal(row, keys.orders.len())?;
        orders[i] = Some(order_from_row(row)?);
    }
    let mut accounts: Vec<Option<Account>> = vec![None; keys.accounts.len()];
    for row in &account_rows {
        let i = ordinal(row, keys.accounts.len())?;
        accounts[i] = Some(account_from_row(row)?);
    }
    Ok((
        orders.into_iter().map(OrderSlot::new).collect(),
        accounts.into_iter().map(AccountSlot::new).collect(),
    ))
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

/// Writes what the batch decided, in one round trip. The slots are those of `keys`.
pub(crate) async fn write(
    conn: &mut Conn,
    keys: &Keys<'_>,
    orders: &[OrderSlot],
    accounts: &[AccountSlot],
    journal: &[JournalEntry],
) -> Result<(), TxError> {
    // Accounts: changed ones only, in key order.
    let mut updated = AccountColumns::default();
    let mut inserted = AccountColumns::default();
    for (key, slot) in keys.accounts.iter().zip(accounts) {
        if let Some(at_ms) = slot.changed_at_ms {
            if slot.stored {
                updated.push(key, &slot.state, at_ms);
            } else {
                inserted.push(key, &slot.state, at_ms);
            }
        }
    }

    // Orders: new ones (in their final state) and cancelled stored ones, in key order.
    let mut n_env: Vec<&str> = Vec::new();
    let mut n_appid: Vec<&str> = Vec::new();
    let mut n_offer: Vec<&str> = Vec::new();
    let mut n_namespace: Vec<&str> = Vec::new();
    let mut n_no: Vec<&str> = Vec::new();
    let mut n_kind: Vec<&str> = Vec::new();
    let mut n_zone: Vec<&str> = Vec::new();
    let mut n_openid: Vec<&str> = Vec::new();
    let mut n_amount: Vec<i64> = Vec::new();
    let mut n_used_gift: Vec<i64> = Vec::new();
    let mut n_balance_after: Vec<i64> = Vec::new();
    let mut n_created: Vec<i64> = Vec::new();
    let mut n_cancelled: Vec<Option<i64>> = Vec::new();
    let mut c_env: Vec<&str> = Vec::new();
    let mut c_appid: Vec<&str> = Vec::new();
    let mut c_offer: Vec<&str> = Vec::new();
    let mut c_namespace: Vec<&str> = Vec::new();
    let mut c_no: Vec<&str> = Vec::new();
    let mut c_at: Vec<i64> = Vec::new();
    for (key, slot) in keys.orders.iter().zip(orders) {
        let Some(record) = &slot.record else { continue };
        if !slot.stored {
            n_env.push(key.0.as_str());
            n_appid.push(key.1);
            n_offer.push(key.2);
            n_namespace.push(key.3);
            n_no.push(key.4);
            n_kind.push(record.kind.as_str());
            n_zone.push(&record.zone_id);
            n_openid.push(&record.openid);
            n_amount.push(record.amount);
            n_used_gift.push(record.used_gift);
            n_balance_after.push(record.balance_after);
            n_created.push(record.created_at_ms);
            n_cancelled.push(record.cancelled_at_ms);
        } else if slot.cancelled_now {
            let at = record
                .cancelled_at_ms
                .ok_or_else(|| corrupt("a cancelled order without its time"))?;
            c_env.push(key.0.as_str());
            c_appid.push(key.1);
            c_offer.push(key.2);
            c_namespace.push(key.3);
            c_no.push(key.4);
            c_at.push(at);
        }
    }

    // The journal, in command order.
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

    let update_accounts = conn.statement(UPDATE_ACCOUNTS).await?;
    let insert_accounts = conn.statement(INSERT_ACCOUNTS).await?;
    let insert_orders = conn.statement(INSERT_ORDERS).await?;
    let cancel_orders = conn.statement(CANCEL_ORDERS).await?;
    let insert_journal = conn.statement(INSERT_JOURNAL).await?;
    let client = &conn.client;

    // `biased`: sent in this order (accounts, then orders, each in key order, as on every
    // node), answered in this order.
    let (r_update, r_insert, r_orders, r_cancel, r_journal) = tokio::join!(
        biased;
        updated.execute(client, &update_accounts),
        inserted.execute(client, &insert_accounts),
        async {
            if n_env.is_empty() {
                return Ok(0);
            }
            client
                .execute(
                    &insert_orders,
                    &[
                        &n_env,
                        &n_appid,
                        &n_offer,
                        &n_namespace,
                        &n_no,
                        &n_kind,
                        &n_zone,
                        &n_openid,
                        &n_amount,
                        &n_used_gift,
                        &n_balance_after,
                        &n_created,
                        &n_cancelled,
                    ],
                )
                .await
                .map_err(TxError::from)
        },
        async {
            if c_env.is_empty() {
                return Ok(0);
            }
            client
                .execute(&cancel_orders, &[&c_env, &c_appid, &c_offer, &c_namespace, &c_no, &c_at])
                .await
                .map_err(TxError::from)
        },
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
    );
    // The first error in the order sent is the one the server met first.
    let updated_rows = r_update?;
    let inserted_rows = r_insert?;
    let order_rows = r_orders?;
    let cancelled_rows = r_cancel?;
    let journal_rows = r_journal?;
    // Every updated row was locked by this transaction, so each must have changed; the
    // inserts either insert every row or fail.
    if updated_rows != updated.len() as u64 {
        return Err(corrupt("a locked account row vanished"));
    }
    if cancelled_rows != c_env.len() as u64 {
        return Err(corrupt("a locked order row changed under its lock"));
    }
    if inserted_rows != inserted.len() as u64
        || order_rows != n_env.len() as u64
        || journal_rows != journal.len() as u64
    {
        return Err(corrupt("an insert wrote fewer rows than asked"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use openmidas_ledger::command::{OriginalResult, Refusal};

    const NOW: i64 = 1_767_225_600_000;

    fn key(openid: &str) -> AccountKey {
        AccountKey {
            env: Env::Official,
            appid: "wx".into(),
            offer_id: "o".into(),
            zone_id: "1".into(),
            openid: openid.into(),
        }
    }

    fn pay(openid: &str, bill: &str, amount: i64) -> LedgerCommand {
        LedgerCommand::Pay {
            key: key(openid),
            bill_no: bill.into(),
            amount,
            now_ms: NOW,
        }
    }

    fn cancel(openid: &str, bill: &str) -> LedgerCommand {
        LedgerCommand::CancelPay {
            key: key(openid),
            bill_no: bill.into(),
            now_ms: NOW + 5,
        }
    }

    fn funded(cash: i64) -> Account {
        Account::default().recharge(cash).expect("recharge")
    }

    /// Decides `commands` as one batch over what the "database" holds.
    fn run(
        commands: &[LedgerCommand],
        stored_accounts: &[(&str, Account)],
        stored_orders: &[(&str, OrderRecord)],
    ) -> (Vec<Outcome>, Vec<JournalEntry>, Vec<OrderSlot>, Vec<AccountSlot>) {
        let refs: Vec<&LedgerCommand> = commands.iter().collect();
        let keys = Keys::of(&refs);
        let mut orders: Vec<OrderSlot> = keys
            .orders
            .iter()
            .map(|k| OrderSlot::new(stored_orders.iter().find(|(no, _)| *no == k.4).map(|(_, o)| o.clone())))
            .collect();
        let mut accounts: Vec<AccountSlot> = keys
            .accounts
            .iter()
            .map(|k| AccountSlot::new(stored_accounts.iter().find(|(id, _)| *id == k.openid).map(|(_, a)| *a)))
            .collect();
        let (outcomes, journal) = decide_all(&refs, &keys, &mut orders, &mut accounts).expect("decide");
        (outcomes, journal, orders, accounts)
    }

    /// The same commands, one after another, each seeing what the previous ones wrote.
    fn sequential(commands: &[LedgerCommand], start: Account) -> Vec<Outcome> {
        let mut account = start;
        let mut orders: Vec<(String, OrderRecord)> = Vec::new();
        let mut out = Vec::new();
        for c in commands {
            let (_, no) = c.order_ref();
            let existing = orders.iter().find(|(n, _)| n == no).map(|(_, o)| o.clone());
            match decide(c, existing.as_ref(), &account).expect("decide") {
                Decision::Refuse(r) => out.push(Outcome::Refused(r)),
                Decision::Apply(e) => {
                    account = e.account;
                    match e.order {
                        OrderWrite::Insert(o) => orders.push((no.to_string(), o)),
                        OrderWrite::MarkCancelled { cancelled_at_ms } => {
                            for (n, o) in &mut orders {
                                if n == no {
                                    o.cancelled_at_ms = Some(cancelled_at_ms);
                                }
                            }
                        }
                    }
                    out.push(e.outcome);
                }
            }
        }
        out
    }

    #[test]
    fn one_account_twice_in_a_batch_carries_its_balance() {
        let commands = [pay("u", "b1", 60), pay("u", "b2", 60), pay("u", "b3", 40)];
        let (outcomes, journal, orders, accounts) = run(&commands, &[("u", funded(100))], &[]);
        assert_eq!(outcomes, sequential(&commands, funded(100)));
        assert!(matches!(outcomes[0], Outcome::Paid { balance: 40, .. }));
        assert_eq!(outcomes[1], Outcome::Refused(Refusal::InsufficientBalance));
        assert!(matches!(outcomes[2], Outcome::Paid { balance: 0, .. }));
        assert_eq!(journal.len(), 2);
        assert_eq!(accounts.len(), 1);
        assert_eq!((accounts[0].state.balance(), accounts[0].stored), (0, true));
        // b2 was refused: no order for it.
        let created: Vec<bool> = orders.iter().map(|o| o.record.is_some() && !o.stored).collect();
        assert_eq!(created, vec![true, false, true]);
    }

    #[test]
    fn a_bill_no_repeated_in_a_batch_is_a_duplicate() {
        let commands = [
            pay("u", "b", 10),
            pay("u", "b", 10),
            pay("v", "b", 10),
            pay("u", "b", 11),
        ];
        let (outcomes, journal, orders, accounts) = run(&commands, &[("u", funded(100)), ("v", funded(100))], &[]);
        assert_eq!(
            outcomes,
            sequential(&commands[..2], funded(100))
                .into_iter()
                .chain([
                    Outcome::Refused(Refusal::DuplicateBillNo { original: None }),
                    Outcome::Refused(Refusal::DuplicateBillNo { original: None }),
                ])
                .collect::<Vec<_>>()
        );
        assert_eq!(
            outcomes[1],
            Outcome::Refused(Refusal::DuplicateBillNo {
                original: Some(OriginalResult::Paid {
                    bill_no: "b".into(),
                    balance: 90,
                    used_gift: 0
                })
            })
        );
        assert_eq!(journal.len(), 1);
        assert_eq!(orders.len(), 1);
        // v was never charged, so its row is not written.
        let v = keys_index(&commands, "v");
        assert_eq!(accounts[v].changed_at_ms, None);
    }

    fn keys_index(commands: &[LedgerCommand], openid: &str) -> usize {
        let refs: Vec<&LedgerCommand> = commands.iter().collect();
        Keys::of(&refs)
            .accounts
            .iter()
            .position(|k| k.openid == openid)
            .expect("account in batch")
    }

    #[test]
    fn a_pay_cancelled_in_its_own_batch_is_inserted_cancelled() {
        let commands = [pay("u", "b", 30), cancel("u", "b"), cancel("u", "b")];
        let (outcomes, journal, orders, accounts) = run(&commands, &[], &[]);
        assert_eq!(outcomes, sequential(&commands, Account::default()));
        assert_eq!(outcomes[0], Outcome::Refused(Refusal::InsufficientBalance));
        assert_eq!(outcomes[1], Outcome::Refused(Refusal::OrderNotFound));
        assert!(journal.is_empty());
        assert_eq!(accounts[0].changed_at_ms, None);
        assert_eq!(orders[0].record, None);

        let commands = [pay("u", "b", 30), cancel("u", "b"), cancel("u", "b")];
        let (outcomes, journal, orders, accounts) = run(&commands, &[("u", funded(50))], &[]);
        assert_eq!(outcomes, sequential(&commands, funded(50)));
        assert!(matches!(outcomes[1], Outcome::Cancelled { .. }));
        assert_eq!(outcomes[2], Outcome::Refused(Refusal::AlreadyCancelled));
        assert_eq!(journal.len(), 2);
        let record = orders[0].record.as_ref().expect("order");
        assert!(!orders[0].stored);
        assert_eq!(record.cancelled_at_ms, Some(NOW + 5));
        assert_eq!(accounts[0].state, funded(50));
        assert_eq!(accounts[0].changed_at_ms, Some(NOW + 5));
    }

    #[test]
    fn a_stored_pay_cancelled_is_an_update() {
        let paid = OrderRecord {
            kind: MovementKind::Pay,
            zone_id: "1".into(),
            openid: "u".into(),
            amount: 20,
            used_gift: 0,
            balance_after: 80,
            created_at_ms: NOW,
            cancelled_at_ms: None,
        };
        let commands = [cancel("u", "old"), cancel("u", "old")];
        let (after, _) = funded(100).pay(20).expect("pay");
        let (outcomes, journal, orders, accounts) = run(&commands, &[("u", after)], &[("old", paid)]);
        assert!(matches!(outcomes[0], Outcome::Cancelled { .. }));
        assert_eq!(outcomes[1], Outcome::Refused(Refusal::AlreadyCancelled));
        assert_eq!(journal.len(), 1);
        assert!(orders[0].stored && orders[0].cancelled_now);
        assert_eq!(accounts[0].state.balance(), 100);
    }
}
