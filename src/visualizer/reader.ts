/**
 * What the visualizer's HTTP layer needs from a monitoring database. One implementation for both
 * dialects: MonitoringDb (src/database/queries/), over an async Connection.
 */
import type {
  AppHistory,
  DagData,
  DagSummary,
  GanttData,
  Page,
  ResourceData,
  TaskDetail,
  TaskListItem,
  TimeSeries,
  WorkflowListItem,
  WorkflowSummary,
} from "../database/queries/types.js";

export type * from "../database/queries/types.js";

export interface MonitoringReader {
  readonly describe: string;
  /** Cheap fingerprint of everything that can change; equal tokens mean equal data. */
  changeToken(): Promise<string>;
  workflowExists(runId: string): Promise<boolean>;
  listWorkflows(offset: number, limit: number): Promise<Page<WorkflowListItem>>;
  runStatus(runId: string): Promise<WorkflowListItem>;
  workflowSummary(runId: string): Promise<WorkflowSummary>;
  listTasks(
    runId: string,
    filter: { app?: string; state?: string },
    offset: number,
    limit: number,
  ): Promise<Page<TaskListItem>>;
  taskExists(runId: string, taskId: number): Promise<boolean>;
  appExists(runId: string, app: string): Promise<boolean>;
  taskDetail(runId: string, taskId: number): Promise<TaskDetail | null>;
  gantt(runId: string, from: number | null, to: number | null, maxRows: number): Promise<GanttData>;
  /** Heavy (whole-run scans): triesOverTime, resources, appHistory, dagSummary. The server runs them through heavy.ts. */
  triesOverTime(runId: string): Promise<TimeSeries>;
  /** The aggregated part of the DAG page (whole-run scan: a heavy query). */
  dagSummary(runId: string): Promise<DagSummary>;
  /** A window of the task graph (cheap). */
  dagWindow(runId: string, from: number, limit: number): Promise<DagData["window"]>;
  resources(runId: string): Promise<ResourceData>;
  appHistory(runId: string): Promise<AppHistory>;
  close(): Promise<void>;
}

/** An expected, user-caused failure (unknown id, bad parameter): becomes a 4xx. */
export class NotFoundError extends Error {}
