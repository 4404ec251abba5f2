/**
 * Run statistics, the pegasus-statistics view: tasks and tries per outcome, wall time, cumulative
 * run time and badput, and per-group (app, host, block, executor, hour) run-time distributions with
 * peak memory and CPU time from `resource`.
 *
 * Rules (docs/CLI.md, `parsl-ts stats`):
 * - A try's run time is task_try_time_returned − task_try_time_running; tries without both
 *   (memo hits, tries cut off by a crash) have none.
 * - Try i of a task failed when i < task_fail_count (Parsl retries only after a failure and counts
 *   each one, memo-replayed failures included). A try row counts once the try was launched
 *   (task_try_time_launched set): Python Parsl also writes rows for pending tasks and a
 *   bookkeeping row for each dep_fail task, neither of which ran anything.
 * - Task counts are exact (indexed). Try-level figures read every try of runs up to
 *   `ReadContext.sampleTasks` tasks (exact percentiles); bigger runs read a sample of 20,000
 *   tasks (clusterSample below) and scale counts and sums by k = tasks / 20,000: `sample_step`.
 */
import type { Row } from "../connection.js";
import { raw, sql, type Sql } from "../sql.js";
import type { ReadContext } from "./context.js";
import { appAndStateCounts, stateCounts, toListItem } from "./runs.js";
import { naiveToMs } from "./time.js";
import type { WorkflowListItem } from "./types.js";

export const STATS_GROUPINGS = ["app", "host", "block", "executor", "hour"] as const;
export type StatsGrouping = (typeof STATS_GROUPINGS)[number];

/** Tasks by final outcome. `unfinished`: no final state (pending, launched or running when the run ended, or now). */
export interface TaskOutcomeCounts {
  total: number;
  succeeded: number;
  failed: number;
  dep_fail: number;
  memo: number;
  unfinished: number;
  /** Tasks that ran more than one try (stats: estimated from the sample when `sample_step` > 1). */
  retried: number;
}

/** Launched tries by outcome (estimated from the sample when `sample_step` > 1). */
export interface TryOutcomeCounts {
  total: number;
  succeeded: number;
  failed: number;
  /** Tries of memo_done tasks (answered from the memo table, not run). */
  memo: number;
  unfinished: number;
  /** Tries after a task's first (try_id > 0). */
  retries: number;
}

/** Seconds; null when no try of the group has a run time. Percentiles are nearest-rank. */
export interface RunTimeStats {
  min_s: number | null;
  mean_s: number | null;
  p50_s: number | null;
  p95_s: number | null;
  max_s: number | null;
  total_s: number;
}

export interface StatsGroup {
  /** The app name, host name, `executor/block`, executor label or hour (`YYYY-MM-DD HH:00`, of the try's start); null: not recorded. */
  key: string | null;
  /** app: every task of the app; other groupings: tasks with a try in the group. */
  tasks: number;
  tries: number;
  failed_tries: number;
  /** Tries with a run time (the distribution below is over these). */
  timed_tries: number;
  run_time: RunTimeStats;
  /** Highest resident memory any try of the group reached (bytes); null: no `resource` row. */
  peak_rss_bytes: number | null;
  /**
   * The largest CPU-time reading (user + system, s) of any try of the group; null: no `resource` row.
   * psutil measures the monitored process: for Python Parsl's HTEX that is the long-lived worker,
   * so readings include earlier tasks of the same worker and are not summed.
   */
  cpu_max_s: number | null;
}

export interface RunStats {
  run: WorkflowListItem;
  tasks: TaskOutcomeCounts;
  tries: TryOutcomeCounts;
  /** From the workflow's start to its end (or its last activity, or now while running). */
  wall_time_s: number | null;
  /** Sum of every try's run time. */
  cumulative_run_s: number;
  /** Sum of the run times of failed tries. */
  badput_s: number;
  by: StatsGrouping;
  groups: StatsGroup[];
  /** 1: every try was read (exact). k > 1: try figures were estimated from a sample of `sampled_tasks` tasks (one in k) and scaled by k. */
  sample_step: number;
  sampled_tasks: number;
}

