//! The URL check WeChat makes before it accepts push settings (behaviour.md section 12):
//! `GET <url>?signature&timestamp&nonce&echostr`; the answer's body must be `echostr`.

use openmidas_ledger::push::PushSettings;
use openmidas_protocol::push::{echo_matches, url_check_query};
use rand::Rng;

/// `Ok` when the URL answered the check; else why not, for the admin's errmsg.
pub async fn check(http: &reqwest::Client, settings: &PushSettings, now_ms: i64) -> Result<(), String> {
    let timestamp = now_ms.div_euclid(1000).to_string();
    let nonce = rand::rng().random_range(100_000_000u32..1_000_000_000).to_string();
    let echostr = rand::rng()
        .random_range(1_000_000_000_000_000_000u64..u64::MAX)
        .to_string();
    let query = url_check_query(&settings.token, &timestamp, &nonce, &echostr);
    let response = http.get(&settings.url).query(&query).send().await.map_err(|e| {
        if e.is_timeout() {
            format!("the URL did not answer within {} s", super::TIMEOUT.as_secs())
        } else {
            "could not connect to the URL".to_string()
        }
    })?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(format!("the URL answered HTTP {status} to the check"));
    }
    let body = response
        .bytes()
        .await
        .map_err(|_| "the URL's answer broke off".to_string())?;
    if body.len() > super::MAX_REPLY_BYTES || !echo_matches(&echostr, &body) {
        return Err("the URL's answer is not the echostr it was sent".to_string());
    }
    Ok(())
}
