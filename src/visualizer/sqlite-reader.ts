/**
 * MonitoringReader over a SQLite monitoring database, opened read-only. Works on databases
 * written by Python Parsl (no parsl-ts extra columns, only Parsl's index) and by parsl-ts
 * (extra columns and the INDEXES of src/database/schema.ts). Queries are parameterised, paged
 * or aggregated; nothing here ever returns a whole table.
 */
import fs from "node:fs";
import Database from "better-sqlite3";
import { TABLES } from "../database/schema.js";
import { TokenCache } from "./cache.js";
import { judgeRun } from "../database/runStatus.js";
import { naiveNowMs, naiveToMs } from "./timefmt.js";
import type {
  AppHistory, DagData, DagSummary, GanttData, Histogram, MonitoringReader, Page, ResourceData, Row, TaskDetail,
  TaskListItem, TimeSeries, WorkflowListItem, WorkflowSummary,
} from "./reader.js";

/** Epoch-like seconds (naive clock) of a DATETIME column, in SQL. */
const secs = (col: string): string => `((julianday(${col}) - 2440587.5) * 86400.0)`;

const MAX_BUCKETS = 400;
/** Whole-run aggregates read at most about this many tasks; bigger runs use every k-th task id, scaled by k. */
const SAMPLE_TASKS = 50_000;
const APP_EDGE_SAMPLE = 20_000;
const MEMORY_POINTS = 2_000;
const DEPENDENT_SCAN = 5_000;

export function parseDepends(value: unknown): number[] {
  if (typeof value !== "string" || value.trim() === "") return [];
  const out: number[] = [];
  for (const part of value.split(",")) {
    const p = part.trim();
    if (/^\d+$/.test(p)) out.push(Number(p));
  }
  return out;
}

function bucketSize(spanS: number, minS = 1): number {
  const raw = Math.max(minS, spanS / MAX_BUCKETS);
  const nice = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400];
  return nice.find((n) => n >= raw) ?? Math.ceil(raw / 86400) * 86400;
}

/** 20 equal-width bins over [min, max] (one bin if all equal); counts scaled by `scale` for sampled input. */
function histogram(values: number[], label: string, xLabel: string, scale = 1): Histogram {
  if (values.length === 0) return { label, x_label: xLabel, edges: [], counts: [] };
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
  const bins = lo === hi ? 1 : 20;
  const width = bins === 1 ? 1 : (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.floor((v - lo) / width))]! += scale;
  const edges = Array.from({ length: bins }, (_, i) => lo + i * width);
  return { label, x_label: xLabel, edges, counts };
}

export class SqliteReader implements MonitoringReader {
  readonly describe: string;
  private readonly db: Database.Database;
  private readonly cols = new Map<string, Set<string>>();
  private readonly indexes: Set<string>;
  private readonly cache = new TokenCache();
  private readonly hasLatestCol: boolean;

