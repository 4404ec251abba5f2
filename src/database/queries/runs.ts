/**
 * Runs: the run list with each run's truthful status (database/runStatus.ts judgeRun), one run's
 * summary, and per-app counts and mean durations over the recent runs of the same workflow.
 */
import type { Row } from "../connection.js";
import { judgeRun } from "../runStatus.js";
import { raw, sql, type Sql } from "../sql.js";
import type { ReadContext } from "./context.js";
import { naiveNowMs, naiveToMs } from "./time.js";
import type { AppHistory, Page, WorkflowListItem, WorkflowSummary } from "./types.js";

export async function runExists(ctx: ReadContext, runId: string): Promise<boolean> {
  return (await ctx.db.first(sql`SELECT 1 AS x FROM workflow WHERE run_id = ${runId}`)) !== undefined;
}

/**
 * Tasks of the run that ended `memo_done`. parsl-ts rows answer from ix_task_run_latest_status;
 * tasks without task_latest_status (Python Parsl's) by a primary-key look-up in `status` each.
 */
async function memoCount(ctx: ReadContext, runId: string): Promise<number> {
  const viaStatus = sql`EXISTS (SELECT 1 FROM status s WHERE s.task_id = t.task_id AND ${ctx.runCol("s")} = t.run_id AND s.task_status_name = 'memo_done')`;
  const count = async (q: Sql): Promise<number> => Number((await ctx.db.first<Row>(q))?.["n"] ?? 0);
  if (!ctx.hasLatestCol) return count(sql`SELECT COUNT(*) AS n FROM task t WHERE t.run_id = ${runId} AND ${viaStatus}`);
  let n = await count(sql`SELECT COUNT(*) AS n FROM task WHERE run_id = ${runId} AND task_latest_status = 'memo_done'`);
  if (!(await ctx.latestColComplete(runId))) {
    n += await count(
      sql`SELECT COUNT(*) AS n FROM task t WHERE t.run_id = ${runId} AND t.task_latest_status IS NULL AND ${viaStatus}`,
    );
  }
  return n;
}

/** A workflow row as a list entry, with its status judged by the one rule. */
export async function toListItem(ctx: ReadContext, r: Row): Promise<WorkflowListItem> {
  const runId = String(r["run_id"]);
  const began = naiveToMs(r["time_began"]);
  const completed = naiveToMs(r["time_completed"]);
  const runStatus = typeof r["run_status"] === "string" ? r["run_status"] : null;
  const needActivity = completed === null && (runStatus === null || runStatus === "running");
  const activity = needActivity ? await ctx.lastActivityMs(runId) : null;
  const now = naiveNowMs();
  const micros = (ms: number | null): number | null => (ms === null ? null : ms * 1000);
  const period = r["heartbeat_period"];
  const verdict = judgeRun({
    runStatus,
    lastHeartbeat: micros(naiveToMs(r["last_heartbeat"])),
    heartbeatPeriod: typeof period === "number" ? period : null,
    timeCompleted: micros(completed),
    lastActivity: micros(activity),
    tasksFailed: Number(r["tasks_failed_count"] ?? 0),
    now: now * 1000,
  });
  let end = completed;
  if (end === null) end = verdict.status === "running" ? now : (activity ?? naiveToMs(r["last_heartbeat"]));
  return {
    run_id: runId,
    workflow_name: (r["workflow_name"] as string | null) ?? null,
    workflow_version: (r["workflow_version"] as string | null) ?? null,
    user: String(r["user"] ?? ""),
    host: String(r["host"] ?? ""),
    time_began: String(r["time_began"] ?? ""),
    time_completed: (r["time_completed"] as string | null) ?? null,
    tasks_completed_count: Number(r["tasks_completed_count"] ?? 0),
    tasks_failed_count: Number(r["tasks_failed_count"] ?? 0),
    tasks_memo_count: await ctx.cached(`memo|${runId}`, () => memoCount(ctx, runId)),
    status: verdict.status,
    status_reason: verdict.reason,
    runtime_s: began !== null && end !== null ? Math.max(0, (end - began) / 1000) : null,
  };
}

/** Runs newest first. */
export async function listRuns(ctx: ReadContext, offset: number, limit: number): Promise<Page<WorkflowListItem>> {
  const total = Number((await ctx.db.first<Row>(sql`SELECT COUNT(*) AS n FROM workflow`))?.["n"] ?? 0);
  const rows = await ctx.db.all(
    sql`SELECT ${ctx.workflowColumns()} FROM workflow ORDER BY time_began DESC, run_id LIMIT ${limit} OFFSET ${offset}`,
  );
  // In parallel: on PostgreSQL each entry's few look-ups then share the pool instead of queueing.
  return { total, offset, limit, rows: await Promise.all(rows.map((r) => toListItem(ctx, r))) };
}

/** The run's list entry (status and counts from the workflow row): cheap, for live-update polls. */
export async function runStatus(ctx: ReadContext, runId: string): Promise<WorkflowListItem> {
  return toListItem(ctx, await ctx.workflowRow(runId));
}

