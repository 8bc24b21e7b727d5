-- Version 2: one ledger for every dialect (behaviour.md section 8): the app options of
-- 2.0, order status, refunds as orders of their own (a pay records what its refunds gave
-- back), and client purchases (the purchase book). Existing rows keep their meaning: a
-- cancelled pay is a pay refunded in full, a recharge a coin purchase paid and delivered.
-- `orders.cancelled_at_ms` stays, written as release 0.1 reads it (set on a pay that gave
-- anything back), like PostgreSQL's, where a 0.1 node may still run during an upgrade.
-- Never edit a shipped migration: append a new file with the next number.
ALTER TABLE apps ADD COLUMN cancel_window_secs INTEGER NOT NULL DEFAULT 172800;
ALTER TABLE apps ADD COLUMN signature_hex TEXT NOT NULL DEFAULT 'lower';
ALTER TABLE apps ADD COLUMN bill_no_charset TEXT NOT NULL DEFAULT 'v2';
ALTER TABLE apps ADD COLUMN coin_price_fen INTEGER NOT NULL DEFAULT 10;
ALTER TABLE apps ADD COLUMN session_ttl_secs INTEGER;
ALTER TABLE orders ADD COLUMN status TEXT NOT NULL DEFAULT 'done';
ALTER TABLE orders ADD COLUMN refunded_cash INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN refunded_gift INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN pay_number TEXT;
ALTER TABLE orders ADD COLUMN updated_at_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN product_id TEXT;
ALTER TABLE orders ADD COLUMN fee_fen INTEGER;
ALTER TABLE orders ADD COLUMN wx_order_id TEXT;
ALTER TABLE orders ADD COLUMN attach TEXT;
ALTER TABLE orders ADD COLUMN paid_at_ms INTEGER;
ALTER TABLE orders ADD COLUMN delivered_at_ms INTEGER;
UPDATE orders SET updated_at_ms = COALESCE(cancelled_at_ms, created_at_ms) WHERE updated_at_ms = 0;
UPDATE orders SET status = 'refunded', refunded_cash = amount - used_gift, refunded_gift = used_gift
    WHERE kind = 'pay' AND cancelled_at_ms IS NOT NULL AND status = 'done';
UPDATE orders SET status = 'delivered', product_id = '', fee_fen = amount * 10,
        wx_order_id = lower(hex(randomblob(16))), attach = '', paid_at_ms = created_at_ms,
        delivered_at_ms = created_at_ms
    WHERE namespace = 'trade' AND wx_order_id IS NULL;
