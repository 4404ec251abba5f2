/**
 * A worker process: started by a worker pool with an IPC channel (v8 serialization). It
 * runs the tries it is given one after another, and reports each try's start (for bodies
 * that wait: async and bash) and end, with a final resource sample when asked to.
 * It exits when its pool goes away.
 */
import { deserialize, serialize } from "node:v8";
import { compileBody } from "./appBody.js";
import { AppTimeout, runBashCommand } from "./bashCommand.js";
import { ProcessTreeSampler } from "./procStats.js";
import { errorInfo, nowMicros } from "./protocol.js";
import type { ResultItem, TaskItem } from "./protocol.js";
import type { FromWorker, ToWorker } from "./workerIpc.js";

const finalSample = process.env.PARSL_TS_WORKER_SAMPLE === "1";
const sampler = new ProcessTreeSampler(process.pid);

function send(msg: FromWorker): void {
  process.send?.(msg);
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return typeof x === "object" && x !== null && typeof (x as { then?: unknown }).then === "function";
}

function withWalltime<T>(p: PromiseLike<T>, appName: string, walltime: number | null): Promise<T> {
  if (walltime == null || walltime <= 0) return Promise.resolve(p);
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new AppTimeout(appName, walltime)), walltime * 1000);
    Promise.resolve(p).then(
      (v) => { clearTimeout(timer); resolve(v); },
      (e) => { clearTimeout(timer); reject(e); },
    );
  });
}

function finish(item: TaskItem, startedAt: number, ok: boolean, valueOrError: unknown): ResultItem {
  const endedAt = nowMicros();
  let r: ResultItem;
  if (ok) {
    try {
      r = { id: item.id, ok: true, value: serialize(valueOrError), startedAt, endedAt };
    } catch (e) {
      r = { id: item.id, ok: false, error: { name: "SerializationError", message: `result of app ${item.appName} cannot be sent back: ${(e as Error).message}` }, startedAt, endedAt };
    }
  } else {
    r = { id: item.id, ok: false, error: errorInfo(valueOrError), startedAt, endedAt };
  }
  if (finalSample) {
    const s = sampler.sample();
    if (s) r.sample = s;
  }
  return r;
}

async function runBatch(items: TaskItem[]): Promise<void> {
  let results: ResultItem[] = [];
  for (const item of items) {
    const startedAt = nowMicros();
    let body: (...a: unknown[]) => unknown;
    let args: unknown[];
    try {
      body = compileBody(item.appName, item.sourceId, item.source);
      args = deserialize(item.args) as unknown[];
    } catch (e) {
      results.push(finish(item, startedAt, false, e));
      continue;
    }
    const o = item.options;
    const ctx = {
      taskId: item.taskId, tryId: item.tryId, inputs: o.inputs, outputs: o.outputs,
      stdout: o.stdout, stderr: o.stderr, walltime: o.walltime, resourceSpecification: o.resourceSpecification,
    };
    try {
      let out = body.apply(ctx, args);
      if (item.kind === "bash" || isThenable(out)) {
        send({ t: "started", id: item.id, at: startedAt });
        if (isThenable(out)) out = await withWalltime(out, item.appName, o.walltime);
        if (item.kind === "bash") out = await runBashCommand(item.appName, out, o.stdout, o.stderr, o.walltime);
        results.push(finish(item, startedAt, true, out));
        // A long body ran: report at once rather than holding results behind the rest of the batch.
        send({ t: "done", results });
        results = [];
        continue;
      }
      results.push(finish(item, startedAt, true, out));
    } catch (e) {
      results.push(finish(item, startedAt, false, e));
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
process.on("disconnect", () => process.exit(0));
