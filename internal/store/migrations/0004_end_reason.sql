-- Why the server ended a session (empty when the learner did, or it
-- expired): shown to the learner, e.g. a disk quota.
ALTER TABLE lab_sessions ADD COLUMN end_reason TEXT NOT NULL DEFAULT '';
