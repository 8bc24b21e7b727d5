-- Version 3: the emulator controls (behaviour.md section 13). The emulator's clock, which
-- every process on this database follows; and the journal, append-only as before, can be
-- emptied by the emulator's reset and import only: they hold the row of `journal_unlock`
-- for the length of their transaction (ledger mode never does).
-- Never edit a shipped migration: append a new file with the next number.
CREATE TABLE emulator_clock (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    offset_ms     INTEGER NOT NULL,
    frozen_at_ms  INTEGER
);
INSERT INTO emulator_clock (id, offset_ms, frozen_at_ms) VALUES (1, 0, NULL);
CREATE TABLE journal_unlock (
    id  INTEGER PRIMARY KEY CHECK (id = 1)
);
DROP TRIGGER journal_is_append_only_delete;
CREATE TRIGGER journal_is_append_only_delete BEFORE DELETE ON journal
    WHEN NOT EXISTS (SELECT 1 FROM journal_unlock)
    BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END;
