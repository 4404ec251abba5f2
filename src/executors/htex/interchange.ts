/**
 * The interchange: a TCP (or TLS) server in the submit process that worker pools connect to.
 * It authenticates each connection (HMAC challenge over the run's secret) before reading
 * anything else, queues tries, sends them to pools with free capacity in batches, and turns
 * results, start notices and resource samples into TryHandle callbacks and monitoring rows.
 *
 * It runs in-process (Parsl uses a separate process) so a try costs no extra hop; the
 * per-connection work is frame decoding, which is cheap next to the pools' work.
 */
import net from "node:net";
import tls from "node:tls";
import { deserialize } from "node:v8";
import { SerializationError, TaskCancelled } from "../../errors.js";
import { RateLimitedReporter } from "../../rateLimit.js";
import type { TryHandle } from "../base.js";
import { errorFromWire } from "../../apps/errorWire.js";
import { WorkerLost } from "../threadPool.js";
import { optionsToWire } from "../wire.js";
import type { MonitoringEvent, Micros, NodeEvent } from "../../monitoring/messages.js";
import { encodePoolFrame, PoolFrameDecoder, writePoolFrame } from "./poolFrames.js";
import {
  decodeJson, decodeMessage, encodeJson, encodeMessage, HANDSHAKE_MAX_FRAME, DEFAULT_MAX_FRAME, MAX_VALUE_BYTES, mebibytes,
  INTERCHANGE_PROOF_PREFIX, newNonce, nowMicros, parsePoolMessage, parseRegister, proofFor, proofMatches, PROTOCOL_VERSION,
  type RegisterMessage, type ResourceSample, type ResultsMessage, type TaskItem,
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
  pool: PoolConn | null;
  runningSent: boolean;
}

export interface PoolConn {
  uid: string;
  socket: net.Socket;
  reg: RegisterMessage;
  /** Tries this pool may hold now (workers + prefetch). */
  capacity: number;
  /** Moving average of its tries' run time, µs (null until the first result). */
  avgTryMicros: number | null;
  inflight: Map<number, Pending>;
  sources: Set<string>;
  active: boolean;
  /** Pool clock minus our clock, in µs; from the lowest-RTT ping seen. */
  offset: number;
  bestRtt: number;
  registeredAt: Micros;
  lastHeartbeat: Micros;
  lastBusy: number;
}

/** Auto prefetch: queue about this much work per worker on a pool, so it never waits for a round trip. */
const PREFETCH_TARGET_MICROS = 20_000;
const PREFETCH_AUTO_MAX = 1024;

/** Argument bytes per tasks frame before a new frame is started. */
const MAX_FRAME_ARG_BYTES = 512 * 1024;

/** Sockets already refused (and logged), so closing them is not reported twice. */
const refused = new WeakSet<net.Socket>();


export class Interchange {
  private server: net.Server | null = null;
  private readonly pools = new Map<string, PoolConn>();
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private dispatchScheduled = false;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private closing = false;
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  /** Connections refused or dropped for bad data (for tests and logs). */
  rejected = 0;
  /** Called when a pool registers or goes away. */
  onPoolChange: (() => void) | null = null;
  /**
   * Refused and dropped connections, by kind (failed TLS handshakes, strangers that never
   * registered, registered pools that sent garbage): anyone can reach the port, so a flood is
   * folded into a line a second per kind (with counts) instead of a line each.
   */
  private readonly droppedLog: Record<"tls" | "stranger" | "pool", RateLimitedReporter>;

  constructor(private readonly o: InterchangeOptions) {
    const reporter = (): RateLimitedReporter => new RateLimitedReporter((m) => o.log("warning", `htex ${o.label}: ${m}`));
    this.droppedLog = { tls: reporter(), stranger: reporter(), pool: reporter() };
  }

