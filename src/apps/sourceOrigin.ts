/**
 * Where an app's function is written in the user's file. Worker threads and processes compile
 * a body from its source text; with its origin known they compile it at that file and line
 * (runtime.ts), so a stack trace from inside the body names the user's file and line instead
 * of the compiler's `eval` frame.
 *
 * The origin is found from the stack at definition time: the first frames outside parsl-ts
 * name the file that called `tsApp`/`bashApp`, and the function's exact source text
 * (`Function.prototype.toString`) is looked up in that file. Positions are those of the code
 * V8 runs: for compiled TypeScript, the `.js` file's lines (source maps are not applied).
 */
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import type { SourceOrigin } from "./definition.js";

interface Site {
  file: string;
  line: number;
  column: number;
}

/** Frames in this folder are parsl-ts's own app-definition code. */
const OWN_DIR = new URL(".", import.meta.url).href;
const MAX_FRAMES = 4;

/** The user's frames (file, line, column) below `below` on the current stack, nearest first. */
export function definitionSite(below: (...args: never[]) => unknown): Site[] {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- saved only to be put back as it was
  const savedPrepare = Error.prepareStackTrace;
  const savedLimit = Error.stackTraceLimit;
  let sites: NodeJS.CallSite[] = [];
  try {
    Error.stackTraceLimit = 12;
    Error.prepareStackTrace = (_e, callSites) => callSites;
    const holder: { stack?: unknown } = {};
    Error.captureStackTrace(holder, below);
    if (Array.isArray(holder.stack)) sites = holder.stack as NodeJS.CallSite[];
  } catch {
    sites = [];
  } finally {
    Error.prepareStackTrace = savedPrepare;
    Error.stackTraceLimit = savedLimit;
  }
  const out: Site[] = [];
  for (const s of sites) {
    const file = s.getFileName?.();
    const line = s.getLineNumber?.();
    const column = s.getColumnNumber?.();
    if (typeof file !== "string" || file === "" || file.startsWith(OWN_DIR) || file.startsWith("node:")) continue;
    if (typeof line !== "number" || typeof column !== "number") continue;
    out.push({ file, line, column });
    if (out.length >= MAX_FRAMES) break;
  }
  return out;
}

/** File texts read so far (apps are defined a few times per file; each file is read once). */
const texts = new Map<string, string | null>();

function fileText(file: string): string | null {
  let t = texts.get(file);
  if (t !== undefined) return t;
  try {
    t = fs.readFileSync(file.startsWith("file:") ? fileURLToPath(file) : file, "utf8");
  } catch {
    t = null;
  }
  texts.set(file, t);
  return t;
}

/**
 * Where `source` starts: its occurrence nearest to a calling frame, in the nearest frame's file
 * that contains it. When no file contains it (code transformed in memory, e.g. by a TypeScript
 * loader), the function literal that starts the nearest call's arguments, if there is one
 * (`tsApp(function f(…`, `tsApp(async (x) => …`); otherwise unknown (a function written in
 * another file and passed by name must not be placed at the caller's line).
 */
export function sourceOrigin(source: string, sites: readonly Site[]): SourceOrigin | null {
  for (const site of sites) {
    const text = fileText(site.file);
    if (text === null) continue;
    let best: SourceOrigin | null = null;
    let bestDistance = Infinity;
    for (let at = text.indexOf(source); at >= 0; at = text.indexOf(source, at + 1)) {
      const before = text.lastIndexOf("\n", at - 1);
      let line = 1;
      for (let i = text.indexOf("\n"); i >= 0 && i < at; i = text.indexOf("\n", i + 1)) line++;
      const distance = Math.abs(line - site.line);
      if (distance < bestDistance) {
        bestDistance = distance;
        best = { file: site.file, line, column: at - before };
      }
    }
    if (best) return best;
  }
  const first = sites[0];
  return first ? literalAtCall(first) : null;
}

function literalAtCall(site: Site): SourceOrigin | null {
  const text = fileText(site.file);
  if (text === null) return null;
  let start = 0;
  for (let i = 1; i < site.line && start >= 0; i++) start = text.indexOf("\n", start) + 1 || -1;
  if (start < 0) return null;
  const end = text.indexOf("\n", start);
  const rest = text.slice(start + site.column - 1, end < 0 ? undefined : end);
  const call = /^[\w$.]+\s*\(\s*/.exec(rest);
  if (!call || !/^(?:async\b|function\b|\(|[A-Za-z_$][\w$]*\s*=>)/.test(rest.slice(call[0].length))) return null;
  return { file: site.file, line: site.line, column: site.column + call[0].length };
}
