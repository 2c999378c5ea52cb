-- SPDX-License-Identifier: ISC
-- front's rights, in one place: alia runs this at every start, after the
-- migrations, for the role named by front_role (default alia_front), once
-- that role exists and the database role may SET ROLE to it (see
-- pg_front_role() in master/pg.c). It reads sessions, recordings and
-- accounts, and writes only sign-in tokens, share links and the audit
-- trail. Every GRANT here is idempotent; a migration that gives front a
-- new right replaces this function.

CREATE FUNCTION alia.grant_front(r name) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('GRANT USAGE ON SCHEMA alia TO %I', r);
	EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA alia TO %I', r);
	EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA alia '
	    'GRANT SELECT ON TABLES TO %I', r);
	EXECUTE format('GRANT INSERT, DELETE ON alia.tokens TO %I', r);
	EXECUTE format('GRANT INSERT ON alia.audit TO %I', r);
	EXECUTE format('GRANT USAGE ON SEQUENCE alia.audit_id_seq TO %I', r);
	EXECUTE format('GRANT SELECT, INSERT ON alia.shares TO %I', r);
	EXECUTE format('GRANT UPDATE (revoked_at) ON alia.shares TO %I', r);
END
$$;

COMMENT ON FUNCTION alia.grant_front(name) IS
	'grants front''s role (front_role) its rights on alia''s tables';
