//! 2.0's errcodes (the platform's shared ones are in [`crate::common::Code`]).

crate::errcodes! {
    /// An errcode of virtual payment 2.0.
    pub enum Code {
        OrderNotFound = 90000, 200, "order does not exist", retryable: false,
            "cancelpay: pay_bill_no is not a pay of this account in this env",
            zh: "cancelpay：订单不存在，pay_bill_no 不是该账户在此环境中的扣款";
        SignatureInvalid = 90010, 200, "signature is invalid", retryable: false,
            "signature does not match the player's newest session_key over the body bytes",
            zh: "用户态签名 signature 错误：与用玩家最新的 session_key 对请求体字节计算的签名不一致";
        PaySigInvalid = 90011, 200, "pay_sig is invalid", retryable: false,
            "pay_sig does not match the AppKey of the body's env over path & body bytes",
            zh: "支付签名 pay_sig 错误：与用请求体中 env 对应的 AppKey 对路径 & 请求体字节计算的签名不一致";
        BillNoRepeated = 90012, 200, "bill_no repeated", retryable: false,
            "bill_no was used before; with the original's parameters the answer carries the original result",
            zh: "订单号重复：bill_no 已使用过；若参数与原请求相同，返回原请求的结果";
        InsufficientBalance = 90013, 200, "balance not enough", retryable: false, "balance is lower than amount",
            zh: "余额不足：余额低于 amount";
        CancelWindowClosed = 90014, 200, "order can not be refunded any more", retryable: false,
            "cancelpay: the pay is older than the app's cancel window (48 h by default)",
            zh: "cancelpay：扣款已超出应用的可撤销期限（默认 48 小时），订单不可再退款";
        SessionNotFound = 90016, 200, "session_key not found or expired, the user must log in again", retryable: false,
            "the player has no session_key: log in (jscode2session) first",
            zh: "session_key 不存在或已过期：玩家没有 session_key，请先登录（jscode2session）";
        InvalidParameter = 90018, 200, "invalid parameter", retryable: false,
            "a query parameter or body field is missing, mistyped or out of range, or offer_id is not the app's",
            zh: "参数错误：某个查询参数或请求体字段缺失、类型错误或超出范围，或 offer_id 不属于该应用";
        /// A body over 64 KiB.
        BodyTooLarge = 90018, 413, "invalid parameter", retryable: false, "the request body is over 64 KiB",
            zh: "请求体超过 64 KiB";
        PurchaseNotFound = 90019, 200, "out_trade_no not found", retryable: false,
            "queryorderinfo: no purchase with this out_trade_no and biz_id for this player",
            zh: "queryorderinfo：该玩家没有此 out_trade_no 和 biz_id 的道具购买订单";
    }
}
