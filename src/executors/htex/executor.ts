/**
 * HighThroughputExecutor: tries run in worker processes of worker pools, one pool per node of
 * each block a provider starts. This class owns the interchange, the blocks and the scaling
 * loop; the interchange owns the connections and the tries.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Executor, ExecutorHost, TryHandle } from "../base.js";
import { blockRow } from "../../monitoring/recorder.js";
import { LocalProvider } from "../../providers/local.js";
import { shellQuote } from "../../providers/launchers.js";
import { TERMINAL_JOB_STATES, type ExecutionProvider, type JobState } from "../../providers/provider.js";
import { decide, STRATEGIES, type StrategyName } from "../../providers/strategy.js";
import { Interchange } from "./interchange.js";
import { newSecret, nowMicros } from "./protocol.js";
import { makeRunCertificate } from "./tlsCert.js";
import { describeValue, Options, type OptionsSpec } from "../../validation.js";
import { CERT_ENV, SECRET_ENV } from "./workerPoolCommand.js";

export interface HighThroughputExecutorOptions {
  label?: string;
  provider?: ExecutionProvider;
  /** Workers per pool (node). Default: the node's CPU count. */
  maxWorkersPerNode?: number;
  coresPerWorker?: number;
  /** GB of memory per worker; 0 = no limit. */
  memPerWorker?: number;
  /** Address pools connect to; the interchange listens on it. Default 127.0.0.1. */
  address?: string;
  interchangePortRange?: [number, number];
  /** Seconds. */
  heartbeatPeriod?: number;
  heartbeatThreshold?: number;
  encrypted?: boolean;
  workerDebug?: boolean;
  /**
   * Tries a pool may hold beyond one per worker (they wait on the node, saving a round trip).
   * Default "auto": about 20 ms of work per worker, from measured try durations, so short
   * tries stream while long ones are not hoarded by one pool.
   */
  prefetchCapacity?: number | "auto";
  strategy?: StrategyName;
  /** Seconds between provider polls and scaling decisions. */
  strategyPeriod?: number;
  /** Seconds a block may stay idle before the strategy scales it in. */
  maxIdletime?: number;
  /** The worker-pool command; default `parsl-ts worker-pool` of this package, with the current node binary. */
  launchCommand?: string | null;
}

const HTEX_OPTIONS: OptionsSpec = {
  kind: "HighThroughputExecutor",
  known: [
    "label",
    "provider",
    "maxWorkersPerNode",
    "coresPerWorker",
    "memPerWorker",
    "address",
    "interchangePortRange",
    "heartbeatPeriod",
    "heartbeatThreshold",
    "encrypted",
    "workerDebug",
    "prefetchCapacity",
    "strategy",
    "strategyPeriod",
    "maxIdletime",
    "launchCommand",
  ],
  // Parsl's old and neighbouring names.
  aliases: {
    maxWorkers: "maxWorkersPerNode",
    workers: "maxWorkersPerNode",
    launchCmd: "launchCommand",
    workerPortRange: "interchangePortRange",
    workerPorts: "interchangePortRange",
  },
  elsewhere: Object.fromEntries(
    ["initBlocks", "minBlocks", "maxBlocks", "nodesPerBlock", "parallelism", "walltime", "workerInit"].map((k) => [
      k,
      `it is an option of the provider, e.g. provider: new LocalProvider({ ${k}: … })`,
    ]),
  ),
  defaultLabel: "htex",
};

function isPortRange(v: unknown): boolean {
  if (!Array.isArray(v) || v.length !== 2) return false;
  const [lo, hi] = v as unknown[];
  return (
    Number.isInteger(lo) &&
    Number.isInteger(hi) &&
    (lo as number) >= 0 &&
    (hi as number) <= 65535 &&
    (lo as number) <= (hi as number)
  );
}

