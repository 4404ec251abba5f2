/**
 * The run's life as other tools see it: SIGINT/SIGTERM end a run cleanly as `interrupted`;
 * a killed kernel leaves a `crashed` run with everything it had sent; a killed database
 * writer does not stop the workflow and loses nothing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { count, loadMonitored, rows, sleep, tempDir, waitFor } from "./helpers.js";
import { tsApp } from "../src/index.js";

const INDEX = fileURLToPath(new URL("../src/index.js", import.meta.url));

/** A workflow script run as its own process: 20 quick tasks, then 2 long ones, then it waits. */
function script(dir: string): string {
  const file = path.join(dir, "wf.mjs");
  fs.writeFileSync(
    file,
    `
import { load, Config, MonitoringHub, ThreadPoolExecutor, tsApp } from ${JSON.stringify(INDEX)};
const quick = tsApp(function quick(x) { return x; });
const slow = tsApp(async function slow() { await new Promise((r) => setTimeout(r, 60000)); return 1; });
const dfk = await load(new Config({
  executors: [new ThreadPoolExecutor({ label: "threads", maxThreads: 4 })],
  monitoring: new MonitoringHub({ resourceMonitoringInterval: 0, heartbeatPeriod: 0.2 }),
  runDir: ${JSON.stringify(path.join(dir, "runinfo"))},
}));
await Promise.all(Array.from({ length: 20 }, (_, i) => quick(i)));
slow(); slow();
console.log("READY " + dfk.runId);
await new Promise(() => setInterval(() => {}, 1000));
`,
  );
  return file;
}

async function startWorkflow(
  dir: string,
  ownGroup = false,
): Promise<{ child: ReturnType<typeof spawn>; runId: string }> {
  const child = spawn(process.execPath, [script(dir)], { stdio: ["ignore", "pipe", "pipe"], detached: ownGroup });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  await waitFor(() => /READY (\S+)/.test(out) || child.exitCode !== null, { what: "the workflow to start" });
  if (child.exitCode !== null) throw new Error(`workflow did not start: ${out}`);
  // The 20 quick tasks' rows and the 2 long ones' launches are in the database.
  const db = path.join(dir, "runinfo", "monitoring.db");
  const flushed = (): boolean => {
    try {
      return (
        count(db, "SELECT COUNT(*) FROM task WHERE task_latest_status = 'exec_done'") === 20 &&
        count(db, "SELECT COUNT(*) FROM status WHERE task_status_name = 'launched'") === 22
      );
    } catch {
      return false; // the writer has not created the file or its tables yet
    }
  };
  await waitFor(flushed, { what: `the first rows in ${db}` });
  return { child, runId: /READY (\S+)/.exec(out)![1]! };
}

function exited(child: ReturnType<typeof spawn>): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((r) => {
    if (child.exitCode !== null || child.signalCode !== null) r({ code: child.exitCode, signal: child.signalCode });
    else child.once("exit", (code, signal) => r({ code, signal }));
  });
}

for (const [sig, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
] as const) {
  test(`${sig} ends the run cleanly: status interrupted, time_completed set, every row flushed`, async () => {
    const dir = tempDir();
    const { child, runId } = await startWorkflow(dir);
    child.kill(sig);
    const r = await exited(child);
    assert.equal(r.code, code);
    const db = path.join(dir, "runinfo", "monitoring.db");
    const w = rows(db, "SELECT * FROM workflow WHERE run_id = ?", runId)[0]!;
    assert.equal(w.run_status, "interrupted");
    assert.notEqual(w.time_completed, null);
    assert.equal(count(db, "SELECT COUNT(*) FROM task WHERE task_latest_status = 'exec_done'"), 20);
    assert.equal(count(db, "SELECT COUNT(*) FROM task"), 22);
    assert.equal(w.tasks_completed_count, 20);
  });
}

