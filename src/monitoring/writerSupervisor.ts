/**
 * Keeps one database writer process (writerProcess.ts) alive for a run. The writer reads the
 * run's journal; the supervisor only starts it, learns from its acknowledgements how far the
 * journal is committed, starts a new one from there when it dies, and tells it where the
 * journal ends when the run closes. It never holds monitoring data itself, so a restart resends
 * nothing: the new writer reads on from the last committed byte.
 *
 * A writer that dies too often, or says its error is one that waiting will not fix, is given up
 * (once, loudly); what it did not store stays in the journal for the user to recover.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { inheritableExecArgv } from "../childArgv.js";
import { WRITER_EXIT_FATAL, type WriterCommand, type WriterReply } from "./messages.js";
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
const WRITER_SEMI_SPACE_MB = 32;
const WRITER_SCRIPT = fileURLToPath(new URL("./writerProcess.js", import.meta.url));

export interface WriterSupervisorOptions {
  endpoint: string;
  /** How the endpoint is named in messages (password redacted). */
  endpointText: string;
  runId: string;
  runDir: string;
  journal: string;
  debug?: boolean;
  heartbeatSeconds?: number;
  /** How long close() waits without progress before leaving the writer to finish alone (default 30 s). */
  closeTimeoutMs?: number;
  warn: (message: string) => void;
  note: (message: string) => void;
}

export class WriterSupervisor {
  private child: ChildProcess | null = null;
  private committedOffset = 0;
  private ackedSeq = 0;
  private restarts: number[] = [];
  private gaveUpReason: string | null = null;
  private finishOffset: number | null = null;
  private closed: Promise<void> | null = null;
  private onClosed: (() => void) | null = null;
  private lastProgress = Date.now();
  /** The first writer said it was ready: later errors are warnings, not start-up failures. */
  private started = false;

  private constructor(private readonly opts: WriterSupervisorOptions) {}

  /** Starts the first writer; resolves once it has the schema ready, rejects with its error. */
  static async start(opts: WriterSupervisorOptions): Promise<WriterSupervisor> {
    const s = new WriterSupervisor(opts);
    await s.spawnFirst();
    return s;
  }

  /** The current writer's pid (changes after a restart); undefined when none runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Journal bytes the database has committed. */
  get committed(): number {
    return this.committedOffset;
  }

  /** The number of the last batch committed. */
  get committedSeq(): number {
    return this.ackedSeq;
  }

  /** Why monitoring stopped for this run, or null while a writer is (or will be) at work. */
  get gaveUp(): string | null {
    return this.gaveUpReason;
  }

  /**
   * The journal ends at `offset`: the writer stores it up to there and exits. Resolves when it
   * has (or was given up, or was left to finish alone after `closeTimeoutMs` without progress).
   */
  finish(offset: number): Promise<void> {
    if (this.closed) return this.closed;
    this.finishOffset = offset;
    this.closed = new Promise<void>((resolve) => {
      this.onClosed = resolve;
    });
    const child = this.child;
    if (!child || this.gaveUpReason !== null) {
      this.settle();
      return this.closed;
    }
    this.sendFinish(child);
    const limit = this.opts.closeTimeoutMs ?? 30_000;
    this.lastProgress = Date.now();
    const watchdog = setInterval(
      () => {
        const c = this.child;
        if (!c || Date.now() - this.lastProgress < limit) return;
        // Everything is in the journal and the writer knows where it ends: it can finish alone.
        this.opts.warn(
          `the database writer (pid ${c.pid}) has made no progress for ${limit / 1000} s (is ${this.opts.endpointText} locked, or its disk full?); ` +
            `it will store the remaining ${offset - this.committedOffset} bytes of the journal on its own after this process exits`,
        );
        this.detach(c);
        this.child = null;
        this.settle();
      },
      Math.min(1000, limit),
    );
    void this.closed.then(() => clearInterval(watchdog));
    return this.closed;
  }

  // ------------------------------------------------------------------ process management

