//! xpay's errcodes: the rows of the reference's table (wechat-reference-vp2-xpay.md section
//! 2.4) that OpenMidas can answer, with the table's Chinese texts. The platform's shared
//! codes are in [`crate::common::Code`].

crate::errcodes! {
    /// An errcode of xpay.
    pub enum Code {
        SystemError = -1, 200, "系统错误", retryable: true,
            "internal failure, overload or an injected fault; retry with the same order_id, it is never applied twice",
            zh: "系统错误（内部故障、过载或注入的故障），请稍后重试；请使用相同的 order_id 重试，同一订单不会重复生效";
        OpenidInvalid = 268490001, 200, "openid错误", retryable: false,
            "openid is missing, empty or over 128 bytes",
            zh: "openid 错误：openid 缺失、为空或超过 128 字节";
        InvalidParameter = 268490002, 200, "请求参数字段错误，具体看errmsg", retryable: false,
            "a query parameter or body field is missing, mistyped or out of range (the errmsg names it), or the order does not exist (数据不存在)",
            zh: "请求参数字段错误：某个查询参数或请求体字段缺失、类型错误或超出范围（errmsg 中会指明字段），或订单不存在（数据不存在）";
        /// A body over 64 KiB.
        BodyTooLarge = 268490002, 413, "请求参数字段错误，具体看errmsg", retryable: false,
            "the request body is over 64 KiB",
            zh: "请求体超过 64 KiB";
        SignatureInvalid = 268490003, 200, "签名错误", retryable: false,
            "pay_sig (AppKey of the body's env over path & body) or signature (the player's newest session_key over the body) does not match; the errmsg says which",
            zh: "签名错误：pay_sig（用请求体中 env 对应的 AppKey 对路径 & 请求体计算）或 signature（用玩家最新的 session_key 对请求体计算）不匹配，errmsg 中会指明是哪一个";
        Repeated = 268490004, 200, "重复操作", retryable: false,
            "order_id (or refund_order_id) was used before: the earlier operation already succeeded, nothing changed now",
            zh: "重复操作：order_id（或 refund_order_id）已使用过，之前的操作已成功，本次未做任何变更";
        AlreadyRefunded = 268490005, 200, "已通过cancel_currency_pay退款，不支持再退款", retryable: false,
            "cancel_currency_pay: refunds already gave back all of the pay",
            zh: "cancel_currency_pay：该扣款已全额退款，不支持再退款";
        InsufficientBalance = 268490006, 200, "代币的退款/支付操作金额不足", retryable: false,
            "currency_pay: balance below amount; cancel_currency_pay or refund_order: amount above what is left to refund",
            zh: "金额不足：currency_pay 时余额低于 amount；cancel_currency_pay 或 refund_order 时 amount 超过剩余可退金额";
        SessionNotFound = 268490009, 200, "session_key不存在或已过期，请重新登录", retryable: false,
            "the player has no session_key: log in (jscode2session) first",
            zh: "session_key 不存在或已过期：玩家没有 session_key，请先登录（jscode2session）";
        BillGenerating = 268490011, 200, "数据生成中，请稍后调用", retryable: true,
            "download_bill: the bill of this range is being made; call again for its url",
            zh: "download_bill：该时间范围的账单正在生成中，请稍后再次调用以获取其 url";
        RefundInProgress = 268490014, 200, "退款操作进行中，稍后可以使用相同参数重试", retryable: true,
            "refund_order: this refund is still pending; the same call later answers its result",
            zh: "refund_order：退款操作进行中，稍后使用相同参数再次调用即可得到其结果";
        RateLimited = 268490015, 200, "频率限制", retryable: false,
            "too many calls: slow down before calling again",
            zh: "频率限制：调用过于频繁，请降低调用频率后再试";
        LeftFeeMismatch = 268490016, 200, "left_fee与实际不符", retryable: false,
            "refund_order: left_fee is not what is left to refund of the purchase (query_order shows it)",
            zh: "refund_order：left_fee 与该订单实际剩余可退金额不符（可通过 query_order 查询）";
    }
}

/// The errmsg of a 268490002 for an order that does not exist (an unknown `order_id`,
/// `wx_order_id` or `pay_order_id`, another player's, or the other env's): the text seen
/// from the real service.
pub const NOT_FOUND_ERRMSG: &str = "数据不存在";

/// The errmsg of a 268490002 for notify_provide_goods on a purchase that is not paid
/// (OpenMidas's text, UNCONFIRMED: the real service's is not known).
pub const NOT_PAID_ERRMSG: &str = "订单未支付，不能发货";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_the_reference_s() {
        let rows: Vec<(i64, u16, bool)> = Code::ALL
            .iter()
            .map(|c| (c.code(), c.http_status(), c.retryable()))
            .collect();
        assert_eq!(
            rows,
            [
                (-1, 200, true),
                (268490001, 200, false),
                (268490002, 200, false),
                (268490002, 413, false),
                (268490003, 200, false),
                (268490004, 200, false),
                (268490005, 200, false),
                (268490006, 200, false),
                (268490009, 200, false),
                (268490011, 200, true),
                (268490014, 200, true),
                (268490015, 200, false),
                (268490016, 200, false),
            ]
        );
        assert_eq!(Code::from_code(268490002), Some(Code::InvalidParameter));
        assert_eq!(Code::BodyTooLarge.errmsg(), Code::InvalidParameter.errmsg());
        assert_eq!(Code::SignatureInvalid.to_string(), "268490003 (签名错误)");
    }
}
