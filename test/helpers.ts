/** Shared helpers for tests: temp run directories and reading the monitoring database. */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { sqliteAt, testDatabase, type TestDatabase, type TestTarget } from "./databases.js";
import {
  Config,
  load,
  MonitoringHub,
  ThreadPoolExecutor,
  type ConfigOptions,
  type DataFlowKernel,
  type MonitoringHubOptions,
} from "../src/index.js";

const createdDirs: string[] = [];
process.once("exit", () => {
  for (const dir of createdDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary directory, removed when the test process exits. */
export function tempDir(prefix = "parsl-ts-test-"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  createdDirs.push(dir);
  return dir;
}

export interface MonitoredRun {
  dfk: DataFlowKernel;
  runDir: string;
  /** The SQLite file (SQLite runs only). */
  dbPath: string;
  /** The run's database, of either dialect. */
  db: TestDatabase;
}

/** Load a kernel with monitoring into a fresh temp run dir (PostgreSQL: into a fresh database of the test server, or through PgBouncer). */
export async function loadMonitored(
  options: ConfigOptions = {},
  hub: MonitoringHubOptions = { resourceMonitoringInterval: 0 },
  dialect: TestTarget = "sqlite",
): Promise<MonitoredRun> {
  const runDir = options.runDir ?? path.join(tempDir(), "runinfo");
  const dbPath = path.join(runDir, "monitoring.db");
  const db = dialect === "sqlite" ? sqliteAt(dbPath) : await testDatabase(dialect);
  const dfk = await load(
    new Config({
      executors: [new ThreadPoolExecutor({ label: "threads", maxThreads: 2 })],
      monitoring: new MonitoringHub(dialect === "sqlite" ? hub : { ...hub, loggingEndpoint: db.endpoint }),
      handleSignals: false,
      summary: false, // tests that check the end-of-run line ask for it
      ...options,
      runDir,
    }),
  );
  return { dfk, runDir, dbPath, db };
}

/** Rows of a query on a test database of either dialect (`?` placeholders). */
export function dbRows<T = Record<string, unknown>>(db: TestDatabase, sql: string, ...params: unknown[]): Promise<T[]> {
  return db.rows<T>(sql, ...params);
}

export function dbCount(db: TestDatabase, sql: string, ...params: unknown[]): Promise<number> {
  return db.count(sql, ...params);
}

/**
 * A task's status rows in order, as `state(try)` strings. SQLite breaks timestamp ties by
 * insertion (rowid); PostgreSQL has no such order, and a task's timestamps are distinct.
 */
export async function dbStatusSequence(db: TestDatabase, runId: string, taskId: number): Promise<string[]> {
  const order = db.dialect === "sqlite" ? "timestamp, rowid" : "timestamp";
  return (
    await db.rows<{ task_status_name: string; try_id: number }>(
      `SELECT task_status_name, try_id FROM status WHERE run_id = ? AND task_id = ? ORDER BY ${order}`,
      runId,
      taskId,
    )
  ).map((r) => `${r.task_status_name}(${r.try_id})`);
}

export function openDb(dbPath: string): Database.Database {
  return new Database(dbPath, { readonly: true, fileMustExist: true });
}

export function rows<T = Record<string, unknown>>(dbPath: string, sql: string, ...params: unknown[]): T[] {
  const db = openDb(dbPath);
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

export function count(dbPath: string, sql: string, ...params: unknown[]): number {
  const r = rows<Record<string, number>>(dbPath, sql, ...params)[0]!;
  return Object.values(r)[0]!;
}

/** A task's status rows in order, as `state(try)` strings. */
export function statusSequence(dbPath: string, runId: string, taskId: number): string[] {
  return rows<{ task_status_name: string; try_id: number }>(
    dbPath,
    "SELECT task_status_name, try_id FROM status WHERE run_id = ? AND task_id = ? ORDER BY timestamp, rowid",
    runId,
    taskId,
  ).map((r) => `${r.task_status_name}(${r.try_id})`);
}

export const PARSL_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/;

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Waits until `condition` returns a truthy value (it may be async) and returns that value; fails
 * naming `what` after `timeoutMs`. Tests wait for conditions like this, never for a fixed time.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  { timeoutMs = 20_000, what, intervalMs = 20 }: { timeoutMs?: number; what: string; intervalMs?: number },
): Promise<Exclude<T, null | undefined | false | 0 | "">> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value as Exclude<T, null | undefined | false | 0 | "">;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/**
 * The database written by Python Parsl, kept in the repository at
 * `test/fixtures/parsl-mixed/monitoring.db` (its README says how it was made and what it holds).
 * Tests copy it before use; it is never modified. Tests run from dist/test/, two levels below the root.
 */
export function parslFixture(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const db = path.resolve(here, "../../test/fixtures/parsl-mixed/monitoring.db");
  if (!fs.existsSync(db)) throw new Error(`the Python Parsl fixture database is missing: ${db}`);
  return db;
}

/**
 * Runs a small real workflow in a process of its own, in `dir` (monitoring on, SQLite default):
 * three cached tasks and a memo hit, a task that fails with `errorText` (one retry) and its
 * dep_fail. Resolves to the database file once the process exited 0.
 */
export async function runSmallWorkflow(dir: string, errorText = "no"): Promise<string> {
  const script = path.join(dir, "wf.mjs");
  fs.writeFileSync(
    script,
    `
import { load, Config, MonitoringHub, ThreadPoolExecutor, tsApp } from ${JSON.stringify(fileURLToPath(new URL("../src/index.js", import.meta.url)))};
const dfk = await load(new Config({ executors: [new ThreadPoolExecutor({ label: "threads", maxThreads: 2 })], retries: 1,
  monitoring: new MonitoringHub({}), summary: false }));
const ok = tsApp(function ok(x) { return x; }, { cache: true });
const bad = tsApp(function bad() { throw new TypeError(${JSON.stringify(errorText)}); });
const after = tsApp(function after(x) { return x; });
await Promise.all([ok(1), ok(2), ok(3)]);
await ok(1);
await after(bad()).catch(() => {});
await dfk.cleanup();
`,
  );
  const code = await new Promise<number | null>((resolve) =>
    spawn(process.execPath, [script], { cwd: dir, stdio: "inherit" }).on("close", resolve),
  );
  if (code !== 0) throw new Error(`the workflow ${script} exited with ${code}`);
  return path.join(dir, "runinfo", "monitoring.db");
}
