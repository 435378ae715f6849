-- Images a session's build checks made (every stage's), kept as layer
-- cache until the session ends. The engine labels only a build's final
-- image, so without this list a server restart would leave the other
-- stages' images behind.
CREATE TABLE session_images (
    session_id  TEXT NOT NULL REFERENCES lab_sessions(id) ON DELETE CASCADE,
    image_id    TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    PRIMARY KEY (session_id, image_id)
);
