/**
 * The writer's input side in isolation: framing (including resynchronisation after garbage)
 * and event validation against schema.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeBatch, encodeFrame, FrameReader, openPayload, type FrameItem } from "../src/monitoring/frames.js";
import type { MonitoringEvent } from "../src/monitoring/messages.js";
import { validateEvent } from "../src/monitoring/validate.js";
import { ByteReader, ByteWriter, readEvent, TruncatedError, writeEvent } from "../src/monitoring/wire.js";

const T = 1_764_000_000_000_000;

const VALID: MonitoringEvent[] = [
  {
    t: "workflow_start",
    workflow_name: null,
    workflow_version: "v",
    time_began: T,
    host: "h",
    user: "u",
    rundir: "/r",
  },
  { t: "workflow_end", time_completed: T, tasks_completed_count: 1, tasks_failed_count: 0, run_status: "interrupted" },
  { t: "counts", tasks_completed_count: 3, tasks_failed_count: 1 },
  {
    t: "task",
    task_id: 0,
    first: true,
    cols: {
      task_func_name: "f",
      task_memoize: true,
      task_fail_count: 0,
      task_fail_cost: 0.5,
      task_hashsum: null,
      task_time_invoked: T,
      task_lineage_hash: "abc",
    },
  },
  { t: "task", task_id: 0, first: false, cols: { task_inputs: "[1]" } },
  { t: "try", task_id: 0, try_id: 2, first: true, cols: { task_executor: "threads", task_joins: "1,2" } },
  { t: "status", task_id: 0, try_id: 0, state: "memo_done", ts: T },
  {
    t: "resource",
    row: {
      try_id: 0,
      task_id: 0,
      timestamp: T,
      psutil_cpu_num: "3",
      psutil_process_time_user: 1.25,
      psutil_process_pid: 7,
    },
  },
  {
    t: "node",
    row: {
      hostname: "h",
      uid: "u1",
      block_id: "0",
      cpu_count: 2,
      total_memory: 1e10,
      active: false,
      worker_count: 2,
      python_v: "20",
      timestamp: T,
      last_heartbeat: T,
    },
  },
  { t: "block", row: { executor_label: "htex", block_id: "0", job_id: null, timestamp: T, status: "SCALED_IN" } },
];

test("every well-formed event type passes validation unchanged", () => {
  for (const e of VALID) assert.equal(validateEvent(JSON.parse(JSON.stringify(e))).t, e.t);
});

test("malformed events are rejected with a message naming the field", () => {
  const cases: [unknown, RegExp][] = [
    [
      { t: "task", task_id: 1, first: true, cols: { task_func_name: "f", task_memoize: false, task_fail_count: 0 } },
      /task 1: lacks required column task\.task_fail_cost/,
    ],
    [
      { t: "task", task_id: 1, first: false, cols: { task_fail_count: null } },
      /task\.task_fail_count must not be null/,
    ],
    [
      { t: "task", task_id: 1, first: false, cols: { task_fail_cost: Infinity } },
      /task\.task_fail_cost must be a finite number/,
    ],
    [
      { t: "task", task_id: 1, first: false, cols: { task_latest_status: "exec_done" } },
      /task\.task_latest_status is derived by the writer from status events/,
    ],
    [{ t: "task", task_id: -1, first: false, cols: {} }, /task\.task_id must be a non-negative integer/],
    [{ t: "task", task_id: 1, first: "yes", cols: {} }, /first must be a boolean/],
    [{ t: "task", task_id: 1, first: false, cols: [] }, /cols must be an object/],
    [{ t: "try", task_id: 1, try_id: 0, first: true, cols: {} }, /lacks required column try\.task_executor/],
    [
      { t: "try", task_id: 1, try_id: 0, first: false, cols: { task_try_time_running: "2026-01-01" } },
      /try\.task_try_time_running must be a time/,
    ],
    [{ t: "status", task_id: 1, try_id: 0, state: "pending", ts: 1.5 }, /status\.ts must be a time/],
    [
      { t: "resource", row: { try_id: 0, task_id: 0, timestamp: T, run_id: "other" } },
      /resource has no column "run_id"/,
    ],
    [{ t: "node", row: { ...(VALID[8] as { row: object }).row, active: 1 } }, /node\.active must be a boolean/],
    [
      { t: "block", row: { executor_label: "x", block_id: "0", job_id: null, timestamp: T, status: "EXPLODED" } },
      /block\.status must be one of/,
    ],
    [
      { t: "workflow_end", time_completed: T, tasks_completed_count: 0, tasks_failed_count: 0, run_status: "fine" },
      /workflow\.run_status must be one of/,
    ],
    [
      {
        t: "workflow_start",
        workflow_name: 3,
        workflow_version: null,
        time_began: T,
        host: "h",
        user: "u",
        rundir: "/r",
      },
      /workflow\.workflow_name must be a string/,
    ],
    [
      { t: "counts", tasks_completed_count: "1", tasks_failed_count: 0 },
      /workflow\.tasks_completed_count must be a non-negative integer/,
    ],
    [
      { t: "try", task_id: 1, try_id: 0, first: false, cols: { task_try_error: "é".repeat(32 * 1024 + 1) } },
      /try\.task_try_error must be at most 65536 bytes/,
    ],
    [
      { t: "try", task_id: 1, try_id: 0, first: false, cols: { task_try_stdout_tail: "x".repeat(4097) } },
      /try\.task_try_stdout_tail must be at most 4096 characters/,
    ],
    [
      { t: "try", task_id: 1, try_id: 0, first: false, cols: { task_try_stderr_tail: 7 } },
      /try\.task_try_stderr_tail must be a string/,
    ],
    [
      { t: "try", task_id: 1, try_id: 0, first: false, cols: { task_try_exit_code: 1.5 } },
      /try\.task_try_exit_code must be an integer/,
    ],
    [[1, 2], /event must be an object/],
    [{ t: "__proto__" }, /unknown event type "__proto__"/],
  ];
  for (const [event, message] of cases) assert.throws(() => validateEvent(event), message, JSON.stringify(event));
});

/** What the writer does with a frame's payload; here every event must be usable. */
function decodePayload(payload: Buffer): MonitoringEvent[] {
  const { events, problems } = decodeBatch(payload);
  assert.deepEqual(problems, []);
  return events;
}

