/**
 * Time views of a run: the Gantt rows (one per task, Parsl's state segments) and the number of
 * tries running over time per app. Bucketing and integration happen here, once; the database
 * only groups.
 */
import type { Row } from "../connection.js";
import { list, raw, sql, type Sql } from "../sql.js";
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
export async function gantt(ctx: ReadContext, runId: string, from: number | null, to: number | null, maxRows: number): Promise<GanttData> {
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
  const d = ctx.d;
  const secs = (col: string): Sql => d.epochSeconds(raw(col));
  const wf = await ctx.workflowRow(runId);
  const sample = await ctx.taskSample(runId, "try", "y");
  const span = (await ctx.db.first<Row>(sql`SELECT MIN(y.task_try_time_running) AS lo,
      MAX(COALESCE(y.task_try_time_returned, y.task_try_time_running)) AS hi
    FROM ${sample.from} AND y.task_try_time_running IS NOT NULL`)) ?? {};
  const startMs = naiveToMs(span["lo"]);
  if (startMs === null) return { start_ms: 0, bucket_s: 1, series: [], sample_step: sample.k };
  const endFallback = (await ctx.endMs(runId, wf)) ?? naiveToMs(span["hi"]) ?? startMs;
  const endMs = Math.max(naiveToMs(span["hi"]) ?? startMs, endFallback);
  const b = bucketSize((endMs - startMs) / 1000);
  const n = Math.floor((endMs - startMs) / 1000 / b) + 1;
  const start = startMs / 1000;
  const endS = endFallback / 1000;
  const joined = await ctx.taskSample(runId, "try", "y", sql`${d.orderedJoin()} task t ON t.task_id = y.task_id AND ${ctx.runCol("t")} = y.run_id`);
  // Each try contributes the fraction of every bucket it overlaps, so the value is the mean number
  // of tries running during the bucket. Grouping by (first, last bucket) keeps the result small; the
  // uncovered parts of the first and last bucket come back as sums and are subtracted.
  const rows = await ctx.db.all(sql`SELECT app, bs, be, COUNT(*) AS c, SUM(us - bs) AS head, SUM(be + 1 - ue) AS tail FROM (
      SELECT app, us, ue, ${d.truncInt(raw("us"))} AS bs, ${d.truncInt(raw("ue"))} AS be FROM (
        SELECT app, (s - ${start}) / ${b} AS us, (${d.greatest(raw("e"), raw("s"))} - ${start}) / ${b} AS ue FROM (
          SELECT t.task_func_name AS app, ${secs("y.task_try_time_running")} AS s,
            COALESCE(${secs("y.task_try_time_returned")}, ${endS}) AS e
          FROM ${joined.from} AND y.task_try_time_running IS NOT NULL) q1) q2) q3
    GROUP BY app, bs, be`);
  const k = sample.k;
  const diffs = new Map<string, number[]>();
  const all = new Array<number>(n + 1).fill(0);
  const fixes = new Map<string, number[]>();
  const allFix = new Array<number>(n).fill(0);
  for (const r of rows) {
    const app = String(r["app"]);
    const bs = Number(r["bs"]);
    const be = Number(r["be"]);
    const c = Number(r["c"]);
    const head = Number(r["head"]);
    const tail = Number(r["tail"]);
    let dd = diffs.get(app);
    if (!dd) diffs.set(app, (dd = new Array<number>(n + 1).fill(0)));
    let f = fixes.get(app);
    if (!f) fixes.set(app, (f = new Array<number>(n).fill(0)));
    const s0 = Math.min(n - 1, Math.max(0, bs));
    const e0 = Math.min(n - 1, Math.max(s0, be));
    dd[s0]! += c; dd[e0 + 1]! -= c;
    all[s0]! += c; all[e0 + 1]! -= c;
    f[s0]! -= head; f[e0]! -= tail;
    allFix[s0]! -= head; allFix[e0]! -= tail;
  }
  const integrate = (dd: number[], fix: number[]): number[] => {
    const out = new Array<number>(n);
    let acc = 0;
    for (let i = 0; i < n; i++) { acc += dd[i]!; out[i] = Math.max(0, Math.round((acc + fix[i]!) * k * 1000) / 1000); }
    return out;
  };
  const series = [{ name: "All", values: integrate(all, allFix) }];
  for (const [app, dd] of [...diffs.entries()].sort((a, c) => a[0].localeCompare(c[0]))) series.push({ name: app, values: integrate(dd, fixes.get(app)!) });
  return { start_ms: startMs, bucket_s: b, series, sample_step: k };
}
