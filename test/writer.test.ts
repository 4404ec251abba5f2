/**
 * The writer process and its client, as real processes on real SQLite files: the normal
 * path, locks held by other connections, garbage in the journal, a kernel that dies, writers
 * killed by every signal and at every point of close(), heartbeats, start-up errors, and a
 * kernel that never calls close().
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { fork, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import v8 from "node:v8";
import vm from "node:vm";
import Database from "better-sqlite3";
import { formatMicros, nowMicros, parseDateTime } from "../src/database/timeformat.js";
import { encodeFrame } from "../src/monitoring/frames.js";
import type { MonitoringEvent, WriterReply } from "../src/monitoring/messages.js";
import { MonitoringWriter } from "../src/monitoring/writerClient.js";
import type { DialectName } from "../src/database/dialect.js";
import { DIALECTS, sqliteAt, testDatabase, type TestDatabase } from "./databases.js";
import { tempDir as sharedTempDir, waitFor } from "./helpers.js";
import { noopTaskEvents } from "../bench/writer.js";

const WRITER_PROCESS = fileURLToPath(new URL("../src/monitoring/writerProcess.js", import.meta.url));
const CLIENT_URL = pathToFileURL(fileURLToPath(new URL("../src/monitoring/writerClient.js", import.meta.url))).href;

const tempDir = (): string => sharedTempDir("parsl-ts-writer-");

const query = (db: TestDatabase, sql: string, ...params: unknown[]): Promise<Record<string, unknown>[]> =>
  db.rows(sql, ...params);
const count = (db: TestDatabase, table: string, runId: string): Promise<number> =>
  db.count(`SELECT COUNT(*) AS n FROM "${table}" WHERE run_id = ?`, runId);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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
  return {
    t: "workflow_start",
    workflow_name: "wf",
    workflow_version: "v1",
    time_began: T0,
    host: "h",
    user: "u",
    rundir: "/r/000",
  };
}
function workflowEnd(completed: number): MonitoringEvent {
  return {
    t: "workflow_end",
    time_completed: nowMicros(),
    tasks_completed_count: completed,
    tasks_failed_count: 0,
    run_status: "completed",
  };
}

/** Events of one no-op task, as the kernel emits them (bench/writer.ts): 1 task row, 1 try row, 5 status rows. */
function lifecycle(taskId: number): MonitoringEvent[] {
  return noopTaskEvents(taskId, T0 + taskId * 20);
}

function emitTasks(w: MonitoringWriter, from: number, to: number): void {
  for (let i = from; i < to; i++) for (const e of lifecycle(i)) w.emit(e);
}

async function assertAllTasks(db: TestDatabase, runId: string, tasks: number): Promise<void> {
  assert.equal(await count(db, "task", runId), tasks, "task rows");
  assert.equal(await count(db, "try", runId), tasks, "try rows");
  assert.equal(await count(db, "status", runId), tasks * 5, "status rows");
  assert.equal(
    await db.count("SELECT COUNT(*) AS n FROM task WHERE run_id = ? AND task_latest_status = 'exec_done'", runId),
    tasks,
  );
}

interface Started {
  w: MonitoringWriter;
  db: TestDatabase;
  /** The SQLite file (SQLite-only tests). */
  file: string;
  runDir: string;
  warnings: string[];
}
async function startWriter(
  runId: string,
  opts: { heartbeatSeconds?: number; debug?: boolean } = {},
  dialect: DialectName = "sqlite",
): Promise<Started> {
  const dir = tempDir();
  const db = dialect === "sqlite" ? sqliteAt(path.join(dir, "runinfo", "monitoring.db")) : await testDatabase(dialect);
  const runDir = path.join(dir, "runinfo", "000");
  const warnings: string[] = [];
  const w = await MonitoringWriter.start({
    endpoint: db.endpoint,
    runId,
    runDir,
    onWarning: (m) => warnings.push(m),
    ...opts,
  });
  return { w, db, file: db.endpoint, runDir, warnings };
}

// ---------------------------------------------------------------------------- normal path

