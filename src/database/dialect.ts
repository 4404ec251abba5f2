/**
 * What differs between SQLite and PostgreSQL, in one small interface. Everything else —
 * batch planning, the schema, the readers' queries and aggregations, the run-status rule —
 * is written once against this and `Connection` (connection.ts). Implementations:
 * `sqlite/dialect.ts`, `postgres/dialect.ts`.
 */
import type { Column, ColumnType } from "./schema.js";
import type { Sql } from "./sql.js";
import type { GlobPart } from "./glob.js";

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
  /** The placeholder for parameter `index` (0-based): `?` or `$1`. A function property: drivers pass it around unbound. */
  readonly placeholder: (index: number) => string;
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
  /** A number truncated toward zero to an integer (SQLite's CAST AS INTEGER; PostgreSQL's cast would round). */
  truncInt(expr: Sql): Sql;
  /**
   * The column, kept from choosing an index: SQLite's unary `+` (its planner otherwise prefers a
   * run-wide index to the primary key on some reader queries); PostgreSQL plans by statistics and
   * takes the column as it is.
   */
  unindexed(column: Sql): Sql;
  /**
   * An inner join that keeps the written join order: SQLite's `CROSS JOIN … ON` (its documented
   * planner hint); PostgreSQL's plain `JOIN` (it refuses ON after CROSS JOIN, and plans well).
   */
  orderedJoin(): Sql;
  /**
   * Rows of `table alias` of run `runId` whose task_id lies in [s, s + width) for each of `starts`
   * (integers of our own), read as one index range scan per start: a FROM clause ending in a WHERE
   * condition, and what goes before SELECT. SQLite: a VALUES list of the starts joined in written
   * order (`CROSS JOIN`). PostgreSQL: a LATERAL subquery fenced by `OFFSET 0` — a plain join on
   * ranges, however written, it planned as a scan of the whole run (2–21 s at 1M tasks).
   */
  idRanges(
    table: string,
    alias: string,
    runColumn: Sql,
    runId: string,
    starts: readonly number[],
    width: number,
  ): { prelude: Sql; from: Sql };
  /**
   * A one-row query whose single value changes whenever any other session commits, and costs
   * next to nothing: the change token of live views and caches.
   */
  changeToken(): Sql;
  /**
   * Plain INSERT statements for many rows (`rows[i][j]` is column j of row i), for bulk copies:
   * SQLite multi-row VALUES within its parameter limit; PostgreSQL one `unnest` of one array
   * per column (a handful of parameters however many rows, several times faster to parse).
   */
  insertMany(table: string, columns: readonly Column[], rows: readonly (readonly unknown[])[]): Sql[];
  /**
   * `expr` matches a glob (`*` any run of characters, `?` one character, case-sensitive, as
   * `globParts` splits it): SQLite's GLOB; PostgreSQL's LIKE with escaping. The pattern is a parameter.
   */
  glob(expr: Sql, parts: readonly GlobPart[]): Sql;
  /** 1-based position of `needle` in `haystack`, 0 when absent (SQLite's instr, PostgreSQL's strpos). */
  strpos(haystack: Sql, needle: Sql): Sql;
  /** `text` as an integer when it is exactly one (optional minus, digits), else NULL: never an error. */
  integerOrNull(text: Sql): Sql;
  /** Names of the tables in the current schema, as rows `{ name }`. */
  listTables(): Sql;
  /** Names of the indexes in the current schema, as rows `{ name }`. */
  listIndexes(): Sql;
  /** The columns of the named tables in one statement, as rows `{ table_name, name }` in column order. */
  listColumns(tables: readonly string[]): Sql;
  /** A table's columns with their declared types, as rows `{ name, type }` (type as the database reports it). */
  columnTypes(table: string): Sql;
  /**
   * A statement that serialises schema changes between processes inside a transaction
   * (PostgreSQL: an advisory lock; SQLite's write transaction already does), or null.
   */
  schemaLock(): Sql | null;
  classify(err: unknown): ErrorClass;
  /** The error's text with the dialect's code, for messages. */
  describeError(err: unknown): string;
}