  /** `sampleTasks`: above this many tasks, whole-run aggregates read every k-th task (tests lower it). */
  constructor(readonly path: string, private readonly sampleTasks = SAMPLE_TASKS) {
    if (!fs.existsSync(path)) throw new Error(`monitoring database not found: ${path}`);
    this.db = new Database(path, { readonly: true, fileMustExist: true });
    this.describe = `sqlite:///${path}`;
    try {
      this.db.pragma("query_only = ON");
      for (const t of TABLES) {
        const info = this.db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(t.name) as string[];
        if (info.length === 0) throw new Error(`${path} is not a Parsl monitoring database: table "${t.name}" is missing`);
        this.cols.set(t.name, new Set(info));
      }
    } catch (e) {
      this.db.close();
      if (e instanceof Error && /file is not a database|malformed/i.test(e.message)) {
        throw new Error(`${path} is not a SQLite database (${e.message})`);
      }
      throw e;
    }
    this.indexes = new Set(this.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index'`).pluck().all() as string[]);
    this.hasLatestCol = this.has("task", "task_latest_status");
  }

  private has(table: string, col: string): boolean {
    return this.cols.get(table)?.has(col) ?? false;
  }

  /** SQL for a task's latest state: the parsl-ts column when present and set, else the newest status row. */
  private latestExpr(alias: string): string {
    // "+s.run_id" keeps SQLite on the primary key (task_id, run_id, …) instead of scanning the run's time index.
    const sub = `(SELECT s.task_status_name FROM status s WHERE s.task_id = ${alias}.task_id AND +s.run_id = ${alias}.run_id ` +
      `ORDER BY s.timestamp DESC, s.rowid DESC LIMIT 1)`;
    return this.hasLatestCol ? `COALESCE(${alias}.task_latest_status, ${sub})` : sub;
  }

  close(): void {
    this.db.close();
  }

  /**
   * SQLite's data_version changes whenever another connection commits, and costs microseconds.
   * It is database-wide, so a change in any run refreshes every open page (a cheap over-approximation).
   */
  changeToken(): string {
    return `v${this.db.pragma("data_version", { simple: true }) as number}`;
  }

  private cached<T>(key: string, compute: () => T): T {
    return this.cache.get(key, this.changeToken(), compute);
  }

  workflowExists(runId: string): boolean {
    return this.db.prepare(`SELECT 1 FROM workflow WHERE run_id = ?`).get(runId) !== undefined;
  }

  /** Newest timestamp the run wrote to `status` or `resource` (naive ms). */
  private lastActivityMs(runId: string): number | null {
    let newest: number | null = null;
    const consider = (v: unknown): void => {
      const ms = naiveToMs(v);
      if (ms !== null && (newest === null || ms > newest)) newest = ms;
    };
    if (this.indexes.has("ix_status_run_time")) {
      consider(this.db.prepare(`SELECT MAX(timestamp) FROM status WHERE run_id = ?`).pluck().get(runId));
    } else {
      // Rows are appended in time order, so the newest rowid of the run is (nearly) its newest row.
      consider(this.db.prepare(`SELECT timestamp FROM status WHERE run_id = ? ORDER BY rowid DESC LIMIT 1`).pluck().get(runId));
    }
    consider(this.db.prepare(`SELECT timestamp FROM resource WHERE run_id = ? ORDER BY rowid DESC LIMIT 1`).pluck().get(runId));
    return newest;
  }

  private toListItem(r: Row): WorkflowListItem {
    const began = naiveToMs(r["time_began"]);
    const completed = naiveToMs(r["time_completed"]);
    const runStatus = typeof r["run_status"] === "string" ? (r["run_status"] as string) : null;
    const needActivity = completed === null && (runStatus === null || runStatus === "running");
    const activity = needActivity ? this.lastActivityMs(String(r["run_id"])) : null;
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
      run_id: String(r["run_id"]),
      workflow_name: (r["workflow_name"] as string | null) ?? null,
      workflow_version: (r["workflow_version"] as string | null) ?? null,
      user: String(r["user"] ?? ""),
      host: String(r["host"] ?? ""),
      time_began: String(r["time_began"] ?? ""),
      time_completed: (r["time_completed"] as string | null) ?? null,
      tasks_completed_count: Number(r["tasks_completed_count"] ?? 0),
      tasks_failed_count: Number(r["tasks_failed_count"] ?? 0),
      tasks_memo_count: this.cached(`memo|${String(r["run_id"])}`, () => this.memoCount(String(r["run_id"]))),
      status: verdict.status,
      status_reason: verdict.reason,
      runtime_s: began !== null && end !== null ? Math.max(0, (end - began) / 1000) : null,
    };
  }

  /**
   * Tasks of the run that ended `memo_done`. parsl-ts rows answer from ix_task_run_latest_status;
   * tasks without task_latest_status (Python Parsl's) by a primary-key look-up in `status` each.
   */
  private memoCount(runId: string): number {
    const viaStatus = `EXISTS (SELECT 1 FROM status s WHERE s.task_id = t.task_id AND +s.run_id = t.run_id AND s.task_status_name = 'memo_done')`;
    if (!this.hasLatestCol) return this.db.prepare(`SELECT COUNT(*) FROM task t WHERE t.run_id = ? AND ${viaStatus}`).pluck().get(runId) as number;
    let n = this.db.prepare(`SELECT COUNT(*) FROM task WHERE run_id = ? AND task_latest_status = 'memo_done'`).pluck().get(runId) as number;
    if (!this.latestColComplete(runId)) {
      n += this.db.prepare(`SELECT COUNT(*) FROM task t WHERE t.run_id = ? AND t.task_latest_status IS NULL AND ${viaStatus}`).pluck().get(runId) as number;
    }
    return n;
  }

  private workflowColumns(): string {
    const extra = ["run_status", "last_heartbeat", "heartbeat_period"].filter((c) => this.has("workflow", c));
    return ["run_id", "workflow_name", "workflow_version", "time_began", "time_completed", "host", '"user"', "rundir",
      "tasks_failed_count", "tasks_completed_count", ...extra].join(", ");
  }

  listWorkflows(offset: number, limit: number): Page<WorkflowListItem> {
    const total = this.db.prepare(`SELECT COUNT(*) FROM workflow`).pluck().get() as number;
    const rows = this.db.prepare(`SELECT ${this.workflowColumns()} FROM workflow ORDER BY time_began DESC, run_id LIMIT ? OFFSET ?`)
      .all(limit, offset) as Row[];
    return { total, offset, limit, rows: rows.map((r) => this.toListItem(r)) };
  }

