/**
 * Where a task's stdout/stderr go (a bash app's `stdout`/`stderr` call options) and how the
 * task row names them.
 */
import type { StreamSpec } from "../apps/app.js";
import type { StreamTarget } from "../apps/definition.js";
import { AUTO_LOGNAME, File } from "../apps/files.js";
import path from "node:path";

/** The file a stream goes to, or null for none; AUTO_LOGNAME is `<run>/task_logs/NNNN/task_<id>_<app>.<which>`. */
export function streamTarget(
  spec: StreamSpec,
  runDir: string,
  id: number,
  appName: string,
  which: "stdout" | "stderr",
): StreamTarget | null {
  if (spec === undefined || spec === null) return null;
  if (spec === AUTO_LOGNAME) {
    const dir = path.join(runDir, "task_logs", String(Math.floor(id / 10000)).padStart(4, "0"));
    return { path: path.join(dir, `task_${String(id).padStart(4, "0")}_${appName}.${which}`), mode: "a" };
  }
  if (spec instanceof File) return { path: spec.filepath, mode: "a" };
  if (typeof spec === "string") return { path: spec, mode: "a" };
  return { path: spec[0], mode: spec[1] };
}

/** `task_stdout`/`task_stderr`: '' for none, the File's url, else the path. */
export function streamColumn(spec: StreamSpec, target: StreamTarget | null): string {
  if (spec instanceof File) return spec.url;
  return target?.path ?? "";
}
