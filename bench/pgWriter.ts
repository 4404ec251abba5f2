/**
 * The writer on PostgreSQL: how rows reach the server (UNNEST arrays vs multi-row VALUES, the
 * same store and batches), and monitored no-op tasks end to end on ThreadPoolExecutor(2) until
 * every row is committed. Needs a server: PARSL_TS_TEST_PG (admin URL), or
 * scripts/postgres/start-server.sh is run.
 *
 *   node dist/bench/pgWriter.js [tasks=100000]
 */
import { benchPgAdminUrl } from "./pgServer.js";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { PostgresStore, type IngestMethod } from "../src/database/postgres/store.js";
import type { MonitoringEvent } from "../src/monitoring/messages.js";
import { Config, load, MonitoringHub, ThreadPoolExecutor, tsApp } from "../src/index.js";
import { noopTaskEvents, ROWS_PER_TASK } from "./writer.js";

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

export interface IngestResult {
  method: IngestMethod;
  tasks: number;
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  microsPerTask: number;
}

/** The store alone, batches of `perBatch` tasks (as the writer forms them under load), writer time only. */
export async function benchIngest(
  base: string,
  method: IngestMethod,
  tasks: number,
  perBatch = 4000,
): Promise<IngestResult> {
  const { url, drop } = await freshDb(base);
  try {
    const store = await PostgresStore.open(
      url,
      "bench",
      "bench-" + method,
      { warning: console.warn, note: () => undefined },
      { method },
    );
    await store.ensureSchema();
    const began = Date.now() * 1000;
    await store.applyBatch([
      {
        t: "workflow_start",
        workflow_name: "bench",
        workflow_version: "1",
        time_began: began,
        host: "b",
        user: "b",
        rundir: "/",
      },
    ]);
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
    const rows = await count(
      url,
      "SELECT (SELECT COUNT(*) FROM task) + (SELECT COUNT(*) FROM try) + (SELECT COUNT(*) FROM status) AS n",
    );
    if (rows !== tasks * ROWS_PER_TASK) throw new Error(`expected ${tasks * ROWS_PER_TASK} rows, found ${rows}`);
    return { method, tasks, rows, seconds, rowsPerSecond: rows / seconds, microsPerTask: (seconds * 1e6) / tasks };
  } finally {
    await drop();
  }
}

/**
 * COPY FROM STDIN without a new dependency: node-postgres hands a "submittable" the copy-in
 * protocol messages (what pg-copy-streams builds on). Enough for a measurement.
 */