  /** The run's list entry (status and counts from the workflow row): cheap, for the live-update poll. */
  runStatus(runId: string): WorkflowListItem {
    return this.toListItem(this.workflowRow(runId));
  }

  private workflowRow(runId: string): Row {
    const r = this.db.prepare(`SELECT ${this.workflowColumns()} FROM workflow WHERE run_id = ?`).get(runId) as Row | undefined;
    if (!r) throw new Error(`unknown run ${runId}`); // callers check workflowExists first
    return r;
  }

  private taskCount(runId: string): number {
    return this.db.prepare(`SELECT COUNT(*) FROM task WHERE run_id = ?`).pluck().get(runId) as number;
  }

  private stateCounts(runId: string): Record<string, number> {
    const out: Record<string, number> = {};
    const add = (rows: Row[]): void => {
      for (const r of rows) {
        const st = r["st"] === null ? "unknown" : String(r["st"]);
        out[st] = (out[st] ?? 0) + Number(r["n"]);
      }
    };
    if (this.hasLatestCol) {
      const rows = this.db.prepare(`SELECT task_latest_status AS st, COUNT(*) AS n FROM task WHERE run_id = ? GROUP BY 1`).all(runId) as Row[];
      add(rows.filter((r) => r["st"] !== null));
      if (rows.some((r) => r["st"] === null)) {
        add(this.db.prepare(`SELECT ${this.latestExpr("t")} AS st, COUNT(*) AS n FROM task t
          WHERE t.run_id = ? AND t.task_latest_status IS NULL GROUP BY 1`).all(runId) as Row[]);
      }
    } else {
      add(this.db.prepare(`SELECT ${this.latestExpr("t")} AS st, COUNT(*) AS n FROM task t WHERE t.run_id = ? GROUP BY 1`).all(runId) as Row[]);
    }
    return out;
  }

  /** Where the last Gantt bar of each task ends: time_completed, else the newest status (Parsl's rule). */
  private endMs(runId: string, wf: Row): number | null {
    return naiveToMs(wf["time_completed"]) ?? this.lastActivityMs(runId);
  }

  workflowSummary(runId: string): WorkflowSummary {
    return this.cached(`summary|${runId}|${Math.floor(Date.now() / 30_000)}`, () => {
      const wf = this.workflowRow(runId);
      const apps = this.db.prepare(`SELECT task_func_name AS name, COUNT(*) AS count FROM task WHERE run_id = ?
        GROUP BY task_func_name ORDER BY task_func_name`).all(runId) as { name: string; count: number }[];
      return {
        workflow: { ...this.toListItem(wf), rundir: String(wf["rundir"] ?? "") },
        task_count: apps.reduce((a, b) => a + b.count, 0),
        state_counts: this.stateCounts(runId),
        apps,
        end_ms: this.endMs(runId, wf),
      };
    });
  }

  /** True when every task of the run has task_latest_status set, so the indexed column alone is exact. */
  private latestColComplete(runId: string): boolean {
    return this.hasLatestCol &&
      this.db.prepare(`SELECT 1 FROM task WHERE run_id = ? AND task_latest_status IS NULL LIMIT 1`).get(runId) === undefined;
  }

  listTasks(runId: string, filter: { app?: string; state?: string }, offset: number, limit: number): Page<TaskListItem> {
    const where = ["t.run_id = ?"];
    const args: unknown[] = [runId];
    if (filter.app !== undefined) { where.push("t.task_func_name = ?"); args.push(filter.app); }
    if (filter.state !== undefined) {
      where.push(this.latestColComplete(runId) ? "t.task_latest_status = ?" : `${this.latestExpr("t")} = ?`);
      args.push(filter.state);
    }
    const w = where.join(" AND ");
    const total = this.cached(`taskcount|${runId}|${filter.app ?? ""}|${filter.state ?? ""}`, () =>
      this.db.prepare(`SELECT COUNT(*) FROM task t WHERE ${w}`).pluck().get(...args) as number);
    const cols = `t.task_id, t.task_func_name, t.task_depends, t.task_time_invoked, t.task_time_returned, t.task_fail_count,
      ${this.latestExpr("t")} AS state`;
    let rows: Row[];
    if (filter.app === undefined && filter.state === undefined) {
      // Whole run: walk the primary key (task_id, run_id) in id order; "+t.run_id" stops SQLite from picking
      // a run_id index and sorting the whole run. Parsl task ids are dense, so a page is an id range.
      const range = this.cached(`range|${runId}`, () => this.taskIdRange(runId));
      if (range && total === range[1] - range[0] + 1) {
        const lo = range[0] + offset;
        rows = this.db.prepare(`SELECT ${cols} FROM task t WHERE t.task_id >= ? AND t.task_id < ? AND +t.run_id = ? ORDER BY t.task_id`)
          .all(lo, lo + limit, runId) as Row[];
      } else {
        rows = this.db.prepare(`SELECT ${cols} FROM task t WHERE +t.run_id = ? ORDER BY t.task_id LIMIT ? OFFSET ?`).all(runId, limit, offset) as Row[];
      }
    } else {
      rows = this.db.prepare(`SELECT ${cols} FROM task t WHERE ${w} ORDER BY t.task_id LIMIT ? OFFSET ?`).all(...args, limit, offset) as Row[];
    }
    return {
      total, offset, limit,
      rows: rows.map((r) => ({
        task_id: Number(r["task_id"]),
        task_func_name: String(r["task_func_name"]),
        task_depends: parseDepends(r["task_depends"]),
        task_time_invoked: (r["task_time_invoked"] as string | null) ?? null,
        task_time_returned: (r["task_time_returned"] as string | null) ?? null,
        task_fail_count: Number(r["task_fail_count"] ?? 0),
        state: (r["state"] as string | null) ?? null,
      })),
    };
  }

