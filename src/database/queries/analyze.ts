/**
 * Failure analysis, the pegasus-analyzer view: which tasks failed, with the evidence of every try,
 * and the dep_fail cascades grouped under the failure(s) at their root.
 *
 * Roots: every `failed` task is a root failure. A `dep_fail` task's roots are found by walking
 * task_depends: a failed dependency is a root; a dep_fail dependency contributes its own roots.
 * Parsl numbers a task after its dependencies, so one pass in task-id order resolves the whole
 * closure without recursion. dep_fail tasks none of whose dependencies failed (their dependency
 * records are missing) are counted together as "unexplained". A cascade is one entry: the count
 * of dep_fail tasks under the root and their apps, never one line per task.
 *
 * Evidence per try: parsl-ts columns (error type, error, exit code, stderr tail) where the
 * database has them; Python Parsl's task_fail_history otherwise (its error type is the repr's
 * class name). The batch job id comes from `block` (executor, block id).
 */
import type { Row } from "../connection.js";
import { list, raw, sql, type Sql } from "../sql.js";
import type { ReadContext } from "./context.js";
import { outcomeCounts, type TaskOutcomeCounts } from "./stats.js";
import { stateCounts, toListItem } from "./runs.js";
import { parseDepends } from "./tasks.js";
import { naiveToMs } from "./time.js";
import type { WorkflowListItem } from "./types.js";

/** Roots shown in full by default; the rest are counted. */
export const DEFAULT_FAILURES_SHOWN = 10;
/** Per root, at most this many of its tries are shown (the first and the last ones). */
export const MAX_TRIES_SHOWN = 6;
/** A dep_fail task's root set is cut at this size (a fan-in of many failures). */
const MAX_ROOTS_PER_TASK = 64;

export interface FailedTry {
  try_id: number;
  executor: string;
  host: string | null;
  block_id: string | null;
  /** The batch job id of the block (from `block`); null: not recorded. */
  job_id: string | null;
  launched: string | null;
  running: string | null;
  returned: string | null;
  run_s: number | null;
  /** Whether this try failed (try_id < task_fail_count). */
  failed: boolean;
  exit_code: number | null;
  error_type: string | null;
  /** parsl-ts: the error's message (and stack); Python Parsl: the try's task_fail_history. */
  error: string | null;
  stderr_tail: string | null;
  stdout_tail: string | null;
}

export interface DependentCascade {
  /** dep_fail tasks under this root (directly or through other dep_fail tasks). */
  count: number;
  apps: { app: string; count: number }[];
  /** The first few of them, by id. */
  first_ids: number[];
}

export interface RootFailure {
  task_id: number;
  app: string;
  /** parsl-ts: the bounded repr of the positional arguments; Python Parsl: null. */
  args: string | null;
  inputs: string | null;
  stdout: string | null;
  stderr: string | null;
  fail_count: number;
  /** Shown tries (at most MAX_TRIES_SHOWN: the first and the last), oldest first. */
  tries: FailedTry[];
  tries_total: number;
  dependents: DependentCascade;
}

export interface FailureKind {
  app: string;
  error_type: string | null;
  count: number;
}

export interface RunAnalysis {
  run: WorkflowListItem;
  tasks: TaskOutcomeCounts;
  /** Root failures: the failed tasks. */
  roots_total: number;
  /** dep_fail tasks none of whose dependencies is recorded as failed or dep_fail (one entry, however many). */
  unexplained_dep_fail: DependentCascade;
  /** The most consequential roots: most dependents first, then by task id. */
  failures: RootFailure[];
  /** Failed tasks per app and error type of their last try (most first). */
  kinds: FailureKind[];
  /** dep_fail tasks that share more than one root (each counted under every root it has). */
  dep_fail_multi_root: number;
}

export interface AnalyzeOptions {
  /** How many root failures to show in full (default DEFAULT_FAILURES_SHOWN). */
  limit?: number;
}

