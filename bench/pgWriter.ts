/**
 * The writer on PostgreSQL: how rows reach the server (UNNEST arrays vs multi-row VALUES, the
 * same store and batches), and monitored no-op tasks end to end on ThreadPoolExecutor(2) until
 * every row is committed. Needs a server: PARSL_TS_TEST_PG (admin URL), or
 * scripts/postgres/start-server.sh is run.
 *
 *   node dist/bench/pgWriter.js [tasks=100000]
 */
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import pg from "pg";
import { PostgresStore, type IngestMethod } from "../src/database/postgres/store.js";
import type { MonitoringEvent } from "../src/monitoring/messages.js";
import { Config, load, MonitoringHub, ThreadPoolExecutor, tsApp } from "../src/index.js";
import { noopTaskEvents, ROWS_PER_TASK } from "./writer.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

function adminUrl(): string {
  return process.env["PARSL_TS_TEST_PG"] ??
    execFileSync("bash", [path.join(ROOT, "scripts/postgres/start-server.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
}

async function admin(url: string, text: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

/** A fresh database on the server; returns its URL and a function that drops it. */
async function freshDb(base: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `parsl_bench_${crypto.randomBytes(4).toString("hex")}`;
  await admin(base, `CREATE DATABASE "${name}"`);
  const u = new URL(base);
  u.pathname = "/" + name;
  return { url: u.toString(), drop: () => admin(base, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
}

async function count(url: string, sql: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return Number((await c.query(sql)).rows[0].n);
  } finally {
    await c.end();
  }
}

export interface IngestResult { method: IngestMethod; tasks: number; rows: number; seconds: number; rowsPerSecond: number; microsPerTask: number }

/** The store alone, batches of `perBatch` tasks (as the writer forms them under load), writer time only. */
export async function benchIngest(base: string, method: IngestMethod, tasks: number, perBatch = 4000): Promise<IngestResult> {
  const { url, drop } = await freshDb(base);
  try {
    const store = await PostgresStore.open(url, "bench", "bench-" + method, { warning: console.warn, note: () => undefined }, { method });
    await store.ensureSchema();
    const began = Date.now() * 1000;
    await store.applyBatch([{ t: "workflow_start", workflow_name: "bench", workflow_version: "1", time_began: began, host: "b", user: "b", rundir: "/" }]);
    let seconds = 0;
    for (let from = 0; from < tasks; from += perBatch) {
      const events: MonitoringEvent[] = [];
      for (let i = from; i < Math.min(tasks, from + perBatch); i++) events.push(...noopTaskEvents(i, began + i * 20));
      const t0 = performance.now();
      const out = await store.applyBatch(events);
      seconds += (performance.now() - t0) / 1000;
      if (out.rejected.length > 0) throw new Error(out.rejected[0]);
    }
    store.close();
    const rows = await count(url, "SELECT (SELECT COUNT(*) FROM task) + (SELECT COUNT(*) FROM try) + (SELECT COUNT(*) FROM status) AS n");
    if (rows !== tasks * ROWS_PER_TASK) throw new Error(`expected ${tasks * ROWS_PER_TASK} rows, found ${rows}`);
    return { method, tasks, rows, seconds, rowsPerSecond: rows / seconds, microsPerTask: (seconds * 1e6) / tasks };
  } finally {
    await drop();
  }
}

export interface EndToEndResult { tasks: number; seconds: number; tasksPerSecond: number; submitSeconds: number }

/** No-op tasks on ThreadPoolExecutor(2), monitored into PostgreSQL, timed until cleanup() has every row committed. */
export async function benchEndToEnd(base: string, tasks: number): Promise<EndToEndResult> {
  const { url, drop } = await freshDb(base);
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), "parsl-ts-bench-pg-"));
  try {
    const noop = tsApp(function noop() { return 0; });
    const dfk = await load(new Config({
      executors: [new ThreadPoolExecutor({ label: "threads", maxThreads: 2 })],
      monitoring: new MonitoringHub({ loggingEndpoint: url, resourceMonitoringInterval: 0 }),
      runDir, handleSignals: false, summary: false,
    }));
    const t0 = performance.now();
    const futures = [];
    for (let i = 0; i < tasks; i++) futures.push(noop());
    await Promise.all(futures);
    const submitSeconds = (performance.now() - t0) / 1000;
    await dfk.cleanup(); // returns once the writer has committed the whole journal
    const seconds = (performance.now() - t0) / 1000;
    const rows = await count(url, `SELECT COUNT(*) AS n FROM status WHERE run_id = '${dfk.runId}'`);
    if (rows !== tasks * 5) throw new Error(`expected ${tasks * 5} status rows, found ${rows}`);
    return { tasks, seconds, tasksPerSecond: tasks / seconds, submitSeconds };
  } finally {
    fs.rmSync(runDir, { recursive: true, force: true });
    await drop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const tasks = Number(process.argv[2] ?? 100_000);
  const base = adminUrl();
  for (const method of ["unnest", "values", "unnest", "values"] as const) {
    const r = await benchIngest(base, method, Math.min(tasks, 50_000));
    console.log(`ingest ${r.method.padEnd(6)}: ${r.tasks} tasks, ${r.rows} rows in ${r.seconds.toFixed(2)} s of writer time: ` +
      `${Math.round(r.rowsPerSecond)} rows/s, ${r.microsPerTask.toFixed(1)} µs/task`);
  }
  const e = await benchEndToEnd(base, tasks);
  console.log(`end to end: ${e.tasks} no-op tasks, ThreadPoolExecutor(2), monitored into PostgreSQL: ${e.seconds.toFixed(2)} s until every row ` +
    `was committed = ${Math.round(e.tasksPerSecond)} tasks/s (tasks done after ${e.submitSeconds.toFixed(2)} s)`);
}
