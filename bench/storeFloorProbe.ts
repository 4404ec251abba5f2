/**
 * Probe (not part of npm run bench): the floor under the SQLite store, i.e. SQLite's own work for
 * exactly the rows `coalesceProbe.js split` makes the store write, with plain statements and no
 * planning: per no-op task, a launch transaction (task and try insert, pending and launched
 * status rows) and a completion transaction (running, running_ended and exec_done status rows,
 * the try's and the task's update by primary key), 6,000 tasks per transaction, inserts as
 * 60-row multi-VALUES statements. Same schema, indexes and pragmas as the store (it sets the
 * database up through the store). Prints CPU µs per task of this process.
 *   node dist/bench/storeFloorProbe.js [tasks=60000]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { openStore } from "../src/database/store.js";
import { formatMicros } from "../src/database/timeformat.js";

const n = Number(process.argv[2] ?? 60_000);
const per = 6000;
const group = 60;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "parsl-ts-floor-"));
const file = path.join(dir, "monitoring.db");
const runId = `probe-${process.pid}`;
const store = await openStore(file, runId, { warning: console.error, note: () => undefined });
const t = Date.now() * 1000;
await store.applyBatch([
  { t: "workflow_start", workflow_name: "probe", workflow_version: "1", time_began: t, host: "h", user: "u", rundir: dir },
]);
store.close();

const db = new Database(file);
db.pragma("journal_mode = WAL");
db.pragma("synchronous = NORMAL");
db.pragma("foreign_keys = OFF");
db.pragma("cache_size = -65536");
db.pragma(`wal_autocheckpoint = ${Math.round((16 * 2 ** 20) / Number(db.pragma("page_size", { simple: true })))}`);

const many = (head: string, width: number): Database.Statement<unknown[]> => {
  const tuple = `(?${", ?".repeat(width - 1)})`;
  return db.prepare(`${head} VALUES ${tuple}${`, ${tuple}`.repeat(group - 1)}`);
};
const taskCols =
  "task_id, run_id, task_depends, task_func_name, task_memoize, task_hashsum, task_inputs, task_outputs, task_stdin, " +
  "task_stdout, task_stderr, task_time_invoked, task_time_returned, task_fail_count, task_fail_cost, task_lineage_hash, task_latest_status";
const insTask = many(`INSERT INTO task (${taskCols})`, 17);
const insTry = many("INSERT INTO try (try_id, task_id, run_id, task_executor, task_try_time_launched)", 5);
const insStatus = many("INSERT INTO status (task_id, task_status_name, timestamp, run_id, try_id)", 5);
const updTask = db.prepare(
  "UPDATE task SET task_time_returned = ?, task_latest_status = ? WHERE task_id = ? AND run_id = ?",
);
const updTry = db.prepare(
  "UPDATE try SET task_try_time_running = ?, hostname = ?, block_id = ?, task_try_time_returned = ?, task_fail_history = ? " +
    "WHERE try_id = ? AND task_id = ? AND run_id = ?",
);
const launch = db.transaction((s: number) => {
  const task: unknown[] = [];
  const tries: unknown[] = [];
  const status: unknown[] = [];
  for (let i = s; i < s + per; i++) {
    const ti = t + i;
    task.push(i, runId, "", "noop", "0", null, "None", "None", null, "", "", formatMicros(ti), null, 0, 0, null, "launched");
    tries.push(0, i, runId, "threads", formatMicros(ti + 5));
    status.push(i, "pending", formatMicros(ti), runId, 0, i, "launched", formatMicros(ti + 6), runId, 0);
    if (task.length === group * 17) {
      insTask.run(task);
      insTry.run(tries);
      task.length = tries.length = 0;
    }
    if (status.length === group * 5) {
      insStatus.run(status);
      status.length = 0;
    }
  }
});
const done = db.transaction((s: number) => {
  const status: unknown[] = [];
  for (let i = s; i < s + per; i++) {
    const ti = t + i;
    status.push(i, "running", formatMicros(ti + 7), runId, 0, i, "running_ended", formatMicros(ti + 9), runId, 0);
    status.push(i, "exec_done", formatMicros(ti + 11), runId, 0);
    while (status.length >= group * 5) {
      insStatus.run(status.slice(0, group * 5));
      status.splice(0, group * 5);
    }
  }
  for (let i = s; i < s + per; i++) {
    const ti = t + i;
    updTry.run([formatMicros(ti + 7), "bench", null, formatMicros(ti + 10), "", 0, i, runId]);
    updTask.run([formatMicros(ti + 11), "exec_done", i, runId]);
  }
});
const c0 = process.cpuUsage();
for (let s = 0; s < n; s += per) {
  launch.immediate(s);
  done.immediate(s);
}
const c = process.cpuUsage(c0);
const rows = db.prepare("SELECT (SELECT COUNT(*) FROM status) + (SELECT COUNT(*) FROM task) + (SELECT COUNT(*) FROM try)").pluck().get();
if (rows !== n * 7) throw new Error(`wrote ${String(rows)} rows, expected ${n * 7}`);
console.log(`floor: CPU ${((c.user + c.system) / n).toFixed(1)} µs/task (SQLite's own work for the store's rows)`);
db.close();
fs.rmSync(dir, { recursive: true, force: true });
