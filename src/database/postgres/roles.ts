/**
 * SQL for the two PostgreSQL roles a shared monitoring database needs: a writer (workflows'
 * monitoring writers: create the schema on first use, insert and update rows) and a read-only
 * reader (the visualizer and the query tools). `parsl-ts db roles` prints it; docs/POSTGRES.md
 * explains it; the tests run it on a real server.
 */

export interface RoleNames {
  /** The database the roles may connect to. */
  readonly database: string;
  /** The schema holding the monitoring tables (default public). */
  readonly schema?: string;
  readonly writer?: string;
  readonly reader?: string;
}

const ROLE = /^[a-z_][a-z0-9_]{0,62}$/;

/** Checks a role or schema name (lower-case, so that quoted and unquoted spellings agree). */
export function checkRoleName(name: string, what: string): string {
  if (!ROLE.test(name))
    throw new Error(
      `${what} ${JSON.stringify(name)} must be lower-case letters, digits and _ (at most 63), not starting with a digit`,
    );
  return name;
}

/** Any name quoted as a PostgreSQL identifier (database names may hold other characters). */
export function quoteName(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The statements, as one script with comments. Run it as the database's owner or a superuser. */
export function rolesSql(names: RoleNames): string {
  const db = quoteName(names.database);
  const schema = quoteName(checkRoleName(names.schema ?? "public", "schema"));
  const w = quoteName(checkRoleName(names.writer ?? "parsl_writer", "writer role"));
  const r = quoteName(checkRoleName(names.reader ?? "parsl_reader", "reader role"));
  return `-- Writer: what a workflow's monitoring writer needs. It creates the schema on first use
-- (CREATE on the schema; it then owns the tables) and inserts and updates rows; node.id takes
-- its numbers from node_id_seq. It never deletes (pruning is for the tables' owner).
CREATE ROLE ${w} LOGIN;  -- then: \\password ${names.writer ?? "parsl_writer"}
GRANT CONNECT ON DATABASE ${db} TO ${w};
GRANT USAGE, CREATE ON SCHEMA ${schema} TO ${w};
-- Tables that exist already (created by Python Parsl, or by 'parsl-ts db upgrade' as an administrator):
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA ${schema} TO ${w};
GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${schema} TO ${w};
-- Tables an administrator creates later:
ALTER DEFAULT PRIVILEGES IN SCHEMA ${schema} GRANT SELECT, INSERT, UPDATE ON TABLES TO ${w};
ALTER DEFAULT PRIVILEGES IN SCHEMA ${schema} GRANT USAGE ON SEQUENCES TO ${w};

-- Reader: SELECT only, and every transaction read-only (the visualizer and the query tools).
CREATE ROLE ${r} LOGIN;  -- then: \\password ${names.reader ?? "parsl_reader"}
ALTER ROLE ${r} SET default_transaction_read_only = on;
GRANT CONNECT ON DATABASE ${db} TO ${r};
GRANT USAGE ON SCHEMA ${schema} TO ${r};
GRANT SELECT ON ALL TABLES IN SCHEMA ${schema} TO ${r};
-- Tables created later, by an administrator or by the writer:
ALTER DEFAULT PRIVILEGES IN SCHEMA ${schema} GRANT SELECT ON TABLES TO ${r};
ALTER DEFAULT PRIVILEGES FOR ROLE ${w} IN SCHEMA ${schema} GRANT SELECT ON TABLES TO ${r};
`;
}