/** The wire tag of each event in a payload (0 status, 1 task, 2 try, 3 JSON). */
function tags(payload: Buffer): number[] {
  const { count, events } = openPayload(payload);
  return Array.from({ length: count }, () => {
    const tag = events.buf[events.at]!;
    readEvent(events);
    return tag;
  });
}

test("every event comes out of the wire form exactly as it went in; task, try and status events travel compact", () => {
  const allTaskCols = {
    task_depends: "1,2",
    task_func_name: "f",
    task_memoize: false,
    task_hashsum: "h",
    task_inputs: "[1]",
    task_outputs: "None",
    task_stdin: null,
    task_stdout: "o",
    task_stderr: "e",
    task_time_invoked: T,
    task_time_returned: T + 1,
    task_fail_count: 2,
    task_fail_cost: 1.5,
    task_lineage_hash: "l",
    task_args: "[1, 'two']",
  } as const;
  const allTryCols = {
    block_id: "0",
    hostname: "h",
    task_executor: "htex",
    task_try_time_launched: T,
    task_try_time_running: T + 1,
    task_try_time_returned: T + 2,
    task_fail_history: "ünïcødé ✓ 𝄞",
    task_joins: null,
    task_try_error_type: "BashExitFailure",
    task_try_error: "BashExitFailure: x\n    at f (file:///w.js:3:9)",
    task_try_exit_code: 137,
    task_try_stdout_tail: "out ✓\n",
    task_try_stderr_tail: "",
  };
  const events: MonitoringEvent[] = [
    ...VALID,
    { t: "task", task_id: 9, first: true, cols: allTaskCols },
    { t: "try", task_id: 9, try_id: 1, first: false, cols: allTryCols },
    { t: "status", task_id: 2 ** 53 - 1, try_id: 7, state: "running_ended", ts: T + 3 },
  ];
  const r = new FrameReader();
  r.push(encodeFrame({ seq: 1, events }));
  const [item] = drain(r);
  assert.ok(item && "payload" in item);
  assert.deepEqual(decodePayload(item.payload), events);
  assert.deepEqual(tags(item.payload), [3, 3, 3, 1, 1, 2, 0, 3, 3, 3, 1, 2, 0]);
  // A status event is 26 bytes: tag, task_id, try_id, state code, ts.
  const w = new ByteWriter();
  writeEvent(w, events[6]!);
  assert.equal(w.at, 26);
});

