/**
 * The recorder: the one place that turns what happened in a run into monitoring events, i.e.
 * into the columns of Parsl's rows. The kernel reports facts about a task ("submitted",
 * "launched", "final") and the recorder decides which `task`, `try` and `status` columns they
 * set; executors build their `block`, `node` and `resource` rows with the builders at the end.
 * Nothing else writes a column name of those tables.
 *
 * Events go to a sink (the writer client) that never blocks; the recorder keeps no state of
 * its own besides the sink, so it costs one call per fact on the kernel's hot path.
 */
import os from "node:os";
import path from "node:path";
import {
  PSUTIL_COLUMNS,
  type NODE,
  type PsutilColumn,
  type RESOURCE,
  type RowOf,
  type TASK,
  type TRY,
} from "../database/schema.js";
import type { RunStatus, StateName } from "../vocabulary/states.js";
import type { Micros } from "../vocabulary/time.js";
import type { BlockEvent, MonitoringEvent, NodeEvent, ResourceEvent, TaskColumns, TryColumns } from "./messages.js";

/** Where events go: the monitoring sink's two entry points. */
export interface EventSink {
  emit(e: MonitoringEvent): void;
  setCounts(completed: number, failed: number): void;
}

/** What the recorder reads of a task when it records one of its facts (the kernel's task record fits). */
export interface TaskFacts {
  readonly id: number;
  readonly tryId: number;
  readonly executor: string;
  readonly failCount: number;
  readonly failCost: number;
  readonly failHistory: readonly string[];
  readonly hashsum: string | null;
  /** The current try's host as its worker reported it, if not yet written. */
  readonly tryHost: string | null;
}

/** A new task's columns, already rendered (reprs, paths) by the kernel. */
export interface SubmittedTask {
  appName: string;
  memoize: boolean;
  dependsOn: readonly number[];
  /** repr of `inputs`, or null when the call had none (Parsl writes 'None'). */
  inputs: string | null;
  args: string;
  /** repr of `outputs`, or null when the call had none. */
  outputs: string | null;
  stdin: string | null;
  stdout: string;
  stderr: string;
  invoked: Micros;
  lineageHash: string | null;
}

/** The run's first facts (workflow row). */
export interface RunStart {
  workflowName: string | null;
  workflowVersion: string | null;
  timeBegan: Micros;
  rundir: string;
  heartbeatPeriod: number;
}

export type FinalState = "exec_done" | "memo_done" | "failed" | "dep_fail";

export class Recorder {
  constructor(readonly sink: EventSink) {}

  // ------------------------------------------------------------ the run

  runStarted(r: RunStart): void {
    this.sink.emit({
      t: "workflow_start",
      workflow_name: r.workflowName ?? (path.basename(process.argv[1] ?? "") || "unnamed"),
      workflow_version: r.workflowVersion ?? formatSeconds(new Date(Math.floor(r.timeBegan / 1000))),
      time_began: r.timeBegan,
      host: os.hostname(),
      user: safeUser(),
      rundir: r.rundir,
      heartbeat_period: r.heartbeatPeriod,
    });
  }

  runEnded(status: RunStatus, at: Micros, completed: number, failed: number): void {
    this.sink.emit({
      t: "workflow_end",
      time_completed: at,
      tasks_completed_count: completed,
      tasks_failed_count: failed,
      run_status: status,
    });
  }

  // ------------------------------------------------------------ a task's life

  /** A task was called: its row, the row of try 0, and `pending`. */
  submitted(t: TaskFacts, s: SubmittedTask): void {
    // NULL columns are left out of first rows (the writer inserts NULL for them): less to encode and send.
    const cols: Partial<TaskColumns> = {
      task_depends: s.dependsOn.join(","),
      task_func_name: s.appName,
      task_memoize: s.memoize,
      task_inputs: s.inputs ?? "None",
      task_args: s.args,
      task_outputs: s.outputs ?? "None",
      task_stdout: s.stdout,
      task_stderr: s.stderr,
      task_time_invoked: s.invoked,
      task_fail_count: 0,
      task_fail_cost: 0,
    };
    if (s.stdin !== null) cols.task_stdin = s.stdin;
    if (s.lineageHash !== null) cols.task_lineage_hash = s.lineageHash;
    this.sink.emit({ t: "task", task_id: t.id, first: true, cols });
    this.newTry(t, s.invoked);
  }

