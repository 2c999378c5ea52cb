-- SPDX-License-Identifier: ISC
-- Many Docker engines: which engine holds each session, and the engines
-- as master sees them. master keeps alia.engines current (state from its
-- pings, sessions it placed there, the latest ping and create latency);
-- `alia engine drain|undrain NAME` sets drained and notifies master
-- (NOTIFY alia_engine), so a drain outlives restarts. A session row from
-- before this migration has no engine: it ran on the one engine then,
-- which master takes to be `local`, else the first it is given.
ALTER TABLE alia.sessions ADD COLUMN engine text;

CREATE TABLE alia.engines (
	name text PRIMARY KEY,
	url text NOT NULL,
	state text NOT NULL DEFAULT 'unknown'
	    CHECK (state IN ('unknown', 'up', 'down', 'noimage')),
	drained boolean NOT NULL DEFAULT false,
	sessions integer NOT NULL DEFAULT 0,
	capacity integer NOT NULL DEFAULT 0,
	last_ping_at timestamptz,
	ping_ms float8,
	create_ms float8,
	updated_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE alia.engines IS
	'Docker engines: state from master''s pings, drained by `alia engine drain`';
COMMENT ON COLUMN alia.sessions.engine IS
	'the Docker engine (a name in alia.engines) that runs the container';

CREATE OR REPLACE VIEW alia.live_sessions AS
SELECT s.id, s.owner, s.image, s.state, s.created_at, s.started_at,
    now() - coalesce(s.started_at, s.created_at) AS duration,
    alia.session_bytes(s.id) AS bytes, s.cols, s.rows, s.engine
FROM alia.sessions s
WHERE s.state <> 'ended';
