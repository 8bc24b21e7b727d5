-- Version 4: xpay (behaviour.md section 10). The refund delay option; money refunds of
-- purchases (what a purchase's refunds gave back, when a refund completes); purchases found
-- by the platform's order id and by time (query_order, download_bill); bill downloads.
-- Never edit a shipped migration: append a new file with the next number.
--
-- Every statement is idempotent (see 0001).
ALTER TABLE apps ADD COLUMN IF NOT EXISTS refund_delay_secs BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN IF NOT EXISTS refunded_fee BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN IF NOT EXISTS completes_at_ms BIGINT;
CREATE INDEX IF NOT EXISTS orders_by_wx_order_id ON orders (appid, env, wx_order_id);
CREATE INDEX IF NOT EXISTS orders_by_time ON orders (appid, env, namespace, created_at_ms);
CREATE TABLE IF NOT EXISTS bills (
    appid           TEXT NOT NULL,
    env             TEXT NOT NULL,
    begin_ds        BIGINT NOT NULL,
    end_ds          BIGINT NOT NULL,
    requested_at_ms BIGINT NOT NULL,
    token           TEXT UNIQUE,
    expires_at_ms   BIGINT,
    PRIMARY KEY (appid, env, begin_ds, end_ds)
);
