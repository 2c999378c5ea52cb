-- SPDX-License-Identifier: ISC
-- The size a session started with. alia.sessions.cols and rows follow
-- every resize (they are the size now, or at the end); an asciicast's
-- header must hold the size at the start, later sizes being its 'r'
-- events, or a player draws the first part of the session at the last
-- size. master stores the size a session is created with in start_cols
-- and start_rows; rows made before this migration have none.

ALTER TABLE alia.sessions
	ADD COLUMN start_cols integer CHECK (start_cols > 0),
	ADD COLUMN start_rows integer CHECK (start_rows > 0);

-- The size a session started with, as (cols, rows): a resize recorded at
-- t = 0 (the terminal took its size before the session's clock started),
-- else the size the session was created with, else (a row made before
-- start_cols existed) its size when it was never resized, or the first
-- size a resize recorded. No row for an unknown id.
CREATE FUNCTION alia.start_size(id uuid, OUT cols integer, OUT rows integer)
RETURNS SETOF record
LANGUAGE sql STABLE STRICT AS $$
SELECT coalesce(split_part(z.data, 'x', 1)::integer, s.start_cols,
	split_part(f.data, 'x', 1)::integer, s.cols),
    coalesce(split_part(z.data, 'x', 2)::integer, s.start_rows,
	split_part(f.data, 'x', 2)::integer, s.rows)
FROM alia.sessions s
LEFT JOIN LATERAL (
	SELECT alia.utf8_lenient(e.data) AS data
	FROM alia.events e
	WHERE e.session_id = s.id AND e.t_us = 0 AND e.kind = 'r'
	    AND alia.utf8_lenient(e.data) ~ '^[1-9][0-9]{0,3}x[1-9][0-9]{0,3}$'
	ORDER BY e.seq
	LIMIT 1) z ON true
LEFT JOIN LATERAL (
	SELECT alia.utf8_lenient(e.data) AS data
	FROM alia.events e
	WHERE s.start_cols IS NULL AND e.session_id = s.id AND e.kind = 'r'
	    AND alia.utf8_lenient(e.data) ~ '^[1-9][0-9]{0,3}x[1-9][0-9]{0,3}$'
	ORDER BY e.t_us, e.seq
	LIMIT 1) f ON true
WHERE s.id = start_size.id
$$;

-- As in 002_recording.sql, with the header's width and height the size
-- the session started with (alia.start_size).
CREATE OR REPLACE FUNCTION alia.asciicast(id uuid) RETURNS SETOF text
LANGUAGE sql STABLE STRICT AS $$
SELECT line FROM (
	SELECT -1::bigint AS t_us, -1::bigint AS seq, json_build_object(
	    'version', 2,
	    'width', z.cols,
	    'height', z.rows,
	    'timestamp', floor(extract(epoch FROM
		coalesce(s.started_at, s.created_at)))::bigint,
	    'title', 'alia session ' || s.id,
	    'env', json_build_object('TERM', 'xterm-256color'))::text AS line
	FROM alia.sessions s, alia.start_size(s.id) z
	WHERE s.id = asciicast.id
	UNION ALL
	SELECT e.t_us, e.seq, json_build_array(round(e.t_us / 1000000.0, 6),
	    e.kind::text, alia.utf8_lenient(e.data))::text
	FROM alia.sessions s
	JOIN alia.events e ON e.session_id = s.id
	WHERE s.id = asciicast.id
) l
ORDER BY l.t_us, l.seq
$$;

COMMENT ON FUNCTION alia.start_size(uuid) IS
	'the size (cols, rows) a session started with: the asciicast header''s';
COMMENT ON COLUMN alia.sessions.start_cols IS
	'columns at creation; cols is the size after the last resize';
