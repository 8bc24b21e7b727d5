//! Versioned schema. `PRAGMA user_version` records how many migrations ran; each runs in
//! its own transaction, so a crash mid-migration leaves the previous version.
//! Never edit a shipped migration: append a new one.
//!
//! The SQL lives at the workspace root, `migrations/sqlite/NNNN_name.sql`, next to the
//! PostgreSQL dialect in `migrations/postgres/` with the same list of versions.

pub const MIGRATIONS: &[&str] = &[
    // 1: apps, tokens, codes, sessions, accounts, orders, and the append-only journal.
    include_str!("../../../migrations/sqlite/0001_init.sql"),
    // 2: one ledger for every dialect: order status, refunds, purchases, 2.0 app options.
    include_str!("../../../migrations/sqlite/0002_one_ledger.sql"),
    // 3: the emulator's clock; the journal can be emptied by reset and import.
    include_str!("../../../migrations/sqlite/0003_emulator.sql"),
    // 4: xpay: refund delay, purchase refunds, lookups by wx_order_id and time, bills.
    include_str!("../../../migrations/sqlite/0004_xpay.sql"),
    // 5: pushes: app push settings, purchase channels and prices, the outbox of events.
    include_str!("../../../migrations/sqlite/0005_pushes.sql"),
    // 6: the dashboard: players by openid, an account's orders by time.
    include_str!("../../../migrations/sqlite/0006_dashboard.sql"),
    // 7: token issues: current tokens and tokens by expiry.
    include_str!("../../../migrations/sqlite/0007_token_indexes.sql"),
];

#[cfg(test)]
mod tests {
    /// Every file in `migrations/sqlite/` is in [`super::MIGRATIONS`], in order.
    #[test]
    fn every_migration_file_is_listed() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/sqlite");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .expect("migrations/sqlite")
            .map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        files.sort();
        assert_eq!(files.len(), super::MIGRATIONS.len(), "{files:?}");
        for (index, (name, sql)) in files.iter().zip(super::MIGRATIONS).enumerate() {
            assert!(name.starts_with(&format!("{:04}_", index + 1)), "{name}");
            let text = std::fs::read_to_string(dir.join(name)).expect("read migration");
            assert_eq!(&text, sql, "{name}");
        }
    }
}
