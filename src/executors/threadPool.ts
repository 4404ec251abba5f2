/**
 * ThreadPoolExecutor: runs app bodies on Node worker threads.
 *
 * Bodies travel as source text (compiled once per thread) and arguments by structured
 * clone, so a body must be self-contained. Tries go to threads in batches; how many a
 * thread may hold at once adapts to how long its tasks take (many for microsecond
 * tasks, one for long ones, so long tasks do not queue behind each other on one thread).
 */
import os from "node:os";
import type { Worker } from "node:worker_threads";
import { errorFromWire } from "../apps/errorWire.js";
import { ParslError, SerializationError, TaskCancelled, WalltimeExceeded } from "../errors.js";
import type { Executor, ExecutorHost, TryHandle } from "./base.js";
import type { InMessage, OutEvent, WireDef, WireTask } from "./threadWorker.js";
import { optionsToWire } from "./wire.js";
import { Options, type OptionsSpec } from "../validation.js";
import { startWorkerThread } from "../workerThread.js";

export interface ThreadPoolExecutorOptions {
  label?: string;
  /** Number of worker threads (default 2). */
  maxThreads?: number;
}

const THREAD_POOL_OPTIONS: OptionsSpec = {
  kind: "ThreadPoolExecutor",
  known: ["label", "maxThreads"],
  aliases: { maxWorkers: "maxThreads", workers: "maxThreads", threads: "maxThreads" },
  defaultLabel: "threads",
};

/** A worker thread exited while it held this try. */
export class WorkerLost extends ParslError {
  /** How the worker ended, when known: its exit code, or 128 + the signal that killed it (as a shell's `$?`). */
  readonly exitCode: number | null;
  constructor(message: string, exitCode: number | null = null) {
    super(message);
    this.exitCode = exitCode;
  }
}

const WORKER_URL = new URL("./threadWorker.js", import.meta.url);
const TARGET_BATCH_MICROS = 4000;
const MAX_IN_FLIGHT = 512;

interface Slot {
  worker: Worker;
  index: number;
  inFlight: Map<string, TryHandle>; // key `${taskId}.${tryId}`
  started: Set<string>;
  known: Set<string>; // sourceIds this thread has compiled
  avgMicros: number; // moving average of task duration
  refd: boolean;
  timers: Map<string, NodeJS.Timeout>;
}

export class ThreadPoolExecutor implements Executor {
  readonly label: string;
  readonly hostname = os.hostname();
  readonly maxThreads: number;
  #slots: Slot[] = [];
  #queue: TryHandle[] = [];
  #scheduled = false;
  #host: ExecutorHost | null = null;
  #closing = false;

  constructor(options: ThreadPoolExecutorOptions = {}) {
    const o = new Options(THREAD_POOL_OPTIONS, options);
    this.label = o.string("label", "threads");
    this.maxThreads = o.integer("maxThreads", 2, 1, 1024);
  }