for (const dialect of DIALECTS)
  test(`a run goes through the writer process into the database; the writer exits on close (${dialect})`, async () => {
    const runId = "run-normal";
    const { w, db, file, runDir, warnings } = await startWriter(runId, {}, dialect);
    const pid = w.pid!;
    assert.ok(isAlive(pid));
    w.emit(workflowStart());
    emitTasks(w, 0, 1000);
    w.setCounts(1000, 0);
    w.emit(workflowEnd(1000));
    await w.close();
    assert.equal(isAlive(pid), false, "writer process exited");
    await assertAllTasks(db, runId, 1000);
    const wf = (await query(db, "SELECT * FROM workflow WHERE run_id = ?", runId))[0]!;
    assert.equal(wf["run_status"], "completed");
    assert.equal(wf["tasks_completed_count"], 1000);
    assert.ok(fs.existsSync(path.join(runDir, "database_manager.log")));
    if (dialect === "sqlite")
      assert.equal(
        fs.existsSync(file + "-wal") ? fs.statSync(file + "-wal").size : 0,
        0,
        "WAL checkpointed and truncated at the end",
      );
    assert.equal(fs.existsSync(w.journalPath), false, "the journal is removed once stored");
    assert.deepEqual(warnings, []);
  });

test("the writer takes in and commits batches while the kernel's event loop is busy (far more than a pipe holds)", async () => {
  const runId = "run-busy-loop";
  const { w, db, file } = await startWriter(runId);
  const tasks = 5000; // about 5 MB of frames: many times what the pipe to the writer holds
  const reader = new Database(file, { readonly: true }); // synchronous reads: this test must not yield
  const taskRows = reader
    .prepare("SELECT COUNT(*) AS n FROM task WHERE run_id = ? AND task_latest_status = 'exec_done'")
    .pluck();
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
  await assertAllTasks(db, runId, tasks);
});

for (const dialect of DIALECTS)
  test(`an event that cannot be encoded (a BigInt) is dropped alone with a warning; emit() after close() is ignored (${dialect})`, async () => {
    const runId = "run-unencodable";
    const { w, db, warnings } = await startWriter(runId, {}, dialect);
    w.emit(workflowStart());
    emitTasks(w, 0, 5);
    w.emit({ t: "status", task_id: 99, try_id: 0, state: "pending", ts: BigInt(T0) } as unknown as MonitoringEvent);
    emitTasks(w, 5, 10);
    w.emit(workflowEnd(10));
    await w.close();
    emitTasks(w, 10, 20);
    w.flush();
    await assertAllTasks(db, runId, 10);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /dropped a monitoring event that cannot be encoded .*type status/);
  });

test("another connection holding BEGIN EXCLUSIVE for 3 s delays writes but loses nothing; one warning", async () => {
  const runId = "run-exclusive";
  const { w, db, file, warnings } = await startWriter(runId);
  w.emit(workflowStart());
  w.flush();
  await waitFor(() => w.unacknowledged === 0, { what: "workflow row" });
  const other = new Database(file);
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
  await assertAllTasks(db, runId, 300);
  assert.equal(warnings.length, 1, `warnings: ${JSON.stringify(warnings)}`);
  assert.match(warnings[0]!, /is locked by another connection; waiting, nothing is lost/);
});

test("close() never hangs and loses nothing: a writer stuck behind a lock finishes on its own after close() returns", async () => {
  const runId = "run-close-timeout";
  const dir = tempDir();
  const db = sqliteAt(path.join(dir, "m.db"));
  const warnings: string[] = [];
  const w = await MonitoringWriter.start({
    endpoint: db.endpoint,
    runId,
    runDir: dir,
    closeTimeoutMs: 800,
    onWarning: (m) => warnings.push(m),
  });
  const pid = w.pid!;
  const other = new Database(db.endpoint);
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
  await waitFor(() => !isAlive(pid), { what: "the writer to finish and exit" });
  await assertAllTasks(db, runId, 10);
  assert.ok(
    warnings.some((m) => /made no progress for 0.8 s .*on its own after this process exits/.test(m)),
    JSON.stringify(warnings),
  );
});

for (const dialect of DIALECTS)
  test(`close() returns while the writer is frozen (SIGSTOP); once it runs again it stores the whole journal (${dialect})`, async () => {
    const runId = "run-close-stuck";
    const dir = tempDir();
    const db = dialect === "sqlite" ? sqliteAt(path.join(dir, "m.db")) : await testDatabase(dialect);
    const warnings: string[] = [];
    const w = await MonitoringWriter.start({
      endpoint: db.endpoint,
      runId,
      runDir: dir,
      closeTimeoutMs: 800,
      onWarning: (m) => warnings.push(m),
    });
    const pid = w.pid!;
    process.kill(pid, "SIGSTOP"); // reads nothing from now on
    try {
      w.emit(workflowStart());
      emitTasks(w, 0, 3000); // far more than a pipe buffer would hold: the journal takes it all
      w.emit(workflowEnd(3000));
      const started = Date.now();
      await w.close();
      assert.ok(Date.now() - started < 5000, "close() returned soon after its timeout");
      assert.ok(fs.statSync(w.journalPath).size > 1_000_000, "everything is in the journal");
    } finally {
      process.kill(pid, "SIGCONT");
    }
    await waitFor(() => !isAlive(pid), { what: "the writer to finish and exit" });
    await assertAllTasks(db, runId, 3000);
    assert.equal(
      (await query(db, "SELECT run_status FROM workflow WHERE run_id = ?", runId))[0]!["run_status"],
      "completed",
    );
    assert.equal(fs.existsSync(w.journalPath), false);
    assert.ok(
      warnings.some((m) => /made no progress for 0.8 s/.test(m)),
      JSON.stringify(warnings),
    );
  });

