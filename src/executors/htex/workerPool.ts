/**
 * The worker pool: one process per node. It connects to the interchange, proves it knows
 * the run's secret, starts N worker processes and relays tries to them and results back,
 * batching both ways. It samples its busy workers' resources every interval, replaces
 * workers that die (their unfinished tries fail with WorkerLost), sends heartbeats, and
 * exits when the interchange tells it to or stops answering.
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import net from "node:net";
import os from "node:os";
import tls from "node:tls";
import { encodePoolFrame, PoolFrameDecoder, writePoolFrame } from "./poolFrames.js";
import { childrenOf, ProcessTreeSampler, physicalCoreCount, sinceBaseline } from "./procStats.js";
import { logTimestamp } from "../../logTime.js";
import {
  decodeJson,
  decodeMessage,
  encodeJson,
  encodeMessage,
  heartbeatDue,
  HANDSHAKE_MAX_FRAME,
  DEFAULT_MAX_FRAME,
  nowMicros,
  INTERCHANGE_PROOF_PREFIX,
  newNonce,
  parseInterchangeMessage,
  proofFor,
  proofMatches,
  PROTOCOL_VERSION,
  type PeriodicSample,
  type ResourceSample,
  type ResultItem,
  type StartedItem,
  type TaskItem,
  type WelcomeMessage,
} from "./protocol.js";
import type { FromWorker } from "./workerIpc.js";

export interface WorkerPoolOptions {
  host: string;
  port: number;
  secret: string;
  blockId: string;
  maxWorkers: number;
  coresPerWorker: number;
  /** GB per worker, 0 = no limit. */
  memPerWorker: number;
  /** PEM of the interchange's certificate when the connection is encrypted. */
  certPem?: string;
  debug?: boolean;
  /** Largest batch handed to one worker at once. */
  maxWorkerBatch?: number;
}

interface WorkerSlot {
  proc: ChildProcess;
  pid: number;
  assigned: TaskItem[];
  /** The walltime of the try running now, enforced from here: a body that never yields cannot stop itself. */
  walltimer: NodeJS.Timeout | null;
  walltimerId: number;
  sources: Set<string>;
  sampler: ProcessTreeSampler;
  /** The try the worker said it started, with its start reading: what periodic samples are of. */
  current: { id: number; base: ResourceSample } | null;
}

/** Argument bytes in one batch to a worker (big arguments go one or a few at a time). */
const MAX_WORKER_BATCH_BYTES = 512 * 1024;

const WORKER_MAIN = fileURLToPath(new URL("./worker.js", import.meta.url));
/** How long past a try's walltime the pool waits for the worker's own answer before stopping it. */
const WALLTIME_GRACE_MS = 500;

function clearWalltime(slot: WorkerSlot): void {
  if (slot.walltimer) clearTimeout(slot.walltimer);
  slot.walltimer = null;
  slot.walltimerId = -1;
}

