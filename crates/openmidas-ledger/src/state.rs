//! The whole state as one document, for the emulator's export, import and reset
//! (behaviour.md section 13.4).
//!
//! The document is the stored rows, table by table, column by column: lossless (export,
//! import, export gives the same document) and the same for every store. [`TABLES`] is its
//! schema, and the stores dump and load rows by it without knowing what a row means. What a
//! row may hold, and how rows relate, is checked here ([`StateDoc::check`]) before any store
//! replaces anything. The JSON form belongs to the server.

use std::collections::HashSet;
use std::fmt;

use crate::account::{Account, Coins};
use crate::auth::{App, BillNoCharset, DuplicateBillPolicy, SignatureHex};
use crate::order::{Book, Order, OrderKind, OrderStatus, Purchase, PurchaseChannel};
use crate::push::{PushAck, PushFormat, PushMode, PushSettings};

/// The document's version: a change of [`TABLES`] is a new version. Documents of older
/// versions still import: a column added since is filled with its default.
pub const STATE_VERSION: i64 = 4;
/// The most rows a document holds (all tables together): an import or export is held in
/// memory at once, and this is for emulator-sized states.
pub const MAX_STATE_ROWS: usize = 1_000_000;
/// The longest text of any cell, in bytes.
pub const MAX_TEXT_BYTES: usize = 4096;

/// A column's stored type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Integer,
    Boolean,
}

/// What a column's non-null values may be, beyond their type.
#[derive(Debug, Clone, Copy)]
pub enum Rule {
    Any,
    /// An integer of at least 0.
    NonNegative,
    /// A text one of these names.
    OneOf(&'static [&'static str]),
}

/// One column of a table.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
    pub nullable: bool,
    pub rule: Rule,
    /// The document version that added the column.
    pub added_in: i64,
    /// What a non-null integer column holds in a document older than the column.
    pub default_integer: i64,
}

impl Column {
    /// What the column holds in a document older than the column: null, or its default
    /// (zero unless the column says otherwise).
    pub fn default_cell(&self) -> Cell {
        match (self.nullable, self.ty) {
            (true, _) => Cell::Null,
            (false, ColumnType::Integer) => Cell::Integer(self.default_integer),
            (false, ColumnType::Boolean) => Cell::Boolean(false),
            (false, ColumnType::Text) => Cell::Text(String::new()),
        }
    }
}

/// One table of the document: `name` is its key in the document, `sql` its table in the
/// stores, `key` the columns that identify a row (rows are kept in key order).
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    pub sql: &'static str,
    pub columns: &'static [Column],
    pub key: &'static [&'static str],
}

impl Table {
    /// The position of a column.
    pub fn index(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == column)
    }
}

