//! v1's errcodes (the platform's shared ones are in [`crate::common::Code`]).

crate::errcodes! {
    /// An errcode of Midas v1.
    pub enum Code {
        OrderNotFound = 90000, 200, "order does not exist", retryable: false,
            "cancelpay: no pay with this bill_no for this account",
            zh: "cancelpay：订单不存在，该账户下没有此 bill_no 的扣款";
        MpSigError = 90009, 200, "mp_sig error", retryable: false,
            "mp_sig does not match (or is missing where the app requires it)",
            zh: "mp_sig 签名错误（或应用要求 mp_sig 时未传）";
        SessionNotFound = 90010, 200, "user not logged in or session expired", retryable: false,
            "mp_sig sent but the user has no session_key: log in (jscode2session) first",
            zh: "用户未登录或登录态已失效：传了 mp_sig，但用户没有 session_key，请先登录（jscode2session）";
        SigError = 90011, 200, "sig error", retryable: false, "sig does not match the AppKey of this environment",
            zh: "sig 签名错误：与当前环境的 AppKey 不匹配";
        BillNoRepeated = 90012, 200, "bill_no repeated", retryable: false,
            "bill_no was used before; with the original's parameters the answer carries the original result",
            zh: "订单号重复：bill_no 已使用过；若参数与原请求相同，返回原请求的结果";
        InsufficientBalance = 90013, 200, "balance not enough", retryable: false, "balance is lower than amt",
            zh: "余额不足：余额低于 amt";
        CancelWindowClosed = 90014, 200, "order can not be cancelled any more", retryable: false,
            "cancelpay: the pay is older than the app's cancel window (48 h by default)",
            zh: "cancelpay：扣款已超出应用的可撤销期限（默认 48 小时），订单不可再撤销";
        OrderAlreadyCancelled = 90015, 200, "order already cancelled", retryable: false,
            "cancelpay: the pay was cancelled before, or refunds already gave back all of it",
            zh: "cancelpay：该扣款已撤销过，或已通过退款全额退回";
        NoPrivilege = 90017, 200, "no privilege", retryable: false,
            "appid is not the access_token's app, or offer_id is not that app's",
            zh: "没有权限：appid 不是 access_token 所属的应用，或 offer_id 不属于该应用";
        InvalidParameter = 90018, 200, "invalid parameter", retryable: false,
            "body is not a JSON object within limits, or a field is missing, mistyped or out of range",
            zh: "参数错误：请求体不是符合限制的 JSON 对象，或某个字段缺失、类型错误或超出范围";
        /// A body over 64 KiB.
        BodyTooLarge = 90018, 413, "invalid parameter", retryable: false, "the request body is over 64 KiB",
            zh: "请求体超过 64 KiB";
    }
}