test("a locked database never holds the kernel: the journal takes every batch, memory stays flat, all is stored after the lock", async () => {
  const runId = "run-locked";
  const dir = tempDir();
  const db = sqliteAt(path.join(dir, "m.db"));
  const w = await MonitoringWriter.start({ endpoint: db.endpoint, runId, runDir: dir, onWarning: () => undefined });
  const other = new Database(db.endpoint);
  other.exec("BEGIN EXCLUSIVE");
  w.emit(workflowStart());
  // What the kernel keeps, not the garbage of making 20,000 tasks' events: collected before each
  // reading (without it the growth depended on when V8 last collected, and failed once on Node 24).
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc") as () => void;
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  for (let i = 0; i < 40; i++) {
    emitTasks(w, i * 500, (i + 1) * 500);
    w.flush();
  }
  gc();
  const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
  assert.ok(w.backlogBytes > 5_000_000, `about 8 MB wait in the journal (${w.backlogBytes})`);
  assert.equal(
    fs.statSync(w.journalPath).size,
    w.backlogBytes,
    "nothing committed while locked: the journal holds it all",
  );
  assert.ok(heapGrowth < w.backlogBytes, `the kernel does not keep what it journaled (heap grew ${heapGrowth} bytes)`);
  other.exec("ROLLBACK");
  other.close();
  w.emit(workflowEnd(20_000));
  await w.close();
  await assertAllTasks(db, runId, 20_000);
  assert.equal(fs.existsSync(w.journalPath), false);
});

test("a read transaction held open during the run (Parsl's test_db_locks) loses nothing", async () => {
  const runId = "run-reader";
  const { w, db, file } = await startWriter(runId);
  w.emit(workflowStart());
  w.flush();
  await waitFor(() => w.unacknowledged === 0, { what: "workflow row" });
  const reader = new Database(file);
  reader.exec("BEGIN TRANSACTION");
  assert.equal((reader.prepare("SELECT COUNT(*) AS n FROM workflow").get() as { n: number }).n, 1);
  emitTasks(w, 0, 200);
  w.flush();
  await waitFor(() => w.unacknowledged === 0, { what: "the batch to commit despite the reader" });
  reader.exec("COMMIT");
  reader.close();
  w.emit(workflowEnd(200));
  await w.close();
  await assertAllTasks(db, runId, 200);
  assert.equal(await count(db, "workflow", runId), 1);
});

// ---------------------------------------------------------------------------- garbage

