-- Roles replace the admin flag: every admin stays an admin, everyone else
-- becomes a learner. disabled_at (0: enabled) keeps a disabled user out.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'learner'
    CHECK (role IN ('admin', 'instructor', 'learner'));
UPDATE users SET role = CASE WHEN is_admin <> 0 THEN 'admin' ELSE 'learner' END;
ALTER TABLE users DROP COLUMN is_admin;
ALTER TABLE users ADD COLUMN disabled_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX logins_user ON logins(user_id);
