/**
 * Real processes for the watch / progress / report tests: the `parsl-ts` CLI, the gated workflow
 * (test/fixtures/gatedWorkflow.ts), and either of them inside a pseudo-terminal (util-linux
 * `script`), with helpers that wait for output or exit instead of sleeping.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export const CLI = fileURLToPath(new URL("../src/cli/parsl-ts.cjs", import.meta.url));
export const GATED = fileURLToPath(new URL("./fixtures/gatedWorkflow.js", import.meta.url));

export interface Proc {
  child: ChildProcess;
  out(): string;
  err(): string;
  /** Resolves when stdout (or stderr) matches; rejects when the process exits first or after timeoutMs. */
  waitFor(re: RegExp, stream?: "out" | "err", timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
}

const running = new Set<ChildProcess>();

/** Ends every process start() began that is still running (a test's after hook: a failed test leaves none behind). */
export function stopAll(): void {
  for (const c of running) c.kill("SIGKILL");
  running.clear();
}

export function start(
  file: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; tty?: boolean } = {},
): Proc {
  const env = { ...process.env, ...options.env };
  // In a pseudo-terminal: `script -qec CMD /dev/null` runs CMD with a TTY as stdin/stdout/stderr and exits with its status.
  const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const child = options.tty
    ? spawn("script", ["-qec", [process.execPath, file, ...args].map(quote).join(" "), "/dev/null"], {
        cwd: options.cwd,
        env: { ...env, COLUMNS: "100", LINES: "40" },
        stdio: ["pipe", "pipe", "pipe"],
      })
    : spawn(process.execPath, [file, ...args], { cwd: options.cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  child.on("close", () => running.delete(child));
  let out = "";
  let err = "";
  const waiters: Array<() => void> = [];
  const notify = (): void => {
    for (const w of [...waiters]) w();
  };
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    notify();
  });
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
    notify();
  });
  let done = false;
  const exited = new Promise<number | null>((resolve) =>
    child.on("close", (code) => {
      done = true;
      notify();
      resolve(code);
    }),
  );
  const waitFor = (re: RegExp, stream: "out" | "err" = "out", timeoutMs = 60_000): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(`timed out waiting for ${re} on ${stream}:\n${stream === "out" ? out : err}\n--- stderr:\n${err}`),
        );
      }, timeoutMs);
      const check = (): void => {
        const m = (stream === "out" ? out : err).match(re);
        if (m) {
          cleanup();
          resolve(m);
        } else if (done) {
          cleanup();
          reject(new Error(`exited before ${re} appeared on ${stream}:\n${out}\n--- stderr:\n${err}`));
        }
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        const i = waiters.indexOf(check);
        if (i >= 0) waiters.splice(i, 1);
      };
      waiters.push(check);
      check();
    });
  return { child, out: () => out, err: () => err, waitFor, exited };
}

/** Text with ANSI escapes removed and carriage returns dropped. */
export function plain(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/\r/g, "");
}
