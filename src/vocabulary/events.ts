/**
 * The monitoring events' shapes: what the kernel, executors and worker pools tell the database
 * writer, one fact per event (monitoring/messages.ts has the why). A leaf: the database layer plans
 * rows from these types without importing the monitoring layer above it.
 */
import type { RunStatus, StateName } from "./states.js";
import type { Micros } from "./time.js";

export type { Micros };

/** Columns of `task` a `task` event may carry. DATETIME columns are Micros. */
export interface TaskColumns {
  task_depends: string;
  task_func_name: string;
  task_memoize: boolean;
  task_hashsum: string | null;
  task_inputs: string | null;
  task_outputs: string | null;
  task_stdin: string | null;
  task_stdout: string | null;
  task_stderr: string | null;
  task_time_invoked: Micros | null;
  task_time_returned: Micros | null;
  task_fail_count: number;
  task_fail_cost: number;
  task_lineage_hash: string | null;
  // task_latest_status is not sent: the writer derives it from status events (batchPlan.ts).
  task_args: string | null;
}

/** Columns of `try` a `try` event may carry. */
export interface TryColumns {
  block_id: string | null;
  hostname: string | null;
  task_executor: string;
  task_try_time_launched: Micros | null;
  task_try_time_running: Micros | null;
  task_try_time_returned: Micros | null;
  task_fail_history: string | null;
  task_joins: string | null;
  task_try_error_type: string | null;
  task_try_error: string | null;
  task_try_exit_code: number | null;
  task_try_stdout_tail: string | null;
  task_try_stderr_tail: string | null;
}

export interface WorkflowStartEvent {
  t: "workflow_start";
  workflow_name: string | null;
  workflow_version: string | null;
  time_began: Micros;
  host: string;
  user: string;
  rundir: string;
  /** Seconds between `workflow.last_heartbeat` updates. */
  heartbeat_period?: number;
}

export interface WorkflowEndEvent {
  t: "workflow_end";
  time_completed: Micros;
  tasks_completed_count: number;
  tasks_failed_count: number;
  run_status: RunStatus;
}

/** Workflow counters (Parsl updates them on every task message; we send them once per batch). */
export interface CountsEvent {
  t: "counts";
  tasks_completed_count: number;
  tasks_failed_count: number;
}

/**
 * A task row. `first: true` creates it (all NOT NULL columns present); later events
 * update only the columns they carry, as Parsl's DBM does (`task_depends`,
 * `task_func_name`, `task_memoize`, `task_outputs`, `task_stdin/out/err` are set once).
 */
export interface TaskEvent {
  t: "task";
  task_id: number;
  first: boolean;
  cols: Partial<TaskColumns>;
}

/** A try row; `first: true` creates it (`task_executor` present). */
export interface TryEvent {
  t: "try";
  task_id: number;
  try_id: number;
  first: boolean;
  cols: Partial<TryColumns>;
}

/** One row of `status`: a state transition. */
export interface StatusEvent {
  t: "status";
  task_id: number;
  try_id: number;
  state: StateName;
  ts: Micros;
}

/** One row of `resource`; keys are the table's column names (timestamp as Micros). */
export interface ResourceEvent {
  t: "resource";
  row: Record<string, string | number | null>;
}

/** One row of `node` (append-only event log); DATETIME columns as Micros. */
export interface NodeEvent {
  t: "node";
  row: {
    hostname: string;
    uid: string;
    block_id: string;
    cpu_count: number;
    total_memory: number;
    active: boolean;
    worker_count: number;
    python_v: string;
    timestamp: Micros;
    last_heartbeat: Micros;
  };
}

/** One row of `block`. */
export interface BlockEvent {
  t: "block";
  row: { executor_label: string; block_id: string; job_id: string | null; timestamp: Micros; status: string };
}

export type MonitoringEvent =
  | WorkflowStartEvent
  | WorkflowEndEvent
  | CountsEvent
  | TaskEvent
  | TryEvent
  | StatusEvent
  | ResourceEvent
  | NodeEvent
  | BlockEvent;

/** A batch sent from the kernel to the writer. `seq` increases by one per batch. */
export interface Batch {
  seq: number;
  events: MonitoringEvent[];
}