  private spawnFirst(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let lastError = "";
      let ready = false;
      const child = this.spawn((reply) => {
        if (reply.type === "ready" && !ready) {
          ready = true;
          this.started = true;
          this.detach(child);
          resolve();
        } else if (reply.type === "error" && !ready) {
          lastError = reply.message;
        }
      });
      child.on("exit", (code, signal) => {
        if (ready) return this.onExit(child, code, signal);
        if (this.child === child) this.child = null;
        reject(
          new Error(
            lastError ||
              `monitoring database writer for ${this.opts.endpointText} exited before it was ready (${signal ?? `exit code ${code}`})`,
          ),
        );
      });
      // While start() is awaited the child must keep the event loop alive, or Node would exit before `ready`.
      this.attach(child);
    });
  }

  private spawn(onReply: (r: WriterReply) => void): ChildProcess {
    const o = this.opts;
    const args = [
      "--endpoint",
      o.endpoint,
      "--run-id",
      o.runId,
      "--run-dir",
      o.runDir,
      "--journal",
      o.journal,
      "--from",
      String(this.committedOffset),
    ];
    if (o.heartbeatSeconds !== undefined) args.push("--heartbeat", String(o.heartbeatSeconds));
    if (o.debug) args.push("--debug");
    const child = fork(WRITER_SCRIPT, args, {
      // No standard streams: a writer that outlives the kernel must not hold the user's terminal
      // or pipe open. It reports over IPC while the kernel lives, and always in database_manager.log.
      stdio: ["ignore", "ignore", "ignore", "ipc"],
      detached: true, // own process group: a terminal's Ctrl-C goes to the kernel, which then closes us in order
      serialization: "json",
      // The writer allocates short-lived objects per event; a larger young generation lets them
      // die there instead of being promoted and collected by the (much dearer) full GC.
      execArgv: [...inheritableExecArgv(), `--max-semi-space-size=${WRITER_SEMI_SPACE_MB}`],
    });
    this.child = child;
    child.on("error", (err) => o.warn(`database writer process error: ${err.message}`));
    child.on("message", (m: WriterReply) => {
      this.lastProgress = Date.now();
      switch (m?.type) {
        case "ack":
          if (Number.isSafeInteger(m.offset) && m.offset > this.committedOffset) this.committedOffset = m.offset;
          if (Number.isSafeInteger(m.seq) && m.seq > this.ackedSeq) this.ackedSeq = m.seq;
          break;
        case "warning":
          o.warn(m.message);
          break;
        case "note":
          o.note(m.message);
          break;
        case "error":
          if (this.started) o.warn(m.message);
          break; // before ready, start() rejects with it
        default:
          break;
      }
      onReply(m);
    });
    return child;
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = null;
    if (this.finishOffset !== null && code === 0 && signal === null) {
      this.settle();
      return;
    }
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    const now = Date.now();
    this.restarts = this.restarts.filter((t) => now - t < RESTART_WINDOW_MS);
    if (code === WRITER_EXIT_FATAL) {
      this.giveUp(
        "the database writer stopped on an error that a restart would meet again (above; also in database_manager.log)",
      );
      return;
    }
    if (this.restarts.length >= MAX_RESTARTS) {
      this.giveUp(
        `the database writer for ${this.opts.endpointText} died ${MAX_RESTARTS + 1} times within a minute (last: ${how})`,
      );
      return;
    }
    this.restarts.push(now);
    this.opts.warn(
      `the database writer (pid ${child.pid}) exited unexpectedly (${how}); starting a new one, ` +
        `which resumes from byte ${this.committedOffset} of the journal`,
    );
    const next = this.spawn(() => {});
    next.on("exit", (c, s) => this.onExit(next, c, s));
    if (this.finishOffset !== null) {
      this.attach(next);
      this.sendFinish(next);
    } else {
      this.detach(next);
    }
  }

  private giveUp(reason: string): void {
    this.gaveUpReason = reason;
    this.opts.warn(
      `ERROR: ${reason}. Monitoring is off for the rest of this run; the workflow continues. ` +
        `What the database has not stored stays in ${this.opts.journal}.`,
    );
    this.settle();
  }

  private sendFinish(child: ChildProcess): void {
    const cmd: WriterCommand = { type: "finish", offset: this.finishOffset! };
    try {
      child.send(cmd, undefined, undefined, () => {});
    } catch {
      /* it died; its exit starts a new one, which is told again */
    }
    this.attach(child); // close() waits for it
  }

  private settle(): void {
    const done = this.onClosed;
    this.onClosed = null;
    done?.();
  }

  /** The writer must not keep the kernel alive, except while start() or close() waits for it. */
  private attach(child: ChildProcess): void {
    child.ref();
    child.channel?.ref();
  }

  private detach(child: ChildProcess): void {
    child.unref();
    child.channel?.unref();
  }
}
