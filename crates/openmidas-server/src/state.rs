use std::fmt;
use std::sync::Arc;

use openmidas_ledger::{Clock, Store};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What every route shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub admin_token: AdminToken,
}

/// The admin bearer token. Compared through SHA-256 digests in constant time, so neither
/// its bytes nor its length leak; its `Debug` hides it.
#[derive(Clone)]
pub struct AdminToken {
    digest: [u8; 32],
}

impl AdminToken {
    pub fn new(token: &str) -> Self {
        AdminToken {
            digest: Sha256::digest(token.as_bytes()).into(),
        }
    }

    pub fn matches(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.digest.ct_eq(&presented).into()
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}