for (const dialect of DIALECTS)
  test(`garbage in the journal is dropped and reported; valid events are written; the writer lives on (${dialect})`, async () => {
    const dir = tempDir();
    const db = dialect === "sqlite" ? sqliteAt(path.join(dir, "m.db")) : await testDatabase(dialect);
    const runId = "run-garbage";
    const journal = path.join(dir, "monitoring.journal");
    fs.writeFileSync(journal, "");
    const child = fork(
      WRITER_PROCESS,
      ["--endpoint", db.endpoint, "--run-id", runId, "--run-dir", dir, "--journal", journal, "--debug"],
      { stdio: ["ignore", "ignore", "inherit", "ipc"] },
    );
    const replies: WriterReply[] = [];
    child.on("message", (m: WriterReply) => replies.push(m));
    await waitFor(() => replies.some((r) => r.type === "ready"), { what: "ready" });
    const write = (b: Buffer): void => fs.appendFileSync(journal, b);
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
      {
        t: "task",
        task_id: 2,
        first: true,
        cols: { task_func_name: "f", task_memoize: "yes", task_fail_count: 0, task_fail_cost: 0 },
      },
      { t: "task", task_id: 3, first: false, cols: { no_such_column: 1 } },
      { t: "resource", row: { try_id: 0, task_id: 0, timestamp: -5 } },
      { t: "teleport" },
      42,
      null,
    ];
    write(
      encodeFrame({
        seq: 4,
        events: [...lifecycle(1).slice(0, 2), ...(badEvents as MonitoringEvent[]), ...lifecycle(1).slice(2)],
      }),
    );
    write(encodeFrame({ seq: 5, events: lifecycle(2) }));
    await waitFor(() => replies.some((r) => r.type === "ack" && r.seq === 5), { what: "ack of the last valid batch" });
    await waitFor(() => replies.some((r) => r.type === "warning" && /more like this/.test(r.message)), {
      timeoutMs: 5000,
      what: "the folded warning summary",
    });

    assert.equal(child.exitCode, null, "writer still running");
    const warnings = replies
      .filter((r): r is { type: "warning"; message: string } => r.type === "warning")
      .map((r) => r.message);
    assert.match(warnings[0]!, /^dropped malformed monitoring data: /);
    const log = fs.readFileSync(path.join(dir, "database_manager.log"), "utf8");
    for (const expected of [
      /bad frame header/,
      /batch 3: events 1\.\.\d+ cannot be read \(a record needs/,
      /status\.state must be one of .*got "exploded"/,
      /status\.task_id must be a non-negative integer, got "1"/,
      /task\.task_memoize must be a boolean, got "yes"/,
      /task has no column "no_such_column"/,
      /resource\.timestamp must be a time in integer microseconds/,
      /unknown event type "teleport"/,
      /event must be an object, got 42/,
      /event must be an object, got null/,
    ]) {
      assert.match(log, expected);
    }
    await assertAllTasks(db, runId, 3);

    const exited = new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
    child.send({ type: "finish", offset: fs.statSync(journal).size });
    assert.equal(await exited, 0);
    assert.equal(fs.existsSync(journal), false, "a stored journal is removed");
  });

// ---------------------------------------------------------------------------- a kernel that dies

