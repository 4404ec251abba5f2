/**
 * The read queries over a monitoring database of either dialect, written once against
 * `Connection` and `Dialect`: run list and status, task lists and detail, and the whole-run
 * aggregates (timeline, resources, DAG, history). The visualizer serves them; the terminal tools
 * and the `parsl-ts/query` API build on the same functions.
 *
 *   const db = await openMonitoringDb("postgresql://reader@host/parsl");
 *   const runs = await db.listWorkflows(0, 20);
 */
import { connect, type Connection } from "../connection.js";
import type { Endpoint } from "../endpoint.js";
import { analyzeRun, type AnalyzeOptions, type RunAnalysis } from "./analyze.js";
import { ReadContext, type ReadOptions } from "./context.js";
import { dagSummary, dagWindow } from "./graph.js";
import { resources } from "./resources.js";
import { appHistory, listRuns, runExists, runStatus, runSummary } from "./runs.js";
import { appExists, listTasks, taskDetail, taskExists, type TaskFilter } from "./tasks.js";
import { resolveRun, type ResolvedRun } from "./resolveRun.js";
import { compareStats, runStats, statsOfRuns, type RunSelection, type RunStats, type StatsComparison, type StatsOptions } from "./stats.js";
import { gantt, triesOverTime } from "./timeline.js";
import * as parsl from "./parslQueries.js";
import { runList, type RunListQuery, type RunListRow } from "./runTable.js";
import { checkTaskQuery, taskPages, taskRows, type FieldRow, type TaskQuery } from "./taskQuery.js";
import { appStateCounts, latestFailures, type AppStateCount, type FailureBrief } from "./progress.js";
import { appStats, failureDetails, type AppStats, type FailureDetail } from "./appStats.js";
import type {
  AppHistory, DagData, Row, DagSummary, GanttData, Page, ResourceData, TaskDetail, TaskListItem, TimeSeries, WorkflowListItem,
  WorkflowSummary,
} from "./types.js";

export type * from "./types.js";
export { parseDepends, type TaskFilter } from "./tasks.js";
export * from "./stats.js";
export { LATEST, RunNotFoundError, type ResolvedRun } from "./resolveRun.js";
export * from "./analyze.js";
export { ReadContext, SAMPLE_TASKS, type ReadOptions } from "./context.js";
export type { AppCount, CompletionTime, HashHistoryEntry, StatusRow, TaskHistory, TryTimes } from "./parslQueries.js";
export type { RunListQuery, RunListRow, RunTaskCounts } from "./runTable.js";
export type { FieldRow, TaskQuery } from "./taskQuery.js";
export type { AppStateCount, FailureBrief } from "./progress.js";
export type { AppStats, FailureDetail } from "./appStats.js";

export class MonitoringDb {
  private constructor(private readonly ctx: ReadContext, private readonly owned: boolean) {}

  /** Reads through an open connection (not closed by `close()` unless `owned`). */
  static async on(db: Connection, options: ReadOptions & { owned?: boolean } = {}): Promise<MonitoringDb> {
    return new MonitoringDb(await ReadContext.open(db, options), options.owned ?? false);
  }

  get connection(): Connection {
    return this.ctx.db;
  }

  /** The endpoint (password redacted). */
  get describe(): string {
    return this.ctx.db.location;
  }

  /** Equal tokens mean equal data (see Dialect.changeToken). */
  changeToken(): Promise<string> {
    return this.ctx.token();
  }

  workflowExists(runId: string): Promise<boolean> {
    return runExists(this.ctx, runId);
  }

  listWorkflows(offset: number, limit: number): Promise<Page<WorkflowListItem>> {
    return listRuns(this.ctx, offset, limit);
  }

  runStatus(runId: string): Promise<WorkflowListItem> {
    return runStatus(this.ctx, runId);
  }

  /** Cached per change token and for at most 30 s (its status depends on the clock as well). */
  workflowSummary(runId: string): Promise<WorkflowSummary> {
    return this.ctx.cached(`summary|${runId}|${Math.floor(Date.now() / 30_000)}`, () => runSummary(this.ctx, runId));
  }

  listTasks(runId: string, filter: TaskFilter, offset: number, limit: number): Promise<Page<TaskListItem>> {
    return listTasks(this.ctx, runId, filter, offset, limit);
  }

  taskExists(runId: string, taskId: number): Promise<boolean> {
    return taskExists(this.ctx, runId, taskId);
  }

  appExists(runId: string, app: string): Promise<boolean> {
    return appExists(this.ctx, runId, app);
  }

  taskDetail(runId: string, taskId: number): Promise<TaskDetail | null> {
    return taskDetail(this.ctx, runId, taskId);
  }

  gantt(runId: string, from: number | null, to: number | null, maxRows: number): Promise<GanttData> {
    return gantt(this.ctx, runId, from, to, maxRows);
  }

  /** Cached: the resource page's busy-workers chart is this chart's "All" series. */
  triesOverTime(runId: string): Promise<TimeSeries> {
    return this.ctx.cached(`tries|${runId}`, () => triesOverTime(this.ctx, runId));
  }

  dagSummary(runId: string): Promise<DagSummary> {
    return dagSummary(this.ctx, runId);
  }

  dagWindow(runId: string, from: number, limit: number): Promise<DagData["window"]> {
    return dagWindow(this.ctx, runId, from, limit);
  }

  async resources(runId: string): Promise<ResourceData> {
    return resources(this.ctx, runId, await this.triesOverTime(runId));
  }