/** Kills a worker and what it started (bash commands run in process groups of their own). */
function killWorkerTree(slot: WorkerSlot): void {
  for (const child of childrenOf(slot.pid)) {
    try {
      process.kill(-child, "SIGKILL");
    } catch {
      /* not a group leader */
    }
    try {
      process.kill(child, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
  slot.proc.kill("SIGKILL");
}

export function workerCountFor(o: Pick<WorkerPoolOptions, "maxWorkers" | "coresPerWorker" | "memPerWorker">): number {
  let n = o.maxWorkers > 0 ? o.maxWorkers : os.cpus().length;
  if (o.coresPerWorker > 0) n = Math.min(n, Math.max(1, Math.floor(os.cpus().length / o.coresPerWorker)));
  if (o.memPerWorker > 0) n = Math.min(n, Math.max(1, Math.floor(os.totalmem() / 2 ** 30 / o.memPerWorker)));
  return Math.max(1, n);
}

export function runWorkerPool(opts: WorkerPoolOptions): Promise<number> {
  return new Promise((resolveExit) => {
    const log = (msg: string): void => {
      if (opts.debug) process.stderr.write(`${logTimestamp()} worker-pool[${opts.blockId}] ${msg}\n`);
    };
    const warn = (msg: string): void => {
      process.stderr.write(`${logTimestamp()} worker-pool[${opts.blockId}] ${msg}\n`);
    };
    const workerCount = workerCountFor(opts);
    const uid = randomBytes(6).toString("hex");
    const myNonce = newNonce();
    const maxBatch = opts.maxWorkerBatch ?? 64;
    const sources = new Map<string, Pick<TaskItem, "source" | "origin">>();
    const queue: TaskItem[] = [];
    const workers: WorkerSlot[] = [];
    let welcome: WelcomeMessage | null = null;
    let stopping = false;
    let sentRegister = false;
    let lastHeard = Date.now();
    let timers: NodeJS.Timeout[] = [];

    // Outgoing batch to the interchange, flushed once per event-loop turn.
    let outResults: ResultItem[] = [],
      outStarted: StartedItem[] = [],
      outSamples: PeriodicSample[] = [];
    let flushScheduled = false;
    const scheduleFlush = (): void => {
      if (flushScheduled) return;
      flushScheduled = true;
      setImmediate(() => {
        flushScheduled = false;
        if (outResults.length + outStarted.length + outSamples.length === 0) return;
        sendResults(outResults, outStarted, outSamples);
        outResults = [];
        outStarted = [];
        outSamples = [];
      });
    };

    const socket: net.Socket = opts.certPem
      ? tls.connect({ host: opts.host, port: opts.port, ca: opts.certPem, checkServerIdentity: () => undefined })
      : net.connect({ host: opts.host, port: opts.port });
    socket.setNoDelay(true);
    const decoder = new PoolFrameDecoder(HANDSHAKE_MAX_FRAME);
    /** When this pool last sent the interchange anything (a sign of life, as a heartbeat is). */
    let lastSent = 0;
    const sendMsg = (m: object): void => {
      if (socket.destroyed) return;
      writePoolFrame(socket, encodeMessage(m));
      lastSent = Date.now();
    };

    /** Results in as few frames as fit: each result is under the value limit, so splitting always ends. */
    const sendResults = (items: ResultItem[], started: StartedItem[], samples: PeriodicSample[]): void => {
      const payload = encodeMessage({ t: "results", items, started, samples });
      if (payload.length <= DEFAULT_MAX_FRAME || items.length <= 1) {
        if (!socket.destroyed) writePoolFrame(socket, payload);
        lastSent = Date.now();
        return;
      }
      const mid = items.length >> 1;
      sendResults(items.slice(0, mid), started, samples);
      sendResults(items.slice(mid), [], []);
    };

    const stop = (code: number, why: string): void => {
      if (stopping) return;
      stopping = true;
      (code === 0 ? log : warn)(`stopping: ${why}`);
      for (const t of timers) clearInterval(t);
      timers = [];
      for (const w of workers) w.proc.kill("SIGTERM");
      const killTimer = setTimeout(() => {
        for (const w of workers) if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill("SIGKILL");
      }, 1000);
      killTimer.unref();
      socket.end();
      setTimeout(() => socket.destroy(), 200).unref();
      const waitAll = workers.map(
        (w) =>
          new Promise<void>((r) =>
            w.proc.exitCode !== null || w.proc.signalCode !== null ? r() : w.proc.once("exit", () => r()),
          ),
      );
      void Promise.all(waitAll).then(() => {
        clearTimeout(killTimer);
        resolveExit(code);
      });
    };

    const startWorker = (): WorkerSlot => {
      const env = {
        ...process.env,
        PARSL_WORKER_BLOCK_ID: opts.blockId,
        PARSL_TS_WORKER_SAMPLE: welcome && welcome.resourceMonitoring && welcome.resourceInterval > 0 ? "1" : "0",
      };
      const proc = fork(WORKER_MAIN, [], {
        serialization: "advanced",
        env,
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      });
      const slot: WorkerSlot = {
        proc,
        pid: proc.pid ?? -1,
        assigned: [],
        walltimer: null,
        walltimerId: -1,
        sources: new Set(),
        sampler: new ProcessTreeSampler(proc.pid ?? -1),
        current: null,
      };
      proc.on("message", (m: FromWorker) => onWorkerMessage(slot, m));
      proc.on("exit", (code, signal) => onWorkerExit(slot, code, signal));
      proc.on("error", (e) => warn(`worker ${slot.pid}: ${e.message}`));
      return slot;
    };

    const onWorkerMessage = (slot: WorkerSlot, m: FromWorker): void => {
      if (m.t === "started") {
        outStarted.push({ id: m.id, at: m.at });
        slot.current = m.base ? { id: m.id, base: m.base } : null;
        const item = slot.assigned.find((a) => a.id === m.id);
        if (item && item.options.walltime !== null) armWalltime(slot, item);
      } else if (m.t === "done") {
        for (const r of m.results) {
          if (slot.current?.id === r.id) slot.current = null;
          if (slot.walltimer && r.id === slot.walltimerId) clearWalltime(slot);
          const i = slot.assigned.findIndex((a) => a.id === r.id);
          if (i >= 0) slot.assigned.splice(i, 1);
          outResults.push(r);
        }
        dispatch();
      }
      scheduleFlush();
    };

    /**
     * A try past its walltime (plus a grace, so an async body's own timer answers first) whose
     * worker has not answered: the body is stuck (a synchronous loop). Fail the try with the
     * walltime error, put the tries queued behind it back in the queue, and replace the worker.
     */
    const armWalltime = (slot: WorkerSlot, item: TaskItem): void => {
      clearWalltime(slot);
      slot.walltimerId = item.id;
      slot.walltimer = setTimeout(
        () => {
          slot.walltimer = null;
          const i = slot.assigned.findIndex((a) => a.id === item.id);
          if (i < 0 || stopping) return;
          const now = nowMicros();
          const walltime = item.options.walltime!;
          outResults.push({
            id: item.id,
            ok: false,
            startedAt: now,
            endedAt: now,
            error: {
              name: "WalltimeExceeded",
              appName: item.appName,
              walltime,
              message: `app '${item.appName}' exceeded its walltime of ${walltime} s and was stopped`,
            },
          });
          queue.unshift(...slot.assigned.slice(i + 1));
          slot.assigned = [];
          warn(
            `worker ${slot.pid}: task ${item.taskId} try ${item.tryId} ran past its walltime of ${walltime} s; replacing the worker`,
          );
          // Out of the pool before it dies, so nothing is dispatched to it and its exit is not a loss.
          workers[workers.indexOf(slot)] = startWorker();
          killWorkerTree(slot);
          scheduleFlush();
          dispatch();
        },
        item.options.walltime! * 1000 + WALLTIME_GRACE_MS,
      );
    };

    const onWorkerExit = (slot: WorkerSlot, code: number | null, signal: NodeJS.Signals | null): void => {
      const idx = workers.indexOf(slot);
      if (idx < 0) return;
      clearWalltime(slot);
      if (stopping) return;
      const how = signal ? `signal ${signal}` : `exit code ${code}`;
      warn(`worker ${slot.pid} died (${how}) with ${slot.assigned.length} unfinished tries`);
      const now = nowMicros();
      const exitCode = signal ? 128 + (os.constants.signals[signal] ?? 0) : code;
      for (const t of slot.assigned) {
        outResults.push({
          id: t.id,
          ok: false,
          startedAt: now,
          endedAt: now,
          lost: {
            message: `worker lost: process ${slot.pid} on ${os.hostname()} (block ${opts.blockId}) died (${how}) while running task ${t.taskId} try ${t.tryId}`,
            ...(exitCode !== null ? { exitCode } : {}),
          },
        });
      }
      slot.assigned = [];
      scheduleFlush();
      workers[idx] = startWorker();
      dispatch();
    };

    const dispatch = (): void => {
      if (queue.length === 0) return;
      const idle = workers.filter((w) => w.assigned.length === 0);
      for (let i = 0; i < idle.length && queue.length > 0; i++) {
        const w = idle[i]!;
        const n = Math.min(maxBatch, Math.ceil(queue.length / (idle.length - i)));
        let take = 0,
          bytes = 0;
        while (take < n && (take === 0 || bytes + queue[take]!.argBytes <= MAX_WORKER_BATCH_BYTES))
          bytes += queue[take++]!.argBytes;
        const items = queue.splice(0, take);
        for (const it of items) {
          if (!w.sources.has(it.sourceId)) {
            w.sources.add(it.sourceId);
            const src = sources.get(it.sourceId);
            if (src !== undefined) Object.assign(it, src);
          } else {
            delete it.source;
            delete it.origin;
          }
        }
        w.assigned = items;
        w.proc.send({ t: "batch", items });
      }
    };

    // Only a try whose start (and start reading) the worker reported is sampled: its figures
    // count from that reading. Rapid short tries get their try-end sample only.
    const sampleBusyWorkers = (): void => {
      for (const w of workers) {
        const current = w.current;
        if (!current || !w.assigned.some((a) => a.id === current.id)) continue;
        const s = w.sampler.sample();
        if (s) outSamples.push({ id: current.id, sample: sinceBaseline(s, current.base) });
      }
      scheduleFlush();
    };

    const onWelcome = (m: WelcomeMessage): void => {
      welcome = m;
      for (let i = 0; i < workerCount; i++) workers.push(startWorker());
      timers.push(
        setInterval(() => {
          if (heartbeatDue(Date.now() - lastSent, m.heartbeatPeriod, m.heartbeatThreshold))
            sendMsg({ t: "heartbeat", clock: nowMicros() });
          if (Date.now() - lastHeard > m.heartbeatThreshold * 1000)
            stop(1, "interchange silent beyond the heartbeat threshold");
        }, m.heartbeatPeriod * 1000),
      );
      if (m.resourceMonitoring && m.resourceInterval > 0)
        timers.push(setInterval(sampleBusyWorkers, m.resourceInterval * 1000));
      log(`registered with ${workerCount} workers`);
    };

    const onFrame = (frame: Buffer): void => {
      lastHeard = Date.now();
      if (!welcome) {
        if (!sentRegister) {
          const m = decodeJson(frame);
          if (m.t !== "challenge" || typeof m.nonce !== "string")
            throw new Error("expected a challenge from the interchange");
          sentRegister = true;
          socket.write(
            encodePoolFrame(
              encodeJson({
                t: "register",
                v: PROTOCOL_VERSION,
                proof: proofFor(opts.secret, m.nonce),
                challenge: myNonce,
                uid,
                hostname: os.hostname(),
                blockId: opts.blockId,
                workerCount,
                cpuCount: physicalCoreCount(os.cpus().length),
                totalMemory: os.totalmem(),
                nodeVersion: process.versions.node,
                clock: nowMicros(),
              }),
            ),
          );
          return;
        }
        // After the challenge the interchange speaks v8 frames; the first must prove the secret.
        const w = parseInterchangeMessage(decodeMessage(frame));
        if (w.t !== "welcome") throw new Error(`expected welcome, got ${w.t}`);
        if (!proofMatches(opts.secret, INTERCHANGE_PROOF_PREFIX + myNonce, w.proof)) {
          throw new Error("the interchange did not prove it knows the run's secret (authentication failed)");
        }
        decoder.maxFrameBytes = DEFAULT_MAX_FRAME;
        onWelcome(w);
        return;
      }
      const m = parseInterchangeMessage(decodeMessage(frame));
      switch (m.t) {
        case "tasks":
          for (const it of m.items) {
            if (it.source !== undefined)
              sources.set(it.sourceId, it.origin ? { source: it.source, origin: it.origin } : { source: it.source });
            queue.push(it);
          }
          dispatch();
          break;
        case "ping":
          sendMsg({ t: "pong", t0: m.t0, clock: nowMicros() });
          break;
        case "heartbeat":
          break;
        case "shutdown":
          stop(0, "interchange asked to shut down");
          break;
        case "welcome":
          break;
      }
    };

    socket.on("data", (chunk: Buffer) => {
      try {
        for (const f of decoder.push(chunk)) onFrame(f);
      } catch (e) {
        warn(`bad data from the interchange: ${(e as Error).message}`);
        stop(1, "protocol error");
      }
    });
    socket.on("error", (e) => warn(`connection error: ${e.message}`));
    socket.on("close", () =>
      stop(welcome ? 0 : 1, welcome ? "interchange connection closed" : "connection closed before registration"),
    );
    process.once("SIGTERM", () => stop(0, "SIGTERM"));
  });
}
