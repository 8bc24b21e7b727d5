//! Typed errors. Every errcode the service answers becomes [`Error::Api`], carrying the
//! number, the errmsg, and (looked up in the errcode tables of the dialect the call was
//! made in) what it means and whether retrying the same request may succeed.

use openmidas_protocol::errcode::{describe, Described};
use openmidas_protocol::{Dialect, ErrorCode};

/// A non-zero errcode answered by the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The number on the wire.
    pub errcode: i64,
    /// The errmsg on the wire (may carry a `hint`/`rid`).
    pub errmsg: String,
    /// The number's row in the tables of the call's dialect (the platform's for token and
    /// session calls), if OpenMidas knows it.
    pub code: Option<Described>,
}

impl ApiError {
    /// An answer of a token, session or admin call (the platform's codes).
    pub fn new(errcode: i64, errmsg: impl Into<String>) -> ApiError {
        ApiError {
            errcode,
            errmsg: errmsg.into(),
            code: openmidas_protocol::common::Code::from_code(errcode).map(Described::of),
        }
    }

    /// An answer of a payment call of `dialect` (its codes, then the platform's).
    pub fn of(dialect: Dialect, errcode: i64, errmsg: impl Into<String>) -> ApiError {
        ApiError {
            errcode,
            errmsg: errmsg.into(),
            code: describe(dialect, errcode),
        }
    }

    /// What the code means, for humans (`"balance is lower than amt"`).
    pub fn meaning(&self) -> &'static str {
        self.code.map_or("errcode not in the OpenMidas table", |c| c.meaning)
    }

    /// What the code means, in `lang` (`Lang::ZhCn`: `"余额不足：余额低于 amt"`).
    pub fn meaning_in(&self, lang: openmidas_protocol::Lang) -> &'static str {
        use openmidas_protocol::Lang;
        match (self.code, lang) {
            (Some(c), lang) => c.meaning_in(lang),
            (None, Lang::En) => "errcode not in the OpenMidas table",
            (None, Lang::ZhCn) => "OpenMidas 的错误码表中没有此 errcode",
        }
    }

    /// Whether the same request may be sent again unchanged and succeed (-1 system error).
    pub fn retryable(&self) -> bool {
        self.code.is_some_and(|c| c.retryable)
    }

    /// Whether this is `code` (of the table of the call's dialect).
    pub fn is(&self, code: impl ErrorCode) -> bool {
        self.errcode == code.code()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "errcode {} ({}): {}", self.errcode, self.errmsg, self.meaning())
    }
}

/// Everything a call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The service answered a non-zero errcode.
    #[error("{0}")]
    Api(ApiError),
    /// No answer: connection refused or dropped, timeout. For a pay or present the outcome
    /// is unknown: retry with the same bill_no (the client already did, up to its limit).
    /// `service` is the scheme, host and port called (never the path or query: they may
    /// carry the access_token or the AppSecret).
    #[error("cannot reach {service}: {}", causes(.source))]
    Transport {
        service: String,
        #[source]
        source: reqwest::Error,
    },
    /// Fetching the access_token failed, so the call itself was never sent: a pay or present
    /// was not applied. [`Error::api`] and [`Error::retryable`] answer the inner failure's.
    #[error("cannot get an access_token: {0}")]
    Token(Box<Error>),
    /// An HTTP status without a JSON errcode body (e.g. a proxy's 502).
    #[error("HTTP status {status}: {body}")]
    Http { status: u16, body: String },
    /// The answer is not the JSON the call expects.
    #[error("unexpected answer: {0}")]
    Decode(String),
    /// The request was refused locally before sending (e.g. a bill_no out of the charset).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The client is missing a setting this call needs (e.g. the sandbox AppKey).
    #[error("configuration: {0}")]
    Config(String),
    /// An emulator control route (`/admin/clock`, `/admin/faults`, `/admin/requests`,
    /// `/admin/reset`, `/admin/state`) answered 404 with errcode 40066: the server runs in
    /// ledger mode, where these routes do not exist (behaviour.md section 13), or is an
    /// OpenMidas older than them.
    #[error(
        "the server has no emulator controls (404, errcode 40066): it runs in ledger mode \
         (start it with `openmidas serve --mode emulator`), or is older than the controls"
    )]
    LedgerMode,
    /// An id in an emulator control route names nothing on this node (404, errcode 40097):
    /// a request no longer (or never) in this node's request log, a deleted fault rule.
    /// [`Error::api`] answers its [`ApiError`] too.
    #[error("errcode {} ({})", .0.errcode, .0.errmsg)]
    NotFound(ApiError),
}

