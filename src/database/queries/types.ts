/**
 * The typed rows the read queries return (src/database/queries/): what the visualizer serves as
 * JSON and what the terminal tools and the `parsl-ts/query` API build on. Every list is paged and
 * every chart aggregated or sampled, so no result grows with the size of a run.
 */
import type { ObservedRunStatus } from "../runStatus.js";
import type { TaskHistory } from "./parslQueries.js";

export type Row = Record<string, unknown>;

export interface WorkflowListItem {
  run_id: string;
  workflow_name: string | null;
  workflow_version: string | null;
  user: string;
  host: string;
  time_began: string;
  time_completed: string | null;
  tasks_completed_count: number;
  tasks_failed_count: number;
  /** Tasks served from the memo table (`memo_done`): Parsl's counts above leave them out. */
  tasks_memo_count: number;
  status: ObservedRunStatus;
  status_reason: string;
  runtime_s: number | null;
}

export interface Page<T> {
  total: number;
  offset: number;
  limit: number;
  rows: T[];
}

export interface WorkflowSummary {
  workflow: WorkflowListItem & { rundir: string };
  task_count: number;
  state_counts: Record<string, number>;
  apps: { name: string; count: number }[];
  end_ms: number | null;
}

export interface TaskListItem {
  task_id: number;
  task_func_name: string;
  task_depends: number[];
  task_time_invoked: string | null;
  task_time_returned: string | null;
  task_fail_count: number;
  state: string | null;
}

export interface TaskDetail {
  task: Row;
  state: string | null;
  tries: Row[];
  states: { task_status_name: string; timestamp: string; try_id: number }[];
  memory: { t: number; rss: number; vms: number; try_id: number }[];
  memory_sampled: boolean;
  dependents: number[];
  /** The same computation (equal hashsum) in every run: state, duration, memo hit. */
  history: TaskHistory;
}

export interface GanttData {
  task_min: number;
  task_max: number;
  from: number;
  to: number;
  step: number;
  end_ms: number | null;
  rows: { task_id: number; app: string; segs: [string, number, number][] }[];
}

export interface TimeSeries {
  start_ms: number;
  bucket_s: number;
  /** 1, or k when the series was estimated from every k-th task and scaled by k. */
  sample_step?: number;
  series: { name: string; values: number[] }[];
}

export interface DagSummary {
  task_count: number;
  apps: { name: string; count: number; states: Record<string, number> }[];
  app_edges: { from: string; to: string; count: number }[];
  edges_from_tasks: number; // how many tasks the app edges were derived from
}

export interface DagData {
  task_count: number;
  apps: { name: string; count: number; states: Record<string, number> }[];
  app_edges: { from: string; to: string; count: number }[];
  edges_from_tasks: number; // how many tasks the app edges were derived from
  window: {
    from: number;
    limit: number;
    nodes: { id: number; app: string; state: string | null; outside: boolean }[];
    edges: [number, number][];
  };
}

export interface Histogram {
  label: string;
  x_label: string;
  edges: number[];
  counts: number[];
}

export interface ResourceData {
  has_resources: boolean;
  workers: TimeSeries & { total_workers: number };
  cpu: TimeSeries & { total_cores: number };
  memory: TimeSeries & { total_memory_gib: number };
  cpu_time_max: Histogram;
  memory_avg: Histogram;
  memory_max: Histogram;
  nodes: Row[];
  blocks: Row[];
  /** 1, or k when the charts were estimated from every k-th task (huge runs). */
  sample_step: number;
}

export interface AppHistory {
  workflow_name: string | null;
  runs: { run_id: string; time_began: string; apps: Record<string, { count: number; mean_s: number | null }> }[];
}
