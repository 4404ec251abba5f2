/** `parsl-ts db roles [ENDPOINT] [--database DB] [--schema S] [--writer NAME] [--reader NAME]`: prints SQL, connects nowhere. */
import { EXIT, parseArgs, UsageError } from "../args.js";
import { chooseEndpoint } from "../database.js";
import { rolesSql } from "../../database/postgres/roles.js";

export const ROLES_USAGE = `usage: parsl-ts db roles [ENDPOINT] [--database DB] [--schema public] [--writer parsl_writer] [--reader parsl_reader]

Print the SQL that creates two PostgreSQL roles for a shared monitoring database: a writer
(what monitored workflows log in as) and a read-only reader (the visualizer, the query tools).
Run it as a superuser, e.g. 'parsl-ts db roles postgresql://host/monitoring | psql …'; then set
passwords with \\password. Connects nowhere. docs/POSTGRES.md, "Roles", explains each grant.

  ENDPOINT, --db ENDPOINT   a postgresql:// endpoint, to take the database name from
  --database DB             the database name (instead of ENDPOINT)
  --schema S                the schema holding the tables (default public)
  --writer NAME, --reader NAME   role names (default parsl_writer, parsl_reader)
  -h, --help                show this help`;

export async function rolesCommand(argv: string[]): Promise<number> {
  const p = parseArgs(
    argv,
    { db: "value", database: "value", schema: "value", writer: "value", reader: "value", help: "flag" },
    { h: "help" },
  );
  if (p.options.has("help")) {
    console.log(ROLES_USAGE);
    return EXIT.ok;
  }
  const str = (name: string): string | undefined => {
    const v = p.options.get(name);
    if (v === true) throw new UsageError(`--${name} needs a value`);
    return v;
  };
  let database = str("database");
  if (database === undefined) {
    const e = chooseEndpoint(str("db"), p.positionals[0]);
    if (e.kind !== "postgresql")
      throw new UsageError("roles are for PostgreSQL: give a postgresql:// endpoint or --database NAME");
    database = decodeURIComponent(
      new URL(e.url.replace(/^postgres(ql)?(\+[a-z0-9_]+)?:/i, "postgresql:")).pathname.slice(1),
    );
    if (database === "")
      throw new UsageError("the endpoint names no database: add /DATABASE to it or give --database NAME");
  }
  const schema = str("schema"),
    writer = str("writer"),
    reader = str("reader");
  try {
    process.stdout.write(
      rolesSql({
        database,
        ...(schema ? { schema } : {}),
        ...(writer ? { writer } : {}),
        ...(reader ? { reader } : {}),
      }),
    );
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return EXIT.ok;
}