for (const target of ["the kernel", "the script's whole process group"] as const) {
  test(`kill -9 of ${target} leaves a crashed run with everything it had sent (the writer has a group of its own)`, async () => {
    const dir = tempDir();
    const { child, runId } = await startWorkflow(dir, true);
    if (target === "the kernel") child.kill("SIGKILL");
    else process.kill(-child.pid!, "SIGKILL"); // as a terminal's kill -9 -PGID, or a batch system, would
    await exited(child);
    const db = path.join(dir, "runinfo", "monitoring.db");
    const w = await waitFor(
      () => {
        const r = rows(db, "SELECT * FROM workflow WHERE run_id = ?", runId)[0];
        return r?.run_status !== "running" && r;
      },
      { timeoutMs: 15_000, what: "the run to be marked ended" },
    );
    assert.equal(w.run_status, "crashed", "the writer outlives the kernel and marks the run");
    assert.notEqual(w.time_completed, null);
    assert.equal(count(db, "SELECT COUNT(*) FROM task WHERE task_latest_status = 'exec_done'"), 20);
    assert.equal(count(db, "SELECT COUNT(*) FROM status WHERE task_status_name = 'launched'"), 22);
  });
}

test("a kernel SIGKILLed while the database is locked loses at most its last flush interval of events", async () => {
  const dir = tempDir();
  const runDir = path.join(dir, "runinfo");
  const db = path.join(runDir, "monitoring.db");
  const file = path.join(dir, "dies.mjs");
  const n = 30_000;
  fs.writeFileSync(
    file,
    `
import { load, Config, MonitoringHub, ThreadPoolExecutor, tsApp } from ${JSON.stringify(INDEX)};
const noop = tsApp(function noop() { return 1; });
const dfk = await load(new Config({ executors: [new ThreadPoolExecutor({ maxThreads: 2 })], monitoring: new MonitoringHub({ resourceMonitoringInterval: 0 }), runDir: ${JSON.stringify(runDir)} }));
await noop();
process.stdout.write("ready\\n");
await new Promise((r) => process.stdin.once("data", r)); // the test locks the database meanwhile
const fs_ = Array.from({ length: ${n} }, () => noop());
for (const f of fs_) await f;
process.kill(process.pid, "SIGKILL"); // every result is in; nothing asynchronous runs after this
`,
  );
  const child = spawn(process.execPath, [file], { stdio: ["pipe", "pipe", "inherit"] });
  await new Promise<void>((resolve) =>
    child.stdout.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) resolve();
    }),
  );
  const Database = (await import("better-sqlite3")).default;
  const locker = new Database(db);
  locker.exec("BEGIN EXCLUSIVE"); // a slow database: nothing can be stored while the kernel runs
  child.stdin.write("go\n");
  const r = await exited(child);
  assert.equal(r.signal, "SIGKILL");
  locker.exec("ROLLBACK");
  locker.close();
  await waitFor(() => rows(db, "SELECT * FROM workflow")[0]?.run_status === "crashed", {
    timeoutMs: 30_000,
    what: "the writer, outliving the kernel, to store the journal and mark the run crashed",
  });
  const done = count(db, "SELECT COUNT(*) FROM task WHERE task_latest_status = 'exec_done'");
  // What the kernel had not yet flushed to the journal (at most 4096 events, or 20 ms) is lost;
  // everything before it is stored even though the database was locked the whole time.
  assert.ok(done >= n + 1 - 1000, `${done} of ${n + 1} finished tasks recorded`);
  assert.equal(count(db, "SELECT COUNT(*) FROM task"), n + 1);
  // The run is marked crashed just before the writer checkpoints and removes the journal.
  await waitFor(() => !fs.existsSync(path.join(runDir, "000", "monitoring.journal")), {
    timeoutMs: 10_000,
    what: "the journal to be stored and removed",
  });
});

