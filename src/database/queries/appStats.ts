/**
 * For `parsl-ts report`: per-app try durations (min / mean / p50 / p95 / max) and resource peaks,
 * and the failed tasks with every try's evidence. Durations and resources read the run's task
 * sample (ReadContext.taskSample: every task of small runs, a bounded stratified sample of huge
 * ones), so the cost does not grow with the run.
 */
import type { Row } from "../connection.js";
import { list, raw, sql } from "../sql.js";
import type { ReadContext } from "./context.js";
import { runTimeStats } from "./stats.js";
import { naiveToMs } from "./time.js";

export interface AppDurations {
  app: string;
  /** Tries seen (scaled by the sample step). */
  tries: number;
  min_s: number | null;
  mean_s: number | null;
  p50_s: number | null;
  p95_s: number | null;
  max_s: number | null;
  /** Sum of run time over tries (scaled): the app's share of the run's cumulative run time. */
  total_s: number;
  /** Peak resident memory of any try (bytes) and CPU time (user + system, s) per try, from `resource`. */
  peak_rss: number | null;
  mean_cpu_s: number | null;
  max_cpu_s: number | null;
}

export interface AppStats {
  /** 1, or k when every k-th task was read and counts scaled by k. */
  sample_step: number;
  apps: AppDurations[];
}

export async function appStats(ctx: ReadContext, runId: string): Promise<AppStats> {
  // Half the sample budget: percentiles from ~25,000 tasks are as good, and the report's timeline reads the other half's worth.
  const sample = await ctx.taskSample(
    runId,
    "try",
    "y",
    sql`${ctx.d.orderedJoin()} task t ON t.task_id = y.task_id AND ${ctx.runCol("t")} = y.run_id`,
    0.5,
  );
  const k = sample.k;
  const durations = new Map<string, number[]>();
  for (const r of await ctx.db
    .all(sql`SELECT t.task_func_name AS app, y.task_try_time_launched AS l, y.task_try_time_running AS r,
      y.task_try_time_returned AS e FROM ${sample.from}`)) {
    const app = String(r["app"]);
    let d = durations.get(app);
    if (!d) durations.set(app, (d = []));
    const start = naiveToMs(r["r"]) ?? naiveToMs(r["l"]);
    const end = naiveToMs(r["e"]);
    if (start !== null && end !== null) d.push(Math.max(0, (end - start) / 1000));
  }
  const peaks = new Map<string, { rss: number | null; cpu: number[] }>();
  const rs = await ctx.taskSample(
    runId,
    "resource",
    "r",
    sql`${ctx.d.orderedJoin()} task t ON t.task_id = r.task_id AND ${ctx.runCol("t")} = r.run_id`,
    0.4,
  );
  for (const r of await ctx.db.all(sql`SELECT t.task_func_name AS app, MAX(r.psutil_process_memory_resident) AS rss,
      MAX(COALESCE(r.psutil_process_time_user, 0) + COALESCE(r.psutil_process_time_system, 0)) AS cpu
      FROM ${rs.from} GROUP BY t.task_func_name, r.task_id, r.try_id`)) {
    const app = String(r["app"]);
    let p = peaks.get(app);
    if (!p) peaks.set(app, (p = { rss: null, cpu: [] }));
    if (r["rss"] !== null) p.rss = Math.max(p.rss ?? 0, Number(r["rss"]));
    if (r["cpu"] !== null) p.cpu.push(Number(r["cpu"]));
  }
  const names = [...new Set([...durations.keys(), ...peaks.keys()])].sort((a, b) => a.localeCompare(b));
  const apps = names.map((app): AppDurations => {
    const d = durations.get(app) ?? [];
    const p = peaks.get(app);
    const cpu = p?.cpu ?? [];
    return {
      app,
      tries: d.length * k,
      ...runTimeStats(d, k), // the same nearest-rank percentiles as `parsl-ts stats`
      peak_rss: p?.rss ?? null,
      mean_cpu_s: cpu.length ? cpu.reduce((a, b) => a + b, 0) / cpu.length : null,
      max_cpu_s: cpu.length ? Math.max(...cpu) : null,
    };
  });
  return { sample_step: k, apps };
}

export interface FailureTry {
  try_id: number;
  hostname: string | null;
  block_id: string | null;
  exit_code: number | null;
  error_type: string | null;
  error: string | null;
  stderr_tail: string | null;
}

export interface FailureDetail {
  task_id: number;
  app: string;
  args: string | null;
  tries: FailureTry[];
}

/** Failed tasks (latest state `failed`), lowest id first, with their tries; `total` and `dep_fail` count the whole run. */
export async function failureDetails(
  ctx: ReadContext,
  runId: string,
  limit: number,
): Promise<{ total: number; dep_fail: number; tasks: FailureDetail[] }> {
  const complete = await ctx.latestColComplete(runId);
  const st = complete ? sql`t.task_latest_status` : ctx.latestExpr("t");
  const counts = new Map<string, number>();
  for (const r of await ctx.db.all(sql`SELECT ${st} AS st, COUNT(*) AS n FROM task t WHERE t.run_id = ${runId}
      AND ${st} IN ('failed', 'dep_fail') GROUP BY 1`))
    counts.set(String(r["st"]), Number(r["n"]));
  const args = raw(ctx.has("task", "task_args") ? "t.task_args" : "t.task_inputs"); // Python Parsl keeps no positional args
  const rows = await ctx.db.all(sql`SELECT t.task_id, t.task_func_name AS app, ${args} AS args FROM task t
    WHERE t.run_id = ${runId} AND ${st} = 'failed' ORDER BY t.task_id LIMIT ${limit}`);
  const tasks: FailureDetail[] = rows.map((r: Row) => ({
    task_id: Number(r["task_id"]),
    app: String(r["app"]),
    args: (r["args"] as string | null) ?? null,
    tries: [],
  }));
  if (tasks.length > 0) {
    const byId = new Map(tasks.map((t) => [t.task_id, t]));
    const opt = (col: string): ReturnType<typeof raw> => raw(ctx.has("try", col) ? `y.${col}` : "NULL");
    for (const r of await ctx.db
      .all(sql`SELECT y.task_id, y.try_id, y.hostname, y.block_id, y.task_fail_history AS hist,
        ${ctx.exitCodeExpr("y")} AS code, ${opt("task_try_error_type")} AS etype, ${opt("task_try_error")} AS err,
        ${opt("task_try_stderr_tail")} AS tail
        FROM try y WHERE y.run_id = ${runId} AND y.task_id IN ${list([...byId.keys()])} ORDER BY y.task_id, y.try_id`)) {
      const text = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);
      byId.get(Number(r["task_id"]))?.tries.push({
        try_id: Number(r["try_id"]),
        hostname: text(r["hostname"]),
        block_id: text(r["block_id"]),
        exit_code: r["code"] === null || r["code"] === undefined ? null : Number(r["code"]),
        error_type: text(r["etype"]),
        error: text(r["err"]) ?? text(r["hist"]),
        stderr_tail: text(r["tail"]),
      });
    }
  }
  return { total: counts.get("failed") ?? 0, dep_fail: counts.get("dep_fail") ?? 0, tasks };
}
