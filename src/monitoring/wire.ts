/**
 * The binary wire form of monitoring events, kernel → writer. A no-op task is 11 events, almost
 * all `status`, `task` and `try`; as JSON most of their cost is text (key names, 16-digit
 * timestamps) that the kernel formats and the writer parses again. Here they are binary records
 * (little-endian; ids and times as float64, which holds every safe integer exactly):
 *
 *   status: u8 0, f64 task_id, f64 try_id, u8 state (index in STATE_NAMES), f64 ts
 *   task:   u8 1, f64 task_id, u8 first, u8 n, n × (u8 column, value)
 *   try:    u8 2, f64 task_id, f64 try_id, u8 first, u8 n, n × (u8 column, value)
 *   other:  u8 3, u32 length, UTF-8 JSON of the event object
 *   value:  u8 kind: 0 null, 1 false, 2 true, 3 f64, 4 string (u32 length + UTF-8)
 *
 * where `column` is the column's position in schema.ts's TASK/TRY table. Every other event type,
 * and any event that does not fit the compact form (a bug upstream), travels as JSON, so the
 * writer reports it exactly as it would any malformed event. The writer decodes untrusted
 * bytes: each record is read to its end first, so a record with a bad value is dropped alone;
 * a record that runs past the payload ends the batch (reported, the events before it kept).
 */
import { STATE_NAMES, TASK, TRY, type Table } from "../database/schema.js";
import type { MonitoringEvent } from "./messages.js";
import { InvalidEventError } from "./validate.js";

const STATUS = 0;
const TASK_TAG = 1;
const TRY_TAG = 2;
const JSON_TAG = 3;

const NULL = 0;
const FALSE = 1;
const TRUE = 2;
const NUMBER = 3;
const STRING = 4;

function positions(t: Table): Map<string, number> {
  return new Map(t.columns.map((c, i) => [c.name, i]));
}
const TASK_POS = positions(TASK);
const TRY_POS = positions(TRY);
const STATE_CODE = new Map<string, number>(STATE_NAMES.map((s, i) => [s, i]));

/** A growable output buffer. */
export class ByteWriter {
  buf: Buffer;
  at = 0;
  constructor(size = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(size);
  }
  ensure(n: number): void {
    if (this.at + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.at + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.at++] = v;
  }
  u32(v: number): void {
    this.ensure(4);
    this.at = this.buf.writeUInt32LE(v, this.at);
  }
  f64(v: number): void {
    this.ensure(8);
    this.at = this.buf.writeDoubleLE(v, this.at);
  }
  /** u32 byte length, then the UTF-8 bytes. */
  str(s: string): void {
    this.ensure(4 + s.length * 3);
    const n = this.buf.write(s, this.at + 4, "utf8");
    this.buf.writeUInt32LE(n, this.at);
    this.at += 4 + n;
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isWireValue = (v: unknown): boolean =>
  v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean";

/**
 * Appends the column/value pairs of `cols`. Returns false, having written part of them, when a
 * key is not a column of the table or a value has no wire kind; the caller then rewinds and
 * sends the event as JSON.
 */
function writeCols(w: ByteWriter, cols: Record<string, unknown>, pos: Map<string, number>): boolean {
  const countAt = w.at;
  w.u8(0);
  let n = 0;
  for (const k in cols) {
    const v = cols[k];
    if (v === undefined) continue; // as JSON.stringify would omit it
    const column = pos.get(k);
    if (column === undefined || !isWireValue(v)) return false;
    w.u8(column);
    if (v === null) w.u8(NULL);
    else if (typeof v === "boolean") w.u8(v ? TRUE : FALSE);
    else if (typeof v === "number") {
      w.u8(NUMBER);
      w.f64(v);
    } else {
      w.u8(STRING);
      w.str(v as string);
    }
    n++;
  }
  w.buf[countAt] = n;
  return true;
}

const isId = (v: unknown): v is number => typeof v === "number";

/**
 * Appends one event. Throws only when an event cannot be represented at all (JSON.stringify
 * fails: a BigInt, a cycle); the caller drops that event alone.
 */
export function writeEvent(w: ByteWriter, e: MonitoringEvent): void {
  const x = e as unknown;
  if (isPlainObject(x)) {
    switch (x["t"]) {
      case "status": {
        const code = STATE_CODE.get(x["state"] as string);
        if (code === undefined || !isId(x["task_id"]) || !isId(x["try_id"]) || !isId(x["ts"])) break;
        w.ensure(26);
        w.buf[w.at++] = STATUS;
        w.at = w.buf.writeDoubleLE(x["task_id"], w.at);
        w.at = w.buf.writeDoubleLE(x["try_id"], w.at);
        w.buf[w.at++] = code;
        w.at = w.buf.writeDoubleLE(x["ts"], w.at);
        return;
      }
      case "task": {
        const cols = x["cols"];
        if (typeof x["first"] !== "boolean" || !isId(x["task_id"]) || !isPlainObject(cols)) break;
        const start = w.at;
        w.u8(TASK_TAG);
        w.f64(x["task_id"]);
        w.u8(x["first"] ? 1 : 0);
        if (writeCols(w, cols, TASK_POS)) return;
        w.at = start;
        break;
      }
      case "try": {
        const cols = x["cols"];
        if (typeof x["first"] !== "boolean" || !isId(x["task_id"]) || !isId(x["try_id"]) || !isPlainObject(cols)) break;
        const start = w.at;
        w.u8(TRY_TAG);
        w.f64(x["task_id"]);
        w.f64(x["try_id"]);
        w.u8(x["first"] ? 1 : 0);
        if (writeCols(w, cols, TRY_POS)) return;
        w.at = start;
        break;
      }
      default:
        break;
    }
  }
  const json = JSON.stringify(x);
  if (json === undefined) throw new TypeError(`a ${typeof x} is not a monitoring event`);
  w.u8(JSON_TAG);
  w.str(json);
}

/** Thrown when a record runs past the end of the payload: nothing after it can be read. */
export class TruncatedError extends Error {
  override readonly name = "TruncatedError";
}

/** Reads untrusted bytes; every read is bounds-checked. */
export class ByteReader {
  at: number;
  constructor(
    readonly buf: Buffer,
    from = 0,
    readonly end = buf.length,
  ) {
    this.at = from;
  }
  get done(): boolean {
    return this.at >= this.end;
  }
  private need(n: number): void {
    if (this.at + n > this.end)
      throw new TruncatedError(`a record needs ${n} more bytes at offset ${this.at} but the batch ends at ${this.end}`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.at++]!;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.at);
    this.at += 4;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.buf.readDoubleLE(this.at);
    this.at += 8;
    return v;
  }
  str(): string {
    const n = this.u32();
    this.need(n);
    const s = this.buf.toString("utf8", this.at, this.at + n);
    this.at += n;
    return s;
  }
}

/** A value that failed to decode; the record is still read to its end, then rejected. */
interface Bad {
  problem: string;
}

function readValue(r: ByteReader): unknown {
  const kind = r.u8();
  switch (kind) {
    case NULL:
      return null;
    case FALSE:
      return false;
    case TRUE:
      return true;
    case NUMBER:
      return r.f64();
    case STRING:
      return r.str();
    default:
      throw new TruncatedError(`unknown value kind ${kind} at offset ${r.at - 1}`);
  }
}

function readCols(r: ByteReader, t: Table, what: () => string, bad: Bad[]): Record<string, unknown> {
  const n = r.u8();
  const cols: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    const c = r.u8();
    const v = readValue(r);
    const name = t.columns[c]?.name;
    if (name === undefined) bad.push({ problem: `${what()}: ${t.name} has no column ${c}` });
    else cols[name] = v;
  }
  return cols;
}