test("kernel and writer both SIGKILLed: the run reads as running until its heartbeat is three of its own periods old, then crashed", async () => {
  const dir = tempDir();
  const { child, runId } = await startWorkflow(dir); // heartbeatPeriod 0.2 s
  const db = path.join(dir, "runinfo", "monitoring.db");
  const writers = fs
    .readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, "utf8").includes(runId);
      } catch {
        return false;
      }
    })
    .map(Number);
  assert.equal(writers.length, 1, "the writer is found by its run id");
  // Both at once, as a machine going down would: nothing is left to mark the run.
  process.kill(writers[0]!, "SIGKILL");
  child.kill("SIGKILL");
  await exited(child);
  const { judgeRun } = await import("../src/database/runStatus.js");
  const { parseDateTime, nowMicros } = await import("../src/database/timeformat.js");
  const w = rows(
    db,
    "SELECT run_status, last_heartbeat, heartbeat_period, time_completed, tasks_failed_count FROM workflow WHERE run_id = ?",
    runId,
  )[0]!;
  assert.equal(w.run_status, "running", "nobody recorded the end");
  assert.equal(w.heartbeat_period, 0.2, "the run's own period is recorded");
  const judge = (now: number) =>
    judgeRun({
      runStatus: w.run_status as string,
      lastHeartbeat: parseDateTime(w.last_heartbeat as string),
      heartbeatPeriod: w.heartbeat_period as number,
      timeCompleted: null,
      lastActivity: null,
      tasksFailed: 0,
      now,
    });
  const beat = parseDateTime(w.last_heartbeat as string);
  assert.equal(judge(beat + 500_000).status, "running", "within three periods (0.6 s)");
  await waitFor(() => nowMicros() > beat + 700_000, { what: "three heartbeat periods to pass" });
  const verdict = judge(nowMicros());
  assert.equal(verdict.status, "crashed");
  assert.match(verdict.reason, /it beats every 0.2 s/);
});

test("the heartbeat advances while the run lives", async () => {
  const dir = tempDir();
  const { child, runId } = await startWorkflow(dir);
  const db = path.join(dir, "runinfo", "monitoring.db");
  const hb = () => String(rows(db, "SELECT last_heartbeat FROM workflow WHERE run_id = ?", runId)[0]!.last_heartbeat);
  const first = hb();
  await waitFor(() => hb() > first, { timeoutMs: 10_000, what: "last_heartbeat to move forward" });
  child.kill("SIGTERM");
  await exited(child);
});

for (const sig of ["SIGINT", "SIGTERM", "SIGKILL", "SIGQUIT"] as const) {
  test(`test_kill_monitoring: the writer killed with ${sig} does not stop tasks or cleanup, and nothing is lost`, async () => {
    const run = await loadMonitored();
    const f = tsApp(function seven() {
      return 7;
    });
    const before = await Promise.all(Array.from({ length: 50 }, () => f()));
    const pid = (run.dfk as unknown as { monitoringWriterPid(): number | null }).monitoringWriterPid();
    assert.ok(pid, "the writer runs as its own process");
    process.kill(pid, sig);
    const gone = (): boolean => {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2)[0] === "Z"; // dead, not yet reaped
      } catch {
        return true;
      }
    };
    await waitFor(gone, { what: `the writer (${pid}) to die of ${sig}` });
    const after = await Promise.all(Array.from({ length: 50 }, () => f()));
    await run.dfk.cleanup();
    assert.equal(before.length + after.length, 100);
    assert.equal(count(run.dbPath, "SELECT COUNT(*) FROM task"), 100);
    assert.equal(count(run.dbPath, "SELECT COUNT(*) FROM status"), 500);
    assert.equal(rows(run.dbPath, "SELECT run_status FROM workflow")[0]!.run_status, "completed");
  });
}

// A writer killed while cleanup() waits for it used to lose the run's last batches (its
// replacement's input was ended after the first resent frame). Kill it at several points.
for (const delayMs of [0, 5, 30, 150, 400]) {
  test(`the writer SIGKILLed ${delayMs} ms into cleanup(): the run is completed and nothing is lost`, async () => {
    const run = await loadMonitored();
    const f = tsApp(function seven() {
      return 7;
    });
    const n = 3000;
    await Promise.all(Array.from({ length: n }, () => f()));
    const pid = (run.dfk as unknown as { monitoringWriterPid(): number | null }).monitoringWriterPid()!;
    const closing = run.dfk.cleanup();
    if (delayMs === 0) process.kill(pid, "SIGKILL");
    else
      setTimeout(() => {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          /* already finished */
        }
      }, delayMs);
    await closing;
    const w = rows(run.dbPath, "SELECT run_status, tasks_completed_count FROM workflow")[0]!;
    assert.equal(w.run_status, "completed");
    assert.equal(w.tasks_completed_count, n);
    assert.equal(count(run.dbPath, "SELECT COUNT(*) FROM task WHERE task_latest_status = 'exec_done'"), n);
    assert.equal(count(run.dbPath, "SELECT COUNT(*) FROM status"), n * 5);
    assert.equal(fs.existsSync(path.join(run.dfk.runDir, "monitoring.journal")), false);
  });
}

