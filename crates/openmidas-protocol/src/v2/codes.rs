//! 2.0's errcodes (the platform's shared ones are in [`crate::common::Code`]).

crate::errcodes! {
    /// An errcode of virtual payment 2.0.
    pub enum Code {
        OrderNotFound = 90000, 200, "order does not exist", retryable: false,
            "cancelpay: pay_bill_no is not a pay of this account in this env";
        SignatureInvalid = 90010, 200, "signature is invalid", retryable: false,
            "signature does not match the player's newest session_key over the body bytes";
        PaySigInvalid = 90011, 200, "pay_sig is invalid", retryable: false,
            "pay_sig does not match the AppKey of the body's env over path & body bytes";
        BillNoRepeated = 90012, 200, "bill_no repeated", retryable: false,
            "bill_no was used before; with the original's parameters the answer carries the original result";
        InsufficientBalance = 90013, 200, "balance not enough", retryable: false, "balance is lower than amount";
        CancelWindowClosed = 90014, 200, "order can not be refunded any more", retryable: false,
            "cancelpay: the pay is older than the app's cancel window (48 h by default)";
        SessionNotFound = 90016, 200, "session_key not found or expired, the user must log in again", retryable: false,
            "the player has no session_key: log in (jscode2session) first";
        InvalidParameter = 90018, 200, "invalid parameter", retryable: false,
            "a query parameter or body field is missing, mistyped or out of range, or offer_id is not the app's";
        /// A body over 64 KiB.
        BodyTooLarge = 90018, 413, "invalid parameter", retryable: false, "the request body is over 64 KiB";
        PurchaseNotFound = 90019, 200, "out_trade_no not found", retryable: false,
            "queryorderinfo: no purchase with this out_trade_no and biz_id for this player";
    }
}
