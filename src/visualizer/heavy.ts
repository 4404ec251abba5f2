/**
 * Runs the whole-run aggregates (tries over time, resource usage, DAG summary, cross-run history)
 * off the request path. The queries are the same for both dialects (MonitoringDb); where they run
 * differs:
 * - SQLite: a scan of a million-task run is synchronous CPU work in better-sqlite3, so it runs in a
 *   worker thread with its own read-only connection, one job at a time, and the HTTP event loop
 *   stays free for cheap API calls.
 * - PostgreSQL: the server does the work and the pool's calls are asynchronous, so the aggregates
 *   run on the visualizer's own MonitoringDb, a few at a time, with no thread.
 * Results are cached per database change token; in-flight requests for the same result share one
 * computation; user requests jump ahead of background warm-up jobs.
 */
import type { Worker } from "node:worker_threads";
import { TokenCache } from "../database/queries/cache.js";
import type { MonitoringDb } from "../database/queries/index.js";
import { startWorkerThread } from "../workerThread.js";

export type HeavyMethod = "triesOverTime" | "resources" | "appHistory" | "dagSummary";

interface Job {
  id: number;
  method: HeavyMethod;
  runId: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/** PostgreSQL: aggregates computed at once (each holds a pooled connection while it runs). */
const PG_CONCURRENCY = 2;

/** Where the jobs run: a worker thread (SQLite file path) or the given MonitoringDb. */
export type HeavySource = string | MonitoringDb;

export class HeavyQueries {
  private worker: Worker | null = null;
  private readonly queue: Job[] = [];
  /** Jobs being computed (by id). */
  private readonly running = new Map<number, Job>();
  /** PostgreSQL: the computations in progress. */
  private readonly inline = new Set<Promise<unknown>>();
  private readonly concurrency: number;
  private nextId = 1;
  /** Results per change token (slow ones reused a while on live runs), in-flight ones shared. */
  private readonly cache = new TokenCache();
  private closed = false;

  constructor(private readonly source: HeavySource) {
    this.concurrency = typeof source === "string" ? 1 : PG_CONCURRENCY;
  }

  /** Starts the worker on first use, and again after a crash (the failed jobs get the error). */
  private ensureWorker(path: string): Worker {
    if (this.worker) return this.worker;
    const w = startWorkerThread(new URL("./heavy-worker.js", import.meta.url), { workerData: { path } });
    w.unref();
    let failed = false;
    const fail = (e: Error): void => {
      if (failed) return;
      failed = true;
      if (this.worker === w) this.worker = null;
      const jobs = [...this.running.values()];
      this.running.clear();
      if (!this.closed) {
        console.error(`visualizer: aggregate worker failed: ${e.message}`);
        for (const job of jobs) job.reject(e);
        this.pump();
      }
    };
    w.on("message", (m: { id: number; ok: boolean; value?: unknown; error?: string }) => {
      const job = this.running.get(m.id);
      this.running.delete(m.id);
      if (job) {
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
    while (!this.closed && this.running.size < this.concurrency && this.queue.length > 0) {
      const job = this.queue.shift()!;
      if (typeof this.source === "string") {
        let worker: Worker;
        try {
          worker = this.ensureWorker(this.source);
        } catch (e) {
          // A worker that cannot even be constructed fails this job now (instead of leaving it
          // running forever, which would stall every later request); the next job tries again.
          console.error(`visualizer: aggregate worker failed to start: ${(e as Error).message}`);
          job.reject(e as Error);
          continue;
        }
        this.running.set(job.id, job);
        worker.postMessage({ id: job.id, method: job.method, runId: job.runId });
      } else {
        this.running.set(job.id, job);
        const run = this.source[job.method](job.runId)
          .then(job.resolve, job.reject)
          .finally(() => {
            this.running.delete(job.id);
            this.inline.delete(run);
            this.pump();
          });
        this.inline.add(run);
      }
    }
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
    return this.cache.get(`${method}|${runId}`, token, () => this.submit(method, runId, urgent) as Promise<T>);
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
    const pending = [...this.queue];
    this.queue.length = 0;
    for (const j of pending) j.reject(new Error("visualizer is shutting down"));
    if (this.worker) {
      for (const j of this.running.values()) j.reject(new Error("visualizer is shutting down"));
      this.running.clear();
      await this.worker.terminate();
    } else {
      // Inline jobs hold pooled connections: let them finish before the pool is closed.
      await Promise.allSettled([...this.inline]);
    }
  }
}
