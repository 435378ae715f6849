-- A reset clears a learner's progress in a lab (step_progress and
-- hint_reveals rows go) but keeps every check attempt for grading
-- records; this row marks where the fresh start began, so attempts views
-- can tell the two apart and the board counts only what came after.
CREATE TABLE lab_resets (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    lab_id     TEXT NOT NULL,
    at         INTEGER NOT NULL,
    by_user_id INTEGER NOT NULL
);
CREATE INDEX lab_resets_user_lab ON lab_resets(user_id, lab_id, at);
CREATE INDEX check_attempts_lab ON check_attempts(lab_id, user_id, created_at);
CREATE INDEX lab_sessions_user_lab ON lab_sessions(user_id, lab_id, created_at);

-- The board reads, per step, the latest attempt's status and time and the
-- failed attempts since the latest pass: kept here by RecordAttempt so a
-- board of thousands of steps does not scan every attempt.
ALTER TABLE step_progress ADD COLUMN last_status TEXT NOT NULL DEFAULT '';
ALTER TABLE step_progress ADD COLUMN last_attempt_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE step_progress ADD COLUMN fail_streak INTEGER NOT NULL DEFAULT 0;
UPDATE step_progress SET
    last_status = COALESCE((SELECT a.status FROM check_attempts a WHERE a.user_id = step_progress.user_id AND a.lab_id = step_progress.lab_id
        AND a.step_id = step_progress.step_id ORDER BY a.created_at DESC, a.id DESC LIMIT 1), ''),
    last_attempt_at = COALESCE((SELECT MAX(a.created_at) FROM check_attempts a WHERE a.user_id = step_progress.user_id AND a.lab_id = step_progress.lab_id
        AND a.step_id = step_progress.step_id), 0),
    fail_streak = (SELECT COUNT(*) FROM check_attempts a WHERE a.user_id = step_progress.user_id AND a.lab_id = step_progress.lab_id
        AND a.step_id = step_progress.step_id AND a.status = 'fail' AND a.created_at > COALESCE((SELECT MAX(b.created_at) FROM check_attempts b
        WHERE b.user_id = a.user_id AND b.lab_id = a.lab_id AND b.step_id = a.step_id AND b.status = 'pass'), -1));
