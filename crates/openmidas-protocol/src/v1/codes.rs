//! v1's errcodes (the platform's shared ones are in [`crate::common::Code`]).

crate::errcodes! {
    /// An errcode of Midas v1.
    pub enum Code {
        OrderNotFound = 90000, 200, "order does not exist", retryable: false,
            "cancelpay: no pay with this bill_no for this account";
        MpSigError = 90009, 200, "mp_sig error", retryable: false,
            "mp_sig does not match (or is missing where the app requires it)";
        SessionNotFound = 90010, 200, "user not logged in or session expired", retryable: false,
            "mp_sig sent but the user has no session_key: log in (jscode2session) first";
        SigError = 90011, 200, "sig error", retryable: false, "sig does not match the AppKey of this environment";
        BillNoRepeated = 90012, 200, "bill_no repeated", retryable: false,
            "bill_no was used before; with the original's parameters the answer carries the original result";
        InsufficientBalance = 90013, 200, "balance not enough", retryable: false, "balance is lower than amt";
        CancelWindowClosed = 90014, 200, "order can not be cancelled any more", retryable: false,
            "cancelpay: the pay is older than the app's cancel window (48 h by default)";
        OrderAlreadyCancelled = 90015, 200, "order already cancelled", retryable: false,
            "cancelpay: the pay was cancelled before, or refunds already gave back all of it";
        NoPrivilege = 90017, 200, "no privilege", retryable: false,
            "appid is not the access_token's app, or offer_id is not that app's";
        InvalidParameter = 90018, 200, "invalid parameter", retryable: false,
            "body is not a JSON object within limits, or a field is missing, mistyped or out of range";
        /// A body over 64 KiB.
        BodyTooLarge = 90018, 413, "invalid parameter", retryable: false, "the request body is over 64 KiB";
    }
}
