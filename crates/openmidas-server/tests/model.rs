//! Model-based property test of the ledger: random sequences of recharge / present / pay /
//! cancelpay / getbalance over a few accounts (two environments), with repeated bill_nos
//! (same and different parameters), insufficient funds, cancels of unknown, cancelled and
//! expired orders. Each step goes to the server over HTTP and to a small reference model
//! written here independently of the ledger crate; the answers and balances must be
//! identical at every step, and the invariants of behaviour.md section 4 hold after it.

use std::collections::HashMap;

use openmidas_protocol::v1::Endpoint;
use openmidas_testkit::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};

/// Accounts: (sandbox?, openid). Account 2 is account 0's player in the sandbox.
const ACCOUNTS: [(bool, &str); 3] = [(false, "a0"), (false, "a1"), (true, "a0")];
const BILLS: usize = 6;
const HOUR_MS: i64 = 3_600_000;

#[derive(Debug, Clone)]
enum Step {
    Recharge { account: usize, amount: i64 },
    Present { account: usize, bill: usize, amount: i64 },
    Pay { account: usize, bill: usize, amount: i64 },
    Cancel { account: usize, bill: usize },
    Balance { account: usize },
    Advance { hours: i64 },
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let account = 0..ACCOUNTS.len();
    let bill = 0..BILLS;
    let step = prop_oneof![
        3 => (account.clone(), 1i64..80).prop_map(|(account, amount)| Step::Recharge { account, amount }),
        3 => (account.clone(), bill.clone(), 1i64..40).prop_map(|(account, bill, amount)| Step::Present { account, bill, amount }),
        6 => (account.clone(), bill.clone(), 1i64..90).prop_map(|(account, bill, amount)| Step::Pay { account, bill, amount }),
        3 => (account.clone(), bill).prop_map(|(account, bill)| Step::Cancel { account, bill }),
        1 => account.prop_map(|account| Step::Balance { account }),
        2 => prop_oneof![Just(1i64), Just(24), Just(47), Just(48), Just(49)].prop_map(|hours| Step::Advance { hours }),
    ];
    prop::collection::vec(step, 1..40)
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

    fn answer(&self) -> Value {
        json!({
            "errcode": 0, "errmsg": "ok", "balance": self.balance(), "gen_balance": self.gift,
            "first_save": if self.recharged { 2 } else { 1 }, "save_amt": self.save_amt,
            "save_sum": self.save_sum, "cost_sum": self.cost_sum, "present_sum": self.present_sum,
        })
    }
}

#[derive(Debug, Clone)]
struct ModelOrder {
    is_pay: bool,
    account: usize,
    amount: i64,
    used_gift: i64,
    balance_after: i64,
    at_ms: i64,
    cancelled: bool,
}

#[derive(Default)]
struct Model {
    accounts: [ModelAccount; 3],
    /// Orders by (sandbox?, bill_no): bill_no is unique per environment.
    orders: HashMap<(bool, usize), ModelOrder>,
    now_ms: i64,
}

fn error(code: i64, errmsg: &str) -> Value {
    json!({"errcode": code, "errmsg": errmsg})
}

impl Model {
    fn repeated(&self, order: &ModelOrder, is_pay: bool, account: usize, amount: i64, bill_no: &str) -> Value {
        if order.is_pay == is_pay && order.account == account && order.amount == amount {
            let mut answer = json!({"errcode": 90012, "errmsg": "bill_no repeated", "bill_no": bill_no, "balance": order.balance_after});
            if is_pay {
                answer["used_gen_amt"] = json!(order.used_gift);
            }
            answer
        } else {
            error(90012, "bill_no repeated: used before with other parameters")
        }
    }

