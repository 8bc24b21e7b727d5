//! Errcode tables: what every number OpenMidas answers means, per dialect.
//!
//! WeChat reuses numbers across its API families with different meanings (90010 is "not
//! logged in" in Midas v1 and "signature invalid" in virtual payment 2.0), so there is no
//! single table: each family has its own, made with [`errcodes!`] (the platform's shared
//! codes in [`crate::common`], v1's in [`crate::v1::Code`], 2.0's in [`crate::v2::Code`],
//! the simulated client's in [`crate::client`]). Every code carries its default errmsg, its
//! meaning (in English and in Simplified Chinese, see [`Lang`]), whether the same request
//! may be retried unchanged, and the HTTP status it is answered with. A handler may give a
//! more specific errmsg (90018 names the field), never a code outside its tables.

use std::fmt;
use std::str::FromStr;

/// The language a meaning is shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    /// English (the tables' first meaning).
    #[default]
    En,
    /// Simplified Chinese (zh-CN), in the terms of WeChat's Chinese documentation.
    ZhCn,
}

impl Lang {
    /// Every language, in order.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::ZhCn];

    /// The language's tag: `"en"` or `"zh-CN"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }

    /// A language tag as a user types it (`--lang`): `en`, `en-US` (or `en_US`), `zh`,
    /// `zh-CN`, `zh_CN`, `zh-Hans`, in any case. `None` for anything else.
    pub fn parse(tag: &str) -> Option<Lang> {
        match tag.trim().to_ascii_lowercase().as_str() {
            "en" | "en-us" | "en_us" => Some(Lang::En),
            "zh" | "zh-cn" | "zh_cn" | "zh-hans" => Some(Lang::ZhCn),
            _ => None,
        }
    }

