/**
 * What `parsl-ts watch` polls: tasks per app and latest state (exact; on parsl-ts databases an
 * index-only scan of ix_task_run_latest_status), and the newest failed tasks with their error.
 */
import type { Row } from "../connection.js";
import { list, raw, sql } from "../sql.js";
import type { ReadContext } from "./context.js";

export interface AppStateCount {
  app: string;
  state: string | null;
  n: number;
}

export async function appStateCounts(ctx: ReadContext, runId: string): Promise<AppStateCount[]> {
  const state = (await ctx.latestColComplete(runId)) ? sql`t.task_latest_status` : ctx.latestExpr("t");
  const rows = await ctx.db.all(sql`SELECT t.task_func_name AS app, ${state} AS st, COUNT(*) AS n FROM task t
    WHERE t.run_id = ${runId} GROUP BY 1, 2`);
  return rows.map((r) => ({ app: String(r["app"]), state: (r["st"] as string | null) ?? null, n: Number(r["n"]) }));
}

export interface FailureBrief {
  task_id: number;
  app: string;
  state: string;
  error: string;
}

/**
 * The newest `limit` tasks that ended `failed` (dep_fail too when `withDepFail`), newest id first,
 * with their last try's error: parsl-ts's task_try_error, else Parsl's task_fail_history.
 */
export async function latestFailures(
  ctx: ReadContext,
  runId: string,
  limit: number,
  withDepFail = false,
): Promise<FailureBrief[]> {
  const states = withDepFail ? ["failed", "dep_fail"] : ["failed"];
  const st = (await ctx.latestColComplete(runId)) ? sql`t.task_latest_status` : ctx.latestExpr("t");
  const rows = await ctx.db.all(sql`SELECT t.task_id, t.task_func_name AS app, ${st} AS st FROM task t
    WHERE t.run_id = ${runId} AND ${st} IN ${list(states)} ORDER BY t.task_id DESC LIMIT ${limit}`);
  if (rows.length === 0) return [];
  const errCol = ctx.has("try", "task_try_error")
    ? raw("COALESCE(y.task_try_error, y.task_fail_history)")
    : raw("y.task_fail_history");
  const errors = new Map<number, string>();
  for (const r of await ctx.db.all(sql`SELECT y.task_id, y.try_id, ${errCol} AS err FROM try y
      WHERE y.run_id = ${runId} AND y.task_id IN ${list(rows.map((r) => Number(r["task_id"])))} ORDER BY y.task_id, y.try_id`)) {
    const e = r["err"];
    if (typeof e === "string" && e !== "") errors.set(Number(r["task_id"]), e); // the last try with an error wins
  }
  return rows.map((r: Row) => ({
    task_id: Number(r["task_id"]),
    app: String(r["app"]),
    state: String(r["st"]),
    error: errors.get(Number(r["task_id"])) ?? String(r["st"]),
  }));
}