test("events that do not fit the compact form travel as JSON and are judged by the writer's validation", () => {
  const odd = [
    { t: "status", task_id: 1, try_id: 0, state: "exploded", ts: T },
    { t: "task", task_id: 1, first: false, cols: { no_such_column: 1 } },
    { t: "task", task_id: 1, first: false, cols: { task_inputs: { nested: true } } },
    { t: "try", task_id: 1, try_id: 0, first: "yes", cols: {} },
    42,
    null,
  ] as unknown as MonitoringEvent[];
  const payload = encodeFrame({ seq: 1, events: odd }).subarray(4);
  assert.deepEqual(tags(payload), [3, 3, 3, 3, 3, 3]);
  const { events } = openPayload(payload);
  const messages = odd.map(() => {
    try {
      validateEvent(readEvent(events));
      return "accepted";
    } catch (err) {
      return (err as Error).message;
    }
  });
  assert.match(messages[0]!, /status\.state must be one of .*got "exploded"/);
  assert.match(messages[1]!, /task has no column "no_such_column"/);
  assert.match(messages[2]!, /task\.task_inputs must be a string/);
  assert.match(messages[3]!, /first must be a boolean/);
  assert.match(messages[4]!, /event must be an object, got 42/);
  assert.match(messages[5]!, /event must be an object, got null/);
});

test("an event that cannot be encoded at all is left out alone and reported", () => {
  const dropped: string[] = [];
  const events = [
    VALID[6]!,
    { t: "counts", tasks_completed_count: 10n, tasks_failed_count: 0 } as unknown as MonitoringEvent,
    VALID[6]!,
  ];
  const frame = encodeFrame({ seq: 3, events }, (e, err) => dropped.push(`${e.t}: ${err.message}`));
  assert.equal(dropped.length, 1);
  assert.match(dropped[0]!, /^counts: .*BigInt/);
  assert.deepEqual(decodePayload(frame.subarray(4)), [VALID[6], VALID[6]]);
});

/** One raw record: the bytes of `build` after a tag. */
function record(build: (w: ByteWriter) => void): ByteReader {
  const w = new ByteWriter();
  build(w);
  return new ByteReader(w.buf.subarray(0, w.at));
}

test("malformed binary records are rejected with a message naming the problem; a bad value costs only its record", () => {
  const invalid: [ByteReader, RegExp][] = [
    [
      record((w) => {
        w.u8(0);
        w.f64(1);
        w.f64(0);
        w.u8(200);
        w.f64(T);
      }),
      /status of task 1: unknown state code 200/,
    ],
    [
      record((w) => {
        w.u8(0);
        w.f64(1.5);
        w.f64(0);
        w.u8(0);
        w.f64(T);
      }),
      /status\.task_id must be a non-negative integer, got 1\.5/,
    ],
    [
      record((w) => {
        w.u8(0);
        w.f64(1);
        w.f64(0);
        w.u8(0);
        w.f64(NaN);
      }),
      /status\.ts must be a time/,
    ],
    [
      record((w) => {
        w.u8(1);
        w.f64(1);
        w.u8(2);
        w.u8(0);
      }),
      /task 1: first must be 0 or 1 on the wire, got 2/,
    ],
    [
      record((w) => {
        w.u8(1);
        w.f64(1);
        w.u8(0);
        w.u8(1);
        w.u8(99);
        w.u8(4);
        w.str("x");
      }),
      /task 1: task has no column 99/,
    ],
    [
      record((w) => {
        w.u8(1);
        w.f64(1);
        w.u8(0);
        w.u8(1);
        w.u8(0);
        w.u8(3);
        w.f64(5);
      }),
      /task 1: task has no column "task_id"/,
    ],
    [
      record((w) => {
        w.u8(2);
        w.f64(0);
        w.f64(0);
        w.u8(1);
        w.u8(1);
        w.u8(5);
        w.u8(3);
        w.f64(3);
      }),
      /try\.task_executor must be a string, got 3/,
    ],
    [
      record((w) => {
        w.u8(2);
        w.f64(0);
        w.f64(0);
        w.u8(1);
        w.u8(0);
      }),
      /try 0 of task 0: lacks required column try\.task_executor/,
    ],
    [
      record((w) => {
        w.u8(3);
        w.str("{not json");
      }),
      /is not valid JSON/,
    ],
  ];
  for (const [r, message] of invalid) {
    assert.throws(() => validateEvent(readEvent(r)), message);
    assert.ok(r.done, `the rejected record was read to its end (${String(message)})`);
  }
  const unreadable: [ByteReader, RegExp][] = [
    [record((w) => w.u8(9)), /unknown wire event tag 9/],
    [
      record((w) => {
        w.u8(0);
        w.f64(1);
      }),
      /needs 8 more bytes/,
    ],
    [
      record((w) => {
        w.u8(1);
        w.f64(1);
        w.u8(0);
        w.u8(1);
        w.u8(3);
        w.u8(7);
      }),
      /unknown value kind 7/,
    ],
    [
      record((w) => {
        w.u8(3);
        w.u32(1000);
      }),
      /needs 1000 more bytes/,
    ],
  ];
  for (const [r, message] of unreadable)
    assert.throws(
      () => readEvent(r),
      (err: Error) => err instanceof TruncatedError && message.test(err.message),
    );
});

