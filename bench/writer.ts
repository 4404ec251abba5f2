/**
 * Throughput of the monitoring database path: realistic event streams for N no-op tasks go
 * through a real MonitoringWriter (child process, framed stdin, SQLite in a temp dir).
 * Per task: 1 task row, 1 try row, 5 status rows = 7 rows, from 10 events.
 *
 *   node dist/bench/writer.js [tasks=200000]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { MonitoringWriter } from "../src/monitoring/writerClient.js";
import type { MonitoringEvent } from "../src/monitoring/messages.js";

export interface WriterBenchResult {
  tasks: number;
  rows: number;
  events: number;
  seconds: number;
  rowsPerSecond: number;
  eventsPerSecond: number;
  /** Rows found in the database afterwards (must equal `rows`). */
  rowsWritten: number;
  /** Most batches the client held unacknowledged at once (the writer's backlog, in 4096-event frames). */
  peakUnackedBatches: number;
}

export const ROWS_PER_TASK = 7;

/** A probe run's first event (the workflow row), at time `t` (µs). */
export function probeWorkflowStart(t: number, rundir: string): MonitoringEvent {
  return {
    t: "workflow_start",
    workflow_name: "probe",
    workflow_version: "1",
    time_began: t,
    host: "h",
    user: "u",
    rundir,
  };
}

/** The events the kernel emits for one successful no-op task, in order. */
export function noopTaskEvents(taskId: number, t: number): MonitoringEvent[] {
  return [
    {
      t: "task",
      task_id: taskId,
      first: true,
      cols: {
        task_depends: "",
        task_func_name: "noop",
        task_memoize: false,
        task_hashsum: null,
        task_inputs: "None",
        task_outputs: "None",
        task_stdin: null,
        task_stdout: "",
        task_stderr: "",
        task_time_invoked: t,
        task_time_returned: null,
        task_fail_count: 0,
        task_fail_cost: 0,
        task_lineage_hash: null,
      },
    },
    { t: "status", task_id: taskId, try_id: 0, state: "pending", ts: t },
    {
      t: "try",
      task_id: taskId,
      try_id: 0,
      first: true,
      cols: { task_executor: "threads", task_try_time_launched: t + 5 },
    },
    { t: "status", task_id: taskId, try_id: 0, state: "launched", ts: t + 6 },
    {
      t: "try",
      task_id: taskId,
      try_id: 0,
      first: false,
      cols: { task_try_time_running: t + 7, hostname: "bench", block_id: null },
    },
    { t: "status", task_id: taskId, try_id: 0, state: "running", ts: t + 7 },
    { t: "status", task_id: taskId, try_id: 0, state: "running_ended", ts: t + 9 },
    {
      t: "try",
      task_id: taskId,
      try_id: 0,
      first: false,
      cols: { task_try_time_returned: t + 10, task_fail_history: "" },
    },
    { t: "task", task_id: taskId, first: false, cols: { task_time_returned: t + 11 } },
    { t: "status", task_id: taskId, try_id: 0, state: "exec_done", ts: t + 11 },
  ];
}

export async function benchWriter(tasks: number): Promise<WriterBenchResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "parsl-ts-bench-writer-"));
  const db = path.join(dir, "monitoring.db");
  const runId = "bench-" + process.pid;
  try {
    const writer = await MonitoringWriter.start({ endpoint: db, runId, runDir: path.join(dir, "000") });
    const began = Date.now() * 1000;
    const t0 = performance.now();
    writer.emit({
      t: "workflow_start",
      workflow_name: "bench",
      workflow_version: "1",
      time_began: began,
      host: "bench",
      user: "bench",
      rundir: dir,
    });
    let events = 1;
    let peakUnackedBatches = 0;
    for (let i = 0; i < tasks; i++) {
      for (const e of noopTaskEvents(i, began + i * 20)) writer.emit(e);
      events += 10;
      writer.setCounts(i + 1, 0);
      // Let acks arrive now and then, as a running kernel would.
      if (i % 1000 === 999) {
        peakUnackedBatches = Math.max(peakUnackedBatches, writer.unacknowledged);
        await new Promise((r) => setImmediate(r));
      }
    }
    writer.emit({
      t: "workflow_end",
      time_completed: Date.now() * 1000,
      tasks_completed_count: tasks,
      tasks_failed_count: 0,
      run_status: "completed",
    });
    events++;
    await writer.close();
    const seconds = (performance.now() - t0) / 1000;
    const check = new Database(db, { readonly: true });
    const count = (sql: string): number => check.prepare(sql).pluck().get(runId) as number;
    const rowsWritten =
      count("SELECT COUNT(*) FROM task WHERE run_id = ?") +
      count("SELECT COUNT(*) FROM try WHERE run_id = ?") +
      count("SELECT COUNT(*) FROM status WHERE run_id = ?");
    check.close();
    const rows = tasks * ROWS_PER_TASK;
    return {
      tasks,
      rows,
      events,
      seconds,
      rowsPerSecond: rows / seconds,
      eventsPerSecond: events / seconds,
      rowsWritten,
      peakUnackedBatches,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const tasks = Number(process.argv[2] ?? 200_000);
  if (!Number.isSafeInteger(tasks) || tasks <= 0) {
    console.error(`usage: node dist/bench/writer.js [tasks]  (got ${process.argv[2]})`);
    process.exit(2);
  }
  const r = await benchWriter(tasks);
  console.log(
    `writer: ${r.tasks} no-op tasks, ${r.rows} rows (${r.rowsWritten} found), ${r.events} events in ${r.seconds.toFixed(2)} s`,
  );
  console.log(
    `writer: ${Math.round(r.rowsPerSecond)} rows/s, ${Math.round(r.eventsPerSecond)} events/s; ` +
      `peak backlog ${r.peakUnackedBatches} unacknowledged batches`,
  );
  if (r.rowsWritten !== r.rows) process.exitCode = 1;
}
