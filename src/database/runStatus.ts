/**
 * How a reader should label a run from its `workflow` row. parsl-ts writes `run_status`;
 * a run whose kernel and writer died together stays 'running' with a heartbeat that stops
 * advancing, and Python Parsl rows have no status at all.
 */
import type { Micros } from "../monitoring/messages.js";
import { RUN_STATUSES, type RunStatus } from "./schema.js";
import { parseDateTime } from "./timeformat.js";

/** 'unknown': a Python Parsl run that has not recorded an end (still running, or died). */
export type ObservedRunStatus = RunStatus | "unknown";

export interface WorkflowStatusColumns {
  run_status: string | null;
  time_completed: string | null;
  last_heartbeat: string | null;
  tasks_failed_count: number;
}

/** A run whose heartbeat is older than this many periods is considered dead. */
export const MISSED_HEARTBEATS = 3;

export function observedRunStatus(row: WorkflowStatusColumns, now: Micros, heartbeatSeconds = 5): ObservedRunStatus {
  const status = row.run_status;
  if (status === null) {
    // Written by Python Parsl: only the end time and the failure count are known.
    if (row.time_completed === null) return "unknown";
    return row.tasks_failed_count > 0 ? "failed" : "completed";
  }
  if (!(RUN_STATUSES as readonly string[]).includes(status)) {
    throw new Error(`workflow.run_status has an unknown value ${JSON.stringify(status)}`);
  }
  if (status !== "running") return status as RunStatus;
  if (row.last_heartbeat === null) return "running";
  const silentFor = now - parseDateTime(row.last_heartbeat);
  return silentFor > MISSED_HEARTBEATS * heartbeatSeconds * 1_000_000 ? "crashed" : "running";
}
