/**
 * The names every layer shares: task states (with Parsl's numeric values), block states and
 * run statuses. A leaf module: it imports nothing, so apps, the kernel, executors, monitoring
 * and the database can all use these names without importing one another.
 */

/** Every task state name, with Parsl's numeric values (1 and 6 are unused). */
export const STATES = {
  pending: 0,
  running: 2,
  exec_done: 3,
  failed: 4,
  dep_fail: 5,
  launched: 7,
  fail_retryable: 8,
  memo_done: 9,
  joining: 10,
  running_ended: 11,
} as const;

export type StateName = keyof typeof STATES;
export const STATE_NAMES = Object.keys(STATES) as StateName[];
export const FINAL_STATES: ReadonlySet<StateName> = new Set(["exec_done", "memo_done", "failed", "dep_fail"]);
export const FINAL_FAILURE_STATES: ReadonlySet<StateName> = new Set(["failed", "dep_fail"]);

/** Block (batch job) states, Parsl's `JobState` names. */
export const BLOCK_STATES = [
  "UNKNOWN",
  "PENDING",
  "RUNNING",
  "CANCELLED",
  "COMPLETED",
  "FAILED",
  "TIMEOUT",
  "HELD",
  "MISSING",
  "SCALED_IN",
] as const;

export type RunStatus = "running" | "completed" | "failed" | "interrupted" | "crashed";
export const RUN_STATUSES: readonly RunStatus[] = ["running", "completed", "failed", "interrupted", "crashed"];

/** Levels of the run log (`parsl.log`) and of `Config.logLevel`. */
export type LogLevel = "debug" | "info" | "warning" | "error";
