/**
 * Visualizer benchmark: builds a synthetic monitoring database with the real schema
 * (src/database/schema.ts: Parsl's tables, parsl-ts extra columns and INDEXES), serves it with
 * the visualizer, and measures p50/p95 latency of every API endpoint and the time until every
 * page is usable in Chromium.
 *
 *   node dist/bench/visualizer.js [--tasks 1000000] [--keep DIR] [--db existing.db] [--reps 20] [--pg ADMIN_URL | --pg auto] [--no-pages]
 *
 * With --pg the same runs are copied (database/copy.ts) into the PostgreSQL database
 * `parsl_bench_viz_<tasks>` of that server (reused when it already holds them; `auto` starts or
 * reuses scripts/postgres/start-server.sh's server) and the visualizer is measured on it.
 *
 * `createSyntheticDb` is also used by the tests (with a few hundred tasks).
 */
import { benchPgAdminUrl, ensureBenchDatabase } from "./pgServer.js";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import Database from "better-sqlite3";
import { INDEXES, TABLES, type Table } from "../src/database/schema.js";
import { PAGE_SIZE } from "../src/database/sqlite/store.js";
import pg from "pg";
import { copyDatabase } from "../src/database/copy.js";
import { describeEndpoint, parseEndpoint } from "../src/database/endpoint.js";
import { startVisualizer } from "../src/visualizer/index.js";
import { msToNaive, naiveNowMs } from "../src/visualizer/timefmt.js";

function tableDdl(t: Table): string {
  const cols = t.columns.map(
    (c) => `\t${c.name === "user" ? '"user"' : c.name} ${c.type}${c.notNull ? " NOT NULL" : ""}`,
  );
  cols.push(`\tPRIMARY KEY (${t.primaryKey.join(", ")})`);
  if (t.foreignKeyRunId) cols.push("\tFOREIGN KEY(run_id) REFERENCES workflow (run_id)");
  return `CREATE TABLE "${t.name}" (\n${cols.join(", \n")}\n)`;
}

export function createSchema(db: Database.Database, withIndexes = true): void {
  for (const t of TABLES) db.exec(tableDdl(t));
  if (withIndexes) createIndexes(db);
}

export function createIndexes(db: Database.Database): void {
  for (const ix of INDEXES)
    db.exec(`CREATE INDEX IF NOT EXISTS ${ix.name} ON "${ix.table}" (${ix.columns.join(", ")})`);
}

export interface SyntheticOptions {
  tasks: number;
  /** Start of the run on the naive clock (ms); default: now minus the run's length, so it looks recent. */
  startMs?: number;
  runId?: string;
  workflowName?: string;
  runStatus?: string | null;
  /** Leave time_completed NULL (a live or crashed run). */
  unfinished?: boolean;
}

/** Small deterministic PRNG so runs of the benchmark are comparable. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

const APPS = ["prepare", "simulate", "analyse", "reduce", "plot", "fetch_input", "train", "score"];

/**
 * Writes one run with `tasks` tasks: ~3% fail once then succeed, ~1% fail three times,
 * a few dep_fail; 5 status rows per successful try; one resource row per try of half the apps;
 * node and block event rows. Returns the run id.
 */
