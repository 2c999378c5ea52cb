-- SPDX-License-Identifier: ISC
-- Reading recordings back: indexes for per-session order and time, the
-- live_sessions view, a session's output as plain text (transcript), as an
-- asciicast v2 document (asciicast), and search over recorded output.
--
-- Search lives in its own table, alia.search_text, filled asynchronously
-- by alia.index_pending() (the recorder calls it about once a second): the
-- hot events table carries no search index, since a GIN index there costs
-- ingest most of its speed (shared/recording.md).
--
-- pg_trgm must be available. alia's embedded cluster runs as a superuser
-- and creates it here; with an external database, install the contrib
-- package (postgresql-contrib) and either let alia's database user create
-- it or run CREATE EXTENSION pg_trgm as a superuser before `alia migrate`.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX events_session_time ON alia.events (session_id, t_us);
CREATE INDEX sessions_owner_created ON alia.sessions (owner, created_at);
CREATE INDEX sessions_state ON alia.sessions (state);

-- Bytes as UTF-8 text, never an error: an invalid byte becomes U+FFFD and
-- a NUL byte (text cannot hold one; terminals ignore it) is dropped. Valid
-- input, the usual case, costs one convert_from; only rows that fail are
-- walked byte by byte, the valid runs between bad bytes converted whole.
CREATE FUNCTION alia.utf8_lenient(b bytea) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
	n integer := length(b);
	i integer := 0;
	run integer := 0;	-- start of the current valid run
	c integer;
	c1 integer;
	need integer;
	lo integer;
	hi integer;
	k integer;
	ok boolean;
	out text := '';
BEGIN
	BEGIN
		RETURN convert_from(b, 'UTF8');
	EXCEPTION WHEN character_not_in_repertoire OR untranslatable_character
	    OR invalid_parameter_value THEN
		NULL; -- walk it below
	END;
	WHILE i < n LOOP
		c := get_byte(b, i);
		IF c BETWEEN 1 AND 127 THEN
			i := i + 1;
			CONTINUE;
		END IF;
		-- The length of the sequence and the range of its second byte.
		need := 0;
		lo := 128;
		hi := 191;
		IF c BETWEEN 194 AND 223 THEN
			need := 1;
		ELSIF c = 224 THEN
			need := 2; lo := 160;
		ELSIF c = 237 THEN
			need := 2; hi := 159;
		ELSIF c BETWEEN 225 AND 239 THEN
			need := 2;
		ELSIF c = 240 THEN
			need := 3; lo := 144;
		ELSIF c = 244 THEN
			need := 3; hi := 143;
		ELSIF c BETWEEN 241 AND 243 THEN
			need := 3;
		END IF;
		ok := need > 0 AND i + need < n;
		IF ok THEN
			c1 := get_byte(b, i + 1);
			ok := c1 BETWEEN lo AND hi;
			k := 2;
			WHILE ok AND k <= need LOOP
				ok := get_byte(b, i + k) BETWEEN 128 AND 191;
				k := k + 1;
			END LOOP;
		END IF;
		IF ok THEN
			i := i + need + 1;
			CONTINUE;
		END IF;
		-- A NUL or a bad byte: flush the run, replace or drop the byte.
		IF i > run THEN
			out := out || convert_from(substring(b FROM run + 1
			    FOR i - run), 'UTF8');
		END IF;
		IF c <> 0 THEN
			out := out || U&'\FFFD';
		END IF;
		i := i + 1;
		run := i;
	END LOOP;
	IF n > run THEN
		out := out || convert_from(substring(b FROM run + 1
		    FOR n - run), 'UTF8');
	END IF;
	RETURN out;
END
$$;

