/**
 * The writer process and its client, as real processes on real SQLite files: the normal
 * path, locks held by other connections, garbage on stdin, a kernel that dies, writers
 * killed by every signal, heartbeats, start-up errors, and a kernel that never calls close().
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { fork, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { formatMicros, nowMicros, parseDateTime } from "../src/database/timeformat.js";
import { encodeFrame } from "../src/monitoring/frames.js";
import type { MonitoringEvent, WriterReply } from "../src/monitoring/messages.js";
import { MonitoringWriter } from "../src/monitoring/writerClient.js";
import { tempDir as sharedTempDir } from "./helpers.js";
import { noopTaskEvents } from "../bench/writer.js";

const WRITER_PROCESS = fileURLToPath(new URL("../src/monitoring/writerProcess.js", import.meta.url));
const CLIENT_URL = pathToFileURL(fileURLToPath(new URL("../src/monitoring/writerClient.js", import.meta.url))).href;

const tempDir = (): string => sharedTempDir("parsl-ts-writer-");

function query(file: string, sql: string, ...params: unknown[]): Record<string, unknown>[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as Record<string, unknown>[];
  } finally {
    db.close();
  }
}
const count = (file: string, table: string, runId: string): number =>
  query(file, `SELECT COUNT(*) AS n FROM ${table} WHERE run_id = ?`, runId)[0]!["n"] as number;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, predicate: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Alive and not a zombie (an orphaned writer may linger as a zombie until init reaps it). */
function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

const T0 = nowMicros();

function workflowStart(): MonitoringEvent {
  return { t: "workflow_start", workflow_name: "wf", workflow_version: "v1", time_began: T0, host: "h", user: "u", rundir: "/r/000" };
}
function workflowEnd(completed: number): MonitoringEvent {
  return { t: "workflow_end", time_completed: nowMicros(), tasks_completed_count: completed, tasks_failed_count: 0, run_status: "completed" };
}

/** Events of one no-op task, as the kernel emits them (bench/writer.ts): 1 task row, 1 try row, 5 status rows. */
function lifecycle(taskId: number): MonitoringEvent[] {
  return noopTaskEvents(taskId, T0 + taskId * 20);
}

function emitTasks(w: MonitoringWriter, from: number, to: number): void {
  for (let i = from; i < to; i++) for (const e of lifecycle(i)) w.emit(e);
}

function assertAllTasks(file: string, runId: string, tasks: number): void {
  assert.equal(count(file, "task", runId), tasks, "task rows");
  assert.equal(count(file, "try", runId), tasks, "try rows");
  assert.equal(count(file, "status", runId), tasks * 5, "status rows");
  assert.equal(query(file, "SELECT COUNT(*) AS n FROM task WHERE run_id = ? AND task_latest_status = 'exec_done'", runId)[0]!["n"], tasks);
}

interface Started {
  w: MonitoringWriter;
  db: string;
  runDir: string;
  warnings: string[];
}
async function startWriter(runId: string, opts: { heartbeatSeconds?: number; debug?: boolean; directPipeWrites?: boolean } = {}): Promise<Started> {
  const dir = tempDir();
  const db = path.join(dir, "runinfo", "monitoring.db");
  const runDir = path.join(dir, "runinfo", "000");
  const warnings: string[] = [];
  const w = await MonitoringWriter.start({ endpoint: db, runId, runDir, onWarning: (m) => warnings.push(m), ...opts });
  return { w, db, runDir, warnings };
}

// ---------------------------------------------------------------------------- normal path

test("a run goes through the writer process into the database; the writer exits on close", async () => {
  const runId = "run-normal";
  const { w, db, runDir, warnings } = await startWriter(runId);
  const pid = w.pid!;
  assert.ok(isAlive(pid));
  w.emit(workflowStart());
  emitTasks(w, 0, 1000);
  w.setCounts(1000, 0);
  w.emit(workflowEnd(1000));
  await w.close();
  assert.equal(isAlive(pid), false, "writer process exited");
  assertAllTasks(db, runId, 1000);
  const wf = query(db, "SELECT * FROM workflow WHERE run_id = ?", runId)[0]!;
  assert.equal(wf["run_status"], "completed");
  assert.equal(wf["tasks_completed_count"], 1000);
  assert.ok(fs.existsSync(path.join(runDir, "database_manager.log")));
  assert.equal(fs.existsSync(db + "-wal") ? fs.statSync(db + "-wal").size : 0, 0, "WAL checkpointed and truncated at the end");
  assert.deepEqual(warnings, []);
});

