/**
 * Reading the seven tables of chosen runs in bounded chunks, for the exporters. Each table is
 * read by keyset pagination over a unique key that an index serves (`WHERE run_id = ? AND
 * (k1, …, kn) > (last row's key) ORDER BY k1, …, kn LIMIT n`), so memory stays bounded and every
 * page costs the same however deep into the run it is. Dialect-neutral: row-value comparison
 * works on SQLite and PostgreSQL alike.
 */
import type { Row } from "../database/connection.js";
import type { ReadContext } from "../database/queries/context.js";
import { TABLES, type Column, type ColumnType, type Table, type TableName } from "../database/schema.js";
import { ident, join, raw, sql, type Sql } from "../database/sql.js";

/** Rows per page (and per Parquet row group batch): large enough to amortise a query, small enough to bound memory. */
export const CHUNK_ROWS = 10_000;

/** The order tables are written in (the issue's order: the run, then what belongs to it). */
export const EXPORT_ORDER: readonly TableName[] = ["workflow", "task", "try", "status", "resource", "node", "block"];

export interface ExportColumn {
  readonly name: string;
  readonly type: ColumnType;
}

/** The columns of `table` this database has, in schema order (Python Parsl's lack parsl-ts's extras). */
export function exportColumns(ctx: ReadContext, table: TableName): ExportColumn[] {
  const t = tableDef(table);
  return t.columns.filter((c: Column) => ctx.has(table, c.name)).map((c) => ({ name: c.name, type: c.type }));
}

function tableDef(name: TableName): Table {
  const t = TABLES.find((x) => x.name === name);
  if (!t) throw new Error(`unknown table ${name}`);
  return t;
}

/**
 * The key a table is paged by: the parsl-ts index that leads with run_id when the database has it
 * (its rows of one run are contiguous), else the primary key (unique, and always indexed).
 */
export function pageKey(ctx: ReadContext, table: TableName): readonly string[] {
  if (table === "try" && ctx.hasIndex("ix_try_run_task")) return ["run_id", "task_id", "try_id"];
  if (table === "resource" && ctx.hasIndex("ix_resource_run_task")) return ["run_id", "task_id", "try_id", "timestamp"];
  return tableDef(table).primaryKey;
}

const cols = (names: readonly string[]): Sql =>
  join(
    names.map((n) => ident(n)),
    ", ",
  );

/**
 * Every row of `table` for one run, page by page, in key order. Values come as the Connection
 * gives them (DATETIME as Parsl's text, integers as numbers); see `normalise` for the rest.
 */
export async function* tablePages(
  ctx: ReadContext,
  table: TableName,
  runId: string,
  chunk = CHUNK_ROWS,
): AsyncGenerator<Row[]> {
  const columns = exportColumns(ctx, table).map((c) => c.name);
  const key = pageKey(ctx, table);
  const select = cols([...new Set([...columns, ...key])]);
  // With run_id leading the key, the rest is compared after the equality (SQLite then seeks
  // within the run; a row value that includes run_id would make it scan from the run's start).
  // A key that does not lead with run_id is walked through its own index; `unindexed` keeps
  // SQLite off the run-wide indexes, which would need a sort of the whole run per page.
  const leading = key[0] === "run_id";
  const rest = leading ? key.slice(1) : key;
  const order = cols(rest);
  const runCol = leading ? ident("run_id") : ctx.d.unindexed(ident("run_id"));
  if (rest.length === 0) {
    // The key is run_id alone (workflow): one row.
    yield await ctx.db.all(sql`SELECT ${select} FROM ${ident(table)} WHERE ${runCol} = ${runId}`);
    return;
  }
  let after: unknown[] | null = null;
  for (;;) {
    const keyset: Sql =
      after === null
        ? raw("")
        : sql` AND (${order}) > (${join(
            after.map((v) => sql`${v}`),
            ", ",
          )})`;
    const rows: Row[] = await ctx.db.all(sql`SELECT ${select} FROM ${ident(table)} WHERE ${runCol} = ${runId}${keyset}
      ORDER BY ${order} LIMIT ${chunk}`);
    if (rows.length === 0) return;
    const last = rows[rows.length - 1]!;
    after = rest.map((k) => last[k]);
    yield rows;
    if (rows.length < chunk) return;
  }
}

/**
 * A value as the exports write it: NULL → null; BOOLEAN → true/false (SQLite stores 0/1);
 * bigint → number. Everything else unchanged, so text in a numeric column (SQLite allows it)
 * is kept, not lost.
 */
export function normalise(type: ColumnType, v: unknown): string | number | boolean | null {
  if (v === null || v === undefined) return null;
  if (type === "BOOLEAN") {
    if (typeof v === "boolean") return v;
    if (typeof v === "number" || typeof v === "bigint") return Number(v) !== 0;
    if (typeof v === "string") return /^(1|t|true|y|yes)$/i.test(v.trim());
  }
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") return v;
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString("base64");
  return String(v);
}
