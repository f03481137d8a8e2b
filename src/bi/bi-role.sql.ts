/**
 * The read-only BI group role. Roles are cluster-wide and creating one needs CREATEROLE, which an application's
 * migrating role often lacks: the migration (0006_bi_views) runs BI_GROUP_ROLE_SQL and only notes a refusal,
 * and `valuegraph bi create-role` runs the same text again as a role that may. Concurrent migrations of
 * several databases on one cluster (test runs) race on CREATE ROLE, hence the duplicate handlers.
 * test/unit/bi-views.test.ts checks that the migration carries this text verbatim.
 */
export const BI_GROUP_ROLE = 'valuegraph_bi';

export const BI_GROUP_ROLE_SQL = `DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'valuegraph_bi') THEN
    BEGIN
      CREATE ROLE valuegraph_bi NOLOGIN;
    EXCEPTION
      WHEN duplicate_object OR unique_violation THEN NULL;
      WHEN insufficient_privilege THEN
        RAISE NOTICE 'role valuegraph_bi not created (no CREATEROLE); run "valuegraph bi create-role" as a role that has it';
    END;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'valuegraph_bi') THEN
    GRANT USAGE ON SCHEMA bi TO valuegraph_bi;
    GRANT SELECT ON ALL TABLES IN SCHEMA bi TO valuegraph_bi;
    ALTER DEFAULT PRIVILEGES IN SCHEMA bi GRANT SELECT ON TABLES TO valuegraph_bi;
  END IF;
END
$$;`;
