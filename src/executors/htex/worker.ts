/**
 * A worker process: started by a worker pool with an IPC channel (v8 serialization). It
 * runs the tries it is given one after another through the shared app runtime
 * (src/apps/runtime.ts, as the thread pool does), and reports each try's start (at once
 * for bodies that wait: async and bash) and end, with a final resource sample when asked.
 * It exits when its pool goes away.
 */
import { createRequire } from "node:module";
import { serialize } from "node:v8";
import { compileBody, explainRemoteError, makeContext, runBody } from "../../apps/runtime.js";
import { errorToWire } from "../../apps/errorWire.js";
import { SerializationError, WalltimeExceeded } from "../../errors.js";
import { childrenOf, ProcessTreeSampler, sinceBaseline } from "./procStats.js";
import { MAX_VALUE_BYTES, mebibytes, nowMicros } from "./protocol.js";
import type { ResourceSample, ResultItem, TaskItem } from "./protocol.js";
import type { FromWorker, ToWorker } from "./workerIpc.js";

// Bodies load modules with `require(...)` (resolved from the working directory) or `await import(...)`.
(globalThis as { require?: NodeJS.Require }).require = createRequire(`${process.cwd()}/`);

type Body = (...args: unknown[]) => unknown;
const finalSample = process.env.PARSL_TS_WORKER_SAMPLE === "1";
const sampler = new ProcessTreeSampler(process.pid);
const bodies = new Map<string, Body>();

function send(msg: FromWorker): void {
  process.send?.(msg);
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return typeof x === "object" && x !== null && typeof (x as { then?: unknown }).then === "function";
}

function bodyFor(item: TaskItem): Body {
  let fn = bodies.get(item.sourceId);
  if (!fn) {
    if (item.source === undefined)
      throw new SerializationError(`worker has no source for app '${item.appName}' (internal error)`);
    fn = compileBody(item.source, item.appName, item.origin);
    bodies.set(item.sourceId, fn);
  }
  return fn;
}

async function withWalltime(p: PromiseLike<unknown>, appName: string, walltime: number | null): Promise<unknown> {
  if (walltime === null) return p;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WalltimeExceeded(appName, walltime)), walltime * 1000);
  });
  try {
    return await Promise.race([p, expired]);
  } finally {
    clearTimeout(timer);
  }
}

function finish(
  item: TaskItem,
  startedAt: number,
  base: ResourceSample | null,
  ok: boolean,
  valueOrError: unknown,
  fresh = true,
): ResultItem {
  const endedAt = nowMicros();
  let r: ResultItem;
  if (ok) {
    try {
      const value = serialize(valueOrError);
      if (value.length > MAX_VALUE_BYTES) {
        throw new Error(
          `it serializes to ${mebibytes(value.length)}, over the ${mebibytes(MAX_VALUE_BYTES)} a result may carry; write it to a file and return the path`,
        );
      }
      r = { id: item.id, ok: true, value, startedAt, endedAt };
    } catch (e) {
      const err = new SerializationError(
        `task ${item.taskId}: the value returned by app '${item.appName}' cannot be sent back from a worker process (${(e as Error).message})`,
      );
      r = { id: item.id, ok: false, error: errorToWire(err), startedAt, endedAt };
    }
  } else {
    r = {
      id: item.id,
      ok: false,
      error: errorToWire(explainRemoteError(valueOrError, item.appName, "worker process")),
      startedAt,
      endedAt,
    };
  }
  if (finalSample) {
    const s = endSample(fresh, endedAt);
    if (s) r.sample = sinceBaseline(s, base);
  }
  return r;
}

/**
 * The try-end sample. /proc CPU times advance in clock ticks (10 ms), so for a synchronous
 * body (which starts no processes through the runtime) a reading younger than one tick is
 * reused with the try's own end time instead of re-reading /proc for every short try.
 * Bodies that waited (async, bash) always get a fresh reading.
 */
let lastSample: ResourceSample | null = null;
const REUSE_MICROS = 10_000;
function endSample(fresh: boolean, at: number): ResourceSample | null {
  if (!fresh && lastSample && at - lastSample.timestamp < REUSE_MICROS) return { ...lastSample, timestamp: at };
  lastSample = sampler.sample();
  return lastSample;
}

/**
 * The reading a try's counters are measured from (docs/SCHEMA.md, resource): taken when the try
 * starts, or the previous reading when that is younger than one tick (back-to-back short tries).
 */
function baseline(at: number): ResourceSample | null {
  if (lastSample && at - lastSample.timestamp < REUSE_MICROS) return lastSample;
  lastSample = sampler.sample();
  return lastSample;
}
/** Start of the previous try: a synchronous try that starts within a tick of it is part of a rapid stream. */
let previousStart = -Infinity;

async function runBatch(items: TaskItem[]): Promise<void> {
  let results: ResultItem[] = [];
  for (const item of items) {
    const startedAt = nowMicros();
    const base = finalSample ? baseline(startedAt) : null;
    const rapid = startedAt - previousStart < REUSE_MICROS;
    previousStart = startedAt;
    try {
      const fn = bodyFor(item);
      const args = item.args;
      const ctx = makeContext(item.taskId, item.tryId, item.options);
      let out: unknown;
      const started = (): FromWorker =>
        base ? { t: "started", id: item.id, at: startedAt, base } : { t: "started", id: item.id, at: startedAt };
      const walled = item.options.walltime !== null;
      if (walled) {
        // The pool enforces the walltime from outside, so even a body that never yields is stopped;
        // it needs to know when this try starts and which earlier ones are done.
        if (results.length > 0) send({ t: "done", results });
        results = [];
        send(started());
      }
      if (item.kind === "ts") {
        // Outside rapid streams the pool learns of every start, so its periodic samples of a long
        // synchronous body are counted from this try's baseline.
        if (base && !rapid && !walled) send(started());
        out = fn.apply(ctx, args);
        if (!isThenable(out)) {
          results.push(finish(item, startedAt, base, true, out, false));
          continue;
        }
        if ((!base || rapid) && !walled) send(started());
        out = await withWalltime(out, item.appName, item.options.walltime);
      } else {
        if (!walled) send(started());
        out = await runBody(item.kind, fn, item.appName, ctx, args, item.options);
      }
      // A long body ran: report at once rather than holding results behind the rest of the batch.
      results.push(finish(item, startedAt, base, true, out));
      send({ t: "done", results });
      results = [];
    } catch (e) {
      results.push(finish(item, startedAt, base, false, e));
    }
  }
  send({ t: "done", results });
}

let chain: Promise<void> = Promise.resolve();
process.on("message", (msg: ToWorker) => {
  if (msg && msg.t === "batch" && Array.isArray(msg.items)) {
    chain = chain.then(() => runBatch(msg.items));
  }
});
/**
 * Bash commands run in their own process groups (so a walltime kills the whole command), which
 * also takes them out of the block's group: stop them ourselves when we are told to stop.
 */
function stopCommandsAndExit(code: number): never {
  for (const child of childrenOf(process.pid)) {
    try {
      process.kill(-child, "SIGKILL");
    } catch {
      /* not a group leader */
    }
    try {
      process.kill(child, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
  process.exit(code);
}
process.on("disconnect", () => stopCommandsAndExit(0));
process.on("SIGTERM", () => stopCommandsAndExit(143));
