/**
 * Runs a bash app's command line: `/bin/bash -c <command>`, stdout/stderr to the files the
 * invocation named (mode 'w' truncates, 'a' appends), killed when the walltime passes.
 * A non-zero exit becomes an error carrying the exit code.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import type { StreamTarget } from "../base.js";

export class BashExitFailure extends Error {
  constructor(readonly appName: string, readonly exitCode: number) {
    super(`bash app ${appName} failed with unix exit code ${exitCode}`);
    this.name = "BashExitFailure";
  }
}

export class AppTimeout extends Error {
  constructor(appName: string, walltime: number) {
    super(`app ${appName} exceeded its walltime of ${walltime} s`);
    this.name = "AppTimeout";
  }
}

function openTarget(t: StreamTarget | null): number | "ignore" {
  if (!t) return "ignore";
  return openSync(t.path, t.mode === "w" ? "w" : "a");
}

export function runBashCommand(
  appName: string,
  command: unknown,
  stdout: StreamTarget | null,
  stderr: StreamTarget | null,
  walltime: number | null,
): Promise<number> {
  if (typeof command !== "string") {
    return Promise.reject(new TypeError(`bash app ${appName} must return a command string, got ${typeof command}`));
  }
  const fds: number[] = [];
  let out: number | "ignore", err: number | "ignore";
  try {
    out = openTarget(stdout);
    if (typeof out === "number") fds.push(out);
    err = stderr && stdout && stderr.path === stdout.path && typeof out === "number" ? out : openTarget(stderr);
    if (typeof err === "number" && err !== out) fds.push(err);
  } catch (e) {
    for (const fd of fds) closeSync(fd);
    return Promise.reject(new Error(`bash app ${appName}: cannot open its output file: ${(e as Error).message}`));
  }
  return new Promise((resolve, reject) => {
    const child = spawn("/bin/bash", ["-c", command], { stdio: ["ignore", out, err] });
    for (const fd of fds) closeSync(fd); // the child holds its own copies
    let timedOut = false;
    const timer = walltime != null && walltime > 0
      ? setTimeout(() => {
          timedOut = true;
          child.kill("SIGKILL");
        }, walltime * 1000)
      : null;
    child.on("error", (e) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`bash app ${appName}: cannot start /bin/bash: ${e.message}`));
    });
    child.on("exit", (code, signal) => {
      if (timer) clearTimeout(timer);
      if (timedOut) return reject(new AppTimeout(appName, walltime!));
      const exit = code ?? 128 + (signal ? signalNumber(signal) : 0);
      if (exit !== 0) return reject(new BashExitFailure(appName, exit));
      resolve(0);
    });
  });
}

function signalNumber(sig: NodeJS.Signals): number {
  const table: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };
  return table[sig] ?? 0;
}
