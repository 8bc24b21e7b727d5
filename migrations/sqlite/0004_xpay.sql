-- Version 4: xpay (behaviour.md section 10). The refund delay option; money refunds of
-- purchases (what a purchase's refunds gave back, when a refund completes); purchases found
-- by the platform's order id and by time (query_order, download_bill); bill downloads.
-- Never edit a shipped migration: append a new file with the next number.
ALTER TABLE apps ADD COLUMN refund_delay_secs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN refunded_fee INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN completes_at_ms INTEGER;
CREATE INDEX orders_by_wx_order_id ON orders (appid, env, wx_order_id);
CREATE INDEX orders_by_time ON orders (appid, env, namespace, created_at_ms);
CREATE TABLE bills (
    appid          TEXT NOT NULL,
    env            TEXT NOT NULL,
    begin_ds       INTEGER NOT NULL,
    end_ds         INTEGER NOT NULL,
    requested_at_ms INTEGER NOT NULL,
    token          TEXT UNIQUE,
    expires_at_ms  INTEGER,
    PRIMARY KEY (appid, env, begin_ds, end_ds)
) WITHOUT ROWID;
