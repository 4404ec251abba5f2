/**
 * The interchange: the tries' side of HTEX in the submit process. It queues tries, asks the
 * dispatch policy (dispatchPolicy.ts, a pure function over read-only pool views) which pools
 * get how many, sends them in batches, and turns results, start notices and resource samples
 * into TryHandle callbacks and monitoring rows. It declares pools lost when they fall silent.
 * The network — listening, TLS, the HMAC handshake, framing, decoding, answering heartbeats —
 * is poolServer.ts, run on a thread of its own (poolServerThread.ts, reached through
 * threadedPoolServer.ts); this module sees a registered pool only as a PoolLink and its
 * messages, and runs on the kernel's thread, where the TryHandles live (Parsl's interchange
 * is a separate process; here a try's callbacks cost no extra hop).
 */
import { deserialize } from "node:v8";
import { SerializationError, TaskCancelled } from "../../errors.js";
import type { TryHandle } from "../base.js";
import { errorFromWire } from "../../apps/errorWire.js";
import { WorkerLost } from "../threadPool.js";
import { optionsToWire } from "../wire.js";
import type { MonitoringEvent, Micros } from "../../monitoring/messages.js";
import { nodeRow, resourceRow } from "../../monitoring/recorder.js";
import { assignTries, type PoolView } from "./dispatchPolicy.js";
import type { PoolHandler, PoolLink } from "./poolServer.js";
import { ThreadedPoolServer } from "./threadedPoolServer.js";
import {
  encodeMessage,
  DEFAULT_MAX_FRAME,
  MAX_VALUE_BYTES,
  mebibytes,
  nowMicros,
  type PoolMessage,
  type RegisterMessage,
  type ResourceSample,
  type ResultsMessage,
  type TaskItem,
} from "./protocol.js";

export interface InterchangeOptions {
  label: string;
  runId: string;
  secret: string;
  address: string;
  /** Inclusive range to pick the listening port from; [0, 0] = any free port. */
  portRange: readonly [number, number];
  heartbeatPeriod: number;
  heartbeatThreshold: number;
  /**
   * Extra tries a pool may hold beyond one per worker, or "auto": about PREFETCH_TARGET_MICROS
   * of work per worker, from the pool's measured try durations (none until it has some).
   */
  prefetchCapacity: number | "auto";
  resourceMonitoring: boolean;
  resourceInterval: number;
  tls?: { key: string; cert: string };
  emit(event: MonitoringEvent): void;
  log(level: "debug" | "info" | "warning" | "error", message: string): void;
}

interface Pending {
  id: number;
  handle: TryHandle;
  /** Rough size of the arguments in bytes (to keep frames small). */
  argBytes: number;
  runningSent: boolean;
}

/**
 * A registered pool, the interchange's own mutable record. Outside this module it is seen only
 * through PoolView (its read-only getters), never changed.
 */
class PoolConn implements PoolView {
  /** Tries this pool may hold now (workers + prefetch). */
  capacity: number;
  /** Moving average of its tries' run time, µs (null until the first result). */
  avgTryMicros: number | null = null;
  readonly tries = new Map<number, Pending>();
  readonly sources = new Set<string>();
  active: boolean;
  /** Pool clock minus our clock, in µs; from the lowest-RTT ping seen. */
  offset: number;
  bestRtt = Infinity;
  lastHeartbeat: Micros;
  /** The stall total (µs) when it was last heard from; see Interchange.checkHeartbeats. */
  private stallAtHeard: number;
  constructor(
    readonly uid: string,
    readonly link: PoolLink,
    readonly reg: RegisterMessage,
    capacity: number,
    active: boolean,
    now: Micros,
    private readonly stall: { micros: number },
  ) {
    this.capacity = capacity;
    this.active = active;
    this.offset = reg.clock - now;
    this.lastHeartbeat = now;
    this.stallAtHeard = stall.micros;
  }
  heard(now: Micros): void {
    this.lastHeartbeat = now;
    this.stallAtHeard = this.stall.micros;
  }
  get lastHeard(): Micros {
    return this.lastHeartbeat + (this.stall.micros - this.stallAtHeard);
  }
  get hostname(): string {
    return this.reg.hostname;
  }
  get blockId(): string {
    return this.reg.blockId;
  }
  get workerCount(): number {
    return this.reg.workerCount;
  }
  get inflight(): number {
    return this.tries.size;
  }
  /** A detached copy, for callers outside the interchange. */
  view(): PoolView {
    return Object.freeze({
      uid: this.uid,
      hostname: this.hostname,
      blockId: this.blockId,
      workerCount: this.workerCount,
      capacity: this.capacity,
      inflight: this.inflight,
      active: this.active,
      lastHeartbeat: this.lastHeartbeat,
      lastHeard: this.lastHeard,
    });
  }
}

