/**
 * The read queries over a monitoring database of either dialect, written once against
 * `Connection` and `Dialect`: run list and status, task lists and detail, and the whole-run
 * aggregates (timeline, resources, DAG, history). The visualizer serves them; the terminal tools
 * and the `parsl-ts/query` API build on the same functions.
 *
 *   const db = await openMonitoringDb("postgresql://reader@host/parsl");
 *   const runs = await db.listWorkflows(0, 20);
 */
import { connect, readerConnectOptions, type Connection } from "../connection.js";
import type { Endpoint } from "../endpoint.js";
import type { AnalyzeOptions, RunAnalysis } from "./analyze.js";
import { ReadContext, type ReadOptions } from "./context.js";
import { appHistory, listRuns, runExists, runStatus, runSummary } from "./runs.js";
import { appExists, listTasks, taskDetail, taskExists, type TaskFilter } from "./tasks.js";
import { resolveRun, type ResolvedRun } from "./resolveRun.js";
import type { RunSelection, RunStats, StatsComparison, StatsOptions } from "./stats.js";
import type * as parsl from "./parslQueries.js";
import { runList, type RunListQuery, type RunListRow } from "./runTable.js";
import { checkTaskQuery, taskPages, taskRows, type FieldRow, type TaskQuery } from "./taskQuery.js";
import type { AppStateCount, FailureBrief } from "./progress.js";
import type { AppStats, FailureDetail } from "./appStats.js";
import type {
  AppHistory,
  DagData,
  Row,
  DagSummary,
  GanttData,
  Page,
  ResourceData,
  TaskDetail,
  TaskListItem,
  TimeSeries,
  WorkflowListItem,
  WorkflowSummary,
} from "./types.js";

export type * from "./types.js";
export { parseDepends, type TaskFilter } from "./tasks.js";
export type * from "./stats.js";
export { LATEST, RunNotFoundError, type ResolvedRun } from "./resolveRun.js";
export type * from "./analyze.js";
export { ReadContext, SAMPLE_TASKS, type ReadOptions } from "./context.js";
export type { AppCount, CompletionTime, HashHistoryEntry, StatusRow, TaskHistory, TryTimes } from "./parslQueries.js";
export type { RunListQuery, RunListRow, RunTaskCounts } from "./runTable.js";
export type { FieldRow, TaskQuery } from "./taskQuery.js";
export type { AppStateCount, FailureBrief } from "./progress.js";
export type { AppStats, FailureDetail } from "./appStats.js";

export class MonitoringDb {
  private constructor(
    private readonly ctx: ReadContext,
    private readonly owned: boolean,
  ) {}

  /** Reads through an open connection (not closed by `close()` unless `owned`). */
  static async on(db: Connection, options: ReadOptions & { owned?: boolean } = {}): Promise<MonitoringDb> {
    return new MonitoringDb(await ReadContext.open(db, options), options.owned ?? false);
  }

  get connection(): Connection {
    return this.ctx.db;
  }

  /** `fn` over one snapshot of the database: every read inside sees the same committed state (Connection.snapshot). */
  snapshot<T>(fn: (db: MonitoringDb) => Promise<T>): Promise<T> {
    return this.ctx.db.snapshot((view) => fn(new MonitoringDb(this.ctx.over(view), false)));
  }

