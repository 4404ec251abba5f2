/**
 * `parsl-ts db prune`: deletes whole runs — the workflow row and every row of the run in the
 * other six tables — chosen by start time or by keeping the newest N. Runs that are still
 * running (judged by the one run-status rule) are left alone unless forced. Deletion is one
 * transaction per chunk of runs (bounded by tasks), so an interruption leaves whole runs, never
 * half of one; status and resource go before workflow, for PostgreSQL's foreign keys.
 */
import type { Connection, Queryable } from "../connection.js";
import type { ObservedRunStatus } from "../runStatus.js";
import { judgeStoredRun, workflowFactsColumns, type WorkflowFacts } from "../runFacts.js";
import type { TableName } from "../schema.js";
import { readSchema } from "../schemaSetup.js";
import { ident, join, list, raw, sql, type Sql } from "../sql.js";
import { assertMonitoringDatabase } from "./upgrade.js";

/** Child tables first: status and resource reference workflow on PostgreSQL. */
export const DELETE_ORDER: readonly TableName[] = ["resource", "status", "try", "task", "node", "block", "workflow"];

export interface PruneCriteria {
  /** Runs that began before this naive local time (Parsl's text form). */
  readonly before?: string;
  /** Keep the newest N runs (of the chosen workflow, when given); prune the rest. */
  readonly keepLast?: number;
  readonly workflow?: string;
}

export interface RunToPrune {
  readonly runId: string;
  readonly workflowName: string | null;
  readonly timeBegan: string;
  readonly tasks: number;
  readonly status: ObservedRunStatus;
  readonly reason: string;
}

/** IN lists stay below both drivers' parameter limits. */
const IN_CHUNK = 500;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The runs the criteria select, newest first, with their task counts and judged status. */
export async function selectRuns(db: Queryable, location: string, criteria: PruneCriteria): Promise<RunToPrune[]> {
  const state = await readSchema(db);
  assertMonitoringDatabase(state, location);
  const conds: Sql[] = [];
  if (criteria.workflow !== undefined) conds.push(sql`w.${ident("workflow_name")} = ${criteria.workflow}`);
  if (criteria.before !== undefined) conds.push(sql`w.${ident("time_began")} < ${criteria.before}`);
  const whereSql = conds.length > 0 ? sql` WHERE ${join(conds, " AND ")}` : raw("");
  const rows =
    await db.all<WorkflowFacts>(sql`SELECT ${workflowFactsColumns(state.tables.get("workflow")!)} FROM ${ident("workflow")} w${whereSql}
    ORDER BY w.${ident("time_began")} DESC, w.${ident("run_id")} DESC`);
  const chosen = criteria.keepLast !== undefined ? rows.slice(criteria.keepLast) : rows;
  const tasks = new Map<string, number>();
  for (const part of chunks(
    chosen.map((r) => r.run_id),
    IN_CHUNK,
  )) {
    for (const r of await db.all<{
      run_id: string;
      n: number;
    }>(sql`SELECT ${ident("run_id")}, COUNT(*) AS n FROM ${ident("task")}
        WHERE ${ident("run_id")} IN ${list(part)} GROUP BY ${ident("run_id")}`)) {
      tasks.set(r.run_id, Number(r.n));
    }
  }
  const out: RunToPrune[] = [];
  for (const r of chosen) {
    const verdict = await judgeStoredRun(db, r);
    out.push({
      runId: r.run_id,
      workflowName: r.workflow_name,
      timeBegan: String(r.time_began),
      tasks: tasks.get(r.run_id) ?? 0,
      status: verdict.status,
      reason: verdict.reason,
    });
  }
  return out;
}

export type DeletedRows = Record<TableName, number>;

/** A transaction holds at most this many tasks' rows (or IN_CHUNK runs), so no single one grows without bound. */
export const TASKS_PER_TRANSACTION = 100_000;

/**
 * PostgreSQL checks the foreign keys of status and resource for every workflow row deleted;
 * status has no index that starts with run_id (it would slow the writer), so each check scans
 * status. From this many runs on, prune builds a temporary index first (measured at 5M status
 * rows: 0.4 s per run unindexed, 6 s to build the index).
 */
export const TEMP_INDEX_FROM_RUNS = 16;
const TEMP_INDEX = "parsl_ts_prune_status_run";