export interface StatsOptions {
  by?: StatsGrouping;
}

/**
 * Huge runs are read in CLUSTERS runs of CLUSTER_IDS consecutive task ids (20,000 tasks), spread
 * evenly over the id range with a pseudo-random offset in each stride. Consecutive ids share
 * database pages (rows are written in id order), so this reads about 250 stretches of pages
 * instead of 20,000 scattered ones: 1.6 s → ~0.1 s at 1M tasks on SQLite's 64 KiB pages (the
 * one-id-per-block sample of ReadContext.taskSample touches a page per task). 250 strata still
 * cover every part of the run (the `hour` grouping) and give percentiles within about a percent.
 */
const CLUSTERS = 250;
const CLUSTER_IDS = 80;

interface ClusterSample {
  /** Scale factor: run tasks per sampled task (1: every task). */
  k: number;
  /** Goes before SELECT (a WITH clause of the cluster starts, or nothing). */
  with: Sql;
  /** FROM clause: `table alias` restricted to the run and the sampled ids, ending in a WHERE condition. */
  from: (table: "task" | "try" | "resource", alias: string) => Sql;
}

async function clusterSample(ctx: ReadContext, runId: string): Promise<ClusterSample> {
  const range = await ctx.taskIdRange(runId);
  const span = range ? range[1] - range[0] + 1 : 0;
  // task's path is its primary key (task_id, run_id): on SQLite its run_id must not tempt the planner into ix_task_run_func.
  const runOf = (t: string, a: string) => (t === "task" ? ctx.runCol(a) : raw(`${a}.run_id`));
  if (!range || span <= CLUSTERS * CLUSTER_IDS || span <= ctx.sampleTasks)
    return { k: 1, with: raw(""), from: (t, a) => sql`${raw(t)} ${raw(a)} WHERE ${raw(a)}.run_id = ${runId}` };
  const stride = Math.floor(span / CLUSTERS);
  const starts: number[] = [];
  for (let i = 0; i < CLUSTERS; i++)
    starts.push(Math.trunc(range[0] + i * stride + (((i * 2654435761) % 1000003) % Math.max(1, stride - CLUSTER_IDS))));
  const k = span / (CLUSTERS * CLUSTER_IDS);
  const ranges = (t: string, a: string) => ctx.d.idRanges(t, a, runOf(t, a), runId, starts, CLUSTER_IDS);
  // Every table's ranges have the same prelude (the starts), so the first one serves for all.
  return { k, with: ranges("task", "t").prelude, from: (t, a) => ranges(t, a).from };
}