test("the writer takes in and commits batches while the kernel's event loop is busy (far more than a pipe holds)", async () => {
  const runId = "run-busy-loop";
  const { w, db } = await startWriter(runId);
  const tasks = 5000; // about 5 MB of frames: many times what the pipe to the writer holds
  const reader = new Database(db, { readonly: true });
  const taskRows = reader.prepare("SELECT COUNT(*) AS n FROM task WHERE run_id = ? AND task_latest_status = 'exec_done'").pluck();
  let seen = 0;
  try {
    w.emit(workflowStart());
    // From here to the end of the loop this test never yields to the event loop, like a long
    // synchronous submission loop: only what the client pushes from emit() can reach the writer.
    emitTasks(w, 0, tasks);
    w.flush();
    const deadline = Date.now() + 20_000;
    for (let i = 0; seen < tasks && Date.now() < deadline; i++) {
      w.emit({ t: "counts", tasks_completed_count: i, tasks_failed_count: 0 }); // a running kernel keeps emitting
      if (i % 1000 === 0) seen = taskRows.get(runId) as number;
    }
  } finally {
    reader.close();
  }
  assert.equal(seen, tasks, "every task was committed before the event loop ran once");
  w.emit(workflowEnd(tasks));
  await w.close();
  assertAllTasks(db, runId, tasks);
});

test("without the pipe's descriptor (the stream fallback) a run with a writer restart loses nothing", async () => {
  const runId = "run-stream-fallback";
  const { w, db, warnings } = await startWriter(runId, { directPipeWrites: false });
  w.emit(workflowStart());
  emitTasks(w, 0, 3000); // about 1.2 MB: more than the pipe holds, written as the event loop runs
  w.flush();
  const first = w.pid!;
  process.kill(first, "SIGKILL");
  emitTasks(w, 3000, 3500);
  await waitFor("a new writer", () => w.pid !== undefined && w.pid !== first);
  emitTasks(w, 3500, 4000);
  w.setCounts(4000, 0);
  w.emit(workflowEnd(4000));
  await w.close();
  assertAllTasks(db, runId, 4000);
  assert.equal(query(db, "SELECT run_status, tasks_completed_count FROM workflow WHERE run_id = ?", runId)[0]!["tasks_completed_count"], 4000);
  assert.ok(warnings.some((m) => m.includes("restarting")), JSON.stringify(warnings));
});

test("an event that cannot be encoded (a BigInt) is dropped alone with a warning; emit() after close() is ignored", async () => {
  const runId = "run-unencodable";
  const { w, db, warnings } = await startWriter(runId);
  w.emit(workflowStart());
  emitTasks(w, 0, 5);
  w.emit({ t: "status", task_id: 99, try_id: 0, state: "pending", ts: BigInt(T0) } as unknown as MonitoringEvent);
  emitTasks(w, 5, 10);
  w.emit(workflowEnd(10));
  await w.close();
  emitTasks(w, 10, 20);
  w.flush();
  assertAllTasks(db, runId, 10);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /dropped a monitoring event that cannot be encoded .*type status/);
});

test("another connection holding BEGIN EXCLUSIVE for 3 s delays writes but loses nothing; one warning", async () => {
  const runId = "run-exclusive";
  const { w, db, warnings } = await startWriter(runId);
  w.emit(workflowStart());
  w.flush();
  await waitFor("workflow row", () => w.unacknowledged === 0);
  const other = new Database(db);
  other.exec("BEGIN EXCLUSIVE");
  const lockedAt = Date.now();
  for (let i = 0; i < 6; i++) {
    emitTasks(w, i * 50, (i + 1) * 50);
    w.flush();
    await sleep(300);
  }
  await sleep(Math.max(0, 3000 - (Date.now() - lockedAt)));
  assert.ok(w.unacknowledged > 0, "nothing could be committed while the lock was held");
  other.exec("COMMIT");
  other.close();
  w.emit(workflowEnd(300));
  await w.close();
  assertAllTasks(db, runId, 300);
  assert.equal(warnings.length, 1, `warnings: ${JSON.stringify(warnings)}`);
  assert.match(warnings[0]!, /is locked by another connection; waiting, nothing is lost/);
});