    /// Applies a step; answers what the server must answer.
    fn apply(&mut self, step: &Step) -> Value {
        match *step {
            Step::Recharge { account, amount } => {
                let a = &mut self.accounts[account];
                a.cash += amount;
                a.save_amt += amount;
                a.save_sum += amount;
                a.recharged = true;
                json!({"balance": a.balance()})
            }
            Step::Present { account, bill, amount } => {
                let sandbox = ACCOUNTS[account].0;
                let bill_no = bill_name(bill);
                if let Some(order) = self.orders.get(&(sandbox, bill)) {
                    return self.repeated(order, false, account, amount, &bill_no);
                }
                let a = &mut self.accounts[account];
                a.gift += amount;
                a.present_sum += amount;
                a.save_sum += amount;
                let balance = a.balance();
                self.orders.insert(
                    (sandbox, bill),
                    ModelOrder {
                        is_pay: false,
                        account,
                        amount,
                        used_gift: 0,
                        balance_after: balance,
                        at_ms: self.now_ms,
                        cancelled: false,
                    },
                );
                json!({"errcode": 0, "errmsg": "ok", "bill_no": bill_no, "balance": balance})
            }
            Step::Pay { account, bill, amount } => {
                let sandbox = ACCOUNTS[account].0;
                let bill_no = bill_name(bill);
                if let Some(order) = self.orders.get(&(sandbox, bill)) {
                    return self.repeated(order, true, account, amount, &bill_no);
                }
                let a = &mut self.accounts[account];
                if a.balance() < amount {
                    return error(90013, "balance not enough");
                }
                let used_gift = a.gift.min(amount);
                a.gift -= used_gift;
                a.cash -= amount - used_gift;
                a.cost_sum += amount;
                let balance = a.balance();
                self.orders.insert(
                    (sandbox, bill),
                    ModelOrder {
                        is_pay: true,
                        account,
                        amount,
                        used_gift,
                        balance_after: balance,
                        at_ms: self.now_ms,
                        cancelled: false,
                    },
                );
                json!({"errcode": 0, "errmsg": "ok", "bill_no": bill_no, "balance": balance, "used_gen_amt": used_gift})
            }
            Step::Cancel { account, bill } => {
                let sandbox = ACCOUNTS[account].0;
                let now_ms = self.now_ms;
                let Some(order) = self.orders.get_mut(&(sandbox, bill)) else {
                    return error(90000, "order does not exist");
                };
                if !order.is_pay || order.account != account {
                    return error(90000, "order does not exist");
                }
                if order.cancelled {
                    return error(90015, "order already cancelled");
                }
                if now_ms - order.at_ms > 48 * HOUR_MS {
                    return error(90014, "order can not be cancelled any more");
                }
                order.cancelled = true;
                let a = &mut self.accounts[account];
                a.gift += order.used_gift;
                a.cash += order.amount - order.used_gift;
                a.cost_sum -= order.amount;
                json!({"errcode": 0, "errmsg": "ok", "bill_no": bill_name(bill)})
            }
            Step::Balance { account } => self.accounts[account].answer(),
            Step::Advance { hours } => {
                self.now_ms += hours * HOUR_MS;
                Value::Null
            }
        }
    }
}

fn bill_name(bill: usize) -> String {
    format!("bill-{bill}")
}

fn endpoint(op: openmidas_protocol::v1::Op, account: usize) -> Endpoint {
    Endpoint {
        op,
        sandbox: ACCOUNTS[account].0,
    }
}

async fn run_case(server: &TestServer, steps: Vec<Step>) -> Result<(), TestCaseError> {
    use openmidas_protocol::v1::Op;
    let app = server.create_app().await;
    let mut token = server.token(&app).await;
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
            | Step::Cancel { account, .. }
            | Step::Balance { account } => account,
        };
        let (sandbox, openid) = ACCOUNTS[account];
        let call = |op, extra: Value| {
            let (app, token) = (&app, &token);
            async move {
                let e = endpoint(op, account);
                let body = app.signed(e, token, with(app.fields(openid), extra), None);
                strip_rid(&server.midas(e, token, &body).await.1)
            }
        };
        let actual = match *step {
            Step::Recharge { amount, .. } => {
                let env = if sandbox { "sandbox" } else { "official" };
                let answer = server.recharge(&app, openid, env, amount).await;
                json!({"balance": answer["balance"]})
            }
            Step::Present { bill, amount, .. } => {
                call(
                    Op::Present,
                    json!({"bill_no": bill_name(bill), "present_counts": amount}),
                )
                .await
            }
            Step::Pay { bill, amount, .. } => call(Op::Pay, json!({"bill_no": bill_name(bill), "amt": amount})).await,
            Step::Cancel { bill, .. } => call(Op::CancelPay, json!({"bill_no": bill_name(bill)})).await,
            Step::Balance { .. } => call(Op::GetBalance, json!({})).await,
            Step::Advance { .. } => unreachable!(),
        };
        prop_assert_eq!(&actual, &expected, "step {} {:?}", i, step);

        // After every step: the account matches the model, and the invariants hold.
        let balance = call(Op::GetBalance, json!({})).await;
        prop_assert_eq!(
            &balance,
            &model.accounts[account].answer(),
            "balance after step {} {:?}",
            i,
            step
        );
        let n = |f: &str| balance[f].as_i64().unwrap_or(-1);
        prop_assert_eq!(n("balance"), n("save_sum") - n("cost_sum"));
        prop_assert!(n("gen_balance") <= n("present_sum"));
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

async fn ledger_matches_model(server: TestServer) {
    let cases = std::env::var("OPENMIDAS_MODEL_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(128);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let handle = tokio::runtime::Handle::current();
    let result =
        tokio::task::block_in_place(|| runner.run(&steps(), |steps| handle.block_on(run_case(&server, steps))));
    if let Err(e) = result {
        panic!("ledger diverged from the model: {e}");
    }
}

backend_tests!(ledger_matches_model);