const fn col(name: &'static str, ty: ColumnType, nullable: bool, rule: Rule) -> Column {
    Column {
        name,
        ty,
        nullable,
        rule,
        added_in: 1,
        default_integer: 0,
    }
}
/// A column added by document version 2 (xpay).
const fn v2(column: Column) -> Column {
    Column { added_in: 2, ..column }
}
const fn v3(column: Column) -> Column {
    Column { added_in: 3, ..column }
}
/// A column added by document version 4 (the token quota), with its value in older
/// documents.
const fn v4(column: Column, default_integer: i64) -> Column {
    Column {
        added_in: 4,
        default_integer,
        ..column
    }
}
const fn one_of_or_null(name: &'static str, names: &'static [&'static str]) -> Column {
    col(name, ColumnType::Text, true, Rule::OneOf(names))
}
const fn text(name: &'static str) -> Column {
    col(name, ColumnType::Text, false, Rule::Any)
}
const fn text_or_null(name: &'static str) -> Column {
    col(name, ColumnType::Text, true, Rule::Any)
}
const fn one_of(name: &'static str, names: &'static [&'static str]) -> Column {
    col(name, ColumnType::Text, false, Rule::OneOf(names))
}
const fn int(name: &'static str) -> Column {
    col(name, ColumnType::Integer, false, Rule::Any)
}
const fn count(name: &'static str) -> Column {
    col(name, ColumnType::Integer, false, Rule::NonNegative)
}
const fn count_or_null(name: &'static str) -> Column {
    col(name, ColumnType::Integer, true, Rule::NonNegative)
}
const fn boolean(name: &'static str) -> Column {
    col(name, ColumnType::Boolean, false, Rule::Any)
}

const ENVS: &[&str] = &["official", "sandbox"];
const CHANNELS: &[&str] = &["mini_game", "xpay"];

/// The schema of the document, in the order tables are loaded (apps first).
pub static TABLES: [Table; 9] = [
    Table {
        name: "apps",
        sql: "apps",
        columns: &[
            text("appid"),
            text("secret"),
            text("offer_id"),
            text("app_key"),
            text("sandbox_app_key"),
            boolean("require_mp_sig"),
            count_or_null("ts_window_secs"),
            one_of("duplicate_bill_no", &["reject", "replay"]),
            count("cancel_window_secs"),
            one_of("signature_hex", &["lower", "any"]),
            one_of("bill_no_charset", &["v2", "v1"]),
            count("coin_price_fen"),
            count_or_null("session_ttl_secs"),
            count("created_at_ms"),
            count("updated_at_ms"),
            v2(count("refund_delay_secs")),
            v3(text_or_null("push_url")),
            v3(text_or_null("push_token")),
            v3(text_or_null("push_encoding_aes_key")),
            v3(one_of_or_null("push_mode", &["plain", "safe"])),
            v3(one_of_or_null("push_format", &["json", "xml"])),
            v3(one_of_or_null("push_ack", &["strict", "lenient"])),
            v4(
                count("token_daily_limit"),
                crate::auth::DEFAULT_TOKEN_DAILY_LIMIT as i64,
            ),
        ],
        key: &["appid"],
    },
    Table {
        name: "tokens",
        sql: "access_tokens",
        columns: &[
            text("token"),
            text("appid"),
            one_of("kind", &["basic", "stable"]),
            count("issued_at_ms"),
            count("expires_at_ms"),
            count_or_null("retired_at_ms"),
        ],
        key: &["token"],
    },
    Table {
        name: "codes",
        sql: "login_codes",
        columns: &[
            text("code"),
            text("appid"),
            text("openid"),
            count("created_at_ms"),
            count("expires_at_ms"),
            count_or_null("used_at_ms"),
        ],
        key: &["code"],
    },
    Table {
        name: "sessions",
        sql: "sessions",
        columns: &[
            text("appid"),
            text("openid"),
            text("session_key"),
            count("created_at_ms"),
        ],
        key: &["appid", "openid"],
    },
    Table {
        name: "accounts",
        sql: "accounts",
        columns: &[
            one_of("env", ENVS),
            text("appid"),
            text("offer_id"),
            text("zone_id"),
            text("openid"),
            count("cash"),
            count("gift"),
            count("save_amt"),
            count("save_sum"),
            count("cost_sum"),
            count("present_sum"),
            boolean("recharged"),
            count("updated_at_ms"),
        ],
        key: &["env", "appid", "offer_id", "zone_id", "openid"],
    },
    Table {
        name: "orders",
        sql: "orders",
        columns: &[
            one_of("env", ENVS),
            text("appid"),
            text("offer_id"),
            one_of("namespace", &["bill", "trade"]),
            text("order_no"),
            one_of(
                "kind",
                &["pay", "present", "refund", "recharge", "item", "purchase_refund"],
            ),
            one_of(
                "status",
                &["created", "paid", "delivered", "done", "refunded", "closed"],
            ),
            text("zone_id"),
            text("openid"),
            count("amount"),
            count("used_gift"),
            count("refunded_cash"),
            count("refunded_gift"),
            text_or_null("pay_number"),
            count("balance_after"),
            count("created_at_ms"),
            count("updated_at_ms"),
            count_or_null("cancelled_at_ms"),
            text_or_null("product_id"),
            count_or_null("fee_fen"),
            text_or_null("wx_order_id"),
            text_or_null("attach"),
            count_or_null("paid_at_ms"),
            count_or_null("delivered_at_ms"),
            v2(count("refunded_fee")),
            v2(count_or_null("completes_at_ms")),
            v3(count_or_null("orig_fee_fen")),
            v3(one_of_or_null("purchase_channel", CHANNELS)),
        ],
        key: &["env", "appid", "offer_id", "namespace", "order_no"],
    },
    Table {
        name: "journal",
        sql: "journal",
        columns: &[
            col("id", ColumnType::Integer, false, Rule::NonNegative),
            one_of("env", ENVS),
            text("appid"),
            text("offer_id"),
            text("zone_id"),
            text("openid"),
            one_of("kind", &["recharge", "present", "pay", "refund", "cancelpay"]),
            text("order_no"),
            count("amount"),
            int("cash_delta"),
            int("gift_delta"),
            count("balance_after"),
            count("at_ms"),
        ],
        key: &["id"],
    },
    Table {
        name: "bills",
        sql: "bills",
        columns: &[
            v2(text("appid")),
            v2(one_of("env", ENVS)),
            v2(count("begin_ds")),
            v2(count("end_ds")),
            v2(count("requested_at_ms")),
            v2(text_or_null("token")),
            v2(count_or_null("expires_at_ms")),
        ],
        key: &["appid", "env", "begin_ds", "end_ds"],
    },
    Table {
        name: "pushes",
        sql: "pushes",
        columns: &[
            v3(col("id", ColumnType::Integer, false, Rule::NonNegative)),
            v3(text("appid")),
            v3(one_of("env", ENVS)),
            v3(text("order_no")),
            v3(one_of("kind", &["coins_delivered", "goods_paid", "refund_done"])),
            v3(one_of("channel", CHANNELS)),
            v3(count("created_ms")),
            v3(one_of("status", &["pending", "delivered", "failed"])),
            v3(count("attempts")),
            v3(count("scheduled_attempts")),
            v3(count("next_attempt_ms")),
            v3(count("lease_until_ms")),
            v3(text("last_reply")),
        ],
        key: &["id"],
    },
];

/// One stored value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cell {
    Null,
    Boolean(bool),
    Integer(i64),
    Text(String),
}

/// A row: one cell per column of its table, in [`Table::columns`] order.
pub type Row = Vec<Cell>;

/// The whole state: the rows of each of [`TABLES`], in the same order.
#[derive(Clone, PartialEq, Eq)]
pub struct StateDoc {
    pub tables: Vec<Vec<Row>>,
}

impl fmt::Debug for StateDoc {
    // Rows hold secrets: show only their counts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("StateDoc");
        for (table, rows) in TABLES.iter().zip(&self.tables) {
            s.field(table.name, &rows.len());
        }
        s.finish()
    }
}

