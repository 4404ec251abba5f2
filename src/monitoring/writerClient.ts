/**
 * The kernel's side of the monitoring database writer. `emit()` only pushes onto an array;
 * events leave in batches (4096 events, or 20 ms after the first pending one) as frames on
 * the writer's stdin. Every frame is kept until the writer acknowledges its commit, so a
 * writer that dies (any signal) is restarted and the unacknowledged frames are resent in
 * order; the database's upserts make the replay harmless. Monitoring never stops the
 * workflow: after too many restarts it gives up loudly and the kernel carries on.
 */
import { fork, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import type { Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { inheritableExecArgv } from "../childArgv.js";
import { describeEndpoint, parseEndpoint } from "../database/endpoint.js";
import { encodeFrame } from "./frames.js";
import type { MonitoringEvent, WriterReply } from "./messages.js";

export interface MonitoringWriterOptions {
  endpoint: string;
  runId: string;
  runDir: string;
  debug?: boolean;
  heartbeatSeconds?: number;
  onWarning?: (msg: string) => void;
  /** How long close() waits for the writer before killing it (default 30 s). */
  closeTimeoutMs?: number;
  /** Warn once when this many bytes of batches wait for the writer (default 256 MiB). */
  backlogWarnBytes?: number;
  /**
   * Above this many bytes of unacknowledged batches the client reports `congested`, and the
   * kernel holds new launches until the backlog halves (default 64 MiB). This bounds memory
   * when a workflow produces events faster than the database can take them.
   */
  backlogLimitBytes?: number;
  /**
   * @internal false sends every frame through the writer's stdin stream: the fallback used
   * when Node does not give out the pipe's descriptor (see pipeFd), forced for its tests.
   */
  directPipeWrites?: boolean;
}

const FLUSH_EVENTS = 4096;
const FLUSH_DELAY_MS = 20;
const MAX_RESTARTS = 5;
/** Warn once when this much encoded data waits for the writer (it is kept, not dropped). */
const BACKLOG_WARN_BYTES = 256 * 2 ** 20;
const BACKLOG_LIMIT_BYTES = 64 * 2 ** 20;
const RESTART_WINDOW_MS = 60_000;
/** While frames wait for room in the pipe, emit() tries to write more every this many events. */
const PUSH_EVERY_EVENTS = 256;
/**
 * …and a timer retries after this long when the event loop is free. While the pipe stays full
 * (the writer is inside a transaction) the wait doubles up to PUSH_RETRY_MAX_MS, and emit()
 * does not try before it is over: each failed attempt costs an exception.
 */
const PUSH_RETRY_MS = 1;
const PUSH_RETRY_MAX_MS = 4;
const PREFIX = "parsl-ts monitoring:";
const WRITER_SEMI_SPACE_MB = 32;
/** flushAtExit() waits at most this long for room in the writer's pipe. */
const EXIT_FLUSH_MS = 10_000;
const WRITER_SCRIPT = fileURLToPath(new URL("./writerProcess.js", import.meta.url));

interface SentFrame {
  readonly seq: number;
  readonly frame: Buffer;
}

/**
 * The descriptor of the writer's stdin pipe, or -1. Node exposes it only on the stream's
 * handle (`_handle.fd`, not a public API); it is read before every write, because once the
 * stream is destroyed the handle is gone (and the number may already belong to another file).
 *
 * Why a private field: the only public way to a raw pipe descriptor is a named FIFO
 * (mkfifo, then fs.openSync), and a FIFO holds 64 KiB, which Node cannot enlarge; the socket
 * pair Node makes for stdio "pipe" buffers about three times more (net.core.wmem_default,
 * 208 KiB on Linux), so the writer's transactions get larger batches. Measured with the FIFO, the
 * database-bound rate fell from about 24,000 to 13,500–16,000 tasks/s on a million no-op
 * tasks (git log of this file). Where a Node version lacks the field, pipeFd is -1 and
 * frames go through the stream (`directPipeWrites: false` forces that path for its tests):
 * rows are the same, only emit() can no longer push while the event loop is blocked.
 */
function pipeFd(child: ChildProcess | null): number {
  const fd = (child?.stdin as unknown as { _handle?: { fd?: unknown } | null } | null | undefined)?._handle?.fd;
  return typeof fd === "number" && fd >= 0 ? fd : -1;
}

export class MonitoringWriter {
  private child: ChildProcess | null = null;
  private pending: MonitoringEvent[] = [];
  private unacked: SentFrame[] = [];
  private unackedBytes = 0;
  private backlogWarned = false;
  private seq = 0;
  private timer: NodeJS.Timeout | null = null;
  private counts = { completed: 0, failed: 0 };
  private sentCounts = { completed: 0, failed: 0 };
  private countsDirty = false;
  private restarts: number[] = [];
  private gaveUp = false;
  private started = false;
  private closing = false;
  private closed: Promise<void> | null = null;
  private onClosed: (() => void) | null = null;
  private drainWaiters: Array<() => void> = [];
  /** Last time the writer acknowledged or said anything (close() waits while it makes progress). */
  private lastProgress = Date.now();
  private readonly endpointText: string;
  /**
   * Frames (and the offset into the first) not yet in the current writer's stdin. They are
   * written with non-blocking writeSync on the pipe's descriptor rather than stream.write():
   * a stream only moves data past the pipe's small capacity when this process's event loop
   * runs, so a long synchronous submission loop would leave the writer idle; emit() keeps
   * pushing instead. When false (no descriptor), frames go through the stream.
   */
  private direct = false;
  private outQueue: Buffer[] = [];
  private outOffset = 0;
  private outRetry: NodeJS.Timeout | null = null;
  /** Current wait after finding the pipe full (0 after a successful write), and when it ends. */
  private pushBackoffMs = 0;
  private pipeFullUntil = 0;
  private endWhenWritten = false;

  private constructor(private readonly opts: MonitoringWriterOptions) {
    this.endpointText = describeEndpoint(parseEndpoint(opts.endpoint));
  }

  /** Starts the writer process; resolves once the schema exists, rejects if the database cannot be used. */
  static async start(opts: MonitoringWriterOptions): Promise<MonitoringWriter> {
    const w = new MonitoringWriter(opts); // throws on a malformed endpoint
    await w.spawnFirst();
    return w;
  }

  /** The current writer process's pid (changes after a restart); undefined when none runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Batches not yet acknowledged by the writer (for tests and diagnostics). */
  get unacknowledged(): number {
    return this.unacked.length;
  }

  /** True while the backlog of unacknowledged batches is over the limit: hold new work. */
  get congested(): boolean {
    return this.unackedBytes > this.backlogLimit;
  }

  /** Bytes of batches sent and not yet acknowledged. */
  get backlogBytes(): number {
    return this.unackedBytes;
  }

  /** Call `fn` once the backlog has fallen below half the limit (at once if it is). */
  onDrained(fn: () => void): void {
    if (this.unackedBytes <= this.backlogLimit / 2) fn();
    else {
      this.drainWaiters.push(fn);
      // Work is waiting on the writer's acknowledgements: they must be able to keep Node alive.
      if (this.child) this.refChild(this.child, true);
    }
  }

  private get backlogLimit(): number {
    return this.gaveUp ? Infinity : this.opts.backlogLimitBytes ?? BACKLOG_LIMIT_BYTES;
  }

  emit(e: MonitoringEvent): void {
    if (this.gaveUp || this.closing) return; // after close() there is no writer to take it
    this.pending.push(e);
    if (this.pending.length >= FLUSH_EVENTS) this.flush();
    else {
      if (this.timer === null) this.armTimer();
      if (this.outQueue.length > 0 && this.pending.length % PUSH_EVERY_EVENTS === 0 && performance.now() >= this.pipeFullUntil) this.pushOut();
    }
  }

  setCounts(completed: number, failed: number): void {
    if (completed === this.counts.completed && failed === this.counts.failed) return;
    this.counts = { completed, failed };
    this.countsDirty = completed !== this.sentCounts.completed || failed !== this.sentCounts.failed;
    if (this.countsDirty && this.timer === null && !this.gaveUp) this.armTimer();
  }

  /** Sends everything pending as one batch now. */
  flush(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.gaveUp || this.closing || (this.pending.length === 0 && !this.countsDirty)) return;
    const events = this.pending;
    this.pending = [];
    if (this.countsDirty) {
      events.push({ t: "counts", tasks_completed_count: this.counts.completed, tasks_failed_count: this.counts.failed });
      this.sentCounts = this.counts;
      this.countsDirty = false;
    }
    this.send(events);
  }

  /**
   * Encodes and sends one batch. A batch over the frame size limit is split in two; an event
   * that cannot be encoded (a BigInt, a cycle, a single event over the limit) is dropped alone,
   * with a warning. Never throws: emit() and flush() are called from the kernel's hot path.
   */
  private send(events: MonitoringEvent[]): void {
    let frame: Buffer;
    const drop = (e: MonitoringEvent, err: Error): void =>
      this.warn(`dropped a monitoring event that cannot be encoded (${err.message}): type ${String((e as { t?: unknown }).t)}`);
    try {
      frame = encodeFrame({ seq: this.seq + 1, events }, drop);
    } catch (err) {
      if (!(err instanceof RangeError)) {
        this.warn(`dropped a batch of ${events.length} monitoring events: ${(err as Error).message}`); // a bug; never throw here
        return;
      }
      if (events.length > 1) {
        const mid = events.length >> 1;
        this.send(events.slice(0, mid));
        this.send(events.slice(mid));
      } else {
        drop(events[0]!, err);
      }
      return;
    }
    const seq = ++this.seq;
    this.unacked.push({ seq, frame });
    this.unackedBytes += frame.length;
    if (this.unackedBytes > (this.opts.backlogWarnBytes ?? BACKLOG_WARN_BYTES) && !this.backlogWarned) {
      this.backlogWarned = true;
      this.warn(`the database writer is ${this.unacked.length} batches behind; ${Math.round(this.unackedBytes / 2 ** 20)} MiB of ` +
        `monitoring data wait in memory (nothing is dropped; ${this.endpointText} is slower than this workflow)`);
    }
    if (this.child) this.output(this.child, frame);
  }

  /** Sends one frame to the current writer: directly to its pipe when possible, else through the stream. */
  private output(child: ChildProcess, frame: Buffer): void {
    if (!this.direct) {
      if (child.stdin?.writable) child.stdin.write(frame);
      return;
    }
    this.outQueue.push(frame);
    this.pushOut();
  }

  /** Writes queued frames until the pipe is full (then retries soon) or the queue is empty. */
  private pushOut(): void {
    if (this.direct) {
      const outcome = this.writeQueued();
      if (outcome === "full") {
        this.pushBackoffMs = Math.min(PUSH_RETRY_MAX_MS, Math.max(PUSH_RETRY_MS, this.pushBackoffMs * 2));
        this.pipeFullUntil = performance.now() + this.pushBackoffMs;
        this.armPushRetry();
        return;
      }
      if (outcome === "gone") {
        // The stream was destroyed or the pipe broke (the writer exited): its exit restarts it and
        // resends every unacknowledged frame. Hand the rest to the stream, whose errors are handled.
        this.toStream();
        return;
      }
    }
    if (this.outQueue.length === 0 && this.endWhenWritten) this.endInput();
  }

  /** Writes queued frames into the writer's pipe (non-blocking) until it is full or they are all in. */
  private writeQueued(): "empty" | "full" | "gone" {
    while (this.outQueue.length > 0) {
      const fd = pipeFd(this.child);
      if (fd < 0) return "gone";
      const frame = this.outQueue[0]!;
      try {
        this.outOffset += fs.writeSync(fd, frame, this.outOffset);
      } catch (err) {
        return (err as NodeJS.ErrnoException).code === "EAGAIN" ? "full" : "gone";
      }
      this.pushBackoffMs = 0;
      if (this.outOffset >= frame.length) {
        this.outQueue.shift();
        this.outOffset = 0;
      }
    }
    return "empty";
  }

  /**
   * For a process 'exit' handler, after which nothing asynchronous runs: sends what is pending
   * and writes every frame not yet in the writer's pipe, waiting (blocking, at most
   * `timeoutMs`) while the pipe is full. The writer reads it all after this process is gone.
   * Frames already handed to the stream (no direct descriptor) cannot be forced out here.
   */
  flushAtExit(timeoutMs = EXIT_FLUSH_MS): void {
    if (this.gaveUp) return;
    if (!this.closing) this.flush();
    const deadline = Date.now() + timeoutMs;
    const pause = new Int32Array(new SharedArrayBuffer(4));
    // The pipe is full: give the writer a millisecond to read, then try again.
    while (this.direct && this.writeQueued() === "full" && Date.now() <= deadline) Atomics.wait(pause, 0, 0, 1);
  }

  private armPushRetry(): void {
    if (this.outRetry !== null) return;
    this.outRetry = setTimeout(() => {
      this.outRetry = null;
      this.pushOut();
    }, this.pushBackoffMs || PUSH_RETRY_MS);
    this.outRetry.unref(); // the writer's own refs decide whether Node stays alive
  }

  /** Gives up direct writes for the current writer: what is queued goes through its stream. */
  private toStream(): void {
    const child = this.child;
    const queue = this.outQueue;
    const offset = this.outOffset;
    this.direct = false;
    this.outQueue = [];
    this.outOffset = 0;
    if (child?.stdin?.writable) queue.forEach((f, i) => child.stdin!.write(i === 0 ? f.subarray(offset) : f));
    if (this.endWhenWritten) this.endInput();
  }

  /** Ends the writer's input once every queued byte is in its pipe (close(), or a restart while closing). */
  private endWhenAllWritten(): void {
    this.endWhenWritten = true;
    if (this.outQueue.length === 0 || !this.direct) this.endInput();
  }

  private endInput(): void {
    this.endWhenWritten = false;
    this.child?.stdin?.end();
  }

  /** Bytes handed to us for the current writer that are not yet in its pipe. */
  private get unwrittenBytes(): number {
    let n = -this.outOffset;
    for (const f of this.outQueue) n += f.length;
    return n + (this.child?.stdin?.writableLength ?? 0);
  }

  /**
   * Flushes and lets the writer finish and exit. Never hangs and never throws data away
   * while the writer is healthy: it waits as long as the writer makes progress; if the
   * writer stalls (a lock held by another program) after it has received every byte, it is
   * left to finish on its own in the background. Only a writer that stops reading its input
   * for the close timeout is killed.
   */
  close(): Promise<void> {
    if (this.closed) return this.closed;
    this.flush(); // before `closing` is set: flush() refuses afterwards
    this.closing = true;
    this.closed = new Promise<void>((resolve) => {
      this.onClosed = resolve;
    });
    const child = this.child;
    if (!child) {
      this.finishClose();
      return this.closed;
    }
    this.refChild(child, true);
    this.endWhenAllWritten();
    const limit = this.opts.closeTimeoutMs ?? 30_000;
    this.lastProgress = Date.now();
    const watchdog = setInterval(() => {
      const c = this.child;
      if (!c || Date.now() - this.lastProgress < limit) return;
      const handedOver = this.unwrittenBytes === 0;
      if (handedOver) {
        this.warn(`the database writer (pid ${c.pid}) has made no progress for ${limit / 1000} s (is ${this.endpointText} locked?); ` +
          `it holds all ${this.unacked.length} remaining batches and will finish writing them on its own after this process exits`);
        this.refChild(c, false);
        this.child = null;
        this.finishClose();
      } else {
        this.error(`the database writer (pid ${c.pid}) stopped reading for ${limit / 1000} s; killing it. ` +
          `${this.unacked.length} batches were not confirmed written to ${this.endpointText}`);
        this.gaveUp = true;
        c.kill("SIGKILL");
      }
    }, Math.min(1000, limit));
    void this.closed.then(() => clearInterval(watchdog));
    return this.closed;
  }

  // ------------------------------------------------------------------ process management

  private armTimer(): void {
    this.timer = setTimeout(() => this.flush(), FLUSH_DELAY_MS);
    this.timer.unref();
  }

  private spawnFirst(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let lastError = "";
      const child = this.spawn((reply) => {
        if (reply.type === "ready" && !this.started) {
          this.started = true;
          this.refChild(child, false);
          resolve();
        } else if (reply.type === "error") {
          lastError = reply.message;
        }
      });
      child.on("exit", (code, signal) => {
        if (this.started) return this.onExit(child, code, signal);
        if (this.child === child) this.child = null;
        reject(new Error(lastError ||
          `monitoring database writer for ${this.endpointText} exited before it was ready (${signal ?? `exit code ${code}`})`));
      });
      // While start() is awaited the child must keep the event loop alive, or Node would exit before `ready`.
      this.refChild(child, true);
    });
  }

  private spawn(onReply: (r: WriterReply) => void): ChildProcess {
    const args = ["--endpoint", this.opts.endpoint, "--run-id", this.opts.runId, "--run-dir", this.opts.runDir];
    if (this.opts.heartbeatSeconds !== undefined) args.push("--heartbeat", String(this.opts.heartbeatSeconds));
    if (this.opts.debug) args.push("--debug");
    const child = fork(WRITER_SCRIPT, args, {
      stdio: ["pipe", "ignore", "inherit", "ipc"],
      detached: true, // own process group: a terminal's Ctrl-C goes to the kernel, which then closes us in order
      serialization: "json",
      // The writer allocates short-lived objects per event; a larger young generation lets them
      // die there instead of being promoted and collected by the (much dearer) full GC.
      execArgv: [...inheritableExecArgv(), `--max-semi-space-size=${WRITER_SEMI_SPACE_MB}`],
    });
    this.child = child;
    child.stdin!.on("error", () => {
      /* EPIPE when the writer died; its exit event restarts it */
    });
    child.on("error", (err) => this.warn(`database writer process error: ${err.message}`));
    child.on("message", (m: WriterReply) => {
      this.lastProgress = Date.now();
      switch (m?.type) {
        case "ack": this.acked(m.seq); break;
        case "warning": this.warn(m.message); break;
        case "note": process.stderr.write(`${PREFIX} ${m.message}\n`); break;
        case "error": if (this.started) this.warn(m.message); break; // before ready, start() rejects with it
        default: break;
      }
      onReply(m);
    });
    if (this.outRetry !== null) clearTimeout(this.outRetry);
    this.outRetry = null;
    this.direct = this.opts.directPipeWrites !== false && pipeFd(child) >= 0;
    this.outQueue = [];
    this.outOffset = 0;
    for (const f of this.unacked) this.output(child, f.frame);
    return child;
  }

  private acked(seq: number): void {
    let n = 0;
    while (n < this.unacked.length && this.unacked[n]!.seq <= seq) this.unackedBytes -= this.unacked[n++]!.frame.length;
    if (n > 0) this.unacked.splice(0, n);
    if (this.unackedBytes < (this.opts.backlogWarnBytes ?? BACKLOG_WARN_BYTES) / 2) this.backlogWarned = false;
    this.releaseDrainWaiters();
  }

  private releaseDrainWaiters(): void {
    if (this.drainWaiters.length === 0 || this.unackedBytes > this.backlogLimit / 2) return;
    const ws = this.drainWaiters;
    this.drainWaiters = [];
    if (this.child && !this.closing) this.refChild(this.child, false);
    for (const w of ws) w();
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = null;
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    if (this.closing && (this.gaveUp || (code === 0 && signal === null) || this.unacked.length === 0)) {
      this.finishClose();
      return;
    }
    if (this.gaveUp) return;
    const now = Date.now();
    this.restarts = this.restarts.filter((t) => now - t < RESTART_WINDOW_MS);
    if (this.restarts.length >= MAX_RESTARTS) {
      this.gaveUp = true;
      this.error(`the database writer for ${this.endpointText} died ${MAX_RESTARTS + 1} times within a minute (last: ${how}); ` +
        `monitoring is off for the rest of this run and ${this.unacked.length} batches are not written. The workflow continues.`);
      this.unacked = [];
      this.unackedBytes = 0;
      this.pending = [];
      this.releaseDrainWaiters();
      if (this.closing) this.finishClose();
      return;
    }
    this.restarts.push(now);
    this.warn(`the database writer (pid ${child.pid}) exited unexpectedly (${how}); restarting it and resending ` +
      `${this.unacked.length} unacknowledged batches`);
    const next = this.spawn(() => {});
    next.on("exit", (c, s) => this.onExit(next, c, s));
    if (this.closing) {
      this.refChild(next, true);
      this.endWhenAllWritten();
    } else {
      this.refChild(next, this.drainWaiters.length > 0);
    }
  }

  private finishClose(): void {
    this.unacked = [];
    this.unackedBytes = 0;
    this.releaseDrainWaiters();
    const done = this.onClosed;
    this.onClosed = null;
    done?.();
  }

  /** The writer must not keep the kernel alive, except while start() or close() waits for it. */
  private refChild(child: ChildProcess, ref: boolean): void {
    const stdin = child.stdin as Socket | null;
    if (ref) {
      child.ref();
      stdin?.ref?.();
      child.channel?.ref();
    } else {
      child.unref();
      stdin?.unref?.();
      child.channel?.unref();
    }
  }

  private warn(message: string): void {
    process.stderr.write(`${PREFIX} ${message}\n`);
    try {
      this.opts.onWarning?.(message);
    } catch {
      /* a failing callback must not break monitoring */
    }
  }

  private error(message: string): void {
    this.warn(`ERROR: ${message}`);
  }
}
