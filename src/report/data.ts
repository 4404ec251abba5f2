/**
 * Everything the HTML report shows, read from a monitoring database through the visualizer's
 * aggregate queries (runs, timeline, resources, graph) and the report's own per-app statistics
 * and failure evidence (queries/appStats.ts). Every part is bounded: whole-run aggregates read a
 * bounded task sample, lists are capped, so a 1,000,000-task run costs what a 50,000-task one does.
 */
import type { MonitoringDb } from "../database/queries/index.js";
import { sql } from "../database/sql.js";
import type {
  AppStats,
  DagSummary,
  FailureDetail,
  GanttData,
  ResourceData,
  TimeSeries,
  WorkflowSummary,
} from "../database/queries/index.js";

/** Tasks drawn in the Gantt chart (every k-th task of bigger runs). */
export const GANTT_ROWS = 250;
/** Failed tasks listed with their evidence. */
export const FAILURES_LISTED = 50;

export interface ReportData {
  generated_at: string;
  database: string;
  summary: WorkflowSummary;
  dag: DagSummary;
  stats: AppStats;
  tries: TimeSeries;
  resources: ResourceData;
  gantt: GanttData;
  failures: { total: number; dep_fail: number; tasks: FailureDetail[] };
  /** Milliseconds each part took to read (for --verbose and the bench). */
  timings: Record<string, number>;
}

export async function gatherReport(db: MonitoringDb, runId: string): Promise<ReportData> {
  // One snapshot: the sections of a report on a run still being written agree with one another.
  return db.snapshot((view) => gatherFrom(view, runId));
}

async function gatherFrom(db: MonitoringDb, runId: string): Promise<ReportData> {
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await f();
    } finally {
      timings[name] = Math.round(performance.now() - t0);
    }
  };
  // One after the other: on SQLite they share one connection anyway, and on PostgreSQL the
  // reader's small pool is better left to one heavy query at a time.
  // The per-app, per-state counts (one grouped pass over the run's tasks) also give the summary's counts.
  const dag = await timed("dag", () => db.dagSummary(runId));
  const summary = await timed("summary", () => summaryFrom(db, runId, dag));
  const stats = await timed("stats", () => db.appStats(runId));
  const tries = await timed("timeline", () => db.triesOverTime(runId));
  const resources = await timed("resources", () => db.resources(runId));
  const gantt = await timed("gantt", () => db.gantt(runId, null, null, GANTT_ROWS));
  const failures = await timed("failures", () => db.failureDetails(runId, FAILURES_LISTED));
  return {
    generated_at: new Date().toISOString(),
    database: db.describe,
    summary,
    dag,
    stats,
    tries,
    resources,
    gantt,
    failures,
    timings,
  };
}

/** The run's status (the one rule) and its task counts per state, summed from the DAG's per-app counts. */
async function summaryFrom(db: MonitoringDb, runId: string, dag: DagSummary): Promise<WorkflowSummary> {
  const item = await db.runStatus(runId);
  const rundir =
    (await db.connection.first<{ rundir: string | null }>(sql`SELECT rundir FROM workflow WHERE run_id = ${runId}`))
      ?.rundir ?? "";
  const state_counts: Record<string, number> = {};
  for (const a of dag.apps) for (const [s, n] of Object.entries(a.states)) state_counts[s] = (state_counts[s] ?? 0) + n;
  return {
    workflow: { ...item, rundir },
    task_count: dag.task_count,
    state_counts,
    apps: dag.apps.map((a) => ({ name: a.name, count: a.count })),
    end_ms: null,
  };
}
