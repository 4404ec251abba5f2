/**
 * HTEX at scale (issue 12): N simulated pools (bench/htexSimPools.ts: the real pool protocol,
 * no worker processes, many pools per process) connected to one interchange, driven by a real
 * DataFlowKernel with monitoring on (SQLite writer process). For each N it reports:
 *  - dispatch throughput: no-op tasks/s from the first submit to the last result (and with
 *    cleanup, i.e. until every row is in the database);
 *  - task latency p50/p99 (submit → future settled) under a paced load below saturation;
 *  - heartbeat round trips as the pools see them (pool heartbeat → interchange reply);
 *  - CPU of the kernel's process, which holds the interchange (its own thread when it runs
 *    in one), and of the pool processes, per second of the phase.
 *
 *   node dist/bench/htexScale.js [--pools 10,100,1000] [--workers 8|auto] [--tasks N] [--processes P]
 *                                [--heartbeat S] [--rate R] [--idle S] [--prof DIR]
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import Database from "better-sqlite3";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { HighThroughputExecutor } from "../src/executors/htex/executor.js";
import { Config, MonitoringHub, load, tsApp } from "../src/index.js";
import { LocalProvider } from "../src/providers/local.js";
import { writerCpuSeconds } from "./writerCpu.js";

export interface HtexScalePoint {
  pools: number;
  workersPerPool: number;
  workers: number;
  tasks: number;
  tasksPerSecond: number;
  withCleanupPerSecond: number;
  /** Paced load: the rate offered, and submit → result latency. */
  pacedRate: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  heartbeatsPerSecond: number;
  heartbeatP50Ms: number | null;
  heartbeatP99Ms: number | null;
  /** The kernel's thread during the paced load: its event loop's delay p99 and max, and its GC pauses. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  gcPauseTotalMs: number;
  gcPauseMaxMs: number;
  /**
   * Share of the paced phase the kernel's thread spent ready to run but waiting for a core
   * (Linux schedstat): the machine's contention, which no code of ours can shorten.
   */
  runQueueWaitShare: number;
  /** CPU of the kernel + interchange process during the throughput phase, in cores (1 = one core busy). */
  kernelCpuCores: number;
  /** The same CPU per task, µs: what the process costs a task, whatever share of the machine it got. */
  kernelCpuMicrosPerTask: number;
  /**
   * With --idle S: S seconds of connected, idle pools before any task. The CPU of the kernel's
   * process (its pool-server thread answers the heartbeats) and of the pool processes, in cores,
   * and the kernel process's CPU per heartbeat (pools / period heartbeats a second).
   */
  idle: { seconds: number; kernelCores: number; poolCores: number; kernelMicrosPerHeartbeat: number } | null;
  /** CPU of all simulated pool processes during the whole run, in core-seconds. */
  poolCpuSeconds: number;
  /** Their time ready to run but waiting for a core, in seconds (summed over the processes). */
  poolWaitSeconds: number;
  /**
   * Whole run (start-up, warm-up, both phases, cleanup), CPU µs per try row of each process: the
   * kernel's (kernel, interchange, pool-server thread), the database writer's, the simulated
   * pools'. Their sum is what a task costs the machine; on 2 cores, 2e6 / sum bounds the rate.
   */
  wholeRunMicrosPerTry: { kernel: number; writer: number | null; pools: number };
  /** Rows in the database after cleanup: every try's, and the pools' node rows. */
  tryRows: number;
  nodeRows: number;
}

const SIM = fileURLToPath(new URL("./htexSimPools.js", import.meta.url));

const noopApp = tsApp(function htexScaleNoop(x: number) {
  return x;
});

function pct(sorted: number[], q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
}
const r2 = (x: number): number => Math.round(x * 100) / 100;