export function createSyntheticDb(file: string, opts: SyntheticOptions): string {
  const db = new Database(file);
  db.pragma(`page_size = ${PAGE_SIZE}`); // as the writer creates them (a no-op on an existing file)
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = OFF");
  db.pragma("foreign_keys = OFF"); // the workflow row is written last, once its counts are known
  const fresh =
    (db.prepare(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'workflow'`).pluck().get() as number) === 0;
  if (fresh) createSchema(db, false);
  const rand = rng(opts.tasks + 17);
  const runId = opts.runId ?? `bench-${opts.tasks}-${Math.floor(rand() * 1e9).toString(16)}`;
  const perSec = Math.max(1, opts.tasks / 3600); // the whole run spans about an hour
  const spanMs = (opts.tasks / perSec) * 1000 + 120_000;
  const start = opts.startMs ?? naiveNowMs() - spanMs - 60_000;
  const ts = (ms: number): string => msToNaive(Math.round(ms * 1000) / 1000);
  // Columns named: the tables have more nullable extras than these synthetic rows fill.
  const insTask =
    db.prepare(`INSERT INTO task (task_id, run_id, task_depends, task_func_name, task_memoize, task_hashsum, task_inputs,
    task_outputs, task_stdin, task_stdout, task_stderr, task_time_invoked, task_time_returned, task_fail_count, task_fail_cost,
    task_lineage_hash, task_latest_status) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`);
  const insTry =
    db.prepare(`INSERT INTO try (try_id, task_id, run_id, block_id, hostname, task_executor, task_try_time_launched,
    task_try_time_running, task_try_time_returned, task_fail_history, task_joins) VALUES (?,?,?,?,?,?,?,?,?,?,?)`);
  const insStatus = db.prepare(`INSERT INTO status VALUES (?,?,?,?,?)`);
  const insRes = db.prepare(`INSERT INTO resource VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`);
  let completed = 0;
  let failed = 0;
  let lastMs = start;
  const write = db.transaction(() => {
    for (let id = 0; id < opts.tasks; id++) {
      const app = APPS[id % APPS.length]!;
      const executor = id % 2 === 0 ? "htex" : "threads";
      const invoked = start + (id / perSec) * 1000;
      const deps: number[] = [];
      if (id >= 8 && id % 4 !== 0) deps.push(id - 1 - (id % 7));
      if (id >= 100 && id % 10 === 3) deps.push(id - 50);
      const r = rand();
      const depFail = deps.length > 0 && r < 0.003;
      const tries = depFail ? 1 : r < 0.01 ? 3 : r < 0.04 ? 2 : 1;
      const finalFail = !depFail && r < 0.01;
      let t = invoked;
      insStatus.run(id, "pending", ts(t), runId, 0);
      let failCount = 0;
      for (let k = 0; k < tries && !depFail; k++) {
        if (k > 0) {
          t += 5;
          insStatus.run(id, "pending", ts(t), runId, k);
        }
        const launched = t + 2 + rand() * 50;
        const running = launched + 5 + rand() * 500;
        const runFor = 1000 + rand() * 30_000;
        const ended = running + runFor;
        const returned = ended + 3;
        const ok = k === tries - 1 && !finalFail;
        insStatus.run(id, "launched", ts(launched), runId, k);
        insStatus.run(id, "running", ts(running), runId, k);
        insStatus.run(id, "running_ended", ts(ended), runId, k);
        insStatus.run(id, ok ? "exec_done" : k === tries - 1 ? "failed" : "fail_retryable", ts(returned), runId, k);
        if (!ok) failCount++;
        insTry.run(
          k,
          id,
          runId,
          executor === "htex" ? String(id % 10) : null,
          executor === "htex" ? `node${id % 50}` : null,
          executor,
          ts(launched),
          ts(running),
          ts(returned),
          ok ? "" : `ValueError('synthetic failure ${k}')`,
          null,
        );
        if (executor === "htex") {
          const rss = 5e7 + rand() * 4e8;
          insRes.run(
            k,
            id,
            runId,
            ts(running + runFor / 2),
            1.0,
            10_000 + (id % 50_000),
            0.5,
            1,
            (runFor / 2000) * rand(),
            0.05,
            rss * 2,
            rss,
            1e6 * rand(),
            1e5 * rand(),
            "running",
            String(id % 8),
            10,
            5,
          );
        }
        t = returned;
      }
      if (depFail) {
        t += 1;
        insStatus.run(id, "dep_fail", ts(t), runId, 0);
      }
      const final = depFail ? "dep_fail" : finalFail ? "failed" : "exec_done";
      if (final === "exec_done") completed++;
      else if (final === "failed") failed++;
      if (t > lastMs) lastMs = t;
      insTask.run(
        id,
        runId,
        deps.join(","),
        app,
        "0",
        null,
        "None",
        "None",
        null,
        "",
        "",
        ts(invoked),
        ts(t),
        failCount,
        failCount,
        null,
        final,
      );
    }
    const insNode =
      db.prepare(`INSERT INTO node (run_id, hostname, uid, block_id, cpu_count, total_memory, active, worker_count, python_v, timestamp, last_heartbeat)
      VALUES (?,?,?,?,?,?,?,?,?,?,?)`);
    for (let n = 0; n < 50; n++) {
      for (let e = 0; e < 20; e++) {
        const at = start + (e / 20) * (lastMs - start);
        insNode.run(
          runId,
          `node${n}`,
          `uid${n.toString(16).padStart(10, "0")}`,
          String(n % 10),
          8,
          32 * 1024 ** 3,
          e === 19 ? 0 : 1,
          8,
          "3.11.2",
          ts(at),
          ts(at),
        );
      }
    }
    const insBlock = db.prepare(`INSERT INTO block VALUES (?,?,?,?,?,?)`);
    for (let b = 0; b < 10; b++) {
      insBlock.run(runId, "htex", String(b), String(1000 + b), ts(start + b * 10), "PENDING");
      insBlock.run(runId, "htex", String(b), String(1000 + b), ts(start + b * 10 + 5000), "RUNNING");
      if (!opts.unfinished) insBlock.run(runId, "htex", String(b), String(1000 + b), ts(lastMs), "SCALED_IN");
    }
    db.prepare(
      `INSERT INTO workflow (run_id, workflow_name, workflow_version, time_began, time_completed, host, "user", rundir,
      tasks_failed_count, tasks_completed_count, run_status, last_heartbeat) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
    ).run(
      runId,
      opts.workflowName ?? "synthetic",
      ts(start).slice(0, 19),
      ts(start),
      opts.unfinished ? null : ts(lastMs + 100),
      "benchhost",
      "bench",
      `/tmp/runinfo/${runId}`,
      failed,
      completed,
      opts.runStatus === undefined ? (opts.unfinished ? "running" : "completed") : opts.runStatus,
      ts(opts.unfinished ? naiveNowMs() : lastMs + 100),
    );
  });
  write();
  createIndexes(db);
  db.pragma("journal_mode = DELETE");
  db.close();
  return runId;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export interface BenchOptions {
  tasks?: number;
  reps?: number;
  db?: string;
  keepDir?: string;
  /** Measure on PostgreSQL: the admin URL of a server (the runs are copied into a database there). */
  pg?: string;
  /** Skip the Chromium page timings. */
  noPages?: boolean;
  log?: (line: string) => void;
}

