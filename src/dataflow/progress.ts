/**
 * Config.progress: the running script shows its own live progress on stderr, counted from the
 * kernel's task states (no database), drawn by the same module as `parsl-ts watch`
 * (progress/render.ts). The kernel moves a task between buckets with a few integer updates;
 * drawing happens on an unref'd timer, at most 5 times a second on a terminal and once every
 * 5 s (only when something changed) elsewhere, so the workflow never waits for it.
 */
import { LiveView } from "../progress/live.js";
import {
  RateMeter,
  type AppProgress,
  type Bucket,
  type ProgressFailure,
  type ProgressSnapshot,
} from "../progress/render.js";

export const TTY_INTERVAL_MS = 200;
export const PLAIN_INTERVAL_MS = 5_000;
const KEEP_FAILURES = 3;

export class KernelProgress {
  readonly #apps = new Map<string, AppProgress>();
  readonly #failures: ProgressFailure[] = [];
  readonly #meter = new RateMeter();
  readonly #view: LiveView;
  readonly #began: number;
  #timer: NodeJS.Timeout | null = null;
  #dirty = true;
  #lastDraw = 0;

  constructor(
    private readonly title: string,
    stream: NodeJS.WriteStream = process.stderr,
    tty?: boolean,
  ) {
    this.#view = new LiveView(stream, tty === undefined ? {} : { tty });
    this.#began = Date.now();
  }

  /** The counters of an app (the kernel keeps a reference on each task). */
  app(name: string): AppProgress {
    let a = this.#apps.get(name);
    if (!a) this.#apps.set(name, (a = { name, pending: 0, launched: 0, running: 0, done: 0, failed: 0 }));
    this.#dirty = true;
    return a;
  }

  touch(): void {
    this.#dirty = true;
  }

  failure(taskId: number, app: string, error: string): void {
    this.#failures.unshift({ task_id: taskId, app, error });
    if (this.#failures.length > KEEP_FAILURES) this.#failures.pop();
  }

  start(): void {
    this.#meter.add(Date.now(), 0); // so the first plain line (after 5 s) has a rate
    const period = this.#view.tty ? TTY_INTERVAL_MS : PLAIN_INTERVAL_MS;
    this.#timer = setInterval(() => this.#tick(), period);
    this.#timer.unref();
  }

  #snapshot(status: string): ProgressSnapshot {
    let finished = 0;
    for (const a of this.#apps.values()) finished += a.done + a.failed;
    const now = Date.now();
    this.#meter.add(now, finished);
    return {
      title: this.title,
      status,
      elapsed_s: (now - this.#began) / 1000,
      apps: [...this.#apps.values()].map((a) => ({ ...a })),
      failures: [...this.#failures],
      rate: this.#meter.rate(),
    };
  }

  #tick(): void {
    const now = Date.now();
    // On a terminal the clock, rate and ETA move even when no task does: redraw at least every second.
    if (!this.#dirty && !(this.#view.tty && now - this.#lastDraw >= 1000)) return;
    this.#dirty = false;
    this.#lastDraw = now;
    this.#view.update(this.#snapshot("running"));
  }

  /** The final view (with the run's status), then the terminal back to normal. */
  stop(status: string): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#view.update(this.#snapshot(status));
    this.#view.close();
  }
}

export type { Bucket };
