-- Saved home folders (issue 9, "work never lost"): the current save of
-- each learner's home per lab (the file lives under <data-dir>/homes),
-- and the outcome of every save attempt, refusals and failures with why.
CREATE TABLE homes (
	user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	lab_id        TEXT    NOT NULL,
	session_id    TEXT    NOT NULL,
	saved_at      INTEGER NOT NULL,
	bytes         INTEGER NOT NULL, -- the tar.gz on disk
	content_bytes INTEGER NOT NULL, -- the files in it
	files         INTEGER NOT NULL,
	skipped       INTEGER NOT NULL, -- entries left out (devices, unsafe links)
	PRIMARY KEY (user_id, lab_id)
);
CREATE INDEX homes_saved_at ON homes(saved_at);

CREATE TABLE home_saves (
	id            INTEGER PRIMARY KEY,
	user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	lab_id        TEXT    NOT NULL,
	session_id    TEXT    NOT NULL,
	at            INTEGER NOT NULL,
	outcome       TEXT    NOT NULL, -- saved, refused (over the limits), failed
	bytes         INTEGER NOT NULL,
	content_bytes INTEGER NOT NULL,
	files         INTEGER NOT NULL,
	skipped       INTEGER NOT NULL,
	reason        TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX home_saves_user_lab ON home_saves(user_id, lab_id, at);