  async start(): Promise<number> {
    const onConn = (s: net.Socket): void => this.accept(s);
    const server = this.o.tls
      ? tls.createServer({ key: this.o.tls.key, cert: this.o.tls.cert }, onConn)
      : net.createServer(onConn);
    // A failed TLS handshake is garbage too: log and keep serving.
    server.on("tlsClientError", (e: Error) => {
      this.rejected++;
      this.droppedLog.tls.add(`TLS handshake failed: ${e.message}`);
    });
    this.server = server;
    const [lo, hi] = this.o.portRange;
    const candidates: number[] = [];
    if (lo === 0 && hi === 0) candidates.push(0);
    else for (let i = 0; i < 50; i++) candidates.push(lo + Math.floor(Math.random() * (hi - lo + 1)));
    let lastErr: Error | null = null;
    for (const p of candidates) {
      try {
        await new Promise<void>((resolve, reject) => {
          server.once("error", reject);
          server.listen(p, this.o.address, () => {
            server.off("error", reject);
            resolve();
          });
        });
        this.port = (server.address() as net.AddressInfo).port;
        if (!this.busy) server.unref(); // an idle executor does not keep Node alive (see setBusy)
        this.heartbeatTimer = setInterval(() => this.checkHeartbeats(), Math.max(50, this.o.heartbeatPeriod * 1000));
        this.heartbeatTimer.unref();
        return this.port;
      } catch (e) {
        lastErr = e as Error;
      }
    }
    throw new Error(`htex ${this.o.label}: cannot listen on ${this.o.address} in port range ${lo}-${hi}: ${lastErr?.message}`);
  }

  // ------------------------------------------------------------ submit side

  submit(handle: TryHandle): void {
    if (this.closing) {
      handle.finished({ ok: false, error: new TaskCancelled(`executor '${this.o.label}' is shut down`) });
      return;
    }
    if (handle.app.source === null) {
      handle.finished({ ok: false, error: new Error(`app ${handle.app.name} cannot run on executor ${this.o.label}: its function's source is not available (bound or native functions cannot be sent to workers)`) });
      return;
    }
    const argBytes = approxSize(handle.args, 3);
    if (argBytes > MAX_VALUE_BYTES) {
      handle.finished({ ok: false, error: tooLarge(handle.taskId, handle.app.name, argBytes, "about ") });
      return;
    }
    if (!this.busy) this.setBusy(true);
    this.queue.push({ id: this.nextId++, handle, argBytes, pool: null, runningSent: false });
    this.scheduleDispatch();
  }

  /**
   * Connections keep Node alive only while tries are out, so a run that forgets cleanup()
   * still ends (its pools then see the connection close and exit).
   */
  private busy = false;
  private setBusy(b: boolean): void {
    this.busy = b;
    // While tries are out, waiting for a pool to connect must keep Node alive too.
    if (this.server) (b ? this.server.ref() : this.server.unref());
    for (const s of this.sockets) (b ? s.ref() : s.unref());
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
    let n = this.queue.length;
    for (const p of this.pools.values()) n += p.inflight.size;
    return n;
  }

  poolList(): PoolConn[] {
    return [...this.pools.values()];
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
    if (this.queue.length === 0) return;
    const pools = [...this.pools.values()].filter((p) => p.active && p.inflight.size < p.capacity);
    if (pools.length === 0) return;
    // Share the queue evenly between pools with room, up to each one's free capacity.
    let remaining = pools.length;
    for (const p of pools) {
      const free = p.capacity - p.inflight.size;
      const share = Math.min(free, Math.ceil(this.queue.length / remaining--));
      if (share <= 0) continue;
      const batch = this.queue.splice(0, share);
      let items: TaskItem[] = [];
      let bytes = 0;
      for (let i = 0; i < batch.length; i++) {
        const t = batch[i]!;
        t.pool = p;
        p.inflight.set(t.id, t);
        const h = t.handle;
        const item: TaskItem = {
          id: t.id, taskId: h.taskId, tryId: h.tryId, appName: h.app.name, kind: h.app.kind,
          sourceId: h.app.sourceId, args: h.args as unknown[], argBytes: t.argBytes, options: optionsToWire(h.options),
        };
        if (!p.sources.has(h.app.sourceId)) {
          p.sources.add(h.app.sourceId);
          item.source = h.app.source!;
          if (h.app.origin) item.origin = h.app.origin;
        }
        items.push(item);
        bytes += t.argBytes;
        // Keep frames small enough that the pool can start on the first tries while the rest stream in.
        if (bytes >= MAX_FRAME_ARG_BYTES && i < batch.length - 1) {
          this.sendTasks(p, items);
          items = [];
          bytes = 0;
        }
      }
      p.lastBusy = Date.now();
      this.sendTasks(p, items);
      this.emitNode(p);
      if (this.queue.length === 0) break;
    }
  }

