/**
 * Validation of monitoring events that crossed a process boundary. Anything the writer
 * receives may be garbage; an event is either proven to match messages.ts (column names and
 * value types from schema.ts, state names from STATES) or rejected with a message that says
 * what is wrong.
 */
import {
  BLOCK_STATES,
  RESOURCE,
  RUN_STATUSES,
  STATES,
  TASK,
  TRY,
  type Column,
  type Table,
} from "../database/schema.js";
import { ERROR_TEXT_MAX_BYTES, TAIL_BYTES, type MonitoringEvent } from "./messages.js";

export class InvalidEventError extends Error {
  override readonly name = "InvalidEventError";
}

const fail = (msg: string): never => {
  throw new InvalidEventError(msg);
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const show = (v: unknown): string => {
  const s =
    typeof v === "string" ? JSON.stringify(v) : v === undefined ? "undefined" : (JSON.stringify(v) ?? String(v));
  return s.length > 60 ? s.slice(0, 57) + "..." : s;
};

function id(where: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
    fail(`${where} must be a non-negative integer, got ${show(v)}`);
  return v as number;
}
function micros(where: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
    fail(`${where} must be a time in integer microseconds since the epoch, got ${show(v)}`);
  return v as number;
}
function str(where: string, v: unknown): string {
  if (typeof v !== "string") fail(`${where} must be a string, got ${show(v)}`);
  return v as string;
}
function strOrNull(where: string, v: unknown): string | null {
  return v === null ? null : str(where, v);
}
function oneOf(where: string, v: unknown, allowed: readonly string[] | ReadonlySet<string>): string {
  const ok =
    typeof v === "string" && (Array.isArray(allowed) ? allowed.includes(v) : (allowed as ReadonlySet<string>).has(v));
  if (!ok) fail(`${where} must be one of ${[...allowed].join(", ")}; got ${show(v)}`);
  return v as string;
}

const STATE_SET: ReadonlySet<string> = new Set(Object.keys(STATES));

/** Value overrides where the event type differs from the column type. */
const SPECIAL: Record<string, (where: string, v: unknown) => void> = {
  "task.task_memoize": (w, v) => {
    if (typeof v !== "boolean") fail(`${w} must be a boolean, got ${show(v)}`);
  },
  "task.task_latest_status": (w) => {
    fail(`${w} is derived by the writer from status events; a task event may not set it`);
  },
  // Failure forensics are bounded where they are made; a larger value is a bug or garbage.
  "try.task_try_error": (w, v) => {
    if (Buffer.byteLength(str(w, v)) > ERROR_TEXT_MAX_BYTES)
      fail(`${w} must be at most ${ERROR_TEXT_MAX_BYTES} bytes of UTF-8`);
  },
  "try.task_try_stdout_tail": (w, v) => {
    tail(w, v);
  },
  "try.task_try_stderr_tail": (w, v) => {
    tail(w, v);
  },
};

/** A tail is at most TAIL_BYTES bytes of a file, decoded: never more characters than that. */
function tail(where: string, v: unknown): void {
  if (str(where, v).length > TAIL_BYTES)
    fail(`${where} must be at most ${TAIL_BYTES} characters (the file's last ${TAIL_BYTES} bytes)`);
}

type Check = (v: unknown) => void;

/** A checker for one column, with its message prefix computed once (this runs for every value). */
function columnCheck(table: Table, c: Column): Check {
  const where = `${table.name}.${c.name}`;
  const special = SPECIAL[where];
  const typed: Check = special
    ? (v) => special(where, v)
    : c.type === "TEXT"
      ? (v) => {
          str(where, v);
        }
      : c.type === "INTEGER" || c.type === "BIGINT"
        ? (v) => {
            if (typeof v !== "number" || !Number.isSafeInteger(v)) fail(`${where} must be an integer, got ${show(v)}`);
          }
        : c.type === "FLOAT"
          ? (v) => {
              if (typeof v !== "number" || !Number.isFinite(v))
                fail(`${where} must be a finite number, got ${show(v)}`);
            }
          : c.type === "DATETIME"
            ? (v) => {
                micros(where, v);
              }
            : (v) => {
                if (typeof v !== "boolean") fail(`${where} must be a boolean, got ${show(v)}`);
              };
  return (v) => {
    if (v === null) {
      if (c.notNull) fail(`${where} must not be null`);
      return;
    }
    typed(v);
  };
}

/** Column lookup for the `cols` of task/try events and `row` of resource events. */
function columnsOf(t: Table, exclude: readonly string[]): Map<string, Check> {
  return new Map(t.columns.filter((c) => !exclude.includes(c.name)).map((c) => [c.name, columnCheck(t, c)]));
}
const TASK_COLS = columnsOf(TASK, ["task_id", "run_id"]);
const TRY_COLS = columnsOf(TRY, ["try_id", "task_id", "run_id"]);
const RESOURCE_COLS = columnsOf(RESOURCE, ["run_id"]);
const requiredOnFirst = (t: Table, keys: readonly string[]): string[] =>
  t.columns.filter((c) => c.notNull && !keys.includes(c.name)).map((c) => c.name);
const TASK_REQUIRED = requiredOnFirst(TASK, ["task_id", "run_id"]);
const TRY_REQUIRED = requiredOnFirst(TRY, ["try_id", "task_id", "run_id"]);

function checkCols(
  what: () => string,
  table: Table,
  allowed: Map<string, Check>,
  cols: unknown,
  required: readonly string[],
): void {
  if (!isObject(cols)) fail(`${what()}: cols must be an object, got ${show(cols)}`);
  const c = cols as Record<string, unknown>;
  for (const k in c) {
    const check = allowed.get(k);
    if (!check) fail(`${what()}: ${table.name} has no column ${show(k)}`);
    check!(c[k]);
  }
  for (const r of required) if (!(r in c)) fail(`${what()}: lacks required column ${table.name}.${r}`);
}

/** Returns the event typed, or throws InvalidEventError naming the problem. */
export function validateEvent(x: unknown): MonitoringEvent {
  if (!isObject(x)) return fail(`event must be an object, got ${show(x)}`);
  switch (x["t"]) {
    case "task": {
      const taskId = id("task.task_id", x["task_id"]);
      if (typeof x["first"] !== "boolean") fail(`task ${taskId}: first must be a boolean`);
      checkCols(() => `task ${taskId}`, TASK, TASK_COLS, x["cols"], x["first"] ? TASK_REQUIRED : []);
      break;
    }
    case "try": {
      const taskId = id("try.task_id", x["task_id"]);
      const tryId = id("try.try_id", x["try_id"]);
      if (typeof x["first"] !== "boolean") fail(`try ${tryId} of task ${taskId}: first must be a boolean`);
      checkCols(() => `try ${tryId} of task ${taskId}`, TRY, TRY_COLS, x["cols"], x["first"] ? TRY_REQUIRED : []);
      break;
    }
    case "status":
      id("status.task_id", x["task_id"]);
      id("status.try_id", x["try_id"]);
      oneOf("status.state", x["state"], STATE_SET);
      micros("status.ts", x["ts"]);
      break;
    case "resource": {
      const row = x["row"];
      if (!isObject(row)) return fail(`resource: row must be an object, got ${show(row)}`);
      checkCols(() => "resource", RESOURCE, RESOURCE_COLS, row, ["try_id", "task_id", "timestamp"]);
      break;
    }
    case "node": {
      const r = x["row"];
      if (!isObject(r)) return fail(`node: row must be an object, got ${show(r)}`);
      for (const k of ["hostname", "uid", "block_id", "python_v"]) str(`node.${k}`, r[k]);
      for (const k of ["cpu_count", "total_memory", "worker_count"]) id(`node.${k}`, r[k]);
      if (typeof r["active"] !== "boolean") fail(`node.active must be a boolean, got ${show(r["active"])}`);
      micros("node.timestamp", r["timestamp"]);
      micros("node.last_heartbeat", r["last_heartbeat"]);
      break;
    }
    case "block": {
      const r = x["row"];
      if (!isObject(r)) return fail(`block: row must be an object, got ${show(r)}`);
      str("block.executor_label", r["executor_label"]);
      str("block.block_id", r["block_id"]);
      strOrNull("block.job_id", r["job_id"]);
      micros("block.timestamp", r["timestamp"]);
      oneOf("block.status", r["status"], BLOCK_STATES);
      break;
    }
    case "workflow_start":
      strOrNull("workflow.workflow_name", x["workflow_name"]);
      strOrNull("workflow.workflow_version", x["workflow_version"]);
      micros("workflow.time_began", x["time_began"]);
      for (const k of ["host", "user", "rundir"]) str(`workflow.${k}`, x[k]);
      if (x["heartbeat_period"] !== undefined) {
        const p = x["heartbeat_period"];
        if (typeof p !== "number" || !Number.isFinite(p) || p <= 0)
          return fail(`workflow.heartbeat_period must be a positive number of seconds, got ${show(p)}`);
      }
      break;
    case "workflow_end":
      micros("workflow.time_completed", x["time_completed"]);
      id("workflow.tasks_completed_count", x["tasks_completed_count"]);
      id("workflow.tasks_failed_count", x["tasks_failed_count"]);
      oneOf("workflow.run_status", x["run_status"], RUN_STATUSES);
      break;
    case "counts":
      id("workflow.tasks_completed_count", x["tasks_completed_count"]);
      id("workflow.tasks_failed_count", x["tasks_failed_count"]);
      break;
    default:
      return fail(`unknown event type ${show(x["t"])}`);
  }
  return x as unknown as MonitoringEvent;
}
