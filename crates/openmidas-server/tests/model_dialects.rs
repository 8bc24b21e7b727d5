//! Model-based property test of the one ledger behind every dialect (behaviour.md section
//! 8): random interleavings of v1, 2.0 and xpay operations on a few shared accounts
//! (recharges, presents and pays in any dialect, partial and full 2.0 and xpay refunds, v1
//! cancelpays, numbers repeated within and across dialects and kinds, time passing the
//! cancel window).
//! Each step goes to the server over HTTP and to a small reference model written here
//! independently of the ledger crate; every answer (in the dialect's own field names) and
//! balance must be identical, and the invariants hold after every step.

use std::collections::HashMap;

use openmidas_protocol::v1::{Endpoint, Op as V1Op};
use openmidas_protocol::v2::Op as V2Op;
use openmidas_protocol::xpay::Op as XpayOp;
use openmidas_testkit::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};

/// Accounts: (sandbox?, openid). Account 2 is account 0's player in the sandbox.
const ACCOUNTS: [(bool, &str); 3] = [(false, "a0"), (false, "a1"), (true, "a0")];
/// Order numbers, shared by every kind of order and both dialects.
const NUMBERS: usize = 8;
/// The numbers pays favour and refunds name as their pay.
const PAY_NUMBERS: usize = 3;
const HOUR_MS: i64 = 3_600_000;
const WINDOW_MS: i64 = 48 * HOUR_MS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    V1,
    V2,
    Xpay,
}

#[derive(Debug, Clone)]
enum Step {
    Recharge {
        account: usize,
        amount: i64,
    },
    Present {
        dialect: Dialect,
        account: usize,
        number: usize,
        amount: i64,
    },
    Pay {
        dialect: Dialect,
        account: usize,
        number: usize,
        amount: i64,
    },
    /// 2.0 cancelpay or xpay cancel_currency_pay: refund `amount` of the pay `pay` as the
    /// order `number`.
    Refund {
        dialect: Dialect,
        account: usize,
        number: usize,
        pay: usize,
        amount: i64,
    },
    /// v1 cancelpay of the pay `number`.
    Cancel {
        account: usize,
        number: usize,
    },
    Balance {
        dialect: Dialect,
        account: usize,
    },
    Advance {
        hours: i64,
    },
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    // Account 0 most: refunds and cancels find its pays more often.
    let account = prop_oneof![3 => Just(0usize), 1 => Just(1usize), 1 => Just(2usize)];
    let number = 0..NUMBERS;
    let dialect = prop_oneof![Just(Dialect::V1), Just(Dialect::V2), Just(Dialect::Xpay)];
    let refunder = prop_oneof![Just(Dialect::V2), Just(Dialect::Xpay)];
    let step = prop_oneof![
        3 => (account.clone(), 1i64..80).prop_map(|(account, amount)| Step::Recharge { account, amount }),
        3 => (dialect.clone(), account.clone(), number.clone(), 1i64..40)
            .prop_map(|(dialect, account, number, amount)| Step::Present { dialect, account, number, amount }),
        6 => (dialect.clone(), account.clone(), prop_oneof![0..PAY_NUMBERS, number.clone()], 1i64..90)
            .prop_map(|(dialect, account, number, amount)| Step::Pay { dialect, account, number, amount }),
        // Refunds name a pay among the first numbers, where pays land most (below), and
        // give back small parts: partial refunds, then what is left.
        8 => (refunder, account.clone(), number.clone(), 0..PAY_NUMBERS, prop_oneof![1i64..10, 1i64..60])
            .prop_map(|(dialect, account, number, pay, amount)| Step::Refund { dialect, account, number, pay, amount }),
        4 => (account.clone(), prop_oneof![0..PAY_NUMBERS, number])
            .prop_map(|(account, number)| Step::Cancel { account, number }),
        1 => (dialect, account).prop_map(|(dialect, account)| Step::Balance { dialect, account }),
        1 => prop_oneof![Just(1i64), Just(24), Just(47), Just(48), Just(49)].prop_map(|hours| Step::Advance { hours }),
    ];
    prop::collection::vec(step, 1..50)
}

#[derive(Debug, Clone, Copy, Default)]
struct ModelAccount {
    cash: i64,
    gift: i64,
    save_amt: i64,
    save_sum: i64,
    cost_sum: i64,
    present_sum: i64,
    recharged: bool,
}

