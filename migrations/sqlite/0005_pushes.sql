-- Version 5: pushes (behaviour.md section 12). An app's push settings; which client API a
-- purchase came through and its price before any discount (what its events carry); the
-- outbox of events, written in the transaction of the change that causes them.
-- Never edit a shipped migration: append a new file with the next number.
ALTER TABLE apps ADD COLUMN push_url TEXT;
ALTER TABLE apps ADD COLUMN push_token TEXT;
ALTER TABLE apps ADD COLUMN push_encoding_aes_key TEXT;
ALTER TABLE apps ADD COLUMN push_mode TEXT;
ALTER TABLE apps ADD COLUMN push_format TEXT;
ALTER TABLE apps ADD COLUMN push_ack TEXT;
ALTER TABLE orders ADD COLUMN orig_fee_fen INTEGER;
ALTER TABLE orders ADD COLUMN purchase_channel TEXT;
CREATE TABLE pushes (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    appid              TEXT NOT NULL,
    env                TEXT NOT NULL,
    order_no           TEXT NOT NULL,
    kind               TEXT NOT NULL,
    channel            TEXT NOT NULL,
    created_ms         INTEGER NOT NULL,
    status             TEXT NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    scheduled_attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms    INTEGER NOT NULL,
    lease_until_ms     INTEGER NOT NULL DEFAULT 0,
    last_reply         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX pushes_due ON pushes (status, next_attempt_ms);
CREATE INDEX pushes_by_app ON pushes (appid, id);