export interface BenchResult {
  dialect: "sqlite" | "postgresql";
  /** Seconds the copy into PostgreSQL took (null: reused, or SQLite). */
  copyS: number | null;
  tasks: number;
  dbBytes: number;
  generateS: number | null;
  api: { endpoint: string; coldMs: number; p50Ms: number; p95Ms: number; bytes: number }[];
  pages: { page: string; usableMs: number; completeMs: number; firstVisitUsableMs: number }[];
}

export async function benchVisualizer(opts: BenchOptions = {}): Promise<BenchResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const tasks = opts.tasks ?? 1_000_000;
  const reps = opts.reps ?? 20;
  let dir: string | null = null;
  let file = opts.db;
  let generateS: number | null = null;
  if (!file) {
    dir = opts.keepDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "viz-bench-"));
    fs.mkdirSync(dir, { recursive: true });
    file = path.join(dir, "monitoring.db");
    if (fs.existsSync(file)) fs.rmSync(file);
    log(`generating ${tasks.toLocaleString("en-US")} tasks into ${file} …`);
    const t0 = performance.now();
    try {
      createSyntheticDb(file, { tasks, workflowName: "synthetic" });
      createSyntheticDb(file, {
        tasks: Math.min(2000, tasks),
        workflowName: "synthetic",
        runId: "bench-small-previous",
      });
    } catch (e) {
      if (!opts.keepDir) fs.rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    generateS = (performance.now() - t0) / 1000;
    log(`generated in ${generateS.toFixed(1)} s`);
  }
  const dbBytes = fs.statSync(file).size;
  const probe = new Database(file, { readonly: true });
  const runId = probe
    .prepare(
      `SELECT w.run_id FROM workflow w ORDER BY (SELECT COUNT(*) FROM task t WHERE t.run_id = w.run_id) DESC LIMIT 1`,
    )
    .pluck()
    .get() as string;
  const taskCount = probe.prepare(`SELECT COUNT(*) FROM task WHERE run_id = ?`).pluck().get(runId) as number;
  const app = probe.prepare(`SELECT task_func_name FROM task WHERE run_id = ? LIMIT 1`).pluck().get(runId) as string;
  probe.close();
  const mid = Math.floor(taskCount / 2);
  let served = file;
  let copyS: number | null = null;
  if (opts.pg) {
    const name = `parsl_bench_viz_${tasks}`;
    served = (await ensureBenchDatabase(opts.pg, name)).url;
    const t0 = performance.now();
    const copied = await copyDatabase(file, served, { onProgress: () => undefined });
    if (copied.copied.length > 0) {
      copyS = (performance.now() - t0) / 1000;
      const rows = Object.values(copied.rows).reduce((a, b) => a + b, 0);
      log(
        `copied ${copied.copied.length} run(s), ${rows.toLocaleString("en-US")} rows, into ${describeEndpoint(parseEndpoint(served))} in ${copyS.toFixed(1)} s`,
      );
      const c2 = new pg.Client({ connectionString: served });
      await c2.connect();
      await c2.query("VACUUM ANALYZE"); // fresh statistics and visibility map, as autovacuum would leave them
      await c2.end();
    } else {
      log(`reusing ${describeEndpoint(parseEndpoint(served))} (it holds the runs already)`);
    }
  }
  let viz = await startVisualizer({ db: served, port: 0 });
  let base = viz.url.replace(/\/$/, "");
  const r = `/api/workflows/${encodeURIComponent(runId)}`;
  const endpoints = [
    "/api/workflows",
    "/api/changes",
    r,
    `${r}/changes`,
    `${r}/dag_window?from=${mid}&limit=300`,
    `${r}/dag_summary`,
    `${r}/tasks?limit=100`,
    `${r}/tasks?limit=100&offset=${mid}`,
    `${r}/tasks?app=${app}&limit=100&offset=${Math.floor(mid / 8)}`,
    `${r}/tasks?state=failed&limit=100`,
    `${r}/tasks/${mid}`,
    `${r}/gantt?rows=300`,
    `${r}/gantt?from=${mid}&to=${mid + 299}`,
    `${r}/tries`,
    `${r}/dag?from=0&limit=300`,
    `${r}/dag?from=${mid}&limit=300`,
    `${r}/resources`,
    `${r}/history`,
  ];
  const result: BenchResult = {
    dialect: opts.pg ? "postgresql" : "sqlite",
    copyS,
    tasks: taskCount,
    dbBytes,
    generateS,
    api: [],
    pages: [],
  };
  try {
    for (const ep of endpoints) {
      const times: number[] = [];
      let size = 0;
      let cold = 0;
      for (let i = 0; i < reps + 1; i++) {
        const t0 = performance.now();
        const res = await fetch(base + ep);
        const body = await res.arrayBuffer();
        const dt = performance.now() - t0;
        if (!res.ok) throw new Error(`${ep}: HTTP ${res.status} ${Buffer.from(body).toString().slice(0, 200)}`);
        size = body.byteLength;
        if (i === 0) cold = dt;
        else times.push(dt);
      }
      times.sort((a, b) => a - b);
      const row = {
        endpoint: ep.replace(runId, "<run>"),
        coldMs: cold,
        p50Ms: quantile(times, 0.5),
        p95Ms: quantile(times, 0.95),
        bytes: size,
      };
      result.api.push(row);
      log(
        `api  ${row.endpoint.padEnd(60)} cold ${cold.toFixed(0).padStart(6)} ms  p50 ${row.p50Ms.toFixed(1).padStart(7)} ms  p95 ${row.p95Ms.toFixed(1).padStart(7)} ms  ${(size / 1024).toFixed(1)} KiB`,
      );
    }
    if (opts.noPages) return result;
    // Pages are measured on a freshly started server, so first visits see cold caches (except the OS page cache).
    await viz.close();
    viz = await startVisualizer({ db: served, port: 0 });
    base = viz.url.replace(/\/$/, "");
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
      const w = `/workflow/${encodeURIComponent(runId)}`;
      const pages = [
        "/",
        `${w}/`,
        `${w}/task/`,
        `${w}/app/${app}`,
        `${w}/task/${mid}`,
        `${w}/dag_group_by_apps`,
        `${w}/dag_group_by_states`,
        `${w}/resource_usage`,
      ];
      for (const p of pages) {
        // "usable": the page's main content is drawn (body[data-ready]); "complete": whole-run charts too.
        const usable: number[] = [];
        const complete: number[] = [];
        for (let i = 0; i < 3; i++) {
          const t0 = performance.now();
          await page.goto(base + p);
          await page.waitForSelector("body[data-ready='1']", { timeout: 60_000 });
          usable.push(performance.now() - t0);
          await page.waitForSelector("body[data-complete='1']", { timeout: 120_000 });
          complete.push(performance.now() - t0);
        }
        const row = {
          page: p.replace(runId, "<run>"),
          usableMs: Math.max(...usable.slice(1)),
          completeMs: Math.max(...complete.slice(1)),
          firstVisitUsableMs: usable[0]!,
        };
        result.pages.push(row);
        log(
          `page ${row.page.padEnd(60)} usable ${row.usableMs.toFixed(0).padStart(5)} ms  complete ${row.completeMs.toFixed(0).padStart(5)} ms  (first visit: usable ${usable[0]!.toFixed(0)} ms, complete ${complete[0]!.toFixed(0)} ms)`,
        );
      }
    } finally {
      await browser.close();
    }
  } finally {
    await viz.close();
    if (dir && !opts.keepDir) fs.rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const get = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const opts: BenchOptions = { tasks: Number(get("--tasks") ?? 1_000_000), reps: Number(get("--reps") ?? 20) };
  const db = get("--db");
  const keep = get("--keep");
  if (db) opts.db = db;
  if (keep) opts.keepDir = keep;
  const pgArg = get("--pg");
  if (pgArg) opts.pg = pgArg === "auto" ? benchPgAdminUrl() : pgArg;
  if (args.includes("--no-pages")) opts.noPages = true;
  const res = await benchVisualizer(opts);
  console.log(JSON.stringify(res, null, 1));
}

if (process.argv[1] && import.meta.url === new URL(`file://${path.resolve(process.argv[1])}`).href) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
