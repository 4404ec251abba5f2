/**
 * HTEX throughput and latency (issue #3 figures).
 *   node dist/bench/htex.js [--tasks N] [--arg-bytes N]            (through the kernel: the figures)
 *   node dist/bench/htex.js --executor-only [--tasks N] [--workers N] [--arg-bytes N] [--interval S] [--prefetch N]
 * Kernel mode runs apps with load()/futures and, for "full", the monitoring writer with
 * resource sampling. Executor-only mode drives a HighThroughputExecutor through the Executor
 * contract with a host that counts events, so it shows the executor's own cost.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { AppDefinition, ExecutorHost, InvocationOptions, TryHandle, TryResult } from "../src/executors/base.js";
import { HighThroughputExecutor } from "../src/executors/htex/executor.js";
import { Config, MonitoringHub, load, tsApp } from "../src/index.js";
import { LocalProvider } from "../src/providers/local.js";

export interface HtexExecutorBenchOptions {
  tasks?: number;
  workers?: number;
  /** Size of one string argument per task. */
  argBytes?: number;
  /** Resource monitoring interval (s); 0 = off. */
  interval?: number;
  prefetch?: number;
  latencySamples?: number;
}

export interface HtexExecutorBenchResult {
  tasks: number;
  workers: number;
  argBytes: number;
  interval: number;
  tasksPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  events: Record<string, number>;
}

const noop = function noop(x: unknown): unknown {
  return typeof x === "string" ? x.length : x;
};

const app: AppDefinition = (() => {
  const source = noop.toString();
  return {
    name: "noop",
    kind: "ts",
    fn: noop,
    source,
    sourceId: createHash("sha1").update(source).digest("hex").slice(0, 16),
  };
})();

const options: InvocationOptions = {
  inputs: [],
  outputs: [],
  stdout: null,
  stderr: null,
  walltime: null,
  resourceSpecification: {},
};

function handle(taskId: number, arg: unknown, done: (r: TryResult) => void): TryHandle {
  return { taskId, tryId: 0, app, args: [arg], options, running() {}, finished: done };
}

export async function benchHtexExecutor(o: HtexExecutorBenchOptions = {}): Promise<HtexExecutorBenchResult> {
  const tasks = o.tasks ?? 20_000,
    workers = o.workers ?? 2,
    argBytes = o.argBytes ?? 0,
    interval = o.interval ?? 1;
  const runDir = mkdtempSync(join(tmpdir(), "htex-bench-"));
  const events: Record<string, number> = {};
  const host: ExecutorHost = {
    runId: "bench",
    runDir,
    monitoring: { enabled: true, resourceMonitoringEnabled: interval > 0, resourceMonitoringInterval: interval },
    emit: (e) => {
      events[e.t] = (events[e.t] ?? 0) + 1;
    },
    log: () => {},
  };
  const ex = new HighThroughputExecutor({
    maxWorkersPerNode: workers,
    provider: new LocalProvider({ initBlocks: 1, maxBlocks: 1 }),
    interchangePortRange: [0, 0],
    strategy: "none",
    ...(o.prefetch !== undefined ? { prefetchCapacity: o.prefetch } : {}),
  });
  await ex.start(host);
  try {
    // Wait for the pool, and warm the workers up.
    await new Promise<void>((r) => ex.submit(handle(-1, 0, () => r())));
    await Promise.all(
      Array.from({ length: workers * 4 }, (_, i) => new Promise<void>((r) => ex.submit(handle(-2 - i, 0, () => r())))),
    );
    const arg = argBytes > 0 ? "x".repeat(argBytes) : 1;
    const t0 = performance.now();
    let failed = 0;
    await new Promise<void>((resolve) => {
      let left = tasks;
      for (let i = 0; i < tasks; i++) {
        ex.submit(
          handle(i, arg, (r) => {
            if (!r.ok) failed++;
            if (--left === 0) resolve();
          }),
        );
      }
    });
    const secs = (performance.now() - t0) / 1000;
    if (failed > 0) throw new Error(`${failed} benchmark tries failed`);
    const lat: number[] = [];
    for (let i = 0; i < (o.latencySamples ?? 300); i++) {
      const s = performance.now();
      await new Promise<void>((r) => ex.submit(handle(tasks + i, 1, () => r())));
      lat.push(performance.now() - s);
    }
    lat.sort((a, b) => a - b);
    return {
      tasks,
      workers,
      argBytes,
      interval,
      tasksPerSecond: Math.round(tasks / secs),
      latencyP50Ms: round(lat[Math.floor(lat.length * 0.5)]!),
      latencyP99Ms: round(lat[Math.floor(lat.length * 0.99)]!),
      events,
    };
  } finally {
    await ex.shutdown();
    rmSync(runDir, { recursive: true, force: true });
  }
}

export interface HtexKernelBenchResult {
  tasks: number;
  argBytes: number;
  monitoring: "off" | "full";
  tasksPerSecond: number;
  withCleanupPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
}