test("a script that never calls cleanup() still ends its run when Node exits", async () => {
  const dir = tempDir();
  const file = path.join(dir, "forgetful.mjs");
  fs.writeFileSync(
    file,
    `
import { load, Config, MonitoringHub, ThreadPoolExecutor, tsApp } from ${JSON.stringify(INDEX)};
const one = tsApp(function one() { return 1; });
await load(new Config({ executors: [new ThreadPoolExecutor()], monitoring: new MonitoringHub(), runDir: ${JSON.stringify(path.join(dir, "runinfo"))} }));
console.log(await one());
`,
  );
  const child = spawn(process.execPath, [file], { stdio: ["ignore", "pipe", "inherit"] });
  const r = await exited(child);
  assert.equal(r.code, 0);
  const db = path.join(dir, "runinfo", "monitoring.db");
  const w = rows(db, "SELECT run_status, time_completed, tasks_completed_count FROM workflow")[0]!;
  assert.equal(w.run_status, "completed");
  assert.notEqual(w.time_completed, null);
  assert.equal(w.tasks_completed_count, 1);
});

test("a workflow run with `node -e` starts its helpers once: one run, its rows, a clean exit", async () => {
  // execArgv holds `-e <script>`; a forked writer that inherited it would run the script again,
  // which would start another writer, and so on.
  const dir = tempDir();
  const code = `
import { load, Config, MonitoringHub, ThreadPoolExecutor, tsApp } from ${JSON.stringify(INDEX)};
const double = tsApp(function double(x) { return x * 2; });
const dfk = await load(new Config({ executors: [new ThreadPoolExecutor({ maxThreads: 2 })], monitoring: new MonitoringHub(),
  runDir: ${JSON.stringify(path.join(dir, "runinfo"))} }));
console.log(await double(21));
await dfk.cleanup();
`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const r = await exited(child);
  clearTimeout(timer);
  assert.equal(r.code, 0);
  assert.equal(out.trim(), "42");
  assert.deepEqual(
    fs.readdirSync(path.join(dir, "runinfo")).filter((n) => /^\d+$/.test(n)),
    ["000"],
    "exactly one run directory",
  );
  const db = path.join(dir, "runinfo", "monitoring.db");
  assert.equal(count(db, "SELECT COUNT(*) AS n FROM workflow"), 1);
  assert.equal(count(db, "SELECT COUNT(*) AS n FROM status"), 5);
});