/** Auto prefetch: queue about this much work per worker on a pool, so it never waits for a round trip. */
const PREFETCH_TARGET_MICROS = 20_000;
const PREFETCH_AUTO_MAX = 1024;

/** Argument bytes per tasks frame before a new frame is started. */
const MAX_FRAME_ARG_BYTES = 512 * 1024;

/** A gap this much longer than the check period between two heartbeat checks is our own loop stalling. */
const STALL_SLACK_MICROS = 100_000;

export class Interchange {
  private readonly server: ThreadedPoolServer;
  private readonly pools = new Map<string, PoolConn>();
  /** The same pools as an array, for the dispatch policy (kept in step with `pools`). */
  private poolArray: PoolConn[] = [];
  private cursor = 0;
  private readonly queue: Pending[] = [];
  /** Where the queue starts in `queue` (shifting an array per dispatch is O(n)). */
  private queueHead = 0;
  private inflightTotal = 0;
  private nextId = 1;
  private dispatchScheduled = false;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private lastCheck: Micros = 0;
  /** Total time (µs) this thread's event loop was stalled past the heartbeat check's period. */
  private readonly stall = { micros: 0 };
  private closing = false;
  /** Called when a pool registers or goes away. */
  onPoolChange: (() => void) | null = null;

  constructor(private readonly o: InterchangeOptions) {
    this.server = new ThreadedPoolServer(
      {
        label: o.label,
        secret: o.secret,
        address: o.address,
        portRange: o.portRange,
        ...(o.tls ? { tls: o.tls } : {}),
        welcome: {
          runId: o.runId,
          resourceInterval: o.resourceInterval,
          resourceMonitoring: o.resourceMonitoring,
          heartbeatPeriod: o.heartbeatPeriod,
          heartbeatThreshold: o.heartbeatThreshold,
        },
        log: (level, m) => o.log(level, m),
      },
      {
        registered: (link, reg) => this.register(link, reg),
      },
    );
  }

  get port(): number {
    return this.server.port;
  }

  /** Connections refused or dropped for bad data (for tests and logs). */
  get rejected(): number {
    return this.server.rejected;
  }

  async start(): Promise<number> {
    const port = await this.server.listen();
    const periodMs = Math.max(50, this.o.heartbeatPeriod * 1000);
    this.lastCheck = nowMicros();
    this.heartbeatTimer = setInterval(() => this.checkHeartbeats(periodMs * 1000), periodMs);
    this.heartbeatTimer.unref();
    return port;
  }

  // ------------------------------------------------------------ submit side

  submit(handle: TryHandle): void {
    if (this.closing) {
      handle.finished({ ok: false, error: new TaskCancelled(`executor '${this.o.label}' is shut down`) });
      return;
    }
    if (handle.app.source === null) {
      handle.finished({
        ok: false,
        error: new Error(
          `app ${handle.app.name} cannot run on executor ${this.o.label}: its function's source is not available (bound or native functions cannot be sent to workers)`,
        ),
      });
      return;
    }
    const argBytes = approxSize(handle.args, 3);
    if (argBytes > MAX_VALUE_BYTES) {
      handle.finished({ ok: false, error: tooLarge(handle.taskId, handle.app.name, argBytes, "about ") });
      return;
    }
    if (!this.busy) this.setBusy(true);
    this.queue.push({ id: this.nextId++, handle, argBytes, runningSent: false });
    this.scheduleDispatch();
  }

  private busy = false;
  private setBusy(b: boolean): void {
    this.busy = b;
    this.server.setKeepAlive(b);
  }

  private checkIdle(): void {
    if (this.busy && this.outstanding() === 0) this.setBusy(false);
  }

  /** Blocks being scaled in: their pools get no more tries (Parsl's manager hold). */
  private readonly heldBlocks = new Set<string>();

  /** Stops dispatching to a block's pools before it is cancelled; their node rows go inactive. */
  holdBlock(blockId: string): void {
    this.heldBlocks.add(blockId);
    for (const p of this.pools.values()) {
      if (p.reg.blockId === blockId && p.active) {
        p.active = false;
        this.emitNode(p);
      }
    }
  }

