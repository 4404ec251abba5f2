/**
 * PostgreSQL monitoring, end to end: no-op tasks on ThreadPoolExecutor(2), unmonitored, monitored
 * into SQLite and monitored into PostgreSQL, alternated in one process so the ratios share the
 * machine's noise. The figure is what a user waits for: first submit → cleanup() returned, which
 * is when the writer has committed every row (checked by counting them).
 *
 * The server: PARSL_TS_TEST_PG (an admin URL), else scripts/postgres/start-server.sh starts a
 * private one on loopback. Each run writes a fresh database.
 *
 *   node dist/bench/postgres.js [--tasks 100000] [--rounds 3]
 */
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { Config, MonitoringHub, ThreadPoolExecutor, load, tsApp } from "../src/index.js";

const noop = tsApp(function noop() { return 7; });
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

export function benchPgAdminUrl(): string {
  return process.env["PARSL_TS_TEST_PG"] ??
    execFileSync("bash", [path.join(ROOT, "scripts/postgres/start-server.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
}

async function admin(url: string, text: string): Promise<Record<string, unknown>[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text)).rows as Record<string, unknown>[];
  } finally {
    await c.end();
  }
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = "/" + db;
  return u.toString();
}

type Target = "none" | "sqlite" | "postgresql";

async function once(n: number, target: Target, adminUrl: string): Promise<{ perSecond: number; rows: number }> {
  const runDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "parsl-ts-bench-pg-")), "runinfo");
  let endpoint: string | undefined;
  let dbName = "";
  if (target === "postgresql") {
    dbName = `parsl_bench_${crypto.randomBytes(4).toString("hex")}`;
    await admin(adminUrl, `CREATE DATABASE "${dbName}"`);
    endpoint = withDatabase(adminUrl, dbName);
  }
  const dfk = await load(new Config({
    executors: [new ThreadPoolExecutor({ label: "threads", maxThreads: 2 })],
    monitoring: target === "none" ? null : new MonitoringHub({ resourceMonitoringInterval: 0, ...(endpoint ? { loggingEndpoint: endpoint } : {}) }),
    runDir, handleSignals: false, summary: false,
  }));
  await Promise.all(Array.from({ length: 2000 }, () => noop()));
  const t0 = performance.now();
  const futures = new Array(n);
  for (let i = 0; i < n; i++) futures[i] = noop();
  await Promise.all(futures);
  await dfk.cleanup();
  const seconds = (performance.now() - t0) / 1000;
  let rows = 0;
  if (target === "postgresql") {
    const r = await admin(endpoint!, `SELECT (SELECT COUNT(*) FROM task) + (SELECT COUNT(*) FROM try) + (SELECT COUNT(*) FROM status) AS n`);
    rows = Number(r[0]!["n"]);
    await admin(adminUrl, `DROP DATABASE "${dbName}" WITH (FORCE)`);
  } else if (target === "sqlite") {
    const Database = (await import("better-sqlite3")).default;
    const db = new Database(path.join(runDir, "monitoring.db"), { readonly: true });
    rows = (db.prepare("SELECT (SELECT COUNT(*) FROM task) + (SELECT COUNT(*) FROM try) + (SELECT COUNT(*) FROM status) AS n").get() as { n: number }).n;
    db.close();
  }
  fs.rmSync(path.dirname(runDir), { recursive: true, force: true });
  const expected = (n + 2000) * 7; // task + try + 5 status rows per task
  if (target !== "none" && rows !== expected) throw new Error(`${target}: ${rows} rows committed, expected ${expected}`);
  return { perSecond: n / seconds, rows };
}

export async function benchPostgres(opts: { tasks: number; rounds: number; print: (s: string) => void }): Promise<Record<string, unknown>> {
  const adminUrl = benchPgAdminUrl();
  const version = (await admin(adminUrl, "SHOW server_version"))[0]!["server_version"];
  opts.print(`PostgreSQL ${String(version)} at ${new URL(adminUrl).host}; ${opts.tasks} no-op tasks, ThreadPoolExecutor(2), ${opts.rounds} alternated rounds`);
  const runs: Record<Target, number[]> = { none: [], sqlite: [], postgresql: [] };
  for (let r = 0; r < opts.rounds; r++) {
    for (const target of ["none", "sqlite", "postgresql"] as const) {
      const { perSecond } = await once(opts.tasks, target, adminUrl);
      runs[target].push(perSecond);
      opts.print(`  round ${r + 1} ${target.padEnd(10)} ${perSecond.toFixed(0)} tasks/s until every row is committed`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const out = {
    tasks: opts.tasks,
    unmonitoredPerSecond: median(runs.none),
    sqlitePerSecond: median(runs.sqlite),
    postgresPerSecond: median(runs.postgresql),
    postgresCostMicrosPerTask: 1e6 / median(runs.postgresql) - 1e6 / median(runs.none),
    sqliteCostMicrosPerTask: 1e6 / median(runs.sqlite) - 1e6 / median(runs.none),
  };
  opts.print(`postgres: medians — unmonitored ${out.unmonitoredPerSecond.toFixed(0)}/s, SQLite ${out.sqlitePerSecond.toFixed(0)}/s, ` +
    `PostgreSQL ${out.postgresPerSecond.toFixed(0)}/s end to end (monitoring cost ${out.sqliteCostMicrosPerTask.toFixed(1)} / ${out.postgresCostMicrosPerTask.toFixed(1)} µs/task)`);
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name: string, dflt: number): number => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : dflt;
  };
  await benchPostgres({ tasks: arg("--tasks", 100_000), rounds: arg("--rounds", 3), print: (s) => console.log(s) });
}
