/**
 * Entry of one ThreadPoolExecutor worker thread. Receives batches of tries, runs them one
 * at a time, and sends back start times and results in batches.
 *
 * Protocol (plain structured-clone data):
 *   main → worker  { defs: [sourceId, source, appName, kind, origin][], tasks: WireTask[] }
 *   worker → main  { events: OutEvent[] }
 */
import { createRequire } from "node:module";
import { parentPort } from "node:worker_threads";
import type { AppKind, SourceOrigin } from "./base.js";
import { compileBody, explainRemoteError, makeContext, runBody, type WireOptions } from "../apps/runtime.js";
import { errorToWire, type WireError } from "../apps/errorWire.js";
import { SerializationError } from "../errors.js";
import { nowMicros } from "../vocabulary/time.js";

/** [taskId, tryId, sourceId, args, options, urgentStart] */
export type WireTask = [number, number, string, unknown[], WireOptions, boolean];
export type WireDef = [string, string, string, AppKind, SourceOrigin | null];
/** ["s", taskId, tryId, at] | ["d", taskId, tryId, ok, valueOrError, endedAt] */
export type OutEvent = ["s", number, number, number] | ["d", number, number, boolean, unknown, number];
export interface InMessage {
  defs: WireDef[];
  tasks: WireTask[];
}

// Bodies load modules with `require(...)` (resolved from the working directory) or `await import(...)`.
(globalThis as { require?: NodeJS.Require }).require = createRequire(`${process.cwd()}/`);

const port = parentPort!;
const bodies = new Map<
  string,
  { fn: ((...a: unknown[]) => unknown) | null; name: string; kind: AppKind; error: Error | null }
>();
const queue: WireTask[] = [];
let outbox: OutEvent[] = [];
let lastFlush = 0;
let running = false;

port.on("message", (m: InMessage) => {
  for (const [id, source, name, kind, origin] of m.defs) {
    try {
      bodies.set(id, { fn: compileBody(source, name, origin), name, kind, error: null });
    } catch (e) {
      bodies.set(id, { fn: null, name, kind, error: e as Error });
    }
  }
  for (const t of m.tasks) queue.push(t);
  if (!running) void drain();
});

async function drain(): Promise<void> {
  running = true;
  while (queue.length > 0) {
    const t = queue.shift()!;
    await runOne(t);
  }
  running = false;
  flush();
}

async function runOne([taskId, tryId, sourceId, args, options, urgent]: WireTask): Promise<void> {
  const body = bodies.get(sourceId);
  const start = nowMicros();
  outbox.push(["s", taskId, tryId, start]);
  // Tell the kernel promptly when a task starts, unless we are racing through short tasks.
  if (urgent || start - lastFlush >= 1000) flush();
  let ok = true;
  let payload: unknown;
  try {
    if (!body) throw new SerializationError(`worker thread has no body for task ${taskId} (internal error)`);
    if (!body.fn) throw body.error!;
    const out = runBody(body.kind, body.fn, body.name, makeContext(taskId, tryId, options), args, options);
    payload = await out;
  } catch (e) {
    ok = false;
    payload = errorToWire(explainRemoteError(e, body?.name ?? "?", "worker thread"));
  }
  outbox.push(["d", taskId, tryId, ok, payload, nowMicros()]);
}

function flush(): void {
  if (outbox.length === 0) return;
  const events = outbox;
  outbox = [];
  lastFlush = nowMicros();
  try {
    port.postMessage({ events });
  } catch {
    // Some result cannot be cloned: send one by one, replacing the ones that fail.
    for (const ev of events) {
      try {
        port.postMessage({ events: [ev] });
      } catch (e) {
        const [, taskId, tryId] = ev;
        const err: WireError = errorToWire(
          new SerializationError(
            `task ${taskId}: the value returned by the app cannot be sent back from a worker thread (${(e as Error).message}); ` +
              `return plain data (structured-cloneable)`,
          ),
        );
        port.postMessage({ events: [["d", taskId, tryId, false, err, nowMicros()]] });
      }
    }
  }
}
