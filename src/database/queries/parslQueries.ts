/**
 * Parsl's `parsl.monitoring.queries.pandas` functions, one for one, with parameters instead of
 * Parsl's `'%s' %` formatting and typed rows instead of DataFrames; plus a task's history across
 * runs by hashsum (the visualizer's task page and `tasks --all-runs -F "hashsum = H"`).
 */
import type { Row } from "../connection.js";
import { sql } from "../sql.js";
import type { ReadContext } from "./context.js";
import { field } from "./fields.js";

export interface AppCount {
  task_func_name: string;
  frequency: number;
}
export interface StatusRow {
  run_id: string;
  task_id: number;
  task_status_name: string;
  timestamp: string;
}
export interface CompletionTime {
  task_id: number;
  task_func_name: string;
  task_time_returned: string | null;
}
export interface TryTimes {
  task_id: number;
  task_func_name: string;
  task_time_returned: string | null;
  task_try_time_running: string | null;
  task_try_time_returned: string | null;
}

/** app_counts_for_workflow: tasks per app. */
export async function appCountsForWorkflow(ctx: ReadContext, runId: string): Promise<AppCount[]> {
  const rows = await ctx.db.all(sql`SELECT task_func_name, COUNT(*) AS frequency FROM task WHERE run_id = ${runId}
    GROUP BY task_func_name ORDER BY task_func_name`);
  return rows.map((r) => ({ task_func_name: String(r["task_func_name"]), frequency: Number(r["frequency"]) }));
}

/** nodes_for_workflow: the run's node rows (every column). */
export function nodesForWorkflow(ctx: ReadContext, runId: string): Promise<Row[]> {
  return ctx.db.all(sql`SELECT * FROM node WHERE run_id = ${runId} ORDER BY id`);
}

/** resources_for_workflow: the run's resource samples (every column). */
export function resourcesForWorkflow(ctx: ReadContext, runId: string): Promise<Row[]> {
  return ctx.db.all(sql`SELECT * FROM resource WHERE run_id = ${runId} ORDER BY task_id, try_id, timestamp`);
}

/** resources_for_task: one task's resource samples. */
export function resourcesForTask(ctx: ReadContext, runId: string, taskId: number): Promise<Row[]> {
  return ctx.db.all(
    sql`SELECT * FROM resource WHERE run_id = ${runId} AND task_id = ${taskId} ORDER BY try_id, timestamp`,
  );
}

/** status_for_workflow: every state change of the run, in the order written. */
export async function statusForWorkflow(ctx: ReadContext, runId: string): Promise<StatusRow[]> {
  const rows = await ctx.db.all(sql`SELECT s.run_id, s.task_id, s.task_status_name, s.timestamp FROM status s
    WHERE s.run_id = ${runId} ORDER BY ${ctx.statusOrder("s")}`);
  return rows.map((r) => ({
    run_id: String(r["run_id"]),
    task_id: Number(r["task_id"]),
    task_status_name: String(r["task_status_name"]),
    timestamp: String(r["timestamp"]),
  }));
}

/** completion_times_for_workflow: when each task returned. */
export async function completionTimesForWorkflow(ctx: ReadContext, runId: string): Promise<CompletionTime[]> {
  const rows = await ctx.db.all(
    sql`SELECT task_id, task_func_name, task_time_returned FROM task WHERE ${ctx.runCol("task")} = ${runId} ORDER BY task_id`,
  );
  return rows.map((r) => ({
    task_id: Number(r["task_id"]),
    task_func_name: String(r["task_func_name"]),
    task_time_returned: (r["task_time_returned"] as string | null) ?? null,
  }));
}

/** tasks_for_workflow: the run's task rows (every column). */
export function tasksForWorkflow(ctx: ReadContext, runId: string): Promise<Row[]> {
  return ctx.db.all(sql`SELECT * FROM task WHERE ${ctx.runCol("task")} = ${runId} ORDER BY task_id`);
}

/** tries_for_workflow: each try's running and returned times with its task's app. */
export async function triesForWorkflow(ctx: ReadContext, runId: string): Promise<TryTimes[]> {
  const rows = await ctx.db
    .all(sql`SELECT t.task_id, t.task_func_name, t.task_time_returned, r.task_try_time_running, r.task_try_time_returned
    FROM task t JOIN try r ON r.task_id = t.task_id AND r.run_id = t.run_id WHERE t.run_id = ${runId} ORDER BY t.task_id, r.try_id`);
  const text = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
  return rows.map((r) => ({
    task_id: Number(r["task_id"]),
    task_func_name: String(r["task_func_name"]),
    task_time_returned: text(r["task_time_returned"]),
    task_try_time_running: text(r["task_try_time_running"]),
    task_try_time_returned: text(r["task_try_time_returned"]),
  }));
}

export interface HashHistoryEntry {
  run_id: string;
  workflow_name: string | null;
  time_began: string;
  task_id: number;
  state: string | null;
  /** Served from the memo table or a checkpoint. */
  memo: boolean;
  total_s: number | null;
}

export interface TaskHistory {
  hashsum: string | null;
  /** Every task with the same hashsum, oldest run first (at most `limit`). */
  runs: HashHistoryEntry[];
}

/** The same computation (equal task_hashsum) in every run, through Parsl's ix_task_task_hashsum. */
export async function taskHistory(ctx: ReadContext, runId: string, taskId: number, limit = 100): Promise<TaskHistory> {
  const own = await ctx.db.first(
    sql`SELECT task_hashsum FROM task t WHERE ${ctx.runCol("t")} = ${runId} AND t.task_id = ${taskId}`,
  );
  const hash = (own?.["task_hashsum"] as string | null | undefined) ?? null;
  if (hash === null || hash === "") return { hashsum: null, runs: [] };
  const rows = await ctx.db
    .all(sql`SELECT t.run_id, w.workflow_name, w.time_began, t.task_id, ${field("state")!.expr(ctx)} AS state,
      ${field("total_s")!.expr(ctx)} AS total_s
    FROM task t JOIN workflow w ON w.run_id = t.run_id WHERE t.task_hashsum = ${hash}
    ORDER BY w.time_began, t.run_id, t.task_id LIMIT ${limit}`);
  return {
    hashsum: hash,
    runs: rows.map((r) => ({
      run_id: String(r["run_id"]),
      workflow_name: (r["workflow_name"] as string | null) ?? null,
      time_began: String(r["time_began"]),
      task_id: Number(r["task_id"]),
      state: (r["state"] as string | null) ?? null,
      memo: r["state"] === "memo_done",
      total_s: r["total_s"] === null || r["total_s"] === undefined ? null : Number(r["total_s"]),
    })),
  };
}
