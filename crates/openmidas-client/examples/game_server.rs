//! A small game server flow against a local OpenMidas, using the SDK.
//!
//! ```text
//! # terminal 1
//! OPENMIDAS_ADMIN_TOKEN=dev-admin openmidas serve --config openmidas.toml
//! # terminal 2 (the app's credentials: those of openmidas.toml, or of the demo app printed by
//! # `openmidas serve` when no admin token is set)
//! export OPENMIDAS_URL=http://127.0.0.1:8080 OPENMIDAS_ADMIN_TOKEN=dev-admin \
//!        OPENMIDAS_APPID=... OPENMIDAS_SECRET=... OPENMIDAS_OFFER_ID=... \
//!        OPENMIDAS_APP_KEY=... OPENMIDAS_SANDBOX_APP_KEY=...
//! cargo run -p openmidas-client --example game_server
//! ```
//!
//! Steps: token, login (simulated wx.login + jscode2session), recharge (simulated
//! wx.requestMidasPayment), balance, pay, present, cancel, each with the error handling a
//! real game server needs.

use std::process::ExitCode;

use openmidas_client::codes::V1;
use openmidas_client::openmidas::{AdminClient, Recharge};
use openmidas_client::{Client, Error, MidasEnv, PayRequest, Player, SessionKey};

fn setting(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("set {name}"))
}

/// What the game does with a failed purchase.
fn explain_pay_failure(bill_no: &str, error: &Error) -> String {
    match error {
        e if e.is(V1::InsufficientBalance) => "not enough coins: offer the player a recharge".to_string(),
        // -1 / timeout / dropped connection, after the client's own retries: the outcome is
        // unknown. Keep the bill_no with the order and retry later with the same bill_no:
        // it is never applied twice. Do not ship the item yet.
        e if e.retryable() => format!("outcome unknown ({e}); retry later with bill_no {bill_no}"),
        e if e.is(V1::MpSigError) || e.is(V1::SessionNotFound) => {
            "the player's session_key is stale: ask the client to log in again".to_string()
        }
        Error::Api(api) => format!("refused: errcode {} ({}): {}", api.errcode, api.errmsg, api.meaning()),
        other => format!("failed: {other}"),
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("OPENMIDAS_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let appid = setting("OPENMIDAS_APPID")?;
    let client = Client::builder(
        &appid,
        setting("OPENMIDAS_SECRET")?,
        setting("OPENMIDAS_OFFER_ID")?,
        setting("OPENMIDAS_APP_KEY")?,
    )
    .base_url(&url)
    .sandbox_app_key(std::env::var("OPENMIDAS_SANDBOX_APP_KEY").unwrap_or_default())
    .build()?;
    // OpenMidas only: the player's side (wx.login, wx.requestMidasPayment) is simulated.
    let admin = AdminClient::new(&url, setting("OPENMIDAS_ADMIN_TOKEN")?)?;

    // 1. The access token: cached by the client, refreshed before expiry. Fetching it
    //    first only checks the credentials early.
    client.access_token().await?;
    println!("1. got an access_token (cached by the client)");

    // 2. A player logs in: the game client calls wx.login and sends the code to us; we
    //    exchange it. The session_key stays on the server and is passed per call.
    let code = admin.login_code(&appid, None).await?;
    let session = client.code_to_session(&code.code).await?;
    let session_key: SessionKey = session.session_key;
    let player = Player::new(&session.openid);
    println!("2. player {} logged in", session.openid);

    // 3. The player buys 100 coins in the game client (wx.requestMidasPayment).
    let recharged = admin
        .recharge(&Recharge {
            appid: appid.clone(),
            openid: session.openid.clone(),
            env: MidasEnv::Official,
            buy_quantity: 100,
            zone_id: None,
            out_trade_no: None,
        })
        .await?;
    println!("3. recharged 100 coins: balance {}", recharged.balance);

    // 4. The balance, signed with sig and mp_sig.
    let balance = client
        .get_balance(MidasEnv::Official, &player, Some(&session_key))
        .await?;
    println!("4. balance {} (gift coins {})", balance.balance, balance.gen_balance);

    // 5. A purchase of 30 coins. The bill_no is chosen once per purchase and stored with
    //    the order before calling, so that any retry, even after a crash, reuses it.
    let bill_no = format!("sword-{}", session.openid);
    let mut purchase = PayRequest::new(&bill_no, 30);
    purchase.pay_item = Some("sword".into());
    match client
        .pay(MidasEnv::Official, &player, &purchase, Some(&session_key))
        .await
    {
        Ok(paid) => println!(
            "5. paid 30 coins (bill_no {}): balance {}{}",
            paid.bill_no,
            paid.balance,
            if paid.replayed { " (already applied before)" } else { "" }
        ),
        Err(e) => {
            println!("5. pay: {}", explain_pay_failure(&bill_no, &e));
            return Err(e.into());
        }
    }
    // A purchase the player cannot afford: a clean business error, nothing charged.
    let too_much = PayRequest::new(format!("castle-{}", session.openid), 1_000_000);
    if let Err(e) = client
        .pay(MidasEnv::Official, &player, &too_much, Some(&session_key))
        .await
    {
        println!(
            "   castle for 1000000 coins: {}",
            explain_pay_failure(&too_much.bill_no, &e)
        );
    }

    // 6. A daily gift of 20 coins, idempotent by its bill_no too.
    let gift = client
        .present(
            MidasEnv::Official,
            &player,
            &format!("daily-{}", session.openid),
            20,
            Some(&session_key),
        )
        .await?;
    println!("6. presented 20 gift coins: balance {}", gift.balance);

    // 7. The sword could not be delivered: reverse the pay (within 48 h).
    match client
        .cancel_pay(MidasEnv::Official, &player, &bill_no, Some("sword"), Some(&session_key))
        .await
    {
        Ok(c) => println!("7. cancelled {}", c.bill_no),
        Err(e) if e.is(V1::OrderAlreadyCancelled) => println!("7. {bill_no} was already cancelled"),
        Err(e) if e.is(V1::CancelWindowClosed) => println!("7. too late to cancel {bill_no} (48 h)"),
        Err(e) => return Err(e.into()),
    }

    let balance = client
        .get_balance(MidasEnv::Official, &player, Some(&session_key))
        .await?;
    println!(
        "   final balance {} (gift coins {}, spent {}, received {} as gifts)",
        balance.balance, balance.gen_balance, balance.cost_sum, balance.present_sum
    );
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("game_server: {e}");
            ExitCode::FAILURE
        }
    }
}
