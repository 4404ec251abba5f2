/**
 * Turns a batch of monitoring events into the rows to write, independent of the SQL dialect.
 * All `task` events of one task become one row write (an insert when the batch holds its
 * `first` event, else an update), likewise for `try`; the later event's value wins per
 * column, except that set-once columns (task_func_name, task_executor, …) are taken from the
 * `first` event only, as Parsl writes them only from a task's first message. Nothing here remembers earlier batches: whether a row exists is the database's
 * business (upserts), so memory does not grow with the number of tasks.
 *
 * `task_latest_status` is derived here, not sent: each task's newest status event in the batch
 * (by timestamp) becomes that column of its task row write (`latest`), together with the
 * status's time (`latestTs`), which the stores use to refuse overwriting a newer state already
 * stored (a replayed older batch). So the column changes with every state change at no extra event.
 *
 * This runs for every event the writer stores, so it copies nothing it need not: a row's columns
 * are a bitmask over its table's columns (`mask`) plus the values by name (`cols`), which is the
 * first event's own `cols` object until a second event of the same row adds to it.
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
import { TASK, TRY, type Table } from "./schema.js";

export interface CoalescedRow {
  readonly task_id: number;
  readonly try_id: number; // -1 for task rows
  first: boolean;
  /**
   * The columns this row writes: bit i is column i of its table (schema order). Never the key
   * columns, nor task_latest_status (see `latest`).
   */
  mask: number;
  /**
   * Column name → value as sent (Micros, booleans), to be read for the columns in `mask` only:
   * it may be an event's own object, holding columns the row does not write. Never written to.
   */
  readonly cols: Readonly<Record<string, unknown>>;
  /** Task rows: the batch's newest state of this task (task_latest_status), or undefined if it has none. */
  latest: string | undefined;
  /** Time of the status that set `latest`. */
  latestTs: number;
  /** The first name an event gave this row that is no column of its table (the row must be refused), else undefined. */
  unknownColumn: string | undefined;
}

export interface BatchPlan {
  workflowStart: WorkflowStartEvent | null;
  tasks: Map<number, CoalescedRow>;
  /** Keyed by tryKey(task_id, try_id). */
  tries: Map<number | string, CoalescedRow>;
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

/** A table's columns as bits, for rows of that table. */
export class ColumnBits {
  /** Column name → position in the table (its bit). */
  readonly index = new Map<string, number>();
  /** Columns a first event may set: all but the keys and task_latest_status. */
  readonly settable: number;
  /** Columns a later event may set. */
  readonly updatable: number;
  private readonly namesCache = new Map<number, readonly string[]>();

  constructor(
    readonly table: Table,
    updatable: ReadonlySet<string>,
  ) {
    if (table.columns.length > 31) throw new Error(`table ${table.name} has too many columns for a bitmask`);
    let settable = 0;
    let later = 0;
    table.columns.forEach((c, i) => {
      this.index.set(c.name, i);
      if (table.primaryKey.includes(c.name) || c.name === DERIVED_LATEST) return;
      settable |= 1 << i;
      if (updatable.has(c.name)) later |= 1 << i;
    });
    this.settable = settable;
    this.updatable = later;
  }

  bit(name: string): number {
    return 1 << this.index.get(name)!;
  }

  /** The names of the columns in `mask`, in table order. */
  names(mask: number): readonly string[] {
    let out = this.namesCache.get(mask);
    if (!out) {
      out = this.table.columns.filter((_, i) => (mask & (1 << i)) !== 0).map((c) => c.name);
      this.namesCache.set(mask, out);
    }
    return out;
  }
}

export const TASK_BITS = new ColumnBits(TASK, TASK_UPDATABLE);
export const TRY_BITS = new ColumnBits(TRY, TRY_UPDATABLE);

/**
 * The key of a try row in BatchPlan.tries: a small integer (which a Map hashes fastest) while
 * both ids are small enough, as nearly always (try ids below 8, task ids below 2^27), else a string.
 */
export function tryKey(taskId: number, tryId: number): number | string {
  return (tryId & 7) === tryId && (taskId & 0x7ffffff) === taskId ? taskId * 8 + tryId : taskId + "." + tryId;
}

class Row implements CoalescedRow {
  mask = 0;
  cols: Record<string, unknown> = EMPTY;
  /** Whether `cols` is this row's own object (else an event's, which must not change). */
  owned = false;
  latest: string | undefined = undefined;
  latestTs = 0;
  unknownColumn: string | undefined = undefined;
  constructor(
    readonly task_id: number,
    readonly try_id: number,
    public first: boolean,
  ) {}
}
const EMPTY: Record<string, unknown> = Object.freeze({});

/** Adds an event's columns to its row: a first event sets every settable column, a later one the updatable ones. */
function addColumns(row: Row, first: boolean, cols: Record<string, unknown>, bits: ColumnBits): void {
  if (first) row.first = true;
  let sent = 0;
  for (const k in cols) {
    const i = bits.index.get(k);
    if (i === undefined) row.unknownColumn ??= k;
    else sent |= 1 << i;
  }
  const take = sent & (first ? bits.settable : bits.updatable);
  if (take === 0) return;
  if (row.mask === 0) {
    row.cols = cols; // shared until a second event adds to this row
    row.owned = false;
    row.mask = take;
    return;
  }
  if (!row.owned) {
    const own: Record<string, unknown> = {};
    for (const name of bits.names(row.mask)) own[name] = row.cols[name];
    row.cols = own;
    row.owned = true;
  }
  for (const name of bits.names(take)) row.cols[name] = cols[name];
  row.mask |= take;
}

export function planBatch(events: readonly MonitoringEvent[]): BatchPlan {
  const tasks = new Map<number, Row>();
  const tries = new Map<number | string, Row>();
  const plan: BatchPlan = {
    workflowStart: null,
    tasks,
    tries,
    status: [],
    resources: [],
    nodes: [],
    blocks: [],
    counts: null,
    workflowEnd: null,
    events: events.length,
  };
  for (const e of events) {
    switch (e.t) {
      case "status": {
        plan.status.push(e);
        let row = tasks.get(e.task_id);
        if (row === undefined) tasks.set(e.task_id, (row = new Row(e.task_id, -1, false)));
        if (row.latest === undefined || e.ts >= row.latestTs) {
          row.latest = e.state;
          row.latestTs = e.ts;
        }
        break;
      }
      case "task": {
        let row = tasks.get(e.task_id);
        if (row === undefined) tasks.set(e.task_id, (row = new Row(e.task_id, -1, e.first)));
        addColumns(row, e.first, e.cols, TASK_BITS);
        break;
      }
      case "try": {
        const key = tryKey(e.task_id, e.try_id);
        let row = tries.get(key);
        if (row === undefined) tries.set(key, (row = new Row(e.task_id, e.try_id, e.first)));
        addColumns(row, e.first, e.cols, TRY_BITS);
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
  return plan;
}