test("a user's test file that runs a monitored ThreadPoolExecutor workflow passes under `node --test`", async () => {
  // Under the test runner process.execArgv holds the runner's options (on Node 24 every option's
  // value, per-process ones included); worker threads and the forked writer must start anyway.
  const dir = tempDir();
  const file = path.join(dir, "user.test.mjs");
  fs.writeFileSync(
    file,
    `
import { test } from "node:test";
import assert from "node:assert/strict";
import { load, Config, MonitoringHub, ThreadPoolExecutor, tsApp } from ${JSON.stringify(INDEX)};
test("doubles on worker threads", async () => {
  const double = tsApp(function double(x) { return x * 2; });
  const dfk = await load(new Config({ executors: [new ThreadPoolExecutor({ maxThreads: 2 })], monitoring: new MonitoringHub(),
    runDir: ${JSON.stringify(path.join(dir, "runinfo"))}, handleSignals: false }));
  assert.deepEqual(await Promise.all([double(1), double(double(2))]), [2, 8]);
  await dfk.cleanup();
});
`,
  );
  // Our own runner's NODE_TEST_CONTEXT would make the inner `node --test` report to us instead.
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, ["--test", "--test-reporter=tap", file], {
    stdio: ["ignore", "pipe", "pipe"],
    env,
    cwd: dir,
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const r = await exited(child);
  clearTimeout(timer);
  assert.equal(r.code, 0, out);
  assert.match(out, /^# pass 1$/m, out);
  const db = path.join(dir, "runinfo", "monitoring.db");
  assert.deepEqual(rows(db, "SELECT run_status, tasks_completed_count FROM workflow"), [
    { run_status: "completed", tasks_completed_count: 3 },
  ]);
});

/** Runs `body` (a module using `load`, `tsApp`, …) as its own process; returns its exit code and the database path. */
async function runScript(dir: string, body: string): Promise<{ code: number | null; db: string }> {
  const file = path.join(dir, "exiting.mjs");
  fs.writeFileSync(
    file,
    `
import { load, Config, MonitoringHub, ThreadPoolExecutor, tsApp } from ${JSON.stringify(INDEX)};
const dfk = await load(new Config({ executors: [new ThreadPoolExecutor({ maxThreads: 2 })], monitoring: new MonitoringHub(),
  runDir: ${JSON.stringify(path.join(dir, "runinfo"))} }));
${body}
`,
  );
  const child = spawn(process.execPath, [file], { stdio: ["ignore", "ignore", "inherit"] });
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const r = await exited(child);
  clearTimeout(timer);
  const db = path.join(dir, "runinfo", "monitoring.db");
  // The writer outlives the script: wait for it to record the run's end.
  for (
    let i = 0;
    i < 200 && count(db, "SELECT COUNT(*) AS n FROM workflow WHERE time_completed IS NOT NULL") === 0;
    i++
  )
    await sleep(50);
  await sleep(200);
  return { code: r.code, db };
}

test("process.exit() right after the last task: every row is written and the run is completed", async () => {
  const { code, db } = await runScript(
    tempDir(),
    `
const double = tsApp(function double(x) { return x * 2; });
const fs = Array.from({ length: 3000 }, (_, i) => double(i));
for (const f of fs) await f;
process.exit(0);
`,
  );
  assert.equal(code, 0);
  const w = rows(db, "SELECT run_status, tasks_completed_count FROM workflow")[0]!;
  assert.deepEqual(w, { run_status: "completed", tasks_completed_count: 3000 });
  assert.equal(count(db, "SELECT COUNT(*) AS n FROM status"), 5 * 3000);
  assert.equal(
    count(
      db,
      "SELECT COUNT(*) AS n FROM task WHERE task_latest_status = 'exec_done' AND task_time_returned IS NOT NULL",
    ),
    3000,
  );
});

test("process.exit() with tasks still running: the run is interrupted and what happened before is all there", async () => {
  const { code, db } = await runScript(
    tempDir(),
    `
const quick = tsApp(function quick(x) { return x; });
const slow = tsApp(async function slow() { await new Promise((r) => setTimeout(r, 60000)); });
await Promise.all(Array.from({ length: 100 }, (_, i) => quick(i)));
slow(); slow();
await new Promise((r) => setTimeout(r, 300));
process.exit(3);
`,
  );
  assert.equal(code, 3);
  const w = rows(db, "SELECT run_status, tasks_completed_count FROM workflow")[0]!;
  assert.deepEqual(w, { run_status: "interrupted", tasks_completed_count: 100 });
  assert.equal(count(db, "SELECT COUNT(*) AS n FROM status WHERE task_status_name = 'exec_done'"), 100);
  assert.equal(count(db, "SELECT COUNT(*) AS n FROM status WHERE task_status_name = 'launched' AND task_id >= 100"), 2);
});

test("an uncaught error after the tasks: every row is written and the run is failed", async () => {
  const { code, db } = await runScript(
    tempDir(),
    `
const double = tsApp(function double(x) { return x * 2; });
await Promise.all(Array.from({ length: 500 }, (_, i) => double(i)));
throw new Error("the script's own bug");
`,
  );
  assert.equal(code, 1);
  assert.deepEqual(rows(db, "SELECT run_status, tasks_completed_count FROM workflow")[0], {
    run_status: "failed",
    tasks_completed_count: 500,
  });
  assert.equal(count(db, "SELECT COUNT(*) AS n FROM status"), 5 * 500);
});
