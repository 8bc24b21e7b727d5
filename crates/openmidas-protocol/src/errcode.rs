//! The one exhaustive table of errcodes OpenMidas answers with.
//!
//! Every errcode the server can put on the wire is a variant here, with its
//! default errmsg, what it means, and whether a client may retry the same
//! request unchanged. Handlers may give a more specific errmsg (90018 names the
//! field), never a code outside this table.

macro_rules! errcodes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $errmsg:literal, retryable: $retryable:literal, $meaning:literal; )*) => {
        /// An errcode of the wire protocol.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrCode {
            /// Every errcode, in table order.
            pub const ALL: &'static [ErrCode] = &[$(ErrCode::$variant),*];

            /// The number on the wire.
            pub const fn code(self) -> i64 {
                match self { $(ErrCode::$variant => $code,)* }
            }

            /// The default errmsg.
            pub const fn errmsg(self) -> &'static str {
                match self { $(ErrCode::$variant => $errmsg,)* }
            }

            /// What the code means, for documentation and CLI messages.
            pub const fn meaning(self) -> &'static str {
                match self { $(ErrCode::$variant => $meaning,)* }
            }

            /// Whether the same request may be sent again unchanged and succeed.
            pub const fn retryable(self) -> bool {
                match self { $(ErrCode::$variant => $retryable,)* }
            }

            /// The variant for a wire number, if OpenMidas knows it.
            pub fn from_code(code: i64) -> Option<ErrCode> {
                match code { $($code => Some(ErrCode::$variant),)* _ => None }
            }
        }
    };
}

errcodes! {
    SystemError = -1, "system error", retryable: true,
        "internal failure or overload; retry with the same bill_no, it is never applied twice";
    Ok = 0, "ok", retryable: false, "success";
    RechargeMissingParameter = -15001, "missing parameter", retryable: false,
        "simulated wx.requestMidasPayment: a required parameter is missing";
    RechargeInvalidParameter = -15002, "invalid parameter", retryable: false,
        "simulated wx.requestMidasPayment: a parameter is out of range";
    RechargeDuplicateOrder = -15003, "duplicate order", retryable: false,
        "simulated wx.requestMidasPayment: out_trade_no was used before";
    InvalidCredential = 40001, "invalid credential, access_token is invalid or not latest", retryable: false,
        "access_token unknown or retired (a newer one replaced it), or a wrong admin token";
    InvalidGrantType = 40002, "invalid grant_type", retryable: false,
        "grant_type is not client_credential (token) or authorization_code (jscode2session)";
    InvalidAppid = 40013, "invalid appid", retryable: false, "no app with this appid";
    InvalidCode = 40029, "invalid code", retryable: false, "login code unknown, of another app, or expired";
    InvalidUrl = 40066, "invalid url", retryable: false, "no such path";
    InvalidArgs = 40097, "invalid args", retryable: false, "an admin request field is missing or invalid";
    InvalidAppSecret = 40125, "invalid appsecret", retryable: false, "secret does not match the app";
    CodeBeenUsed = 40163, "code been used", retryable: false, "login code was already exchanged";
    AccessTokenMissing = 41001, "access_token missing", retryable: false, "no access_token in the query string";
    AppidMissing = 41002, "appid missing", retryable: false, "no appid parameter";
    AppSecretMissing = 41004, "appsecret missing", retryable: false, "no secret parameter";
    CodeMissing = 41008, "missing code", retryable: false, "no js_code parameter";
    AccessTokenExpired = 42001, "access_token expired", retryable: false, "access_token is past its expires_in";
    RequireGetMethod = 43001, "require GET method", retryable: false, "this path takes GET";
    RequirePostMethod = 43002, "require POST method", retryable: false, "this path takes POST";
    DataFormatError = 47001, "data format error", retryable: false, "request body is not the JSON this path takes";
    OrderNotFound = 90000, "order does not exist", retryable: false,
        "cancelpay: no pay with this bill_no for this account";
    MpSigError = 90009, "mp_sig error", retryable: false,
        "mp_sig does not match (or is missing where the app requires it)";
    SessionNotFound = 90010, "user not logged in or session expired", retryable: false,
        "mp_sig sent but the user has no session_key: log in (jscode2session) first";
    SigError = 90011, "sig error", retryable: false, "sig does not match the AppKey of this environment";
    BillNoRepeated = 90012, "bill_no repeated", retryable: false,
        "bill_no was used before; with the original's parameters the answer carries the original result";
    InsufficientBalance = 90013, "balance not enough", retryable: false, "balance is lower than amt";
    CancelWindowClosed = 90014, "order can not be cancelled any more", retryable: false,
        "cancelpay: the pay is older than 48 h";
    OrderAlreadyCancelled = 90015, "order already cancelled", retryable: false, "cancelpay: the pay was cancelled before";
    NoPrivilege = 90017, "no privilege", retryable: false,
        "appid is not the access_token's app, or offer_id is not that app's";
    InvalidParameter = 90018, "invalid parameter", retryable: false,
        "body is not a JSON object within limits, or a field is missing, mistyped or out of range";
}

impl std::fmt::Display for ErrCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.code(), self.errmsg())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = HashSet::new();
        for &code in ErrCode::ALL {
            assert!(seen.insert(code.code()), "duplicate code {}", code.code());
            assert_eq!(ErrCode::from_code(code.code()), Some(code));
            assert!(!code.errmsg().is_empty());
            assert!(!code.meaning().is_empty());
        }
        assert_eq!(ErrCode::from_code(12345), None);
    }
}
