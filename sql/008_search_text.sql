-- SPDX-License-Identifier: ISC
-- Search text made by the recorder (recorder/recorder_search.c), in C,
-- from the output it has just committed, instead of by
-- alia.index_pending() in PL/pgSQL: the recorder writes it in batches
-- with alia.search_add, and indexes bulk output in a capped form (the
-- first and last 64 KiB of a burst), with a marker row for what it left
-- out of the middle, which alia.search returns.
--
-- index_pending() stays, no longer called by alia itself: it indexes
-- output after a session's watermark (rows recorded before this version,
-- or inserted by hand), and search_add moves the watermark as index_pending
-- does, so the two never index the same rows twice.

-- A marker row: from seq to skipped_to, skipped bytes of output were not
-- indexed (its body is empty). NULL on a row of text.
ALTER TABLE alia.search_text ADD COLUMN skipped bigint,
    ADD COLUMN skipped_to bigint;
CREATE INDEX search_text_skipped ON alia.search_text (session_id)
    WHERE skipped IS NOT NULL;

-- Adds rows to search_text, the i-th of each array making one: a row of
-- text (skipped NULL) or a marker; a marker given again for the same seq
-- (the burst went on) is updated. Rows of unknown sessions are left out.
-- Then each session's watermark moves to the last seq given (or the last
-- a marker skipped), with the tail of the last row's body.
CREATE FUNCTION alia.search_add(ids uuid[], seqs bigint[], t_us bigint[],
    heads integer[], bodies text[], skipped bigint[], skipped_to bigint[])
RETURNS void
LANGUAGE sql AS $$
INSERT INTO alia.search_text AS t
    (session_id, seq, t_us, head, body, skipped, skipped_to)
SELECT DISTINCT ON (x.id, x.seq) x.id, x.seq, x.t_us, x.head, x.body,
    x.skipped, x.skipped_to
FROM unnest(ids, seqs, t_us, heads, bodies, skipped, skipped_to)
    AS x(id, seq, t_us, head, body, skipped, skipped_to)
JOIN alia.sessions s ON s.id = x.id
ORDER BY x.id, x.seq, x.skipped DESC NULLS LAST
ON CONFLICT (session_id, seq) DO UPDATE
    SET skipped = excluded.skipped, skipped_to = excluded.skipped_to
    WHERE t.skipped IS NOT NULL AND excluded.skipped IS NOT NULL;
INSERT INTO alia.search_watermark AS w (session_id, seq, tail)
SELECT DISTINCT ON (x.id) x.id, coalesce(x.skipped_to, x.seq),
    CASE WHEN x.skipped IS NULL THEN right(x.body, 64) ELSE '' END
FROM unnest(ids, seqs, bodies, skipped, skipped_to)
    AS x(id, seq, body, skipped, skipped_to)
JOIN alia.sessions s ON s.id = x.id
ORDER BY x.id, coalesce(x.skipped_to, x.seq) DESC
ON CONFLICT (session_id) DO UPDATE SET seq = excluded.seq,
    tail = excluded.tail
    WHERE excluded.seq > w.seq;
$$;

-- As in 002, and then, for every session in reach, each marker of output
-- not indexed, as a row whose snippet says so: a string printed there
-- cannot be found, and the admin learns where to look.
CREATE OR REPLACE FUNCTION alia.search(q text, owner text DEFAULT NULL)
RETURNS TABLE (session_id uuid, seq bigint, t_us bigint, snippet text)
LANGUAGE sql STABLE AS $$
SELECT m.session_id, m.seq, m.t_us, m.snippet
FROM (
	SELECT h.session_id, h.seq, h.t_us, h.created_at,
	    regexp_replace(substr(h.body, greatest(1, h.pos - 20),
		length(q) + 40), '\s+', ' ', 'g') AS snippet
	FROM (
		SELECT st.session_id, st.seq, st.t_us, st.body, ss.created_at,
		    st.head + strpos(lower(substr(st.body,
			st.head + 1 - k.back)), lower(q)) - k.back AS pos
		FROM alia.search_text st
		JOIN alia.sessions ss ON ss.id = st.session_id,
		LATERAL (SELECT least(st.head, greatest(length(q) - 1, 0))
		    AS back,
		    '%' || replace(replace(replace(q, '\', '\\'), '%', '\%'),
			'_', '\_') || '%' AS pat) k
		WHERE q <> '' AND st.body ILIKE k.pat
		    AND (search.owner IS NULL OR ss.owner = search.owner)
		    AND substr(st.body, st.head + 1 - k.back) ILIKE k.pat
	) h
	UNION ALL
	SELECT st.session_id, st.seq, st.t_us, ss.created_at,
	    format('[not indexed for search: %s of output, seq %s to %s]',
		pg_size_pretty(st.skipped), st.seq, st.skipped_to)
	FROM alia.search_text st
	JOIN alia.sessions ss ON ss.id = st.session_id
	WHERE q <> '' AND st.skipped IS NOT NULL
	    AND (search.owner IS NULL OR ss.owner = search.owner)
) m
ORDER BY m.created_at DESC, m.session_id, m.seq
$$;

COMMENT ON FUNCTION alia.search_add(uuid[], bigint[], bigint[], integer[],
    text[], bigint[], bigint[]) IS
	'adds search text and markers of output not indexed; called by the recorder';
COMMENT ON FUNCTION alia.search(text, text) IS
	'output rows containing the text (case-insensitive), with a snippet, and the markers of output not indexed';
COMMENT ON FUNCTION alia.index_pending(boolean) IS
	'indexes output after each session''s search watermark: a catch-up for output the recorder did not index (before 008, or inserted by hand)';
