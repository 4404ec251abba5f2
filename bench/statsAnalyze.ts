/**
 * Benchmark of `parsl-ts stats` and `parsl-ts analyze` on a synthetic 1,000,000-task run
 * (bench/visualizer.ts createSyntheticDb: ~1% failed after 3 tries, ~3% retried, ~0.2% dep_fail).
 * Each measurement opens the database afresh, as the command does: query time = open + query;
 * CLI time = the real command end to end (node start-up included). The run summary the
 * visualizer serves is measured alongside as a reference for this machine's load.
 *
 *   node dist/bench/statsAnalyze.js [--tasks 1000000] [--db existing.db] [--reps 7] [--pg ADMIN_URL | --pg auto]
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { copyDatabase } from "../src/database/copy.js";
import { openMonitoringDb, type MonitoringDb } from "../src/database/queries/index.js";
import { createSyntheticDb } from "./visualizer.js";
import { benchPgAdminUrl, ensureBenchDatabase } from "./pgServer.js";

const CLI = fileURLToPath(new URL("../src/cli/parsl-ts.cjs", import.meta.url));

export interface StatsBenchOptions {
  tasks?: number;
  db?: string;
  reps?: number;
  /** Admin URL of a PostgreSQL server: the run is copied into `parsl_bench_queries_<tasks>` there (reused when present). */
  pg?: string;
  log?: (line: string) => void;
}

export interface StatsBenchResult {
  dialect: "sqlite" | "postgresql";
  tasks: number;
  queries: { name: string; firstMs: number; p50Ms: number; maxMs: number }[];
  cli: { name: string; p50Ms: number }[];
  sampleStep: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function pgCopy(file: string, adminUrl: string, tasks: number, log: (l: string) => void): Promise<string> {
  const name = `parsl_bench_queries_${tasks}`;
  const admin = new URL((await ensureBenchDatabase(adminUrl, name)).url);
  const t0 = performance.now();
  const copied = await copyDatabase(file, admin.toString(), { onProgress: () => undefined });
  if (copied.copied.length > 0) {
    log(`copied into ${name} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const c2 = new pg.Client({ connectionString: admin.toString() });
    await c2.connect();
    await c2.query("VACUUM ANALYZE");
    await c2.end();
  }
  return admin.toString();
}

export async function benchStatsAnalyze(opts: StatsBenchOptions = {}): Promise<StatsBenchResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const tasks = opts.tasks ?? 1_000_000;
  const reps = opts.reps ?? 7;
  let dir: string | null = null;
  let file = opts.db;
  if (!file) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "stats-bench-"));
    file = path.join(dir, "monitoring.db");
    const t0 = performance.now();
    createSyntheticDb(file, { tasks });
    log(`generated ${tasks} tasks in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  try {
    const endpoint = opts.pg ? await pgCopy(file, opts.pg, tasks, log) : file;
    const probe = await openMonitoringDb(endpoint);
    const runId = (await probe.resolveRun()).run_id;
    await probe.close();
    const cases: [string, (db: MonitoringDb) => Promise<unknown>][] = [
      ["reference: run summary (visualizer)", (db) => db.workflowSummary(runId)],
      ["stats (by app)", (db) => db.runStats(runId)],
      ["stats --by hour", (db) => db.runStats(runId, { by: "hour" })],
      ["stats --by host", (db) => db.runStats(runId, { by: "host" })],
      ["analyze", (db) => db.analyzeRun(runId)],
    ];
    const queries: StatsBenchResult["queries"] = [];
    let sampleStep = 1;
    for (const [name, f] of cases) {
      const times: number[] = [];
      for (let i = 0; i < reps; i++) {
        const t0 = performance.now();
        const db = await openMonitoringDb(endpoint);
        const r = await f(db);
        times.push(performance.now() - t0);
        await db.close();
        if (name === "stats (by app)") sampleStep = (r as { sample_step: number }).sample_step;
      }
      const q = { name, firstMs: times[0]!, p50Ms: median(times), maxMs: Math.max(...times) };
      queries.push(q);
      log(
        `${name.padEnd(38)} first ${q.firstMs.toFixed(0).padStart(6)} ms   p50 ${q.p50Ms.toFixed(0).padStart(6)} ms   max ${q.maxMs.toFixed(0).padStart(6)} ms`,
      );
    }
    const cli: StatsBenchResult["cli"] = [];
    for (const [name, args] of [
      ["node --version (start-up only)", null],
      ["parsl-ts stats", ["stats"]],
      ["parsl-ts analyze", ["analyze"]],
    ] as const) {
      const times: number[] = [];
      for (let i = 0; i < Math.min(reps, 5); i++) {
        const t0 = performance.now();
        const r =
          args === null
            ? spawnSync(process.execPath, ["-e", ""])
            : spawnSync(process.execPath, [CLI, ...args, "--db", endpoint], { encoding: "utf8" });
        times.push(performance.now() - t0);
        if (r.status !== 0 && !(args?.[0] === "analyze" && r.status === 1))
          throw new Error(`${name} exited ${r.status}: ${String(r.stderr)}`);
      }
      cli.push({ name, p50Ms: median(times) });
      log(`CLI ${name.padEnd(34)} p50 ${median(times).toFixed(0).padStart(6)} ms`);
    }
    return { dialect: opts.pg ? "postgresql" : "sqlite", tasks, queries, cli, sampleStep };
  } finally {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const get = (n: string): string | undefined => (args.includes(n) ? args[args.indexOf(n) + 1] : undefined);
  const pgArg = get("--pg");
  const opts: StatsBenchOptions = { tasks: Number(get("--tasks") ?? 1_000_000), reps: Number(get("--reps") ?? 7) };
  if (get("--db")) opts.db = get("--db")!;
  if (pgArg) opts.pg = pgArg === "auto" ? benchPgAdminUrl() : pgArg;
  await benchStatsAnalyze(opts);
}
