//! The platform's errcodes, shared by every route family: system errors, access tokens,
//! the token and session endpoints, unknown paths and methods, and the admin API.

crate::errcodes! {
    /// An errcode of the WeChat platform (not of one payment dialect).
    pub enum Code {
        SystemError = -1, 200, "system error", retryable: true,
            "internal failure, overload or an injected fault; retry with the same order number, it is never applied twice",
            zh: "系统繁忙，请稍后重试（内部故障、过载或注入的故障）；请使用相同的订单号重试，同一订单不会重复生效";
        /// A handler panicked: a bug, answered 500 (never for bad input).
        Panic = -1, 500, "system error", retryable: true, "a bug: the handler panicked",
            zh: "系统错误：处理程序发生 panic，属于程序缺陷";
        Ok = 0, 200, "ok", retryable: false, "success",
            zh: "请求成功";
        InvalidCredential = 40001, 200, "invalid credential, access_token is invalid or not latest", retryable: false,
            "access_token unknown or retired (a newer one replaced it)",
            zh: "access_token 无效或不是最新的（已被新获取的 access_token 替换）";
        /// An admin route without the admin token.
        AdminUnauthorized = 40001, 401, "invalid credential", retryable: false,
            "admin routes need Authorization: Bearer <admin token>",
            zh: "管理接口需要请求头 Authorization: Bearer <admin token>";
        InvalidGrantType = 40002, 200, "invalid grant_type", retryable: false,
            "grant_type is not client_credential (token) or authorization_code (jscode2session)",
            zh: "不合法的 grant_type：获取 access_token 须为 client_credential，jscode2session 须为 authorization_code";
        InvalidAppid = 40013, 200, "invalid appid", retryable: false, "no app with this appid",
            zh: "不合法的 appid：不存在此 appid 的应用";
        InvalidCode = 40029, 200, "invalid code", retryable: false, "login code unknown, of another app, or expired",
            zh: "code 无效：登录凭证 code 不存在、属于其他应用或已过期";
        InvalidUrl = 40066, 404, "invalid url", retryable: false, "no such path",
            zh: "不合法的请求地址：不存在该路径";
        InvalidArgs = 40097, 200, "invalid args", retryable: false, "an admin request field is missing or invalid",
            zh: "参数错误：管理接口请求的某个字段缺失或不合法";
        InvalidAppSecret = 40125, 200, "invalid appsecret", retryable: false, "secret does not match the app",
            zh: "appsecret 错误：secret 与该应用不匹配";
        CodeBeenUsed = 40163, 200, "code been used", retryable: false, "login code was already exchanged",
            zh: "code 已被使用：该登录凭证已经换取过";
        AccessTokenMissing = 41001, 200, "access_token missing", retryable: false, "no access_token in the query string",
            zh: "缺少 access_token 参数：查询字符串中没有 access_token";
        AppidMissing = 41002, 200, "appid missing", retryable: false, "no appid parameter",
            zh: "缺少 appid 参数";
        AppSecretMissing = 41004, 200, "appsecret missing", retryable: false, "no secret parameter",
            zh: "缺少 secret 参数";
        CodeMissing = 41008, 200, "missing code", retryable: false, "no js_code parameter",
            zh: "缺少 js_code 参数";
        AccessTokenExpired = 42001, 200, "access_token expired", retryable: false, "access_token is past its expires_in",
            zh: "access_token 过期：已超过其 expires_in 有效期";
        RequireGetMethod = 43001, 405, "require GET method", retryable: false, "this path takes GET",
            zh: "需要 GET 请求：该路径只接受 GET 方法";
        RequirePostMethod = 43002, 405, "require POST method", retryable: false, "this path takes POST",
            zh: "需要 POST 请求：该路径只接受 POST 方法";
        /// The app was issued its `token_daily_limit` of tokens of this kind in the last 24 h.
        ApiDailyQuotaReached = 45009, 200, "reach max api daily quota limit", retryable: false,
            "the app was issued its daily quota of access tokens (token_daily_limit) in the last 24 h",
            zh: "接口调用超过每日限额：该应用在过去 24 小时内获取的 access_token 已达上限（token_daily_limit）";
        /// Too many failed admin authentications from one address (behaviour.md 14.5).
        AdminLockedOut = 45011, 429, "api minute-quota reach limit mustslower retry next minute", retryable: false,
            "too many failed admin authentications from this address: wait until the window ends",
            zh: "来自该地址的管理接口认证失败次数过多：请等待时间窗口结束后再试";
        DataFormatError = 47001, 200, "data format error", retryable: false, "request body is not the JSON this path takes",
            zh: "数据格式错误：请求体不是该路径所需的 JSON";
        /// A body over 64 KiB on a token or admin route.
        BodyTooLarge = 90018, 413, "invalid parameter", retryable: false, "the request body is over 64 KiB",
            zh: "请求体超过 64 KiB";
    }
}
