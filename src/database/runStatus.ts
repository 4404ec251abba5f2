/**
 * The one rule for what a run's status is, for every reader (the visualizer, the tools).
 *
 * parsl-ts writes `workflow.run_status`, a heartbeat and the heartbeat's period. A run whose
 * kernel and writer both died stays 'running' with a heartbeat that stops advancing: once it
 * is older than MISSED_HEARTBEATS periods *of that run*, the run is crashed. Python Parsl rows
 * have neither: a run with an end time completed (failed when tasks failed, as parsl-ts itself
 * records such a run); one without is running while it keeps writing rows, else unknown.
 */
import type { Micros } from "../vocabulary/time.js";
import { RUN_STATUSES, type RunStatus } from "./schema.js";

/** 'unknown': a run that recorded no end and no recent sign of life (a Python Parsl run that died, or went quiet). */
export type ObservedRunStatus = RunStatus | "unknown";

/** A heartbeat older than this many of the run's periods means nothing writes for the run any more. */
export const MISSED_HEARTBEATS = 3;
/** The period assumed for runs that did not record theirs (parsl-ts's default). */
export const DEFAULT_HEARTBEAT_SECONDS = 5;
/** Without heartbeats (Python Parsl): a run that wrote no row for this long is no longer believed to be running. */
export const ACTIVITY_STALE_SECONDS = 300;

export interface RunFacts {
  /** workflow.run_status (null: written by Python Parsl). */
  readonly runStatus: string | null;
  readonly lastHeartbeat: Micros | null;
  /** workflow.heartbeat_period in seconds (null: not recorded). */
  readonly heartbeatPeriod: number | null;
  readonly timeCompleted: Micros | null;
  /** The newest row the run wrote (status, resource, node); only needed for Python Parsl runs without an end. */
  readonly lastActivity: Micros | null;
  readonly tasksFailed: number;
  /** Now, on the same clock as the times above (naive local time, as stored). */
  readonly now: Micros;
}

export interface RunVerdict {
  readonly status: ObservedRunStatus;
  /** Why, in words, for a tooltip or a `--verbose` line. */
  readonly reason: string;
}

function ago(micros: number): string {
  const s = Math.max(0, Math.round(micros / 1e6));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

export function judgeRun(f: RunFacts): RunVerdict {
  if (f.runStatus !== null) {
    if (!(RUN_STATUSES as readonly string[]).includes(f.runStatus)) {
      return {
        status: "unknown",
        reason: `workflow.run_status has an unknown value ${JSON.stringify(f.runStatus.slice(0, 40))}`,
      };
    }
    if (f.runStatus !== "running") return { status: f.runStatus as RunStatus, reason: "recorded by parsl-ts" };
    if (f.lastHeartbeat === null)
      return { status: "unknown", reason: "marked running, but no heartbeat was ever recorded" };
    const period = f.heartbeatPeriod !== null && f.heartbeatPeriod > 0 ? f.heartbeatPeriod : DEFAULT_HEARTBEAT_SECONDS;
    const age = f.now - f.lastHeartbeat;
    if (age > MISSED_HEARTBEATS * period * 1e6) {
      return {
        status: "crashed",
        reason: `marked running, but its last heartbeat was ${ago(age)} ago (it beats every ${period} s)`,
      };
    }
    return { status: "running", reason: `heartbeat ${ago(age)} ago` };
  }
  if (f.timeCompleted !== null) {
    return f.tasksFailed > 0
      ? { status: "failed", reason: `finished with ${f.tasksFailed} failed task(s)` }
      : { status: "completed", reason: "finished" };
  }
  if (f.lastActivity !== null && f.now - f.lastActivity <= ACTIVITY_STALE_SECONDS * 1e6) {
    return { status: "running", reason: `no end recorded; last activity ${ago(f.now - f.lastActivity)} ago` };
  }
  const since =
    f.lastActivity === null ? "never recorded any activity" : `no activity for ${ago(f.now - f.lastActivity)}`;
  return {
    status: "unknown",
    reason: `no end recorded and ${since}: crashed or killed, or still running without writing`,
  };
}
