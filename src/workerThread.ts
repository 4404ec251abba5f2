/**
 * Starting one of our worker threads so that it runs under every way a user can start `node`.
 *
 * A thread gets no `execArgv` from us: Node then hands it this thread's options as already
 * parsed, which are always valid for a thread (loaders, `--conditions`, source maps, …). Passing
 * `process.execArgv` explicitly instead makes Node parse it again as *thread* options, which
 * refuses per-process and V8 ones; under Node 24's test runner `process.execArgv` lists every
 * option's value (`--stack-trace-limit=10`, `--secure-heap-min=2`, …), so every such Worker
 * failed with ERR_WORKER_INVALID_EXEC_ARGV.
 *
 * One inherited option breaks a thread: `--input-type` (present when the program is `-e` code or
 * stdin), with which Node 20, 22 and 24 refuse to run a thread's *file*. Then the thread starts
 * from a one-line `import()` of its file, which is string input, so `--input-type` applies to it
 * harmlessly.
 */
import { Worker, type WorkerOptions } from "node:worker_threads";

/** Whether this process's options include `--input-type` (the program is a string). */
export function hasInputType(argv: readonly string[] = process.execArgv): boolean {
  return argv.some((a) => a === "--input-type" || a.startsWith("--input-type="));
}

/** A worker thread running the ES module `file`, with this thread's Node options. */
export function startWorkerThread(file: URL, options: Omit<WorkerOptions, "eval" | "execArgv"> = {}): Worker {
  if (!hasInputType()) return new Worker(file, options);
  return new Worker(`import(${JSON.stringify(file.href)});`, { ...options, eval: true });
}