/**
 * Reads the next event, not yet validated (the writer runs validateEvent on it). Throws
 * InvalidEventError for a record that was read to its end but is wrong (the next record can
 * still be read), TruncatedError when the bytes cannot be read as a record at all.
 */
export function readEvent(r: ByteReader): unknown {
  const tag = r.u8();
  const bad: Bad[] = [];
  let event: unknown;
  switch (tag) {
    case STATUS: {
      const task_id = r.f64();
      const try_id = r.f64();
      const code = r.u8();
      const ts = r.f64();
      const state = STATE_NAMES[code];
      if (state === undefined) bad.push({ problem: `status of task ${task_id}: unknown state code ${code}` });
      event = { t: "status", task_id, try_id, state, ts };
      break;
    }
    case TASK_TAG: {
      const task_id = r.f64();
      const first = r.u8();
      const cols = readCols(r, TASK, () => `task ${task_id}`, bad);
      if (first > 1) bad.push({ problem: `task ${task_id}: first must be 0 or 1 on the wire, got ${first}` });
      event = { t: "task", task_id, first: first === 1, cols };
      break;
    }
    case TRY_TAG: {
      const task_id = r.f64();
      const try_id = r.f64();
      const first = r.u8();
      const cols = readCols(r, TRY, () => `try ${try_id} of task ${task_id}`, bad);
      if (first > 1)
        bad.push({ problem: `try ${try_id} of task ${task_id}: first must be 0 or 1 on the wire, got ${first}` });
      event = { t: "try", task_id, try_id, first: first === 1, cols };
      break;
    }
    case JSON_TAG: {
      const text = r.str();
      try {
        event = JSON.parse(text);
      } catch (err) {
        throw new InvalidEventError(
          `an event of ${text.length} characters is not valid JSON (${(err as Error).message})`,
        );
      }
      break;
    }
    default:
      throw new TruncatedError(`unknown wire event tag ${tag} at offset ${r.at - 1}`);
  }
  if (bad.length > 0) throw new InvalidEventError(bad.map((b) => b.problem).join("; "));
  return event;
}
