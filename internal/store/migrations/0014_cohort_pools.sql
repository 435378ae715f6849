-- Warm seats of a cohort: how many warm-pool boxes of one of its labs
-- (empty: its first lab) to keep ready around the class start (0: the
-- cohort's window opening). warm = 0 is off.
CREATE TABLE cohort_pools (
    cohort_id INTEGER PRIMARY KEY REFERENCES cohorts(id) ON DELETE CASCADE,
    warm      INTEGER NOT NULL CHECK (warm >= 0),
    lab_id    TEXT NOT NULL DEFAULT '',
    starts_at INTEGER NOT NULL DEFAULT 0
);