  /** A try begins (try 0 at submission, the next one after a retryable failure): its row and `pending`. */
  newTry(t: TaskFacts, ts: Micros): void {
    this.sink.emit({ t: "try", task_id: t.id, try_id: t.tryId, first: true, cols: { task_executor: t.executor } });
    this.status(t, "pending", ts);
  }

  /** Dependencies resolved: as Parsl does, the columns now show values instead of futures. */
  argumentsResolved(t: TaskFacts, inputs: string | null, args: string | null): void {
    const cols: Partial<TaskColumns> = {};
    if (inputs !== null) cols.task_inputs = inputs;
    if (args !== null) cols.task_args = args;
    if (inputs !== null || args !== null) this.sink.emit({ t: "task", task_id: t.id, first: false, cols });
  }

  launched(t: TaskFacts, ts: Micros, hostname: string | undefined): void {
    this.status(t, "launched", ts);
    const cols: Partial<TryColumns> = { task_try_time_launched: ts };
    if (hostname !== undefined) cols.hostname = hostname;
    this.sink.emit({ t: "try", task_id: t.id, try_id: t.tryId, first: false, cols });
  }

  /** A memo hit takes the place of a launch: the try is stamped, no `launched` status. */
  memoLaunched(t: TaskFacts, ts: Micros): void {
    this.sink.emit({ t: "try", task_id: t.id, try_id: t.tryId, first: false, cols: { task_try_time_launched: ts } });
  }

  running(t: TaskFacts, ts: Micros, hostname: string | null | undefined, blockId: string | null | undefined): void {
    this.status(t, "running", ts);
    const cols: Partial<TryColumns> = { task_try_time_running: ts };
    if (hostname != null) cols.hostname = hostname;
    if (blockId != null) cols.block_id = blockId;
    this.sink.emit({ t: "try", task_id: t.id, try_id: t.tryId, first: false, cols });
  }

  runningEnded(t: TaskFacts, ts: Micros): void {
    this.status(t, "running_ended", ts);
  }

  /** A try failed and the task will try again: `fail_retryable`, the try's end, the task's failure counts. */
  retrying(t: TaskFacts, ts: Micros, returned: Micros, forensics: Partial<TryColumns> | null): void {
    this.status(t, "fail_retryable", ts);
    this.tryEnded(t, returned, forensics);
    this.sink.emit({
      t: "task",
      task_id: t.id,
      first: false,
      cols: { task_fail_count: t.failCount, task_fail_cost: t.failCost },
    });
  }

  /** A join app's body returned futures: `joining`, and which tasks it joins. */
  joining(t: TaskFacts, ts: Micros, joins: readonly number[]): void {
    this.status(t, "joining", ts);
    this.sink.emit({ t: "try", task_id: t.id, try_id: t.tryId, first: false, cols: { task_joins: joins.join(",") } });
  }

  /** A final state: the try's end, the task's end and counts, the status row. */
  final(
    t: TaskFacts,
    state: FinalState,
    ts: Micros,
    returned: Micros | null,
    forensics: Partial<TryColumns> | null,
  ): void {
    this.tryEnded(t, returned ?? ts, forensics);
    const taskCols: Partial<TaskColumns> = {
      task_time_returned: ts,
      task_fail_count: t.failCount,
      task_fail_cost: t.failCost,
    };
    if (t.hashsum) taskCols.task_hashsum = t.hashsum;
    this.sink.emit({ t: "task", task_id: t.id, first: false, cols: taskCols });
    this.status(t, state, ts);
  }

  /** The workflow row's counters (Parsl counts exec_done and failed only). */
  counts(completed: number, failed: number): void {
    this.sink.setCounts(completed, failed);
  }

