/**
 * A run's ties to its process: SIGINT/SIGTERM, an event loop that empties before `cleanup()`,
 * and `process.exit()` before cleanup has finished. This module owns the process handlers and
 * their order; what each one does to the run is the kernel's (the hooks).
 *
 * - First SIGINT/SIGTERM: `interrupt(sig)` ends the run, then the process exits 130/143.
 *   A second one exits at once (the `exit` hook still records the run's end).
 * - `beforeExit` (a script that never called cleanup): `idle()` ends the run properly, as Parsl
 *   does at interpreter exit.
 * - `exit` (only synchronous code runs from there): `exit(code)` writes what it can.
 */

export interface LifecycleHooks {
  /** The first signal: end the run; the process exits when the returned promise settles. */
  interrupt(signal: NodeJS.Signals): Promise<void>;
  /** The event loop emptied before cleanup() began. */
  idle(): void;
  /** The process is exiting before cleanup() finished; synchronous only. */
  exit(code: number): void;
}

const EXIT_CODE: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };

export class RunLifecycle {
  #signalHandlers: Array<[NodeJS.Signals, () => void]> = [];
  #signalled = false;
  readonly #onBeforeExit = (): void => this.hooks.idle();
  readonly #onExit = (code: number): void => this.hooks.exit(code);

  constructor(private readonly hooks: LifecycleHooks) {}

  /** True once a signal asked the run to end. */
  get signalled(): boolean {
    return this.#signalled;
  }

  install(handleSignals: boolean): void {
    if (handleSignals) {
      for (const sig of ["SIGINT", "SIGTERM"] as const) {
        const code = EXIT_CODE[sig]!;
        const h = (): void => {
          if (this.#signalled) process.exit(code); // second signal: leave now
          this.#signalled = true;
          void this.hooks.interrupt(sig).finally(() => process.exit(code));
        };
        process.on(sig, h);
        this.#signalHandlers.push([sig, h]);
      }
    }
    process.once("beforeExit", this.#onBeforeExit);
    process.on("exit", this.#onExit);
  }

  /** cleanup() has begun: an emptied event loop no longer needs to start it. */
  cleanupBegan(): void {
    process.off("beforeExit", this.#onBeforeExit);
  }

  /** The run's end is recorded: a later exit has nothing left to write. */
  endRecorded(): void {
    process.off("exit", this.#onExit);
  }

  /** cleanup() is over: signals are the process's own again. */
  uninstall(): void {
    for (const [sig, h] of this.#signalHandlers) process.off(sig, h);
    this.#signalHandlers = [];
  }
}
