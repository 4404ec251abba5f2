/**
 * Running an app body once: shared by every executor (in-process, worker threads, and
 * worker processes), so an app behaves the same wherever it runs.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { BashExitFailure, ParslError, SerializationError, WalltimeExceeded } from "../errors.js";
import type { AppKind, SourceOrigin, StreamTarget } from "./definition.js";
import { File } from "./files.js";
import type { TaskContext } from "./app.js";

/** Plain data describing a call's options, as it crosses thread/process boundaries. */
export interface WireOptions {
  inputs: unknown[];
  outputUrls: string[];
  stdout: StreamTarget | null;
  stderr: StreamTarget | null;
  walltime: number | null;
  resourceSpecification: Record<string, unknown>;
}

export function makeContext(taskId: number, tryId: number, o: WireOptions): TaskContext<unknown[]> {
  return Object.freeze({
    taskId,
    tryId,
    inputs: o.inputs,
    outputs: o.outputUrls.map((u) => new File(u)),
    stdout: o.stdout?.path ?? null,
    stderr: o.stderr?.path ?? null,
    walltime: o.walltime,
    resourceSpecification: o.resourceSpecification,
  });
}

/**
 * Turn a body's source text back into a function. Handles function declarations and
 * expressions, arrow functions, and method shorthand (`name(x) { … }`). With its `origin`
 * known, the text is compiled as if at that file, line and column (blank lines and spaces put
 * it there, and `sourceURL` names the file), so stack frames inside the body point at the
 * user's own file and line.
 */
export function compileBody(
  source: string,
  appName: string,
  origin?: SourceOrigin | null,
): (...args: unknown[]) => unknown {
  let fn: unknown;
  try {
    fn = evaluateAt(source, "(", ")", origin);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    try {
      fn = evaluateAt(source, "({", `})[${JSON.stringify(appName)}]`, origin);
    } catch {
      throw new SerializationError(
        `app '${appName}' cannot be sent to a worker: its source does not compile on its own (${e.message}); ` +
          `define it as a plain function or arrow function`,
      );
    }
  }
  if (typeof fn !== "function") {
    throw new SerializationError(`app '${appName}' cannot be sent to a worker: its source is not a function`);
  }
  return fn as (...args: unknown[]) => unknown;
}

/** Evaluates `open + source + close` in strict mode at the global scope, placed at `origin`. */
function evaluateAt(source: string, open: string, close: string, origin: SourceOrigin | null | undefined): unknown {
  if (!origin) {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- compiling an app's shipped source is this module's job
    const compiled = new Function(`"use strict"; return ${open}${source}${close};`) as () => unknown;
    return compiled();
  }
  const strict = '"use strict";';
  // `open` goes on the line before the body when there is one, so the body keeps its column.
  const lead =
    origin.line >= 2
      ? strict + "\n".repeat(origin.line - 2) + open + "\n" + " ".repeat(Math.max(0, origin.column - 1))
      : strict + open + " ".repeat(Math.max(0, origin.column - 1 - strict.length - open.length));
  const url = origin.file.replace(/[\r\n]/g, " ");
  // Indirect eval: global scope, like new Function, and `import()` inside bodies still works.
  return (0, eval)(`${lead}${source}\n${close}\n//# sourceURL=${url}`);
}

/**
 * Explain a ReferenceError raised inside a body that was sent to another thread/process:
 * almost always a closure over a variable that does not exist there.
 */
export function explainRemoteError(e: unknown, appName: string, where: string): unknown {
  if (e instanceof ReferenceError) {
    const err = new SerializationError(
      `app '${appName}' referenced something that does not exist in the ${where} (${e.message}). ` +
        `Bodies run on ${where}s must be self-contained: pass values as arguments and load modules inside the body ` +
        `(\`await import("node:fs")\` or \`require(…)\`), or run the app on the in-process executor`,
    );
    err.stack = `${err.name}: ${err.message}\n${e.stack ?? ""}`;
    return err;
  }
  return e;
}

/** Run a body once. For bash apps, runs the returned command and resolves to its exit code (0). */
export async function runBody(
  kind: AppKind,
  fn: (...args: unknown[]) => unknown,
  appName: string,
  ctx: TaskContext<unknown[]>,
  args: readonly unknown[],
  options: WireOptions,
): Promise<unknown> {
  const walltime = options.walltime;
  if (kind === "bash") {
    const command = await fn.apply(ctx, args as unknown[]);
    if (typeof command !== "string") {
      throw new ParslError(`bash app '${appName}' must return a command string, got ${describe(command)}`);
    }
    return runBash(command, appName, options.stdout, options.stderr, walltime);
  }
  const out = fn.apply(ctx, args as unknown[]);
  if (walltime === null || !(out instanceof Promise)) return out;
  // A synchronous body cannot be interrupted in its own thread; an asynchronous one is raced.
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WalltimeExceeded(appName, walltime)), walltime * 1000);
  });
  try {
    return await Promise.race([out, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Run `command` in `/bin/bash -c`, streams to files; non-zero exit → BashExitFailure. */
export function runBash(
  command: string,
  appName: string,
  stdout: StreamTarget | null,
  stderr: StreamTarget | null,
  walltime: number | null,
): Promise<number> {
  const fds: number[] = [];
  const open = (t: StreamTarget | null): number | "ignore" => {
    if (!t) return "ignore";
    fs.mkdirSync(path.dirname(path.resolve(t.path)), { recursive: true });
    const fd = fs.openSync(t.path, t.mode);
    fds.push(fd);
    return fd;
  };
  return new Promise<number>((resolve, reject) => {
    let child;
    try {
      const out = open(stdout);
      const err = stderr && stdout && path.resolve(stderr.path) === path.resolve(stdout.path) ? out : open(stderr);
      child = spawn("/bin/bash", ["-c", command], { stdio: ["ignore", out, err], detached: true });
    } catch (e) {
      for (const fd of fds) fs.closeSync(fd);
      reject(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    for (const fd of fds) fs.closeSync(fd);
    let timedOut = false;
    const timer =
      walltime === null
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            try {
              process.kill(-child.pid!, "SIGKILL"); // the whole process group: the command's children too
            } catch {
              child.kill("SIGKILL");
            }
          }, walltime * 1000);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (timedOut) reject(new WalltimeExceeded(appName, walltime!));
      else if (code === 0) resolve(0);
      else reject(new BashExitFailure(appName, code ?? 128 + signalNumber(signal)));
    });
  });
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal ? (os.constants.signals[signal] ?? 0) : 0;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v;
}
