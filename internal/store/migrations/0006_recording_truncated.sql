-- Why a recording stopped before its terminal did (empty when it did
-- not): its own size cap, the learner's recordings budget, a slow disk.
-- Shown to the learner and instructors beside the recording.
ALTER TABLE recordings ADD COLUMN truncated TEXT NOT NULL DEFAULT '';
