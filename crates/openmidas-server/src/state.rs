use std::fmt;
use std::sync::Arc;

use openmidas_ledger::{Clock, Store, StoreError};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::controls::{Emulator, EmulatorOptions};

/// What every route shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// The time every rule reads: the emulator's clock in emulator mode.
    pub clock: Arc<dyn Clock>,
    pub admin_token: AdminToken,
    /// The emulator controls; `None` in ledger mode (behaviour.md section 13).
    pub emulator: Option<Arc<Emulator>>,
}

impl AppState {
    /// Ledger mode: the machine's clock, no controls.
    pub fn ledger(store: Arc<dyn Store>, clock: Arc<dyn Clock>, admin_token: AdminToken) -> AppState {
        AppState {
            store,
            clock,
            admin_token,
            emulator: None,
        }
    }

    /// Emulator mode: the stored clock over `machine_clock`, fault rules and the request
    /// log.
    pub async fn emulator(
        store: Arc<dyn Store>,
        machine_clock: Arc<dyn Clock>,
        admin_token: AdminToken,
        options: EmulatorOptions,
    ) -> Result<AppState, StoreError> {
        let emulator = Emulator::start(&store, machine_clock, options).await?;
        Ok(AppState {
            store,
            clock: emulator.clock.clone(),
            admin_token,
            emulator: Some(emulator),
        })
    }
}

/// The admin bearer token. Compared through SHA-256 digests in constant time, so neither
/// its bytes nor its length leak; its `Debug` hides it.
#[derive(Clone)]
pub struct AdminToken {
    digest: [u8; 32],
    /// Failed authentications per client address (`admin::lockout`), shared by clones.
    lockout: Arc<crate::admin::lockout::Lockout>,
}

impl AdminToken {
    pub fn new(token: &str) -> Self {
        AdminToken {
            digest: Sha256::digest(token.as_bytes()).into(),
            lockout: Arc::default(),
        }
    }

    /// A key derived from the token for `purpose` (HMAC-SHA256 keyed by its digest): the
    /// dashboard signs its sessions with one, so they hold on every node that has the same
    /// token and end when the token changes. It reveals nothing of the token.
    pub(crate) fn derive_key(&self, purpose: &str) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.digest).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The guard against guessing the token.
    pub(crate) fn lockout(&self) -> &crate::admin::lockout::Lockout {
        &self.lockout
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
