//! The dialects the emulator controls name (behaviour.md sections 13.2 and 13.3): which API
//! family a path belongs to, as fault rules match it and the request log shows it.

use serde::Serialize;

/// The API family of a path: how faults match it and how the log names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// `/cgi-bin/midas/...`
    V1,
    /// `/wxa/...`
    V2,
    /// `/xpay/...`.
    Xpay,
    /// The other `/cgi-bin/...` routes (token, stable_token) and `/sns/...`.
    Auth,
    /// The simulated player: `/admin/client/...` and `/admin/recharge`.
    Client,
    /// OpenMidas's deliveries of pushes to the game server (behaviour.md section 12): a
    /// rule fires on them only when it names this dialect.
    Push,
}

impl Dialect {
    /// The names a fault rule may match.
    pub fn parse(name: &str) -> Option<Dialect> {
        match name {
            "v1" => Some(Dialect::V1),
            "v2" => Some(Dialect::V2),
            "xpay" => Some(Dialect::Xpay),
            "auth" => Some(Dialect::Auth),
            "client" => Some(Dialect::Client),
            "push" => Some(Dialect::Push),
            _ => None,
        }
    }

    /// The family of an observed path; `None` for routes that are not observed.
    pub fn of_path(path: &str) -> Option<Dialect> {
        if path.starts_with("/cgi-bin/midas/") {
            Some(Dialect::V1)
        } else if path.starts_with("/wxa/") {
            Some(Dialect::V2)
        } else if path.starts_with("/xpay/") {
            Some(Dialect::Xpay)
        } else if path.starts_with("/cgi-bin/") || path.starts_with("/sns/") {
            Some(Dialect::Auth)
        } else if path.starts_with("/admin/client/") || path == "/admin/recharge" {
            Some(Dialect::Client)
        } else {
            None
        }
    }

    /// The errmsg of `code` in this family's table (a fault without its own errmsg).
    pub fn errmsg_of(self, code: i64) -> &'static str {
        use openmidas_protocol::route::Dialect as Table;
        let described = match self {
            Dialect::V1 => openmidas_protocol::errcode::describe(Table::V1, code),
            Dialect::V2 => openmidas_protocol::errcode::describe(Table::V2, code),
            Dialect::Xpay => openmidas_protocol::errcode::describe(Table::Xpay, code),
            Dialect::Auth | Dialect::Client | Dialect::Push => {
                openmidas_protocol::common::Code::from_code(code).map(openmidas_protocol::errcode::Described::of)
            }
        };
        described.map_or("system error", |d| d.errmsg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_belong_to_families() {
        assert_eq!(Dialect::of_path("/cgi-bin/midas/sandbox/pay"), Some(Dialect::V1));
        assert_eq!(Dialect::of_path("/cgi-bin/token"), Some(Dialect::Auth));
        assert_eq!(Dialect::of_path("/sns/jscode2session"), Some(Dialect::Auth));
        assert_eq!(Dialect::of_path("/wxa/game/pya"), Some(Dialect::V2));
        assert_eq!(Dialect::of_path("/admin/recharge"), Some(Dialect::Client));
        assert_eq!(Dialect::of_path("/admin/client/game_item"), Some(Dialect::Client));
        assert_eq!(Dialect::of_path("/admin/apps"), None);
        assert_eq!(Dialect::of_path("/healthz"), None);
    }
}
