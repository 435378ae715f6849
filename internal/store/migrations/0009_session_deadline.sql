-- A hard end for a session (a cohort's session time limit), in Unix ms;
-- 0: none. expires_at never passes it.
ALTER TABLE lab_sessions ADD COLUMN deadline INTEGER NOT NULL DEFAULT 0;
