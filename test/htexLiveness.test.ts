/**
 * Worker loss as its own wire kind, and pools' liveness while the kernel's thread is busy.
 * Real executor, real worker-pool and worker processes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import os from "node:os";
import { WorkerLost } from "../src/executors/threadPool.js";
import { nowMicros, parsePoolMessage } from "../src/executors/htex/protocol.js";
import { appOf, recordingHost, startLocalHtex, tryHandle } from "./htexHarness.js";
import { waitFor } from "./helpers.js";

function throwsNamedWorkerLost(): never {
  const e = new Error("my own error, which happens to be called WorkerLost");
  e.name = "WorkerLost";
  throw e;
}

function killsItsWorker(): never {
  process.kill(process.pid, "SIGKILL");
  throw new Error("unreachable");
}

function whoAmI(): number {
  return process.ppid;
}

test("the results message: a lost worker is its own kind, never both a lost worker and an error", () => {
  const base = { t: "results", started: [], samples: [] };
  const lost = parsePoolMessage({
    ...base,
    items: [{ id: 1, ok: false, startedAt: 1, endedAt: 2, lost: { message: "gone", exitCode: 137 } }],
  });
  assert.equal(lost.t === "results" && lost.items[0]!.lost?.exitCode, 137);
  assert.throws(
    () =>
      parsePoolMessage({
        ...base,
        items: [
          { id: 1, ok: false, startedAt: 1, endedAt: 2, lost: { message: "x" }, error: { name: "E", message: "m" } },
        ],
      }),
    /worker-lost/,
  );
  assert.throws(
    () => parsePoolMessage({ ...base, items: [{ id: 1, ok: false, startedAt: 1, endedAt: 2, lost: { message: 3 } }] }),
    /worker-lost/,
  );
});

test(
  "a body's error named WorkerLost stays the body's error; a worker that dies is a WorkerLost with its exit code",
  { timeout: 60_000 },
  async () => {
    const host = recordingHost({ interval: 0 });
    const ex = await startLocalHtex(host);
    try {
      const named = tryHandle(appOf(throwsNamedWorkerLost), []);
      ex.submit(named);
      const r1 = await named.result;
      assert.ok(!r1.ok);
      assert.equal(r1.error.name, "WorkerLost");
      assert.ok(
        !(r1.error instanceof WorkerLost),
        "a user's error is not turned into the executor's WorkerLost by its name",
      );
      assert.match(r1.error.message, /my own error/);

      const dies = tryHandle(appOf(killsItsWorker), []);
      ex.submit(dies);
      const r2 = await dies.result;
      assert.ok(!r2.ok && r2.error instanceof WorkerLost, !r2.ok ? String(r2.error) : "ok");
      assert.equal(r2.error.exitCode, 128 + os.constants.signals.SIGKILL);
    } finally {
      await ex.shutdown();
    }
  },
);

test(
  "a user's 5 s synchronous loop on the kernel's thread does not get a healthy pool declared lost (threshold 1.5 s)",
  { timeout: 60_000 },
  async () => {
    const host = recordingHost({ interval: 0 });
    const ex = await startLocalHtex(host, { heartbeatPeriod: 0.25, heartbeatThreshold: 1.5 });
    try {
      const first = tryHandle(appOf(whoAmI), []);
      ex.submit(first);
      const r1 = await first.result;
      assert.ok(r1.ok);
      const [pool] = ex.interchangeForTests!.poolViews();
      assert.ok(pool);

      // The user's CPU-heavy code: the kernel's thread does nothing else for 5 s. Run from a timer,
      // so the loss check's timer, due meanwhile, runs right after it, before any I/O is read.
      const spins = await new Promise<number>((resolve) =>
        setTimeout(() => {
          const until = Date.now() + 5000;
          let n = 0;
          while (Date.now() < until) n++;
          resolve(n);
        }, 0),
      );
      assert.ok(spins > 0);
      const stallEnd = nowMicros();

      // Wait until the pool has been heard from well after the stall: several loss checks have run by then.
      await waitFor(() => (ex.interchangeForTests!.poolViews()[0]?.lastHeartbeat ?? 0) > stallEnd + 2_000_000, {
        timeoutMs: 15_000,
        what: "heartbeats after the stall",
      });
      const views = ex.interchangeForTests!.poolViews();
      assert.deepEqual(
        views.map((p) => p.uid),
        [pool.uid],
        "the same pool, never dropped or replaced",
      );
      assert.ok(
        !host.logs.some((l) => /missed heartbeats|lost with|went away/.test(l.message)),
        host.logs.map((l) => l.message).join("\n"),
      );
      const second = tryHandle(appOf(whoAmI), []);
      ex.submit(second);
      const r2 = await second.result;
      assert.ok(r2.ok);
      assert.equal((r2 as { value: number }).value, (r1 as { value: number }).value, "it ran on the same pool process");
    } finally {
      await ex.shutdown();
    }
  },
);
