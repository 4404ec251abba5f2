/**
 * Judging stored runs with the one run-status rule (runStatus.ts) from any Connection: gathers
 * each run's facts (its workflow row and, only for runs without an end, its newest activity)
 * and asks judgeRun. Dialect-neutral; used by `parsl-ts db prune` and `db check`.
 */
import type { Queryable } from "./connection.js";
import { judgeRun, type RunVerdict } from "./runStatus.js";
import { ident, join, raw, sql, type Sql } from "./sql.js";
import { nowMicros, parseDateTime } from "./timeformat.js";

/** A workflow row with the columns the rule needs (the parsl-ts ones are null on Python Parsl databases). */
export interface WorkflowFacts {
  readonly run_id: string;
  readonly workflow_name: string | null;
  readonly time_began: string;
  readonly time_completed: string | null;
  readonly tasks_failed_count: number;
  readonly run_status: string | null;
  readonly last_heartbeat: string | null;
  readonly heartbeat_period: number | null;
}

const PARSL_COLUMNS = ["run_id", "workflow_name", "time_began", "time_completed", "tasks_failed_count"] as const;
const OUR_COLUMNS = ["run_status", "last_heartbeat", "heartbeat_period"] as const;

/** The select list for WorkflowFacts; `present` are workflow's columns (NULL stands in for ours when missing). */
export function workflowFactsColumns(present: ReadonlySet<string>, alias = "w"): Sql {
  const a = raw(alias);
  return join([
    ...PARSL_COLUMNS.map((c) => sql`${a}.${ident(c)}`),
    ...OUR_COLUMNS.map((c) => (present.has(c) ? sql`${a}.${ident(c)}` : sql`NULL AS ${ident(c)}`)),
  ]);
}

const micros = (text: string | null): number | null => {
  if (text === null || text === undefined) return null;
  try {
    return parseDateTime(String(text));
  } catch {
    return null;
  }
};

/** The newest row a run wrote (status or resource), for runs that recorded neither an end nor a heartbeat. */
async function lastActivity(db: Queryable, runId: string): Promise<number | null> {
  let newest: number | null = null;
  for (const t of ["status", "resource"]) {
    const row = await db.first<{ t: string | null }>(
      sql`SELECT MAX(${ident("timestamp")}) AS t FROM ${ident(t)} WHERE ${ident("run_id")} = ${runId}`,
    );
    const m = micros(row?.t ?? null);
    if (m !== null && (newest === null || m > newest)) newest = m;
  }
  return newest;
}

export async function judgeStoredRun(db: Queryable, w: WorkflowFacts, now: number = nowMicros()): Promise<RunVerdict> {
  const completed = micros(w.time_completed);
  const needActivity = completed === null && (w.run_status === null || w.run_status === "running");
  return judgeRun({
    runStatus: w.run_status ?? null,
    lastHeartbeat: micros(w.last_heartbeat),
    heartbeatPeriod: typeof w.heartbeat_period === "number" ? w.heartbeat_period : null,
    timeCompleted: completed,
    lastActivity: needActivity && w.run_status === null ? await lastActivity(db, w.run_id) : null,
    tasksFailed: Number(w.tasks_failed_count ?? 0),
    now,
  });
}
