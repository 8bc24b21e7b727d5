-- Version 6: the dashboard's reads (behaviour.md section 14). Players of an app by openid
-- (prefix search and keyset paging, whatever the offer and zone; openids compare byte-wise,
-- COLLATE "C", so a prefix is one range whatever the database's collation); an account's
-- orders of both books by time.
-- Never edit a shipped migration: append a new file with the next number.
--
-- Every statement is idempotent (see 0001).
CREATE INDEX IF NOT EXISTS accounts_by_openid ON accounts (env, appid, openid COLLATE "C", offer_id, zone_id);
CREATE INDEX IF NOT EXISTS orders_by_account ON orders (env, appid, offer_id, zone_id, openid, created_at_ms, namespace, order_no);