  taskExists(runId: string, taskId: number): boolean {
    return this.db.prepare(`SELECT 1 FROM task WHERE +run_id = ? AND task_id = ?`).get(runId, taskId) !== undefined;
  }

  appExists(runId: string, app: string): boolean {
    return this.db.prepare(`SELECT 1 FROM task WHERE run_id = ? AND task_func_name = ? LIMIT 1`).get(runId, app) !== undefined;
  }

  taskDetail(runId: string, taskId: number): TaskDetail | null {
    const task = this.db.prepare(`SELECT * FROM task WHERE +run_id = ? AND task_id = ?`).get(runId, taskId) as Row | undefined;
    if (!task) return null;
    const state = this.db.prepare(`SELECT ${this.latestExpr("t")} FROM task t WHERE +t.run_id = ? AND t.task_id = ?`).pluck().get(runId, taskId) as string | null;
    const tries = this.db.prepare(`SELECT * FROM try WHERE run_id = ? AND task_id = ? ORDER BY try_id`).all(runId, taskId) as Row[];
    const states = this.db.prepare(`SELECT task_status_name, timestamp, try_id FROM status WHERE +run_id = ? AND task_id = ?
      ORDER BY timestamp, rowid`).all(runId, taskId) as TaskDetail["states"];
    const n = this.db.prepare(`SELECT COUNT(*) FROM resource WHERE run_id = ? AND task_id = ?`).pluck().get(runId, taskId) as number;
    const step = Math.max(1, Math.ceil(n / MEMORY_POINTS));
    const memRows = this.db.prepare(`SELECT timestamp, psutil_process_memory_resident AS rss, psutil_process_memory_virtual AS vms, try_id
      FROM (SELECT *, ROW_NUMBER() OVER (ORDER BY timestamp) AS rn FROM resource WHERE run_id = ? AND task_id = ?)
      WHERE (rn - 1) % ? = 0 ORDER BY timestamp`).all(runId, taskId, step) as Row[];
    const dependents = (this.db.prepare(`SELECT task_id FROM task WHERE +run_id = ? AND task_id > ? AND task_id <= ?
        AND task_depends <> '' AND (',' || task_depends || ',') LIKE ('%,' || ? || ',%') ORDER BY task_id LIMIT 100`)
      .pluck().all(runId, taskId, taskId + DEPENDENT_SCAN, String(taskId)) as number[]);
    return {
      task, state: state ?? null, tries, states,
      memory: memRows.map((r) => ({ t: naiveToMs(r["timestamp"]) ?? 0, rss: Number(r["rss"] ?? 0), vms: Number(r["vms"] ?? 0), try_id: Number(r["try_id"]) })),
      memory_sampled: step > 1,
      dependents,
    };
  }

  /** Lowest and highest task id of a run, without scanning the run. */
  private taskIdRange(runId: string): [number, number] | null {
    if (this.indexes.has("ix_try_run_task")) {
      // O(log n) through try's (run_id, task_id) index; then extend by tasks that have no try yet.
      const lo0 = this.db.prepare(`SELECT MIN(task_id) FROM try WHERE run_id = ?`).pluck().get(runId) as number | null;
      const hi0 = this.db.prepare(`SELECT MAX(task_id) FROM try WHERE run_id = ?`).pluck().get(runId) as number | null;
      if (lo0 !== null && hi0 !== null) {
        const lower = this.db.prepare(`SELECT task_id FROM task WHERE task_id < ? AND +run_id = ? ORDER BY task_id LIMIT 1`).pluck().get(lo0, runId) as number | undefined;
        const upper = this.db.prepare(`SELECT task_id FROM task WHERE task_id > ? AND +run_id = ? ORDER BY task_id DESC LIMIT 1`).pluck().get(hi0, runId) as number | undefined;
        return [lower ?? lo0, upper ?? hi0];
      }
    }
    const lo = this.db.prepare(`SELECT task_id FROM task WHERE +run_id = ? ORDER BY task_id LIMIT 1`).pluck().get(runId) as number | undefined;
    if (lo === undefined) return null;
    const hi = this.db.prepare(`SELECT task_id FROM task WHERE +run_id = ? ORDER BY task_id DESC LIMIT 1`).pluck().get(runId) as number;
    return [lo, hi];
  }

