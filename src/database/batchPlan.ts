/**
 * Turns a batch of monitoring events into the rows to write, independent of the SQL dialect.
 * All `task` events of one task become one row write (an insert when the batch holds its
 * `first` event, else an update), likewise for `try`; the later event's value wins per
 * column, except that set-once columns (task_func_name, task_executor, …) are taken from the
 * `first` event only, as Parsl writes them only from a task's first message. Nothing here remembers earlier batches: whether a row exists is the database's
 * business (upserts), so memory does not grow with the number of tasks.
 *
 * `task_latest_status` is derived here, not sent: each task's newest status event in the batch
 * (by timestamp) becomes that column of its task row write, together with the status's time
 * (`latestTs`), which the store uses to refuse overwriting a newer state already stored (a
 * replayed older batch). So the column changes with every state change at no extra event.
 */
import type {
  BlockEvent,
  CountsEvent,
  MonitoringEvent,
  NodeEvent,
  ResourceEvent,
  StatusEvent,
  WorkflowEndEvent,
  WorkflowStartEvent,
} from "../vocabulary/events.js";

export interface CoalescedRow {
  readonly task_id: number;
  readonly try_id: number; // -1 for task rows
  first: boolean;
  /** Column name → value as sent (Micros, booleans); later events overwrite earlier ones. */
  cols: Record<string, unknown>;
  /** Task rows: time of the status that set `cols.task_latest_status` (the batch's newest for this task). */
  latestTs?: number;
}

export interface BatchPlan {
  workflowStart: WorkflowStartEvent | null;
  tasks: Map<number, CoalescedRow>;
  tries: Map<string, CoalescedRow>;
  status: StatusEvent[];
  resources: ResourceEvent[];
  nodes: NodeEvent[];
  blocks: BlockEvent[];
  counts: CountsEvent | null;
  workflowEnd: WorkflowEndEvent | null;
  /** Number of events the plan was built from. */
  events: number;
}

/** Columns Parsl updates after a task's first message, plus our task columns. */
export const TASK_UPDATABLE: ReadonlySet<string> = new Set([
  "task_time_invoked",
  "task_time_returned",
  "task_fail_count",
  "task_fail_cost",
  "task_hashsum",
  "task_inputs",
  "task_lineage_hash",
  "task_latest_status",
  "task_args",
]);
/** The task column the writer derives from status events (events may not set it). */
export const DERIVED_LATEST = "task_latest_status";
/** Columns Parsl updates after a try's first message (DFK updates plus the worker's first message). */
export const TRY_UPDATABLE: ReadonlySet<string> = new Set([
  "task_fail_history",
  "task_try_time_launched",
  "task_try_time_returned",
  "task_joins",
  "block_id",
  "hostname",
  "task_try_time_running",
  "task_try_error_type",
  "task_try_error",
  "task_try_exit_code",
  "task_try_stdout_tail",
  "task_try_stderr_tail",
]);

function pick(first: boolean, cols: Record<string, unknown>, updatable: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in cols) if (first || updatable.has(k)) out[k] = cols[k];
  return out;
}

function merge(
  into: CoalescedRow,
  first: boolean,
  cols: Record<string, unknown>,
  updatable: ReadonlySet<string>,
): void {
  if (first) into.first = true;
  for (const k in cols) if (first || updatable.has(k)) into.cols[k] = cols[k];
}

export function planBatch(events: readonly MonitoringEvent[]): BatchPlan {
  const plan: BatchPlan = {
    workflowStart: null,
    tasks: new Map(),
    tries: new Map(),
    status: [],
    resources: [],
    nodes: [],
    blocks: [],
    counts: null,
    workflowEnd: null,
    events: events.length,
  };
  const latest = new Map<number, StatusEvent>();
  for (const e of events) {
    switch (e.t) {
      case "task": {
        const row = plan.tasks.get(e.task_id);
        if (row) merge(row, e.first, e.cols, TASK_UPDATABLE);
        else
          plan.tasks.set(e.task_id, {
            task_id: e.task_id,
            try_id: -1,
            first: e.first,
            cols: pick(e.first, e.cols, TASK_UPDATABLE),
          });
        break;
      }
      case "try": {
        const key = e.task_id + "." + e.try_id;
        const row = plan.tries.get(key);
        if (row) merge(row, e.first, e.cols, TRY_UPDATABLE);
        else
          plan.tries.set(key, {
            task_id: e.task_id,
            try_id: e.try_id,
            first: e.first,
            cols: pick(e.first, e.cols, TRY_UPDATABLE),
          });
        break;
      }
      case "status": {
        plan.status.push(e);
        const seen = latest.get(e.task_id);
        if (seen === undefined || e.ts >= seen.ts) latest.set(e.task_id, e);
        break;
      }
      case "resource":
        plan.resources.push(e);
        break;
      case "node":
        plan.nodes.push(e);
        break;
      case "block":
        plan.blocks.push(e);
        break;
      case "counts":
        plan.counts = e;
        break;
      case "workflow_start":
        plan.workflowStart = e;
        break;
      case "workflow_end":
        plan.workflowEnd = e;
        break;
      default: {
        const never: never = e;
        throw new TypeError(`unknown monitoring event type ${JSON.stringify((never as { t?: unknown }).t)}`);
      }
    }
  }
  for (const row of plan.tasks.values()) if (DERIVED_LATEST in row.cols) delete row.cols[DERIVED_LATEST]; // only status events set it
  for (const s of latest.values()) {
    let row = plan.tasks.get(s.task_id);
    if (!row) plan.tasks.set(s.task_id, (row = { task_id: s.task_id, try_id: -1, first: false, cols: {} }));
    row.cols[DERIVED_LATEST] = s.state;
    row.latestTs = s.ts;
  }
  return plan;
}
