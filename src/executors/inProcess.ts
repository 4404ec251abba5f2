/**
 * Runs app bodies in the kernel's own thread. Closures work here (nothing is sent
 * anywhere), which is why join-app bodies always run on the kernel's internal instance.
 */
import os from "node:os";
import { makeContext, runBody } from "../apps/runtime.js";
import { nowMicros } from "../vocabulary/time.js";
import { TaskCancelled } from "../errors.js";
import { Options, type OptionsSpec } from "../validation.js";
import type { Executor, ExecutorHost, TryHandle } from "./base.js";
import { optionsToWire } from "./wire.js";

export interface InProcessExecutorOptions {
  label?: string;
}

const IN_PROCESS_OPTIONS: OptionsSpec = { kind: "InProcessExecutor", known: ["label"], defaultLabel: "local" };

export class InProcessExecutor implements Executor {
  readonly label: string;
  readonly hostname = os.hostname();
  #host: ExecutorHost | null = null;
  #outstanding = new Set<TryHandle>();

  constructor(options: InProcessExecutorOptions = {}) {
    this.label = new Options(IN_PROCESS_OPTIONS, options).string("label", "local");
  }

  async start(host: ExecutorHost): Promise<void> {
    this.#host = host;
  }

  submit(h: TryHandle): void {
    this.#outstanding.add(h);
    queueMicrotask(() => {
      void this.#run(h).then(
        (value) => this.#finish(h, { ok: true, value, endedAt: nowMicros() }),
        (e: unknown) =>
          this.#finish(h, { ok: false, error: e instanceof Error ? e : new Error(String(e)), endedAt: nowMicros() }),
      );
    });
  }

  /** The body's value. Anything thrown on the way (options, context, the body itself) fails the try. */
  async #run(h: TryHandle): Promise<unknown> {
    const wire = optionsToWire(h.options);
    const ctx = makeContext(h.taskId, h.tryId, wire);
    if (this.#host?.monitoring.resourceMonitoringEnabled) h.running(nowMicros());
    return runBody(h.app.kind, h.app.fn, h.app.name, ctx, h.args, wire);
  }

  /** Reports the try's result unless shutdown() already failed it. */
  #finish(h: TryHandle, result: Parameters<TryHandle["finished"]>[0]): void {
    if (this.#outstanding.delete(h)) h.finished(result);
  }

  async shutdown(): Promise<void> {
    // Bodies in this thread cannot be interrupted: their tries are failed and any late result is ignored.
    for (const h of this.#outstanding) {
      h.finished({
        ok: false,
        error: new TaskCancelled(`task ${h.taskId} was still running when executor '${this.label}' shut down`),
      });
    }
    this.#outstanding.clear();
  }
}