  // ------------------------------------------------------------ connections

  private accept(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.setNoDelay(true);
    if (!this.busy) socket.unref();
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    const decoder = new PoolFrameDecoder(HANDSHAKE_MAX_FRAME);
    const nonce = newNonce();
    let pool: PoolConn | null = null;
    const authTimer = setTimeout(() => this.refuse(socket, peer, "no registration within 10 s"), 10_000);
    authTimer.unref();

    socket.write(encodePoolFrame(encodeJson({ t: "challenge", nonce, v: PROTOCOL_VERSION })));
    socket.on("data", (chunk: Buffer) => {
      if (socket.destroyed) return;
      let frames: Buffer[];
      try {
        frames = decoder.push(chunk);
      } catch (e) {
        return this.refuse(socket, peer, (e as Error).message, pool);
      }
      for (const f of frames) {
        if (socket.destroyed) return;
        try {
          if (!pool) {
            const reg = parseRegister(decodeJson(f));
            if (!proofMatches(this.o.secret, nonce, reg.proof)) return this.refuse(socket, peer, "wrong secret (authentication failed)");
            if (this.pools.has(reg.uid)) return this.refuse(socket, peer, `duplicate pool uid ${reg.uid}`);
            clearTimeout(authTimer);
            decoder.maxFrameBytes = DEFAULT_MAX_FRAME;
            pool = this.register(socket, reg);
          } else {
            this.onPoolMessage(pool, decodeMessage(f));
          }
        } catch (e) {
          return this.refuse(socket, peer, (e as Error).message, pool);
        }
      }
    });
    socket.on("error", () => { /* reported through close */ });
    socket.on("close", () => {
      clearTimeout(authTimer);
      this.sockets.delete(socket);
      if (!refused.has(socket) && (!pool || decoder.pendingBytes > 0)) {
        this.rejected++;
        this.droppedLog[pool ? "pool" : "stranger"].add(`dropped connection from ${peer}: closed ${pool ? `inside a frame (${decoder.pendingBytes} bytes dropped)` : "before registering"}`);
      }
      if (pool) this.dropPool(pool, "its connection closed");
    });
  }

  private refuse(socket: net.Socket, peer: string, why: string, pool: PoolConn | null = null): void {
    if (refused.has(socket)) return;
    refused.add(socket);
    this.rejected++;
    this.droppedLog[pool ? "pool" : "stranger"].add(`dropped connection from ${peer}${pool ? ` (pool ${pool.uid}, block ${pool.reg.blockId})` : ""}: ${why}`);
    socket.destroy();
    if (pool) this.dropPool(pool, `it sent bad data (${why})`);
  }

