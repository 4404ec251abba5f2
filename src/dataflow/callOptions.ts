/**
 * Checks of the options a user passes with a call: `app.with({...})` (Parsl's special keyword
 * arguments) and `cleanup({...})`. A wrong name or value fails the call at once with a
 * TypeError naming the app and the option, never later inside the run.
 */
import type { CallOptions } from "../apps/app.js";
import { AUTO_LOGNAME, File } from "../apps/files.js";
import { Options, unknownOptionProblem } from "../validation.js";

const CALL_OPTIONS = {
  kind: "app.with()",
  known: ["inputs", "outputs", "stdout", "stderr", "stdin", "walltime", "resourceSpecification"],
  aliases: { resources: "resourceSpecification" },
};

export function checkCallOptions(appName: string, c: CallOptions<readonly unknown[]>): void {
  const bad = (field: string, problem: string) => new TypeError(`app '${appName}': call option ${field} ${problem}`);
  for (const k of Object.keys(c))
    if (!CALL_OPTIONS.known.includes(k)) throw bad(k, unknownOptionProblem(k, CALL_OPTIONS));
  if (c.inputs !== undefined && !Array.isArray(c.inputs)) throw bad("inputs", "must be an array");
  if (
    c.outputs !== undefined &&
    (!Array.isArray(c.outputs) || c.outputs.some((o) => !(o instanceof File) && typeof o !== "string"))
  ) {
    throw bad("outputs", "must be an array of File objects or paths");
  }
  for (const s of ["stdout", "stderr"] as const) {
    const v = c[s];
    if (v === undefined || v === null || v === AUTO_LOGNAME || v instanceof File || (typeof v === "string" && v !== ""))
      continue;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === "string" && (v[1] === "w" || v[1] === "a")) continue;
    throw bad(s, "must be a path, [path, 'w' | 'a'], a File, AUTO_LOGNAME or null");
  }
  if (c.walltime !== undefined && (typeof c.walltime !== "number" || !(c.walltime > 0)))
    throw bad("walltime", "must be a positive number of seconds");
  if (
    c.resourceSpecification !== undefined &&
    (c.resourceSpecification === null || typeof c.resourceSpecification !== "object")
  ) {
    throw bad("resourceSpecification", "must be an object");
  }
  if (c.stdin !== undefined && c.stdin !== null && typeof c.stdin !== "string") throw bad("stdin", "must be a string");
}

const CLEANUP_OPTIONS = {
  kind: "cleanup()",
  known: ["wait"],
  error: (field: string, problem: string) => new TypeError(`${field} ${problem}`),
};

export interface CleanupOptions {
  /** Wait for every submitted task to finish first (default true). */
  wait?: boolean;
}

/** `cleanup(options)`'s `wait` (default true); a TypeError for anything else in `options`. */
export function cleanupWaits(options: CleanupOptions): boolean {
  return new Options(CLEANUP_OPTIONS, options).boolean("wait", true);
}
