/**
 * `parsl-ts/query`: a typed, read-only async API over a monitoring database (SQLite or
 * PostgreSQL, written by parsl-ts or by Python Parsl). A thin facade over
 * src/database/queries, which the `parsl-ts` query commands use too.
 *
 *   import { openMonitoringDb } from "parsl-ts/query";
 *   const db = await openMonitoringDb("runinfo/monitoring.db");
 *   const failed = await db.tasks({ fields: ["task_id", "app", "error"], filter: "state = failed" });
 *   await db.close();
 *
 * Every value reaches the database as a parameter; a filter that does not parse throws a
 * FilterError whose message points at the offending token.
 */
import { createRequire } from "node:module";
import { FIELDS, type FieldType } from "../database/queries/fields.js";
import { resolveRun } from "../database/queries/resolveRun.js";
import { runList } from "../database/queries/runTable.js";
import { openMonitoringDb as openReader, type MonitoringDb } from "../database/queries/index.js";
import type {
  AnalyzeOptions,
  AppCount,
  AppStateCount,
  CompletionTime,
  FailureBrief,
  FieldRow,
  RunAnalysis,
  RunListQuery,
  RunListRow,
  RunSelection,
  RunStats,
  StatsComparison,
  StatsOptions,
  StatusRow,
  TaskHistory,
  TaskQuery,
  TryTimes,
} from "../database/queries/index.js";
import type { ExportFormat, Manifest } from "../export/index.js";

export { FilterError } from "../database/queries/filter.js";
export { RunNotFoundError } from "../database/queries/resolveRun.js";
export type {
  AppCount,
  CompletionTime,
  FieldRow,
  HashHistoryEntry,
  RunListQuery,
  RunListRow,
  RunTaskCounts,
  StatusRow,
  TaskHistory,
  TaskQuery,
  TryTimes,
} from "../database/queries/index.js";
export type {
  AnalyzeOptions,
  AppStateCount,
  FailedTry,
  FailureBrief,
  RootFailure,
  RunAnalysis,
  RunSelection,
  RunStats,
  StatsComparison,
  StatsGroup,
  StatsGrouping,
  StatsOptions,
} from "../database/queries/index.js";
export type { ExportFormat, Manifest } from "../export/index.js";
export type { FieldType } from "../database/queries/fields.js";
export type { ObservedRunStatus } from "../database/runStatus.js";

/** What `progress()` returns: tasks per app and state, and the newest failures. */
export interface RunProgress {
  readonly run_id: string;
  readonly apps: AppStateCount[];
  readonly failures: FailureBrief[];
}

export interface ExportRequest {
  readonly format: ExportFormat;
  /** The directory to write into (created if missing; files of an earlier export are refused unless `overwrite`). */
  readonly dir: string;
  readonly runs?: readonly string[] | "all";
  readonly workflow?: string;
  readonly overwrite?: boolean;
}

function packageVersion(): string {
  return (createRequire(import.meta.url)("../../../package.json") as { version: string }).version;
}

/** A row of a table, as the database returned it (DATETIME as Parsl's text, integers as numbers). */
export type DbRow = Record<string, unknown>;

export interface FieldInfo {
  readonly name: string;
  readonly type: FieldType;
  readonly description: string;
}

/** The fields tasks() takes in `fields`, `filter` and `sort`. */
export function listFields(): FieldInfo[] {
  return FIELDS.map((f) => ({ name: f.name, type: f.type, description: f.description }));
}

/** Tasks of one run (`run`: an id, a unique prefix, or "latest", the default) or of all runs (`allRuns`). */
export interface TasksOptions extends Omit<TaskQuery, "runId"> {
  readonly run?: string;
  /** With `run` "latest" (or omitted): the latest run of this workflow name. */
  readonly workflow?: string;
  readonly allRuns?: boolean;
}

export class QueryDb {
  /** @internal */
  constructor(private readonly db: MonitoringDb) {}

  /** The endpoint, password redacted. */
  get location(): string {
    return this.db.describe;
  }

  /** The run id meant by `run` (id, unique prefix or "latest") and `workflow`. */
  async runId(run = "latest", workflow?: string): Promise<string> {
    return (await this.db.resolveRun(run, workflow)).run_id;
  }

  /** Every run, newest first, with its judged status and tasks per final state. */
  runs(query: RunListQuery = {}): Promise<RunListRow[]> {
    return this.db.runList(query);
  }

  /** Rows of fields (listFields()) per task or per try, filtered, sorted and limited. */
  async tasks(options: TasksOptions): Promise<FieldRow[]> {
    return this.db.taskRows(await this.taskQuery(options));
  }

  /** The same rows page by page, for runs too large to hold at once. */
  async *taskPages(options: TasksOptions): AsyncGenerator<FieldRow[]> {
    yield* this.db.taskPages(await this.taskQuery(options));
  }

  /** The task's computation (same hashsum) in every run: state, duration, memo hit. */
  taskHistory(runId: string, taskId: number): Promise<TaskHistory> {
    return this.db.taskHistory(runId, taskId);
  }

