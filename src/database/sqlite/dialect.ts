/** SQLite's side of the dialect seam (see ../dialect.ts). */
import Database from "better-sqlite3";
import type { Dialect, ErrorClass } from "../dialect.js";
import type { ColumnType } from "../schema.js";
import { toSqliteGlob } from "../glob.js";
import { list, quoted, raw, Sql, sql } from "../sql.js";

export function sqliteCode(err: unknown): string {
  return err instanceof Database.SqliteError ? err.code : "";
}

export function isLockError(err: unknown): boolean {
  const code = sqliteCode(err);
  return code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED");
}

/**
 * Errors that waiting will not fix: a file that is read-only, corrupt or not a database, a
 * table or column that is gone.
 */
export function isPermanentError(err: unknown): boolean {
  const code = sqliteCode(err);
  return (
    code.startsWith("SQLITE_READONLY") ||
    code.startsWith("SQLITE_CORRUPT") ||
    code === "SQLITE_NOTADB" ||
    code.startsWith("SQLITE_CANTOPEN") ||
    code === "SQLITE_PERM" ||
    code === "SQLITE_AUTH" ||
    code === "SQLITE_ERROR"
  ); // "no such table/column" and other SQL that no retry can make valid
}

/** A row whose key is stored already (a plain insert of a replayed batch's rows). */
export function isDuplicateKey(err: unknown): boolean {
  const code = sqliteCode(err);
  return code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "SQLITE_CONSTRAINT_UNIQUE";
}

/** Errors caused by the data of one row (as opposed to the database or its file). */
export function isRowError(err: unknown): boolean {
  const code = sqliteCode(err);
  if (code === "") return err instanceof TypeError || err instanceof RangeError;
  return (
    code.startsWith("SQLITE_CONSTRAINT") ||
    code === "SQLITE_MISMATCH" ||
    code === "SQLITE_TOOBIG" ||
    code === "SQLITE_RANGE"
  );
}

export function sqliteErrorText(err: unknown): string {
  const code = sqliteCode(err);
  const msg = err instanceof Error ? err.message : String(err);
  return code ? `${code}: ${msg}` : msg;
}

const TYPES: Record<ColumnType, string> = {
  TEXT: "TEXT",
  INTEGER: "INTEGER",
  BIGINT: "BIGINT",
  FLOAT: "FLOAT",
  DATETIME: "DATETIME",
  BOOLEAN: "BOOLEAN",
};

export const sqliteDialect: Dialect = {
  name: "sqlite",
  placeholder: () => "?",
  columnType: (type) => TYPES[type],
  // julianday reads Parsl's naive text as UTC; PostgreSQL's EXTRACT(EPOCH) of a naive timestamp does the same.
  epochSeconds: (expr) => sql`((julianday(${expr}) - 2440587.5) * 86400.0)`,
  greatest: (a, b) => sql`MAX(${a}, ${b})`,
  least: (a, b) => sql`MIN(${a}, ${b})`,
  insertionOrder: (alias) => raw(`${alias}.rowid`),
  intDiv: (a, b) => sql`CAST((${a}) / (${b}) AS INTEGER)`,
  truncInt: (expr) => sql`CAST(${expr} AS INTEGER)`,
  unindexed: (column) => sql`+${column}`,
  orderedJoin: () => raw("CROSS JOIN"),
  idRanges: (table, alias, runColumn, runId, starts, width) => ({
    // Literals: the starts are integers computed by the caller (an OR of ranges would scan the run).
    // At the top level, not in a subquery: SQLite then keeps the written join order (a subquery made it scan all tasks: 87 s).
    prelude: sql`WITH c(s) AS (VALUES ${raw(starts.map((a) => `(${Math.trunc(a)})`).join(", "))}) `,
    from: sql`c CROSS JOIN ${raw(table)} ${raw(alias)}
        ON ${runColumn} = ${runId} AND ${raw(alias)}.task_id >= c.s AND ${raw(alias)}.task_id < c.s + ${raw(String(Math.trunc(width)))} WHERE 1 = 1`,
  }),
  // Per connection: changes when another connection commits; microseconds (no file access).
  changeToken: () => sql`PRAGMA data_version`,
  insertMany(table, columns, rows) {
    // Under SQLite's 32,766 parameters per statement.
    const per = Math.max(1, Math.min(1000, Math.floor(30_000 / columns.length)));
    const head = `INSERT INTO ${quoted(table)} (${columns.map((c) => quoted(c.name)).join(", ")}) VALUES (`;
    const out: Sql[] = [];
    for (let i = 0; i < rows.length; i += per) {
      // texts[0] is the head, then the separator before each further value, then ")".
      const texts: string[] = [head];
      const values: unknown[] = [];
      for (const r of rows.slice(i, i + per)) {
        for (let j = 0; j < columns.length; j++) {
          if (values.length > 0) texts.push(j > 0 ? ", " : "), (");
          values.push(r[j] === undefined ? null : r[j]);
        }
      }
      texts.push(")");
      out.push(new Sql(texts, values));
    }
    return out;
  },
  glob: (expr, parts) => sql`${expr} GLOB ${toSqliteGlob(parts)}`,
  strpos: (haystack, needle) => sql`instr(${haystack}, ${needle})`,
  // SQLite's CAST reads a leading number and ignores the rest ('3x' → 3): keep it only when it reads back as the text.
  integerOrNull: (text) =>
    sql`(CASE WHEN CAST(CAST(${text} AS INTEGER) AS TEXT) = ${text} THEN CAST(${text} AS INTEGER) END)`,
  listTables: () => sql`SELECT name FROM sqlite_master WHERE type = 'table'`,
  listIndexes: () => sql`SELECT name FROM sqlite_master WHERE type = 'index'`,
  listColumns: (tables) =>
    sql`SELECT m.name AS table_name, p.name AS name FROM sqlite_master m, pragma_table_info(m.name) p
      WHERE m.type = 'table' AND m.name IN ${list(tables)} ORDER BY m.name, p.cid`,
  columnTypes: (table) => sql`SELECT name, type FROM pragma_table_info(${table})`,
  schemaLock: () => null,
  classify(err): ErrorClass {
    if (isLockError(err)) return "transient";
    if (isRowError(err)) return "row";
    if (isPermanentError(err)) return "fatal";
    return "transient"; // a full disk, an I/O error: time can mend them
  },
  describeError: sqliteErrorText,
};

export type { Sql };