interface TryFact {
  task: number;
  tryId: number;
  app: string;
  host: string | null;
  block: string | null;
  executor: string;
  startMs: number | null;
  runS: number | null;
  outcome: "succeeded" | "failed" | "memo" | "unfinished";
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export function runTimeStats(values: number[], scale = 1): RunTimeStats {
  const sorted = [...values].sort((a, b) => a - b);
  const total = sorted.reduce((a, b) => a + b, 0);
  return {
    min_s: sorted.length ? sorted[0]! : null,
    mean_s: sorted.length ? total / sorted.length : null,
    p50_s: percentile(sorted, 0.5),
    p95_s: percentile(sorted, 0.95),
    max_s: sorted.length ? sorted[sorted.length - 1]! : null,
    total_s: total * scale,
  };
}

export function outcomeCounts(states: Record<string, number>, retried: number): TaskOutcomeCounts {
  const total = Object.values(states).reduce((a, b) => a + b, 0);
  const succeeded = states["exec_done"] ?? 0;
  const failed = states["failed"] ?? 0;
  const depFail = states["dep_fail"] ?? 0;
  const memo = states["memo_done"] ?? 0;
  return {
    total,
    succeeded,
    failed,
    dep_fail: depFail,
    memo,
    unfinished: total - succeeded - failed - depFail - memo,
    retried,
  };
}

const hourOf = (ms: number): string => new Date(ms).toISOString().slice(0, 13).replace("T", " ") + ":00";

function keyOf(f: TryFact, by: StatsGrouping): string | null {
  switch (by) {
    case "app":
      return f.app;
    case "host":
      return f.host;
    case "block":
      return f.block === null ? null : `${f.executor}/${f.block}`;
    case "executor":
      return f.executor;
    case "hour":
      return f.startMs === null ? null : hourOf(f.startMs);
  }
}

/** Tasks of the run with more than one try (exact; the whole run's try index is read, so huge runs estimate it from the sample). */
export async function retriedCount(ctx: ReadContext, runId: string): Promise<number> {
  return Number(
    (await ctx.db.first<Row>(sql`SELECT COUNT(*) AS n FROM try WHERE run_id = ${runId} AND try_id = 1`))?.["n"] ?? 0,
  );
}

/** Every (sampled) try with its task's app, outcome and run time; and per try the resource maxima. */
async function readTries(
  ctx: ReadContext,
  runId: string,
): Promise<{
  k: number;
  tasks: number;
  facts: TryFact[];
  res: Map<string, { rss: number | null; cpu: number | null }>;
}> {
  const sample = await clusterSample(ctx, runId);
  // Tries and their tasks are read apart and joined here: each read is one index range per
  // cluster on both dialects, where a join left PostgreSQL's planner free to scan the run.
  const [rows, taskRows, resRows] = await Promise.all([
    ctx.db
      .all(sql`${sample.with}SELECT y.task_id, y.try_id, y.hostname, y.block_id, y.task_executor, y.task_try_time_running AS r,
      y.task_try_time_returned AS e, y.task_try_time_launched AS l FROM ${sample.from("try", "y")}`),
    ctx.db
      .all(sql`${sample.with}SELECT t.task_id, t.task_func_name AS app, t.task_fail_count AS fc, ${ctx.latestExpr("t")} AS st
      FROM ${sample.from("task", "t")}`),
    ctx.db.all(sql`${sample.with}SELECT x.task_id, x.try_id, MAX(x.psutil_process_memory_resident) AS rss,
      MAX(${raw("COALESCE(x.psutil_process_time_user, 0) + COALESCE(x.psutil_process_time_system, 0)")}) AS cpu
    FROM ${sample.from("resource", "x")} GROUP BY x.task_id, x.try_id`),
  ]);
  const taskOf = new Map<number, Row>();
  for (const t of taskRows) taskOf.set(Number(t["task_id"]), t);
  const facts: TryFact[] = [];
  const tasks = new Set<number>();
  for (const y of rows) {
    const task = Number(y["task_id"]);
    const t = taskOf.get(task);
    if (!t) continue; // a try whose task row is not stored (yet)
    const state = t["st"] === null ? null : String(t["st"]);
    if (state === "dep_fail" || y["l"] === null) continue; // a bookkeeping row, or a try not launched yet
    const tryId = Number(y["try_id"]);
    tasks.add(task);
    const s = naiveToMs(y["r"]);
    const e = naiveToMs(y["e"]);
    const outcome: TryFact["outcome"] =
      tryId < Number(t["fc"] ?? 0)
        ? "failed"
        : state === "memo_done"
          ? "memo"
          : state === "exec_done" && e !== null
            ? "succeeded"
            : "unfinished";
    const host = y["hostname"];
    const block = y["block_id"];
    facts.push({
      task,
      tryId,
      app: String(t["app"]),
      host: host === null || host === "" ? null : String(host),
      block: block === null || block === "" ? null : String(block),
      executor: String(y["task_executor"]),
      startMs: s,
      runS: s !== null && e !== null ? Math.max(0, (e - s) / 1000) : null,
      outcome,
    });
  }
  const res = new Map<string, { rss: number | null; cpu: number | null }>();
  for (const r of resRows) {
    res.set(`${String(r["task_id"])}|${String(r["try_id"])}`, {
      rss: r["rss"] === null ? null : Number(r["rss"]),
      cpu: r["cpu"] === null ? null : Number(r["cpu"]),
    });
  }
  return { k: sample.k, tasks: tasks.size, facts, res };
}

export async function runStats(ctx: ReadContext, runId: string, options: StatsOptions = {}): Promise<RunStats> {
  const by = options.by ?? "app";
  const [wf, counts, read] = await Promise.all([
    ctx.workflowRow(runId),
    by === "app" ? appAndStateCounts(ctx, runId) : stateCounts(ctx, runId).then((states) => ({ apps: [], states })),
    readTries(ctx, runId),
  ]);
  const { states, apps } = counts;
  const run = await toListItem(ctx, wf);
  const { k, facts, res } = read;
  const retried = k === 1 ? await retriedCount(ctx, runId) : Math.round(facts.filter((f) => f.tryId === 1).length * k);
  const tries: TryOutcomeCounts = { total: 0, succeeded: 0, failed: 0, memo: 0, unfinished: 0, retries: 0 };
  let cumulative = 0;
  let badput = 0;
  interface Acc {
    tasks: Set<number>;
    tries: number;
    failed: number;
    times: number[];
    rss: number | null;
    cpu: number | null;
  }
  const groups = new Map<string | null, Acc>();
  for (const f of facts) {
    tries[f.outcome] += k;
    tries.total += k;
    if (f.tryId > 0) tries.retries += k;
    if (f.runS !== null) {
      cumulative += f.runS * k;
      if (f.outcome === "failed") badput += f.runS * k;
    }
    const key = keyOf(f, by);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { tasks: new Set(), tries: 0, failed: 0, times: [], rss: null, cpu: null }));
    g.tasks.add(f.task);
    g.tries += k;
    if (f.outcome === "failed") g.failed += k;
    if (f.runS !== null) g.times.push(f.runS);
    const r = res.get(`${f.task}|${f.tryId}`);
    if (r?.rss != null) g.rss = Math.max(g.rss ?? 0, r.rss);
    if (r?.cpu != null) g.cpu = Math.max(g.cpu ?? 0, r.cpu);
  }
  for (const key of ["total", "succeeded", "failed", "memo", "unfinished", "retries"] as const)
    tries[key] = Math.round(tries[key]);
  const appTasks = new Map(apps.map((a) => [a.name, a.count]));
  // Apps whose tasks never tried (all dep_fail, say) still get a row.
  for (const a of apps)
    if (!groups.has(a.name))
      groups.set(a.name, { tasks: new Set(), tries: 0, failed: 0, times: [], rss: null, cpu: null });
  const out: StatsGroup[] = [...groups.entries()].map(([key, g]) => ({
    key,
    tasks: by === "app" ? (appTasks.get(key ?? "") ?? Math.round(g.tasks.size * k)) : Math.round(g.tasks.size * k),
    tries: Math.round(g.tries),
    failed_tries: Math.round(g.failed),
    timed_tries: Math.round(g.times.length * k),
    run_time: runTimeStats(g.times, k),
    peak_rss_bytes: g.rss,
    cpu_max_s: g.cpu,
  }));
  out.sort((a, b) =>
    a.key === null
      ? 1
      : b.key === null
        ? -1
        : by === "hour"
          ? a.key.localeCompare(b.key)
          : b.run_time.total_s - a.run_time.total_s || a.key.localeCompare(b.key),
  );
  return {
    run,
    tasks: outcomeCounts(states, retried),
    tries,
    wall_time_s: run.runtime_s,
    cumulative_run_s: cumulative,
    badput_s: badput,
    by,
    groups: out,
    sample_step: k,
    sampled_tasks: read.tasks,
  };
}

