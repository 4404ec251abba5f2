/**
 * Short, Parsl-style text for values stored in `task_inputs` / `task_outputs`
 * (Parsl stores `str(value)`, so absent is `'None'` and lists look like `[1, 'a']`).
 */
import { File } from "../apps/files.js";
import { AppFuture, DataFuture } from "./futures.js";

const MAX = 2000;

export function reprValue(v: unknown, depth = 0): string {
  if (v === undefined || v === null) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "string") return `'${v.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  if (v instanceof File) return `File('${v.url}')`;
  if (v instanceof DataFuture) return `<DataFuture ${v.file.url} of task ${v.taskId}>`;
  if (v instanceof AppFuture) return `<AppFuture task ${v.taskId}>`;
  if (typeof v === "function") return `<function ${v.name || "anonymous"}>`;
  if (depth > 4) return "…";
  if (Array.isArray(v)) return clip(`[${v.map((x) => reprValue(x, depth + 1)).join(", ")}]`);
  if (typeof v === "object") {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return `<${proto?.constructor?.name ?? "object"}>`;
    return clip(`{${Object.entries(v as object).map(([k, x]) => `'${k}': ${reprValue(x, depth + 1)}`).join(", ")}}`);
  }
  return String(v);
}

function clip(s: string): string {
  return s.length > MAX ? `${s.slice(0, MAX)}…` : s;
}
