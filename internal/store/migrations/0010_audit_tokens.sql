-- Instructor and admin actions (watch, message, extend, end, reset,
-- export, token create/revoke). Names are copied so that an entry still
-- says who and whom after an account is deleted; no foreign keys, the log
-- outlives what it talks about.
CREATE TABLE audit_log (
    id             INTEGER PRIMARY KEY,
    at             INTEGER NOT NULL,
    actor_id       INTEGER NOT NULL,
    actor_name     TEXT NOT NULL,
    via            TEXT NOT NULL,
    action         TEXT NOT NULL,
    target_user_id INTEGER NOT NULL DEFAULT 0,
    target_name    TEXT NOT NULL DEFAULT '',
    cohort_id      INTEGER NOT NULL DEFAULT 0,
    lab_id         TEXT NOT NULL DEFAULT '',
    session_id     TEXT NOT NULL DEFAULT '',
    detail         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log(at);
CREATE INDEX audit_log_cohort ON audit_log(cohort_id, at);
CREATE INDEX audit_log_actor ON audit_log(actor_id, at);

-- Instructors' API tokens: only sha256(token) is kept; prefix tells them
-- apart in lists. scopes is a space-separated list.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    last_used_at INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);
