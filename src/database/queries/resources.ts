/**
 * Resource usage of a run: capacity from `node`, CPU and memory over time and per-task
 * distributions from `resource` (sampled on huge runs), busy workers from the tries timeline.
 */
import type { Row } from "../connection.js";
import { raw, sql } from "../sql.js";
import type { ReadContext } from "./context.js";
import { bucketSize, triesOverTime } from "./timeline.js";
import { naiveToMs } from "./time.js";
import type { Histogram, ResourceData, TimeSeries } from "./types.js";

/** 20 equal-width bins over [min, max] (one bin if all equal); counts scaled by `scale` for sampled input. */
export function histogram(values: number[], label: string, xLabel: string, scale = 1): Histogram {
  if (values.length === 0) return { label, x_label: xLabel, edges: [], counts: [] };
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const bins = lo === hi ? 1 : 20;
  const width = bins === 1 ? 1 : (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.floor((v - lo) / width))]! += scale;
  const edges = Array.from({ length: bins }, (_, i) => lo + i * width);
  return { label, x_label: xLabel, edges, counts };
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export async function resources(ctx: ReadContext, runId: string, tries?: TimeSeries): Promise<ResourceData> {
  const d = ctx.d;
  const db = ctx.db;
  const t = tries ?? (await triesOverTime(ctx, runId));
  const workers: TimeSeries = { ...t, series: t.series.filter((x) => x.name === "All") };
  const cap =
    (await db.first<Row>(sql`SELECT
      (SELECT COALESCE(SUM(w), 0) FROM (SELECT MAX(worker_count) AS w FROM node WHERE run_id = ${runId} GROUP BY uid) a) AS workers,
      (SELECT COALESCE(SUM(c), 0) FROM (SELECT MAX(cpu_count) AS c FROM node WHERE run_id = ${runId} GROUP BY hostname) b) AS cores,
      (SELECT COALESCE(SUM(m), 0) FROM (SELECT MAX(total_memory) AS m FROM node WHERE run_id = ${runId} GROUP BY hostname) c) AS mem`)) ??
    {};
  // Resource rows are several per try and read by four queries: a smaller share of the budget.
  const rs = await ctx.taskSample(runId, "resource", "r", raw(""), 0.4);
  const k = rs.k;
  const span =
    (await db.first<Row>(sql`SELECT MIN(r.timestamp) AS lo, MAX(r.timestamp) AS hi, MAX(r.resource_monitoring_interval) AS iv,
      COUNT(*) AS n FROM ${rs.from}`)) ?? {};
  const nodes =
    await db.all(sql`SELECT hostname, uid, block_id, MAX(cpu_count) AS cpu_count, MAX(total_memory) AS total_memory,
      MAX(worker_count) AS worker_count, MIN(timestamp) AS first_seen, MAX(timestamp) AS last_seen, COUNT(*) AS events
    FROM node WHERE run_id = ${runId} GROUP BY uid, hostname, block_id ORDER BY first_seen, uid, hostname, block_id LIMIT 200`);
  const blockTie = d.insertionOrder("block") ?? raw("block_id, executor_label, status");
  const blocks =
    await db.all(sql`SELECT executor_label, block_id, job_id, timestamp, status FROM block WHERE run_id = ${runId}
    ORDER BY timestamp, ${blockTie} LIMIT 500`);
  const lo = naiveToMs(span["lo"]);
  const hi = naiveToMs(span["hi"]);
  const empty = (): TimeSeries => ({ start_ms: 0, bucket_s: 1, series: [] });
  let cpu = empty();
  let memory = empty();
  const cpuMax: number[] = [];
  const memAvg: number[] = [];
  const memMax: number[] = [];
  if (lo !== null && hi !== null) {
    const b = bucketSize((hi - lo) / 1000, Math.max(1, Number(span["iv"] ?? 1)));
    const n = Math.floor((hi - lo) / 1000 / b) + 1;
    const start = lo / 1000;
    const cpuVals = new Array<number>(n).fill(0);
    const memVals = new Array<number>(n).fill(0);
    const secs = d.epochSeconds(raw("r.timestamp"));
    const used = raw("COALESCE(r.psutil_process_time_user, 0) + COALESCE(r.psutil_process_time_system, 0)");
    // CPU: seconds of CPU consumed between consecutive samples of a try, credited to the later sample's bucket.
    for (const r of await db.all(sql`SELECT ${d.truncInt(sql`(q.t - ${start}) / ${b}`)} AS bk, SUM(${d.greatest(raw("q.c - q.pc"), raw("0"))}) AS dc FROM (
          SELECT ${secs} AS t, ${used} AS c, LAG(${used}) OVER (PARTITION BY r.task_id, r.try_id ORDER BY r.timestamp) AS pc
          FROM ${rs.from}) q WHERE q.pc IS NOT NULL GROUP BY 1`)) {
      const bk = Number(r["bk"]);
      if (bk >= 0 && bk < n) cpuVals[bk] = (Number(r["dc"]) * k) / b;
    }
    // Memory: per bucket, the sum over tries of each try's mean resident memory in that bucket.
    for (const r of await db.all(sql`SELECT q.bk, SUM(q.m) AS m FROM (
          SELECT ${d.truncInt(sql`(${secs} - ${start}) / ${b}`)} AS bk, AVG(r.psutil_process_memory_resident) AS m
          FROM ${rs.from} GROUP BY r.task_id, r.try_id, 1) q GROUP BY q.bk`)) {
      const bk = Number(r["bk"]);
      if (bk >= 0 && bk < n) memVals[bk] = (Number(r["m"]) * k) / 1024 ** 3;
    }
    cpu = { start_ms: lo, bucket_s: b, series: [{ name: "Used CPU cores", values: cpuVals }], sample_step: k };
    memory = { start_ms: lo, bucket_s: b, series: [{ name: "Used memory", values: memVals }], sample_step: k };
    for (const r of await db.all(sql`SELECT MAX(r.psutil_process_time_user) AS u, AVG(r.psutil_process_memory_resident) AS a,
        MAX(r.psutil_process_memory_resident) AS m FROM ${rs.from} GROUP BY r.task_id`)) {
      const u = num(r["u"]);
      const a = num(r["a"]);
      const m = num(r["m"]);
      if (u !== null) cpuMax.push(u);
      if (a !== null) memAvg.push(a);
      if (m !== null) memMax.push(m);
    }
  }
  return {
    has_resources: Number(span["n"] ?? 0) > 0,
    workers: {
      ...workers,
      series: workers.series.map((s) => ({ ...s, name: "Busy workers" })),
      total_workers: Number(cap["workers"] ?? 0),
    },
    cpu: { ...cpu, total_cores: Number(cap["cores"] ?? 0) },
    memory: { ...memory, total_memory_gib: Number(cap["mem"] ?? 0) / 1024 ** 3 },
    cpu_time_max: histogram(cpuMax, "CPU time distribution (max per task)", "CPU user time (s)", k),
    memory_avg: histogram(memAvg, "Memory distribution (average per task)", "Resident memory (bytes)", k),
    memory_max: histogram(memMax, "Memory distribution (max per task)", "Resident memory (bytes)", k),
    sample_step: k,
    nodes,
    blocks,
  };
}