/// Why a document cannot be imported: where (`accounts[3].cash`) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[{at}] {problem}")]
pub struct StateProblem {
    pub at: String,
    pub problem: String,
}

impl StateProblem {
    pub fn new(at: impl Into<String>, problem: impl Into<String>) -> StateProblem {
        StateProblem {
            at: at.into(),
            problem: problem.into(),
        }
    }
}

impl Default for StateDoc {
    fn default() -> Self {
        StateDoc {
            tables: vec![Vec::new(); TABLES.len()],
        }
    }
}

impl StateDoc {
    /// The rows of the table named `name`.
    pub fn rows(&self, name: &str) -> &[Row] {
        TABLES
            .iter()
            .position(|t| t.name == name)
            .and_then(|i| self.tables.get(i))
            .map_or(&[], Vec::as_slice)
    }

    /// Puts every table's rows in key order (byte order of texts, whatever the database's
    /// collation), so the same state always gives the same document.
    pub fn sort(&mut self) {
        for (table, rows) in TABLES.iter().zip(&mut self.tables) {
            let key: Vec<usize> = table.key.iter().filter_map(|k| table.index(k)).collect();
            rows.sort_by(|a, b| {
                key.iter()
                    .map(|&i| a[i].cmp(&b[i]))
                    .find(|o| o.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
        }
    }

    /// Everything an import must hold before a store replaces the state with it: each
    /// cell's type and values, unique keys, every row's app present, and the rules of
    /// apps, accounts and orders. The first problem found is answered.
    pub fn check(&self) -> Result<(), StateProblem> {
        if self.tables.len() != TABLES.len() {
            return Err(StateProblem::new("version", "the document does not have every table"));
        }
        let total: usize = self.tables.iter().map(Vec::len).sum();
        if total > MAX_STATE_ROWS {
            return Err(StateProblem::new(
                "version",
                format!("the document has {total} rows, more than {MAX_STATE_ROWS}"),
            ));
        }
        for (table, rows) in TABLES.iter().zip(&self.tables) {
            for (n, row) in rows.iter().enumerate() {
                check_cells(table, n, row)?;
            }
        }
        let apps = self.rows("apps");
        let mut appids = HashSet::new();
        for (table, rows) in TABLES.iter().zip(&self.tables) {
            let key: Vec<usize> = table.key.iter().filter_map(|k| table.index(k)).collect();
            let mut seen = HashSet::with_capacity(rows.len());
            for (n, row) in rows.iter().enumerate() {
                let id: Vec<&Cell> = key.iter().map(|&i| &row[i]).collect();
                if !seen.insert(id) {
                    return Err(StateProblem::new(
                        format!("{}[{n}]", table.name),
                        format!("a second row with the key ({})", table.key.join(", ")),
                    ));
                }
            }
            if table.name == "apps" {
                for (n, row) in apps.iter().enumerate() {
                    let app = app_from_row(row).map_err(|p| StateProblem::new(format!("apps[{n}]"), p))?;
                    app.validate().map_err(|p| StateProblem::new(format!("apps[{n}]"), p))?;
                    appids.insert(app.appid);
                }
                continue;
            }
            let Some(appid) = table.index("appid") else { continue };
            for (n, row) in rows.iter().enumerate() {
                if let Cell::Text(id) = &row[appid] {
                    if !appids.contains(id) {
                        return Err(StateProblem::new(
                            format!("{}[{n}].appid", table.name),
                            format!("{id} is not an app of this document"),
                        ));
                    }
                }
            }
        }
        for (n, row) in self.rows("accounts").iter().enumerate() {
            account_from_row(row)
                .check_invariants()
                .map_err(|e| StateProblem::new(format!("accounts[{n}]"), e.0))?;
        }
        for (n, row) in self.rows("orders").iter().enumerate() {
            order_from_row(row).map_err(|p| StateProblem::new(format!("orders[{n}]"), p))?;
        }
        Ok(())
    }
}

/// A cell's type, nullness, length and rule.
fn check_cells(table: &Table, n: usize, row: &Row) -> Result<(), StateProblem> {
    if row.len() != table.columns.len() {
        return Err(StateProblem::new(
            format!("{}[{n}]", table.name),
            format!("has {} columns, not {}", row.len(), table.columns.len()),
        ));
    }
    for (column, cell) in table.columns.iter().zip(row) {
        let at = || format!("{}[{n}].{}", table.name, column.name);
        let problem = match (cell, column.ty) {
            (Cell::Null, _) if column.nullable => None,
            (Cell::Null, _) => Some("must not be null".to_string()),
            (Cell::Text(t), ColumnType::Text) => match column.rule {
                _ if t.len() > MAX_TEXT_BYTES => Some(format!("must be at most {MAX_TEXT_BYTES} bytes")),
                Rule::OneOf(names) if !names.contains(&t.as_str()) => Some(format!(
                    "must be one of {}",
                    names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
                )),
                _ => None,
            },
            (Cell::Integer(i), ColumnType::Integer) => match column.rule {
                Rule::NonNegative if *i < 0 => Some("must be an integer of at least 0".to_string()),
                _ => None,
            },
            (Cell::Boolean(_), ColumnType::Boolean) => None,
            (_, ty) => Some(format!("must be {}", type_name(ty, column.nullable))),
        };
        if let Some(problem) = problem {
            return Err(StateProblem::new(at(), problem));
        }
    }
    Ok(())
}

/// How an errmsg names a column's type.
pub fn type_name(ty: ColumnType, nullable: bool) -> &'static str {
    match (ty, nullable) {
        (ColumnType::Text, false) => "a string",
        (ColumnType::Text, true) => "a string or null",
        (ColumnType::Integer, false) => "an integer",
        (ColumnType::Integer, true) => "an integer or null",
        (ColumnType::Boolean, false) => "a boolean",
        (ColumnType::Boolean, true) => "a boolean or null",
    }
}

/// Typed access to a checked row's cells, by column name.
struct Cells<'a> {
    table: &'a Table,
    row: &'a Row,
}

impl<'a> Cells<'a> {
    fn of(name: &str, row: &'a Row) -> Cells<'a> {
        let table = TABLES.iter().find(|t| t.name == name).unwrap_or(&TABLES[0]);
        Cells { table, row }
    }
    fn cell(&self, column: &str) -> &'a Cell {
        self.table
            .index(column)
            .and_then(|i| self.row.get(i))
            .unwrap_or(&Cell::Null)
    }
    fn text(&self, column: &str) -> &'a str {
        match self.cell(column) {
            Cell::Text(t) => t,
            _ => "",
        }
    }
    fn text_or_null(&self, column: &str) -> Option<String> {
        match self.cell(column) {
            Cell::Text(t) => Some(t.clone()),
            _ => None,
        }
    }
    fn int(&self, column: &str) -> i64 {
        self.int_or_null(column).unwrap_or_default()
    }
    fn int_or_null(&self, column: &str) -> Option<i64> {
        match self.cell(column) {
            Cell::Integer(i) => Some(*i),
            _ => None,
        }
    }
    fn boolean(&self, column: &str) -> bool {
        matches!(self.cell(column), Cell::Boolean(true))
    }
    fn seconds(&self, column: &str) -> Result<Option<u32>, String> {
        self.int_or_null(column)
            .map(|v| u32::try_from(v).map_err(|_| format!("{column} must be at most {}", u32::MAX)))
            .transpose()
    }
}

