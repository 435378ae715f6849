-- Terminal recordings (asciicast v2 files under <data-dir>/recordings).
CREATE TABLE recordings (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES lab_sessions(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    lab_id      TEXT NOT NULL,
    tab         TEXT NOT NULL,
    path        TEXT NOT NULL,
    bytes       INTEGER NOT NULL DEFAULT 0,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER
);
CREATE INDEX recordings_user ON recordings(user_id, started_at);
CREATE INDEX recordings_session ON recordings(session_id);