-- Terminal output as plain text: escape sequences removed (OSC and the
-- other string sequences up to their terminator, CSI, two- and three-byte
-- ESC sequences; one cut off at the end of t goes too), a character before
-- a backspace erased with it, CR before LF dropped, a lone CR (a progress
-- bar redrawing its line) turned into LF so that no state is lost, and the
-- remaining control characters other than LF and TAB dropped.
CREATE FUNCTION alia.plain_text(t text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
	-- Each pass runs only when its characters occur: most rows need few.
	IF strpos(t, E'\x1b') > 0 THEN
		-- CSI; OSC, DCS, SOS, PM, APC up to BEL or ST; the rest
		t := regexp_replace(t, '\x1b(\[[0-?]*[ -/]*[@-~]?'
		    '|[]PX^_][^\x07\x1b]*(\x07|\x1b\\)?|[ -/]*[0-~]?)', '',
		    'g');
	END IF;
	IF strpos(t, E'\b') > 0 THEN
		t := regexp_replace(t, '[^\n\x08]\x08', '', 'g');
	END IF;
	IF strpos(t, E'\r') > 0 THEN
		t := regexp_replace(replace(t, E'\r\n', E'\n'), '\r+\n?',
		    E'\n', 'g');
	END IF;
	IF t ~ '[\x01-\x08\x0b-\x1f\x7f\u0080-\u009f]' THEN
		t := regexp_replace(t,
		    '[\x01-\x08\x0b-\x1f\x7f\u0080-\u009f]', '', 'g');
	END IF;
	RETURN t;
END
$$;

-- The bytes of a session's output events.
CREATE FUNCTION alia.session_bytes(id uuid) RETURNS bigint
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
SELECT coalesce(sum(octet_length(e.data)), 0)::bigint
FROM alia.events e
WHERE e.session_id = id AND e.kind = 'o'
$$;

CREATE VIEW alia.live_sessions AS
SELECT s.id, s.owner, s.image, s.state, s.created_at, s.started_at,
    now() - coalesce(s.started_at, s.created_at) AS duration,
    alia.session_bytes(s.id) AS bytes, s.cols, s.rows
FROM alia.sessions s
WHERE s.state <> 'ended';

-- A session's output as text (see plain_text), or NULL for an unknown id.
-- Decoded per row (rows are cut on UTF-8 boundaries), cleaned whole so
-- that a sequence split across rows still goes; string_agg caps it at 1 GB.
CREATE FUNCTION alia.transcript(id uuid) RETURNS text
LANGUAGE sql STABLE STRICT AS $$
SELECT alia.plain_text(coalesce(
    (SELECT string_agg(alia.utf8_lenient(e.data), '' ORDER BY e.seq)
    FROM alia.events e
    WHERE e.session_id = s.id AND e.kind = 'o'), ''))
FROM alia.sessions s
WHERE s.id = transcript.id
$$;

-- A session as asciicast v2, one line per row: the header, then every
-- event as [seconds, kind, data] in time order (asciicast wants times that
-- never decrease; coalesced input and output events are numbered when
-- they are emitted but stamped with their first byte's time, so seq order
-- alone can step back). No rows for an unknown id.
-- A plain SELECT, so the rows stream to a client reading them one by one.
CREATE FUNCTION alia.asciicast(id uuid) RETURNS SETOF text
LANGUAGE sql STABLE STRICT AS $$
SELECT line FROM (
	SELECT -1::bigint AS t_us, -1::bigint AS seq, json_build_object(
	    'version', 2,
	    'width', s.cols,
	    'height', s.rows,
	    'timestamp', floor(extract(epoch FROM
		coalesce(s.started_at, s.created_at)))::bigint,
	    'title', 'alia session ' || s.id,
	    'env', json_build_object('TERM', 'xterm-256color'))::text AS line
	FROM alia.sessions s
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

-- The whole asciicast document, each line ending in a newline.
CREATE FUNCTION alia.asciicast_text(id uuid) RETURNS text
LANGUAGE sql STABLE STRICT AS $$
SELECT string_agg(a.line || E'\n', '')
FROM alia.asciicast(id) AS a(line)
$$;

-- Search. Each output row's text (decoded, cleaned) is stored with the
-- last SEARCH_TAIL (64) characters of the session's text before it in
-- front: a string printed across two output events is found in the second
-- row, whose body then holds both halves. head is how many characters of
-- body came from earlier rows, so a hit wholly inside them is reported by
-- the earlier row only. Strings longer than the tail that straddle rows,
-- and escape sequences cut in two by a row boundary, can still be missed.
CREATE TABLE alia.search_text (
	session_id	uuid NOT NULL,
	seq		bigint NOT NULL,
	t_us		bigint NOT NULL,
	head		integer NOT NULL DEFAULT 0,
	body		text NOT NULL,
	PRIMARY KEY (session_id, seq)
);
CREATE INDEX search_text_body ON alia.search_text
    USING gin (body gin_trgm_ops);

-- How far each session's output is indexed, and the tail that the next
-- row's body starts with.
CREATE TABLE alia.search_watermark (
	session_id	uuid PRIMARY KEY,
	seq		bigint NOT NULL,
	tail		text NOT NULL DEFAULT ''
);

-- Moves output not yet indexed into search_text; returns how many rows it
-- added. The recorder calls it about once a second after its commits,
-- which keep each session's seq order. Concurrent calls do not wait: one
-- runs, the others return 0 at once. Idempotent. Sessions ended more than
-- ten minutes ago and already indexed are skipped unless everything is
-- true (for events that arrive very late).
CREATE FUNCTION alia.index_pending(everything boolean DEFAULT false)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	s record;
	e record;
	wm_seq bigint;
	wm_tail text;
	clean text;
	added integer := 0;
	n integer;
BEGIN
	IF NOT pg_try_advisory_xact_lock(1634494817, 2) THEN
		RETURN 0;
	END IF;
	FOR s IN
		SELECT ss.id, w.seq, w.tail
		FROM alia.sessions ss
		LEFT JOIN alia.search_watermark w ON w.session_id = ss.id
		WHERE everything OR w.session_id IS NULL
		    OR ss.state <> 'ended'
		    OR ss.ended_at > now() - interval '10 minutes'
	LOOP
		wm_seq := coalesce(s.seq, -1);
		wm_tail := coalesce(s.tail, '');
		FOR e IN
			SELECT ev.seq, ev.t_us, ev.data
			FROM alia.events ev
			WHERE ev.session_id = s.id AND ev.seq > wm_seq
			    AND ev.kind = 'o'
			ORDER BY ev.seq
		LOOP
			clean := alia.plain_text(alia.utf8_lenient(e.data));
			INSERT INTO alia.search_text
			    (session_id, seq, t_us, head, body)
			VALUES (s.id, e.seq, e.t_us, length(wm_tail),
			    wm_tail || clean)
			ON CONFLICT DO NOTHING;
			GET DIAGNOSTICS n = ROW_COUNT;
			added := added + n;
			wm_seq := e.seq;
			wm_tail := right(wm_tail || clean, 64);
		END LOOP;
		IF s.seq IS NULL OR wm_seq <> s.seq THEN
			INSERT INTO alia.search_watermark (session_id, seq, tail)
			VALUES (s.id, wm_seq, wm_tail)
			ON CONFLICT (session_id) DO UPDATE
			    SET seq = excluded.seq, tail = excluded.tail;
		END IF;
	END LOOP;
	RETURN added;
END
$$;

-- Output rows whose text holds q (case-insensitive; LIKE's wildcards in q
-- are taken literally), with about 40 characters around the hit, newest
-- session first; only owner's sessions unless owner is NULL. Uses the
-- trigram index for q of three characters or more.
CREATE FUNCTION alia.search(q text, owner text DEFAULT NULL)
RETURNS TABLE (session_id uuid, seq bigint, t_us bigint, snippet text)
LANGUAGE sql STABLE AS $$
SELECT h.session_id, h.seq, h.t_us,
    regexp_replace(substr(h.body, greatest(1, h.pos - 20),
	length(q) + 40), '\s+', ' ', 'g')
FROM (
	SELECT st.session_id, st.seq, st.t_us, st.body, ss.created_at,
	    st.head + strpos(lower(substr(st.body, st.head + 1 - k.back)),
		lower(q)) - k.back AS pos
	FROM alia.search_text st
	JOIN alia.sessions ss ON ss.id = st.session_id,
	LATERAL (SELECT least(st.head, greatest(length(q) - 1, 0)) AS back,
	    '%' || replace(replace(replace(q, '\', '\\'), '%', '\%'),
		'_', '\_') || '%' AS pat) k
	WHERE q <> '' AND st.body ILIKE k.pat
	    AND (search.owner IS NULL OR ss.owner = search.owner)
	    AND substr(st.body, st.head + 1 - k.back) ILIKE k.pat
) h
ORDER BY h.created_at DESC, h.session_id, h.seq
$$;

COMMENT ON VIEW alia.live_sessions IS
	'sessions not ended yet, with their duration so far and output bytes recorded';
COMMENT ON FUNCTION alia.transcript(uuid) IS
	'a session''s output as plain text: escape sequences stripped, CRLF as LF';
COMMENT ON FUNCTION alia.asciicast(uuid) IS
	'a session as asciicast v2, one JSON line per row (header first)';
COMMENT ON FUNCTION alia.asciicast_text(uuid) IS
	'the asciicast v2 document of a session as one text';
COMMENT ON FUNCTION alia.search(text, text) IS
	'output rows containing the text (case-insensitive), with a snippet';
COMMENT ON FUNCTION alia.index_pending(boolean) IS
	'indexes recorded output for alia.search; called by the recorder';