fn app_from_row(row: &Row) -> Result<App, String> {
    let c = Cells::of("apps", row);
    Ok(App {
        require_mp_sig: c.boolean("require_mp_sig"),
        ts_window_secs: c.seconds("ts_window_secs")?,
        duplicate_bill_no: DuplicateBillPolicy::parse(c.text("duplicate_bill_no")).unwrap_or_default(),
        cancel_window_secs: c.seconds("cancel_window_secs")?.unwrap_or_default(),
        signature_hex: SignatureHex::parse(c.text("signature_hex")).unwrap_or_default(),
        bill_no_charset: BillNoCharset::parse(c.text("bill_no_charset")).unwrap_or_default(),
        coin_price_fen: c.seconds("coin_price_fen")?.unwrap_or_default(),
        session_ttl_secs: c.seconds("session_ttl_secs")?,
        refund_delay_secs: c.seconds("refund_delay_secs")?.unwrap_or_default(),
        token_daily_limit: c.seconds("token_daily_limit")?.unwrap_or_default(),
        push: push_settings(&c)?,
        ..App::new(
            c.text("appid"),
            c.text("secret"),
            c.text("offer_id"),
            c.text("app_key"),
            c.text("sandbox_app_key"),
        )
    })
}

/// An app's push settings: all of url, token, mode, format and ack, or none.
fn push_settings(c: &Cells) -> Result<Option<PushSettings>, String> {
    let Some(url) = c.text_or_null("push_url") else {
        return Ok(None);
    };
    let setting = |name: &str| c.text_or_null(name).ok_or(format!("an app with push_url needs {name}"));
    let settings = PushSettings {
        url: url.to_string(),
        token: setting("push_token")?.to_string(),
        encoding_aes_key: c.text_or_null("push_encoding_aes_key").map(|k| k.to_string()),
        mode: PushMode::parse(&setting("push_mode")?).ok_or("unknown push_mode")?,
        format: PushFormat::parse(&setting("push_format")?).ok_or("unknown push_format")?,
        ack: PushAck::parse(&setting("push_ack")?).ok_or("unknown push_ack")?,
    };
    settings.check()?;
    Ok(Some(settings))
}

