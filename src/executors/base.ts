/**
 * The contract between the dataflow kernel and an executor.
 *
 * The kernel hands an executor one *try* at a time as a `TryHandle`: everything needed to
 * run the app body once, plus two callbacks. The executor calls `running()` when the body
 * starts (that becomes the `running` status row and `try.task_try_time_running`) and
 * `finished()` exactly once when the try is over. Callbacks instead of promises keep the
 * per-task cost low on the hot path.
 */
import type { AppDefinition, StreamTarget } from "../apps/definition.js";
import type { MonitoringEvent } from "../monitoring/messages.js";
import type { Micros } from "../vocabulary/time.js";

// What an app is belongs to apps/ (below executors); re-exported for executors' modules.
export type { AppDefinition, AppKind, SourceOrigin, StreamTarget } from "../apps/definition.js";

/** Resolved invocation options (Parsl's special kwargs), as the body sees them. */
export interface InvocationOptions {
  readonly inputs: readonly unknown[];
  readonly outputs: readonly unknown[];
  /** Resolved file paths for a bash app's streams, or null for none. */
  readonly stdout: StreamTarget | null;
  readonly stderr: StreamTarget | null;
  /** Seconds; the try fails with a walltime error when exceeded. */
  readonly walltime: number | null;
  readonly resourceSpecification: Readonly<Record<string, unknown>>;
}

export type TryResult =
  | { readonly ok: true; readonly value: unknown; readonly endedAt?: Micros }
  | { readonly ok: false; readonly error: Error; readonly endedAt?: Micros };

export interface WhereRan {
  readonly hostname?: string | null;
  readonly blockId?: string | null;
}

export interface TryHandle {
  readonly taskId: number;
  readonly tryId: number;
  readonly app: AppDefinition;
  /** Arguments with every future replaced by its value. */
  readonly args: readonly unknown[];
  readonly options: InvocationOptions;
  /** The body started, at `at` (the worker's clock, already corrected to the submit host's). */
  running(at: Micros, where?: WhereRan): void;
  /** The try is over. Call exactly once. */
  finished(result: TryResult): void;
}

/** What the kernel gives an executor when it starts. */
export interface ExecutorHost {
  readonly runId: string;
  /** The run's directory, `runinfo/NNN`. Executors keep their files under `<runDir>/<label>/`. */
  readonly runDir: string;
  /** Whether try-level monitoring (running rows, resource samples) is wanted. */
  readonly monitoring: {
    readonly enabled: boolean;
    readonly resourceMonitoringEnabled: boolean;
    /** Seconds; 0 = first/last messages only. */
    readonly resourceMonitoringInterval: number;
  };
  /** Send node/block/resource rows to the monitoring database (no-op without monitoring). */
  emit(event: MonitoringEvent): void;
  /** The run log (`runinfo/NNN/parsl.log`). */
  log(level: "debug" | "info" | "warning" | "error", message: string): void;
}

export interface Executor {
  readonly label: string;
  /**
   * The host every try of this executor runs on, when that is known before a try runs (the
   * kernel's own host for in-process and thread executors). Executors whose workers run
   * elsewhere leave it out and report the host per try (`running`'s `where`).
   */
  readonly hostname?: string;
  /** Called once by `load()`. */
  start(host: ExecutorHost): Promise<void>;
  submit(handle: TryHandle): void;
  /** Bounded: never hangs. Outstanding tries are failed. */
  shutdown(): Promise<void>;
}

/** Label of the in-process executor the kernel adds for join-app bodies. */
export const INTERNAL_EXECUTOR_LABEL = "_parsl_internal";
