/**
 * Benchmarks of `parsl-ts report`, `parsl-ts watch` and Config.progress:
 *  - report: time, HTML size and memory growth for a run of the synthetic database
 *    (bench/visualizer.ts createSyntheticDb; 1,000,000 tasks by default);
 *  - watch: the cost of one idle poll (the change token) and of one refresh (status, per-app
 *    counts, latest failures) on the same database;
 *  - progress: no-op task throughput with Config.progress on and off, alternately in one process
 *    (the ratio is the figure), and the cost of drawing one terminal view.
 *
 *   node dist/bench/watchReport.js [--tasks 1000000] [--db existing.db] [--progress-tasks 50000]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Config, load, ThreadPoolExecutor, tsApp } from "../src/index.js";
import { openMonitoringDb } from "../src/database/queries/index.js";
import { renderReport } from "../src/report/html.js";
import { gatherReport } from "../src/report/data.js";
import { renderBlock, type ProgressSnapshot } from "../src/progress/render.js";
import { createIndexes, createSyntheticDb } from "./visualizer.js";
import Database from "better-sqlite3";

const noop = tsApp(function noop() {
  return 7;
});

export interface ReportBench {
  tasks: number;
  seconds: number;
  bytes: number;
  rssGrowthMiB: number;
  timings: Record<string, number>;
  watchIdlePollMs: number;
  watchRefreshMs: number;
}

/** Builds (or reuses) the synthetic database and times the report and watch's polls on it. */
export async function benchReport(opts: {
  tasks: number;
  db?: string;
  keepDir?: string;
  log?: (s: string) => void;
}): Promise<ReportBench> {
  const log = opts.log ?? (() => {});
  let file = opts.db;
  if (!file) {
    const dir = opts.keepDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "parsl-ts-bench-report-"));
    file = path.join(dir, `report-${opts.tasks}.db`);
    if (!fs.existsSync(file)) {
      log(`building a ${opts.tasks}-task synthetic database in ${file}`);
      createSyntheticDb(file, { tasks: opts.tasks });
      const db = new Database(file);
      createIndexes(db);
      db.close();
    }
  }
  const db = await openMonitoringDb(file);
  try {
    const run = await db.resolveRun();
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    const t0 = performance.now();
    const data = await gatherReport(db, run.run_id);
    const html = renderReport(data);
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    const bytes = Buffer.byteLength(html);
    log(
      `report: ${data.summary.task_count} tasks → ${(bytes / 1024).toFixed(0)} KiB in ${seconds.toFixed(1)} s, RSS +${((peak - rss0) / 2 ** 20).toFixed(0)} MiB; ` +
        `parts (ms): ${Object.entries(data.timings)
          .map(([k, v]) => `${k} ${v}`)
          .join(", ")}`,
    );
    // watch: an idle poll reads only the change token; a refresh reads status, counts and failures.
    const reps = 20;
    let t = performance.now();
    for (let i = 0; i < reps; i++) await db.changeToken();
    const idle = (performance.now() - t) / reps;
    t = performance.now();
    for (let i = 0; i < 5; i++) {
      await db.runStatus(run.run_id);
      await db.appStateCounts(run.run_id);
      await db.latestFailures(run.run_id, 3);
    }
    const refresh = (performance.now() - t) / 5;
    log(`watch: idle poll ${idle.toFixed(2)} ms, refresh ${refresh.toFixed(0)} ms`);
    return {
      tasks: data.summary.task_count,
      seconds,
      bytes,
      rssGrowthMiB: (peak - rss0) / 2 ** 20,
      timings: data.timings,
      watchIdlePollMs: idle,
      watchRefreshMs: refresh,
    };
  } finally {
    await db.close();
  }
}

async function noopRun(n: number, progress: boolean): Promise<number> {
  const dfk = await load(
    new Config({
      executors: [new ThreadPoolExecutor({ label: "threads", maxThreads: 2 })],
      runDir: path.join(fs.mkdtempSync(path.join(os.tmpdir(), "parsl-ts-bench-")), "runinfo"),
      handleSignals: false,
      summary: false,
      progress,
    }),
  );
  await Promise.all(Array.from({ length: 2000 }, () => noop()));
  const t0 = performance.now();
  const fs_ = new Array(n);
  for (let i = 0; i < n; i++) fs_[i] = noop();
  await Promise.all(fs_);
  const rate = n / ((performance.now() - t0) / 1000);
  await dfk.cleanup();
  return rate;
}

export interface ProgressBench {
  tasks: number;
  offPerSecond: number[];
  onPerSecond: number[];
  /** Median on / median off. */
  ratio: number;
  renderMicros: number;
}

/** Config.progress on vs off on no-op tasks, alternately (stderr as the bench runs it: a terminal or not). */
export async function benchProgress(
  n: number,
  rounds = 3,
  log: (s: string) => void = () => {},
): Promise<ProgressBench> {
  const off: number[] = [];
  const on: number[] = [];
  for (let i = 0; i < rounds; i++) {
    off.push(await noopRun(n, false));
    on.push(await noopRun(n, true));
  }
  const med = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  const snap: ProgressSnapshot = {
    title: "run 12345678 (bench)",
    status: "running",
    elapsed_s: 100,
    rate: 1234.5,
    apps: Array.from({ length: 10 }, (_, i) => ({
      name: `app_${i}`,
      pending: 1000 * i,
      launched: 10,
      running: 20,
      done: 5000,
      failed: i,
    })),
    failures: [{ task_id: 1, app: "app_1", error: "ValueError: boom" }],
  };
  const reps = 2000;
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) renderBlock(snap, { width: 120, color: true });
  const renderMicros = ((performance.now() - t0) * 1000) / reps;
  const ratio = med(on) / med(off);
  log(
    `progress: ${n} no-op tasks, off ${off.map((x) => x.toFixed(0)).join("/")} tasks/s, on ${on.map((x) => x.toFixed(0)).join("/")} tasks/s ` +
      `(stderr ${process.stderr.isTTY ? "a terminal" : "not a terminal"}): ratio on/off ${ratio.toFixed(3)}; one 10-app terminal view ${renderMicros.toFixed(0)} µs`,
  );
  return { tasks: n, offPerSecond: off, onPerSecond: on, ratio, renderMicros };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const get = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const db = get("--db");
  const report = await benchReport({
    tasks: Number(get("--tasks") ?? 1_000_000),
    ...(db ? { db } : {}),
    log: console.log,
  });
  const progress = await benchProgress(Number(get("--progress-tasks") ?? 50_000), 3, console.log);
  console.log(JSON.stringify({ report, progress }, null, 1));
}

if (process.argv[1] && import.meta.url === new URL(`file://${path.resolve(process.argv[1])}`).href) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