  private register(socket: net.Socket, reg: RegisterMessage): PoolConn {
    const now = nowMicros();
    const p: PoolConn = {
      uid: reg.uid, socket, reg, capacity: reg.workerCount + (this.o.prefetchCapacity === "auto" ? 0 : this.o.prefetchCapacity), avgTryMicros: null, inflight: new Map(),
      sources: new Set(), active: !this.heldBlocks.has(reg.blockId), offset: reg.clock - now, bestRtt: Infinity,
      registeredAt: now, lastHeartbeat: now, lastBusy: Date.now(),
    };
    this.pools.set(reg.uid, p);
    this.send(socket, {
      t: "welcome", proof: proofFor(this.o.secret, INTERCHANGE_PROOF_PREFIX + reg.challenge), runId: this.o.runId, resourceInterval: this.o.resourceInterval, resourceMonitoring: this.o.resourceMonitoring,
      heartbeatPeriod: this.o.heartbeatPeriod, heartbeatThreshold: this.o.heartbeatThreshold,
    });
    this.ping(p);
    this.o.log("info", `htex ${this.o.label}: pool ${reg.uid} registered from ${reg.hostname}, block ${reg.blockId}, ${reg.workerCount} workers`);
    this.emitNode(p);
    this.onPoolChange?.();
    this.scheduleDispatch();
    return p;
  }

  private ping(p: PoolConn): void {
    this.send(p.socket, { t: "ping", t0: nowMicros() });
  }