  // Parsl's parsl.monitoring.queries.pandas, one for one (run ids are exact here).
  appCountsForWorkflow(runId: string): Promise<AppCount[]> {
    return this.db.appCountsForWorkflow(runId);
  }
  nodesForWorkflow(runId: string): Promise<DbRow[]> {
    return this.db.nodesForWorkflow(runId);
  }
  resourcesForWorkflow(runId: string): Promise<DbRow[]> {
    return this.db.resourcesForWorkflow(runId);
  }
  resourcesForTask(runId: string, taskId: number): Promise<DbRow[]> {
    return this.db.resourcesForTask(runId, taskId);
  }
  statusForWorkflow(runId: string): Promise<StatusRow[]> {
    return this.db.statusForWorkflow(runId);
  }
  completionTimesForWorkflow(runId: string): Promise<CompletionTime[]> {
    return this.db.completionTimesForWorkflow(runId);
  }
  tasksForWorkflow(runId: string): Promise<DbRow[]> {
    return this.db.tasksForWorkflow(runId);
  }
  triesForWorkflow(runId: string): Promise<TryTimes[]> {
    return this.db.triesForWorkflow(runId);
  }

  close(): Promise<void> {
    return this.db.close();
  }

  // ---------------------------------------------------------------- the commands' views

  /** `parsl-ts stats`: outcomes of tasks and tries, run time, badput, and groups (by app, host, block, executor or hour). */
  async stats(run = "latest", options: StatsOptions & { readonly workflow?: string } = {}): Promise<RunStats> {
    const { workflow, ...rest } = options;
    return this.db.runStats(await this.runId(run, workflow), rest);
  }

  /** `parsl-ts stats --compare`: per-app changes from one run to another, regressions flagged. */
  async compareStats(baseRun: string, otherRun: string): Promise<StatsComparison> {
    return this.db.compareRuns(await this.runId(baseRun), await this.runId(otherRun));
  }

  /** `parsl-ts stats --all`: statistics of the newest runs (of one workflow name), newest first. */
  statsOfRuns(selection: RunSelection = {}): Promise<RunStats[]> {
    return this.db.statsOfRuns(selection);
  }

  /** `parsl-ts analyze`: root failures with every try's evidence, dep_fail cascades grouped under them. */
  async analyze(run = "latest", options: AnalyzeOptions & { readonly workflow?: string } = {}): Promise<RunAnalysis> {
    const { workflow, ...rest } = options;
    return this.db.analyzeRun(await this.runId(run, workflow), rest);
  }

  /** `parsl-ts watch`'s data: tasks per app and state, and the newest failures (at most `failures`, default 5). */
  async progress(
    run = "latest",
    options: { readonly workflow?: string; readonly failures?: number } = {},
  ): Promise<RunProgress> {
    const runId = await this.runId(run, options.workflow);
    const [apps, failures] = await Promise.all([
      this.db.appStateCounts(runId),
      this.db.latestFailures(runId, options.failures ?? 5),
    ]);
    return { run_id: runId, apps, failures };
  }

  /** `parsl-ts report`: the run's report as one self-contained HTML document (write it where you like). */
  async report(run = "latest", options: { readonly workflow?: string } = {}): Promise<string> {
    const runId = await this.runId(run, options.workflow);
    const [{ gatherReport }, { renderReport }] = await Promise.all([
      import("../report/data.js"),
      import("../report/html.js"),
    ]);
    return renderReport(await gatherReport(this.db, runId));
  }

  /**
   * `parsl-ts export`: the runs' seven tables as csv, jsonl or parquet files (or an OTLP trace) in
   * `dir`, with a manifest; read from one snapshot of the database. `runs`: run ids or prefixes
   * (default: the latest run), or "all" (with `workflow`: every run of that workflow).
   */
  async export(options: ExportRequest): Promise<Manifest> {
    const { exportRuns } = await import("../export/index.js");
    return this.db.connection.snapshot(async (view) => {
      // One read context over the snapshot: the runs are chosen from the state they are exported from.
      const ctx = this.db.readContext.over(view);
      let runs: { run_id: string; workflow_name: string | null }[];
      if (options.runs === "all") {
        runs = (await runList(ctx, options.workflow === undefined ? {} : { workflow: options.workflow }))
          .map((r) => ({ run_id: r.run_id, workflow_name: r.workflow_name }))
          .reverse();
      } else {
        runs = [];
        for (const spec of options.runs ?? ["latest"]) runs.push(await resolveRun(ctx, spec, options.workflow));
      }
      return exportRuns(ctx, {
        format: options.format,
        dir: options.dir,
        runs,
        overwrite: options.overwrite ?? false,
        version: packageVersion(),
      });
    });
  }

  private async taskQuery(o: TasksOptions): Promise<TaskQuery> {
    const { run, workflow, allRuns, ...rest } = o;
    if (allRuns) {
      if (run !== undefined || workflow !== undefined)
        throw new Error("allRuns reads every run: give no run or workflow");
      this.db.checkTaskQuery(rest);
      return rest;
    }
    this.db.checkTaskQuery(rest);
    return { ...rest, runId: await this.runId(run, workflow) };
  }
}

/**
 * Opens a monitoring database read-only: a file path, sqlite:///path, or postgresql://user@host/db.
 */
export async function openMonitoringDb(endpoint: string): Promise<QueryDb> {
  return new QueryDb(await openReader(endpoint, { applicationName: "parsl-ts/query" }));
}
