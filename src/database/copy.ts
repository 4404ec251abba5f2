/**
 * Copies whole runs from one monitoring database to another, of either dialect (SQLite →
 * PostgreSQL to move to a shared server, PostgreSQL → SQLite to take a run home). All seven
 * tables' rows of each run are copied; `node` rows get new ids from the target. The target's
 * schema is created or upgraded first (ensureSchema). Rows stream in chunks (by task-id ranges,
 * or by key for the small per-run tables), so memory stays bounded whatever the run's size. Each
 * run is copied in one target transaction: a run is there completely or not at all. Runs the
 * target already has are skipped, so a copy that was interrupted can simply be run again.
 */
import { connect, type Connection, type Queryable, type Row } from "./connection.js";
import type { Endpoint } from "./endpoint.js";
import { TABLES, type Table, type TableName } from "./schema.js";
import { ensureSchema, readSchema } from "./schemaSetup.js";
import { ident, join, raw, sql, type Sql } from "./sql.js";

export interface CopyOptions {
  /** Runs to copy (default: every run of the source, oldest first). */
  readonly runIds?: readonly string[];
  /** About this many rows are read and held at once (default 20,000). */
  readonly chunkRows?: number;
  /**
   * `ensure` (default): create or upgrade the target's schema first (ensureSchema). `existing`:
   * write into the tables as they are (e.g. a database Python Parsl created), copying only the
   * columns they have; the target must have all seven tables.
   */
  readonly schema?: "ensure" | "existing";
  /** Called after each chunk and each run. */
  readonly onProgress?: (p: { runId: string; table: TableName; rows: number }) => void;
}

export interface CopyResult {
  /** Runs copied. */
  readonly copied: string[];
  /** Runs the target had already (left as they are). */
  readonly skipped: string[];
  /** Rows written per table. */
  readonly rows: Record<TableName, number>;
}

/** The order that satisfies the foreign keys (status and resource → workflow). */
const ORDER: readonly TableName[] = ["workflow", "task", "try", "status", "resource", "node", "block"];

function tableDef(name: TableName): Table {
  return TABLES.find((t) => t.name === name)!;
}

export async function copyRuns(source: Connection, target: Connection, options: CopyOptions = {}): Promise<CopyResult> {
  const chunkRows = Math.max(100, options.chunkRows ?? 20_000);
  const sourceSchema = await readSchema(source);
  for (const name of ORDER) {
    if (!sourceSchema.tables.has(name))
      throw new Error(`${source.location} is not a Parsl monitoring database: table "${name}" is missing`);
  }
  if (options.schema !== "existing") await ensureSchema(target);
  const targetSchema = await readSchema(target);
  for (const name of ORDER) {
    if (!targetSchema.tables.has(name))
      throw new Error(`${target.location} has no table "${name}" (copy with schema "ensure" to create it)`);
  }
  // The columns both sides have (a Python Parsl source lacks our extras), node.id left to the target.
  const columns = new Map<TableName, string[]>();
  for (const name of ORDER) {
    const t = tableDef(name);
    const src = sourceSchema.tables.get(name)!;
    const dst = targetSchema.tables.get(name)!;
    columns.set(
      name,
      t.columns.map((c) => c.name).filter((c) => src.has(c) && dst.has(c) && c !== t.autoincrementKey),
    );
  }
  const runIds =
    options.runIds ??
    (await source.all<{ run_id: string }>(sql`SELECT run_id FROM workflow ORDER BY time_began, run_id`)).map(
      (r) => r.run_id,
    );
  const result: CopyResult = {
    copied: [],
    skipped: [],
    rows: { workflow: 0, task: 0, try: 0, status: 0, resource: 0, node: 0, block: 0 },
  };
  for (const runId of runIds) {
    if (!(await source.first(sql`SELECT 1 AS x FROM workflow WHERE run_id = ${runId}`))) {
      throw new Error(`run ${runId} is not in ${source.location}`);
    }
    if (await target.first(sql`SELECT 1 AS x FROM workflow WHERE run_id = ${runId}`)) {
      result.skipped.push(runId);
      continue;
    }
    await target.transaction(async (tx) => {
      for (const name of ORDER) {
        const cols = columns.get(name)!;
        for await (const rows of readChunks(source, name, cols, runId, chunkRows)) {
          await insertRows(tx, name, cols, rows);
          result.rows[name] += rows.length;
          options.onProgress?.({ runId, table: name, rows: rows.length });
        }
      }
    });
    result.copied.push(runId);
  }
  return result;
}

/** Opens both endpoints (the source read-only), copies, and closes them. */
export async function copyDatabase(
  from: string | Endpoint,
  to: string | Endpoint,
  options: CopyOptions = {},
): Promise<CopyResult> {
  const source = await connect(from, { readonly: true, applicationName: "parsl-ts db copy (source)" });
  try {
    const target = await connect(to, { applicationName: "parsl-ts db copy" });
    try {
      return await copyRuns(source, target, options);
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

/**
 * A run's rows of one table in chunks. Tables keyed by task: ranges of task ids sized to about
 * `chunkRows` rows, skipping gaps; within a range, rows come in insertion order where the source
 * keeps one (SQLite's rowid), so timestamp ties stay in the order they were written.
 */
async function* readChunks(
  db: Connection,
  name: TableName,
  cols: string[],
  runId: string,
  chunkRows: number,
): AsyncGenerator<Row[]> {
  const list = join(cols.map((c) => ident(c)));
  const t = ident(name);
  if (name === "workflow") {
    yield await db.all(sql`SELECT ${list} FROM ${t} WHERE run_id = ${runId}`);
    return;
  }
  if (name === "node" || name === "block") {
    // Per-run tables without task ids (a few rows per worker or block): pages in key order.
    const order = name === "node" ? raw("id") : raw(`timestamp, block_id, executor_label`);
    for (let offset = 0; ; offset += chunkRows) {
      const rows = await db.all(
        sql`SELECT ${list} FROM ${t} WHERE run_id = ${runId} ORDER BY ${order} LIMIT ${chunkRows} OFFSET ${offset}`,
      );
      if (rows.length > 0) yield rows;
      if (rows.length < chunkRows) return;
    }
  }
  const perTask = name === "status" ? 6 : name === "resource" ? 4 : 1;
  const step = Math.max(1, Math.floor(chunkRows / perTask));
  const next = async (from: number | null): Promise<number | null> => {
    const after = from === null ? raw("") : sql` AND task_id >= ${from}`;
    const v = (await db.first<Row>(sql`SELECT MIN(task_id) AS x FROM ${t} WHERE run_id = ${runId}${after}`))?.["x"];
    return v === null || v === undefined ? null : Number(v);
  };
  const order: Sql =
    db.dialect.insertionOrder(name) ?? raw(name === "status" || name === "resource" ? "task_id, timestamp" : "task_id");
  for (let lo = await next(null); lo !== null; lo = await next(lo + step)) {
    const rows = await db.all(
      sql`SELECT ${list} FROM ${t} WHERE run_id = ${runId} AND task_id >= ${lo} AND task_id < ${lo + step} ORDER BY ${order}`,
    );
    if (rows.length > 0) yield rows;
  }
}

/** The rows as the dialect's bulk INSERTs (see Dialect.insertMany). */
async function insertRows(tx: Queryable, name: TableName, cols: string[], rows: Row[]): Promise<void> {
  const defs = cols.map((c) => tableDef(name).columns.find((x) => x.name === c)!);
  for (const stmt of tx.dialect.insertMany(
    name,
    defs,
    rows.map((r) => cols.map((c) => r[c])),
  ))
    await tx.run(stmt);
}