impl ModelAccount {
    fn balance(&self) -> i64 {
        self.cash + self.gift
    }

    fn answer(&self, dialect: Dialect) -> Value {
        match dialect {
            Dialect::V1 => json!({
                "errcode": 0, "errmsg": "ok", "balance": self.balance(), "gen_balance": self.gift,
                "first_save": if self.recharged { 2 } else { 1 }, "save_amt": self.save_amt,
                "save_sum": self.save_sum, "cost_sum": self.cost_sum, "present_sum": self.present_sum,
            }),
            Dialect::V2 => json!({
                "errcode": 0, "errmsg": "ok", "balance": self.balance(), "present_balance": self.gift,
                "sum_save": self.save_amt, "sum_present": self.present_sum, "sum_balance": self.save_sum,
                "sum_cost": self.cost_sum, "first_save": !self.recharged,
            }),
            Dialect::Xpay => json!({
                "errcode": 0, "errmsg": "ok", "balance": self.balance(), "present_balance": self.gift,
                "sum_save": self.save_amt, "sum_present": self.present_sum, "sum_balance": self.save_sum,
                "sum_cost": self.cost_sum, "first_save_flag": !self.recharged,
            }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pay,
    Present,
    Refund,
}

#[derive(Debug, Clone)]
struct ModelOrder {
    kind: Kind,
    account: usize,
    amount: i64,
    /// Pay: gift taken; refund: gift given back.
    gift: i64,
    refunded_cash: i64,
    refunded_gift: i64,
    /// Refund: the pay's number.
    pay: Option<usize>,
    balance_after: i64,
    at_ms: i64,
}

#[derive(Default)]
struct Model {
    accounts: [ModelAccount; 3],
    /// Orders by (sandbox?, number): one book per environment.
    orders: HashMap<(bool, usize), ModelOrder>,
    now_ms: i64,
}

/// Valid in every dialect (xpay's order_id takes 8 to 32 characters).
fn number(n: usize) -> String {
    format!("number-{n:02}")
}

fn error(code: i64, errmsg: &str) -> Value {
    json!({"errcode": code, "errmsg": errmsg})
}

/// The answer of a success or of a repeat carrying the original result, in `dialect`'s
/// names (xpay answers a repeat 268490004, bare; `gift` of a present is the gift coins after
/// it, of a pay or refund the gift coins it moved).
fn result(dialect: Dialect, kind: Kind, errcode: i64, number: usize, balance: i64, gift: i64) -> Value {
    if dialect == Dialect::Xpay {
        return match (errcode, kind) {
            (0, Kind::Pay) => json!({"errcode": 0, "errmsg": "ok", "order_id": self::number(number),
                                     "balance": balance, "used_present_amount": gift}),
            (0, Kind::Present) => json!({"errcode": 0, "errmsg": "ok", "balance": balance,
                                         "order_id": self::number(number), "present_balance": gift}),
            (0, Kind::Refund) => json!({"errcode": 0, "errmsg": "ok", "order_id": self::number(number)}),
            _ => xpay_repeated(),
        };
    }
    let errmsg = if errcode == 0 { "ok" } else { "bill_no repeated" };
    let mut answer = json!({"errcode": errcode, "errmsg": errmsg, "bill_no": self::number(number), "balance": balance});
    match (dialect, kind) {
        (_, Kind::Present) => {}
        (Dialect::V1, _) => answer["used_gen_amt"] = json!(gift),
        (_, _) => answer["used_present_amount"] = json!(gift),
    }
    answer
}

fn xpay_repeated() -> Value {
    error(268490004, "重复操作")
}

fn repeated_other(dialect: Dialect) -> Value {
    match dialect {
        Dialect::V1 => error(90012, "bill_no repeated: used before with other parameters"),
        Dialect::V2 => error(90012, "bill_no repeated"),
        Dialect::Xpay => xpay_repeated(),
    }
}

/// An error in the dialect's words: balance too low.
fn too_low(dialect: Dialect) -> Value {
    match dialect {
        Dialect::Xpay => error(268490006, "代币的退款/支付操作金额不足"),
        _ => error(90013, "balance not enough"),
    }
}

impl Model {
    fn sandbox(account: usize) -> bool {
        ACCOUNTS[account].0
    }

    /// A repeated number: the original result for the same kind, account and amount.
    fn repeated(
        &self,
        dialect: Dialect,
        order: &ModelOrder,
        kind: Kind,
        account: usize,
        amount: i64,
        n: usize,
    ) -> Value {
        if order.kind == kind && order.account == account && order.amount == amount {
            result(dialect, kind, 90012, n, order.balance_after, order.gift)
        } else {
            repeated_other(dialect)
        }
    }

    /// Applies a step; answers what the server must answer (errmsg without the rid).
    fn apply(&mut self, step: &Step) -> Value {
        let now_ms = self.now_ms;
        match *step {
            Step::Recharge { account, amount } => {
                let a = &mut self.accounts[account];
                a.cash += amount;
                a.save_amt += amount;
                a.save_sum += amount;
                a.recharged = true;
                json!({"balance": a.balance()})
            }
            Step::Present {
                dialect,
                account,
                number: n,
                amount,
            } => {
                let key = (Self::sandbox(account), n);
                if let Some(order) = self.orders.get(&key) {
                    return self.repeated(dialect, order, Kind::Present, account, amount, n);
                }
                let a = &mut self.accounts[account];
                a.gift += amount;
                a.present_sum += amount;
                a.save_sum += amount;
                let balance = a.balance();
                let gift_after = a.gift;
                self.orders.insert(
                    key,
                    ModelOrder {
                        kind: Kind::Present,
                        account,
                        amount,
                        gift: 0,
                        refunded_cash: 0,
                        refunded_gift: 0,
                        pay: None,
                        balance_after: balance,
                        at_ms: now_ms,
                    },
                );
                result(dialect, Kind::Present, 0, n, balance, gift_after)
            }
            Step::Pay {
                dialect,
                account,
                number: n,
                amount,
            } => {
                let key = (Self::sandbox(account), n);
                if let Some(order) = self.orders.get(&key) {
                    return self.repeated(dialect, order, Kind::Pay, account, amount, n);
                }
                let a = &mut self.accounts[account];
                if a.balance() < amount {
                    return too_low(dialect);
                }
                let gift = a.gift.min(amount);
                a.gift -= gift;
                a.cash -= amount - gift;
                a.cost_sum += amount;
                let balance = a.balance();
                self.orders.insert(
                    key,
                    ModelOrder {
                        kind: Kind::Pay,
                        account,
                        amount,
                        gift,
                        refunded_cash: 0,
                        refunded_gift: 0,
                        pay: None,
                        balance_after: balance,
                        at_ms: now_ms,
                    },
                );
                result(dialect, Kind::Pay, 0, n, balance, gift)
            }
            Step::Refund {
                dialect,
                account,
                number: n,
                pay,
                amount,
            } => {
                let sandbox = Self::sandbox(account);
                if let Some(order) = self.orders.get(&(sandbox, n)) {
                    if order.kind == Kind::Refund && order.pay != Some(pay) {
                        return repeated_other(dialect);
                    }
                    return self.repeated(dialect, order, Kind::Refund, account, amount, n);
                }
                let xpay = dialect == Dialect::Xpay;
                let Some(paid) = self
                    .orders
                    .get_mut(&(sandbox, pay))
                    .filter(|o| o.kind == Kind::Pay && o.account == account)
                else {
                    return match xpay {
                        true => error(268490002, "数据不存在"),
                        false => error(90000, "order does not exist"),
                    };
                };
                if now_ms - paid.at_ms > WINDOW_MS {
                    return match xpay {
                        true => error(
                            268490002,
                            "订单已超过可退款时间 (the pay is older than the cancel window)",
                        ),
                        false => error(90014, "order can not be refunded any more"),
                    };
                }
                let left = paid.amount - paid.refunded_cash - paid.refunded_gift;
                if amount > left {
                    return match (xpay, left) {
                        (true, 0) => error(268490005, "已通过cancel_currency_pay退款，不支持再退款"),
                        (true, _) => too_low(Dialect::Xpay),
                        (false, _) => error(90018, "[amount] amount is invalid"),
                    };
                }
                let cash = amount.min(paid.amount - paid.gift - paid.refunded_cash);
                let gift = amount - cash;
                paid.refunded_cash += cash;
                paid.refunded_gift += gift;
                let a = &mut self.accounts[account];
                a.cash += cash;
                a.gift += gift;
                a.cost_sum -= amount;
                let balance = a.balance();
                self.orders.insert(
                    (sandbox, n),
                    ModelOrder {
                        kind: Kind::Refund,
                        account,
                        amount,
                        gift,
                        refunded_cash: 0,
                        refunded_gift: 0,
                        pay: Some(pay),
                        balance_after: balance,
                        at_ms: now_ms,
                    },
                );
                result(dialect, Kind::Refund, 0, n, balance, gift)
            }
            Step::Cancel { account, number: n } => {
                let Some(paid) = self
                    .orders
                    .get_mut(&(Self::sandbox(account), n))
                    .filter(|o| o.kind == Kind::Pay && o.account == account)
                else {
                    return error(90000, "order does not exist");
                };
                let cash = paid.amount - paid.gift - paid.refunded_cash;
                let gift = paid.gift - paid.refunded_gift;
                if cash + gift == 0 {
                    return error(90015, "order already cancelled");
                }
                if now_ms - paid.at_ms > WINDOW_MS {
                    return error(90014, "order can not be cancelled any more");
                }
                paid.refunded_cash += cash;
                paid.refunded_gift += gift;
                let a = &mut self.accounts[account];
                a.cash += cash;
                a.gift += gift;
                a.cost_sum -= cash + gift;
                json!({"errcode": 0, "errmsg": "ok", "bill_no": number(n)})
            }
            Step::Balance { dialect, account } => self.accounts[account].answer(dialect),
            Step::Advance { hours } => {
                self.now_ms += hours * HOUR_MS;
                Value::Null
            }
        }
    }
}

/// A 2.0 answer with its errmsg's ` rid: ` suffix checked and removed.
fn without_rid(mut answer: Value) -> Result<Value, TestCaseError> {
    if answer["errcode"] != 0 {
        let errmsg = answer["errmsg"].as_str().unwrap_or_default().to_string();
        let Some((head, _)) = errmsg.rsplit_once(" rid: ") else {
            return Err(TestCaseError::fail(format!("no rid in {answer}")));
        };
        answer["errmsg"] = json!(head);
    }
    Ok(answer)
}

struct Player<'a> {
    server: &'a TestServer,
    app: &'a TestApp,
    token: &'a str,
    sessions: &'a HashMap<&'static str, String>,
    account: usize,
}

impl Player<'_> {
    async fn v1(&self, op: V1Op, extra: Value) -> Value {
        let (sandbox, openid) = ACCOUNTS[self.account];
        let endpoint = Endpoint { op, sandbox };
        let body = self
            .app
            .signed(endpoint, self.token, with(self.app.fields(openid), extra), None);
        strip_rid(&self.server.midas(endpoint, self.token, &body).await.1)
    }

    async fn v2(&self, op: V2Op, extra: Value) -> Result<Value, TestCaseError> {
        let (sandbox, openid) = ACCOUNTS[self.account];
        let mut fields = with(self.app.v2_fields(openid), extra);
        fields.insert("env".into(), json!(i64::from(sandbox)));
        let body = Value::Object(fields).to_string();
        let session = &self.sessions[openid];
        without_rid(self.server.v2(self.app, op, self.token, &body, session).await.1)
    }
}

impl Player<'_> {
    async fn xpay(&self, op: XpayOp, extra: Value) -> Result<Value, TestCaseError> {
        let (sandbox, openid) = ACCOUNTS[self.account];
        let mut fields = serde_json::Map::new();
        fields.insert("openid".into(), json!(openid));
        fields.insert("env".into(), json!(i64::from(sandbox)));
        let body = Value::Object(with(fields, extra)).to_string();
        let session = &self.sessions[openid];
        without_rid(self.server.xpay(self.app, op, self.token, &body, session).await.1)
    }
}