fn account_from_row(row: &Row) -> Account {
    let c = Cells::of("accounts", row);
    Account {
        cash: c.int("cash"),
        gift: c.int("gift"),
        save_amt: c.int("save_amt"),
        save_sum: c.int("save_sum"),
        cost_sum: c.int("cost_sum"),
        present_sum: c.int("present_sum"),
        recharged: c.boolean("recharged"),
    }
}

/// An order row as the stores read it back, checked by the order's own invariants.
fn order_from_row(row: &Row) -> Result<Order, String> {
    let c = Cells::of("orders", row);
    let kind = OrderKind::parse(c.text("kind")).ok_or("unknown kind")?;
    let book = if c.text("namespace") == Book::Purchase.as_str() {
        Book::Purchase
    } else {
        Book::Currency
    };
    if kind.book() != book {
        return Err(format!(
            "a {} order belongs to namespace \"{}\"",
            kind.as_str(),
            kind.book().as_str()
        ));
    }
    let purchase = match book {
        Book::Currency => None,
        Book::Purchase => Some(Purchase {
            product_id: c.text_or_null("product_id").ok_or("a purchase needs product_id")?,
            fee_fen: c.int_or_null("fee_fen").ok_or("a purchase needs fee_fen")?,
            orig_fee_fen: c
                .int_or_null("orig_fee_fen")
                .or(c.int_or_null("fee_fen"))
                .ok_or("a purchase needs fee_fen")?,
            channel: match c.text_or_null("purchase_channel") {
                Some(text) => PurchaseChannel::parse(&text).ok_or("unknown purchase_channel")?,
                None => PurchaseChannel::default(),
            },
            wx_order_id: c.text_or_null("wx_order_id").ok_or("a purchase needs wx_order_id")?,
            attach: c.text_or_null("attach").ok_or("a purchase needs attach")?,
            paid_at_ms: c.int_or_null("paid_at_ms"),
            delivered_at_ms: c.int_or_null("delivered_at_ms"),
            refunded_fee: c.int("refunded_fee"),
            completes_at_ms: c.int_or_null("completes_at_ms"),
        }),
    };
    let order = Order {
        kind,
        status: OrderStatus::parse(c.text("status")).ok_or("unknown status")?,
        zone_id: c.text("zone_id").to_string(),
        openid: c.text("openid").to_string(),
        amount: c.int("amount"),
        gift: c.int("used_gift"),
        refunded: Coins {
            cash: c.int("refunded_cash"),
            gift: c.int("refunded_gift"),
        },
        pay_number: c.text_or_null("pay_number"),
        balance_after: c.int("balance_after"),
        created_at_ms: c.int("created_at_ms"),
        updated_at_ms: c.int("updated_at_ms"),
        purchase,
    }
    .with_legacy_cancel(c.int_or_null("cancelled_at_ms"));
    order.check_invariants().map_err(|e| e.0)?;
    Ok(order)
}

