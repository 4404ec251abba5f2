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
import { FIELDS, type FieldType } from "../database/queries/fields.js";
import { openMonitoringDb as openReader, type MonitoringDb } from "../database/queries/index.js";
import type {
  AppCount, CompletionTime, FieldRow, RunListQuery, RunListRow, StatusRow, TaskHistory, TaskQuery, TryTimes,
} from "../database/queries/index.js";

export { FilterError } from "../database/queries/filter.js";
export { RunNotFoundError } from "../database/queries/resolveRun.js";
export type {
  AppCount, CompletionTime, FieldRow, HashHistoryEntry, RunListQuery, RunListRow, RunTaskCounts, StatusRow, TaskHistory, TaskQuery, TryTimes,
} from "../database/queries/index.js";
export type { FieldType } from "../database/queries/fields.js";
export type { ObservedRunStatus } from "../database/runStatus.js";

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
  appCountsForWorkflow(runId: string): Promise<AppCount[]> { return this.db.appCountsForWorkflow(runId); }
  nodesForWorkflow(runId: string): Promise<DbRow[]> { return this.db.nodesForWorkflow(runId); }
  resourcesForWorkflow(runId: string): Promise<DbRow[]> { return this.db.resourcesForWorkflow(runId); }
  resourcesForTask(runId: string, taskId: number): Promise<DbRow[]> { return this.db.resourcesForTask(runId, taskId); }
  statusForWorkflow(runId: string): Promise<StatusRow[]> { return this.db.statusForWorkflow(runId); }
  completionTimesForWorkflow(runId: string): Promise<CompletionTime[]> { return this.db.completionTimesForWorkflow(runId); }
  tasksForWorkflow(runId: string): Promise<DbRow[]> { return this.db.tasksForWorkflow(runId); }
  triesForWorkflow(runId: string): Promise<TryTimes[]> { return this.db.triesForWorkflow(runId); }

  close(): Promise<void> {
    return this.db.close();
  }

  private async taskQuery(o: TasksOptions): Promise<TaskQuery> {
    const { run, workflow, allRuns, ...rest } = o;
    if (allRuns) {
      if (run !== undefined || workflow !== undefined) throw new Error("allRuns reads every run: give no run or workflow");
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
