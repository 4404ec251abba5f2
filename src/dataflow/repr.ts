/**
 * Short, Parsl-style text for values stored in `task_inputs` / `task_outputs`
 * (Parsl stores `str(value)`, so absent is `'None'` and lists look like `[1, 'a']`).
 */
import { File } from "../apps/files.js";
import { AppFuture, DataFuture } from "../apps/futures.js";

const MAX = 2000;

export function reprValue(v: unknown, depth = 0): string {
  if (v === undefined || v === null) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "string") return v.length > MAX ? `'${escape(v.slice(0, MAX))}…` : `'${escape(v)}'`;
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  if (v instanceof File) return `File('${v.url}')`;
  if (v instanceof DataFuture) return `<DataFuture ${v.file.url} of task ${v.taskId}>`;
  if (v instanceof AppFuture) return `<AppFuture task ${v.taskId}>`;
  if (typeof v === "function") return `<function ${v.name || "anonymous"}>`;
  if (depth > 4) return "…";
  if (Array.isArray(v)) return joined("[", "]", v.length, (i) => reprValue(v[i], depth + 1));
  if (typeof v === "object") {
    const proto = Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null;
    if (proto !== Object.prototype && proto !== null) return `<${proto?.constructor?.name ?? "object"}>`;
    const keys: string[] = [];
    for (const k in v) {
      if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
      keys.push(k);
      if (keys.length > MAX) break; // each entry takes at least one character: enough to reach the cut
    }
    return joined(
      "{",
      "}",
      keys.length,
      (i) => `'${keys[i]!}': ${reprValue((v as Record<string, unknown>)[keys[i]!], depth + 1)}`,
    );
  }
  return String(v);
}

function escape(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/'/g, "\\'");
}

/**
 * `open item, item, … close`, cut at MAX characters with `…`. Items are formatted only until
 * the cut: the repr of a million-element argument costs as much as a short one (it runs for
 * every task, on the kernel's hot path).
 */
function joined(open: string, close: string, n: number, item: (i: number) => string): string {
  let s = open;
  for (let i = 0; i < n; i++) {
    if (i > 0) s += ", ";
    s += item(i);
    if (s.length > MAX) return `${s.slice(0, MAX)}…`;
  }
  s += close;
  return s.length > MAX ? `${s.slice(0, MAX)}…` : s;
}