async function waitUntil(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`htex-scale: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** This thread's total time ready to run but waiting for a core, ms (/proc/thread-self/schedstat; 0 where absent). */
function runQueueWaitMs(): number {
  try {
    return Number(readFileSync("/proc/thread-self/schedstat", "utf8").split(" ")[1]) / 1e6;
  } catch {
    return 0;
  }
}

/** A CPU profile of this thread (the kernel's, which runs the interchange) from now until save(). */
async function startProfile(): Promise<{ save(file: string): Promise<void> }> {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 200 });
  await session.post("Profiler.start");
  return {
    async save(file) {
      const { profile } = await session.post("Profiler.stop");
      session.disconnect();
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, JSON.stringify(profile));
    },
  };
}

export async function benchHtexScalePoint(o: {
  pools: number;
  workersPerPool: number;
  tasks: number;
  processes?: number;
  heartbeatPeriod?: number;
  rate?: number;
  /** Seconds of idle pools (heartbeats only) to measure before any task; 0 = none. */
  idleSeconds?: number;
  /** Write CPU profiles of the kernel's thread, one per measured phase, to this directory. */
  profDir?: string;
}): Promise<HtexScalePoint> {
  const processes = Math.min(o.processes ?? 4, o.pools);
  const perProcess = Math.ceil(o.pools / processes);
  const pools = perProcess * processes;
  const heartbeatPeriod = o.heartbeatPeriod ?? 1;
  const dir = mkdtempSync(join(tmpdir(), "htex-scale-"));
  const statsOf = (i: number): string => join(dir, `pools-${i}.json`);
  // Each block is one process of simulated pools, writing its stats to DIR/pools-<block id>.json.
  const launch = `${JSON.stringify(process.execPath)} ${JSON.stringify(SIM)} --pools ${perProcess} --stats-dir ${JSON.stringify(dir)}`;
  const ex = new HighThroughputExecutor({
    label: "htex",
    maxWorkersPerNode: o.workersPerPool,
    interchangePortRange: [0, 0],
    strategy: "none",
    heartbeatPeriod,
    provider: new LocalProvider({ initBlocks: processes, minBlocks: 0, maxBlocks: processes, workerInit: "" }),
    launchCommand: launch,
  });
  const dfk = await load(
    new Config({
      executors: [ex],
      monitoring: new MonitoringHub({ resourceMonitoringInterval: 0 }),
      runDir: join(dir, "runinfo"),
      handleSignals: false,
      summary: false,
    }),
  );
  const readPoolStats = (): {
    registered: number;
    heartbeats: number;
    rtts: [number | null, number | null];
    cpu: number;
    wait: number;
  }[] => {
    const out = [];
    for (let i = 0; i < processes; i++) {
      try {
        const s = JSON.parse(readFileSync(statsOf(i), "utf8")) as {
          registered: number;
          heartbeats: number;
          hbP50Ms: number | null;
          hbP99Ms: number | null;
          cpuSeconds: number;
          waitSeconds?: number;
        };
        out.push({
          registered: s.registered,
          heartbeats: s.heartbeats,
          rtts: [s.hbP50Ms, s.hbP99Ms] as [number | null, number | null],
          cpu: s.cpuSeconds,
          wait: s.waitSeconds ?? 0,
        });
      } catch {
        out.push({
          registered: 0,
          heartbeats: 0,
          rtts: [null, null] as [number | null, number | null],
          cpu: 0,
          wait: 0,
        });
      }
    }
    return out;
  };
  const cpuStart = process.cpuUsage();
  try {
    await waitUntil(() => (ex.interchangeForTests?.poolCount() ?? 0) >= pools, 120_000, `${pools} pools to register`);
    const workers = pools * o.workersPerPool;
    let idle: HtexScalePoint["idle"] = null;
    if (o.idleSeconds) {
      // Heartbeat handling alone: the pools are connected and idle. The pool processes write their
      // stats every second; wait for one write after the window so its CPU is counted.
      await new Promise((r) => setTimeout(r, 2000));
      const pools0 = readPoolStats().reduce((n, s) => n + s.cpu, 0);
      const c0 = process.cpuUsage();
      const w0 = performance.now();
      await new Promise((r) => setTimeout(r, o.idleSeconds! * 1000 + 1100));
      const c1 = process.cpuUsage(c0);
      const wall = (performance.now() - w0) / 1000;
      const poolsCpu = readPoolStats().reduce((n, s) => n + s.cpu, 0) - pools0;
      idle = {
        seconds: r2(wall),
        kernelCores: r2((c1.user + c1.system) / 1e6 / wall),
        poolCores: r2(poolsCpu / wall),
        kernelMicrosPerHeartbeat: r2((c1.user + c1.system) / ((wall * pools) / heartbeatPeriod)),
      };
    }
    // Warm-up: every pool gets tries, the kernel's and the writer's code paths are compiled.
    await Promise.all(Array.from({ length: Math.max(2000, workers * 2) }, (_, i) => noopApp(i)));

    const prof = o.profDir ? await startProfile() : null;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const fs_ = new Array<Promise<number>>(o.tasks);
    for (let i = 0; i < o.tasks; i++) fs_[i] = noopApp(i);
    await Promise.all(fs_);
    fs_.length = 0; // the paced phase's collections need not walk 50,000 settled futures
    const t1 = performance.now();
    const cpu1 = process.cpuUsage(cpu0);
    const tasksPerSecond = o.tasks / ((t1 - t0) / 1000);
    if (prof) await prof.save(join(o.profDir!, `throughput-${pools}.cpuprofile`));
    const prof2 = o.profDir ? await startProfile() : null;

    // Paced load: a fixed rate below saturation, submitted every millisecond or so.
    const rate = o.rate ?? Math.min(10_000, Math.round(tasksPerSecond / 2));
    const pacedSeconds = 3;
    const lat: number[] = [];
    // What the kernel's thread went through meanwhile: its event loop's delays and GC pauses.
    const loopDelay = monitorEventLoopDelay({ resolution: 5 });
    loopDelay.enable();
    const gcPauses: number[] = [];
    const gcObserver = new PerformanceObserver((l) => {
      for (const e of l.getEntries()) gcPauses.push(e.duration);
    });
    gcObserver.observe({ entryTypes: ["gc"] });
    const sched0 = runQueueWaitMs();
    const hb0 = readPoolStats().reduce((n, s) => n + s.heartbeats, 0);
    const hbT0 = performance.now();
    await new Promise<void>((resolve) => {
      const start = performance.now();
      const total = rate * pacedSeconds;
      let sent = 0,
        done = 0;
      const tick = (): void => {
        const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
        for (; sent < due; sent++) {
          const s = performance.now();
          void noopApp(sent).then(() => {
            lat.push(performance.now() - s);
            if (++done === total) resolve();
          });
        }
        if (sent < total) setTimeout(tick, 1);
      };
      tick();
    });
    lat.sort((a, b) => a - b);
    loopDelay.disable();
    gcObserver.disconnect();
    const runQueueWait = runQueueWaitMs() - sched0;
    if (prof2) await prof2.save(join(o.profDir!, `paced-${pools}.cpuprofile`));
    const t2 = performance.now();
    const pacedWallMs = t2 - hbT0;
    await dfk.cleanup();
    const t3 = performance.now();
    const cpuRun = process.cpuUsage(cpuStart);
    await waitUntil(() => readPoolStats().every((s) => s.heartbeats >= 0), 1000, "pool stats");
    // Pool processes exit once their connections close; their last stats are on disk by then.
    await new Promise((r) => setTimeout(r, 1200));
    const st = readPoolStats();
    const db = new Database(join(dir, "runinfo", "monitoring.db"), { readonly: true });
    const tryRows = db.prepare("SELECT COUNT(*) FROM try").pluck().get() as number;
    const nodeRows = db.prepare("SELECT COUNT(*) FROM node").pluck().get() as number;
    db.close();
    const hb = st.reduce((n, s) => n + s.heartbeats, 0);
    const writerCpu = writerCpuSeconds(join(dir, "runinfo"));
    const poolCpu = st.reduce((n, s) => n + s.cpu, 0);
    const worst = (k: 0 | 1): number | null => {
      const v = st.map((s) => s.rtts[k]).filter((x): x is number => x !== null);
      return v.length ? r2(Math.max(...v)) : null;
    };
    return {
      pools,
      workersPerPool: o.workersPerPool,
      workers,
      tasks: o.tasks,
      tasksPerSecond: Math.round(tasksPerSecond),
      withCleanupPerSecond: Math.round(o.tasks / ((t1 - t0 + t3 - t2) / 1000)),
      pacedRate: rate,
      latencyP50Ms: r2(pct(lat, 0.5)),
      latencyP99Ms: r2(pct(lat, 0.99)),
      heartbeatsPerSecond: Math.round((hb - hb0) / ((t3 - hbT0) / 1000)),
      // Per process, the worst of the processes' own percentiles (a conservative summary).
      heartbeatP50Ms: worst(0),
      heartbeatP99Ms: worst(1),
      loopDelayP99Ms: r2(loopDelay.percentile(99) / 1e6),
      loopDelayMaxMs: r2(loopDelay.max / 1e6),
      gcPauseTotalMs: r2(gcPauses.reduce((a, b) => a + b, 0)),
      gcPauseMaxMs: r2(Math.max(0, ...gcPauses)),
      runQueueWaitShare: r2(runQueueWait / pacedWallMs),
      kernelCpuCores: r2((cpu1.user + cpu1.system) / 1000 / (t1 - t0)),
      kernelCpuMicrosPerTask: r2((cpu1.user + cpu1.system) / o.tasks),
      idle,
      poolCpuSeconds: r2(poolCpu),
      poolWaitSeconds: r2(st.reduce((n, s) => n + s.wait, 0)),
      wholeRunMicrosPerTry: {
        kernel: r2((cpuRun.user + cpuRun.system) / tryRows),
        writer: writerCpu === null ? null : r2((writerCpu * 1e6) / tryRows),
        pools: r2((poolCpu * 1e6) / tryRows),
      },
      tryRows,
      nodeRows,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchHtexScale(
  o: {
    points?: { pools: number; workersPerPool: number; tasks: number; rate?: number; idleSeconds?: number }[];
    print?: (l: string) => void;
    processes?: number;
    heartbeatPeriod?: number;
    profDir?: string;
  } = {},
): Promise<HtexScalePoint[]> {
  const print = o.print ?? (() => {});
  const points = o.points ?? [
    { pools: 10, workersPerPool: 8, tasks: 50_000 },
    { pools: 100, workersPerPool: 16, tasks: 100_000 },
    { pools: 1000, workersPerPool: 10, tasks: 100_000 },
    { pools: 1000, workersPerPool: 64, tasks: 200_000 },
  ];
  const out: HtexScalePoint[] = [];
  for (const p of points) {
    const r = await benchHtexScalePoint({
      ...p,
      ...(o.processes ? { processes: o.processes } : {}),
      ...(o.heartbeatPeriod ? { heartbeatPeriod: o.heartbeatPeriod } : {}),
      ...(o.profDir ? { profDir: o.profDir } : {}),
    });
    if (r.idle)
      print(
        `htex-scale ${r.pools} idle pools for ${r.idle.seconds} s: kernel process ${r.idle.kernelCores} cores ` +
          `(${r.idle.kernelMicrosPerHeartbeat} µs per heartbeat), pool processes ${r.idle.poolCores} cores`,
      );
    print(
      `htex-scale ${r.pools} pools × ${r.workersPerPool} = ${r.workers} workers: ${r.tasksPerSecond} tasks/s (${r.withCleanupPerSecond} with cleanup), ` +
        `paced ${r.pacedRate}/s p50 ${r.latencyP50Ms} ms p99 ${r.latencyP99Ms} ms, heartbeats ${r.heartbeatsPerSecond}/s rtt p50 ${r.heartbeatP50Ms} p99 ${r.heartbeatP99Ms} ms, ` +
        `kernel loop delay p99 ${r.loopDelayP99Ms} max ${r.loopDelayMaxMs} ms, GC ${r.gcPauseTotalMs} ms (max ${r.gcPauseMaxMs}), waiting for a core ${Math.round(r.runQueueWaitShare * 100)}% of the time, ` +
        `kernel+interchange CPU ${r.kernelCpuCores} cores = ${r.kernelCpuMicrosPerTask} µs/task, pool processes ${r.poolCpuSeconds} CPU-s (${r.poolWaitSeconds} s waiting for a core), rows: ${r.tryRows} try, ${r.nodeRows} node; ` +
        `whole run CPU µs/try: kernel ${r.wholeRunMicrosPerTry.kernel} + writer ${r.wholeRunMicrosPerTry.writer} + pools ${r.wholeRunMicrosPerTry.pools}`,
    );
    out.push(r);
  }
  return out;
}

async function main(): Promise<void> {
  const a = process.argv.slice(2);
  const get = (f: string): string | undefined => {
    const i = a.indexOf(f);
    return i >= 0 ? a[i + 1] : undefined;
  };
  const poolsList = (get("--pools") ?? "10,100,1000").split(",").map(Number);
  const workers = get("--workers");
  const tasks = get("--tasks");
  const processes = get("--processes");
  const rate = get("--rate");
  const idleSeconds = get("--idle");
  const points = poolsList.map((n) => ({
    pools: n,
    workersPerPool: workers ? Number(workers) : n >= 1000 ? 10 : n >= 100 ? 16 : 8,
    tasks: tasks ? Number(tasks) : n >= 100 ? 100_000 : 50_000,
    ...(rate ? { rate: Number(rate) } : {}),
    ...(idleSeconds ? { idleSeconds: Number(idleSeconds) } : {}),
  }));
  const hb = get("--heartbeat");
  const res = await benchHtexScale({
    points,
    print: (l) => console.log(l),
    ...(processes ? { processes: Number(processes) } : {}),
    ...(hb ? { heartbeatPeriod: Number(hb) } : {}),
    ...(get("--prof") ? { profDir: get("--prof")! } : {}),
  });
  console.log(JSON.stringify(res));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
