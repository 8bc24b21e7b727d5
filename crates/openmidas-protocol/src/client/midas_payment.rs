//! `wx.requestMidasPayment`: a coin purchase (v1 and 2.0), simulated by
//! `POST /admin/client/midas_payment` (and its alias `/admin/recharge`).

crate::errcodes! {
    /// A fail code of `wx.requestMidasPayment`.
    pub enum Code {
        MissingParameter = -15001, 200, "missing parameter", retryable: false,
            "simulated wx.requestMidasPayment: a required parameter is missing",
            zh: "模拟的 wx.requestMidasPayment：缺少必填参数";
        InvalidParameter = -15002, 200, "invalid parameter", retryable: false,
            "simulated wx.requestMidasPayment: a parameter is out of range",
            zh: "模拟的 wx.requestMidasPayment：参数错误，某个参数超出范围";
        DuplicateOrder = -15003, 200, "duplicate order", retryable: false,
            "simulated wx.requestMidasPayment: out_trade_no was used before",
            zh: "模拟的 wx.requestMidasPayment：订单号重复，out_trade_no 已使用过";
    }
}