/** Tasks per latest state ("unknown" for tasks with no state yet). */
export async function stateCounts(ctx: ReadContext, runId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const add = (rows: Row[]): void => {
    for (const r of rows) {
      const st = r["st"] === null ? "unknown" : String(r["st"]);
      out[st] = (out[st] ?? 0) + Number(r["n"]);
    }
  };
  if (ctx.hasLatestCol) {
    const rows = await ctx.db.all(
      sql`SELECT task_latest_status AS st, COUNT(*) AS n FROM task WHERE run_id = ${runId} GROUP BY task_latest_status`,
    );
    add(rows.filter((r) => r["st"] !== null));
    if (rows.some((r) => r["st"] === null)) {
      add(
        await ctx.db.all(sql`SELECT ${ctx.latestExpr("t")} AS st, COUNT(*) AS n FROM task t
        WHERE t.run_id = ${runId} AND t.task_latest_status IS NULL GROUP BY 1`),
      );
    }
  } else {
    add(
      await ctx.db.all(
        sql`SELECT ${ctx.latestExpr("t")} AS st, COUNT(*) AS n FROM task t WHERE t.run_id = ${runId} GROUP BY 1`,
      ),
    );
  }
  return out;
}

/** Tasks per app, by name. */
export async function appCounts(ctx: ReadContext, runId: string): Promise<{ name: string; count: number }[]> {
  const rows = await ctx.db.all(sql`SELECT task_func_name AS name, COUNT(*) AS n FROM task WHERE run_id = ${runId}
    GROUP BY task_func_name ORDER BY task_func_name`);
  return rows.map((r) => ({ name: String(r["name"]), count: Number(r["n"]) }));
}

/**
 * Tasks per app and per latest state together: with parsl-ts's task_latest_status both come from
 * one pass over the run's (run_id, task_latest_status, task_func_name) index instead of two.
 */
export async function appAndStateCounts(
  ctx: ReadContext,
  runId: string,
): Promise<{ apps: { name: string; count: number }[]; states: Record<string, number> }> {
  if (!ctx.hasLatestCol) {
    const [apps, states] = await Promise.all([appCounts(ctx, runId), stateCounts(ctx, runId)]);
    return { apps, states };
  }
  const rows = await ctx.db.all(sql`SELECT task_func_name AS name, task_latest_status AS st, COUNT(*) AS n FROM task
    WHERE run_id = ${runId} GROUP BY task_func_name, task_latest_status`);
  const perApp = new Map<string, number>();
  const states: Record<string, number> = {};
  let unset = false;
  for (const r of rows) {
    const name = String(r["name"]);
    const n = Number(r["n"]);
    perApp.set(name, (perApp.get(name) ?? 0) + n);
    if (r["st"] === null) unset = true;
    else states[String(r["st"])] = (states[String(r["st"])] ?? 0) + n;
  }
  const apps = [...perApp]
    .map(([name, count]) => ({ name, count }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  // Tasks whose column is not set yet (rows of an older parsl-ts): their state from the status rows, as stateCounts does.
  return { apps, states: unset ? await stateCounts(ctx, runId) : states };
}

export async function runSummary(ctx: ReadContext, runId: string): Promise<WorkflowSummary> {
  const wf = await ctx.workflowRow(runId);
  const { apps, states } = await appAndStateCounts(ctx, runId);
  return {
    workflow: { ...(await toListItem(ctx, wf)), rundir: String(wf["rundir"] ?? "") },
    task_count: apps.reduce((a, b) => a + b.count, 0),
    state_counts: states,
    apps,
    end_ms: await ctx.endMs(runId, wf),
  };
}

/** Mean duration per app over the most recent runs (up to 10) with the same workflow_name. */
export async function appHistory(ctx: ReadContext, runId: string): Promise<AppHistory> {
  const wf = await ctx.workflowRow(runId);
  const name = (wf["workflow_name"] as string | null) ?? null;
  const byName = name === null ? sql`workflow_name IS NULL` : sql`workflow_name = ${name}`;
  const runs = await ctx.db.all<{ run_id: string; time_began: string }>(
    sql`SELECT run_id, time_began FROM workflow WHERE ${byName} ORDER BY time_began DESC, run_id LIMIT 10`,
  );
  const out: AppHistory["runs"] = [];
  const secs = (col: string): Sql => ctx.d.epochSeconds(raw(col));
  for (const r of runs.reverse()) {
    const apps: Record<string, { count: number; mean_s: number | null }> = {};
    for (const a of await appCounts(ctx, r.run_id)) apps[a.name] = { count: a.count, mean_s: null };
    // Mean durations: every task of small runs, every k-th task of huge ones.
    const sample = await ctx.taskSample(r.run_id, "task", "t");
    for (const row of await ctx.db.all(sql`SELECT t.task_func_name AS app,
        AVG(CASE WHEN t.task_time_returned IS NOT NULL AND t.task_time_invoked IS NOT NULL
          THEN ${secs("t.task_time_returned")} - ${secs("t.task_time_invoked")} END) AS mean
      FROM ${sample.from} GROUP BY t.task_func_name`)) {
      const app = String(row["app"]);
      if (apps[app]) apps[app].mean_s = row["mean"] === null ? null : Number(row["mean"]);
    }
    out.push({ run_id: r.run_id, time_began: r.time_began, apps });
  }
  return { workflow_name: name, runs: out };
}
