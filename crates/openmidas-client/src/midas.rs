//! Midas v1 request and result types, and the signing of exactly the bytes sent.

use openmidas_protocol::json::RawObject;
use openmidas_protocol::sign;
use openmidas_protocol::v1::{Endpoint, Op};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The Midas environment: balances, orders and AppKeys of the two never mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MidasEnv {
    #[default]
    Official,
    Sandbox,
}

impl MidasEnv {
    pub fn is_sandbox(self) -> bool {
        self == MidasEnv::Sandbox
    }

    /// `official` or `sandbox`.
    pub fn as_str(self) -> &'static str {
        match self {
            MidasEnv::Official => "official",
            MidasEnv::Sandbox => "sandbox",
        }
    }

    pub(crate) fn endpoint(self, op: Op) -> Endpoint {
        Endpoint {
            op,
            sandbox: self.is_sandbox(),
        }
    }
}

/// The account a v1 call addresses: `openid` in a zone, on a platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Player {
    pub openid: String,
    /// Default `"1"`.
    pub zone_id: String,
    /// Default `"android"`.
    pub pf: String,
    /// Sent (and signed) only when set.
    pub user_ip: Option<String>,
}

impl Player {
    /// `openid` in zone `"1"` on `android`.
    pub fn new(openid: impl Into<String>) -> Player {
        Player {
            openid: openid.into(),
            zone_id: "1".into(),
            pf: "android".into(),
            user_ip: None,
        }
    }

    pub fn zone(mut self, zone_id: impl Into<String>) -> Player {
        self.zone_id = zone_id.into();
        self
    }

    pub fn pf(mut self, pf: impl Into<String>) -> Player {
        self.pf = pf.into();
        self
    }

    pub fn user_ip(mut self, user_ip: impl Into<String>) -> Player {
        self.user_ip = Some(user_ip.into());
        self
    }
}

/// A deduction. `bill_no` is the idempotency key: choose it once per purchase, store it,
/// and reuse it for every retry of that purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayRequest {
    pub amt: i64,
    pub bill_no: String,
    pub pay_item: Option<String>,
    pub app_remark: Option<String>,
}

impl PayRequest {
    pub fn new(bill_no: impl Into<String>, amt: i64) -> PayRequest {
        PayRequest {
            amt,
            bill_no: bill_no.into(),
            pay_item: None,
            app_remark: None,
        }
    }
}

/// `getbalance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// Coins, gift coins included.
    pub balance: i64,
    /// Gift coins still in the balance.
    pub gen_balance: i64,
    /// 1 while the player never recharged (eligible for a first-recharge bonus), else 2.
    /// A JSON boolean (as some service versions send) reads as 1 (`true`) or 2 (`false`).
    #[serde(deserialize_with = "first_save")]
    pub first_save: i64,
    pub save_amt: i64,
    pub save_sum: i64,
    pub cost_sum: i64,
    pub present_sum: i64,
}

fn first_save<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum FirstSave {
        Number(i64),
        Flag(bool),
    }
    Ok(match FirstSave::deserialize(deserializer)? {
        FirstSave::Number(n) => n,
        FirstSave::Flag(true) => 1,
        FirstSave::Flag(false) => 2,
    })
}

/// `pay`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayResult {
    /// The request's bill_no when the answer omits it.
    #[serde(default)]
    pub bill_no: String,
    /// Balance after the deduction.
    pub balance: i64,
    /// Gift coins this deduction used (`used_gen_balance` in the oldest docs; 0 if absent).
    #[serde(default, alias = "used_gen_balance")]
    pub used_gen_amt: i64,
    /// The bill_no had been applied before (an earlier attempt, or an earlier call with the
    /// same parameters): the service answered 90012 with the original result.
    #[serde(default)]
    pub replayed: bool,
}

/// `present`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresentResult {
    /// The request's bill_no when the answer omits it.
    #[serde(default)]
    pub bill_no: String,
    /// Balance after the gift.
    pub balance: i64,
    /// See [`PayResult::replayed`].
    #[serde(default)]
    pub replayed: bool,
}

/// `cancelpay`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelResult {
    /// The request's bill_no when the answer omits it.
    #[serde(default)]
    pub bill_no: String,
    /// An earlier attempt whose answer was lost had already cancelled it (90015 on retry).
    #[serde(default)]
    pub already_cancelled: bool,
}