async fn run_case(server: &TestServer, steps: Vec<Step>) -> Result<(), TestCaseError> {
    let app = server.create_app().await;
    let mut token = server.token(&app).await;
    let mut sessions = HashMap::new();
    for (_, openid) in ACCOUNTS {
        if !sessions.contains_key(openid) {
            sessions.insert(openid, server.login(&app, openid).await);
        }
    }
    let mut model = Model::default();
    for (i, step) in steps.iter().enumerate() {
        let expected = model.apply(step);
        let account = match *step {
            Step::Advance { hours } => {
                server.clock.advance_ms(hours * HOUR_MS);
                token = server.token(&app).await; // tokens live 2 h
                continue;
            }
            Step::Recharge { account, .. }
            | Step::Present { account, .. }
            | Step::Pay { account, .. }
            | Step::Refund { account, .. }
            | Step::Cancel { account, .. }
            | Step::Balance { account, .. } => account,
        };
        let player = Player {
            server,
            app: &app,
            token: &token,
            sessions: &sessions,
            account,
        };
        let actual = match *step {
            Step::Recharge { amount, .. } => {
                let (sandbox, openid) = ACCOUNTS[account];
                let env = if sandbox { "sandbox" } else { "official" };
                let answer = server.recharge(&app, openid, env, amount).await;
                json!({"balance": answer["balance"]})
            }
            Step::Present {
                dialect,
                number: n,
                amount,
                ..
            } => match dialect {
                Dialect::V1 => {
                    player
                        .v1(V1Op::Present, json!({"bill_no": number(n), "present_counts": amount}))
                        .await
                }
                Dialect::V2 => {
                    player
                        .v2(V2Op::Present, json!({"bill_no": number(n), "amount": amount}))
                        .await?
                }
                Dialect::Xpay => {
                    player
                        .xpay(
                            XpayOp::PresentCurrency,
                            json!({"order_id": number(n), "amount": amount}),
                        )
                        .await?
                }
            },
            Step::Pay {
                dialect,
                number: n,
                amount,
                ..
            } => match dialect {
                Dialect::V1 => player.v1(V1Op::Pay, json!({"bill_no": number(n), "amt": amount})).await,
                Dialect::V2 => {
                    player
                        .v2(V2Op::Pay, json!({"bill_no": number(n), "amount": amount}))
                        .await?
                }
                Dialect::Xpay => {
                    player
                        .xpay(XpayOp::CurrencyPay, json!({"order_id": number(n), "amount": amount}))
                        .await?
                }
            },
            Step::Refund {
                dialect,
                number: n,
                pay,
                amount,
                ..
            } => match dialect {
                Dialect::Xpay => {
                    player
                        .xpay(
                            XpayOp::CancelCurrencyPay,
                            json!({"order_id": number(n), "pay_order_id": number(pay), "amount": amount}),
                        )
                        .await?
                }
                _ => {
                    player
                        .v2(
                            V2Op::CancelPay,
                            json!({"bill_no": number(n), "pay_bill_no": number(pay), "amount": amount}),
                        )
                        .await?
                }
            },
            Step::Cancel { number: n, .. } => player.v1(V1Op::CancelPay, json!({"bill_no": number(n)})).await,
            Step::Balance { dialect, .. } => match dialect {
                Dialect::V1 => player.v1(V1Op::GetBalance, json!({})).await,
                Dialect::V2 => player.v2(V2Op::GetBalance, json!({})).await?,
                Dialect::Xpay => player.xpay(XpayOp::QueryUserBalance, json!({})).await?,
            },
            Step::Advance { .. } => Value::Null,
        };
        prop_assert_eq!(&actual, &expected, "step {} {:?}", i, step);

        // After every step: the account matches the model in both dialects, and the
        // invariants hold.
        let v1 = player.v1(V1Op::GetBalance, json!({})).await;
        prop_assert_eq!(
            &v1,
            &model.accounts[account].answer(Dialect::V1),
            "v1 balance after step {} {:?}",
            i,
            step
        );
        let v2 = player.v2(V2Op::GetBalance, json!({})).await?;
        prop_assert_eq!(
            &v2,
            &model.accounts[account].answer(Dialect::V2),
            "2.0 balance after step {} {:?}",
            i,
            step
        );
        let n = |f: &str| v1[f].as_i64().unwrap_or(-1);
        prop_assert_eq!(n("balance"), n("save_sum") - n("cost_sum"));
        prop_assert!(n("gen_balance") <= n("present_sum"));
        prop_assert_eq!(n("save_amt") + n("present_sum"), n("save_sum"));
        for field in [
            "balance",
            "gen_balance",
            "save_amt",
            "save_sum",
            "cost_sum",
            "present_sum",
        ] {
            prop_assert!(n(field) >= 0, "{} negative", field);
        }
    }
    Ok(())
}

async fn dialects_share_one_ledger(server: TestServer) {
    let cases = std::env::var("OPENMIDAS_MODEL_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(96);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let handle = tokio::runtime::Handle::current();
    let result =
        tokio::task::block_in_place(|| runner.run(&steps(), |steps| handle.block_on(run_case(&server, steps))));
    if let Err(e) = result {
        panic!("the ledger diverged from the model: {e}");
    }
}

backend_tests!(dialects_share_one_ledger);
