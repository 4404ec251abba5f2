/**
 * The compact wire form of the frequent monitoring events. A no-op task is 11 events, almost
 * all `status`, `task` and `try`; as JSON objects most of their bytes are key names, which
 * both sides pay for (encoding in the kernel, parsing in the writer). On the wire they are
 * positional arrays instead:
 *
 *   status: [0, task_id, try_id, state, ts]
 *   task:   [1, task_id, first (1|0), column, value, column, value, …]
 *   try:    [2, task_id, try_id, first (1|0), column, value, …]
 *
 * where `column` is the column's position in schema.ts's TASK/TRY table (a name is accepted
 * too). Every other event type travels as its JSON object. `fromWire` only restores the object
 * shape; the writer validates the result with validateEvent like any other event.
 */
import { TASK, TRY, type Table } from "../database/schema.js";
import type { MonitoringEvent } from "./messages.js";
import { InvalidEventError } from "./validate.js";

const STATUS = 0;
const TASK_TAG = 1;
const TRY_TAG = 2;

function positions(t: Table): Record<string, number> {
  const out: Record<string, number> = Object.create(null) as Record<string, number>;
  t.columns.forEach((c, i) => (out[c.name] = i));
  return out;
}
const TASK_POS = positions(TASK);
const TRY_POS = positions(TRY);

function pushCols(out: unknown[], cols: Record<string, unknown>, pos: Record<string, number>): unknown[] {
  for (const k in cols) {
    const v = cols[k];
    if (v === undefined) continue; // as JSON.stringify would omit it
    out.push(pos[k] ?? k, v);
  }
  return out;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The value JSON.stringify should write for `e`. Only well-shaped events are made compact;
 * anything else (a bug upstream) is sent as it is, so the writer reports it as it would any
 * malformed event.
 */
export function toWire(e: MonitoringEvent): unknown {
  if (!isPlainObject(e)) return e;
  switch (e.t) {
    case "status": return [STATUS, e.task_id, e.try_id, e.state, e.ts];
    case "task":
      if (typeof e.first !== "boolean" || !isPlainObject(e.cols)) return e;
      return pushCols([TASK_TAG, e.task_id, e.first ? 1 : 0], e.cols, TASK_POS);
    case "try":
      if (typeof e.first !== "boolean" || !isPlainObject(e.cols)) return e;
      return pushCols([TRY_TAG, e.task_id, e.try_id, e.first ? 1 : 0], e.cols, TRY_POS);
    default: return e;
  }
}

const fail = (msg: string): never => {
  throw new InvalidEventError(msg);
};

function flag(what: string, v: unknown): boolean {
  if (v !== 0 && v !== 1) fail(`${what}: first must be 0 or 1 on the wire, got ${JSON.stringify(v)}`);
  return v === 1;
}

function readCols(what: string, a: unknown[], from: number, t: Table, pos: Record<string, number>): Record<string, unknown> {
  if ((a.length - from) % 2 !== 0) fail(`${what}: columns and values must come in pairs`);
  const cols: Record<string, unknown> = {};
  for (let i = from; i < a.length; i += 2) {
    const k = a[i];
    // Only real column names become keys (never "__proto__" or the like); validateEvent then
    // refuses the key columns and checks every value.
    const name = typeof k === "number" ? t.columns[k]?.name : typeof k === "string" && k in pos ? k : undefined;
    if (name === undefined) fail(`${what}: ${t.name} has no column ${JSON.stringify(k)}`);
    cols[name!] = a[i + 1];
  }
  return cols;
}

/** The object form of a wire event (not yet validated); objects pass through unchanged. */
export function fromWire(x: unknown): unknown {
  if (!Array.isArray(x)) return x;
  switch (x[0]) {
    case STATUS:
      if (x.length !== 5) fail(`a status event has 5 fields on the wire, got ${x.length}`);
      return { t: "status", task_id: x[1], try_id: x[2], state: x[3], ts: x[4] };
    case TASK_TAG:
      return { t: "task", task_id: x[1], first: flag(`task ${String(x[1])}`, x[2]), cols: readCols(`task ${String(x[1])}`, x, 3, TASK, TASK_POS) };
    case TRY_TAG: {
      const what = `try ${String(x[2])} of task ${String(x[1])}`;
      return { t: "try", task_id: x[1], try_id: x[2], first: flag(what, x[3]), cols: readCols(what, x, 4, TRY, TRY_POS) };
    }
    default:
      return fail(`unknown wire event tag ${JSON.stringify(x[0])}`);
  }
}