/// Signs an unsigned v1 body and answers the bytes to send.
///
/// `unsigned` must be a JSON object without `sig` / `mp_sig`. Its bytes are sent unchanged:
/// `sig` (and `mp_sig` when a session_key is given) are computed over exactly the values in
/// those bytes and appended as the last keys. Signatures are lowercase hex.
pub fn sign_v1_body(
    endpoint: Endpoint,
    unsigned: &[u8],
    app_key: &str,
    access_token: &str,
    session_key: Option<&str>,
) -> Result<Vec<u8>> {
    let object = RawObject::parse(unsigned).map_err(|e| Error::InvalidRequest(e.errmsg()))?;
    if object.get("sig").is_some() || object.get("mp_sig").is_some() {
        return Err(Error::InvalidRequest(
            "the unsigned body already has sig or mp_sig".into(),
        ));
    }
    let text = std::str::from_utf8(unsigned).map_err(|e| Error::InvalidRequest(e.to_string()))?;
    let session = session_key.map(|key| (access_token, key));
    let signed =
        sign::v1::sign_json(text, endpoint.uri(), app_key, session).map_err(|e| Error::InvalidRequest(e.errmsg()))?;
    Ok(signed.body.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const PAY: Endpoint = Endpoint {
        op: Op::Pay,
        sandbox: false,
    };

    // Known-answer vector "v1-pay" (shared signature vectors).
    const BODY: &str = r#"{"openid":"odkx20ENSNa2w5y3g_qOkOvBNM1g","appid":"wx1234567","offer_id":"12345678","ts":1507530737,"zone_id":"1","pf":"android","amt":123,"bill_no":"BillNo_123"}"#;
    const APP_KEY: &str = "zNLgAGgqsEWJOg1nFVaO5r7fAlIQxr1u";
    const SESSION_KEY: &str = "V7Q38/i2KXaqrQyl2Yx9Hg==";
    const SIG: &str = "ada5ef41b2f185b9d6ba041ed0f4ba562ed5aeb6acce17be58865fa88c55aaab";
    const MP_SIG: &str = "101c9de900169d556be97ceafce55a18bf1385bc39e0ddb4e8ca7c1d670c76da";

    #[test]
    fn signs_the_known_vector_and_keeps_the_bytes() {
        let sent = sign_v1_body(PAY, BODY.as_bytes(), APP_KEY, "ACCESSTOKEN", Some(SESSION_KEY)).unwrap();
        let text = String::from_utf8(sent).unwrap();
        assert_eq!(
            text,
            format!(
                "{},\"sig\":\"{SIG}\",\"mp_sig\":\"{MP_SIG}\"}}",
                &BODY[..BODY.len() - 1]
            )
        );
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["sig"], SIG);

        let no_session = sign_v1_body(PAY, BODY.as_bytes(), APP_KEY, "ACCESSTOKEN", None).unwrap();
        let value: Value = serde_json::from_slice(&no_session).unwrap();
        assert_eq!(value["sig"], SIG);
        assert!(value.get("mp_sig").is_none());
    }

    #[test]
    fn numbers_are_signed_as_written() {
        // 1.50 is not canonical JSON for 1.5: the signature covers the text that is sent.
        let body = br#"{"a":1.50 , "b":"x\u0041" }  "#;
        let sent = sign_v1_body(PAY, body, "k", "t", None).unwrap();
        let expected = sign::v1::sig([("a", "1.50"), ("b", "xA")], PAY.uri(), "k");
        assert_eq!(
            String::from_utf8(sent).unwrap(),
            format!(r#"{{"a":1.50 , "b":"x\u0041" ,"sig":"{expected}"}}"#)
        );
    }

    #[test]
    fn results_read_older_and_sparser_answers() {
        let b: Balance = serde_json::from_str(
            r#"{"balance":1,"gen_balance":0,"first_save":true,"save_amt":1,"save_sum":1,"cost_sum":0,"present_sum":0}"#,
        )
        .unwrap();
        assert_eq!(b.first_save, 1);
        let b: Balance = serde_json::from_str(
            r#"{"balance":1,"gen_balance":0,"first_save":2,"save_amt":1,"save_sum":1,"cost_sum":0,"present_sum":0}"#,
        )
        .unwrap();
        assert_eq!(b.first_save, 2);
        let p: PayResult = serde_json::from_str(r#"{"errcode":0,"balance":5,"used_gen_balance":2}"#).unwrap();
        assert_eq!(
            (p.bill_no.as_str(), p.balance, p.used_gen_amt, p.replayed),
            ("", 5, 2, false)
        );
        assert!(serde_json::from_str::<PayResult>(r#"{"errcode":0,"bill_no":"b"}"#).is_err());
    }

    #[test]
    fn refuses_bodies_it_cannot_sign() {
        assert!(sign_v1_body(PAY, b"[1]", "k", "t", None).is_err());
        assert!(sign_v1_body(PAY, br#"{"sig":"x"}"#, "k", "t", None).is_err());
        let empty = sign_v1_body(PAY, b"{}", "k", "t", None).unwrap();
        assert!(serde_json::from_slice::<Value>(&empty).is_ok());
    }
}
