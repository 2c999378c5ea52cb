-- SPDX-License-Identifier: ISC
-- Share links: a session's owner lets anyone with the link watch it,
-- read-only, until the link expires or is revoked. Like sign-in tokens,
-- only the SHA-256 of the link's token is stored.

CREATE TABLE alia.shares (
	hash		bytea PRIMARY KEY CHECK (length(hash) = 32),
	session_id	uuid NOT NULL,
	created_by	text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL,
	revoked_at	timestamptz
);
CREATE INDEX shares_session ON alia.shares (session_id);

-- front's rights on it: alia.grant_front (006).

COMMENT ON TABLE alia.shares IS
	'read-only share links of sessions, stored as SHA-256; revocable';