for (const dialect of DIALECTS)
  test(`kernel killed with SIGKILL: the writer writes every flushed row and marks the run crashed (${dialect})`, async () => {
    const dir = tempDir();
    const db = dialect === "sqlite" ? sqliteAt(path.join(dir, "m.db")) : await testDatabase(dialect);
    const runId = "run-kernel-killed";
    const script = path.join(dir, "kernel.mjs");
    fs.writeFileSync(
      script,
      `
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
`,
    );
    const events = [workflowStart(), ...Array.from({ length: 60 }, (_, i) => lifecycle(i)).flat()];
    const kernel = spawn(process.execPath, [script, db.endpoint, path.join(dir, "000"), runId], {
      env: { ...process.env, EVENTS: JSON.stringify(events) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    kernel.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const signal = await new Promise<NodeJS.Signals | null>((r) => kernel.on("exit", (_c, s) => r(s)));
    assert.equal(signal, "SIGKILL");
    const writerPid = Number(/writer (\d+)/.exec(out)?.[1]);
    assert.ok(writerPid > 0, `kernel printed the writer pid: ${out}`);
    await waitFor(() => !isAlive(writerPid), { what: "the orphaned writer to finish" });
    await assertAllTasks(db, runId, 60);
    const wf = (await query(db, "SELECT run_status, time_completed FROM workflow WHERE run_id = ?", runId))[0]!;
    assert.equal(wf["run_status"], "crashed");
    assert.ok(parseDateTime(wf["time_completed"] as string) >= T0);
  });

for (const dialect of DIALECTS)
  test(`a kernel that never calls close() still exits; the writer then records what it got (${dialect})`, async () => {
    const dir = tempDir();
    const db = dialect === "sqlite" ? sqliteAt(path.join(dir, "m.db")) : await testDatabase(dialect);
    const runId = "run-no-close";
    const script = path.join(dir, "kernel.mjs");
    fs.writeFileSync(
      script,
      `
import { MonitoringWriter } from ${JSON.stringify(CLIENT_URL)};
const [db, runDir, runId] = process.argv.slice(2);
const w = await MonitoringWriter.start({ endpoint: db, runId, runDir });
for (const e of JSON.parse(process.env.EVENTS)) w.emit(e);
w.flush();
console.log("writer " + w.pid);
`,
    );
    const events = [workflowStart(), ...Array.from({ length: 20 }, (_, i) => lifecycle(i)).flat()];
    const started = Date.now();
    const kernel = spawn(process.execPath, [script, db.endpoint, path.join(dir, "000"), runId], {
      env: { ...process.env, EVENTS: JSON.stringify(events) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    kernel.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((r) => kernel.on("exit", (c) => r(c)));
    assert.equal(code, 0);
    assert.ok(Date.now() - started < 10_000, "the writer did not keep the kernel alive");
    const writerPid = Number(/writer (\d+)/.exec(out)?.[1]);
    await waitFor(() => !isAlive(writerPid), { what: "the writer to finish" });
    await assertAllTasks(db, runId, 20);
    assert.equal(
      (await query(db, "SELECT run_status FROM workflow WHERE run_id = ?", runId))[0]!["run_status"],
      "crashed",
    );
  });

// ---------------------------------------------------------------------------- a writer that dies

for (const dialect of DIALECTS)
  for (const signal of ["SIGKILL", "SIGTERM", "SIGINT", "SIGQUIT"] as const) {
    test(`writer killed with ${signal} mid-run: a new one resumes from the journal's last committed byte, no row lost (${dialect})`, async () => {
      const runId = `run-kill-${signal}`;
      const { w, db, warnings } = await startWriter(runId, {}, dialect);
      w.emit(workflowStart());
      emitTasks(w, 0, 300);
      w.flush();
      const first = w.pid!;
      assert.ok(w.unacknowledged > 0, "the kill lands before the writer could acknowledge");
      process.kill(first, signal);
      emitTasks(w, 300, 400);
      await waitFor(() => w.pid !== undefined && w.pid !== first, { what: "a new writer" });
      emitTasks(w, 400, 500);
      w.emit(workflowEnd(500));
      await w.close();
      await assertAllTasks(db, runId, 500);
      assert.equal(
        (await query(db, "SELECT run_status FROM workflow WHERE run_id = ?", runId))[0]!["run_status"],
        "completed",
      );
      assert.ok(
        warnings.some(
          (m) => m.includes("exited unexpectedly") && m.includes("starting a new one, which resumes from byte"),
        ),
        JSON.stringify(warnings),
      );
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
    await waitFor(() => w.pid !== pid, { what: `writer ${pid} replaced or given up` });
    if (i < 5) await waitFor(() => w.pid !== undefined, { what: "a new writer" });
  }
  assert.equal(w.pid, undefined);
  assert.ok(
    warnings.some((m) =>
      /died 6 times within a minute .*the workflow continues\. What the database has not stored stays in .*monitoring\.journal/.test(
        m,
      ),
    ),
    JSON.stringify(warnings),
  );
  emitTasks(w, 0, 10); // ignored, not an error
  const started = Date.now();
  await w.close();
  assert.ok(Date.now() - started < 1000);
});

// ---------------------------------------------------------------------------- heartbeat and start-up

for (const dialect of DIALECTS)
  test(`the heartbeat advances while the run lives (${dialect})`, async () => {
    const runId = "run-heartbeat";
    const { w, db } = await startWriter(runId, { heartbeatSeconds: 0.2 }, dialect);
    w.emit(workflowStart());
    w.flush();
    await waitFor(() => w.unacknowledged === 0, { what: "workflow row" });
    const beat = async (): Promise<number> =>
      parseDateTime(
        (await query(db, "SELECT last_heartbeat FROM workflow WHERE run_id = ?", runId))[0]![
          "last_heartbeat"
        ] as string,
      );
    // The start sets the heartbeat to the start time; on a loaded machine a beat (every 0.2 s) may
    // already have landed by the time we read, so the first value is the start time or later.
    assert.ok((await beat()) >= T0, "the start wrote a heartbeat");
    await waitFor(async () => (await beat()) > T0, { timeoutMs: 3000, what: "a heartbeat" });
    const h1 = await beat();
    await waitFor(async () => (await beat()) > h1, { timeoutMs: 3000, what: "a later heartbeat" });
    w.emit(workflowEnd(0));
    await w.close();
    assert.ok((await beat()) > T0);
    assert.equal(formatMicros(await beat()).length, 26);
  });

test("start() rejects with a clear error for a directory, an unknown scheme and an unreachable PostgreSQL", async () => {
  const dir = tempDir();
  const base = { runId: "r", runDir: path.join(dir, "000") };
  await assert.rejects(MonitoringWriter.start({ ...base, endpoint: dir }), (err: Error) =>
    err.message.includes(`cannot open monitoring database ${dir}`),
  );
  await assert.rejects(
    MonitoringWriter.start({ ...base, endpoint: "mysql://h/db" }),
    /endpoint "mysql:\/\/h\/db" has an unsupported scheme 'mysql'/,
  );
  await assert.rejects(
    MonitoringWriter.start({ ...base, endpoint: "postgresql://me:pw@127.0.0.1:1/parsl" }),
    /cannot connect to PostgreSQL at postgresql:\/\/me:\*\*\*@127\.0\.0\.1:1\/parsl: connection refused/,
  );
});
