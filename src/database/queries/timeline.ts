/**
 * Time views of a run: the Gantt rows (one per task, Parsl's state segments) and the number of
 * tries running over time per app. Bucketing and integration happen here, once; the database
 * only groups.
 */
import { list, sql } from "../sql.js";
import type { ReadContext } from "./context.js";
import { appsOf } from "./tasks.js";
import { naiveToMs } from "./time.js";
import type { GanttData, TimeSeries } from "./types.js";

export const MAX_BUCKETS = 400;

/** A "nice" bucket width (s) giving at most about MAX_BUCKETS buckets over `spanS`. */
export function bucketSize(spanS: number, minS = 1): number {
  const raw = Math.max(minS, spanS / MAX_BUCKETS);
  const nice = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400];
  return nice.find((n) => n >= raw) ?? Math.ceil(raw / 86400) * 86400;
}

/** Rows for task ids `from`..`to` (whole run when null), every step-th id so at most `maxRows` come back. */
export async function gantt(
  ctx: ReadContext,
  runId: string,
  from: number | null,
  to: number | null,
  maxRows: number,
): Promise<GanttData> {
  const wf = await ctx.workflowRow(runId);
  const end = await ctx.endMs(runId, wf);
  const range = await ctx.taskIdRange(runId);
  if (!range) return { task_min: 0, task_max: -1, from: 0, to: -1, step: 1, end_ms: end, rows: [] };
  const lo = Math.max(range[0], from ?? range[0]);
  const hi = Math.min(range[1], to ?? range[1]);
  const step = Math.max(1, Math.ceil((hi - lo + 1) / maxRows));
  const ids: number[] = [];
  for (let id = lo; id <= hi && ids.length < maxRows; id += step) ids.push(id);
  const rows: GanttData["rows"] = [];
  if (ids.length > 0) {
    const apps = await appsOf(ctx, runId, ids);
    const byTask = new Map<number, [string, number][]>();
    for (const r of await ctx.db.all(sql`SELECT s.task_id, s.task_status_name, s.timestamp FROM status s
        WHERE ${ctx.runCol("s")} = ${runId} AND s.task_id IN ${list(ids)} ORDER BY s.task_id, ${ctx.statusOrder("s")}`)) {
      const ms = naiveToMs(r["timestamp"]);
      if (ms === null) continue;
      const tid = Number(r["task_id"]);
      let l = byTask.get(tid);
      if (!l) byTask.set(tid, (l = []));
      l.push([String(r["task_status_name"]), ms]);
    }
    for (const id of ids) {
      const app = apps.get(id);
      if (app === undefined) continue;
      const states = byTask.get(id) ?? [];
      const segs: [string, number, number][] = [];
      for (let i = 0; i < states.length; i++) {
        const [st, t0] = states[i]!;
        const t1 = i + 1 < states.length ? states[i + 1]![1] : Math.max(t0, end ?? t0);
        segs.push([st, t0, t1]);
      }
      rows.push({ task_id: id, app, segs });
    }
  }
  return { task_min: range[0], task_max: range[1], from: lo, to: hi, step, end_ms: end, rows };
}

/** Mean tries running per time bucket: an "All" series and one per app (Parsl's "Execution tries per app"). */
export async function triesOverTime(ctx: ReadContext, runId: string): Promise<TimeSeries> {
  const wf = await ctx.workflowRow(runId);
  // One pass over the sampled tries (at most about sampleTasks rows); the bucketing is done here, in
  // one place for both dialects, on the exact stored times. (Two passes, one for the span and one
  // grouped by bucket, cost twice the index look-ups: 3.3 s cold on PostgreSQL at 1M tasks.)
  const sample = await ctx.taskSample(
    runId,
    "try",
    "y",
    sql`${ctx.d.orderedJoin()} task t ON t.task_id = y.task_id AND ${ctx.runCol("t")} = y.run_id`,
  );
  const rows = await ctx.db
    .all(sql`SELECT t.task_func_name AS app, y.task_try_time_running AS r, y.task_try_time_returned AS e
    FROM ${sample.from} AND y.task_try_time_running IS NOT NULL`);
  const k = sample.k;
  const tries: { app: string; s: number; e: number | null }[] = [];
  let startMs = Infinity;
  let hiMs = -Infinity;
  for (const r of rows) {
    const s = naiveToMs(r["r"]);
    if (s === null) continue;
    const e = naiveToMs(r["e"]);
    tries.push({ app: String(r["app"]), s, e });
    if (s < startMs) startMs = s;
    const last = e ?? s;
    if (last > hiMs) hiMs = last;
  }
  if (tries.length === 0) return { start_ms: 0, bucket_s: 1, series: [], sample_step: k };
  const endFallback = (await ctx.endMs(runId, wf)) ?? hiMs;
  const endMs = Math.max(hiMs, endFallback);
  const b = bucketSize((endMs - startMs) / 1000);
  const n = Math.floor((endMs - startMs) / 1000 / b) + 1;
  // Each try contributes the fraction of every bucket it overlaps, so the value is the mean number
  // of tries running during the bucket: +1 from its first to its last bucket (difference arrays),
  // minus the uncovered parts of the first and last bucket. A try still running ends at endFallback.
  const diffs = new Map<string, number[]>();
  const fixes = new Map<string, number[]>();
  const all = new Array<number>(n + 1).fill(0);
  const allFix = new Array<number>(n).fill(0);
  for (const { app, s, e } of tries) {
    let dd = diffs.get(app);
    if (!dd) diffs.set(app, (dd = new Array<number>(n + 1).fill(0)));
    let f = fixes.get(app);
    if (!f) fixes.set(app, (f = new Array<number>(n).fill(0)));
    const us = (s - startMs) / 1000 / b;
    const ue = (Math.max(e ?? endFallback, s) - startMs) / 1000 / b;
    const bs = Math.trunc(us);
    const be = Math.trunc(ue);
    const s0 = Math.min(n - 1, Math.max(0, bs));
    const e0 = Math.min(n - 1, Math.max(s0, be));
    dd[s0]! += 1;
    dd[e0 + 1]! -= 1;
    all[s0]! += 1;
    all[e0 + 1]! -= 1;
    f[s0]! -= us - bs;
    f[e0]! -= be + 1 - ue;
    allFix[s0]! -= us - bs;
    allFix[e0]! -= be + 1 - ue;
  }
  const integrate = (dd: number[], fix: number[]): number[] => {
    const out = new Array<number>(n);
    let acc = 0;
    for (let i = 0; i < n; i++) {
      acc += dd[i]!;
      out[i] = Math.max(0, Math.round((acc + fix[i]!) * k * 1000) / 1000);
    }
    return out;
  };
  const series = [{ name: "All", values: integrate(all, allFix) }];
  for (const [app, dd] of [...diffs.entries()].sort((a, c) => a[0].localeCompare(c[0])))
    series.push({ name: app, values: integrate(dd, fixes.get(app)!) });
  return { start_ms: startMs, bucket_s: b, series, sample_step: k };
}
