//! Errcode tables: what every number OpenMidas answers means, per dialect.
//!
//! WeChat reuses numbers across its API families with different meanings (90010 is "not
//! logged in" in Midas v1 and "signature invalid" in virtual payment 2.0), so there is no
//! single table: each family has its own, made with [`errcodes!`] (the platform's shared
//! codes in [`crate::common`], v1's in [`crate::v1::Code`], 2.0's in [`crate::v2::Code`],
//! the simulated client's in [`crate::client`]). Every code carries its default errmsg, its
//! meaning, whether the same request may be retried unchanged, and the HTTP status it is
//! answered with. A handler may give a more specific errmsg (90018 names the field), never
//! a code outside its tables.

use std::fmt;

/// A row of an errcode table.
pub trait ErrorCode: Copy + fmt::Debug + Send + Sync + 'static {
    /// The number on the wire.
    fn code(self) -> i64;
    /// The default errmsg.
    fn errmsg(self) -> &'static str;
    /// What the code means, for documentation and CLI messages.
    fn meaning(self) -> &'static str;
    /// Whether the same request may be sent again unchanged and succeed.
    fn retryable(self) -> bool;
    /// The HTTP status the code is answered with (200 for nearly all, as WeChat does).
    fn http_status(self) -> u16;
}

/// Declares one errcode table: an enum whose variants are the rows, with `ALL`,
/// `from_code` and the [`ErrorCode`] methods. Two rows may share a number when they differ
/// in HTTP status (a body over the size limit is the dialect's parameter error, with 413);
/// `from_code` answers the first.
#[macro_export]
macro_rules! errcodes {
    (
        $(#[$enum_meta:meta])*
        pub enum $name:ident {
            $( $(#[$doc:meta])* $variant:ident = $code:literal, $status:literal, $errmsg:literal,
               retryable: $retryable:literal, $meaning:literal; )*
        }
    ) => {
        $(#[$enum_meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$doc])* $variant, )*
        }

        impl $name {
            /// Every row, in table order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The number on the wire.
            pub const fn code(self) -> i64 {
                match self { $($name::$variant => $code,)* }
            }

            /// The default errmsg.
            pub const fn errmsg(self) -> &'static str {
                match self { $($name::$variant => $errmsg,)* }
            }

            /// What the code means.
            pub const fn meaning(self) -> &'static str {
                match self { $($name::$variant => $meaning,)* }
            }

            /// Whether the same request may be sent again unchanged and succeed.
            pub const fn retryable(self) -> bool {
                match self { $($name::$variant => $retryable,)* }
            }

            /// The HTTP status of the answer.
            pub const fn http_status(self) -> u16 {
                match self { $($name::$variant => $status,)* }
            }

            /// The first row with this number, if the table has one.
            pub fn from_code(code: i64) -> Option<$name> {
                $name::ALL.iter().copied().find(|c| c.code() == code)
            }
        }

        impl $crate::errcode::ErrorCode for $name {
            fn code(self) -> i64 { $name::code(self) }
            fn errmsg(self) -> &'static str { $name::errmsg(self) }
            fn meaning(self) -> &'static str { $name::meaning(self) }
            fn retryable(self) -> bool { $name::retryable(self) }
            fn http_status(self) -> u16 { $name::http_status(self) }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{} ({})", self.code(), self.errmsg())
            }
        }
    };
}

/// What a number means when a call of `dialect` answers it: the dialect's own table first,
/// then the platform's ([`crate::common::Code`]). `None` for a number OpenMidas does not know.
pub fn describe(dialect: crate::route::Dialect, code: i64) -> Option<Described> {
    use crate::route::Dialect;
    let own = match dialect {
        Dialect::V1 => crate::v1::Code::from_code(code).map(Described::of),
        Dialect::V2 => crate::v2::Code::from_code(code).map(Described::of),
        Dialect::Xpay => crate::xpay::Code::from_code(code).map(Described::of),
    };
    own.or_else(|| crate::common::Code::from_code(code).map(Described::of))
}

/// What a number means when an xpay call answers it: xpay's table first
/// ([`crate::xpay::Code`]), then the platform's. [`describe`] is keyed by
/// [`crate::route::Dialect`], which has no xpay variant until xpay's routes join the route
/// table; this is what its xpay arm will call.
pub fn describe_xpay(code: i64) -> Option<Described> {
    crate::xpay::Code::from_code(code)
        .map(Described::of)
        .or_else(|| crate::common::Code::from_code(code).map(Described::of))
}

/// A row of some table, erased: what a client shows of an errcode it got back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Described {
    pub code: i64,
    pub errmsg: &'static str,
    pub meaning: &'static str,
    pub retryable: bool,
}

impl Described {
    pub fn of(code: impl ErrorCode) -> Described {
        Described {
            code: code.code(),
            errmsg: code.errmsg(),
            meaning: code.meaning(),
            retryable: code.retryable(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::Dialect;
    use std::collections::HashSet;

    fn check_table<C: ErrorCode + PartialEq>(all: &[C], from_code: fn(i64) -> Option<C>) {
        let mut seen = HashSet::new();
        for &code in all {
            assert!(
                seen.insert((code.code(), code.http_status())),
                "duplicate row {}/{}",
                code.code(),
                code.http_status()
            );
            let first = from_code(code.code()).expect("from_code finds every number");
            assert_eq!(first.code(), code.code());
            assert!(!code.errmsg().is_empty() && !code.meaning().is_empty());
            assert!([200, 401, 404, 405, 413, 500].contains(&code.http_status()), "{code:?}");
        }
        assert!(from_code(12345).is_none());
    }

    #[test]
    fn every_table_is_well_formed() {
        check_table(crate::common::Code::ALL, crate::common::Code::from_code);
        check_table(crate::v1::Code::ALL, crate::v1::Code::from_code);
        check_table(crate::v2::Code::ALL, crate::v2::Code::from_code);
        check_table(
            crate::client::midas_payment::Code::ALL,
            crate::client::midas_payment::Code::from_code,
        );
        check_table(
            crate::client::game_item::Code::ALL,
            crate::client::game_item::Code::from_code,
        );
        check_table(crate::xpay::Code::ALL, crate::xpay::Code::from_code);
        check_table(
            crate::client::virtual_payment::Code::ALL,
            crate::client::virtual_payment::Code::from_code,
        );
    }

    #[test]
    fn xpay_numbers_mean_what_xpay_says() {
        let signature = describe_xpay(268490003).expect("xpay knows 268490003");
        assert_eq!(signature.errmsg, "签名错误");
        // -1 is xpay's own row (its text is Chinese), before the platform's.
        assert_eq!(describe_xpay(-1).map(|d| d.errmsg), Some("系统错误"));
        assert_eq!(describe_xpay(41001).map(|d| d.code), Some(41001));
        assert!(describe_xpay(90010).is_none(), "2.0's numbers are not xpay's");
        assert!(
            describe_xpay(268490007).is_none(),
            "rows OpenMidas never answers are left out"
        );
    }

    #[test]
    fn one_number_means_what_its_dialect_says() {
        let v1 = describe(Dialect::V1, 90010).expect("v1 knows 90010");
        let v2 = describe(Dialect::V2, 90010).expect("2.0 knows 90010");
        assert_ne!(v1.meaning, v2.meaning);
        assert_eq!(
            describe(Dialect::V2, 41001).map(|d| d.code),
            Some(41001),
            "platform codes are known to every dialect"
        );
        assert!(describe(Dialect::V1, 90019).is_none());
    }
}
