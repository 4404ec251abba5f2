/**
 * The one line a run prints on stderr when it ends (Config.summary), e.g.
 * `parsl-ts: run 3f2a… completed in 12.4 s: 1,000 exec_done, 3 memo_done, 2 failed · runinfo/monitoring.db`.
 */
import path from "node:path";
import type { RunStatus } from "../database/schema.js";

export interface RunSummary {
  runId: string;
  status: RunStatus;
  seconds: number;
  /** Tasks per final state. */
  counts: Readonly<{ exec_done: number; memo_done: number; failed: number; dep_fail: number }>;
  /** Tasks the run's interruption stopped or never started. */
  cancelled: number;
  /** The monitoring database (absolute path or URL), or null without monitoring. */
  database: string | null;
}

const num = (n: number): string => n.toLocaleString("en-US");

/** `12.4 s`, `3 min 12 s`, `2 h 05 min`. */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.floor(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

/** A path below the working directory is shown relative to it; anything else as given. */
function showDatabase(db: string, cwd: string): string {
  if (!path.isAbsolute(db)) return db;
  const rel = path.relative(cwd, db);
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : db;
}

export function formatRunSummary(s: RunSummary, cwd = process.cwd()): string {
  const parts: string[] = [];
  for (const state of ["exec_done", "memo_done", "failed", "dep_fail"] as const) {
    if (s.counts[state] > 0) parts.push(`${num(s.counts[state])} ${state}`);
  }
  if (s.cancelled > 0) parts.push(`${num(s.cancelled)} cancelled`);
  const tasks = parts.length > 0 ? parts.join(", ") : "no tasks";
  const db = s.database !== null ? ` · ${showDatabase(s.database, cwd)}` : "";
  return `parsl-ts: run ${s.runId} ${s.status} in ${formatDuration(s.seconds)}: ${tasks}${db}`;
}