  private send(socket: net.Socket, msg: object): void {
    if (socket.destroyed) return;
    writePoolFrame(socket, encodeMessage(msg));
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
          const t = p.inflight.get(it.id);
          p.inflight.delete(it.id);
          t?.handle.finished({ ok: false, error: new SerializationError(`task ${it.taskId}: the arguments of app '${it.appName}' cannot be sent to a worker process (${(e as Error).message}); pass plain data`) });
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
      const t = p.inflight.get(it.id);
      p.inflight.delete(it.id);
      t?.handle.finished({ ok: false, error: tooLarge(it.taskId, it.appName, payload.length, "") });
      return;
    }
    if (!p.socket.destroyed) writePoolFrame(p.socket, payload);
  }

  private onPoolMessage(p: PoolConn, raw: Record<string, unknown>): void {
    const m = parsePoolMessage(raw);
    const now = nowMicros();
    p.lastHeartbeat = now;
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
        this.send(p.socket, { t: "heartbeat", clock: now });
        this.ping(p);
        break;
    }
  }

  private onResults(p: PoolConn, m: ResultsMessage): void {
    const where = { hostname: p.reg.hostname, blockId: p.reg.blockId };
    const fix = (t: number): Micros => Math.round(t - p.offset);
    for (const s of m.started) {
      const t = p.inflight.get(s.id);
      if (t && !t.runningSent) {
        t.runningSent = true;
        t.handle.running(fix(s.at), where);
      }
    }
    for (const s of m.samples) {
      const t = p.inflight.get(s.id);
      if (t) this.emitResource(t.handle, s.sample, fix);
    }
    for (const r of m.items) {
      const t = p.inflight.get(r.id);
      if (!t) continue; // already failed (e.g. pool declared lost) or a duplicate
      p.inflight.delete(r.id);
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
          t.handle.finished({ ok: false, error: new Error(`result of app ${t.handle.app.name} could not be decoded: ${(e as Error).message}`), endedAt });
          continue;
        }
        t.handle.finished({ ok: true, value, endedAt });
      } else {
        const err = r.error!.name === "WorkerLost" ? new WorkerLost(r.error!.message, r.error!.exitCode ?? null) : errorFromWire(r.error!);
        t.handle.finished({ ok: false, error: err, endedAt });
      }
    }
    if (m.items.length > 0) {
      this.checkIdle();
      if (this.o.prefetchCapacity === "auto") this.adaptCapacity(p, m);
      p.lastBusy = Date.now();
      this.emitNode(p);
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
    this.o.emit({
      t: "resource",
      // Only the known columns are copied: a pool cannot add keys of its own.
      row: {
        try_id: h.tryId, task_id: h.taskId, timestamp: fix(s.timestamp),
        resource_monitoring_interval: this.o.resourceInterval,
        psutil_process_pid: s.psutil_process_pid,
        psutil_process_memory_percent: s.psutil_process_memory_percent,
        psutil_process_children_count: s.psutil_process_children_count,
        psutil_process_time_user: s.psutil_process_time_user,
        psutil_process_time_system: s.psutil_process_time_system,
        psutil_process_memory_virtual: s.psutil_process_memory_virtual,
        psutil_process_memory_resident: s.psutil_process_memory_resident,
        psutil_process_disk_read: s.psutil_process_disk_read,
        psutil_process_disk_write: s.psutil_process_disk_write,
        psutil_process_status: s.psutil_process_status,
        psutil_cpu_num: s.psutil_cpu_num,
        psutil_process_num_ctx_switches_voluntary: s.psutil_process_num_ctx_switches_voluntary,
        psutil_process_num_ctx_switches_involuntary: s.psutil_process_num_ctx_switches_involuntary,
      },
    });
  }

  private emitNode(p: PoolConn): void {
    const ev: NodeEvent = {
      t: "node",
      row: {
        hostname: p.reg.hostname, uid: p.uid, block_id: p.reg.blockId, cpu_count: p.reg.cpuCount,
        total_memory: p.reg.totalMemory, active: p.active, worker_count: p.reg.workerCount,
        python_v: p.reg.nodeVersion, timestamp: nowMicros(), last_heartbeat: p.lastHeartbeat,
      },
    };
    this.o.emit(ev);
  }

  private checkHeartbeats(): void {
    const limit = nowMicros() - this.o.heartbeatThreshold * 1e6;
    for (const p of this.pools.values()) {
      if (p.lastHeartbeat < limit) {
        this.o.log("warning", `htex ${this.o.label}: pool ${p.uid} (block ${p.reg.blockId}) missed heartbeats for ${this.o.heartbeatThreshold} s`);
        p.socket.destroy();
        this.dropPool(p, `no heartbeat for ${this.o.heartbeatThreshold} s`);
      }
    }
  }

  /** Removes a pool: node row goes inactive, its unfinished tries fail with WorkerLost. */
  private dropPool(p: PoolConn, why: string): void {
    if (!this.pools.has(p.uid)) return;
    this.pools.delete(p.uid);
    if (p.active) {
      p.active = false;
      this.emitNode(p);
    }
    const lost = [...p.inflight.values()];
    p.inflight.clear();
    if (lost.length > 0 && !this.closing) {
      this.o.log("warning", `htex ${this.o.label}: pool ${p.uid} (block ${p.reg.blockId}) lost with ${lost.length} tries: ${why}`);
    }
    for (const t of lost) {
      t.handle.finished({
        ok: false,
        // A pool the executor's own shutdown stopped did not lose the try: it was cancelled.
        error: this.closing
          ? new TaskCancelled(`executor '${this.o.label}' shut down before task ${t.handle.taskId} finished`)
          : new WorkerLost(`worker lost: worker pool ${p.uid} on ${p.reg.hostname} (block ${p.reg.blockId}) went away (${why}) while running task ${t.handle.taskId} try ${t.handle.tryId}`),
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
    for (const p of this.pools.values()) this.send(p.socket, { t: "shutdown" });
    const queued = this.queue.splice(0);
    for (const t of queued) t.handle.finished({ ok: false, error: new TaskCancelled(`executor '${this.o.label}' shut down before task ${t.handle.taskId} started`) });
    const deadline = Date.now() + graceMs;
    while (this.sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const s of this.sockets) s.destroy();
    for (const p of [...this.pools.values()]) this.dropPool(p, "the executor shut down");
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    for (const r of Object.values(this.droppedLog)) r.flush(); // the count of what was folded since the last summary
  }
}


function tooLarge(taskId: number, appName: string, bytes: number, about: string): SerializationError {
  return new SerializationError(`task ${taskId}: the arguments of app '${appName}' take ${about}${mebibytes(bytes)}, over the ` +
    `${mebibytes(MAX_VALUE_BYTES)} a try may carry to a worker process; pass a file path instead`);
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
    let n = 8, i = 0;
    for (const k in v) {
      if (i++ >= 1000) break;
      n += k.length + approxSize((v as Record<string, unknown>)[k], depth - 1);
    }
    return n;
  }
  return 16;
}
