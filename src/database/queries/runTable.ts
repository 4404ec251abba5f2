/**
 * The run table of `parsl-ts runs` and `parsl-ts/query`: every run (newest first) with its
 * truthful status (judgeRun, through runs.ts toListItem) and its tasks per final state.
 * Costs per run: the workflow row, a few indexed look-ups, and one GROUP BY over the run's
 * (run_id, task_latest_status) index entries on parsl-ts databases.
 */
import type { ObservedRunStatus } from "../runStatus.js";
import { join, raw, sql, type Sql } from "../sql.js";
import type { ReadContext } from "./context.js";
import { stateCounts, toListItem } from "./runs.js";
import type { WorkflowListItem } from "./types.js";

export interface RunListQuery {
  /** Only runs of this workflow name. */
  readonly workflow?: string;
  /** Only runs that began at or after this time (Parsl's naive local text). */
  readonly since?: string;
  /** Only runs with one of these statuses. */
  readonly status?: readonly ObservedRunStatus[];
  /** At most this many runs (after the status filter). */
  readonly limit?: number;
}

/** Tasks per final state; `not_run` is every task not in one (pending, launched, running, … or no state yet). */
export interface RunTaskCounts {
  total: number;
  exec_done: number;
  memo_done: number;
  failed: number;
  dep_fail: number;
  not_run: number;
  /** Every latest state with its count (Parsl's names; `unknown` for tasks with no state row). */
  states: Record<string, number>;
}

export interface RunListRow extends WorkflowListItem {
  tasks: RunTaskCounts;
}

export const FINAL_STATES = ["exec_done", "memo_done", "failed", "dep_fail"] as const;

export async function runTaskCounts(ctx: ReadContext, runId: string): Promise<RunTaskCounts> {
  const states = await stateCounts(ctx, runId);
  const total = Object.values(states).reduce((a, b) => a + b, 0);
  const n = (s: string): number => states[s] ?? 0;
  return {
    total,
    exec_done: n("exec_done"),
    memo_done: n("memo_done"),
    failed: n("failed"),
    dep_fail: n("dep_fail"),
    not_run: total - FINAL_STATES.reduce((a, s) => a + n(s), 0),
    states,
  };
}

export async function runList(ctx: ReadContext, q: RunListQuery = {}): Promise<RunListRow[]> {
  const where: Sql[] = [];
  if (q.workflow !== undefined) where.push(sql`workflow_name = ${q.workflow}`);
  if (q.since !== undefined) where.push(sql`time_began >= ${q.since}`);
  const w = where.length ? sql` WHERE ${join(where, " AND ")}` : raw("");
  // Without a status filter the limit goes to the database; with one, runs are judged first.
  const lim = q.limit !== undefined && !q.status ? sql` LIMIT ${q.limit}` : raw("");
  const rows = await ctx.db.all(
    sql`SELECT ${ctx.workflowColumns()} FROM workflow${w} ORDER BY time_began DESC, run_id DESC${lim}`,
  );
  const items = await Promise.all(rows.map((r) => toListItem(ctx, r)));
  const wanted = q.status ? items.filter((i) => q.status!.includes(i.status)) : items;
  const chosen = q.limit !== undefined ? wanted.slice(0, q.limit) : wanted;
  return Promise.all(chosen.map(async (i) => ({ ...i, tasks: await runTaskCounts(ctx, i.run_id) })));
}
