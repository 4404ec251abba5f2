/**
 * Errors a user of parsl-ts can see. Each names the thing that is wrong.
 */

/** Base class: every parsl-ts error is an instance of this. */
export class ParslError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A `Config`, executor or monitoring option is invalid. `field` names it (e.g. `executors[0].maxThreads`). */
export class ConfigurationError extends ParslError {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`invalid configuration: ${field} ${problem}`);
  }
}

/** An app was defined wrongly (no name, not a function…). */
export class AppDefinitionError extends ParslError {}

/** An app was called when no DataFlowKernel is loaded. */
export class NoDataFlowKernelError extends ParslError {}

/** An app named an executor label that the loaded config does not have. */
export class UnknownExecutorError extends ParslError {}

/** One or more dependencies of a task failed, so it never ran. */
export class DependencyError extends ParslError {
  constructor(
    readonly dependentExceptions: ReadonlyArray<readonly [Error, string]>,
    readonly taskId: number,
  ) {
    super(`task ${taskId} not run: dependencies failed: ${dependentExceptions.map(([, t]) => t).join(", ")}`);
  }
  /** Parsl's repr, as stored in `try.task_fail_history`. */
  toRepr(): string {
    return `DependencyError([${this.dependentExceptions.map(([e, t]) => `(${reprError(e)}, '${t}')`).join(", ")}], ${this.taskId})`;
  }
}

/** A join app's inner task(s) failed. */
export class JoinError extends ParslError {
  constructor(
    readonly dependentExceptions: ReadonlyArray<readonly [Error, string]>,
    readonly taskId: number,
  ) {
    super(`join app task ${taskId} failed: inner tasks failed: ${dependentExceptions.map(([, t]) => t).join(", ")}`);
  }
  toRepr(): string {
    return `JoinError([${this.dependentExceptions.map(([e, t]) => `(${reprError(e)}, '${t}')`).join(", ")}], ${this.taskId})`;
  }
}

/** A bash app's command exited with a non-zero code. */
export class BashExitFailure extends ParslError {
  constructor(
    readonly appName: string,
    readonly exitCode: number,
  ) {
    super(`bash app '${appName}' failed: command exited with code ${exitCode}`);
  }
}

/** A try ran longer than its `walltime`. */
export class WalltimeExceeded extends ParslError {
  constructor(
    readonly appName: string,
    readonly walltime: number,
  ) {
    super(`app '${appName}' exceeded its walltime of ${walltime} s and was stopped`);
  }
}

/** The body could not be sent to a worker thread/process (not self-contained, or arguments not transferable). */
export class SerializationError extends ParslError {}

/** A value has no canonical encoding for memoization hashing. */
export class MemoizationError extends ParslError {}

/** A checkpoint file could not be read. */
export class BadCheckpoint extends ParslError {}

/** The task was cancelled because the kernel shut down before it finished. */
export class TaskCancelled extends ParslError {}

/** Parsl-style `repr(exception)`: `Name('message')`. */
export function reprError(e: unknown): string {
  if (e instanceof DependencyError || e instanceof JoinError) return e.toRepr();
  if (e instanceof Error) return `${e.name}(${pyStr(bounded(e.message))})`;
  return `Error(${pyStr(bounded(String(e)))})`;
}

/** Messages in a repr (and so in `task_fail_history`) are cut here: a 20 MB message is a bug's output, not evidence. */
const REPR_MESSAGE_CHARS = 4096;

function bounded(message: string): string {
  return message.length <= REPR_MESSAGE_CHARS
    ? message
    : `${message.slice(0, REPR_MESSAGE_CHARS)}… [${message.length} characters in all]`;
}

function pyStr(s: string): string {
  return s.includes("'") && !s.includes('"') ? `"${s}"` : `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}
