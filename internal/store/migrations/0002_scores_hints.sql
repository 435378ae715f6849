ALTER TABLE step_progress ADD COLUMN best_points REAL NOT NULL DEFAULT 0;

CREATE TABLE hint_reveals (
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    lab_id      TEXT NOT NULL,
    step_id     TEXT NOT NULL,
    hint_index  INTEGER NOT NULL,
    revealed_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, lab_id, step_id, hint_index)
);
