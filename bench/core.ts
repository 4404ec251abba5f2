/**
 * Core benchmarks (issue: core): no-op task throughput on ThreadPoolExecutor with and
 * without monitoring (measured alternately in one process, so they share the machine's
 * noise), the per-task cost of monitoring, single-task latency, and a 1,000,000-task
 * monitored run with its row counts and peak memory.
 *
 *   node dist/bench/core.js [--tasks 100000] [--million 1000000]
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { Config, MonitoringHub, ThreadPoolExecutor, load, tsApp } from "../src/index.js";

const noop = tsApp(function noop() {
  return 7;
});

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "parsl-ts-bench-"));
}

function config(runDir: string, monitored: boolean): Config {
  return new Config({
    executors: [new ThreadPoolExecutor({ label: "threads", maxThreads: 2 })],
    monitoring: monitored ? new MonitoringHub({ resourceMonitoringInterval: 1 }) : null,
    runDir,
    handleSignals: false,
  });
}

/** Tasks/s for n no-op tasks (first submit → all futures done), and the time until cleanup has flushed everything. */
export async function throughput(
  n: number,
  monitored: boolean,
): Promise<{ tasksPerSecond: number; withCleanupPerSecond: number; steadyPerSecond: number }> {
  const dfk = await load(config(path.join(tmp(), "runinfo"), monitored));
  // Warm up threads and compiled code.
  await Promise.all(Array.from({ length: 2000 }, () => noop()));
  const t0 = performance.now();
  const fs_ = new Array(n);
  for (let i = 0; i < n; i++) fs_[i] = noop();
  // Also the steady-state rate between the 20% and 80% marks (tasks finish in submission order).
  const from = Math.floor(n * 0.2);
  const to = Math.floor(n * 0.8);
  let tFrom = t0;
  let tTo = t0;
  for (let i = 0; i < n; i++) {
    await fs_[i];
    if (i === from) tFrom = performance.now();
    else if (i === to) tTo = performance.now();
  }
  const t1 = performance.now();
  await dfk.cleanup();
  const t2 = performance.now();
  return {
    tasksPerSecond: n / ((t1 - t0) / 1000),
    withCleanupPerSecond: n / ((t2 - t0) / 1000),
    steadyPerSecond: (to - from) / ((tTo - tFrom) / 1000),
  };
}

export async function latency(samples: number): Promise<{ p50Ms: number; p99Ms: number }> {
  const dfk = await load(config(path.join(tmp(), "runinfo"), true));
  const ts: number[] = [];
  for (let i = 0; i < 50; i++) await noop();
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await noop();
    ts.push(performance.now() - t0);
  }
  await dfk.cleanup();
  ts.sort((a, b) => a - b);
  return { p50Ms: ts[Math.floor(samples * 0.5)]!, p99Ms: ts[Math.floor(samples * 0.99)]! };
}

/** Runs n no-op tasks in waves of 20,000 (as a long workflow would); returns the kernel's peak heap. */
async function inWaves(n: number): Promise<number> {
  let peakHeap = 0;
  const wave = 20_000;
  for (let done = 0; done < n; done += wave) {
    const fs_ = new Array(Math.min(wave, n - done));
    for (let i = 0; i < fs_.length; i++) fs_[i] = noop();
    for (const f of fs_) await f;
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  }
  return peakHeap;
}

/**
 * A workflow while another program holds the database locked for `lockSeconds`: how long until
 * every future is done (the workflow's own pace: monitoring must not hold it), how long until
 * cleanup has stored everything, and the kernel's peak heap meanwhile.
 */
export async function underLock(
  n: number,
  lockSeconds: number,
): Promise<{ workflowSeconds: number; untilStoredSeconds: number; peakHeapMiB: number }> {
  const runDir = path.join(tmp(), "runinfo");
  const dfk = await load(config(runDir, true));
  await noop(); // the database exists
  const locker = new Database(path.join(runDir, "monitoring.db"));
  locker.exec("BEGIN EXCLUSIVE");
  const released = new Promise<void>((r) =>
    setTimeout(() => {
      locker.exec("ROLLBACK");
      locker.close();
      r();
    }, lockSeconds * 1000),
  );
  const t0 = performance.now();
  const peakHeap = await inWaves(n);
  const t1 = performance.now();
  await released;
  await dfk.cleanup();
  const t2 = performance.now();
  return { workflowSeconds: (t1 - t0) / 1000, untilStoredSeconds: (t2 - t0) / 1000, peakHeapMiB: peakHeap / 2 ** 20 };
}

/** The million-task run happens in a child process so its peak RSS is its own. */
export async function million(n: number): Promise<Record<string, number>> {
  const dir = tmp();
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--child-million", String(n), dir], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  const code = await new Promise<number>((r) => child.on("exit", (c) => r(c ?? 1)));
  if (code !== 0) throw new Error(`million-task child exited with ${code}`);
  const result = JSON.parse(out.trim().split("\n").pop()!) as Record<string, number>;
  const db = new Database(path.join(dir, "runinfo", "monitoring.db"), { readonly: true });
  const c = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
  result.taskRows = c("SELECT COUNT(*) AS n FROM task");
  result.tryRows = c("SELECT COUNT(*) AS n FROM try");
  result.statusRows = c("SELECT COUNT(*) AS n FROM status");
  result.execDoneTasks = c("SELECT COUNT(*) AS n FROM task WHERE task_latest_status = 'exec_done'");
  db.close();
  result.dbMiB = fs.statSync(path.join(dir, "runinfo", "monitoring.db")).size / 1048576;
  fs.rmSync(dir, { recursive: true, force: true });
  return result;
}

