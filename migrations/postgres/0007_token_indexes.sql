-- Version 7: token issues (behaviour.md section 1). The daily token quota option (45009,
-- WeChat's 2000 a day by default); issues that stay fast however many tokens an app was
-- issued: an app's current tokens of a kind (the few not yet retired: read and retired
-- at every issue) and its tokens by expiry (pruned a bounded batch at every issue); tokens
-- issued in the last day are counted on access_tokens_by_app.
-- Never edit a shipped migration: append a new file with the next number.
--
-- Every statement is idempotent (see 0001).
CREATE INDEX IF NOT EXISTS access_tokens_unretired ON access_tokens (appid, kind, issued_at_ms) WHERE retired_at_ms IS NULL;
CREATE INDEX IF NOT EXISTS access_tokens_by_expiry ON access_tokens (appid, expires_at_ms);
ALTER TABLE apps ADD COLUMN IF NOT EXISTS token_daily_limit BIGINT NOT NULL DEFAULT 2000;