test("close() never hangs and loses nothing: a writer stuck behind a lock finishes on its own after close() returns", async () => {
  const runId = "run-close-timeout";
  const dir = tempDir();
  const db = path.join(dir, "m.db");
  const warnings: string[] = [];
  const w = await MonitoringWriter.start({ endpoint: db, runId, runDir: dir, closeTimeoutMs: 800, onWarning: (m) => warnings.push(m) });
  const pid = w.pid!;
  const other = new Database(db);
  other.exec("BEGIN EXCLUSIVE");
  try {
    w.emit(workflowStart());
    emitTasks(w, 0, 10);
    const started = Date.now();
    await w.close();
    assert.ok(Date.now() - started < 5000, "close() returned soon after its timeout");
    assert.ok(isAlive(pid), "the writer is left to finish, not killed");
  } finally {
    other.exec("ROLLBACK");
    other.close();
  }
  await waitFor("the writer to finish and exit", () => !isAlive(pid));
  assertAllTasks(db, runId, 10);
  assert.ok(warnings.some((m) => /made no progress for 0.8 s .*will finish writing them on its own/.test(m)), JSON.stringify(warnings));
});

test("close() kills a writer that stopped reading its input, with an error naming what was not confirmed", async () => {
  const runId = "run-close-stuck";
  const dir = tempDir();
  const db = path.join(dir, "m.db");
  const warnings: string[] = [];
  const w = await MonitoringWriter.start({ endpoint: db, runId, runDir: dir, closeTimeoutMs: 800, onWarning: (m) => warnings.push(m) });
  const pid = w.pid!;
  process.kill(pid, "SIGSTOP"); // reads nothing from now on
  try {
    w.emit(workflowStart());
    emitTasks(w, 0, 3000); // far more than a pipe buffer holds
    const started = Date.now();
    await w.close();
    assert.ok(Date.now() - started < 5000, "close() returned soon after its timeout");
  } finally {
    try { process.kill(pid, "SIGCONT"); } catch { /* already gone */ }
  }
  await waitFor("the writer to be gone", () => !isAlive(pid));
  assert.ok(warnings.some((m) => /stopped reading for 0.8 s; killing it\. \d+ batches were not confirmed written/.test(m)), JSON.stringify(warnings));
});

test("backpressure: past the backlog limit the client reports congestion until the writer catches up", async () => {
  const runId = "run-congestion";
  const dir = tempDir();
  const db = path.join(dir, "m.db");
  const w = await MonitoringWriter.start({ endpoint: db, runId, runDir: dir, backlogLimitBytes: 20_000, onWarning: () => undefined });
  const other = new Database(db);
  other.exec("BEGIN EXCLUSIVE");
  w.emit(workflowStart());
  emitTasks(w, 0, 200);
  w.flush();
  assert.equal(w.congested, true);
  let drained = false;
  w.onDrained(() => (drained = true));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(drained, false, "still locked: still congested");
  other.exec("ROLLBACK");
  other.close();
  await waitFor("the backlog to drain", () => drained);
  assert.equal(w.congested, false);
  await w.close();
  assertAllTasks(db, runId, 200);
});

