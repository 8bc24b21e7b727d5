//! The platform's errcodes, shared by every route family: system errors, access tokens,
//! the token and session endpoints, unknown paths and methods, and the admin API.

crate::errcodes! {
    /// An errcode of the WeChat platform (not of one payment dialect).
    pub enum Code {
        SystemError = -1, 200, "system error", retryable: true,
            "internal failure, overload or an injected fault; retry with the same order number, it is never applied twice";
        /// A handler panicked: a bug, answered 500 (never for bad input).
        Panic = -1, 500, "system error", retryable: true, "a bug: the handler panicked";
        Ok = 0, 200, "ok", retryable: false, "success";
        InvalidCredential = 40001, 200, "invalid credential, access_token is invalid or not latest", retryable: false,
            "access_token unknown or retired (a newer one replaced it)";
        /// An admin route without the admin token.
        AdminUnauthorized = 40001, 401, "invalid credential", retryable: false,
            "admin routes need Authorization: Bearer <admin token>";
        InvalidGrantType = 40002, 200, "invalid grant_type", retryable: false,
            "grant_type is not client_credential (token) or authorization_code (jscode2session)";
        InvalidAppid = 40013, 200, "invalid appid", retryable: false, "no app with this appid";
        InvalidCode = 40029, 200, "invalid code", retryable: false, "login code unknown, of another app, or expired";
        InvalidUrl = 40066, 404, "invalid url", retryable: false, "no such path";
        InvalidArgs = 40097, 200, "invalid args", retryable: false, "an admin request field is missing or invalid";
        InvalidAppSecret = 40125, 200, "invalid appsecret", retryable: false, "secret does not match the app";
        CodeBeenUsed = 40163, 200, "code been used", retryable: false, "login code was already exchanged";
        AccessTokenMissing = 41001, 200, "access_token missing", retryable: false, "no access_token in the query string";
        AppidMissing = 41002, 200, "appid missing", retryable: false, "no appid parameter";
        AppSecretMissing = 41004, 200, "appsecret missing", retryable: false, "no secret parameter";
        CodeMissing = 41008, 200, "missing code", retryable: false, "no js_code parameter";
        AccessTokenExpired = 42001, 200, "access_token expired", retryable: false, "access_token is past its expires_in";
        RequireGetMethod = 43001, 405, "require GET method", retryable: false, "this path takes GET";
        RequirePostMethod = 43002, 405, "require POST method", retryable: false, "this path takes POST";
        DataFormatError = 47001, 200, "data format error", retryable: false, "request body is not the JSON this path takes";
        /// A body over 64 KiB on a token or admin route.
        BodyTooLarge = 90018, 413, "invalid parameter", retryable: false, "the request body is over 64 KiB";
    }
}