  private tryEnded(t: TaskFacts, returned: Micros, forensics: Partial<TryColumns> | null): void {
    const cols: Partial<TryColumns> =
      forensics === null
        ? { task_try_time_returned: returned, task_fail_history: t.failHistory.join(",") }
        : { ...forensics, task_try_time_returned: returned, task_fail_history: t.failHistory.join(",") };
    if (t.tryHost !== null) cols.hostname = t.tryHost;
    this.sink.emit({ t: "try", task_id: t.id, try_id: t.tryId, first: false, cols });
  }

  private status(t: TaskFacts, state: StateName, ts: Micros): void {
    this.sink.emit({ t: "status", task_id: t.id, try_id: t.tryId, state, ts });
  }
}

// ---------------------------------------------------------------- executors' rows

/** A process sample: the `resource` row's psutil columns (derived from schema.ts) and when it was read. */
export type ResourceSample = { timestamp: Micros } & { [K in PsutilColumn]: NonNullable<RowOf<typeof RESOURCE>[K]> };

/** Names of the psutil columns, in table order (from schema.ts). */
export const PSUTIL_COLUMN_NAMES: readonly PsutilColumn[] = PSUTIL_COLUMNS.map((col) => col.name as PsutilColumn);

/** Is `s` a complete sample with the right value types? Extra keys are ignored (resourceRow copies only the known ones). */
export function isResourceSample(s: unknown, maxText = 64): s is ResourceSample {
  if (s === null || typeof s !== "object") return false;
  const r = s as Record<string, unknown>;
  if (typeof r.timestamp !== "number" || !Number.isFinite(r.timestamp)) return false;
  for (const col of PSUTIL_COLUMNS) {
    const v = r[col.name];
    if (
      col.type === "TEXT" ? typeof v !== "string" || v.length > maxText : typeof v !== "number" || !Number.isFinite(v)
    )
      return false;
  }
  return Number.isSafeInteger(r.psutil_process_pid);
}

/** A `resource` row for one try from a sample; only the known columns are copied (a pool cannot add keys). */
export function resourceRow(
  taskId: number,
  tryId: number,
  timestamp: Micros,
  interval: number,
  s: ResourceSample,
): ResourceEvent {
  const row: ResourceEvent["row"] = {
    try_id: tryId,
    task_id: taskId,
    timestamp,
    resource_monitoring_interval: interval,
  };
  for (const name of PSUTIL_COLUMN_NAMES) row[name] = s[name];
  return { t: "resource", row };
}

/** A `node` row (the table is an append-only log: one row per change). */
export function nodeRow(row: NodeEvent["row"]): NodeEvent {
  return { t: "node", row };
}

/** A `block` row: a block of an executor changed state. */
export function blockRow(
  executorLabel: string,
  blockId: string,
  jobId: string | null,
  timestamp: Micros,
  status: string,
): BlockEvent {
  return { t: "block", row: { executor_label: executorLabel, block_id: blockId, job_id: jobId, timestamp, status } };
}

// ---------------------------------------------------------------- checks against schema.ts

// The event shapes (messages.ts) are written out for the wire's sake; these make a drift from
// schema.ts a compile error: the same column names, and every value an event may carry fits its
// column. `task_memoize` is the one deliberate difference (a boolean the writer stores as Parsl's text).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Fits<A, B> = Same<keyof A, keyof B> extends true ? ([A] extends [B] ? true : false) : false;
type Expect<T extends true> = T;
type TaskRow = Omit<RowOf<typeof TASK>, "task_id" | "run_id" | "task_latest_status" | "task_memoize">;
type TryRow = Omit<RowOf<typeof TRY>, "try_id" | "task_id" | "run_id">;
export type SchemaChecks = [
  Expect<Fits<Omit<TaskColumns, "task_memoize">, TaskRow>>,
  Expect<Fits<TryColumns, TryRow>>,
  Expect<Same<NodeEvent["row"], Omit<RowOf<typeof NODE>, "id" | "run_id">>>,
];

function formatSeconds(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function safeUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? "unknown";
  }
}
