/**
 * Probe (not part of npm run bench): the floor under the SQLite store, i.e. SQLite's own work for
 * exactly the rows `coalesceProbe.js split` makes the store write, with plain statements and no
 * planning: per no-op task, a launch transaction (task and try insert, pending and launched
 * status rows) and a completion transaction (running, running_ended and exec_done status rows,
 * the try's and the task's update), 6,000 tasks per transaction, in the statement forms the
 * store's fast path uses: 60-row `INSERT OR FAIL … VALUES` (`INSERT OR IGNORE` for status rows),
 * 60-row `UPDATE OR FAIL … FROM (VALUES …)`, the run id bound once per statement; parameters
 * built inline, nothing planned. Same schema, indexes and pragmas as the store (it sets the
 * database up through the store). Prints CPU µs per task of this process. Run it as the writer
 * runs: `node --max-semi-space-size=32 dist/bench/storeFloorProbe.js [tasks=60000]`.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { openStore } from "../src/database/store.js";
import { formatMicros } from "../src/database/timeformat.js";
import { probeWorkflowStart } from "./writer.js";

const n = Number(process.argv[2] ?? 60_000);
const per = 6000;
const group = 60;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "parsl-ts-floor-"));
const file = path.join(dir, "monitoring.db");
const runId = `probe-${process.pid}`;
const store = await openStore(file, runId, { warning: console.error, note: () => undefined });
const t = Date.now() * 1000;
await store.applyBatch([probeWorkflowStart(t, dir)]);
store.close();

const db = new Database(file);
db.pragma("journal_mode = WAL");
db.pragma("synchronous = NORMAL");
db.pragma("foreign_keys = OFF");
db.pragma("cache_size = -65536");
db.pragma(`wal_autocheckpoint = ${Math.round((16 * 2 ** 20) / Number(db.pragma("page_size", { simple: true })))}`);

const run = { r: runId };
const many = (head: string, tuple: string, tail = ""): Database.Statement<unknown[]> =>
  db.prepare(`${head} VALUES ${tuple}${`, ${tuple}`.repeat(group - 1)}${tail}`);
const taskCols =
  "task_id, run_id, task_depends, task_func_name, task_memoize, task_hashsum, task_inputs, task_outputs, task_stdin, " +
  "task_stdout, task_stderr, task_time_invoked, task_time_returned, task_fail_count, task_fail_cost, task_lineage_hash, task_latest_status";
const insTask = many(`INSERT OR FAIL INTO task (${taskCols})`, `(?, @r${", ?".repeat(15)})`);
const insTry = many(
  "INSERT OR FAIL INTO try (try_id, task_id, run_id, task_executor, task_try_time_launched)",
  "(?, ?, @r, ?, ?)",
);
const insStatus = many(
  "INSERT OR IGNORE INTO status (task_id, task_status_name, timestamp, run_id, try_id)",
  "(?, ?, ?, @r, ?)",
);
const updTask = many(
  "UPDATE OR FAIL task SET task_time_returned = v.column2, task_latest_status = v.column3 FROM (",
  "(?, ?, ?)",
  ") AS v WHERE task.task_id = v.column1 AND task.run_id = @r",
);
const updTry = many(
  "UPDATE OR FAIL try SET task_try_time_running = v.column3, hostname = v.column4, block_id = v.column5, " +
    "task_try_time_returned = v.column6, task_fail_history = v.column7 FROM (",
  "(?, ?, ?, ?, ?, ?, ?)",
  ") AS v WHERE try.try_id = v.column1 AND try.task_id = v.column2 AND try.run_id = @r",
);
const taskP = new Array<unknown>(group * 16);
const tryP = new Array<unknown>(group * 4);
const statusP = new Array<unknown>(group * 4);
const updTaskP = new Array<unknown>(group * 3);
const updTryP = new Array<unknown>(group * 7);
const launch = db.transaction((s: number) => {
  for (let g = s; g < s + per; g += group) {
    let a = 0;
    let b = 0;
    let c = 0;
    for (let i = g; i < g + group; i++) {
      const ti = t + i;
      for (const v of [
        i,
        "",
        "noop",
        "0",
        null,
        "None",
        "None",
        null,
        "",
        "",
        formatMicros(ti),
        null,
        0,
        0,
        null,
        "launched",
      ])
        taskP[a++] = v;
      tryP[b++] = 0;
      tryP[b++] = i;
      tryP[b++] = "threads";
      tryP[b++] = formatMicros(ti + 5);
      if (c === statusP.length) {
        insStatus.run(statusP, run);
        c = 0;
      }
      statusP[c++] = i;
      statusP[c++] = "pending";
      statusP[c++] = formatMicros(ti);
      statusP[c++] = 0;
      if (c === statusP.length) {
        insStatus.run(statusP, run);
        c = 0;
      }
      statusP[c++] = i;
      statusP[c++] = "launched";
      statusP[c++] = formatMicros(ti + 6);
      statusP[c++] = 0;
    }
    insTask.run(taskP, run);
    insTry.run(tryP, run);
    insStatus.run(statusP, run);
  }
});
const done = db.transaction((s: number) => {
  let c = 0;
  for (let i = s; i < s + per; i++) {
    const ti = t + i;
    for (const [state, d] of [
      ["running", 7],
      ["running_ended", 9],
      ["exec_done", 11],
    ] as const) {
      statusP[c++] = i;
      statusP[c++] = state;
      statusP[c++] = formatMicros(ti + d);
      statusP[c++] = 0;
      if (c === statusP.length) {
        insStatus.run(statusP, run);
        c = 0;
      }
    }
  }
  for (let g = s; g < s + per; g += group) {
    let a = 0;
    let b = 0;
    for (let i = g; i < g + group; i++) {
      const ti = t + i;
      updTaskP[a++] = i;
      updTaskP[a++] = formatMicros(ti + 11);
      updTaskP[a++] = "exec_done";
      updTryP[b++] = 0;
      updTryP[b++] = i;
      updTryP[b++] = formatMicros(ti + 7);
      updTryP[b++] = "bench";
      updTryP[b++] = null;
      updTryP[b++] = formatMicros(ti + 10);
      updTryP[b++] = "";
    }
    updTry.run(updTryP, run);
    updTask.run(updTaskP, run);
  }
});
const c0 = process.cpuUsage();
for (let s = 0; s < n; s += per) {
  launch.immediate(s);
  done.immediate(s);
}
const c = process.cpuUsage(c0);
const rows = db
  .prepare("SELECT (SELECT COUNT(*) FROM status) + (SELECT COUNT(*) FROM task) + (SELECT COUNT(*) FROM try)")
  .pluck()
  .get();
const finished = db
  .prepare("SELECT COUNT(*) FROM task WHERE task_latest_status = 'exec_done' AND task_time_returned IS NOT NULL")
  .pluck()
  .get();
if (rows !== n * 7 || finished !== n)
  throw new Error(`wrote ${String(rows)} rows (expected ${n * 7}), ${String(finished)} tasks done (expected ${n})`);
console.log(`floor: CPU ${((c.user + c.system) / n).toFixed(1)} µs/task (SQLite's own work for the store's rows)`);
db.close();
fs.rmSync(dir, { recursive: true, force: true });
