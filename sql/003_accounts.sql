-- SPDX-License-Identifier: ISC
-- Accounts: users with a role, groups of users, sign-in tokens, and the
-- audit trail. Passwords are stored only as libsodium crypto_pwhash
-- strings (Argon2id, with their own salt and limits); tokens only as the
-- SHA-256 of the random value the browser or script holds.

CREATE TABLE alia.users (
	name		text PRIMARY KEY
			CHECK (name ~ '^[a-z][a-z0-9._-]{0,62}$'),
	role		text NOT NULL
			CHECK (role IN ('learner', 'instructor', 'admin')),
	pwhash		text,		-- NULL: cannot sign in with a password
	created_at	timestamptz NOT NULL DEFAULT now(),
	disabled	boolean NOT NULL DEFAULT false
);

CREATE TABLE alia.groups (
	name		text PRIMARY KEY
			CHECK (name ~ '^[a-z][a-z0-9._-]{0,62}$'),
	created_at	timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alia.group_members (
	group_name	text NOT NULL REFERENCES alia.groups ON DELETE CASCADE,
	user_name	text NOT NULL REFERENCES alia.users ON DELETE CASCADE,
	PRIMARY KEY (group_name, user_name)
);
CREATE INDEX group_members_user ON alia.group_members (user_name);

CREATE TABLE alia.tokens (
	hash		bytea PRIMARY KEY CHECK (length(hash) = 32),
	user_name	text NOT NULL REFERENCES alia.users ON DELETE CASCADE,
	kind		text NOT NULL CHECK (kind IN ('login', 'api')),
	label		text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL
);
CREATE INDEX tokens_user ON alia.tokens (user_name);

CREATE TABLE alia.audit (
	id		bigserial PRIMARY KEY,
	at		timestamptz NOT NULL DEFAULT now(),
	actor		text NOT NULL,
	action		text NOT NULL,
	session_id	uuid,
	detail		text
);
CREATE INDEX audit_session ON alia.audit (session_id, at);

-- Whether viewer may see owner's sessions: the owner themself, an admin,
-- or an instructor who shares a group with the owner.
CREATE FUNCTION alia.may_see(viewer text, owner text) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT viewer = owner
	    OR EXISTS (SELECT 1 FROM alia.users
	               WHERE name = viewer AND role = 'admin' AND NOT disabled)
	    OR EXISTS (SELECT 1 FROM alia.users u
	               JOIN alia.group_members a ON a.user_name = u.name
	               JOIN alia.group_members b ON b.group_name = a.group_name
	               WHERE u.name = viewer AND u.role = 'instructor'
	                 AND NOT u.disabled AND b.user_name = owner)
$$;

COMMENT ON TABLE alia.users IS 'accounts: learner, instructor or admin';
COMMENT ON TABLE alia.tokens IS
	'sign-in (cookie) and API (bearer) tokens, stored as SHA-256';
COMMENT ON TABLE alia.audit IS
	'who did what: sign-ins, joins, control requests, grants and returns';
COMMENT ON FUNCTION alia.may_see(text, text) IS
	'whether viewer may see the sessions of owner';

-- front's own role (front_role, default alia_front: it reads sessions,
-- recordings and accounts, and writes only sign-in tokens and the audit
-- trail) is made, when the database role may, and granted its rights at
-- every start, after the migrations: see alia.grant_front (006) and
-- pg_front_role() in master/pg.c. A role without CREATEROLE can run these
-- migrations.
