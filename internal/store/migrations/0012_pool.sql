-- Warm pool: pre-created, started and shell-verified learner containers
-- waiting for a learner. A claim deletes the row in the same transaction
-- that inserts the running lab session with the same id, so a box is
-- never handed to two learners and never returns to the pool.
CREATE TABLE pool_boxes (
    id           TEXT PRIMARY KEY,
    lab_id       TEXT NOT NULL,
    image        TEXT NOT NULL,
    container_id TEXT NOT NULL DEFAULT '',
    network_id   TEXT NOT NULL DEFAULT '',
    state        TEXT NOT NULL CHECK (state IN ('creating', 'ready')),
    created_at   INTEGER NOT NULL
);
CREATE INDEX pool_boxes_claim ON pool_boxes(lab_id, image, state, created_at);