test("a growing backlog is reported once, kept, and written when the writer catches up", async () => {
  const runId = "run-backlog";
  const dir = tempDir();
  const db = path.join(dir, "m.db");
  const warnings: string[] = [];
  const w = await MonitoringWriter.start({ endpoint: db, runId, runDir: dir, backlogWarnBytes: 50_000, onWarning: (m) => warnings.push(m) });
  const other = new Database(db);
  other.exec("BEGIN EXCLUSIVE");
  w.emit(workflowStart());
  for (let i = 0; i < 10; i++) {
    emitTasks(w, i * 20, (i + 1) * 20);
    w.flush();
  }
  other.exec("COMMIT");
  other.close();
  w.emit(workflowEnd(200));
  await w.close();
  assertAllTasks(db, runId, 200);
  assert.equal(warnings.filter((m) => /the database writer is \d+ batches behind; \d+ MiB of monitoring data wait in memory \(nothing is dropped/.test(m)).length, 1,
    JSON.stringify(warnings));
});

test("a read transaction held open during the run (Parsl's test_db_locks) loses nothing", async () => {
  const runId = "run-reader";
  const { w, db } = await startWriter(runId);
  w.emit(workflowStart());
  w.flush();
  await waitFor("workflow row", () => w.unacknowledged === 0);
  const reader = new Database(db);
  reader.exec("BEGIN TRANSACTION");
  assert.equal((reader.prepare("SELECT COUNT(*) AS n FROM workflow").get() as { n: number }).n, 1);
  emitTasks(w, 0, 200);
  w.flush();
  await waitFor("the batch to commit despite the reader", () => w.unacknowledged === 0);
  reader.exec("COMMIT");
  reader.close();
  w.emit(workflowEnd(200));
  await w.close();
  assertAllTasks(db, runId, 200);
  assert.equal(count(db, "workflow", runId), 1);
});

// ---------------------------------------------------------------------------- garbage

test("garbage on the writer's stdin is dropped and reported; valid events are written; the writer lives on", async () => {
  const dir = tempDir();
  const db = path.join(dir, "m.db");
  const runId = "run-garbage";
  const child = fork(WRITER_PROCESS, ["--endpoint", db, "--run-id", runId, "--run-dir", dir, "--debug"],
    { stdio: ["pipe", "ignore", "inherit", "ipc"] });
  const replies: WriterReply[] = [];
  child.on("message", (m: WriterReply) => replies.push(m));
  await waitFor("ready", () => replies.some((r) => r.type === "ready"));
  const write = (b: Buffer): void => void child.stdin!.write(b);
  const rawFrame = (text: string | Buffer): Buffer => {
    const body = Buffer.from(text);
    const head = Buffer.alloc(4);
    head.writeUInt32LE(body.length);
    return Buffer.concat([head, body]);
  };

  write(encodeFrame({ seq: 1, events: [workflowStart(), ...lifecycle(0)] }));
  write(randomBytes(300));
  write(rawFrame('{"seq":2,"events":[oops')); // not a binary batch at all (JSON, as an older client would send)
  // A batch whose header promises its events but whose bytes end inside the first.
  const cut = encodeFrame({ seq: 3, events: lifecycle(1) }).subarray(4);
  write(rawFrame(cut.subarray(0, 17 + 10)));
  const badEvents = [
    { t: "status", task_id: 1, try_id: 0, state: "exploded", ts: T0 },
    { t: "status", task_id: "1", try_id: 0, state: "pending", ts: T0 },
    { t: "task", task_id: 2, first: true, cols: { task_func_name: "f", task_memoize: "yes", task_fail_count: 0, task_fail_cost: 0 } },
    { t: "task", task_id: 3, first: false, cols: { no_such_column: 1 } },
    { t: "resource", row: { try_id: 0, task_id: 0, timestamp: -5 } },
    { t: "teleport" }, 42, null,
  ];
  write(encodeFrame({ seq: 4, events: [...lifecycle(1).slice(0, 2), ...(badEvents as MonitoringEvent[]), ...lifecycle(1).slice(2)] }));
  write(encodeFrame({ seq: 5, events: lifecycle(2) }));
  await waitFor("ack of the last valid batch", () => replies.some((r) => r.type === "ack" && r.seq === 5));
  await waitFor("the folded warning summary", () => replies.some((r) => r.type === "warning" && /more like this/.test(r.message)), 5000);

  assert.equal(child.exitCode, null, "writer still running");
  const warnings = replies.filter((r): r is { type: "warning"; message: string } => r.type === "warning").map((r) => r.message);
  assert.match(warnings[0]!, /^dropped malformed monitoring data: /);
  const log = fs.readFileSync(path.join(dir, "database_manager.log"), "utf8");
  for (const expected of [/bad frame header/, /batch 3: events 1\.\.\d+ cannot be read \(a record needs/, /status\.state must be one of .*got "exploded"/,
    /status\.task_id must be a non-negative integer, got "1"/, /task\.task_memoize must be a boolean, got "yes"/,
    /task has no column "no_such_column"/, /resource\.timestamp must be a time in integer microseconds/, /unknown event type "teleport"/,
    /event must be an object, got 42/, /event must be an object, got null/]) {
    assert.match(log, expected);
  }
  assertAllTasks(db, runId, 3);

  child.stdin!.end();
  const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
  assert.equal(code, 0);
});

// ---------------------------------------------------------------------------- a kernel that dies

test("kernel killed with SIGKILL: the writer writes every flushed row and marks the run crashed", async () => {
  const dir = tempDir();
  const db = path.join(dir, "m.db");
  const runId = "run-kernel-killed";
  const script = path.join(dir, "kernel.mjs");
  fs.writeFileSync(script, `
import { MonitoringWriter } from ${JSON.stringify(CLIENT_URL)};
const [db, runDir, runId] = process.argv.slice(2);
const w = await MonitoringWriter.start({ endpoint: db, runId, runDir });
const events = JSON.parse(process.env.EVENTS);
for (const e of events.slice(0, -50)) w.emit(e);
w.flush();
while (w.unacknowledged > 0) await new Promise((r) => setTimeout(r, 10));
for (const e of events.slice(-50)) w.emit(e); // flushed but never acknowledged before the kernel dies
w.flush();
process.stdout.write("writer " + w.pid + "\\n", () => process.kill(process.pid, "SIGKILL"));
`);
  const events = [workflowStart(), ...Array.from({ length: 60 }, (_, i) => lifecycle(i)).flat()];
  const kernel = spawn(process.execPath, [script, db, path.join(dir, "000"), runId], {
    env: { ...process.env, EVENTS: JSON.stringify(events) }, stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  kernel.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  const signal = await new Promise<NodeJS.Signals | null>((r) => kernel.on("exit", (_c, s) => r(s)));
  assert.equal(signal, "SIGKILL");
  const writerPid = Number(/writer (\d+)/.exec(out)?.[1]);
  assert.ok(writerPid > 0, `kernel printed the writer pid: ${out}`);
  await waitFor("the orphaned writer to finish", () => !isAlive(writerPid));
  assertAllTasks(db, runId, 60);
  const wf = query(db, "SELECT run_status, time_completed FROM workflow WHERE run_id = ?", runId)[0]!;
  assert.equal(wf["run_status"], "crashed");
  assert.ok(parseDateTime(wf["time_completed"] as string) >= T0);
});

test("a kernel that never calls close() still exits; the writer then records what it got", async () => {
  const dir = tempDir();
  const db = path.join(dir, "m.db");
  const runId = "run-no-close";
  const script = path.join(dir, "kernel.mjs");
  fs.writeFileSync(script, `
import { MonitoringWriter } from ${JSON.stringify(CLIENT_URL)};
const [db, runDir, runId] = process.argv.slice(2);
const w = await MonitoringWriter.start({ endpoint: db, runId, runDir });
for (const e of JSON.parse(process.env.EVENTS)) w.emit(e);
w.flush();
console.log("writer " + w.pid);
`);
  const events = [workflowStart(), ...Array.from({ length: 20 }, (_, i) => lifecycle(i)).flat()];
  const started = Date.now();
  const kernel = spawn(process.execPath, [script, db, path.join(dir, "000"), runId], {
    env: { ...process.env, EVENTS: JSON.stringify(events) }, stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  kernel.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => kernel.on("exit", (c) => r(c)));
  assert.equal(code, 0);
  assert.ok(Date.now() - started < 10_000, "the writer did not keep the kernel alive");
  const writerPid = Number(/writer (\d+)/.exec(out)?.[1]);
  await waitFor("the writer to finish", () => !isAlive(writerPid));
  assertAllTasks(db, runId, 20);
  assert.equal(query(db, "SELECT run_status FROM workflow WHERE run_id = ?", runId)[0]!["run_status"], "crashed");
});

// ---------------------------------------------------------------------------- a writer that dies

for (const signal of ["SIGKILL", "SIGTERM", "SIGINT", "SIGQUIT"] as const) {
  test(`writer killed with ${signal} mid-run: restarted, unacknowledged batches resent, no row lost`, async () => {
    const runId = `run-kill-${signal}`;
    const { w, db, warnings } = await startWriter(runId);
    w.emit(workflowStart());
    emitTasks(w, 0, 300);
    w.flush();
    const first = w.pid!;
    assert.ok(w.unacknowledged > 0, "the kill lands before the writer could acknowledge");
    process.kill(first, signal);
    emitTasks(w, 300, 400);
    await waitFor("a new writer", () => w.pid !== undefined && w.pid !== first);
    emitTasks(w, 400, 500);
    w.emit(workflowEnd(500));
    await w.close();
    assertAllTasks(db, runId, 500);
    assert.equal(query(db, "SELECT run_status FROM workflow WHERE run_id = ?", runId)[0]!["run_status"], "completed");
    assert.ok(warnings.some((m) => m.includes("exited unexpectedly") && m.includes("restarting")), JSON.stringify(warnings));
    assert.equal(isAlive(first), false);
  });
}

test("a writer that keeps dying is given up after 5 restarts a minute; the kernel carries on and close() returns", async () => {
  const runId = "run-give-up";
  const { w, warnings } = await startWriter(runId);
  w.emit(workflowStart());
  for (let i = 0; i < 6; i++) {
    const pid = w.pid!;
    process.kill(pid, "SIGKILL");
    await waitFor(`writer ${pid} replaced or given up`, () => w.pid !== pid);
    if (i < 5) await waitFor("a new writer", () => w.pid !== undefined);
  }
  assert.equal(w.pid, undefined);
  assert.ok(warnings.some((m) => /died 6 times within a minute .* The workflow continues/.test(m)), JSON.stringify(warnings));
  emitTasks(w, 0, 10); // ignored, not an error
  const started = Date.now();
  await w.close();
  assert.ok(Date.now() - started < 1000);
});

// ---------------------------------------------------------------------------- heartbeat and start-up

test("the heartbeat advances while the run lives", async () => {
  const runId = "run-heartbeat";
  const { w, db } = await startWriter(runId, { heartbeatSeconds: 0.2 });
  w.emit(workflowStart());
  w.flush();
  await waitFor("workflow row", () => w.unacknowledged === 0);
  const beat = (): number => parseDateTime(query(db, "SELECT last_heartbeat FROM workflow WHERE run_id = ?", runId)[0]!["last_heartbeat"] as string);
  assert.equal(beat(), T0, "the first heartbeat is the start time");
  await waitFor("a heartbeat", () => beat() > T0, 3000);
  const h1 = beat();
  await waitFor("a later heartbeat", () => beat() > h1, 3000);
  w.emit(workflowEnd(0));
  await w.close();
  assert.ok(beat() > T0);
  assert.equal(formatMicros(beat()).length, 26);
});

test("start() rejects with a clear error for a directory, an unknown scheme and PostgreSQL", async () => {
  const dir = tempDir();
  const base = { runId: "r", runDir: path.join(dir, "000") };
  await assert.rejects(MonitoringWriter.start({ ...base, endpoint: dir }),
    (err: Error) => err.message.includes(`cannot open monitoring database ${dir}`));
  await assert.rejects(MonitoringWriter.start({ ...base, endpoint: "mysql://h/db" }), /unsupported monitoring database endpoint "mysql:\/\/h\/db"/);
  await assert.rejects(MonitoringWriter.start({ ...base, endpoint: "postgresql://me@localhost/parsl" }),
    /postgresql:\/\/me@localhost\/parsl: PostgreSQL support is not built yet/);
});
