/**
 * A run's real status for the workflows list. parsl-ts databases carry `workflow.run_status`
 * and `last_heartbeat`; Python Parsl databases carry neither, so the status is inferred from
 * `time_completed` and how recently the run wrote anything. Never "running" forever.
 */
export type DisplayStatus = "running" | "completed" | "failed" | "interrupted" | "crashed" | "stale";

export interface RunFacts {
  readonly runStatus: string | null; // workflow.run_status (null or absent in Parsl DBs)
  readonly lastHeartbeatMs: number | null; // workflow.last_heartbeat
  readonly timeCompletedMs: number | null;
  readonly lastActivityMs: number | null; // newest status/resource/node timestamp of the run
  readonly tasksFailed: number;
  readonly nowMs: number; // naive local "now", same scale as the others
}

export interface StatusVerdict {
  readonly status: DisplayStatus;
  readonly reason: string;
}

/** A heartbeat older than this means the writing process is gone. */
export const HEARTBEAT_STALE_MS = 60_000;
/** Without heartbeats: a run that wrote nothing for this long is no longer believed to be running. */
export const ACTIVITY_STALE_MS = 5 * 60_000;

const KNOWN: ReadonlySet<string> = new Set(["running", "completed", "failed", "interrupted", "crashed"]);

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

export function inferRunStatus(f: RunFacts): StatusVerdict {
  if (f.runStatus !== null && KNOWN.has(f.runStatus)) {
    if (f.runStatus !== "running") return { status: f.runStatus as DisplayStatus, reason: "recorded by parsl-ts" };
    if (f.lastHeartbeatMs === null) {
      return { status: "stale", reason: "marked running but no heartbeat was ever recorded" };
    }
    const age = f.nowMs - f.lastHeartbeatMs;
    if (age > HEARTBEAT_STALE_MS) {
      return { status: "crashed", reason: `marked running, but the last heartbeat was ${ago(age)} ago` };
    }
    return { status: "running", reason: `heartbeat ${ago(age)} ago` };
  }
  if (f.timeCompletedMs !== null) {
    return f.tasksFailed > 0
      ? { status: "completed", reason: `finished; ${f.tasksFailed} task(s) failed` }
      : { status: "completed", reason: "finished" };
  }
  if (f.lastActivityMs !== null && f.nowMs - f.lastActivityMs <= ACTIVITY_STALE_MS) {
    return { status: "running", reason: `last activity ${ago(f.nowMs - f.lastActivityMs)} ago` };
  }
  const since = f.lastActivityMs === null ? "never recorded any activity" : `no activity for ${ago(f.nowMs - f.lastActivityMs)}`;
  return { status: "stale", reason: `not completed and ${since}: crashed or killed, or still running without writing` };
}
