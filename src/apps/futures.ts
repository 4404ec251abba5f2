/**
 * Futures: what calling an app returns.
 *
 * `AppFuture<T>` is awaitable (a `PromiseLike<T>`) but keeps its own state, so the kernel
 * can attach completion callbacks synchronously and a failed future that nobody awaits
 * never becomes an unhandled promise rejection.
 */
import type { File } from "./files.js";

type Listener = () => void;

// Set by SettableFuture's static block: the only way to settle a future or listen to it
// synchronously. Exported below as plain functions for the kernel; not part of the public API
// (src/index.ts exports the classes only), so user code cannot settle a task's future.
let whenDoneImpl: (f: SettableFuture<unknown>, fn: Listener) => void;
let settleImpl: (f: SettableFuture<unknown>, ok: boolean, valueOrError: unknown) => void;

const PENDING = 0,
  SUCCEEDED = 1,
  FAILED = 2;

abstract class SettableFuture<T> implements PromiseLike<T> {
  #state: 0 | 1 | 2 = PENDING;
  #value: T | undefined;
  #error: Error | undefined;
  #listeners: Listener[] | null = null;
  #promise: Promise<T> | null = null;

  /** True once the future has a result or an error. */
  done(): boolean {
    return this.#state !== PENDING;
  }

  /** The error if the future failed, `null` if it succeeded or is not done yet. */
  exception(): Error | null {
    return this.#state === FAILED ? this.#error! : null;
  }

  /** The value if the future succeeded; throws the error if it failed, or if it is not done yet. */
  resultNow(): T {
    if (this.#state === SUCCEEDED) return this.#value as T;
    if (this.#state === FAILED) throw this.#error!;
    throw new Error(`${this.describe()} has not finished yet`);
  }

  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- matches Promise.then
    onRejected?: ((reason: any) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.asPromise().then(onFulfilled, onRejected);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- matches Promise.catch
  catch<R = never>(onRejected?: ((reason: any) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.asPromise().catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<T> {
    return this.asPromise().finally(onFinally);
  }

  /** A real Promise of the result (created on first use). */
  asPromise(): Promise<T> {
    if (!this.#promise) {
      this.#promise = new Promise<T>((resolve, reject) => {
        this.#onDone(() => (this.#state === SUCCEEDED ? resolve(this.#value as T) : reject(this.#error!)));
      });
    }
    return this.#promise;
  }

  #onDone(fn: Listener): void {
    if (this.#state !== PENDING) fn();
    else (this.#listeners ??= []).push(fn);
  }

  #settle(state: typeof SUCCEEDED | typeof FAILED, value: T | undefined, error: Error | undefined): void {
    if (this.#state !== PENDING) return;
    this.#state = state;
    this.#value = value;
    this.#error = error;
    this.#fire();
  }

  static {
    // The kernel's (friend) access to a future's private side; see whenDone/resolveFuture/rejectFuture below.
    whenDoneImpl = (f, fn) => f.#onDone(fn);
    settleImpl = (f, ok, valueOrError) =>
      ok ? f.#settle(SUCCEEDED, valueOrError, undefined) : f.#settle(FAILED, undefined, valueOrError as Error);
  }

  #fire(): void {
    const ls = this.#listeners;
    this.#listeners = null;
    if (ls) for (const l of ls) l();
  }

  protected abstract describe(): string;
}

/** The future of one app call (one task). */
export class AppFuture<T> extends SettableFuture<T> {
  /** Futures of the files named in the call's `outputs`, in order. */
  readonly outputs: DataFuture[] = [];

  constructor(
    /** The task id: 0, 1, 2… in call order within a run. */
    readonly taskId: number,
    /** The app's name. */
    readonly appName: string,
    /** @internal lineage hash of the call (null when monitoring is off or it cannot be computed). */
    readonly lineageHash: string | null = null,
  ) {
    super();
  }

  protected describe(): string {
    return `task ${this.taskId} (${this.appName})`;
  }

  get [Symbol.toStringTag](): string {
    return `AppFuture task ${this.taskId} ${this.done() ? (this.exception() ? "failed" : "done") : "pending"}`;
  }
}

/** The future of a file an app writes: resolves to the `File` when the producing task succeeds. */
export class DataFuture extends SettableFuture<File> {
  constructor(
    readonly producer: AppFuture<unknown>,
    readonly file: File,
  ) {
    super();
    whenDone(producer, () => {
      const e = producer.exception();
      if (e) rejectFuture(this, e);
      else resolveFuture(this, file);
    });
  }

  /** Id of the task that writes this file. */
  get taskId(): number {
    return this.producer.taskId;
  }

  get filepath(): string {
    return this.file.filepath;
  }

  protected describe(): string {
    return `file ${this.file.url} of task ${this.producer.taskId}`;
  }
}

/** A future parsl-ts knows the producer of (these appear in `task_depends`). */
export function isKernelFuture(x: unknown): x is AppFuture<unknown> | DataFuture {
  return x instanceof AppFuture || x instanceof DataFuture;
}

/** Any awaitable: kernel futures and plain promises/thenables. */
export function isThenable(x: unknown): x is PromiseLike<unknown> {
  return (
    x !== null &&
    (typeof x === "object" || typeof x === "function") &&
    typeof (x as { then?: unknown }).then === "function"
  );
}

/** @internal Run `fn` once `f` is done (at once if it already is), synchronously. Kernel only. */
export function whenDone(f: AppFuture<unknown> | DataFuture, fn: Listener): void {
  whenDoneImpl(f, fn);
}

/** @internal Settle `f` with a value (no effect if it is already done). Kernel only. */
export function resolveFuture(f: AppFuture<unknown> | DataFuture, value: unknown): void {
  settleImpl(f, true, value);
}

/** @internal Settle `f` with an error (no effect if it is already done). Kernel only. */
export function rejectFuture(f: AppFuture<unknown> | DataFuture, error: Error): void {
  settleImpl(f, false, error);
}
