/**
 * The writer's input side in isolation: framing (including resynchronisation after garbage)
 * and event validation against schema.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeFrame, FrameReader, type FrameItem } from "../src/monitoring/frames.js";
import type { MonitoringEvent } from "../src/monitoring/messages.js";
import { validateEvent } from "../src/monitoring/validate.js";
import { fromWire } from "../src/monitoring/wire.js";

const T = 1_764_000_000_000_000;

const VALID: MonitoringEvent[] = [
  { t: "workflow_start", workflow_name: null, workflow_version: "v", time_began: T, host: "h", user: "u", rundir: "/r" },
  { t: "workflow_end", time_completed: T, tasks_completed_count: 1, tasks_failed_count: 0, run_status: "interrupted" },
  { t: "counts", tasks_completed_count: 3, tasks_failed_count: 1 },
  { t: "task", task_id: 0, first: true, cols: { task_func_name: "f", task_memoize: true, task_fail_count: 0, task_fail_cost: 0.5,
    task_hashsum: null, task_time_invoked: T, task_latest_status: "pending", task_lineage_hash: "abc" } },
  { t: "task", task_id: 0, first: false, cols: { task_inputs: "[1]" } },
  { t: "try", task_id: 0, try_id: 2, first: true, cols: { task_executor: "threads", task_joins: "1,2" } },
  { t: "status", task_id: 0, try_id: 0, state: "memo_done", ts: T },
  { t: "resource", row: { try_id: 0, task_id: 0, timestamp: T, psutil_cpu_num: "3", psutil_process_time_user: 1.25, psutil_process_pid: 7 } },
  { t: "node", row: { hostname: "h", uid: "u1", block_id: "0", cpu_count: 2, total_memory: 1e10, active: false, worker_count: 2,
    python_v: "20", timestamp: T, last_heartbeat: T } },
  { t: "block", row: { executor_label: "htex", block_id: "0", job_id: null, timestamp: T, status: "SCALED_IN" } },
];

test("every well-formed event type passes validation unchanged", () => {
  for (const e of VALID) assert.equal(validateEvent(JSON.parse(JSON.stringify(e))).t, e.t);
});

test("malformed events are rejected with a message naming the field", () => {
  const cases: [unknown, RegExp][] = [
    [{ t: "task", task_id: 1, first: true, cols: { task_func_name: "f", task_memoize: false, task_fail_count: 0 } }, /task 1: lacks required column task\.task_fail_cost/],
    [{ t: "task", task_id: 1, first: false, cols: { task_fail_count: null } }, /task\.task_fail_count must not be null/],
    [{ t: "task", task_id: 1, first: false, cols: { task_fail_cost: Infinity } }, /task\.task_fail_cost must be a finite number/],
    [{ t: "task", task_id: 1, first: false, cols: { task_latest_status: "done" } }, /task\.task_latest_status must be one of .*got "done"/],
    [{ t: "task", task_id: -1, first: false, cols: {} }, /task\.task_id must be a non-negative integer/],
    [{ t: "task", task_id: 1, first: "yes", cols: {} }, /first must be a boolean/],
    [{ t: "task", task_id: 1, first: false, cols: [] }, /cols must be an object/],
    [{ t: "try", task_id: 1, try_id: 0, first: true, cols: {} }, /lacks required column try\.task_executor/],
    [{ t: "try", task_id: 1, try_id: 0, first: false, cols: { task_try_time_running: "2026-01-01" } }, /try\.task_try_time_running must be a time/],
    [{ t: "status", task_id: 1, try_id: 0, state: "pending", ts: 1.5 }, /status\.ts must be a time/],
    [{ t: "resource", row: { try_id: 0, task_id: 0, timestamp: T, run_id: "other" } }, /resource has no column "run_id"/],
    [{ t: "node", row: { ...(VALID[8] as { row: object }).row, active: 1 } }, /node\.active must be a boolean/],
    [{ t: "block", row: { executor_label: "x", block_id: "0", job_id: null, timestamp: T, status: "EXPLODED" } }, /block\.status must be one of/],
    [{ t: "workflow_end", time_completed: T, tasks_completed_count: 0, tasks_failed_count: 0, run_status: "fine" }, /workflow\.run_status must be one of/],
    [{ t: "workflow_start", workflow_name: 3, workflow_version: null, time_began: T, host: "h", user: "u", rundir: "/r" }, /workflow\.workflow_name must be a string/],
    [{ t: "counts", tasks_completed_count: "1", tasks_failed_count: 0 }, /workflow\.tasks_completed_count must be a non-negative integer/],
    [[1, 2], /event must be an object/],
    [{ t: "__proto__" }, /unknown event type "__proto__"/],
  ];
  for (const [event, message] of cases) assert.throws(() => validateEvent(event), message, JSON.stringify(event));
});

/** What the writer does with a frame's payload: parse, restore each event's object form, validate. */
function decodePayload(payload: Buffer): MonitoringEvent[] {
  return (JSON.parse(payload.toString("utf8")) as { events: unknown[] }).events.map((e) => validateEvent(fromWire(e)));
}

