/**
 * Runs the whole-run aggregates (tries over time, resource usage, DAG summary, cross-run history)
 * in a worker thread with its own read-only connection, so a scan of a million-task run never
 * blocks the HTTP event loop: cheap API calls stay fast while a chart is being computed.
 * Results are cached per database change token; in-flight requests for the same result share one
 * computation; user requests jump ahead of background warm-up jobs.
 */
import type { Worker } from "node:worker_threads";
import { startWorkerThread } from "../workerThread.js";

export type HeavyMethod = "triesOverTime" | "resources" | "appHistory" | "dagSummary";

interface Job {
  id: number;
  method: HeavyMethod;
  runId: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

interface CacheEntry {
  token: string;
  at: number;
  costMs: number;
  value: unknown;
}

/** A result that took longer than this may be reused for STALE_MS after the data changed (live runs). */
const SLOW_MS = 150;
const STALE_MS = 10_000;
const MAX_CACHE = 256;

export class HeavyQueries {
  private worker: Worker | null = null;
  private readonly queue: Job[] = [];
  private current: Job | null = null;
  private nextId = 1;
  private readonly inflight = new Map<string, Promise<unknown>>();
  private readonly cache = new Map<string, CacheEntry>();
  private closed = false;

  constructor(private readonly dbPath: string) {}

  /** Starts the worker on first use, and again after a crash (the failed jobs get the error). */
  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const w = startWorkerThread(new URL("./heavy-worker.js", import.meta.url), { workerData: { path: this.dbPath } });
    w.unref();
    let failed = false;
    const fail = (e: Error): void => {
      if (failed) return;
      failed = true;
      if (this.worker === w) this.worker = null;
      const job = this.current;
      this.current = null;
      if (!this.closed) {
        console.error(`visualizer: aggregate worker failed: ${e.message}`);
        job?.reject(e);
        this.pump();
      }
    };
    w.on("message", (m: { id: number; ok: boolean; value?: unknown; error?: string }) => {
      const job = this.current;
      this.current = null;
      if (job && job.id === m.id) {
        if (m.ok) job.resolve(m.value);
        else job.reject(new Error(m.error ?? "aggregate query failed"));
      }
      this.pump();
    });
    w.on("error", (e) => fail(e));
    w.on("exit", (code) => fail(new Error(`aggregate worker exited with code ${code}`)));
    this.worker = w;
    return w;
  }

  private pump(): void {
    if (this.current || this.queue.length === 0 || this.closed) return;
    const job = this.queue.shift()!;
    let worker: Worker;
    try {
      worker = this.ensureWorker();
    } catch (e) {
      // A worker that cannot even be constructed fails this job now (instead of leaving it
      // "current" forever, which would stall every later request); the next job tries again.
      console.error(`visualizer: aggregate worker failed to start: ${(e as Error).message}`);
      job.reject(e as Error);
      this.pump();
      return;
    }
    this.current = job;
    worker.postMessage({ id: job.id, method: job.method, runId: job.runId });
  }

  private submit(method: HeavyMethod, runId: string, urgent: boolean): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error("visualizer is shutting down"));
    return new Promise((resolve, reject) => {
      const job: Job = { id: this.nextId++, method, runId, resolve, reject };
      if (urgent) this.queue.unshift(job);
      else this.queue.push(job);
      this.pump();
    });
  }

  /** The result for (method, run) at database version `token`, computing it if needed. */
  get<T>(method: HeavyMethod, runId: string, token: string, urgent = true): Promise<T> {
    const key = `${method}|${runId}`;
    const hit = this.cache.get(key);
    if (hit && (hit.token === token || (hit.costMs > SLOW_MS && Date.now() - hit.at < STALE_MS))) return Promise.resolve(hit.value as T);
    const flightKey = `${key}|${token}`;
    const running = this.inflight.get(flightKey);
    if (running) return running as Promise<T>;
    const t0 = performance.now();
    const p = this.submit(method, runId, urgent).then((value) => {
      this.cache.delete(key);
      this.cache.set(key, { token, at: Date.now(), costMs: performance.now() - t0, value });
      if (this.cache.size > MAX_CACHE) this.cache.delete(this.cache.keys().next().value!);
      return value;
    }).finally(() => this.inflight.delete(flightKey));
    this.inflight.set(flightKey, p);
    return p as Promise<T>;
  }

  /** Background warm-up: computes results nobody asked for yet, behind any user request. */
  warm(runId: string, token: string): void {
    for (const m of ["triesOverTime", "dagSummary", "resources", "appHistory"] as HeavyMethod[]) {
      this.get(m, runId, token, false).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pending = [...this.queue, ...(this.current ? [this.current] : [])];
    this.queue.length = 0;
    for (const j of pending) j.reject(new Error("visualizer is shutting down"));
    if (this.worker) await this.worker.terminate();
  }
}