/** A provider must have the whole provider contract; a plain object of Parsl options is a common mistake. */
function checkProvider(o: Options): ExecutionProvider {
  const p = o.raw("provider") as Partial<ExecutionProvider> | null;
  const ok =
    p !== null &&
    typeof p === "object" &&
    typeof p.submit === "function" &&
    typeof p.status === "function" &&
    typeof p.cancel === "function" &&
    (["initBlocks", "minBlocks", "maxBlocks", "parallelism", "nodesPerBlock"] as const).every(
      (k) => typeof p[k] === "number",
    );
  if (!ok)
    o.fail(
      "provider",
      `must be a provider such as new LocalProvider({...}) or new SlurmProvider({...}), got ${describeValue(p)}`,
    );
  return p as ExecutionProvider;
}

interface Block {
  blockId: string;
  jobId: string;
  state: JobState;
  launchedAt: number;
  idleSince: number;
  scalingIn: boolean;
}

/** The `parsl-ts` command of this package: blocks run `parsl-ts worker-pool …` on their nodes. */
const CLI_MAIN = fileURLToPath(new URL("../../cli/parsl-ts.cjs", import.meta.url));

export class HighThroughputExecutor implements Executor {
  readonly label: string;
  readonly provider: ExecutionProvider;
  private readonly o: Required<
    Omit<HighThroughputExecutorOptions, "provider" | "launchCommand" | "maxWorkersPerNode" | "prefetchCapacity">
  > & {
    prefetchCapacity: number | "auto";
    maxWorkersPerNode: number;
    launchCommand: string | null;
  };
  private host: ExecutorHost | null = null;
  private interchange: Interchange | null = null;
  private secret = "";
  private certPem: string | null = null;
  private dir = "";
  private readonly blocks = new Map<string, Block>();
  private nextBlock = 0;
  private timer: NodeJS.Timeout | null = null;
  private allIdleSince: number | null = Date.now();
  private polling = false;
  private stopped = false;

  constructor(opts: HighThroughputExecutorOptions = {}) {
    const o: Options = new Options(HTEX_OPTIONS, opts);
    this.label = o.string("label", "htex");
    this.provider = o.raw("provider") === undefined ? new LocalProvider() : checkProvider(o);
    const interchangePortRange = o.check<[number, number]>(
      "interchangePortRange",
      [55000, 56000],
      isPortRange,
      "[low, high] with 0 ≤ low ≤ high ≤ 65535",
    );
    this.o = {
      label: this.label,
      maxWorkersPerNode: o.integer("maxWorkersPerNode", 0, 0),
      coresPerWorker: o.number("coresPerWorker", 1, { min: 0 }),
      memPerWorker: o.number("memPerWorker", 0, { min: 0, unit: "GB" }),
      address: o.string("address", "127.0.0.1"),
      interchangePortRange: [interchangePortRange[0], interchangePortRange[1]],
      heartbeatPeriod: o.number("heartbeatPeriod", 30, { min: 0, above: true, unit: "seconds" }),
      heartbeatThreshold: o.number("heartbeatThreshold", 120, { min: 0, above: true, unit: "seconds" }),
      encrypted: o.boolean("encrypted", false),
      workerDebug: o.boolean("workerDebug", false),
      prefetchCapacity: o.check<number | "auto">(
        "prefetchCapacity",
        "auto",
        (v) => v === "auto" || (Number.isInteger(v) && (v as number) >= 0),
        '"auto" or an integer ≥ 0',
      ),
      strategy: o.oneOf<StrategyName>("strategy", "simple", STRATEGIES),
      strategyPeriod: o.number("strategyPeriod", 5, { min: 0, above: true, unit: "seconds" }),
      maxIdletime: o.number("maxIdletime", 120, { min: 0, unit: "seconds" }),
      launchCommand:
        o.raw("launchCommand") === null
          ? null
          : o.check<string | null>(
              "launchCommand",
              null,
              (v) => typeof v === "string" && v.trim() !== "",
              "a non-empty command line",
            ),
    };
  }

  /** Where the interchange listens (after start). */
  get port(): number {
    return this.interchange?.port ?? 0;
  }

