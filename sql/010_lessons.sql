-- SPDX-License-Identifier: ISC
-- Environments and lessons: the environment each session runs (a name of
-- `environments`) and its lesson, if any; and every check of a lesson
-- step master ran, passed or not, in alia.lesson_progress. A session
-- row from before this migration has neither.
ALTER TABLE alia.sessions ADD COLUMN environment text;
ALTER TABLE alia.sessions ADD COLUMN lesson text;

CREATE TABLE alia.lesson_progress (
	id bigserial PRIMARY KEY,
	session_id uuid NOT NULL REFERENCES alia.sessions (id)
	    ON DELETE CASCADE,
	owner text NOT NULL,
	lesson text NOT NULL,
	step integer NOT NULL CHECK (step >= 1),
	passed boolean NOT NULL,
	exit_code integer,
	timed_out boolean NOT NULL DEFAULT false,
	checked_by text NOT NULL,
	at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lesson_progress_session ON alia.lesson_progress (session_id, step);
CREATE INDEX lesson_progress_lesson ON alia.lesson_progress (lesson, at);

COMMENT ON TABLE alia.lesson_progress IS
	'each check of a lesson step: who asked, and whether it passed';
COMMENT ON COLUMN alia.sessions.environment IS
	'the environment (a name of the environments setting) it runs';
COMMENT ON COLUMN alia.sessions.lesson IS
	'the lesson (lessons_dir/NAME.md) it was opened for, or NULL';

-- Where each learner of a lesson is: the first step not yet passed (in
-- order), since when, and the checks that failed on it.
CREATE VIEW alia.lesson_status AS
SELECT s.id AS session_id, s.owner, s.lesson, s.state,
    st.step,
    coalesce((SELECT max(p.at) FROM alia.lesson_progress p
        WHERE p.session_id = s.id AND p.step = st.step - 1 AND p.passed),
        s.created_at) AS step_since,
    (SELECT count(*) FROM alia.lesson_progress p
        WHERE p.session_id = s.id AND p.step = st.step AND NOT p.passed)
        AS failed_checks
FROM alia.sessions s,
LATERAL (SELECT min(n) AS step FROM generate_series(1, 65) n
    WHERE NOT EXISTS (SELECT 1 FROM alia.lesson_progress p
        WHERE p.session_id = s.id AND p.step = n AND p.passed)) st
WHERE s.lesson IS NOT NULL;

CREATE OR REPLACE VIEW alia.live_sessions AS
SELECT s.id, s.owner, s.image, s.state, s.created_at, s.started_at,
    now() - coalesce(s.started_at, s.created_at) AS duration,
    alia.session_bytes(s.id) AS bytes, s.cols, s.rows, s.engine,
    s.environment, s.lesson
FROM alia.sessions s
WHERE s.state <> 'ended';
