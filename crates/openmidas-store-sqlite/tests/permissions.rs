//! The database holds AppSecrets, AppKeys, live tokens and session keys: a fresh store's
//! files (the database, its `-wal` and `-shm`, and the `.lock`) are owner-only (0600),
//! whatever the process umask.

use std::os::unix::fs::PermissionsExt;

use openmidas_ledger::{AccountKey, Command, Env, StoreExt};
use openmidas_store_sqlite::{SqliteConfig, SqliteStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_store_is_private() {
    // A permissive umask, as a service manager might leave it: the files must not follow it.
    // SAFETY: umask only changes this process's file-creation mask.
    unsafe { libc::umask(0o022) };
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("x.db");
    let store = SqliteStore::open(SqliteConfig::new(&path)).expect("open");
    let key = AccountKey {
        env: Env::Official,
        appid: "wx".into(),
        offer_id: "o".into(),
        zone_id: "1".into(),
        openid: "p".into(),
    };
    store
        .execute(Command::recharge(key, "t", 100, "wx", 1))
        .await
        .expect("recharge");
    for suffix in ["", "-wal", "-shm", ".lock"] {
        let file = format!("{}{suffix}", path.display());
        let mode = std::fs::metadata(&file).expect(&file).permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file} has mode {mode:o}");
    }
}
