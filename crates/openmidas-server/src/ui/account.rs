//! One account: its state in each dialect's names (behaviour.md section 8.2), its orders of
//! both books (newest first, 50 at a time), its journal as a table and as a chart of the
//! balance over time (an inline SVG drawn here: no script needed).

use std::fmt::Write as _;

use axum::extract::{RawQuery, State};
use maud::{html, Markup};
use openmidas_ledger::command::JournalEntry;
use openmidas_ledger::{AccountKey, Book, OrderCursor};

use super::auth::Session;
use super::layout::{self, enc, time_el, Chrome, Nav};
use super::players::{account_href, env_of};
use super::{UiError, UiResult};
use crate::pipeline::{query_pairs, query_param};
use crate::AppState;

/// Orders in one page, journal entries in one page.
const ORDERS_PAGE: u32 = 50;
const JOURNAL_PAGE: u32 = 500;

/// `GET /ui/account?env&appid&offer_id&zone_id&openid[&orders_after_ms&orders_after_book&orders_after_no][&journal_after]`.
pub async fn page(State(state): State<AppState>, session: Session, RawQuery(query): RawQuery) -> UiResult {
    let pairs = query_pairs(query.as_deref());
    let need = |name: &str| {
        query_param(&pairs, name)
            .map(str::to_string)
            .ok_or_else(|| UiError::not_found(format!("an account needs {name}")))
    };
    let key = AccountKey {
        env: env_of(query_param(&pairs, "env"))?,
        appid: need("appid")?,
        offer_id: need("offer_id")?,
        zone_id: need("zone_id")?,
        openid: need("openid")?,
    };
    let orders_after = match (
        query_param(&pairs, "orders_after_ms").and_then(|t| t.parse::<i64>().ok()),
        query_param(&pairs, "orders_after_book").and_then(Book::parse),
        query_param(&pairs, "orders_after_no"),
    ) {
        (Some(created_at_ms), Some(book), Some(number)) => Some(OrderCursor {
            created_at_ms,
            book,
            number: number.to_string(),
        }),
        _ => None,
    };
    let journal_after = query_param(&pairs, "journal_after")
        .and_then(|t| t.parse::<i64>().ok())
        .unwrap_or(0);
    let account = state.store.account(&key).await?;
    let mut orders = state
        .store
        .orders_of(&key, orders_after.as_ref(), ORDERS_PAGE + 1)
        .await?;
    let more_orders = orders.len() > ORDERS_PAGE as usize;
    orders.truncate(ORDERS_PAGE as usize);
    let mut journal = state.store.journal(&key, journal_after, JOURNAL_PAGE + 1).await?;
    let more_journal = journal.len() > JOURNAL_PAGE as usize;
    journal.truncate(JOURNAL_PAGE as usize);
    let here = account_href(key.env, &key.appid, &key.offer_id, &key.zone_id, &key.openid);
    let next_orders = match (more_orders, orders.last()) {
        (true, Some((k, o))) => Some(format!(
            "{here}&orders_after_ms={}&orders_after_book={}&orders_after_no={}#orders",
            o.created_at_ms,
            k.book.as_str(),
            enc(&k.number)
        )),
        _ => None,
    };
    let next_journal = match (more_journal, journal.last()) {
        (true, Some((id, _))) => Some(format!("{here}&journal_after={id}#journal")),
        _ => None,
    };
    let rows: [(&str, &str, &str, &str, i64); 7] = [
        (
            "balance (cash + gift)",
            "balance",
            "balance",
            "balance",
            account.balance(),
        ),
        (
            "gift",
            "gen_balance",
            "present_balance",
            "present_balance",
            account.gen_balance(),
        ),
        ("coins recharged", "save_amt", "sum_save", "sum_save", account.save_amt),
        (
            "coins gained",
            "save_sum",
            "sum_balance",
            "sum_balance",
            account.save_sum,
        ),
        ("coins spent", "cost_sum", "sum_cost", "sum_cost", account.cost_sum),
        (
            "coins presented",
            "present_sum",
            "sum_present",
            "sum_present",
            account.present_sum,
        ),
        ("cash", "—", "—", "—", account.cash),
    ];
    let chrome = Chrome {
        session: &session,
        emulator: state.emulator.is_some(),
    };
    let body = html! {
        p.links {
            a href=(format!("/ui/apps/{}", enc(&key.appid))) { "App " (key.appid) }
            " · "
            a href=(format!("/ui/apps/{}/players?env={}", enc(&key.appid), key.env.as_str())) { "Players (" (key.env.as_str()) ")" }
            @if chrome.emulator {
                " · "
                a href=(format!("/ui/requests?appid={}&openid={}", enc(&key.appid), enc(&key.openid))) { "Requests of this player" }
            }
        }
        dl.key {
            dt { "env" } dd { (key.env.as_str()) }
            dt { "appid" } dd { (key.appid) }
            dt { "offer_id" } dd { (key.offer_id) }
            dt { "zone_id" } dd { (key.zone_id) }
            dt { "openid" } dd { (key.openid) }
        }
        h2 { "State" }
        table #state {
            caption.visually-hidden { "The account's state, with each dialect's field name" }
            thead { tr {
                th scope="col" { "ledger" }
                th scope="col" { "v1 name" }
                th scope="col" { "2.0 name" }
                th scope="col" { "xpay name" }
                th scope="col" { "value" }
            } }
            tbody {
                @for (what, v1, v2, xpay, value) in rows {
                    tr {
                        th scope="row" { (what) }
                        td { code { (v1) } }
                        td { code { (v2) } }
                        td { code { (xpay) } }
                        td.num data-field=(v1) { (value) }
                    }
                }
                tr {
                    th scope="row" { "never recharged" }
                    td { code { "first_save" } " " (account.first_save()) }
                    td { code { "first_save" } " " (!account.recharged) }
                    td { code { "first_save_flag" } " " (!account.recharged) }
                    td.num { (if account.recharged { "no" } else { "yes" }) }
                }
            }
        }
        h2 #chart-heading { "Balance over time" }
        (chart(&journal))
        h2 #orders { "Orders and refunds" }
        @if orders.is_empty() {
            p { "No order." }
        } @else {
            table {
                caption.visually-hidden { "Orders of both books, newest first" }
                thead { tr {
                    th scope="col" { "number" }
                    th scope="col" { "book" }
                    th scope="col" { "kind" }
                    th scope="col" { "status" }
                    th scope="col" { "amount" }
                    th scope="col" { "gift" }
                    th scope="col" { "refunded (cash + gift)" }
                    th scope="col" { "pay it refunds" }
                    th scope="col" { "balance after" }
                    th scope="col" { "created" }
                } }
                tbody {
                    @for (k, o) in &orders {
                        tr {
                            th scope="row" { (k.number) }
                            td { (match k.book { Book::Currency => "currency", Book::Purchase => "purchase" }) }
                            td { (o.kind.as_str()) }
                            td { (o.status.as_str()) }
                            td.num { (o.amount) }
                            td.num { (o.gift) }
                            td.num { (o.refunded.cash) " + " (o.refunded.gift) }
                            td { (o.pay_number.as_deref().unwrap_or("—")) }
                            td.num { (o.balance_after) }
                            td { (time_el(o.created_at_ms)) }
                        }
                    }
                }
            }
            @if let Some(next) = next_orders {
                p { a rel="next" href=(next) { "Older orders" } }
            }
        }
        h2 #journal { "Journal" }
        @if journal.is_empty() {
            p { "No movement." }
        } @else {
            table {
                caption.visually-hidden { "Balance movements, oldest first" }
                thead { tr {
                    th scope="col" { "id" }
                    th scope="col" { "kind" }
                    th scope="col" { "order" }
                    th scope="col" { "amount" }
                    th scope="col" { "cash Δ" }
                    th scope="col" { "gift Δ" }
                    th scope="col" { "balance after" }
                    th scope="col" { "at" }
                } }
                tbody {
                    @for (id, e) in &journal {
                        tr {
                            th scope="row" { (id) }
                            td { (e.kind.as_str()) }
                            td { (e.order_no) }
                            td.num { (e.amount) }
                            td.num { (e.cash_delta) }
                            td.num { (e.gift_delta) }
                            td.num { (e.balance_after) }
                            td { (time_el(e.at_ms)) }
                        }
                    }
                }
            }
            @if let Some(next) = next_journal {
                p { a rel="next" href=(next) { "Later movements" } }
            }
        }
    };
    Ok(layout::page(
        &chrome,
        &format!("Player {}", key.openid),
        Nav::Apps,
        body,
    ))
}