  gantt(runId: string, from: number | null, to: number | null, maxRows: number): GanttData {
    const wf = this.workflowRow(runId);
    const end = this.endMs(runId, wf);
    const range = this.cached(`range|${runId}`, () => this.taskIdRange(runId));
    if (!range) return { task_min: 0, task_max: -1, from: 0, to: -1, step: 1, end_ms: end, rows: [] };
    const lo = Math.max(range[0], from ?? range[0]);
    const hi = Math.min(range[1], to ?? range[1]);
    const step = Math.max(1, Math.ceil((hi - lo + 1) / maxRows));
    const ids: number[] = [];
    for (let id = lo; id <= hi && ids.length < maxRows; id += step) ids.push(id);
    const rows: GanttData["rows"] = [];
    if (ids.length > 0) {
      const marks = ids.map(() => "?").join(",");
      const apps = new Map<number, string>();
      for (const r of this.db.prepare(`SELECT task_id, task_func_name FROM task WHERE +run_id = ? AND task_id IN (${marks})`)
        .raw().all(runId, ...ids) as [number, string][]) apps.set(r[0], r[1]);
      const byTask = new Map<number, [string, number][]>();
      for (const [tid, st, ts] of this.db.prepare(`SELECT task_id, task_status_name, timestamp FROM status
          WHERE +run_id = ? AND task_id IN (${marks}) ORDER BY task_id, timestamp, rowid`).raw().all(runId, ...ids) as [number, string, string][]) {
        const ms = naiveToMs(ts);
        if (ms === null) continue;
        let list = byTask.get(tid);
        if (!list) byTask.set(tid, (list = []));
        list.push([st, ms]);
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

  /**
   * Which tasks a whole-run aggregate reads. Small runs: all of them (the table, filtered by run).
   * Huge runs: one pseudo-randomly placed task id in every block of k ids (stratified sampling, so
   * periodic patterns such as apps submitted round-robin are not aliased), enumerated by a recursive
   * CTE and joined on the (run_id, task_id) indexes. The cost is bounded by `sampleTasks` whatever the
   * run's size; callers multiply counts by k.
   */
  private taskSample(runId: string, table: "task" | "try" | "resource", alias: string, join = "", share = 1): { k: number; sql: string; args: unknown[] } {
    const range = this.cached(`range|${runId}`, () => this.taskIdRange(runId));
    const span = range ? range[1] - range[0] + 1 : 0;
    const k = Math.max(1, Math.ceil(span / (this.sampleTasks * share)));
    if (k === 1 || !range) return { k: 1, sql: `${table} ${alias} ${join} WHERE ${alias}.run_id = ?`, args: [runId] };
    // try and resource have (run_id, task_id, …) indexes; task's path is its primary key (task_id, run_id),
    // so its run_id must not tempt SQLite into the run-wide ix_task_run_func.
    const runCol = table === "task" ? `+${table}.run_id` : `${table}.run_id`;
    return {
      k,
      sql: `(WITH RECURSIVE blocks(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM blocks WHERE i + 1 < ?),
          ids(x) AS (SELECT ? + i * ? + ((i * 2654435761) % 1000003) % ? FROM blocks)
        SELECT ${table}.* FROM ids CROSS JOIN ${table} ON ${table}.task_id = ids.x AND ${runCol} = ?) ${alias} ${join} WHERE 1`,
      args: [Math.floor(span / k), range[0], k, k, runId],
    };
  }

  /** Tries running per bucket, per app (Parsl's "Execution tries per app"), from try intervals. */
  triesOverTime(runId: string): TimeSeries {
    // Cached here too: the resource page's worker-usage chart is this chart's "All" series.
    return this.cached(`tries|${runId}`, () => this.concurrency(runId));
  }

  /** Mean tries running per time bucket: an "All" series and one per app. */
  private concurrency(runId: string): TimeSeries {
    const wf = this.workflowRow(runId);
    const sample = this.taskSample(runId, "try", "y");
    const span = this.db.prepare(`SELECT MIN(y.task_try_time_running) AS lo,
        MAX(COALESCE(y.task_try_time_returned, y.task_try_time_running)) AS hi
      FROM ${sample.sql} AND y.task_try_time_running IS NOT NULL`).get(...sample.args) as Row;
    const startMs = naiveToMs(span["lo"]);
    if (startMs === null) return { start_ms: 0, bucket_s: 1, series: [], sample_step: sample.k };
    const endFallback = this.endMs(runId, wf) ?? naiveToMs(span["hi"]) ?? startMs;
    const endMs = Math.max(naiveToMs(span["hi"]) ?? startMs, endFallback);
    const b = bucketSize((endMs - startMs) / 1000);
    const n = Math.floor((endMs - startMs) / 1000 / b) + 1;
    const start = startMs / 1000;
    const endS = endFallback / 1000;
    const joined = this.taskSample(runId, "try", "y", "CROSS JOIN task t ON t.task_id = y.task_id AND +t.run_id = y.run_id");
    // Each try contributes the fraction of every bucket it overlaps, so the value is the mean number
    // of tries running during the bucket. Grouping by (first, last bucket) keeps the result small; the
    // uncovered parts of the first and last bucket come back as sums and are subtracted.
    const rows = this.db.prepare(`SELECT app, bs, be, COUNT(*) AS c, SUM(us - bs) AS head, SUM(be + 1 - ue) AS tail FROM (
        SELECT app, us, ue, CAST(us AS INTEGER) AS bs, CAST(ue AS INTEGER) AS be FROM (
          SELECT app, (s - ?) / ? AS us, (MAX(e, s) - ?) / ? AS ue FROM (
            SELECT t.task_func_name AS app, ${secs("y.task_try_time_running")} AS s,
              COALESCE(${secs("y.task_try_time_returned")}, ?) AS e
            FROM ${joined.sql} AND y.task_try_time_running IS NOT NULL)))
      GROUP BY app, bs, be`).raw().all(start, b, start, b, endS, ...joined.args) as [string, number, number, number, number, number][];
    const k = sample.k;
    const diffs = new Map<string, number[]>();
    const all = new Array<number>(n + 1).fill(0);
    const fixes = new Map<string, number[]>();
    const allFix = new Array<number>(n).fill(0);
    for (const [app, bs, be, c, head, tail] of rows) {
      let d = diffs.get(app);
      if (!d) diffs.set(app, (d = new Array<number>(n + 1).fill(0)));
      let f = fixes.get(app);
      if (!f) fixes.set(app, (f = new Array<number>(n).fill(0)));
      const s0 = Math.min(n - 1, Math.max(0, bs));
      const e0 = Math.min(n - 1, Math.max(s0, be));
      d[s0]! += c; d[e0 + 1]! -= c;
      all[s0]! += c; all[e0 + 1]! -= c;
      f[s0]! -= head; f[e0]! -= tail;
      allFix[s0]! -= head; allFix[e0]! -= tail;
    }
    const integrate = (d: number[], fix: number[]): number[] => {
      const out = new Array<number>(n);
      let acc = 0;
      for (let i = 0; i < n; i++) { acc += d[i]!; out[i] = Math.max(0, Math.round((acc + fix[i]!) * k * 1000) / 1000); }
      return out;
    };
    const series = [{ name: "All", values: integrate(all, allFix) }];
    for (const [app, d] of [...diffs.entries()].sort((a, c) => a[0].localeCompare(c[0]))) series.push({ name: app, values: integrate(d, fixes.get(app)!) });
    return { start_ms: startMs, bucket_s: b, series, sample_step: k };
  }

  dag(runId: string, from: number, limit: number): DagData {
    return { ...this.cached(`dagapps|${runId}`, () => this.dagSummary(runId)), window: this.dagWindow(runId, from, limit) };
  }

  dagWindow(runId: string, from: number, limit: number): DagData["window"] {
    const ids: number[] = this.db.prepare(`SELECT task_id FROM task WHERE +run_id = ? AND task_id >= ? ORDER BY task_id LIMIT ?`)
      .pluck().all(runId, from, limit) as number[];
    const nodes: DagData["window"]["nodes"] = [];
    const edges: [number, number][] = [];
    if (ids.length > 0) {
      const lo = ids[0]!;
      const hi = ids[ids.length - 1]!;
      const rows = this.db.prepare(`SELECT t.task_id, t.task_func_name, t.task_depends, ${this.latestExpr("t")} AS st
        FROM task t WHERE +t.run_id = ? AND t.task_id BETWEEN ? AND ? ORDER BY t.task_id`).raw().all(runId, lo, hi) as [number, string, string | null, string | null][];
      const inWindow = new Set(rows.map((r) => r[0]));
      const outside = new Set<number>();
      for (const [id, app, deps, st] of rows) {
        nodes.push({ id, app, state: st, outside: false });
        for (const d of parseDepends(deps)) {
          edges.push([d, id]);
          if (!inWindow.has(d)) outside.add(d);
        }
      }
      const extra = [...outside].slice(0, 500);
      if (extra.length > 0) {
        const marks = extra.map(() => "?").join(",");
        for (const [id, app, st] of this.db.prepare(`SELECT t.task_id, t.task_func_name, ${this.latestExpr("t")} FROM task t
            WHERE +t.run_id = ? AND t.task_id IN (${marks})`).raw().all(runId, ...extra) as [number, string, string | null][]) {
          nodes.push({ id, app, state: st, outside: true });
        }
      }
    }
    const known = new Set(nodes.map((n) => n.id));
    return { from, limit, nodes, edges: edges.filter(([a]) => known.has(a)) };
  }

  dagSummary(runId: string): DagSummary {
    const apps = new Map<string, { name: string; count: number; states: Record<string, number> }>();
    // With task_latest_status filled in, ix_task_run_latest_status (run_id, task_latest_status, task_func_name) covers this.
    const stateCol = this.latestColComplete(runId) ? "t.task_latest_status" : this.latestExpr("t");
    for (const [app, st, n] of this.db.prepare(`SELECT t.task_func_name, ${stateCol} AS st, COUNT(*) FROM task t
        WHERE t.run_id = ? GROUP BY 1, 2`).raw().all(runId) as [string, string | null, number][]) {
      let a = apps.get(app);
      if (!a) apps.set(app, (a = { name: app, count: 0, states: {} }));
      a.count += n;
      const key = st ?? "unknown";
      a.states[key] = (a.states[key] ?? 0) + n;
    }
    // App-level edges from the first APP_EDGE_SAMPLE tasks that have dependencies (exact for smaller runs).
    const sample = this.db.prepare(`SELECT task_id, task_func_name, task_depends FROM task WHERE +run_id = ? AND task_depends <> ''
      ORDER BY task_id LIMIT ?`).raw().all(runId, APP_EDGE_SAMPLE) as [number, string, string][];
    const appOf = new Map<number, string>();
    const wanted = new Set<number>();
    for (const [id, app] of sample) appOf.set(id, app);
    for (const [, , deps] of sample) for (const d of parseDepends(deps)) if (!appOf.has(d)) wanted.add(d);
    const want = [...wanted];
    const lookup = this.db.prepare(`SELECT task_id, task_func_name FROM task WHERE +run_id = ? AND task_id = ?`).raw();
    for (const d of want) {
      const r = lookup.get(runId, d) as [number, string] | undefined;
      if (r) appOf.set(r[0], r[1]);
    }
    const edgeCounts = new Map<string, number>();
    for (const [, app, deps] of sample) {
      for (const d of parseDepends(deps)) {
        const src = appOf.get(d);
        if (src === undefined) continue;
        const k = JSON.stringify([src, app]);
        edgeCounts.set(k, (edgeCounts.get(k) ?? 0) + 1);
      }
    }
    const appList = [...apps.values()].sort((a, b) => a.name.localeCompare(b.name));
    return {
      task_count: appList.reduce((a, b) => a + b.count, 0),
      apps: appList,
      app_edges: [...edgeCounts.entries()].map(([k, count]) => {
        const [f, t] = JSON.parse(k) as [string, string];
        return { from: f, to: t, count };
      }),
      edges_from_tasks: sample.length,
    };
  }

  resources(runId: string): ResourceData {
    const tries = this.triesOverTime(runId);
    const workers: TimeSeries = { ...tries, series: tries.series.filter((x) => x.name === "All") };
    const cap = this.db.prepare(`SELECT
        (SELECT COALESCE(SUM(w), 0) FROM (SELECT MAX(worker_count) AS w FROM node WHERE run_id = ? GROUP BY uid)) AS workers,
        (SELECT COALESCE(SUM(c), 0) FROM (SELECT MAX(cpu_count) AS c FROM node WHERE run_id = ? GROUP BY hostname)) AS cores,
        (SELECT COALESCE(SUM(m), 0) FROM (SELECT MAX(total_memory) AS m FROM node WHERE run_id = ? GROUP BY hostname)) AS mem`)
      .get(runId, runId, runId) as Row;
    // Resource rows are several per try and read by four queries: a smaller share of the budget.
    const rs = this.taskSample(runId, "resource", "r", "", 0.4);
    const k = rs.k;
    const span = this.db.prepare(`SELECT MIN(r.timestamp) AS lo, MAX(r.timestamp) AS hi, MAX(r.resource_monitoring_interval) AS iv, COUNT(*) AS n
      FROM ${rs.sql}`).get(...rs.args) as Row;
    const nodes = this.db.prepare(`SELECT hostname, uid, block_id, MAX(cpu_count) AS cpu_count, MAX(total_memory) AS total_memory,
        MAX(worker_count) AS worker_count, MIN(timestamp) AS first_seen, MAX(timestamp) AS last_seen, COUNT(*) AS events
      FROM node WHERE run_id = ? GROUP BY uid, hostname, block_id ORDER BY first_seen LIMIT 200`).all(runId) as Row[];
    const blocks = this.db.prepare(`SELECT executor_label, block_id, job_id, timestamp, status FROM block WHERE run_id = ?
      ORDER BY timestamp LIMIT 500`).all(runId) as Row[];
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
      // CPU: seconds of CPU consumed between consecutive samples of a try, credited to the later sample's bucket.
      for (const [bk, dc] of this.db.prepare(`SELECT CAST((t - ?) / ? AS INTEGER) AS bk, SUM(MAX(c - pc, 0)) FROM (
            SELECT ${secs("r.timestamp")} AS t,
              COALESCE(r.psutil_process_time_user, 0) + COALESCE(r.psutil_process_time_system, 0) AS c,
              LAG(COALESCE(r.psutil_process_time_user, 0) + COALESCE(r.psutil_process_time_system, 0))
                OVER (PARTITION BY r.task_id, r.try_id ORDER BY r.timestamp) AS pc
            FROM ${rs.sql}) WHERE pc IS NOT NULL GROUP BY bk`).raw().all(start, b, ...rs.args) as [number, number][]) {
        if (bk >= 0 && bk < n) cpuVals[bk] = (dc * k) / b;
      }
      // Memory: per bucket, the sum over tries of each try's mean resident memory in that bucket.
      for (const [bk, m] of this.db.prepare(`SELECT bk, SUM(m) FROM (
            SELECT CAST((${secs("r.timestamp")} - ?) / ? AS INTEGER) AS bk, AVG(r.psutil_process_memory_resident) AS m
            FROM ${rs.sql} GROUP BY r.task_id, r.try_id, bk) GROUP BY bk`).raw().all(start, b, ...rs.args) as [number, number][]) {
        if (bk >= 0 && bk < n) memVals[bk] = (m * k) / 1024 ** 3;
      }
      cpu = { start_ms: lo, bucket_s: b, series: [{ name: "Used CPU cores", values: cpuVals }], sample_step: k };
      memory = { start_ms: lo, bucket_s: b, series: [{ name: "Used memory", values: memVals }], sample_step: k };
      for (const [u, a, m] of this.db.prepare(`SELECT MAX(r.psutil_process_time_user), AVG(r.psutil_process_memory_resident),
          MAX(r.psutil_process_memory_resident) FROM ${rs.sql} GROUP BY r.task_id`).raw().all(...rs.args) as [number | null, number | null, number | null][]) {
        if (u !== null) cpuMax.push(u);
        if (a !== null) memAvg.push(a);
        if (m !== null) memMax.push(m);
      }
    }
    return {
      has_resources: Number(span["n"] ?? 0) > 0,
      workers: { ...workers, series: workers.series.map((s) => ({ ...s, name: "Busy workers" })), total_workers: Number(cap["workers"] ?? 0) },
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

  /** Mean duration per app over the most recent runs with the same workflow_name. */
  appHistory(runId: string): AppHistory {
    return (() => {
      const wf = this.workflowRow(runId);
      const name = (wf["workflow_name"] as string | null) ?? null;
      const runs = this.db.prepare(`SELECT run_id, time_began FROM workflow WHERE workflow_name IS ? ORDER BY time_began DESC LIMIT 10`)
        .all(name) as { run_id: string; time_began: string }[];
      return {
        workflow_name: name,
        runs: runs.reverse().map((r) => {
          const apps: Record<string, { count: number; mean_s: number | null }> = {};
          for (const [app, count] of this.db.prepare(`SELECT task_func_name, COUNT(*) FROM task WHERE run_id = ? GROUP BY task_func_name`)
            .raw().all(r.run_id) as [string, number][]) apps[app] = { count, mean_s: null };
          // Mean durations: every task of small runs, every k-th task of huge ones.
          const sample = this.taskSample(r.run_id, "task", "t");
          for (const [app, mean] of this.db.prepare(`SELECT t.task_func_name,
              AVG(CASE WHEN t.task_time_returned IS NOT NULL AND t.task_time_invoked IS NOT NULL
                THEN ${secs("t.task_time_returned")} - ${secs("t.task_time_invoked")} END)
            FROM ${sample.sql} GROUP BY t.task_func_name`).raw().all(...sample.args) as [string, number | null][]) {
            if (apps[app]) apps[app].mean_s = mean;
          }
          return { run_id: r.run_id, time_began: r.time_began, apps };
        }),
      };
    })();
  }
}
