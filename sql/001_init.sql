-- SPDX-License-Identifier: ISC
-- The recording schema: one row per session, one row per event.
-- The events table stays bare (no foreign key, no search index) so that
-- ingest runs at full speed; see shared/recording.md.
CREATE SCHEMA alia;

CREATE TABLE alia.sessions (
	id		uuid PRIMARY KEY,
	owner		text NOT NULL,
	image		text NOT NULL,
	container_id	text,
	state		text NOT NULL DEFAULT 'created'
			CHECK (state IN ('created', 'running', 'ended')),
	created_at	timestamptz NOT NULL DEFAULT now(),
	started_at	timestamptz,
	ended_at	timestamptz,
	exit_code	integer,
	end_reason	text,
	cols		integer NOT NULL DEFAULT 80 CHECK (cols > 0),
	rows		integer NOT NULL DEFAULT 24 CHECK (rows > 0)
);

CREATE TABLE alia.events (
	session_id	uuid NOT NULL,
	seq		bigint NOT NULL CHECK (seq >= 0),
	t_us		bigint NOT NULL CHECK (t_us >= 0),
	kind		"char" NOT NULL CHECK (kind IN ('o', 'i', 'r', 'm')),
	data		bytea NOT NULL,
	PRIMARY KEY (session_id, seq)
);

-- lz4 is 3-5x faster to ingest than the default pglz; servers built
-- without it keep pglz.
DO $$
BEGIN
	ALTER TABLE alia.events ALTER COLUMN data SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
	RAISE NOTICE 'lz4 not available; events.data keeps pglz';
END
$$;

COMMENT ON TABLE alia.sessions IS 'one row per terminal session';
COMMENT ON TABLE alia.events IS
	'every output (o), input (i), resize (r) and marker (m) event of a session, in seq order; t_us is microseconds since the session started';