function drain(r: FrameReader): FrameItem[] {
  const out: FrameItem[] = [];
  for (let x = r.next(); x !== null; x = r.next()) out.push(x);
  return out;
}
const payloads = (items: FrameItem[]): unknown[] =>
  items.flatMap((i) => ("payload" in i ? [openPayload(i.payload).seq] : []));

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
    // All chunks first, then the frames: a frame that spans chunks is joined from part of the next one.
    const all = new FrameReader();
    for (let i = 0; i < frames.length; i += size) all.push(frames.subarray(i, i + size));
    assert.deepEqual(payloads(drain(all)), [1, 2, 3], `chunk size ${size}, read at once`);
    assert.equal(all.buffered, 0);
  }
  // A frame's head split off, the rest of it in one chunk with the next frames.
  const cut = new FrameReader();
  cut.push(frames.subarray(0, 3));
  cut.push(frames.subarray(3));
  assert.deepEqual(payloads(drain(cut)), [1, 2, 3]);
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

test("fuzz: mutated, truncated and spliced batches never throw; what is kept is valid, and problems are named", () => {
  const events: MonitoringEvent[] = [
    ...VALID,
    ...VALID.filter((e) => e.t === "status" || e.t === "task" || e.t === "try"),
  ];
  const good = encodeFrame({ seq: 7, events }).subarray(4);
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  let kept = 0;
  let reported = 0;
  for (let round = 0; round < 5000; round++) {
    const b = Buffer.from(good);
    let payload: Buffer = b;
    switch (round % 4) {
      case 0:
        for (let k = 0; k <= rand(4); k++) b[rand(b.length)] = rand(256);
        break; // flipped bytes
      case 1:
        payload = b.subarray(0, rand(b.length));
        break; // cut short
      case 2:
        payload = Buffer.concat([
          b.subarray(0, rand(b.length)),
          Buffer.from(Array.from({ length: rand(64) }, () => rand(256))),
        ]);
        break;
      default:
        b.writeUInt32LE(rand(2 ** 32), 17 + 1 + rand(8) * 8 > b.length - 4 ? 17 : 17 + 1 + rand(8) * 8);
        break; // a wild length or id
    }
    const { events: out, problems } = decodeBatch(payload);
    for (const e of out) validateEvent(e);
    for (const p of problems) assert.ok(typeof p === "string" && p.length > 0);
    kept += out.length;
    reported += problems.length;
  }
  assert.ok(kept > 0 && reported > 0, `some events survive (${kept}) and damage is reported (${reported})`);
  const unknownHeader = decodeBatch(Buffer.from('{"seq":1,"events":[]}'));
  assert.equal(unknownHeader.seq, null);
  assert.match(unknownHeader.problems[0]!, /does not start with a version-1 batch header/);
});