export interface DeleteOptions {
  /** Hears after each committed transaction. */
  readonly onChunk?: (done: number, total: number, transactions: number) => void;
  /** Hears what prune did besides deleting (a temporary index, or why it could not build one). */
  readonly onNote?: (note: string) => void;
}

async function statusRunIndexed(db: Queryable): Promise<boolean> {
  const row =
    await db.first(sql`SELECT 1 AS x FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
    WHERE i.indrelid = to_regclass(${"status"}) AND a.attname = ${"run_id"} AND i.indisvalid AND i.indexrelid IS DISTINCT FROM to_regclass(${TEMP_INDEX})`);
  return row !== undefined;
}

/**
 * Sets the connection up for deleting many rows; returns the clean-up. SQLite: foreign keys
 * unenforced for this connection (better-sqlite3 enforces them, and a parent delete would then
 * scan status for each run; Parsl itself runs without them, and children go first anyway).
 * PostgreSQL: the temporary index above, built CONCURRENTLY so writers carry on.
 */
async function prepareBulkDelete(
  db: Connection,
  runs: number,
  note: (s: string) => void,
): Promise<() => Promise<void>> {
  if (db.dialect.name === "sqlite") {
    await db.run(raw("PRAGMA foreign_keys = OFF"));
    return async () => undefined;
  }
  if (runs < TEMP_INDEX_FROM_RUNS || (await statusRunIndexed(db))) return async () => undefined;
  try {
    // A prune that was killed may have left the index (perhaps invalid): start afresh.
    await db.run(sql`DROP INDEX CONCURRENTLY IF EXISTS ${ident(TEMP_INDEX)}`);
    await db.run(sql`CREATE INDEX CONCURRENTLY ${ident(TEMP_INDEX)} ON ${ident("status")} (${ident("run_id")})`);
  } catch (err) {
    note(
      `deleting without a temporary index on status (run_id), so each run costs a scan of status: ${db.dialect.describeError(err)}`,
    );
    return async () => undefined;
  }
  note(`built a temporary index ${TEMP_INDEX} on status (run_id) for the foreign key checks; it is dropped at the end`);
  return async () => {
    await db.run(sql`DROP INDEX CONCURRENTLY IF EXISTS ${ident(TEMP_INDEX)}`);
  };
}

/** Deletes the runs with all their rows. Returns the rows deleted per table. */
export async function deleteRuns(
  db: Connection,
  runs: readonly RunToPrune[],
  options: DeleteOptions = {},
): Promise<DeletedRows> {
  const deleted = Object.fromEntries(DELETE_ORDER.map((t) => [t, 0])) as DeletedRows;
  const groups: string[][] = [];
  let current: string[] = [];
  let weight = 0;
  for (const r of runs) {
    if (current.length > 0 && (weight + r.tasks > TASKS_PER_TRANSACTION || current.length >= IN_CHUNK)) {
      groups.push(current);
      current = [];
      weight = 0;
    }
    current.push(r.runId);
    weight += r.tasks;
  }
  if (current.length > 0) groups.push(current);
  const cleanUp = await prepareBulkDelete(db, runs.length, options.onNote ?? (() => undefined));
  try {
    let done = 0;
    for (const ids of groups) {
      const counts = await db.transaction(async (tx) => {
        const n: Partial<DeletedRows> = {};
        for (const t of DELETE_ORDER)
          n[t] = await tx.run(sql`DELETE FROM ${ident(t)} WHERE ${ident("run_id")} IN ${list(ids)}`);
        return n as DeletedRows;
      });
      for (const t of DELETE_ORDER) deleted[t] += counts[t];
      done += ids.length;
      options.onChunk?.(done, runs.length, groups.length);
    }
  } finally {
    await cleanUp();
  }
  return deleted;
}

/** SQLite: bytes inside the file that deleted rows freed (reused by later writes; VACUUM returns them to the disk). */
export async function sqliteFreeBytes(db: Queryable): Promise<number> {
  const free = await db.first<{ freelist_count: number }>(raw("PRAGMA freelist_count"));
  const size = await db.first<{ page_size: number }>(raw("PRAGMA page_size"));
  return Number(free?.freelist_count ?? 0) * Number(size?.page_size ?? 0);
}
