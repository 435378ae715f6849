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