  async start(host: ExecutorHost): Promise<void> {
    this.#host = host;
    for (let i = 0; i < this.maxThreads; i++) this.#slots.push(this.#spawn(i));
    await Promise.all(
      this.#slots.map(
        (s) =>
          new Promise<void>((res, rej) => {
            s.worker.once("online", () => res());
            s.worker.once("error", rej);
          }),
      ),
    );
  }

  #spawn(index: number): Slot {
    const worker = startWorkerThread(WORKER_URL, { name: `parsl-ts ${this.label} #${index}` });
    const slot: Slot = {
      worker,
      index,
      inFlight: new Map(),
      started: new Set(),
      known: new Set(),
      avgMicros: 1000,
      refd: false,
      timers: new Map(),
    };
    worker.on("message", (m: { events: OutEvent[] }) => this.#onEvents(slot, m.events));
    worker.on("error", (e) =>
      this.#host?.log("error", `executor ${this.label}: worker thread #${index} error: ${e.stack ?? e}`),
    );
    worker.on("exit", (code) => this.#onExit(slot, code));
    // An idle pool must not keep the process alive; but a starting one must (load() waits for it).
    worker.once("online", () => {
      if (!slot.refd) worker.unref();
    });
    return slot;
  }

  submit(h: TryHandle): void {
    if (this.#closing) {
      h.finished({ ok: false, error: new TaskCancelled(`executor '${this.label}' is shutting down`) });
      return;
    }
    if (h.app.source === null) {
      h.finished({
        ok: false,
        error: new SerializationError(
          `app '${h.app.name}' cannot be sent to a worker thread: it has no source text (a native or bound function); run it on an InProcessExecutor`,
        ),
      });
      return;
    }
    this.#queue.push(h);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.#dispatch());
    }
  }

  /** Hand queued tries to threads, each up to its adaptive capacity. */
  #dispatch(): void {
    this.#scheduled = false;
    if (this.#queue.length === 0) return;
    const slots = [...this.#slots].sort((a, b) => a.inFlight.size - b.inFlight.size);
    for (const slot of slots) {
      if (this.#queue.length === 0) break;
      const cap =
        slot.avgMicros > 2000
          ? 1
          : Math.min(MAX_IN_FLIGHT, Math.max(2, Math.ceil(TARGET_BATCH_MICROS / Math.max(slot.avgMicros, 1))));
      // Share the queue fairly between threads when it is short.
      const fair = Math.ceil(this.#queue.length / slots.length);
      const n = Math.min(cap - slot.inFlight.size, Math.max(fair, 1), this.#queue.length);
      if (n <= 0) continue;
      this.#send(slot, this.#queue.splice(0, n));
    }
  }

  #send(slot: Slot, handles: TryHandle[]): void {
    const defs: WireDef[] = [];
    const tasks: WireTask[] = [];
    for (const h of handles) {
      if (!slot.known.has(h.app.sourceId)) {
        slot.known.add(h.app.sourceId);
        defs.push([h.app.sourceId, h.app.source!, h.app.name, h.app.kind, h.app.origin ?? null]);
      }
      tasks.push([
        h.taskId,
        h.tryId,
        h.app.sourceId,
        h.args as unknown[],
        optionsToWire(h.options),
        h.options.walltime !== null,
      ]);
    }
    const msg: InMessage = { defs, tasks };
    try {
      slot.worker.postMessage(msg);
    } catch (e) {
      // Some argument cannot be cloned: find out which tries, fail those, send the rest.
      for (const d of defs) slot.known.delete(d[0]);
      if (handles.length === 1) {
        const h = handles[0]!;
        h.finished({
          ok: false,
          error: new SerializationError(
            `app '${h.app.name}' (task ${h.taskId}): ${describeCloneFailure(h, e as Error)}`,
          ),
        });
        return;
      }
      for (const h of handles) this.#send(slot, [h]);
      return;
    }
    for (const h of handles) slot.inFlight.set(`${h.taskId}.${h.tryId}`, h);
    if (!slot.refd) {
      slot.worker.ref(); // keep the process alive while work is out
      slot.refd = true;
    }
  }

  #onEvents(slot: Slot, events: OutEvent[]): void {
    for (const ev of events) {
      const key = `${ev[1]}.${ev[2]}`;
      const h = slot.inFlight.get(key);
      if (!h) continue;
      if (ev[0] === "s") {
        slot.started.add(key);
        if (this.#host?.monitoring.resourceMonitoringEnabled) h.running(ev[3]);
        if (h.options.walltime !== null) this.#armWalltime(slot, key, h);
      } else {
        const [, , , ok, payload, endedAt] = ev;
        slot.inFlight.delete(key);
        slot.started.delete(key);
        const timer = slot.timers.get(key);
        if (timer) {
          clearTimeout(timer);
          slot.timers.delete(key);
        }
        h.finished(ok ? { ok: true, value: payload, endedAt } : { ok: false, error: errorFromWire(payload), endedAt });
      }
    }
    // Learn how long this thread's tasks take: total time of the batch / tasks done.
    const dones = events.filter((e): e is Extract<OutEvent, ["d", ...unknown[]]> => e[0] === "d");
    if (dones.length > 0) {
      const starts = events.filter((e) => e[0] === "s");
      const first = starts.length > 0 ? starts[0]![3] : dones[0]![5] - slot.avgMicros;
      const per = Math.max(1, (dones[dones.length - 1]![5] - first) / dones.length);
      slot.avgMicros = slot.avgMicros * 0.5 + per * 0.5;
    }
    if (slot.inFlight.size === 0 && slot.refd) {
      slot.worker.unref();
      slot.refd = false;
    }
    if (this.#queue.length > 0) this.#dispatch();
  }

  #armWalltime(slot: Slot, key: string, h: TryHandle): void {
    const seconds = h.options.walltime!;
    slot.timers.set(
      key,
      setTimeout(() => {
        // A thread cannot be interrupted: stop it, fail this try, and give its other tries to a new thread.
        slot.timers.delete(key);
        if (!slot.inFlight.has(key)) return;
        slot.inFlight.delete(key);
        slot.started.delete(key);
        h.finished({ ok: false, error: new WalltimeExceeded(h.app.name, seconds) });
        void slot.worker.terminate();
      }, seconds * 1000),
    );
  }

  #onExit(slot: Slot, code: number): void {
    for (const t of slot.timers.values()) clearTimeout(t);
    const pending = [...slot.inFlight.entries()];
    slot.inFlight.clear();
    if (this.#closing) {
      for (const [, h] of pending)
        h.finished({
          ok: false,
          error: new TaskCancelled(`executor '${this.label}' shut down before task ${h.taskId} finished`),
        });
      return;
    }
    this.#host?.log(
      "warning",
      `executor ${this.label}: worker thread #${slot.index} exited (code ${code}); starting a new one`,
    );
    const fresh = this.#spawn(slot.index);
    this.#slots[this.#slots.indexOf(slot)] = fresh;
    const requeue: TryHandle[] = [];
    for (const [key, h] of pending) {
      if (slot.started.has(key)) {
        h.finished({
          ok: false,
          error: new WorkerLost(
            `task ${h.taskId} (app '${h.app.name}'): the worker thread running it exited with code ${code}`,
            code,
          ),
        });
      } else requeue.push(h);
    }
    this.#queue.unshift(...requeue);
    if (this.#queue.length > 0) this.#dispatch();
  }

  async shutdown(): Promise<void> {
    this.#closing = true;
    for (const h of this.#queue)
      h.finished({
        ok: false,
        error: new TaskCancelled(`executor '${this.label}' shut down before task ${h.taskId} started`),
      });
    this.#queue = [];
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }
}

function describeCloneFailure(h: TryHandle, e: Error): string {
  const bad: string[] = [];
  h.args.forEach((a, i) => {
    try {
      structuredClone(a);
    } catch {
      bad.push(`argument ${i} (${typeof a === "function" ? "a function" : Object.prototype.toString.call(a)})`);
    }
  });
  try {
    structuredClone(h.options.inputs);
  } catch {
    bad.push("inputs");
  }
  const which = bad.length > 0 ? bad.join(", ") : "its arguments";
  return `${which} cannot be sent to a worker thread (${e.message}); pass plain data, or run the app on an InProcessExecutor`;
}