impl Error {
    /// Whether sending the same request again may succeed: `-1`, transport failures and
    /// 5xx statuses. A pay / present retried with the same bill_no is never applied twice.
    pub fn retryable(&self) -> bool {
        match self {
            Error::Api(e) => e.retryable(),
            // A request that could not even be built (a bad URL) fails the same way again.
            Error::Transport { source, .. } => !source.is_builder(),
            Error::Token(inner) => inner.retryable(),
            Error::Http { status, .. } => *status >= 500,
            Error::NotFound(_) | Error::LedgerMode | Error::Decode(_) | Error::InvalidRequest(_) | Error::Config(_) => {
                false
            }
        }
    }

    /// The API error, if the service answered one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) | Error::NotFound(e) => Some(e),
            Error::Token(inner) => inner.api(),
            _ => None,
        }
    }

    /// The errcode, if the service answered one.
    pub fn errcode(&self) -> Option<i64> {
        self.api().map(|e| e.errcode)
    }

    /// Whether the service answered `code`.
    pub fn is(&self, code: impl ErrorCode) -> bool {
        self.api().is_some_and(|e| e.is(code))
    }
}

/// The error and its causes, most general first: reqwest's own message ("error sending
/// request") says little without them ("Connection refused", "dns error").
fn causes(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The scheme, host and port of `url`: what a transport error names.
pub(crate) fn service_of(url: &reqwest::Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(host), Some(port)) => format!("{}://{host}:{port}", url.scheme()),
        (Some(host), None) => format!("{}://{host}", url.scheme()),
        _ => url.scheme().to_string(),
    }
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Error {
        Error::Api(e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    use openmidas_protocol::{common, v1, v2, Lang};

    #[test]
    fn every_table_code_maps_and_only_minus_one_is_retryable() {
        let rows = v1::Code::ALL
            .iter()
            .map(|c| (Dialect::V1, Described::of(*c)))
            .chain(v2::Code::ALL.iter().map(|c| (Dialect::V2, Described::of(*c))))
            .chain(common::Code::ALL.iter().map(|c| (Dialect::V1, Described::of(*c))));
        for (dialect, code) in rows {
            let e = ApiError::of(dialect, code.code, code.errmsg);
            assert_eq!(e.code.map(|c| c.code), Some(code.code));
            assert_eq!(e.retryable(), code.code == -1, "{code:?}");
            assert!(e.to_string().contains(&code.code.to_string()));
        }
        let e = ApiError::of(Dialect::V2, 90010, "signature is invalid");
        assert!(e.is(v2::Code::SignatureInvalid));
        assert_eq!(e.meaning(), v2::Code::SignatureInvalid.meaning());
        assert_eq!(e.meaning_in(Lang::En), e.meaning());
        assert_eq!(e.meaning_in(Lang::ZhCn), v2::Code::SignatureInvalid.meaning_zh());
        let unknown = ApiError::new(48001, "api unauthorized");
        assert_eq!(unknown.code, None);
        assert!(!unknown.retryable());
        assert_eq!(unknown.meaning_in(Lang::En), unknown.meaning());
        assert!(unknown.meaning_in(Lang::ZhCn).contains("errcode"));
        assert_ne!(unknown.meaning_in(Lang::ZhCn), unknown.meaning());
    }

    #[test]
    fn meaning_in_chinese_follows_the_call_s_dialect() {
        let v1 = ApiError::of(Dialect::V1, 90013, "balance not enough");
        assert_eq!(v1.meaning_in(Lang::ZhCn), "余额不足：余额低于 amt");
        assert_eq!(v1.meaning_in(Lang::En), "balance is lower than amt");
        let v1 = ApiError::of(Dialect::V1, 90010, "user not logged in or session expired");
        let v2 = ApiError::of(Dialect::V2, 90010, "signature is invalid");
        assert_ne!(v1.meaning_in(Lang::ZhCn), v2.meaning_in(Lang::ZhCn));
        assert_eq!(
            ApiError::new(42001, "access_token expired").meaning_in(Lang::ZhCn),
            common::Code::AccessTokenExpired.meaning_zh()
        );
    }
}