async function childMillion(n: number, dir: string): Promise<void> {
  const dfk = await load(config(path.join(dir, "runinfo"), true));
  const t0 = performance.now();
  const peakHeap = await inWaves(n);
  const t1 = performance.now();
  await dfk.cleanup();
  const t2 = performance.now();
  const maxRssMiB = process.resourceUsage().maxRSS / 1024;
  console.log(
    JSON.stringify({
      tasks: n,
      tasksPerSecond: n / ((t1 - t0) / 1000),
      secondsIncludingFlush: (t2 - t0) / 1000,
      kernelPeakRssMiB: maxRssMiB,
      kernelPeakHeapMiB: peakHeap / 1048576,
    }),
  );
}

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

export async function benchCore(opts: {
  tasks: number;
  million: number;
  lockedTasks: number;
  print: (s: string) => void;
}): Promise<Record<string, unknown>> {
  const { tasks, print } = opts;
  const runs: Array<{ mon: number; unmon: number; monFlush: number }> = [];
  for (let rep = 0; rep < 3; rep++) {
    const u = await throughput(tasks, false);
    const m = await throughput(tasks, true);
    runs.push({ mon: m.tasksPerSecond, unmon: u.tasksPerSecond, monFlush: m.withCleanupPerSecond });
    print(
      `  rep ${rep + 1}: unmonitored ${u.tasksPerSecond.toFixed(0)} tasks/s; monitored ${m.withCleanupPerSecond.toFixed(0)} tasks/s ` +
        `until every row is committed (futures done at ${m.tasksPerSecond.toFixed(0)}/s)`,
    );
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const mon = median(runs.map((r) => r.mon));
  const unmon = median(runs.map((r) => r.unmon));
  const monFlush = median(runs.map((r) => r.monFlush));
  // The headline: what a user waits for, until the run's rows are all committed, against the
  // unmonitored run of the same rep (ratios within one rep survive a noisy machine).
  const endToEndCostUs = median(runs.map((r) => (1 / r.monFlush - 1 / r.unmon) * 1e6));
  const kernelCostUs = median(runs.map((r) => (1 / r.mon - 1 / r.unmon) * 1e6));
  print(
    `threads, no-op, ${tasks} tasks: monitored ${monFlush.toFixed(0)} tasks/s end to end (every row committed), unmonitored ${unmon.toFixed(0)} tasks/s: ` +
      `monitoring costs ${endToEndCostUs.toFixed(1)} µs/task end to end; the workflow itself (futures done) ${mon.toFixed(0)} tasks/s, ${kernelCostUs.toFixed(1)} µs/task`,
  );
  const locked = opts.lockedTasks > 0 ? await underLock(opts.lockedTasks, 12) : null;
  if (locked) {
    print(
      `${opts.lockedTasks} tasks while another program holds the database locked for 12 s: workflow done in ${locked.workflowSeconds.toFixed(1)} s, ` +
        `everything stored ${locked.untilStoredSeconds.toFixed(1)} s after the start; kernel peak heap ${locked.peakHeapMiB.toFixed(0)} MiB`,
    );
  }
  const lat = await latency(1000);
  print(`single-task latency (threads, monitored): p50 ${lat.p50Ms.toFixed(3)} ms, p99 ${lat.p99Ms.toFixed(3)} ms`);
  let m: Record<string, number> | null = null;
  if (opts.million > 0) {
    m = await million(opts.million);
    print(
      `${opts.million} monitored tasks: ${m.tasksPerSecond!.toFixed(0)} tasks/s, ${m.secondsIncludingFlush!.toFixed(1)} s including flush; rows task=${m.taskRows} try=${m.tryRows} status=${m.statusRows}; kernel peak RSS ${m.kernelPeakRssMiB!.toFixed(0)} MiB (heap ${m.kernelPeakHeapMiB!.toFixed(0)} MiB); db ${m.dbMiB!.toFixed(0)} MiB`,
    );
  }
  return {
    monitoredEndToEndTasksPerSecond: monFlush,
    monitoringCostEndToEndMicros: endToEndCostUs,
    monitoredTasksPerSecond: mon,
    kernelMonitoringCostMicros: kernelCostUs,
    unmonitoredTasksPerSecond: unmon,
    underLock: locked,
    latency: lat,
    million: m,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === "--child-million") {
    await childMillion(Number(process.argv[3]), process.argv[4]!);
  } else {
    await benchCore({
      tasks: arg("--tasks", 100_000),
      million: arg("--million", 1_000_000),
      lockedTasks: arg("--locked", 300_000),
      print: console.log,
    });
  }
}
