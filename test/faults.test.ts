/**
 * Faults injected for real, and what they leave behind: a database the user may not write, a
 * file that is not ours (or is corrupt), a disk that is full at start or fills mid-run, and a
 * table dropped under the writer. Each test checks rows, messages and processes afterwards.
 * The disk and user faults need root (a tmpfs mount, setpriv to an ordinary user), as CI has.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { nowMicros } from "../src/database/timeformat.js";
import type { MonitoringEvent } from "../src/monitoring/messages.js";
import { MonitoringWriter } from "../src/monitoring/writerClient.js";
import { noopTaskEvents } from "../bench/writer.js";
import { count, rows, tempDir, waitFor } from "./helpers.js";

const INDEX = fileURLToPath(new URL("../src/index.js", import.meta.url));
const isRoot = process.getuid?.() === 0;
const needsRoot = isRoot ? {} : { skip: "needs root (tmpfs mounts, setpriv); CI runs as root" };

const sha = (file: string): string => createHash("sha256").update(fs.readFileSync(file)).digest("hex");

/** Writer processes (of any run) whose command line mentions `needle`. */
function writersMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const p of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, "utf8");
      if (cmd.includes("writerProcess") && cmd.includes(needle)) pids.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** A small tmpfs at a fresh directory, unmounted when the test ends. */
function smallDisk(t: { after: (fn: () => void) => void }, sizeKiB: number): string {
  const dir = tempDir("parsl-ts-disk-");
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeKiB}k`, "tmpfs", dir]);
  t.after(() => {
    try {
      execFileSync("umount", ["-l", dir]);
    } catch {
      /* already gone */
    }
  });
  return dir;
}

/** Fills the file system holding `dir` to the last byte; returns the filler's path. */
function fill(dir: string): string {
  const filler = path.join(dir, "filler");
  const fd = fs.openSync(filler, "a");
  const block = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) fs.writeSync(fd, block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  }
  try {
    for (;;) fs.writeSync(fd, block, 0, 512);
  } catch {
    /* full to the last block */
  }
  fs.closeSync(fd);
  return filler;
}

/** A script that loads a monitored run with the given endpoint and run dir and runs `tasks` quick tasks. */
function workflowScript(dir: string): string {
  const file = path.join(dir, "wf.mjs");
  fs.writeFileSync(
    file,
    `