  /** Tries queued or on pools. */
  outstanding(): number {
    return this.queue.length - this.queueHead + this.inflightTotal;
  }

  /** The pools as they are now: detached read-only copies. */
  poolViews(): PoolView[] {
    return this.poolArray.map((p) => p.view());
  }

  poolCount(): number {
    return this.poolArray.length;
  }

  private scheduleDispatch(): void {
    if (this.dispatchScheduled) return;
    this.dispatchScheduled = true;
    setImmediate(() => {
      this.dispatchScheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    const pending = this.queue.length - this.queueHead;
    if (pending === 0 || this.closing) return;
    const d = assignTries({
      pending,
      pools: this.poolArray,
      now: nowMicros(),
      cursor: this.cursor,
      silentAfter: (this.o.heartbeatThreshold * 1e6) / 2,
    });
    this.cursor = d.cursor;
    for (const a of d.assignments) {
      const p = this.poolArray[a.pool]!;
      const from = this.queueHead;
      this.queueHead += a.count;
      let items: TaskItem[] = [];
      let bytes = 0;
      for (let i = from; i < this.queueHead; i++) {
        const t = this.queue[i]!;
        p.tries.set(t.id, t);
        const h = t.handle;
        const item: TaskItem = {
          id: t.id,
          taskId: h.taskId,
          tryId: h.tryId,
          appName: h.app.name,
          kind: h.app.kind,
          sourceId: h.app.sourceId,
          args: h.args as unknown[],
          argBytes: t.argBytes,
          options: optionsToWire(h.options),
        };
        if (!p.sources.has(h.app.sourceId)) {
          p.sources.add(h.app.sourceId);
          item.source = h.app.source!;
          if (h.app.origin) item.origin = h.app.origin;
        }
        items.push(item);
        bytes += t.argBytes;
        // Keep frames small enough that the pool can start on the first tries while the rest stream in.
        if (bytes >= MAX_FRAME_ARG_BYTES && i < this.queueHead - 1) {
          this.sendTasks(p, items);
          items = [];
          bytes = 0;
        }
      }
      const wasIdle = p.tries.size === a.count;
      this.inflightTotal += a.count;
      this.sendTasks(p, items);
      // A node row when the pool goes from idle to busy (and back, in onResults): Parsl's one
      // task gives its 4 rows, and a pool kept busy does not write a row per batch.
      if (wasIdle) this.emitNode(p);
    }
    // Drop the dispatched head once it is large, so the array does not grow without end.
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead > 4096 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }

  /** A try leaves a pool (answered, refused, or lost). */
  private takeTry(p: PoolConn, id: number): Pending | undefined {
    const t = p.tries.get(id);
    if (t) {
      p.tries.delete(id);
      this.inflightTotal--;
    }
    return t;
  }

  // ------------------------------------------------------------ pools

  private register(link: PoolLink, reg: RegisterMessage): PoolHandler {
    const capacity = reg.workerCount + (this.o.prefetchCapacity === "auto" ? 0 : this.o.prefetchCapacity);
    const p = new PoolConn(reg.uid, link, reg, capacity, !this.heldBlocks.has(reg.blockId), nowMicros(), this.stall);
    this.pools.set(reg.uid, p);
    this.poolArray.push(p);
    this.o.log(
      "info",
      `htex ${this.o.label}: pool ${reg.uid} registered from ${reg.hostname}, block ${reg.blockId}, ${reg.workerCount} workers`,
    );
    this.emitNode(p);
    this.onPoolChange?.();
    this.scheduleDispatch();
    return { message: (m) => this.onPoolMessage(p, m), closed: (why) => this.dropPool(p, why) };
  }

  /**
   * Arguments are serialized here, once, as part of the batch. A try whose arguments cannot
   * be serialized (functions, symbols…) fails alone with an error naming its app.
   */
  private sendTasks(p: PoolConn, items: TaskItem[]): void {
    let payload: Buffer;
    try {
      payload = encodeMessage({ t: "tasks", items });
    } catch {
      const good: TaskItem[] = [];
      for (const it of items) {
        try {
          encodeMessage(it.args);
          good.push(it);
        } catch (e) {
          const t = this.takeTry(p, it.id);
          t?.handle.finished({
            ok: false,
            error: new SerializationError(
              `task ${it.taskId}: the arguments of app '${it.appName}' cannot be sent to a worker process (${(e as Error).message}); pass plain data`,
            ),
          });
        }
      }
      if (good.length === 0) return;
      payload = encodeMessage({ t: "tasks", items: good });
      items = good;
    }
    if (payload.length > DEFAULT_MAX_FRAME) {
      // Over the frame limit (the size estimate at submit was low): split, and refuse a lone try.
      if (items.length > 1) {
        const mid = items.length >> 1;
        this.sendTasks(p, items.slice(0, mid));
        this.sendTasks(p, items.slice(mid));
        return;
      }
      const it = items[0]!;
      const t = this.takeTry(p, it.id);
      t?.handle.finished({ ok: false, error: tooLarge(it.taskId, it.appName, payload.length, "") });
      return;
    }
    p.link.sendEncoded(payload);
  }

  private onPoolMessage(p: PoolConn, m: PoolMessage): void {
    const now = nowMicros();
    p.heard(now);
    switch (m.t) {
      case "results":
        this.onResults(p, m);
        break;
      case "pong": {
        const rtt = now - m.t0;
        if (rtt >= 0 && rtt < p.bestRtt) {
          p.bestRtt = rtt;
          p.offset = m.clock - (m.t0 + now) / 2;
        }
        break;
      }
      case "heartbeat":
        break; // the pool server has answered it; hearing it is what counts (above)
    }
  }

  private onResults(p: PoolConn, m: ResultsMessage): void {
    const where = { hostname: p.reg.hostname, blockId: p.reg.blockId };
    const fix = (t: number): Micros => Math.round(t - p.offset);
    for (const s of m.started) {
      const t = p.tries.get(s.id);
      if (t && !t.runningSent) {
        t.runningSent = true;
        t.handle.running(fix(s.at), where);
      }
    }
    for (const s of m.samples) {
      const t = p.tries.get(s.id);
      if (t) this.emitResource(t.handle, s.sample, fix);
    }
    for (const r of m.items) {
      const t = this.takeTry(p, r.id);
      if (!t) continue; // already failed (e.g. pool declared lost) or a duplicate
      if (!t.runningSent) {
        t.runningSent = true;
        t.handle.running(fix(r.startedAt), where);
      }
      if (r.sample) this.emitResource(t.handle, r.sample, fix);
      const endedAt = fix(r.endedAt);
      if (r.ok) {
        let value: unknown;
        try {
          value = deserialize(r.value!);
        } catch (e) {
          t.handle.finished({
            ok: false,
            error: new Error(`result of app ${t.handle.app.name} could not be decoded: ${(e as Error).message}`),
            endedAt,
          });
          continue;
        }
        t.handle.finished({ ok: true, value, endedAt });
      } else {
        const err = r.lost ? new WorkerLost(r.lost.message, r.lost.exitCode ?? null) : errorFromWire(r.error!);
        t.handle.finished({ ok: false, error: err, endedAt });
      }
    }
    if (m.items.length > 0) {
      this.checkIdle();
      if (this.o.prefetchCapacity === "auto") this.adaptCapacity(p, m);
      if (p.tries.size === 0) this.emitNode(p);
      this.scheduleDispatch();
    }
  }

  private adaptCapacity(p: PoolConn, m: ResultsMessage): void {
    let avg = p.avgTryMicros;
    for (const r of m.items) {
      const d = Math.max(1, r.endedAt - r.startedAt);
      avg = avg === null ? d : avg * 0.9 + d * 0.1;
    }
    p.avgTryMicros = avg;
    const perWorker = Math.floor(PREFETCH_TARGET_MICROS / Math.max(avg ?? Infinity, 1));
    p.capacity = p.reg.workerCount + Math.min(PREFETCH_AUTO_MAX, p.reg.workerCount * perWorker);
  }

  private emitResource(h: TryHandle, s: ResourceSample, fix: (t: number) => Micros): void {
    this.o.emit(resourceRow(h.taskId, h.tryId, fix(s.timestamp), this.o.resourceInterval, s));
  }

  private emitNode(p: PoolConn): void {
    this.o.emit(
      nodeRow({
        hostname: p.reg.hostname,
        uid: p.uid,
        block_id: p.reg.blockId,
        cpu_count: p.reg.cpuCount,
        total_memory: p.reg.totalMemory,
        active: p.active,
        worker_count: p.reg.workerCount,
        python_v: p.reg.nodeVersion,
        timestamp: nowMicros(),
        last_heartbeat: p.lastHeartbeat,
      }),
    );
  }

  /**
   * Declares pools lost that were silent past the threshold. Silence is counted only while this
   * thread's event loop ran: if the loop was stalled (a user's long synchronous loop on the
   * kernel's thread), pools' messages waited unread in socket buffers, and the stall is not
   * theirs. A stall shows as a gap between two checks longer than the check's period.
   */
  private checkHeartbeats(periodMicros: number): void {
    const now = nowMicros();
    const gap = now - this.lastCheck;
    this.lastCheck = now;
    if (gap > periodMicros + STALL_SLACK_MICROS) this.stall.micros += gap - periodMicros;
    const threshold = this.o.heartbeatThreshold * 1e6;
    for (const p of this.poolArray) {
      const silent = now - p.lastHeard;
      if (silent > threshold) {
        this.o.log(
          "warning",
          `htex ${this.o.label}: pool ${p.uid} (block ${p.reg.blockId}) missed heartbeats for ${this.o.heartbeatThreshold} s`,
        );
        p.link.destroy();
        this.dropPool(p, `no heartbeat for ${this.o.heartbeatThreshold} s`);
      }
    }
  }

  /** Removes a pool: node row goes inactive, its unfinished tries fail with WorkerLost. */
  private dropPool(p: PoolConn, why: string): void {
    if (this.pools.get(p.uid) !== p) return;
    this.pools.delete(p.uid);
    this.poolArray = this.poolArray.filter((q) => q !== p);
    if (p.active) {
      p.active = false;
      this.emitNode(p);
    }
    const lost = [...p.tries.values()];
    this.inflightTotal -= lost.length;
    p.tries.clear();
    if (lost.length > 0 && !this.closing) {
      this.o.log(
        "warning",
        `htex ${this.o.label}: pool ${p.uid} (block ${p.reg.blockId}) lost with ${lost.length} tries: ${why}`,
      );
    }
    for (const t of lost) {
      t.handle.finished({
        ok: false,
        // A pool the executor's own shutdown stopped did not lose the try: it was cancelled.
        error: this.closing
          ? new TaskCancelled(`executor '${this.o.label}' shut down before task ${t.handle.taskId} finished`)
          : new WorkerLost(
              `worker lost: worker pool ${p.uid} on ${p.reg.hostname} (block ${p.reg.blockId}) went away (${why}) while running task ${t.handle.taskId} try ${t.handle.tryId}`,
            ),
      });
    }
    this.checkIdle();
    this.onPoolChange?.();
  }

  /** Bounded: asks pools to stop, waits at most `graceMs`, fails whatever is left. */
  async shutdown(graceMs = 2000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    for (const p of this.poolArray) p.link.send({ t: "shutdown" });
    const queued = this.queue.splice(this.queueHead);
    this.queue.length = 0;
    this.queueHead = 0;
    for (const t of queued)
      t.handle.finished({
        ok: false,
        error: new TaskCancelled(`executor '${this.o.label}' shut down before task ${t.handle.taskId} started`),
      });
    await this.server.close(graceMs);
    for (const p of [...this.poolArray]) this.dropPool(p, "the executor shut down");
  }
}

function tooLarge(taskId: number, appName: string, bytes: number, about: string): SerializationError {
  return new SerializationError(
    `task ${taskId}: the arguments of app '${appName}' take ${about}${mebibytes(bytes)}, over the ` +
      `${mebibytes(MAX_VALUE_BYTES)} a try may carry to a worker process; pass a file path instead`,
  );
}

/** A cheap estimate of how many bytes a value serializes to (strings and binary dominate). */
export function approxSize(v: unknown, depth: number): number {
  if (typeof v === "string") return v.length;
  if (v instanceof Uint8Array) return v.byteLength;
  if (ArrayBuffer.isView(v)) return v.byteLength;
  if (depth > 0 && Array.isArray(v)) {
    let n = 8;
    for (let i = 0; i < v.length && i < 1000; i++) n += approxSize(v[i], depth - 1);
    return n;
  }
  if (depth > 0 && typeof v === "object" && v !== null) {
    let n = 8,
      i = 0;
    for (const k in v) {
      if (i++ >= 1000) break;
      n += k.length + approxSize((v as Record<string, unknown>)[k], depth - 1);
    }
    return n;
  }
  return 16;
}
