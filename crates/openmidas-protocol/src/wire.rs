//! Answers shared by every route family. Field order here is the order on the wire.
//! Each dialect's own answers are in its module (`v1::answer`, `v2::answer`).

use serde::{Deserialize, Serialize};

use crate::errcode::ErrorCode;

/// `{"errcode","errmsg"}`: every failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub errcode: i64,
    pub errmsg: String,
}

impl ErrorBody {
    pub fn new(code: impl ErrorCode, errmsg: impl Into<String>) -> Self {
        ErrorBody {
            errcode: code.code(),
            errmsg: errmsg.into(),
        }
    }
}

/// `/cgi-bin/token` and `/cgi-bin/stable_token` success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessTokenOk {
    pub access_token: String,
    pub expires_in: i64,
}

/// `/sns/jscode2session` success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Jscode2SessionOk {
    pub openid: String,
    pub session_key: String,
}

/// `/admin/login` success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminLoginOk {
    pub errcode: i64,
    pub errmsg: String,
    pub code: String,
    pub openid: String,
}