  appHistory(runId: string): Promise<AppHistory> {
    return appHistory(this.ctx, runId);
  }

  // --- the query commands and parsl-ts/query (fields.ts, filter.ts, taskQuery.ts, runTable.ts, parslQueries.ts)

  /** RUN (id, unique prefix or "latest") and an optional workflow name → the run. */
  resolveRun(spec?: string, workflow?: string): Promise<ResolvedRun> {
    return resolveRun(this.ctx, spec, workflow);
  }

  runList(query: RunListQuery = {}): Promise<RunListRow[]> {
    return runList(this.ctx, query);
  }

  /** Throws a FilterError (with the position of the bad token) when fields, sort or filter are wrong. */
  checkTaskQuery(query: TaskQuery): void {
    checkTaskQuery(this.ctx, query);
  }

  taskPages(query: TaskQuery, firstPage?: number, pageSize?: number): AsyncGenerator<FieldRow[]> {
    return taskPages(this.ctx, query, firstPage, pageSize);
  }

  taskRows(query: TaskQuery): Promise<FieldRow[]> {
    return taskRows(this.ctx, query);
  }

  taskHistory(runId: string, taskId: number, limit?: number): Promise<parsl.TaskHistory> {
    return parsl.taskHistory(this.ctx, runId, taskId, limit);
  }

  appCountsForWorkflow(runId: string): Promise<parsl.AppCount[]> { return parsl.appCountsForWorkflow(this.ctx, runId); }
  nodesForWorkflow(runId: string): Promise<Row[]> { return parsl.nodesForWorkflow(this.ctx, runId); }
  resourcesForWorkflow(runId: string): Promise<Row[]> { return parsl.resourcesForWorkflow(this.ctx, runId); }
  resourcesForTask(runId: string, taskId: number): Promise<Row[]> { return parsl.resourcesForTask(this.ctx, runId, taskId); }
  statusForWorkflow(runId: string): Promise<parsl.StatusRow[]> { return parsl.statusForWorkflow(this.ctx, runId); }
  completionTimesForWorkflow(runId: string): Promise<parsl.CompletionTime[]> { return parsl.completionTimesForWorkflow(this.ctx, runId); }
  tasksForWorkflow(runId: string): Promise<Row[]> { return parsl.tasksForWorkflow(this.ctx, runId); }
  triesForWorkflow(runId: string): Promise<parsl.TryTimes[]> { return parsl.triesForWorkflow(this.ctx, runId); }

  /** Tasks per app and latest state (exact). */
  appStateCounts(runId: string): Promise<AppStateCount[]> {
    return appStateCounts(this.ctx, runId);
  }

  /** The newest failed tasks with their last error. */
  latestFailures(runId: string, limit: number, withDepFail = false): Promise<FailureBrief[]> {
    return latestFailures(this.ctx, runId, limit, withDepFail);
  }

  /** Per-app duration statistics and resource peaks (sampled on huge runs). */
  appStats(runId: string): Promise<AppStats> {
    return appStats(this.ctx, runId);
  }

  /** Failed tasks with every try's evidence (error, exit code, stderr tail), at most `limit`. */
  failureDetails(runId: string, limit: number): Promise<{ total: number; dep_fail: number; tasks: FailureDetail[] }> {
    return failureDetails(this.ctx, runId, limit);
  }

  /** The pegasus-statistics view of a run (stats.ts: rules, exactness and sampling). */
  runStats(runId: string, options: StatsOptions = {}): Promise<RunStats> {
    return runStats(this.ctx, runId, options);
  }

  /** Statistics of the newest runs (of one workflow name), newest first. */
  statsOfRuns(selection: RunSelection = {}): Promise<RunStats[]> {
    return statsOfRuns(this.ctx, selection);
  }

  /** Per-app changes from run `baseRunId` to `otherRunId`, regressions flagged (stats.ts REGRESSION_RULE). */
  async compareRuns(baseRunId: string, otherRunId: string): Promise<StatsComparison> {
    const [a, b] = await Promise.all([runStats(this.ctx, baseRunId, { by: "app" }), runStats(this.ctx, otherRunId, { by: "app" })]);
    return compareStats(a, b);
  }

  /** The pegasus-analyzer view: root failures with their tries, dep_fail cascades grouped under them (analyze.ts). */
  analyzeRun(runId: string, options: AnalyzeOptions = {}): Promise<RunAnalysis> {
    return analyzeRun(this.ctx, runId, options);
  }

  async close(): Promise<void> {
    if (this.owned) await this.ctx.db.close();
  }
}

/** Opens a monitoring database read-only (SQLite file opened read-only; PostgreSQL sessions read-only). */
export async function openMonitoringDb(endpoint: string | Endpoint, options: ReadOptions & { poolSize?: number; applicationName?: string } = {}): Promise<MonitoringDb> {
  const db = await connect(endpoint, {
    readonly: true,
    ...(options.poolSize !== undefined ? { poolSize: options.poolSize } : {}),
    applicationName: options.applicationName ?? "parsl-ts reader",
  });
  try {
    return await MonitoringDb.on(db, { ...options, owned: true });
  } catch (e) {
    await db.close();
    const text = db.dialect.describeError(e);
    // Errors from the driver ("file is not a database") do not say which database.
    throw text.includes(db.location) ? e : new Error(`cannot read ${db.location} as a monitoring database: ${text}`);
  }
}
