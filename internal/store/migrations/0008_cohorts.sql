-- Cohorts: a class with its labs in order, its instructors, its members
-- and one invite link, stored as the SHA-256 of its token.
CREATE TABLE cohorts (
    id                INTEGER PRIMARY KEY,
    name              TEXT NOT NULL,
    seats             INTEGER NOT NULL CHECK (seats > 0),
    opens_at          INTEGER NOT NULL DEFAULT 0,
    closes_at         INTEGER NOT NULL DEFAULT 0,
    session_limit_ms  INTEGER NOT NULL DEFAULT 0,
    invite_hash       TEXT UNIQUE,
    invite_expires_at INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL
);

CREATE TABLE cohort_labs (
    cohort_id INTEGER NOT NULL REFERENCES cohorts(id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    lab_id    TEXT NOT NULL,
    PRIMARY KEY (cohort_id, position),
    UNIQUE (cohort_id, lab_id)
);

CREATE TABLE cohort_owners (
    cohort_id INTEGER NOT NULL REFERENCES cohorts(id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (cohort_id, user_id)
);
CREATE INDEX cohort_owners_user ON cohort_owners(user_id);

CREATE TABLE cohort_members (
    cohort_id INTEGER NOT NULL REFERENCES cohorts(id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (cohort_id, user_id)
);
CREATE INDEX cohort_members_user ON cohort_members(user_id);
