/**
 * Test harness for the HTEX tests: a real ExecutorHost that records what an executor emits
 * and logs, and TryHandles whose results tests can await. The executor under test runs
 * real worker-pool and worker processes.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type {
  AppDefinition,
  ExecutorHost,
  InvocationOptions,
  TryHandle,
  TryResult,
  WhereRan,
} from "../src/executors/base.js";
import type { Micros, MonitoringEvent } from "../src/monitoring/messages.js";
import { HighThroughputExecutor, type HighThroughputExecutorOptions } from "../src/executors/htex/executor.js";
import { PROTOCOL_VERSION, type RegisterMessage } from "../src/executors/htex/protocol.js";
import { LocalProvider } from "../src/providers/local.js";

export interface RecordingHost extends ExecutorHost {
  events: MonitoringEvent[];
  logs: { level: string; message: string }[];
}

/** Run directories made by this test file, removed when its process exits. */
const madeDirs: string[] = [];
process.once("exit", () => {
  for (const d of madeDirs) rmSync(d, { recursive: true, force: true });
});

export function recordingHost(opts: { interval?: number; monitoring?: boolean } = {}): RecordingHost {
  const events: MonitoringEvent[] = [];
  const logs: { level: string; message: string }[] = [];
  const runDir = mkdtempSync(join(tmpdir(), "htex-test-"));
  madeDirs.push(runDir);
  return {
    runId: `run-${Math.random().toString(16).slice(2)}`,
    runDir,
    monitoring: {
      enabled: opts.monitoring ?? true,
      resourceMonitoringEnabled: opts.monitoring ?? true,
      resourceMonitoringInterval: opts.interval ?? 1,
    },
    emit: (e) => events.push(e),
    log: (level, message) => logs.push({ level, message }),
    events,
    logs,
  };
}

export function appOf(
  fn: (...a: any[]) => unknown,
  kind: "ts" | "bash" = "ts",
  name = fn.name || "anonymous",
): AppDefinition {
  const source = fn.toString();
  return { name, kind, fn, source, sourceId: createHash("sha1").update(source).digest("hex").slice(0, 16) };
}

export const noOptions: InvocationOptions = {
  inputs: [],
  outputs: [],
  stdout: null,
  stderr: null,
  walltime: null,
  resourceSpecification: {},
};

export interface Tracked extends TryHandle {
  result: Promise<TryResult>;
  runningAt: Micros | null;
  where: WhereRan | null;
  finishCount: number;
}

let nextTask = 0;
export function tryHandle(
  app: AppDefinition,
  args: unknown[],
  options: Partial<InvocationOptions> = {},
  tryId = 0,
  taskId?: number,
): Tracked {
  let resolve!: (r: TryResult) => void;
  const result = new Promise<TryResult>((r) => (resolve = r));
  const h: Tracked = {
    taskId: taskId ?? nextTask++,
    tryId,
    app,
    args,
    options: { ...noOptions, ...options },
    result,
    runningAt: null,
    where: null,
    finishCount: 0,
    running(at, where) {
      h.runningAt = at;
      h.where = where ?? null;
    },
    finished(r) {
      h.finishCount++;
      resolve(r);
    },
  };
  return h;
}

export function ofType<T extends MonitoringEvent["t"]>(
  events: MonitoringEvent[],
  t: T,
): Extract<MonitoringEvent, { t: T }>[] {
  return events.filter((e) => e.t === t) as Extract<MonitoringEvent, { t: T }>[];
}

/**
 * A started HighThroughputExecutor for `host` on a free loopback port, with one local block of one
 * worker and no scaling, unless `options` say otherwise.
 */
export async function startLocalHtex(
  host: ExecutorHost,
  options: HighThroughputExecutorOptions = {},
): Promise<HighThroughputExecutor> {
  const ex = new HighThroughputExecutor({
    maxWorkersPerNode: 1,
    provider: new LocalProvider({ initBlocks: 1 }),
    interchangePortRange: [0, 0],
    strategy: "none",
    ...options,
  });
  await ex.start(host);
  return ex;
}

/** A pool's register message, as a test pool written from the protocol sends it: one worker, `fields` over the rest. */
export function registerMessage(
  proof: string,
  challenge: string,
  fields: Partial<Omit<RegisterMessage, "t" | "v" | "proof" | "challenge">> = {},
): RegisterMessage {
  return {
    t: "register",
    v: PROTOCOL_VERSION,
    proof,
    challenge,
    uid: "x",
    hostname: "h",
    blockId: "0",
    workerCount: 1,
    cpuCount: 1,
    totalMemory: 1,
    nodeVersion: "20",
    clock: 1,
    ...fields,
  };
}
