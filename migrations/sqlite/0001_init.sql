-- Version 1: apps, tokens, codes, sessions, accounts, orders, and the append-only journal.
-- Never edit a shipped migration: append a new file with the next number.
CREATE TABLE apps (
    appid             TEXT PRIMARY KEY,
    secret            TEXT NOT NULL,
    offer_id          TEXT NOT NULL,
    app_key           TEXT NOT NULL,
    sandbox_app_key   TEXT NOT NULL,
    require_mp_sig    INTEGER NOT NULL DEFAULT 0,
    ts_window_secs    INTEGER,
    duplicate_bill_no TEXT NOT NULL DEFAULT 'reject',
    created_at_ms     INTEGER NOT NULL,
    updated_at_ms     INTEGER NOT NULL
);
CREATE TABLE access_tokens (
    token          TEXT PRIMARY KEY,
    appid          TEXT NOT NULL,
    kind           TEXT NOT NULL,
    issued_at_ms   INTEGER NOT NULL,
    expires_at_ms  INTEGER NOT NULL,
    retired_at_ms  INTEGER
);
CREATE INDEX access_tokens_by_app ON access_tokens (appid, kind, issued_at_ms);
CREATE TABLE login_codes (
    code           TEXT PRIMARY KEY,
    appid          TEXT NOT NULL,
    openid         TEXT NOT NULL,
    created_at_ms  INTEGER NOT NULL,
    expires_at_ms  INTEGER NOT NULL,
    used_at_ms     INTEGER
);
CREATE INDEX login_codes_by_expiry ON login_codes (expires_at_ms);
CREATE TABLE sessions (
    appid          TEXT NOT NULL,
    openid         TEXT NOT NULL,
    session_key    TEXT NOT NULL,
    created_at_ms  INTEGER NOT NULL,
    PRIMARY KEY (appid, openid)
) WITHOUT ROWID;
CREATE TABLE accounts (
    env            TEXT NOT NULL,
    appid          TEXT NOT NULL,
    offer_id       TEXT NOT NULL,
    zone_id        TEXT NOT NULL,
    openid         TEXT NOT NULL,
    cash           INTEGER NOT NULL CHECK (cash >= 0),
    gift           INTEGER NOT NULL CHECK (gift >= 0),
    save_amt       INTEGER NOT NULL CHECK (save_amt >= 0),
    save_sum       INTEGER NOT NULL CHECK (save_sum >= 0),
    cost_sum       INTEGER NOT NULL CHECK (cost_sum >= 0),
    present_sum    INTEGER NOT NULL CHECK (present_sum >= 0),
    recharged      INTEGER NOT NULL,
    updated_at_ms  INTEGER NOT NULL,
    PRIMARY KEY (env, appid, offer_id, zone_id, openid)
) WITHOUT ROWID;
CREATE TABLE orders (
    env              TEXT NOT NULL,
    appid            TEXT NOT NULL,
    offer_id         TEXT NOT NULL,
    namespace        TEXT NOT NULL,
    order_no         TEXT NOT NULL,
    kind             TEXT NOT NULL,
    zone_id          TEXT NOT NULL,
    openid           TEXT NOT NULL,
    amount           INTEGER NOT NULL,
    used_gift        INTEGER NOT NULL,
    balance_after    INTEGER NOT NULL,
    created_at_ms    INTEGER NOT NULL,
    cancelled_at_ms  INTEGER,
    PRIMARY KEY (env, appid, offer_id, namespace, order_no)
) WITHOUT ROWID;
CREATE TABLE journal (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    env            TEXT NOT NULL,
    appid          TEXT NOT NULL,
    offer_id       TEXT NOT NULL,
    zone_id        TEXT NOT NULL,
    openid         TEXT NOT NULL,
    kind           TEXT NOT NULL,
    order_no       TEXT NOT NULL,
    amount         INTEGER NOT NULL,
    cash_delta     INTEGER NOT NULL,
    gift_delta     INTEGER NOT NULL,
    balance_after  INTEGER NOT NULL,
    at_ms          INTEGER NOT NULL
);
CREATE INDEX journal_by_account ON journal (env, appid, offer_id, zone_id, openid, id);
CREATE TRIGGER journal_is_append_only_update BEFORE UPDATE ON journal
    BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END;
CREATE TRIGGER journal_is_append_only_delete BEFORE DELETE ON journal
    BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END;