  /** @internal For tests and tools: the interchange (after start); not part of the published types. */
  get interchangeForTests(): Interchange | null {
    return this.interchange;
  }

  /** Block ids with their job ids and last known state. */
  blockTable(): { blockId: string; jobId: string; state: JobState }[] {
    return [...this.blocks.values()].map((b) => ({ blockId: b.blockId, jobId: b.jobId, state: b.state }));
  }

  async start(host: ExecutorHost): Promise<void> {
    this.host = host;
    this.dir = join(host.runDir, this.label);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.secret = newSecret();
    const cert = this.o.encrypted ? makeRunCertificate(this.dir) : null;
    this.certPem = cert?.cert ?? null;
    const mon = host.monitoring;
    this.interchange = new Interchange({
      label: this.label,
      runId: host.runId,
      secret: this.secret,
      address: this.o.address,
      portRange: this.o.interchangePortRange,
      heartbeatPeriod: this.o.heartbeatPeriod,
      heartbeatThreshold: this.o.heartbeatThreshold,
      prefetchCapacity: this.o.prefetchCapacity,
      resourceMonitoring: mon.enabled && mon.resourceMonitoringEnabled,
      resourceInterval: mon.enabled && mon.resourceMonitoringEnabled ? mon.resourceMonitoringInterval : 0,
      ...(cert ? { tls: cert } : {}),
      emit: (e) => host.emit(e),
      log: (level, m) => host.log(level, m),
    });
    await this.interchange.start();
    host.log(
      "info",
      `htex ${this.label}: interchange listening on ${this.o.address}:${this.interchange.port}${cert ? " (TLS)" : ""}`,
    );
    await this.scaleOut(this.provider.initBlocks);
    this.timer = setInterval(() => void this.tick(), this.o.strategyPeriod * 1000);
    this.timer.unref();
  }

  submit(handle: TryHandle): void {
    if (!this.interchange) {
      handle.finished({ ok: false, error: new Error(`executor ${this.label} was not started`) });
      return;
    }
    this.allIdleSince = null;
    this.interchange.submit(handle);
  }

  /** @internal The command a block runs on each node (it carries the run's secret); not part of the published types. */
  workerPoolCommand(blockId: string): string {
    const env = [`${SECRET_ENV}=${this.secret}`];
    if (this.certPem) env.push(`${CERT_ENV}=${Buffer.from(this.certPem).toString("base64")}`);
    const base = this.o.launchCommand ?? `${shellQuote(process.execPath)} ${shellQuote(CLI_MAIN)} worker-pool`;
    const args = [
      "--host",
      this.o.address,
      "--port",
      String(this.port),
      "--block-id",
      blockId,
      "--max-workers",
      String(this.o.maxWorkersPerNode),
      "--cores-per-worker",
      String(this.o.coresPerWorker),
      "--mem-per-worker",
      String(this.o.memPerWorker),
    ];
    if (this.o.workerDebug) args.push("--debug");
    return `${env.join(" ")} exec ${base} ${args.map(shellQuote).join(" ")}`;
  }

  private emitBlock(b: Block, status: string): void {
    this.host?.emit(blockRow(this.label, b.blockId, b.jobId, nowMicros(), status));
  }

