CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE logins (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX logins_expires ON logins(expires_at);

CREATE TABLE lab_sessions (
    id             TEXT PRIMARY KEY,
    user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    lab_id         TEXT NOT NULL,
    container_id   TEXT NOT NULL DEFAULT '',
    network_id     TEXT NOT NULL DEFAULT '',
    state          TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    last_active_at INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
);
-- One live session per learner and lab: the database, not the handler, is
-- what makes concurrent starts safe.
CREATE UNIQUE INDEX lab_sessions_one_live ON lab_sessions(user_id, lab_id)
    WHERE state IN ('starting', 'running');
CREATE INDEX lab_sessions_state ON lab_sessions(state, expires_at);

CREATE TABLE step_progress (
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    lab_id          TEXT NOT NULL,
    step_id         TEXT NOT NULL,
    passed          INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    first_passed_at INTEGER,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (user_id, lab_id, step_id)
);

CREATE TABLE check_attempts (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id  TEXT NOT NULL REFERENCES lab_sessions(id) ON DELETE CASCADE,
    lab_id      TEXT NOT NULL,
    step_id     TEXT NOT NULL,
    status      TEXT NOT NULL,
    points      REAL NOT NULL,
    max_points  REAL NOT NULL,
    result_json TEXT NOT NULL,
    log         TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX check_attempts_user_lab ON check_attempts(user_id, lab_id, step_id);