test("every event comes out of the wire form exactly as it went in; task, try and status events travel compact", () => {
  const allTaskCols = { task_depends: "1,2", task_func_name: "f", task_memoize: false, task_hashsum: "h", task_inputs: "[1]",
    task_outputs: "None", task_stdin: null, task_stdout: "o", task_stderr: "e", task_time_invoked: T, task_time_returned: T + 1,
    task_fail_count: 2, task_fail_cost: 1.5, task_lineage_hash: "l", task_latest_status: "exec_done" } as const;
  const allTryCols = { block_id: "0", hostname: "h", task_executor: "htex", task_try_time_launched: T, task_try_time_running: T + 1,
    task_try_time_returned: T + 2, task_fail_history: "", task_joins: null };
  const events: MonitoringEvent[] = [...VALID,
    { t: "task", task_id: 9, first: true, cols: allTaskCols },
    { t: "try", task_id: 9, try_id: 1, first: false, cols: allTryCols }];
  const r = new FrameReader();
  r.push(encodeFrame({ seq: 1, events }));
  const [item] = drain(r);
  assert.ok(item && "payload" in item);
  assert.deepEqual(decodePayload(item.payload), events);
  const wire = (JSON.parse(item.payload.toString("utf8")) as { events: unknown[] }).events;
  assert.deepEqual(wire.map((e) => (Array.isArray(e) ? "array" : (e as { t: string }).t)),
    ["workflow_start", "workflow_end", "counts", "array", "array", "array", "array", "resource", "node", "block", "array", "array"]);
  assert.deepEqual(wire[6], [0, 0, 0, "memo_done", T], "status: [0, task_id, try_id, state, ts]");
});

test("malformed wire events are rejected with a message naming the problem", () => {
  const cases: [unknown, RegExp][] = [
    [[9, 1, 2], /unknown wire event tag 9/],
    [[0, 1, 0, "pending"], /a status event has 5 fields on the wire, got 4/],
    [[0, 1, 0, "exploded", T], /status\.state must be one of .*got "exploded"/],
    [[1, 1, 2], /task 1: first must be 0 or 1 on the wire, got 2/],
    [[1, 1, 0, 3], /task 1: columns and values must come in pairs/],
    [[1, 1, 0, 99, "x"], /task 1: task has no column 99/],
    [[1, 1, 0, 1.5, "x"], /task 1: task has no column 1.5/],
    [[1, 1, 0, "__proto__", { task_func_name: "f" }], /task 1: task has no column "__proto__"/],
    [[1, 1, 0, 0, 5], /task 1: task has no column "task_id"/],
    [[1, "1", 0], /task\.task_id must be a non-negative integer, got "1"/],
    [[2, 0, 0, 1, 5, 3], /try\.task_executor must be a string, got 3/],
    [[2, 0, 0, 1], /try 0 of task 0: lacks required column try\.task_executor/],
  ];
  for (const [event, message] of cases) assert.throws(() => validateEvent(fromWire(event)), message, JSON.stringify(event));
});

function drain(r: FrameReader): FrameItem[] {
  const out: FrameItem[] = [];
  for (let x = r.next(); x !== null; x = r.next()) out.push(x);
  return out;
}
const payloads = (items: FrameItem[]): unknown[] =>
  items.flatMap((i) => ("payload" in i ? [JSON.parse(i.payload.toString()).seq] : []));

test("frames survive arbitrary chunking", () => {
  const frames = Buffer.concat([1, 2, 3].map((seq) => encodeFrame({ seq, events: VALID })));
  for (const size of [1, 7, 64, frames.length]) {
    const r = new FrameReader();
    const items: FrameItem[] = [];
    for (let i = 0; i < frames.length; i += size) {
      r.push(frames.subarray(i, i + size));
      items.push(...drain(r));
    }
    assert.deepEqual(payloads(items), [1, 2, 3], `chunk size ${size}`);
    assert.equal(r.buffered, 0);
  }
});

test("after garbage the reader reports it once and resynchronises on the next frame", () => {
  const r = new FrameReader();
  r.push(encodeFrame({ seq: 1, events: [] }));
  r.push(Buffer.from([0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
  r.push(Buffer.from("random text that is not a frame at all"));
  r.push(encodeFrame({ seq: 2, events: VALID }));
  const items = drain(r);
  assert.deepEqual(payloads(items), [1, 2]);
  const corrupt = items.filter((i) => "corrupt" in i);
  assert.equal(corrupt.length, 1);
  assert.match((corrupt[0] as { corrupt: string }).corrupt, /bad frame header .* skipped \d+ bytes/);
});