import { load, Config, MonitoringHub, ThreadPoolExecutor, tsApp } from ${JSON.stringify(INDEX)};
const [endpoint, runDir] = process.argv.slice(2);
const one = tsApp(function one() { return 1; });
const t0 = Date.now();
try {
  const dfk = await load(new Config({ executors: [new ThreadPoolExecutor()], monitoring: new MonitoringHub({ loggingEndpoint: endpoint }), runDir }));
  console.log("ran", await one());
  await dfk.cleanup();
} catch (err) {
  console.log(JSON.stringify({ error: err.message, ms: Date.now() - t0 }));
  process.exitCode = 1;
}
`,
  );
  fs.chmodSync(dir, fs.statSync(dir).mode | 0o755); // an ordinary user must reach it
  fs.chmodSync(file, 0o644);
  return file;
}

async function runAs(
  user: string | null,
  args: string[],
): Promise<{ code: number | null; out: string; err: string; ms: number }> {
  const started = Date.now();
  const argv =
    user === null
      ? [process.execPath, ...args]
      : [
          "setpriv",
          `--reuid=${user}`,
          `--regid=${user === "nobody" ? "nogroup" : user}`,
          "--clear-groups",
          process.execPath,
          ...args,
        ];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  // Waiting for 'close' (both pipes at EOF), not 'exit': a helper process that outlived the
  // script while holding its stderr would make this hang, which is one of the faults tested.
  const code = await new Promise<number | null>((r) => child.on("close", (c) => r(c)));
  return { code, out, err, ms: Date.now() - started };
}

function failure(out: string): { error: string; ms: number } {
  const line = out.split("\n").find((l) => l.startsWith("{"));
  assert.ok(line, `the script reported a load() error: ${out}`);
  return JSON.parse(line) as { error: string; ms: number };
}

/** A monitoring database written by parsl-ts, made by running the script once as root. */
async function parslTsDatabase(dir: string): Promise<string> {
  const script = workflowScript(dir);
  const db = path.join(dir, "made.db");
  const r = await runAs(null, [script, db, path.join(dir, "made-runinfo")]);
  assert.equal(r.code, 0, r.err);
  return db;
}

// ---------------------------------------------------------------------------- the user may not write

test(
  "a read-only database file fails load() at once, naming the path; no writer is left behind (as an ordinary user)",
  needsRoot,
  async () => {
    const dir = tempDir("parsl-ts-ro-");
    fs.chmodSync(dir, 0o777);
    const db = await parslTsDatabase(dir);
    fs.chmodSync(db, 0o444);
    const before = sha(db);
    const runDir = path.join(dir, "rw", "runinfo");
    fs.mkdirSync(runDir, { recursive: true });
    fs.chmodSync(path.join(dir, "rw"), 0o777);
    fs.chmodSync(runDir, 0o777);
    const r = await runAs("nobody", [workflowScript(dir), db, runDir]);
    const f = failure(r.out);
    assert.match(
      f.error,
      new RegExp(
        `cannot open monitoring database ${db.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: the file is not writable by this user`,
      ),
    );
    assert.ok(f.ms < 10_000, `failed at once (${f.ms} ms)`);
    assert.ok(r.ms < 15_000, "the script's pipes closed promptly: nothing holds its stderr");
    assert.deepEqual(writersMentioning(db), []);
    assert.equal(sha(db), before, "the file is unchanged");
  },
);

test("a database in a read-only directory fails load() at once, naming the directory", needsRoot, async () => {
  const dir = tempDir("parsl-ts-rodir-");
  fs.chmodSync(dir, 0o777);
  const ro = path.join(dir, "ro");
  fs.mkdirSync(ro);
  fs.chmodSync(ro, 0o555);
  const runDir = path.join(dir, "runinfo");
  fs.mkdirSync(runDir);
  fs.chmodSync(runDir, 0o777);
  const r = await runAs("nobody", [workflowScript(dir), path.join(ro, "m.db"), runDir]);
  assert.match(failure(r.out).error, new RegExp(`its directory ${ro} is not writable by this user`));
});

// ---------------------------------------------------------------------------- not ours, or damaged

test("a file that is not a monitoring database is refused before anything in it changes", async () => {
  const dir = tempDir("parsl-ts-foreign-");
  const script = workflowScript(dir);
  const foreign = path.join(dir, "app.db");
  const other = new Database(foreign);
  other.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('ada')");
  other.close();
  const text = path.join(dir, "notes.txt");
  fs.writeFileSync(text, "not a database at all\n".repeat(500));
  for (const [file, expected] of [
    [foreign, /is not a Parsl monitoring database \(its tables: users\); nothing was changed/],
    [text, /SQLITE_NOTADB|file is not a database/],
  ] as const) {
    const before = sha(file);
    const r = await runAs(null, [script, file, path.join(dir, "runinfo")]);
    assert.match(failure(r.out).error, expected);
    assert.equal(sha(file), before, `${path.basename(file)} is byte for byte unchanged`);
    assert.equal(fs.existsSync(`${file}-wal`), false, "no WAL was created beside it");
  }
  const check = new Database(foreign, { readonly: true });
  assert.equal(check.pragma("journal_mode", { simple: true }), "delete", "its journal mode was not switched to WAL");
  check.close();
});

test("a corrupt monitoring database is caught by quick_check at open and left as it is", async () => {
  const dir = tempDir("parsl-ts-corrupt-");
  const db = await parslTsDatabase(dir);
  // Damage the inside of the file (past the header and the schema page), as a bad disk would.
  const size = fs.statSync(db).size;
  assert.ok(size > 3 * 65536, `the database has several pages (${size} bytes)`);
  const fd = fs.openSync(db, "r+");
  fs.writeSync(fd, Buffer.alloc(65536, 0xa5), 0, 65536, 2 * 65536);
  fs.closeSync(fd);
  const before = sha(db);
  const r = await runAs(null, [workflowScript(dir), db, path.join(dir, "runinfo")]);
  assert.match(
    failure(r.out).error,
    new RegExp(
      `monitoring database ${db.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is corrupt \\(PRAGMA quick_check: [^]+\\); nothing was changed|SQLITE_CORRUPT`,
    ),
  );
  assert.equal(sha(db), before);
});

// ---------------------------------------------------------------------------- full disks

test("a full disk at start fails load() at once, naming the path", needsRoot, async (t) => {
  const disk = smallDisk(t, 1024);
  const dir = tempDir("parsl-ts-full-");
  fill(disk);
  const r = await runAs(null, [workflowScript(dir), path.join(dir, "m.db"), path.join(disk, "runinfo")]);
  assert.match(failure(r.out).error, /no space left on device|ENOSPC|SQLITE_FULL/i);
  assert.match(failure(r.out).error, new RegExp(disk.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
});

const T0 = nowMicros();
const start: MonitoringEvent = {
  t: "workflow_start",
  workflow_name: "wf",
  workflow_version: "v1",
  time_began: T0,
  host: "h",
  user: "u",
  rundir: "/r",
};
const end = (n: number): MonitoringEvent => ({
  t: "workflow_end",
  time_completed: nowMicros(),
  tasks_completed_count: n,
  tasks_failed_count: 0,
  run_status: "completed",
});
/** A writer for run `runId` with its database and run directory in `dir`, collecting its warnings. */
async function writerIn(
  dir: string,
  runId: string,
  opts: { closeTimeoutMs?: number } = {},
): Promise<{ w: MonitoringWriter; db: string; warnings: string[] }> {
  const db = path.join(dir, "m.db");
  const warnings: string[] = [];
  const w = await MonitoringWriter.start({
    endpoint: db,
    runId,
    runDir: path.join(dir, "000"),
    onWarning: (m) => warnings.push(m),
    ...opts,
  });
  return { w, db, warnings };
}

function emitTasks(w: MonitoringWriter, from: number, to: number): void {
  for (let i = from; i < to; i++) for (const e of noopTaskEvents(i, T0 + i * 20)) w.emit(e);
}

test(
  "a disk that fills mid-run: the workflow goes on, one warning names the journal, recording resumes when space returns",
  needsRoot,
  async (t) => {
    const disk = smallDisk(t, 8 * 1024);
    const runId = "run-disk-fills";
    const { w, db, warnings } = await writerIn(disk, runId);
    w.emit(start);
    emitTasks(w, 0, 100);
    w.flush();
    await waitFor(() => w.unacknowledged === 0, { what: "the first batch stored" });
    const filler = fill(disk);
    for (let i = 1; i < 20; i++) {
      emitTasks(w, i * 100, (i + 1) * 100); // the kernel carries on: emit() never throws or blocks
      w.flush();
    }
    await waitFor(() => warnings.some((m) => m.includes("cannot append to the monitoring journal")), {
      what: "the journal's warning",
    });
    const journalWarnings = warnings.filter((m) => m.includes("cannot append to the monitoring journal"));
    assert.equal(journalWarnings.length, 1, JSON.stringify(warnings));
    assert.match(
      journalWarnings[0]!,
      new RegExp(
        `${w.journalPath.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(ENOSPC\\); the workflow continues and its monitoring data waits in memory \\([\\d.]+ [KM]iB so far`,
      ),
    );
    fs.rmSync(filler);
    w.emit(end(2000));
    await w.close();
    assert.equal(count(db, "SELECT COUNT(*) FROM task WHERE run_id = ?", runId), 2000);
    assert.equal(count(db, "SELECT COUNT(*) FROM status WHERE run_id = ?", runId), 2000 * 5);
    assert.equal(rows(db, "SELECT run_status FROM workflow WHERE run_id = ?", runId)[0]!["run_status"], "completed");
    assert.equal(fs.existsSync(w.journalPath), false);
  },
);

test(
  "a disk still full when the run ends: the user is told exactly what was not recorded and where the rest waits",
  needsRoot,
  async (t) => {
    const disk = smallDisk(t, 8 * 1024);
    const { w, warnings } = await writerIn(disk, "run-disk-stays-full", { closeTimeoutMs: 1000 });
    w.emit(start);
    w.flush();
    await waitFor(() => w.unacknowledged === 0, { what: "the first batch stored" });
    fill(disk);
    emitTasks(w, 0, 500);
    w.emit(end(500));
    const pid = w.pid!;
    await w.close();
    const lost = warnings.find((m) => m.startsWith("ERROR: ") && m.includes("could not be written to the journal"));
    assert.ok(lost, JSON.stringify(warnings));
    assert.match(
      lost,
      new RegExp(
        `ERROR: \\d+ batches \\([\\d.]+ [KM]iB\\) of monitoring data could not be written to the journal ${w.journalPath.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(ENOSPC\\).*: they are not recorded`,
      ),
    );
    process.kill(pid, "SIGKILL"); // the detached writer would otherwise wait for space for a long time
  },
);

// ---------------------------------------------------------------------------- errors waiting cannot fix

test("a table dropped under the writer is reported once; no endless restarts; the journal keeps what was not stored", async () => {
  const { w, db, warnings } = await writerIn(tempDir("parsl-ts-dropped-"), "run-dropped-table");
  w.emit(start);
  emitTasks(w, 0, 10);
  w.flush();
  await waitFor(() => w.unacknowledged === 0, { what: "the first batches stored" });
  const other = new Database(db);
  other.exec("DROP TABLE status");
  other.close();
  emitTasks(w, 10, 20);
  w.flush();
  await waitFor(() => warnings.some((m) => m.includes("a restart would meet again")), { what: "monitoring to stop" });
  assert.equal(w.pid, undefined, "no writer is running or restarting");
  assert.equal(warnings.filter((m) => /no such table: status/.test(m)).length, 1, JSON.stringify(warnings));
  assert.ok(!warnings.some((m) => m.includes("exited unexpectedly")), "not restarted");
  w.emit(end(20));
  const started = Date.now();
  await w.close();
  assert.ok(Date.now() - started < 2000, "close() returns at once");
  assert.ok(fs.statSync(w.journalPath).size > 0, "the journal is kept");
  assert.ok(
    warnings.some((m) =>
      /ERROR: [\d.]+ [KM]iB of this run's monitoring data was not stored in the database; it waits in .*monitoring\.journal/.test(
        m,
      ),
    ),
    JSON.stringify(warnings),
  );
});