/// What [`crate::store::Write::Reset`] empties (behaviour.md section 13.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetScope {
    /// One app's rows, or every app's.
    pub appid: Option<String>,
    /// Keep the app rows themselves.
    pub keep_apps: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::Env;
    use crate::auth::TokenKind;
    use crate::command::MovementKind;

    fn names_agree(column: &str, table: &str, parse: fn(&str) -> bool) {
        let t = TABLES.iter().find(|t| t.name == table).unwrap();
        let Rule::OneOf(names) = t.columns[t.index(column).unwrap()].rule else {
            panic!("{table}.{column} has no names")
        };
        for name in names {
            assert!(parse(name), "{table}.{column}: {name} is not a ledger name");
        }
    }

    #[test]
    fn the_schema_names_what_the_ledger_parses() {
        names_agree("env", "accounts", |t| Env::parse(t).is_some());
        names_agree("kind", "tokens", |t| TokenKind::parse(t).is_some());
        names_agree("kind", "orders", |t| OrderKind::parse(t).is_some());
        names_agree("status", "orders", |t| OrderStatus::parse(t).is_some());
        names_agree("kind", "journal", |t| MovementKind::parse(t).is_some());
        names_agree("duplicate_bill_no", "apps", |t| DuplicateBillPolicy::parse(t).is_some());
        names_agree("signature_hex", "apps", |t| SignatureHex::parse(t).is_some());
        names_agree("bill_no_charset", "apps", |t| BillNoCharset::parse(t).is_some());
        for table in &TABLES {
            for key in table.key {
                assert!(table.index(key).is_some(), "{}: key {key}", table.name);
            }
        }
    }

    fn app_row(appid: &str) -> Row {
        let t = |s: &str| Cell::Text(s.to_string());
        vec![
            t(appid),
            t("secret"),
            t("1450000001"),
            t("key"),
            t("sandbox-key"),
            Cell::Boolean(false),
            Cell::Null,
            t("reject"),
            Cell::Integer(172_800),
            t("lower"),
            t("v2"),
            Cell::Integer(10),
            Cell::Null,
            Cell::Integer(1),
            Cell::Integer(1),
            Cell::Integer(0),
            // No push settings.
            Cell::Null,
            Cell::Null,
            Cell::Null,
            Cell::Null,
            Cell::Null,
            Cell::Null,
            // token_daily_limit
            Cell::Integer(2000),
        ]
    }

    fn account_row(appid: &str, cash: i64) -> Row {
        let t = |s: &str| Cell::Text(s.to_string());
        vec![
            t("official"),
            t(appid),
            t("1450000001"),
            t("1"),
            t("o1"),
            Cell::Integer(cash),
            Cell::Integer(0),
            Cell::Integer(cash),
            Cell::Integer(cash),
            Cell::Integer(0),
            Cell::Integer(0),
            Cell::Boolean(true),
            Cell::Integer(5),
        ]
    }

    fn doc(apps: Vec<Row>, accounts: Vec<Row>) -> StateDoc {
        let mut doc = StateDoc::default();
        doc.tables[0] = apps;
        doc.tables[4] = accounts;
        doc
    }

    #[test]
    fn a_consistent_document_passes() {
        doc(vec![app_row("wx1")], vec![account_row("wx1", 50)]).check().unwrap();
    }

    #[test]
    fn problems_name_their_place() {
        let problem = |d: StateDoc| d.check().unwrap_err().to_string();
        let mut negative = account_row("wx1", 50);
        negative[5] = Cell::Integer(-1);
        assert_eq!(
            problem(doc(vec![app_row("wx1")], vec![negative])),
            "[accounts[0].cash] must be an integer of at least 0"
        );
        let mut broken = account_row("wx1", 50);
        broken[8] = Cell::Integer(49);
        assert!(problem(doc(vec![app_row("wx1")], vec![broken])).starts_with("[accounts[0]] balance 50"));
        assert_eq!(
            problem(doc(vec![app_row("wx1")], vec![account_row("wx2", 1)])),
            "[accounts[0].appid] wx2 is not an app of this document"
        );
        assert_eq!(
            problem(doc(vec![app_row("wx1"), app_row("wx1")], vec![])),
            "[apps[1]] a second row with the key (appid)"
        );
        let mut typed = app_row("wx1");
        typed[5] = Cell::Integer(0);
        assert_eq!(
            problem(doc(vec![typed], vec![])),
            "[apps[0].require_mp_sig] must be a boolean"
        );
        let mut option = app_row("wx1");
        option[11] = Cell::Integer(0);
        assert_eq!(
            problem(doc(vec![option], vec![])),
            "[apps[0]] coin_price_fen must be 1 to 1000000"
        );
    }

    #[test]
    fn sorting_follows_the_key_in_byte_order() {
        let mut d = doc(vec![app_row("wx_b"), app_row("wxB"), app_row("wx_a")], vec![]);
        d.sort();
        let ids: Vec<&Cell> = d.rows("apps").iter().map(|r| &r[0]).collect();
        assert_eq!(
            ids,
            [
                &Cell::Text("wxB".into()),
                &Cell::Text("wx_a".into()),
                &Cell::Text("wx_b".into())
            ]
        );
    }
}