const kernelNoop = tsApp(function htexNoop(x: unknown) {
  return typeof x === "string" ? x.length : x;
});

/**
 * The figures: through the kernel (load → apps → futures), local HTEX with one block of
 * 2 workers, with full monitoring (database writer, resource sampling every second) or none.
 */
export async function benchHtexKernel(
  o: { tasks?: number; argBytes?: number; monitored?: boolean; latencySamples?: number } = {},
): Promise<HtexKernelBenchResult> {
  const tasks = o.tasks ?? 20_000,
    argBytes = o.argBytes ?? 0,
    monitored = o.monitored ?? true;
  const dir = mkdtempSync(join(tmpdir(), "htex-kbench-"));
  const dfk = await load(
    new Config({
      executors: [
        new HighThroughputExecutor({
          label: "htex",
          maxWorkersPerNode: 2,
          interchangePortRange: [0, 0],
          strategy: "none",
          provider: new LocalProvider({ initBlocks: 1, maxBlocks: 1 }),
        }),
      ],
      monitoring: monitored ? new MonitoringHub({ resourceMonitoringInterval: 1 }) : null,
      runDir: join(dir, "runinfo"),
      handleSignals: false,
    }),
  );
  try {
    const arg = argBytes > 0 ? "x".repeat(argBytes) : 1;
    await Promise.all(Array.from({ length: 500 }, () => kernelNoop(1)));
    const t0 = performance.now();
    const fs_ = new Array(tasks);
    for (let i = 0; i < tasks; i++) fs_[i] = kernelNoop(arg);
    for (const f of fs_) await f;
    const t1 = performance.now();
    const lat: number[] = [];
    for (let i = 0; i < (o.latencySamples ?? 300); i++) {
      const s = performance.now();
      await kernelNoop(1);
      lat.push(performance.now() - s);
    }
    lat.sort((a, b) => a - b);
    const t2 = performance.now();
    await dfk.cleanup();
    const t3 = performance.now();
    return {
      tasks,
      argBytes,
      monitoring: monitored ? "full" : "off",
      tasksPerSecond: Math.round(tasks / ((t1 - t0) / 1000)),
      withCleanupPerSecond: Math.round(tasks / ((t1 - t0 + t3 - t2) / 1000)),
      latencyP50Ms: round(lat[Math.floor(lat.length * 0.5)]!),
      latencyP99Ms: round(lat[Math.floor(lat.length * 0.99)]!),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface HtexBenchSummary {
  fullMonitoring: HtexKernelBenchResult;
  noMonitoring: HtexKernelBenchResult;
  fullMonitoring100KB: HtexKernelBenchResult;
}

/**
 * The figures in one call (for `npm run bench`): no-op tasks through the kernel with
 * full monitoring and with none (measured back to back, so the ratio is meaningful on a shared
 * machine), 100 KB arguments with full monitoring, and single-task latency.
 */
export async function benchHtex(o: { tasks?: number; print?: (line: string) => void } = {}): Promise<HtexBenchSummary> {
  const tasks = o.tasks ?? 20_000;
  const print = o.print ?? (() => {});
  const show = (name: string, r: HtexKernelBenchResult): void =>
    print(
      `htex ${name}: ${r.tasksPerSecond} tasks/s (${r.withCleanupPerSecond} with cleanup), latency p50 ${r.latencyP50Ms} ms p99 ${r.latencyP99Ms} ms`,
    );
  const fullMonitoring = await benchHtexKernel({ tasks, monitored: true });
  show("no-op, full monitoring", fullMonitoring);
  const noMonitoring = await benchHtexKernel({ tasks, monitored: false });
  show("no-op, no monitoring", noMonitoring);
  const fullMonitoring100KB = await benchHtexKernel({
    tasks: Math.min(tasks, 5000),
    argBytes: 100_000,
    monitored: true,
  });
  show("100 KB argument, full monitoring", fullMonitoring100KB);
  return { fullMonitoring, noMonitoring, fullMonitoring100KB };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const num = (flag: string): number | undefined => {
    const i = args.indexOf(flag);
    return i >= 0 ? Number(args[i + 1]) : undefined;
  };
  const base: HtexExecutorBenchOptions = {};
  for (const [flag, key] of [
    ["--tasks", "tasks"],
    ["--workers", "workers"],
    ["--interval", "interval"],
    ["--prefetch", "prefetch"],
  ] as const) {
    const v = num(flag);
    if (v !== undefined) base[key] = v;
  }
  const argBytes = num("--arg-bytes");
  if (args.includes("--executor-only")) {
    const runs =
      argBytes !== undefined
        ? [{ ...base, argBytes }]
        : [{ ...base }, { ...base, argBytes: 100_000, tasks: Math.min(base.tasks ?? 5000, 5000) }];
    for (const r of runs) console.log(JSON.stringify({ mode: "executor", ...(await benchHtexExecutor(r)) }));
    return;
  }
  await benchHtex({ tasks: base.tasks ?? 20_000, print: (l) => console.log(l) });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
