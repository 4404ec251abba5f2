/**
 * Everything the HTML report shows, read from a monitoring database through the visualizer's
 * aggregate queries (runs, timeline, resources, graph) and the report's own per-app statistics
 * and failure evidence (queries/appStats.ts). Every part is bounded: whole-run aggregates read a
 * bounded task sample, lists are capped, so a 1,000,000-task run costs what a 50,000-task one does.
 */
import type { MonitoringDb } from "../database/queries/index.js";
import type { AppStats, DagSummary, FailureDetail, GanttData, ResourceData, TimeSeries, WorkflowSummary } from "../database/queries/index.js";

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
  const summary = await timed("summary", () => db.workflowSummary(runId));
  const dag = await timed("dag", () => db.dagSummary(runId));
  const stats = await timed("stats", () => db.appStats(runId));
  const tries = await timed("timeline", () => db.triesOverTime(runId));
  const resources = await timed("resources", () => db.resources(runId));
  const gantt = await timed("gantt", () => db.gantt(runId, null, null, GANTT_ROWS));
  const failures = await timed("failures", () => db.failureDetails(runId, FAILURES_LISTED));
  return { generated_at: new Date().toISOString(), database: db.describe, summary, dag, stats, tries, resources, gantt, failures, timings };
}