class CopyIn {
  private err: Error | null = null;
  readonly done: Promise<void>;
  private settle!: (err: Error | null) => void;
  constructor(
    private readonly text: string,
    private readonly data: Buffer,
  ) {
    this.done = new Promise((resolve, reject) => (this.settle = (e) => (e ? reject(e) : resolve())));
  }
  submit(connection: { query(text: string): void }): void {
    connection.query(this.text);
  }
  handleCopyInResponse(connection: { sendCopyFromChunk(b: Buffer): void; endCopyFrom(): void }): void {
    connection.sendCopyFromChunk(this.data);
    connection.endCopyFrom();
  }
  handleError(err: Error): void {
    this.err = err;
  }
  handleReadyForQuery(): void {
    this.settle(this.err);
  }
  handleCommandComplete(): void {}
  handleEmptyQuery(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleCopyData(): void {}
}

export type StatusMethod = "unnest" | "values" | "copy";

/**
 * Status rows alone (five per task, most of the volume), one transaction per batch of
 * `perBatch` tasks into Parsl's status table (primary key, foreign key to workflow), by UNNEST
 * arrays, multi-row VALUES, or COPY into a temporary table then INSERT … SELECT (COPY cannot
 * skip existing rows itself). Client and server time together, per status row.
 */
export async function benchStatusRows(
  base: string,
  tasks: number,
  perBatch = 4000,
): Promise<Record<StatusMethod, number>> {
  const dbs = await Promise.all(
    (["unnest", "values", "copy"] as const).map(async (m) => ({ m, ...(await freshDb(base)) })),
  );
  const clients = new Map<StatusMethod, pg.Client>();
  try {
    for (const { m, url } of dbs) {
      const store = await PostgresStore.open(url, "bench", "bench", {
        warning: () => undefined,
        note: () => undefined,
      });
      await store.ensureSchema();
      store.close();
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(
        `INSERT INTO workflow (run_id, time_began, host, "user", rundir, tasks_failed_count, tasks_completed_count) VALUES ('r', now(), 'h', 'u', '/', 0, 0)`,
      );
      await c.query(
        `CREATE TEMP TABLE status_in (task_id int4, task_status_name text, "timestamp" timestamp, try_id int4)`,
      );
      clients.set(m, c);
    }
    const spent: Record<StatusMethod, number> = { unnest: 0, values: 0, copy: 0 };
    const states = ["pending", "launched", "running", "running_ended", "exec_done"];
    const began = Date.now() * 1000;
    const { formatMicros } = await import("../src/database/timeformat.js");
    for (let from = 0; from < tasks; from += perBatch) {
      const ids: number[] = [],
        names: string[] = [],
        ts: string[] = [],
        tries: number[] = [];
      for (let i = from; i < Math.min(tasks, from + perBatch); i++) {
        states.forEach((st, k) => {
          ids.push(i);
          names.push(st);
          ts.push(formatMicros(began + i * 20 + k));
          tries.push(0);
        });
      }
      // Each method in turn on the same rows, so the machine's noise falls on all three alike.
      for (const m of ["unnest", "values", "copy"] as const) {
        const c = clients.get(m)!;
        const t0 = performance.now();
        await c.query("BEGIN");
        if (m === "unnest") {
          await c.query(
            `INSERT INTO status (task_id, task_status_name, "timestamp", run_id, try_id) SELECT v.a, v.b, v.c, 'r', v.d
            FROM UNNEST($1::int4[], $2::text[], $3::timestamp[], $4::int4[]) AS v(a, b, c, d) ON CONFLICT DO NOTHING`,
            [ids, names, ts, tries],
          );
        } else if (m === "values") {
          const step = 6000; // 5 parameters a row, under PostgreSQL's 65,535
          for (let i = 0; i < ids.length; i += step) {
            const params: unknown[] = [];
            const tuples: string[] = [];
            for (let j = i; j < Math.min(ids.length, i + step); j++) {
              const n = params.length;
              tuples.push(`($${n + 1}::int4, $${n + 2}::text, $${n + 3}::timestamp, 'r', $${n + 4}::int4)`);
              params.push(ids[j], names[j], ts[j], tries[j]);
            }
            await c.query(
              `INSERT INTO status (task_id, task_status_name, "timestamp", run_id, try_id) VALUES ${tuples.join(", ")} ON CONFLICT DO NOTHING`,
              params,
            );
          }
        } else {
          let text = "";
          for (let j = 0; j < ids.length; j++) text += `${ids[j]}\t${names[j]}\t${ts[j]}\t${tries[j]}\n`;
          const copy = new CopyIn(`COPY status_in FROM STDIN`, Buffer.from(text));
          void c.query(copy as unknown as pg.QueryConfig);
          await copy.done;
          await c.query(`INSERT INTO status (task_id, task_status_name, "timestamp", run_id, try_id)
            SELECT task_id, task_status_name, "timestamp", 'r', try_id FROM status_in ON CONFLICT DO NOTHING`);
          await c.query("TRUNCATE status_in");
        }
        await c.query("COMMIT");
        spent[m] += performance.now() - t0;
      }
    }
    for (const { url } of dbs) {
      const n = await count(url, "SELECT COUNT(*) AS n FROM status");
      if (n !== tasks * 5) throw new Error(`expected ${tasks * 5} status rows, found ${n}`);
    }
    const perRow = (ms: number): number => (ms * 1000) / (tasks * 5);
    return { unnest: perRow(spent.unnest), values: perRow(spent.values), copy: perRow(spent.copy) };
  } finally {
    for (const c of clients.values()) await c.end().catch(() => undefined);
    for (const { drop } of dbs) await drop();
  }
}

export interface EndToEndResult {
  tasks: number;
  seconds: number;
  tasksPerSecond: number;
  submitSeconds: number;
}

/** No-op tasks on ThreadPoolExecutor(2), monitored into PostgreSQL, timed until cleanup() has every row committed. */
export async function benchEndToEnd(base: string, tasks: number): Promise<EndToEndResult> {
  const { url, drop } = await freshDb(base);
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), "parsl-ts-bench-pg-"));
  try {
    const noop = tsApp(function noop() {
      return 0;
    });
    const dfk = await load(
      new Config({
        executors: [new ThreadPoolExecutor({ label: "threads", maxThreads: 2 })],
        monitoring: new MonitoringHub({ loggingEndpoint: url, resourceMonitoringInterval: 0 }),
        runDir,
        handleSignals: false,
        summary: false,
      }),
    );
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
  const base = benchPgAdminUrl();
  for (const method of ["unnest", "values", "unnest", "values"] as const) {
    const r = await benchIngest(base, method, Math.min(tasks, 50_000));
    console.log(
      `ingest ${r.method.padEnd(6)}: ${r.tasks} tasks, ${r.rows} rows in ${r.seconds.toFixed(2)} s of writer time: ` +
        `${Math.round(r.rowsPerSecond)} rows/s, ${r.microsPerTask.toFixed(1)} µs/task`,
    );
  }
  const st = await benchStatusRows(base, Math.min(tasks, 50_000));
  console.log(
    `status rows alone, µs per row (client + server, one run, interleaved): UNNEST ${st.unnest.toFixed(1)}, ` +
      `VALUES ${st.values.toFixed(1)}, COPY + INSERT … SELECT ${st.copy.toFixed(1)}`,
  );
  const e = await benchEndToEnd(base, tasks);
  console.log(
    `end to end: ${e.tasks} no-op tasks, ThreadPoolExecutor(2), monitored into PostgreSQL: ${e.seconds.toFixed(2)} s until every row ` +
      `was committed = ${Math.round(e.tasksPerSecond)} tasks/s (tasks done after ${e.submitSeconds.toFixed(2)} s)`,
  );
}
