/** PostgreSQL's side of the dialect seam (see ../dialect.ts). */
import type { Dialect, ErrorClass } from "../dialect.js";
import type { ColumnType } from "../schema.js";
import { toLikePattern } from "../glob.js";
import { list, quoted, raw, Sql, sql } from "../sql.js";

/** SQLSTATE of a server error, or the Node error code (ECONNREFUSED, …), or "". */
export function pgCode(err: unknown): string {
  if (err && typeof err === "object" && "code" in err && typeof err.code === "string") {
    return (err as { code: string }).code;
  }
  return "";
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "ENOTFOUND",
]);

export function classifyPgError(err: unknown): ErrorClass {
  const code = pgCode(err);
  if (code === "") {
    if (err instanceof TypeError || err instanceof RangeError) return "row";
    return "transient"; // "Connection terminated unexpectedly", timeouts: the connection, not the data
  }
  if (NETWORK_CODES.has(code)) return "transient";
  const cls = code.slice(0, 2);
  if (cls === "08" || cls === "53" || cls === "40") return "transient"; // connection, resources, serialization/deadlock
  if (code === "57P01" || code === "57P02" || code === "57P03" || code === "55P03" || code === "57014")
    return "transient"; // shutdown, starting up, lock timeout, cancelled
  if (cls === "22" || cls === "23") return "row"; // data exception, integrity constraint
  return "fatal"; // 28 auth, 3D missing database, 42 undefined table / no privilege, 25006 read-only, …
}

export function pgErrorText(err: unknown): string {
  const code = pgCode(err);
  const msg = err instanceof Error ? err.message : String(err);
  return code && !msg.includes(code) ? `${msg} (${code})` : msg;
}

/** Advisory lock key for schema changes: "parslts" read as a number. */
const SCHEMA_LOCK_KEY = 0x7061_7273_6c74;

const TYPES: Record<ColumnType, string> = {
  TEXT: "TEXT",
  INTEGER: "INTEGER",
  BIGINT: "BIGINT",
  FLOAT: "DOUBLE PRECISION",
  DATETIME: "TIMESTAMP WITHOUT TIME ZONE",
  BOOLEAN: "BOOLEAN",
};

export const postgresDialect: Dialect = {
  name: "postgresql",
  placeholder: (i) => `$${i + 1}`,
  columnType: (type) => TYPES[type],
  // EXTRACT(EPOCH) of a timestamp without time zone counts from 1970-01-01 00:00 of the same naive clock.
  epochSeconds: (expr) => sql`EXTRACT(EPOCH FROM ${expr})::float8`,
  greatest: (a, b) => sql`GREATEST(${a}, ${b})`,
  least: (a, b) => sql`LEAST(${a}, ${b})`,
  insertionOrder: () => null,
  intDiv: (a, b) => sql`TRUNC((${a})::numeric / (${b}))::bigint`,
  truncInt: (expr) => sql`TRUNC(${expr})::bigint`,
  unindexed: (column) => column,
  orderedJoin: () => raw("JOIN"),
  idRanges: (table, alias, runColumn, runId, starts, width) => ({
    prelude: raw(""),
    from: sql`unnest(${[...starts]}::int4[]) AS c(s) CROSS JOIN LATERAL (SELECT * FROM ${raw(table)} ${raw(alias)}
        WHERE ${runColumn} = ${runId} AND ${raw(alias)}.task_id >= c.s AND ${raw(alias)}.task_id < c.s + ${raw(String(Math.trunc(width)))} OFFSET 0) ${raw(alias)} WHERE 1 = 1`,
  }),
  // The WAL insert position: cluster-wide (a write to another database moves it too, a cheap
  // over-approximation), exact for ours (every commit writes WAL before it is visible), callable
  // by any role including a read-only one, and a function call with no table access. On a standby
  // (in recovery) the position replayed so far plays the same role.
  changeToken: () =>
    sql`SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_insert_lsn() END)::text AS token`,
  insertMany(table, columns, rows) {
    const per = 20_000; // rows per statement: bounded memory for the arrays, few round trips
    const out: Sql[] = [];
    for (let i = 0; i < rows.length; i += per) {
      const batch = rows.slice(i, i + per);
      const arrays = columns.map((c, j) => {
        // SQLite's 1/0 booleans, as PostgreSQL's array input wants them.
        if (c.type === "BOOLEAN")
          return batch.map((r) =>
            r[j] === null || r[j] === undefined
              ? null
              : r[j] === true || r[j] === 1 || r[j] === "1" || r[j] === "t" || r[j] === "true",
          );
        return batch.map((r) => (r[j] === undefined ? null : r[j]));
      });
      const texts = [
        `INSERT INTO ${quoted(table)} (${columns.map((c) => quoted(c.name)).join(", ")}) SELECT * FROM unnest(`,
      ];
      columns.forEach((c, j) => texts.push(`::${TYPES[c.type]}[]${j + 1 < columns.length ? ", " : ")"}`));
      out.push(new Sql(texts, arrays));
    }
    return out;
  },
  // LIKE is case-sensitive on PostgreSQL, as GLOB is on SQLite.
  glob: (expr, parts) => sql`${expr} LIKE ${toLikePattern(parts)} ESCAPE '\\'`,
  strpos: (haystack, needle) => sql`strpos(${haystack}, ${needle})`,
  // CAST of other text fails the whole statement here, so the text is checked first (nine digits fit an INTEGER).
  integerOrNull: (text) => sql`(CASE WHEN ${text} ~ '^-?[0-9]{1,9}$' THEN CAST(${text} AS INTEGER) END)`,
  listTables: () => sql`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()`,
  // The catalog, not the pg_indexes view (the same names; 1 ms against 6–9 ms on a new connection).
  listIndexes: () =>
    sql`SELECT relname AS name FROM pg_class WHERE relkind IN ('i', 'I') AND relnamespace = current_schema()::regnamespace`,
  // The catalog itself, not information_schema.columns (the same rows: columns the role holds some
  // privilege on), which took 6–10 ms a table and made every reader's start 40–70 ms slower.
  // One statement for every table: each round trip is a few milliseconds of a reader's start.
  listColumns: (tables) =>
    sql`SELECT c.relname AS table_name, a.attname AS name FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      WHERE c.relname IN ${list(tables)} AND c.relnamespace = current_schema()::regnamespace AND a.attnum > 0 AND NOT a.attisdropped AND has_column_privilege(c.oid, a.attnum, 'SELECT, INSERT, UPDATE, REFERENCES')
      ORDER BY c.relname, a.attnum`,
  columnTypes: (table) =>
    sql`SELECT column_name AS name, data_type AS type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ${table}`,
  // Concurrent first writers would race on CREATE TABLE IF NOT EXISTS (a unique violation in pg_type).
  schemaLock: () => sql`SELECT pg_advisory_xact_lock(${SCHEMA_LOCK_KEY})`,
  classify: classifyPgError,
  describeError: pgErrorText,
};