/// The balance after each movement, as a step line (one step per movement, so movements in
/// the same millisecond stay apart), from 0 before the first.
fn chart(journal: &[(i64, JournalEntry)]) -> Markup {
    const W: f64 = 720.0;
    const H: f64 = 200.0;
    const PAD: f64 = 36.0;
    if journal.is_empty() {
        return html! { p #balance-chart { "No movement yet." } };
    }
    let max = journal.iter().map(|(_, e)| e.balance_after).max().unwrap_or(0).max(1) as f64;
    let n = journal.len() as f64;
    let x = |i: f64| PAD + (W - 2.0 * PAD) * i / n;
    let y = |v: f64| H - PAD - (H - 2.0 * PAD) * v / max;
    let mut path = format!("M{:.1},{:.1}", x(0.0), y(0.0));
    for (i, (_, e)) in journal.iter().enumerate() {
        let xi = x(i as f64 + 1.0);
        let _ = write!(path, " H{xi:.1} V{:.1}", y(e.balance_after as f64));
    }
    let last = journal.last().map_or(0, |(_, e)| e.balance_after);
    let desc = format!(
        "{} movements; the balance went from 0 to {last}; highest {}",
        journal.len(),
        max as i64
    );
    html! {
        figure #balance-chart data-points=(journal.len()) data-last=(last) {
            svg role="img" aria-labelledby="chart-title chart-desc" viewBox=(format!("0 0 {W} {H}")) width="100%" preserveAspectRatio="xMinYMin meet" {
                title #chart-title { "Balance over time" }
                desc #chart-desc { (desc) }
                line x1=(PAD) y1=(H - PAD) x2=(W - PAD) y2=(H - PAD) class="axis" {}
                line x1=(PAD) y1=(PAD) x2=(PAD) y2=(H - PAD) class="axis" {}
                text x=(PAD - 4.0) y=(y(max) + 4.0) text-anchor="end" class="label" { (max as i64) }
                text x=(PAD - 4.0) y=(H - PAD + 4.0) text-anchor="end" class="label" { "0" }
                path d=(layout::raw(path)) class="line" {}
                @for (i, (id, e)) in journal.iter().enumerate() {
                    circle cx=(format!("{:.1}", x(i as f64 + 1.0))) cy=(format!("{:.1}", y(e.balance_after as f64))) r="3" class="point" {
                        title { "#" (id) " " (e.kind.as_str()) " " (e.order_no) ": balance " (e.balance_after) " at " (layout::time(e.at_ms)) }
                    }
                }
                text x=(PAD) y=(H - 8.0) class="label" { (layout::time(journal[0].1.at_ms)) }
                text x=(W - PAD) y=(H - 8.0) text-anchor="end" class="label" { (layout::time(journal[journal.len() - 1].1.at_ms)) }
            }
            figcaption { (desc) }
        }
    }
}
