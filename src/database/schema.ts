/**
 * The monitoring database schema: Parsl's seven tables, column for column, plus the
 * nullable columns and indexes parsl-ts adds. This module is data only; the stores
 * (SQLite now, PostgreSQL later) turn it into DDL for their dialect.
 *
 * Column order, types, nullability and primary keys follow Parsl's SQLAlchemy models
 * exactly (as emitted on SQLite), so `SELECT *` users and Parsl's own tools keep working.
 */

import type { Micros } from "../vocabulary/time.js";

export type ColumnType = "TEXT" | "INTEGER" | "BIGINT" | "FLOAT" | "DATETIME" | "BOOLEAN";

export interface Column {
  readonly name: string;
  readonly type: ColumnType;
  readonly notNull: boolean;
  /** Added by parsl-ts (always nullable). Absent from databases written by Python Parsl. */
  readonly extra?: boolean;
}

export interface Table {
  readonly name: TableName;
  readonly columns: readonly Column[];
  readonly primaryKey: readonly string[];
  /** Parsl declares FK run_id -> workflow.run_id on these two tables only. */
  readonly foreignKeyRunId?: boolean;
  /** `node.id` is an autoincrementing integer key. */
  readonly autoincrementKey?: string;
}

export type TableName = "workflow" | "task" | "try" | "status" | "resource" | "node" | "block";

// Generic so each table keeps its column names and types as literal types: RowOf (below) derives
// the TypeScript shape of a row from them, so code that builds rows never copies this list by hand.
type Col<N extends string, T extends ColumnType, NN extends boolean> = Column & {
  readonly name: N;
  readonly type: T;
  readonly notNull: NN;
};
function c<N extends string, T extends ColumnType>(name: N, type: T): Col<N, T, false>;
function c<N extends string, T extends ColumnType>(name: N, type: T, notNull: true): Col<N, T, true>;
function c(name: string, type: ColumnType, notNull = false): Column {
  return { name, type, notNull };
}
const extra = <N extends string, T extends ColumnType>(name: N, type: T): Col<N, T, false> => ({
  name,
  type,
  notNull: false,
  extra: true,
});

export const WORKFLOW = {
  name: "workflow",
  columns: [
    c("run_id", "TEXT", true),
    c("workflow_name", "TEXT"),
    c("workflow_version", "TEXT"),
    c("time_began", "DATETIME", true),
    c("time_completed", "DATETIME"),
    c("host", "TEXT", true),
    c("user", "TEXT", true),
    c("rundir", "TEXT", true),
    c("tasks_failed_count", "INTEGER", true),
    c("tasks_completed_count", "INTEGER", true),
    // parsl-ts: explicit run status ('running' | 'completed' | 'failed' | 'interrupted' | 'crashed')
    extra("run_status", "TEXT"),
    // parsl-ts: refreshed every few seconds while the run lives; a stale value means the run died
    extra("last_heartbeat", "DATETIME"),
    // parsl-ts: seconds between heartbeats, so readers judge this run's heartbeat by its own period
    extra("heartbeat_period", "FLOAT"),
  ],
  primaryKey: ["run_id"],
} satisfies Table;

export const TASK = {
  name: "task",
  columns: [
    c("task_id", "INTEGER", true),
    c("run_id", "TEXT", true),
    c("task_depends", "TEXT"),
    c("task_func_name", "TEXT", true),
    c("task_memoize", "TEXT", true),
    c("task_hashsum", "TEXT"),
    c("task_inputs", "TEXT"),
    c("task_outputs", "TEXT"),
    c("task_stdin", "TEXT"),
    c("task_stdout", "TEXT"),
    c("task_stderr", "TEXT"),
    c("task_time_invoked", "DATETIME"),
    c("task_time_returned", "DATETIME"),
    c("task_fail_count", "INTEGER", true),
    c("task_fail_cost", "FLOAT", true),
    // parsl-ts: hash known at call time (app identity + args, futures replaced by their producers' lineage hashes)
    extra("task_lineage_hash", "TEXT"),
    // parsl-ts: the task's latest state name, so tools need not scan `status` for it
    extra("task_latest_status", "TEXT"),
    // parsl-ts: bounded repr of the positional arguments, as task_inputs is of `inputs` (Parsl PR #3712's name)
    extra("task_args", "TEXT"),
  ],
  primaryKey: ["task_id", "run_id"],
} satisfies Table;

export const TRY = {
  name: "try",
  columns: [
    c("try_id", "INTEGER", true),
    c("task_id", "INTEGER", true),
    c("run_id", "TEXT", true),
    c("block_id", "TEXT"),
    c("hostname", "TEXT"),
    c("task_executor", "TEXT", true),
    c("task_try_time_launched", "DATETIME"),
    c("task_try_time_running", "DATETIME"),
    c("task_try_time_returned", "DATETIME"),
    c("task_fail_history", "TEXT"),
    c("task_joins", "TEXT"),
    // parsl-ts failure forensics, set on failed tries only (docs/SCHEMA.md):
    // the error's class name, its message and stack (bounded), a bash app's exit code (or 128+signal
    // of a lost worker), and the last 4 KiB this try wrote to its stdout/stderr files.
    extra("task_try_error_type", "TEXT"),
    extra("task_try_error", "TEXT"),
    extra("task_try_exit_code", "INTEGER"),
    extra("task_try_stdout_tail", "TEXT"),
    extra("task_try_stderr_tail", "TEXT"),
  ],
  primaryKey: ["try_id", "task_id", "run_id"],
} satisfies Table;

