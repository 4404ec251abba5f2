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
import type {
  AppHistory, DagData, DagSummary, GanttData, Page, ResourceData, TaskDetail, TaskListItem, TimeSeries, WorkflowListItem,
  WorkflowSummary,
} from "./types.js";

export type * from "./types.js";
export { parseDepends, type TaskFilter } from "./tasks.js";
export * from "./stats.js";
export { LATEST, RunNotFoundError, type ResolvedRun } from "./resolveRun.js";
export * from "./analyze.js";
export { ReadContext, SAMPLE_TASKS, type ReadOptions } from "./context.js";

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

  /** RUN as a command takes it: an id, a unique prefix of one, or `latest`; `workflow` narrows (resolveRun.ts). */
  resolveRun(spec?: string, workflow?: string): Promise<ResolvedRun> {
    return resolveRun(this.ctx, spec, workflow);
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