  /** The read context over this database, for the query modules that take one (export). */
  get readContext(): ReadContext {
    return this.ctx;
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

  async gantt(runId: string, from: number | null, to: number | null, maxRows: number): Promise<GanttData> {
    return (await import("./timeline.js")).gantt(this.ctx, runId, from, to, maxRows);
  }

  /** Cached: the resource page's busy-workers chart is this chart's "All" series. */
  triesOverTime(runId: string): Promise<TimeSeries> {
    return this.ctx.cached(`tries|${runId}`, async () =>
      (await import("./timeline.js")).triesOverTime(this.ctx, runId),
    );
  }

  async dagSummary(runId: string): Promise<DagSummary> {
    return (await import("./graph.js")).dagSummary(this.ctx, runId);
  }

  async dagWindow(runId: string, from: number, limit: number): Promise<DagData["window"]> {
    return (await import("./graph.js")).dagWindow(this.ctx, runId, from, limit);
  }

  async resources(runId: string): Promise<ResourceData> {
    return (await import("./resources.js")).resources(this.ctx, runId, await this.triesOverTime(runId));
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

  async taskHistory(runId: string, taskId: number, limit?: number): Promise<parsl.TaskHistory> {
    return (await import("./parslQueries.js")).taskHistory(this.ctx, runId, taskId, limit);
  }

  async appCountsForWorkflow(runId: string): Promise<parsl.AppCount[]> {
    return (await import("./parslQueries.js")).appCountsForWorkflow(this.ctx, runId);
  }
  async nodesForWorkflow(runId: string): Promise<Row[]> {
    return (await import("./parslQueries.js")).nodesForWorkflow(this.ctx, runId);
  }
  async resourcesForWorkflow(runId: string): Promise<Row[]> {
    return (await import("./parslQueries.js")).resourcesForWorkflow(this.ctx, runId);
  }
  async resourcesForTask(runId: string, taskId: number): Promise<Row[]> {
    return (await import("./parslQueries.js")).resourcesForTask(this.ctx, runId, taskId);
  }
  async statusForWorkflow(runId: string): Promise<parsl.StatusRow[]> {
    return (await import("./parslQueries.js")).statusForWorkflow(this.ctx, runId);
  }
  async completionTimesForWorkflow(runId: string): Promise<parsl.CompletionTime[]> {
    return (await import("./parslQueries.js")).completionTimesForWorkflow(this.ctx, runId);
  }
  async tasksForWorkflow(runId: string): Promise<Row[]> {
    return (await import("./parslQueries.js")).tasksForWorkflow(this.ctx, runId);
  }
  async triesForWorkflow(runId: string): Promise<parsl.TryTimes[]> {
    return (await import("./parslQueries.js")).triesForWorkflow(this.ctx, runId);
  }

  /** Tasks per app and latest state (exact). */
  async appStateCounts(runId: string): Promise<AppStateCount[]> {
    return (await import("./progress.js")).appStateCounts(this.ctx, runId);
  }

  /** The newest failed tasks with their last error. */
  async latestFailures(runId: string, limit: number, withDepFail = false): Promise<FailureBrief[]> {
    return (await import("./progress.js")).latestFailures(this.ctx, runId, limit, withDepFail);
  }

  /** Per-app duration statistics and resource peaks (sampled on huge runs). */
  async appStats(runId: string): Promise<AppStats> {
    return (await import("./appStats.js")).appStats(this.ctx, runId);
  }

  /** Failed tasks with every try's evidence (error, exit code, stderr tail), at most `limit`. */
  async failureDetails(
    runId: string,
    limit: number,
  ): Promise<{ total: number; dep_fail: number; tasks: FailureDetail[] }> {
    return (await import("./appStats.js")).failureDetails(this.ctx, runId, limit);
  }

  /** The pegasus-statistics view of a run (stats.ts: rules, exactness and sampling). */
  async runStats(runId: string, options: StatsOptions = {}): Promise<RunStats> {
    return (await import("./stats.js")).runStats(this.ctx, runId, options);
  }

  /** Statistics of the newest runs (of one workflow name), newest first. */
  async statsOfRuns(selection: RunSelection = {}): Promise<RunStats[]> {
    return (await import("./stats.js")).statsOfRuns(this.ctx, selection);
  }

  /** Per-app changes from run `baseRunId` to `otherRunId`, regressions flagged (stats.ts REGRESSION_RULE). */
  async compareRuns(baseRunId: string, otherRunId: string): Promise<StatsComparison> {
    const { runStats, compareStats } = await import("./stats.js");
    const [a, b] = await Promise.all([
      runStats(this.ctx, baseRunId, { by: "app" }),
      runStats(this.ctx, otherRunId, { by: "app" }),
    ]);
    return compareStats(a, b);
  }

  /** The pegasus-analyzer view: root failures with their tries, dep_fail cascades grouped under them (analyze.ts). */
  async analyzeRun(runId: string, options: AnalyzeOptions = {}): Promise<RunAnalysis> {
    return (await import("./analyze.js")).analyzeRun(this.ctx, runId, options);
  }

  async close(): Promise<void> {
    if (this.owned) await this.ctx.db.close();
  }
}

/** Opens a monitoring database read-only (SQLite file opened read-only; PostgreSQL sessions read-only). */
export async function openMonitoringDb(
  endpoint: string | Endpoint,
  options: ReadOptions & { poolSize?: number; applicationName?: string } = {},
): Promise<MonitoringDb> {
  const db = await connect(endpoint, readerConnectOptions(options));
  return monitoringDbOver(db, options);
}

/** A MonitoringDb over a reader's connection, which it owns from now on (closed on failure here). */
export async function monitoringDbOver(db: Connection, options: ReadOptions = {}): Promise<MonitoringDb> {
  try {
    return await MonitoringDb.on(db, { ...options, owned: true });
  } catch (e) {
    await db.close();
    const text = db.dialect.describeError(e);
    // Errors from the driver ("file is not a database") do not say which database.
    throw text.includes(db.location) ? e : new Error(`cannot read ${db.location} as a monitoring database: ${text}`);
  }
}