export const NODE = {
  name: "node",
  columns: [
    c("id", "INTEGER", true),
    c("run_id", "TEXT", true),
    c("hostname", "TEXT", true),
    c("uid", "TEXT", true),
    c("block_id", "TEXT", true),
    c("cpu_count", "INTEGER", true),
    c("total_memory", "BIGINT", true),
    c("active", "BOOLEAN", true),
    c("worker_count", "INTEGER", true),
    c("python_v", "TEXT", true),
    c("timestamp", "DATETIME", true),
    c("last_heartbeat", "DATETIME", true),
  ],
  primaryKey: ["id"],
  autoincrementKey: "id",
} satisfies Table;

export const BLOCK = {
  name: "block",
  columns: [
    c("run_id", "TEXT", true),
    c("executor_label", "TEXT", true),
    c("block_id", "TEXT", true),
    c("job_id", "TEXT"),
    c("timestamp", "DATETIME", true),
    c("status", "TEXT", true),
  ],
  primaryKey: ["run_id", "block_id", "executor_label", "timestamp"],
} satisfies Table;

export const STATUS = {
  name: "status",
  columns: [
    c("task_id", "INTEGER", true),
    c("task_status_name", "TEXT", true),
    c("timestamp", "DATETIME", true),
    c("run_id", "TEXT", true),
    c("try_id", "INTEGER", true),
  ],
  primaryKey: ["task_id", "run_id", "task_status_name", "timestamp"],
  foreignKeyRunId: true,
} satisfies Table;

export const RESOURCE = {
  name: "resource",
  columns: [
    c("try_id", "INTEGER", true),
    c("task_id", "INTEGER", true),
    c("run_id", "TEXT", true),
    c("timestamp", "DATETIME", true),
    c("resource_monitoring_interval", "FLOAT"),
    c("psutil_process_pid", "INTEGER"),
    c("psutil_process_memory_percent", "FLOAT"),
    c("psutil_process_children_count", "FLOAT"),
    c("psutil_process_time_user", "FLOAT"),
    c("psutil_process_time_system", "FLOAT"),
    c("psutil_process_memory_virtual", "FLOAT"),
    c("psutil_process_memory_resident", "FLOAT"),
    c("psutil_process_disk_read", "FLOAT"),
    c("psutil_process_disk_write", "FLOAT"),
    c("psutil_process_status", "TEXT"),
    c("psutil_cpu_num", "TEXT"),
    c("psutil_process_num_ctx_switches_voluntary", "FLOAT"),
    c("psutil_process_num_ctx_switches_involuntary", "FLOAT"),
  ],
  primaryKey: ["try_id", "task_id", "run_id", "timestamp"],
  foreignKeyRunId: true,
} satisfies Table;

/** In Parsl's creation order (the order `create_all` emits them). */
export const TABLES: readonly Table[] = [WORKFLOW, TASK, TRY, NODE, BLOCK, STATUS, RESOURCE];

/** A column's value as events and rows carry it: DATETIME as Micros, BOOLEAN as boolean. */
export type ColumnValue<T extends ColumnType> = T extends "TEXT"
  ? string
  : T extends "BOOLEAN"
    ? boolean
    : T extends "DATETIME"
      ? Micros
      : number;

/** A table's row as TypeScript sees it: column name → value type, `| null` for nullable columns. */
export type RowOf<T extends { readonly columns: readonly Column[] }> = {
  [C in T["columns"][number] as C["name"]]: ColumnValue<C["type"]> | (C["notNull"] extends true ? never : null);
};

/** The `resource` columns a process sample fills (Parsl's psutil names), in table order. */
export type PsutilColumn = Extract<keyof RowOf<typeof RESOURCE>, `psutil_${string}`>;
export const PSUTIL_COLUMNS: readonly Column[] = RESOURCE.columns.filter((col) => col.name.startsWith("psutil_"));

export function table(name: TableName): Table {
  const t = TABLES.find((x) => x.name === name);
  if (!t) throw new Error(`unknown table ${name}`);
  return t;
}

export interface IndexDef {
  readonly name: string;
  readonly table: TableName;
  readonly columns: readonly string[];
  /** Parsl creates this one too; the others are parsl-ts additions. */
  readonly parsl?: boolean;
}

/**
 * Indexes. `ix_task_task_hashsum` is Parsl's; the rest serve the visualizer's and the
 * query CLIs' access paths (per-run scans ordered by time, per-app listings, lineage
 * look-ups) and are created by the writer so that readers never need write access.
 */
export const INDEXES: readonly IndexDef[] = [
  { name: "ix_task_task_hashsum", table: "task", columns: ["task_hashsum"], parsl: true },
  { name: "ix_task_run_func", table: "task", columns: ["run_id", "task_func_name", "task_id"] },
  // task_func_name last: lets the visualizer count tasks per (app, state) from the index alone.
  { name: "ix_task_run_latest_status", table: "task", columns: ["run_id", "task_latest_status", "task_func_name"] },
  // No index on task_lineage_hash: its keys are random, so every insert lands on a random page
  // of a run-spanning index (measured: about 6 µs more per task, doubling the cost of writing a
  // new task row). docs/SCHEMA.md shows how to create it for frequent look-ups.
  { name: "ix_try_run_task", table: "try", columns: ["run_id", "task_id", "try_id"] },
  { name: "ix_resource_run_task", table: "resource", columns: ["run_id", "task_id", "try_id", "timestamp"] },
  { name: "ix_node_run", table: "node", columns: ["run_id", "timestamp"] },
  { name: "ix_block_run", table: "block", columns: ["run_id", "timestamp"] },
];

// The state and status names live in the shared vocabulary (a leaf module); re-exported here
// because readers of the schema look for them next to the tables.
export {
  STATES,
  STATE_NAMES,
  FINAL_STATES,
  FINAL_FAILURE_STATES,
  BLOCK_STATES,
  RUN_STATUSES,
  type StateName,
  type RunStatus,
} from "../vocabulary/states.js";
