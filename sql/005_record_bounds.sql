-- SPDX-License-Identifier: ISC
-- Bounds on what recordings store beyond one session's record_max: each
-- user's recorded output over a rolling window (record_quota), and the
-- retention job (record_retention). Both are run by the recorder.

-- Output bytes committed per owner and minute. The recorder adds to it a
-- few seconds after its commits (alia.usage_add); rows older than the
-- quota's window are deleted by the retention job.
CREATE TABLE alia.record_usage (
	owner		text NOT NULL,
	minute		timestamptz NOT NULL,
	bytes		bigint NOT NULL CHECK (bytes >= 0),
	PRIMARY KEY (owner, minute)
);
CREATE INDEX record_usage_minute ON alia.record_usage (minute);
CREATE INDEX sessions_ended_at ON alia.sessions (ended_at)
    WHERE state = 'ended';

-- Adds bytes[i] of output to the usage of the owner of session ids[i],
-- in the current minute.
CREATE FUNCTION alia.usage_add(ids uuid[], bytes bigint[]) RETURNS void
LANGUAGE sql AS $$
INSERT INTO alia.record_usage AS u (owner, minute, bytes)
SELECT s.owner, date_trunc('minute', now()), sum(x.b)
FROM unnest(ids, bytes) AS x(id, b)
JOIN alia.sessions s ON s.id = x.id
GROUP BY s.owner
ON CONFLICT (owner, minute) DO UPDATE SET bytes = u.bytes + excluded.bytes
$$;

-- Each session not ended, its owner, and the output bytes its owner has
-- recorded within the window (minutes that began within it).
CREATE FUNCTION alia.usage_live(win interval)
RETURNS TABLE (session_id uuid, owner text, used bigint)
LANGUAGE sql STABLE AS $$
SELECT s.id, s.owner, coalesce((
	SELECT sum(u.bytes) FROM alia.record_usage u
	WHERE u.owner = s.owner
	    AND u.minute >= date_trunc('minute', now() - win)), 0)::bigint
FROM alia.sessions s
WHERE s.state <> 'ended'
$$;

-- One step of retention: deletes at most batch rows (events: a tenth of
-- that, as they can be 64 KiB each) belonging to sessions that ended
-- more than keep ago, from one table at a time: events, search text,
-- audit rows, share links, then the sessions themselves with their search
-- watermarks. Returns how many rows it deleted; 0 when nothing is left.
-- The caller runs it again until then, each call its own short
-- transaction, so no lock is held for long.
CREATE FUNCTION alia.purge_ended(keep interval, batch integer DEFAULT 10000)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	n integer;
	ids uuid[];
BEGIN
	DELETE FROM alia.events e
	WHERE (e.session_id, e.seq) IN (
		SELECT ev.session_id, ev.seq
		FROM alia.sessions s
		JOIN alia.events ev ON ev.session_id = s.id
		WHERE s.state = 'ended' AND s.ended_at < now() - keep
		LIMIT greatest(batch / 10, 1));
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n > 0 THEN
		RETURN n;
	END IF;
	DELETE FROM alia.search_text t
	WHERE (t.session_id, t.seq) IN (
		SELECT st.session_id, st.seq
		FROM alia.sessions s
		JOIN alia.search_text st ON st.session_id = s.id
		WHERE s.state = 'ended' AND s.ended_at < now() - keep
		LIMIT batch);
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n > 0 THEN
		RETURN n;
	END IF;
	DELETE FROM alia.audit a
	WHERE a.id IN (
		SELECT au.id
		FROM alia.sessions s
		JOIN alia.audit au ON au.session_id = s.id
		WHERE s.state = 'ended' AND s.ended_at < now() - keep
		LIMIT batch);
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n > 0 THEN
		RETURN n;
	END IF;
	DELETE FROM alia.shares h
	WHERE h.hash IN (
		SELECT sh.hash
		FROM alia.sessions s
		JOIN alia.shares sh ON sh.session_id = s.id
		WHERE s.state = 'ended' AND s.ended_at < now() - keep
		LIMIT batch);
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n > 0 THEN
		RETURN n;
	END IF;
	-- index_pending() would give a session being deleted its watermark
	-- back: take its lock.
	PERFORM pg_advisory_xact_lock(1634494817, 2);
	SELECT array_agg(x.id) INTO ids FROM (
		SELECT s.id FROM alia.sessions s
		WHERE s.state = 'ended' AND s.ended_at < now() - keep
		LIMIT batch) x;
	IF ids IS NULL THEN
		RETURN 0;
	END IF;
	DELETE FROM alia.search_watermark WHERE session_id = ANY (ids);
	DELETE FROM alia.sessions WHERE id = ANY (ids);
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;

COMMENT ON TABLE alia.record_usage IS
	'output bytes recorded per owner and minute, for record_quota';
COMMENT ON FUNCTION alia.purge_ended(interval, integer) IS
	'deletes one batch of the rows of sessions ended before now() - keep; 0 when done';
