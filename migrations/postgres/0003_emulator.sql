-- Version 3: the emulator controls (behaviour.md section 13): the emulator's clock, which
-- every node on this database follows (each rereads it every 500 ms). The journal stays
-- append-only by the store's code; only the emulator's reset and import delete from it.
-- Never edit a shipped migration: append a new file with the next number.
--
-- Every statement is idempotent (see 0001). Its one row is made by the first change of the
-- clock; until then the clock is the machine's.
CREATE TABLE IF NOT EXISTS emulator_clock (
    id            BIGINT PRIMARY KEY CHECK (id = 1),
    offset_ms     BIGINT NOT NULL,
    frozen_at_ms  BIGINT
);