/** When a per-app change counts as a regression (docs/CLI.md states the same rule). */
export const REGRESSION_RULE = {
  /** p50 or p95 run time grew by at least this fraction and … */
  timeRatio: 0.2,
  /** … by at least this many seconds. */
  timeSeconds: 0.5,
  /** Peak memory grew by at least this fraction and … */
  memoryRatio: 0.2,
  /** … by at least this many bytes. */
  memoryBytes: 64 * 1024 ** 2,
  /** The share of failed tries grew by at least this many percentage points. */
  failurePoints: 5,
} as const;

export interface AppChange {
  app: string;
  /** Tasks in the base run and in the other run (0: the app is absent there). */
  tasks: [number, number];
  p50_s: [number | null, number | null];
  p95_s: [number | null, number | null];
  peak_rss_bytes: [number | null, number | null];
  /** Failed tries as a percentage of tries. */
  failed_pct: [number | null, number | null];
  /** Why this app regressed (empty: it did not). */
  regressions: string[];
}

export interface StatsComparison {
  base: RunStats;
  other: RunStats;
  apps: AppChange[];
}

const grew = (a: number | null, b: number | null, ratio: number, abs: number): boolean =>
  a !== null && b !== null && b - a >= abs && b >= a * (1 + ratio);

/** Per-app changes from `base` to `other` (both grouped by app), with regressions flagged by REGRESSION_RULE. */
export function compareStats(base: RunStats, other: RunStats): StatsComparison {
  const ga = new Map(base.groups.map((g) => [g.key ?? "", g]));
  const gb = new Map(other.groups.map((g) => [g.key ?? "", g]));
  const names = [...new Set([...ga.keys(), ...gb.keys()])].sort();
  const pct = (g: StatsGroup | undefined): number | null =>
    g && g.tries > 0 ? (100 * g.failed_tries) / g.tries : null;
  const R = REGRESSION_RULE;
  const apps = names.map((app): AppChange => {
    const a = ga.get(app);
    const b = gb.get(app);
    const c: AppChange = {
      app,
      tasks: [a?.tasks ?? 0, b?.tasks ?? 0],
      p50_s: [a?.run_time.p50_s ?? null, b?.run_time.p50_s ?? null],
      p95_s: [a?.run_time.p95_s ?? null, b?.run_time.p95_s ?? null],
      peak_rss_bytes: [a?.peak_rss_bytes ?? null, b?.peak_rss_bytes ?? null],
      failed_pct: [pct(a), pct(b)],
      regressions: [],
    };
    if (grew(c.p50_s[0], c.p50_s[1], R.timeRatio, R.timeSeconds)) c.regressions.push("p50 run time");
    if (grew(c.p95_s[0], c.p95_s[1], R.timeRatio, R.timeSeconds)) c.regressions.push("p95 run time");
    if (grew(c.peak_rss_bytes[0], c.peak_rss_bytes[1], R.memoryRatio, R.memoryBytes)) c.regressions.push("peak memory");
    if (c.failed_pct[0] !== null && c.failed_pct[1] !== null && c.failed_pct[1] - c.failed_pct[0] >= R.failurePoints)
      c.regressions.push("failed tries");
    return c;
  });
  return { base, other, apps };
}

export interface RunSelection {
  /** Only runs of this workflow name. */
  workflow?: string;
  /** The newest this many runs (default 20). */
  limit?: number;
}

/** The statistics of many runs, newest first (for a summary line each). */
export async function statsOfRuns(ctx: ReadContext, selection: RunSelection = {}): Promise<RunStats[]> {
  const byName = selection.workflow === undefined ? sql`` : sql` WHERE workflow_name = ${selection.workflow}`;
  const ids = await ctx.db.all<{ run_id: string }>(sql`SELECT run_id FROM workflow${byName}
    ORDER BY time_began DESC, run_id DESC LIMIT ${selection.limit ?? 20}`);
  const out: RunStats[] = [];
  for (const r of ids) out.push(await runStats(ctx, r.run_id, { by: "app" })); // one at a time: each already queries in parallel
  return out;
}