    /// The language of a POSIX locale string (the value of `LC_ALL`, `LC_MESSAGES` or
    /// `LANG`, e.g. `zh_CN.UTF-8`, `en_US.UTF-8`, `C`): Chinese for any `zh` locale,
    /// English for everything else (an empty value, `C`, `POSIX`, other languages).
    pub fn from_locale(value: &str) -> Lang {
        // language[_territory][.codeset][@modifier]; a GNU LANGUAGE list (`zh_CN:en`) is
        // read by its first entry.
        let first = value.trim().split(':').next().unwrap_or("");
        let language = first.split(['_', '-', '.', '@']).next().unwrap_or("");
        if language.eq_ignore_ascii_case("zh") {
            Lang::ZhCn
        } else {
            Lang::En
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Lang {
    type Err = String;

    fn from_str(tag: &str) -> Result<Lang, String> {
        Lang::parse(tag).ok_or_else(|| format!("unknown language {tag:?}: expected en or zh-CN"))
    }
}

/// A row of an errcode table.
pub trait ErrorCode: Copy + fmt::Debug + Send + Sync + 'static {
    /// The number on the wire.
    fn code(self) -> i64;
    /// The default errmsg.
    fn errmsg(self) -> &'static str;
    /// What the code means, for documentation and CLI messages.
    fn meaning(self) -> &'static str;
    /// What the code means, in Simplified Chinese.
    fn meaning_zh(self) -> &'static str;
    /// What the code means, in `lang`.
    fn meaning_in(self, lang: Lang) -> &'static str {
        match lang {
            Lang::En => self.meaning(),
            Lang::ZhCn => self.meaning_zh(),
        }
    }
    /// Whether the same request may be sent again unchanged and succeed.
    fn retryable(self) -> bool;
    /// The HTTP status the code is answered with (200 for nearly all, as WeChat does).
    fn http_status(self) -> u16;
}

/// Declares one errcode table: an enum whose variants are the rows, with `ALL`,
/// `from_code` and the [`ErrorCode`] methods. A row is
/// `Variant = code, http_status, "errmsg", retryable: bool, "meaning", zh: "中文含义";`.
/// Two rows may share a number when they differ in HTTP status (a body over the size limit
/// is the dialect's parameter error, with 413); `from_code` answers the first.
#[macro_export]
macro_rules! errcodes {
    (
        $(#[$enum_meta:meta])*
        pub enum $name:ident {
            $( $(#[$doc:meta])* $variant:ident = $code:literal, $status:literal, $errmsg:literal,
               retryable: $retryable:literal, $meaning:literal, zh: $meaning_zh:literal; )*
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

            /// What the code means, in Simplified Chinese.
            pub const fn meaning_zh(self) -> &'static str {
                match self { $($name::$variant => $meaning_zh,)* }
            }

            /// What the code means, in `lang`.
            pub const fn meaning_in(self, lang: $crate::errcode::Lang) -> &'static str {
                match lang {
                    $crate::errcode::Lang::En => self.meaning(),
                    $crate::errcode::Lang::ZhCn => self.meaning_zh(),
                }
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
            fn meaning_zh(self) -> &'static str { $name::meaning_zh(self) }
            fn meaning_in(self, lang: $crate::errcode::Lang) -> &'static str { $name::meaning_in(self, lang) }
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
    /// The meaning in Simplified Chinese.
    pub meaning_zh: &'static str,
    pub retryable: bool,
}

impl Described {
    pub fn of(code: impl ErrorCode) -> Described {
        Described {
            code: code.code(),
            errmsg: code.errmsg(),
            meaning: code.meaning(),
            meaning_zh: code.meaning_zh(),
            retryable: code.retryable(),
        }
    }

    /// The meaning in `lang`.
    pub const fn meaning_in(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::En => self.meaning,
            Lang::ZhCn => self.meaning_zh,
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
            let zh = code.meaning_zh();
            assert!(zh.chars().any(is_cjk), "{code:?}: no Chinese in its zh meaning {zh:?}");
            assert_ne!(zh, code.meaning(), "{code:?}");
            assert_eq!(code.meaning_in(Lang::En), code.meaning());
            assert_eq!(code.meaning_in(Lang::ZhCn), zh);
            let described = Described::of(code);
            assert_eq!(described.meaning_in(Lang::En), code.meaning());
            assert_eq!(described.meaning_in(Lang::ZhCn), zh);
            assert!(
                [200, 401, 404, 405, 413, 429, 500].contains(&code.http_status()),
                "{code:?}"
            );
        }
        assert!(from_code(12345).is_none());
    }

    /// A CJK unified ideograph (the basic block or extension A).
    fn is_cjk(c: char) -> bool {
        matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}')
    }

    #[test]
    fn lang_parses_the_tags_users_type() {
        for tag in ["en", "EN", "en-US", "en-us", "en_US", " en "] {
            assert_eq!(Lang::parse(tag), Some(Lang::En), "{tag}");
        }
        for tag in [
            "zh", "ZH", "zh-CN", "zh-cn", "zh_CN", "ZH_cn", "zh-Hans", "zh-hans", "ZH-HANS",
        ] {
            assert_eq!(Lang::parse(tag), Some(Lang::ZhCn), "{tag}");
        }
        for tag in ["", "fr", "zh-TW", "english", "chinese", "zhcn", "en-GB-x"] {
            assert_eq!(Lang::parse(tag), None, "{tag}");
        }
        for lang in Lang::ALL {
            assert_eq!(Lang::parse(lang.as_str()), Some(lang));
            assert_eq!(lang.to_string().parse::<Lang>(), Ok(lang));
        }
        assert!("fr".parse::<Lang>().unwrap_err().contains("fr"));
        assert_eq!(Lang::default(), Lang::En);
    }

    #[test]
    fn lang_reads_posix_locales() {
        for locale in [
            "zh_CN.UTF-8",
            "zh_CN.utf8",
            "zh_CN",
            "zh",
            "ZH_CN.GB18030",
            "zh_TW.UTF-8",
            "zh_CN:en",
            "zh@x",
        ] {
            assert_eq!(Lang::from_locale(locale), Lang::ZhCn, "{locale}");
        }
        for locale in [
            "en_US.UTF-8",
            "C",
            "C.UTF-8",
            "POSIX",
            "",
            "fr_FR.UTF-8",
            "en_US:zh_CN",
            "zha",
            "zu_ZA",
        ] {
            assert_eq!(Lang::from_locale(locale), Lang::En, "{locale}");
        }
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
    fn chinese_meanings_use_wechat_s_terms() {
        assert!(crate::v1::Code::InsufficientBalance
            .meaning_in(Lang::ZhCn)
            .starts_with("余额不足"));
        assert!(crate::v2::Code::BillNoRepeated.meaning_zh().starts_with("订单号重复"));
        assert!(crate::xpay::Code::SignatureInvalid.meaning_zh().starts_with("签名错误"));
        assert!(crate::common::Code::AccessTokenExpired
            .meaning_zh()
            .starts_with("access_token 过期"));
        assert!(crate::common::Code::SystemError
            .meaning_zh()
            .starts_with("系统繁忙，请稍后重试"));
        assert!(crate::v1::Code::SessionNotFound
            .meaning_zh()
            .starts_with("用户未登录或登录态已失效"));
        let described = describe(Dialect::V2, 90013).expect("2.0 knows 90013");
        assert_eq!(described.meaning_in(Lang::ZhCn), "余额不足：余额低于 amount");
        assert_eq!(described.meaning_in(Lang::En), "balance is lower than amount");
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
        assert_ne!(v1.meaning_zh, v2.meaning_zh);
        assert_eq!(
            describe(Dialect::V2, 41001).map(|d| d.code),
            Some(41001),
            "platform codes are known to every dialect"
        );
        assert!(describe(Dialect::V1, 90019).is_none());
    }
}