/** Python Parsl's repr `ValueError('boom')` → `ValueError`. */
export function errorTypeFromRepr(text: unknown): string | null {
  if (typeof text !== "string") return null;
  const m = /^\s*([A-Za-z_][\w.]*)\s*\(/.exec(text);
  return m ? m[1]! : null;
}

async function tasksInState(ctx: ReadContext, runId: string, state: string, withDepends: boolean): Promise<Row[]> {
  const cols = withDepends ? sql`t.task_id, t.task_func_name, t.task_depends` : sql`t.task_id, t.task_func_name`;
  const where: Sql = (await ctx.latestColComplete(runId))
    ? sql`t.task_latest_status = ${state}`
    : sql`${ctx.latestExpr("t")} = ${state}`;
  return ctx.db.all(sql`SELECT ${cols} FROM task t WHERE t.run_id = ${runId} AND ${where} ORDER BY t.task_id`);
}

export async function analyzeRun(ctx: ReadContext, runId: string, options: AnalyzeOptions = {}): Promise<RunAnalysis> {
  const limit = options.limit ?? DEFAULT_FAILURES_SHOWN;
  const [wf, states, retried, failedRows, depRows] = await Promise.all([
    ctx.workflowRow(runId),
    stateCounts(ctx, runId),
    ctx.db.first<Row>(sql`SELECT COUNT(*) AS n FROM try WHERE run_id = ${runId} AND try_id = 1`),
    tasksInState(ctx, runId, "failed", false),
    tasksInState(ctx, runId, "dep_fail", true),
  ]);
  const appOf = new Map<number, string>();
  const failed = new Set<number>();
  for (const r of failedRows) {
    const id = Number(r["task_id"]);
    failed.add(id);
    appOf.set(id, String(r["task_func_name"]));
  }
  // Roots of each dep_fail task, in id order (dependencies come first).
  const rootsOf = new Map<number, number[]>();
  const unexplained: number[] = [];
  let multi = 0;
  for (const r of depRows) {
    const id = Number(r["task_id"]);
    appOf.set(id, String(r["task_func_name"]));
    const roots = new Set<number>();
    for (const p of parseDepends(r["task_depends"])) {
      if (roots.size >= MAX_ROOTS_PER_TASK) break;
      if (failed.has(p)) roots.add(p);
      else
        for (const x of rootsOf.get(p) ?? []) {
          roots.add(x);
          if (roots.size >= MAX_ROOTS_PER_TASK) break;
        }
    }
    if (roots.size === 0) unexplained.push(id);
    if (roots.size > 1) multi++;
    rootsOf.set(id, [...roots]);
  }
  // Cascades: per root, its dep_fail tasks.
  const cascades = new Map<number, Cascade>();
  const add = (c: Cascade, id: number): void => {
    c.count++;
    const app = appOf.get(id)!;
    c.apps.set(app, (c.apps.get(app) ?? 0) + 1);
    if (c.first.length < 5) c.first.push(id);
  };
  for (const [id, roots] of rootsOf) {
    for (const root of roots) {
      let c = cascades.get(root);
      if (!c) cascades.set(root, (c = { count: 0, apps: new Map(), first: [] }));
      add(c, id);
    }
  }
  const lost: Cascade = { count: 0, apps: new Map(), first: [] };
  for (const id of unexplained) add(lost, id);
  const rootIds = [...failed];
  const dependentsOf = (id: number): number => cascades.get(id)?.count ?? 0;
  rootIds.sort((a, b) => dependentsOf(b) - dependentsOf(a) || a - b);
  const shown = rootIds.slice(0, Math.max(0, limit));
  const [details, kinds] = await Promise.all([rootDetails(ctx, runId, shown), failureKinds(ctx, runId, failed.size)]);
  const failures: RootFailure[] = shown.map((id) => {
    const c = cascades.get(id);
    const d = details.get(id);
    return {
      task_id: id,
      app: appOf.get(id) ?? "",
      args: d?.args ?? null,
      inputs: d?.inputs ?? null,
      stdout: d?.stdout ?? null,
      stderr: d?.stderr ?? null,
      fail_count: d?.failCount ?? 0,
      tries: d?.tries ?? [],
      tries_total: d?.triesTotal ?? 0,
      dependents: cascade(c ?? { count: 0, apps: new Map(), first: [] }),
    };
  });
  return {
    run: await toListItem(ctx, wf),
    tasks: outcomeCounts(states, Number(retried?.["n"] ?? 0)),
    roots_total: rootIds.length,
    unexplained_dep_fail: cascade(lost),
    failures,
    kinds,
    dep_fail_multi_root: multi,
  };
}

interface Cascade {
  count: number;
  apps: Map<string, number>;
  first: number[];
}

function cascade(c: Cascade): DependentCascade {
  return {
    count: c.count,
    apps: [...c.apps.entries()]
      .map(([app, count]) => ({ app, count }))
      .sort((a, b) => b.count - a.count || a.app.localeCompare(b.app)),
    first_ids: c.first,
  };
}

const text = (v: unknown): string | null => (v === null || v === undefined || v === "" ? null : String(v));

interface RootDetail {
  args: string | null;
  inputs: string | null;
  stdout: string | null;
  stderr: string | null;
  failCount: number;
  tries: FailedTry[];
  triesTotal: number;
}

async function rootDetails(ctx: ReadContext, runId: string, ids: number[]): Promise<Map<number, RootDetail>> {
  const out = new Map<number, RootDetail>();
  if (ids.length === 0) return out;
  const has = (c: string): boolean => ctx.has("try", c);
  const opt = (c: string): Sql => raw(has(c) ? `y.${c}` : "NULL"); // c: a constant column name
  const taskArgs = ctx.has("task", "task_args") ? sql`t.task_args` : sql`NULL`;
  const jobs = new Map<string, string>();
  for (const b of await ctx.db.all(
    sql`SELECT executor_label, block_id, job_id FROM block WHERE run_id = ${runId} AND job_id IS NOT NULL`,
  )) {
    jobs.set(`${String(b["executor_label"])}|${String(b["block_id"])}`, String(b["job_id"]));
  }
  for (const r of await ctx.db
    .all(sql`SELECT t.task_id, ${taskArgs} AS args, t.task_inputs, t.task_stdout, t.task_stderr, t.task_fail_count
      FROM task t WHERE ${ctx.runCol("t")} = ${runId} AND t.task_id IN ${list(ids)}`)) {
    out.set(Number(r["task_id"]), {
      args: text(r["args"]),
      inputs: r["task_inputs"] === "None" ? null : text(r["task_inputs"]),
      stdout: text(r["task_stdout"]),
      stderr: text(r["task_stderr"]),
      failCount: Number(r["task_fail_count"] ?? 0),
      tries: [],
      triesTotal: 0,
    });
  }
  const all = await ctx.db
    .all(sql`SELECT y.task_id, y.try_id, y.task_executor, y.hostname, y.block_id, y.task_try_time_launched AS l,
      y.task_try_time_running AS r, y.task_try_time_returned AS e, y.task_fail_history AS h,
      ${ctx.exitCodeExpr("y")} AS exit_code, ${opt("task_try_error_type")} AS error_type, ${opt("task_try_error")} AS error,
      ${opt("task_try_stderr_tail")} AS stderr_tail, ${opt("task_try_stdout_tail")} AS stdout_tail
    FROM try y WHERE y.run_id = ${runId} AND y.task_id IN ${list(ids)} ORDER BY y.task_id, y.try_id`);
  for (const r of all) {
    const d = out.get(Number(r["task_id"]));
    if (!d) continue;
    d.triesTotal++;
    const s = naiveToMs(r["r"]);
    const e = naiveToMs(r["e"]);
    const tryId = Number(r["try_id"]);
    const failed = tryId < d.failCount;
    // parsl-ts writes the cumulative history on every try: only its own error columns describe one try.
    const ownError = text(r["error"]) ?? (text(r["error_type"]) === null && failed ? text(r["h"]) : null);
    const executor = String(r["task_executor"]);
    const block = text(r["block_id"]);
    d.tries.push({
      try_id: tryId,
      executor,
      host: text(r["hostname"]),
      block_id: block,
      job_id: block === null ? null : (jobs.get(`${executor}|${block}`) ?? null),
      launched: text(r["l"]),
      running: text(r["r"]),
      returned: text(r["e"]),
      run_s: s !== null && e !== null ? Math.max(0, (e - s) / 1000) : null,
      failed,
      exit_code: r["exit_code"] === null || r["exit_code"] === undefined ? null : Number(r["exit_code"]),
      error_type: text(r["error_type"]) ?? (failed ? errorTypeFromRepr(ownError) : null),
      error: ownError,
      stderr_tail: text(r["stderr_tail"]),
      stdout_tail: text(r["stdout_tail"]),
    });
  }
  for (const d of out.values()) {
    if (d.tries.length > MAX_TRIES_SHOWN) d.tries = [...d.tries.slice(0, 2), ...d.tries.slice(-(MAX_TRIES_SHOWN - 2))];
  }
  return out;
}

/** Failed tasks per (app, error type of the last try), most first: one grouped query, whatever the number of failures. */
async function failureKinds(ctx: ReadContext, runId: string, failedCount: number): Promise<FailureKind[]> {
  if (failedCount === 0) return [];
  const isFailed = (await ctx.latestColComplete(runId))
    ? sql`t.task_latest_status = 'failed'`
    : sql`${ctx.latestExpr("t")} = 'failed'`;
  // The last try of a failed task is try task_fail_count − 1 (every try failed). Without an error type
  // (Python Parsl) the history text is grouped and its class name parsed here.
  const hist = sql`CASE WHEN y.task_try_error_type IS NULL THEN y.task_fail_history END`;
  const [et, h] = ctx.has("try", "task_try_error_type")
    ? [sql`y.task_try_error_type`, hist]
    : [null, sql`y.task_fail_history`];
  const rows = await ctx.db.all(sql`SELECT t.task_func_name AS app, ${et ?? sql`NULL`} AS et, ${h} AS h, COUNT(*) AS n
    FROM task t ${ctx.d.orderedJoin()} try y ON y.run_id = t.run_id AND y.task_id = t.task_id AND y.try_id = t.task_fail_count - 1
    WHERE t.run_id = ${runId} AND ${isFailed} GROUP BY t.task_func_name, ${et === null ? h : sql`${et}, ${h}`}`);
  const counts = new Map<string, FailureKind>();
  for (const r of rows) {
    const app = String(r["app"]);
    const et = text(r["et"]) ?? errorTypeFromRepr(r["h"]);
    const key = `${app}\u0000${et ?? ""}`;
    const k = counts.get(key);
    if (k) k.count += Number(r["n"]);
    else counts.set(key, { app, error_type: et, count: Number(r["n"]) });
  }
  // Failed tasks whose last try row is missing still count, as an unknown error.
  const seen = [...counts.values()].reduce((a, b) => a + b.count, 0);
  if (seen < failedCount)
    counts.set("\u0000?", { app: "(last try not recorded)", error_type: null, count: failedCount - seen });
  return [...counts.values()].sort((a, b) => b.count - a.count || a.app.localeCompare(b.app));
}