  private async scaleOut(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const blockId = String(this.nextBlock++);
      try {
        const jobId = await this.provider.submit(this.workerPoolCommand(blockId), `block-${blockId}`, this.dir);
        const now = Date.now();
        const b: Block = { blockId, jobId, state: "PENDING", launchedAt: now, idleSince: now, scalingIn: false };
        this.blocks.set(blockId, b);
        this.emitBlock(b, "PENDING");
        this.host?.log("info", `htex ${this.label}: block ${blockId} submitted as job ${jobId}`);
      } catch (e) {
        // Parsl reports nothing for a block that failed to launch; the log says why.
        this.host?.log("error", `htex ${this.label}: block ${blockId} failed to launch: ${(e as Error).message}`);
      }
    }
  }

  private async scaleIn(ids: readonly string[]): Promise<void> {
    const victims = ids.map((id) => this.blocks.get(id)).filter((b): b is Block => !!b && !b.scalingIn);
    if (victims.length === 0) return;
    for (const b of victims) {
      b.scalingIn = true;
      this.interchange?.holdBlock(b.blockId);
    }
    try {
      await this.provider.cancel(victims.map((b) => b.jobId));
    } catch (e) {
      this.host?.log(
        "error",
        `htex ${this.label}: cancelling blocks ${victims.map((b) => b.blockId).join(",")}: ${(e as Error).message}`,
      );
    }
    for (const b of victims) {
      b.state = "SCALED_IN";
      this.emitBlock(b, "SCALED_IN");
    }
  }

  private activeBlocks(): Block[] {
    return [...this.blocks.values()].filter((b) => !b.scalingIn && !TERMINAL_JOB_STATES.has(b.state));
  }

  /** One poll of the provider plus one scaling decision; never overlaps itself. */
  async tick(): Promise<void> {
    if (this.polling || this.stopped || !this.interchange) return;
    this.polling = true;
    try {
      await this.pollProvider();
      const now = Date.now();
      // The interchange's read-only view of its pools: what the strategy needs, nothing it could change.
      const pools = this.interchange.poolViews();
      const busyByBlock = new Map<string, number>();
      for (const p of pools) busyByBlock.set(p.blockId, (busyByBlock.get(p.blockId) ?? 0) + p.inflight);
      for (const b of this.activeBlocks()) if ((busyByBlock.get(b.blockId) ?? 0) > 0) b.idleSince = now;
      const outstanding = this.interchange.outstanding();
      if (outstanding > 0) this.allIdleSince = null;
      else if (this.allIdleSince === null) this.allIdleSince = now;
      const workersPerNode = pools.length > 0 ? pools[0]!.workerCount : Math.max(1, this.o.maxWorkersPerNode);
      const d = decide({
        strategy: this.o.strategy,
        outstanding,
        blocks: this.activeBlocks().map((b) => ({
          blockId: b.blockId,
          busy: busyByBlock.get(b.blockId) ?? 0,
          idleSince: b.idleSince,
        })),
        slotsPerBlock: workersPerNode * this.provider.nodesPerBlock,
        minBlocks: this.provider.minBlocks,
        maxBlocks: this.provider.maxBlocks,
        parallelism: this.provider.parallelism,
        maxIdletime: this.o.maxIdletime,
        allIdleSince: this.allIdleSince,
        now,
      });
      if (this.stopped) return;
      if (d.scaleOut > 0) await this.scaleOut(d.scaleOut);
      if (d.scaleIn.length > 0) await this.scaleIn(d.scaleIn);
    } catch (e) {
      this.host?.log("error", `htex ${this.label}: scaling step failed: ${(e as Error).message}`);
    } finally {
      this.polling = false;
    }
  }

  private async pollProvider(): Promise<void> {
    const live = this.activeBlocks();
    if (live.length === 0) return;
    const st = await this.provider.status(live.map((b) => b.jobId));
    for (const b of live) {
      const s = st.get(b.jobId);
      if (!s || s.state === b.state || b.scalingIn) continue;
      b.state = s.state;
      this.emitBlock(b, s.state);
      if (TERMINAL_JOB_STATES.has(s.state)) {
        this.host?.log(
          "warning",
          `htex ${this.label}: block ${b.blockId} (job ${b.jobId}) ended: ${s.state}${s.exitCode != null ? ` (exit code ${s.exitCode})` : ""}`,
        );
      }
    }
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    const work = (async () => {
      // Let an in-flight poll finish so it cannot scale out after we stop.
      for (let i = 0; i < 100 && this.polling; i++) await new Promise((r) => setTimeout(r, 20));
      await this.interchange?.shutdown(2000);
      await this.scaleIn(this.activeBlocks().map((b) => b.blockId));
    })();
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((r) => (timer = setTimeout(r, 15_000)));
    await Promise.race([work, bound]);
    clearTimeout(timer);
  }
}
