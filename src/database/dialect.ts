/**
 * What differs between SQLite and PostgreSQL, in one small interface. Everything else —
 * batch planning, the schema, the readers' queries and aggregations, the run-status rule —
 * is written once against this and `Connection` (connection.ts). Implementations:
 * `sqlite/dialect.ts`, `postgres/dialect.ts`.
 */
import type { ColumnType } from "./schema.js";
import type { Sql } from "./sql.js";

export type DialectName = "sqlite" | "postgresql";

/**
 * What an error means for the writer: `transient` (a lock, a lost connection, a server
 * restart: retry the batch later), `row` (one row's data was refused: write the others and
 * report it), `fatal` (a retry would meet it again: read-only, corrupt, missing table, no
 * privilege, wrong password).
 */
export type ErrorClass = "transient" | "row" | "fatal";

export interface Dialect {
  readonly name: DialectName;
  /** The placeholder for parameter `index` (0-based): `?` or `$1`. */
  placeholder(index: number): string;
  /** The column type used in DDL for a schema type. */
  columnType(type: ColumnType): string;
  /** Seconds since the epoch (a float) of a DATETIME expression, read as the same naive local time on both. */
  epochSeconds(expr: Sql): Sql;
  /** The larger / smaller of two non-null values (SQLite's two-argument MAX / MIN, PostgreSQL's GREATEST / LEAST). */
  greatest(a: Sql, b: Sql): Sql;
  least(a: Sql, b: Sql): Sql;
  /**
   * An expression that orders rows of one table by insertion where timestamps tie (SQLite's
   * rowid), or null where the dialect has none; callers then fall back to a stable column order.
   */
  insertionOrder(tableAlias: string): Sql | null;
  /** Integer division that truncates toward zero on both. */
  intDiv(a: Sql, b: Sql): Sql;
  /** Names of the tables in the current schema, as rows `{ name }`. */
  listTables(): Sql;
  /** Names of the indexes in the current schema, as rows `{ name }`. */
  listIndexes(): Sql;
  /** Names of a table's columns, as rows `{ name }`. */
  listColumns(table: string): Sql;
  /**
   * A statement that serialises schema changes between processes inside a transaction
   * (PostgreSQL: an advisory lock; SQLite's write transaction already does), or null.
   */
  schemaLock(): Sql | null;
  classify(err: unknown): ErrorClass;
  /** The error's text with the dialect's code, for messages. */
  describeError(err: unknown): string;
}
