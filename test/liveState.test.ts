/**
 * Issue 8 item 1: `task.task_latest_status` is true at every moment of a run. The database is
 * sampled while slow tasks run (on threads and on HTEX), and in every sample each task's
 * `task_latest_status` must equal the state of its newest status row, read in the same snapshot.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { tsApp, type AppFuture } from "../src/index.js";
import { HighThroughputExecutor } from "../src/executors/htex/executor.js";
import { LocalProvider } from "../src/providers/local.js";
import type { Executor } from "../src/executors/base.js";
import { ThreadPoolExecutor } from "../src/executors/threadPool.js";
import { loadMonitored, openDb } from "./helpers.js";

const slow = tsApp(async function slow(ms: number, fail: boolean) {
  await new Promise((r) => setTimeout(r, ms));
  if (fail) throw new Error("planned failure");
  return ms;
});

interface Mismatch {
  task_id: number;
  col: string | null;
  newest: string | null;
}

/**
 * Runs 24 slow tasks (some chained, some failing with a retry) and samples the database until
 * they are done. Returns the mismatches found and the non-final states the column was seen in.
 */
async function sampleRun(executor: Executor): Promise<{ samples: number; mismatches: Mismatch[]; seen: Set<string> }> {
  const { dfk, dbPath } = await loadMonitored({ executors: [executor], retries: 1 }, { resourceMonitoringInterval: 1 });
  const mismatches: Mismatch[] = [];
  const seen = new Set<string>();
  let samples = 0;
  let done = false;
  try {
    const futures: AppFuture<number>[] = [];
    for (let i = 0; i < 24; i++) {
      // Every fourth task waits on the one before (and is a dep_fail if that one fails).
      const ms: number | AppFuture<number> = i % 4 === 3 ? futures[i - 1]! : 40 + (i % 5) * 30;
      futures.push(slow(ms, i % 7 === 5));
    }
    const all = Promise.allSettled(futures).then(() => {
      done = true;
    });
    const db = openDb(dbPath);
    try {
      // One SELECT is one snapshot: the column and the status rows are read together.
      const sample = db.prepare(`SELECT t.task_id, t.task_latest_status AS col,
          (SELECT s.task_status_name FROM status s WHERE s.run_id = t.run_id AND s.task_id = t.task_id
            ORDER BY s.timestamp DESC LIMIT 1) AS newest
        FROM task t WHERE t.run_id = ?`);
      while (!done) {
        for (const r of sample.all(dfk.runId) as Mismatch[]) {
          if (r.col !== r.newest) mismatches.push(r);
          if (r.col !== null) seen.add(r.col);
        }
        samples++;
        await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      db.close();
    }
    await all;
  } finally {
    await dfk.cleanup();
  }
  return { samples, mismatches, seen };
}

function check(result: { samples: number; mismatches: Mismatch[]; seen: Set<string> }): void {
  assert.ok(result.samples >= 10, `sampled ${result.samples} times`);
  assert.deepEqual(
    result.mismatches.slice(0, 5),
    [],
    `${result.mismatches.length} samples disagreed with the status table`,
  );
  // The column moved through the non-final states, not just the ones the kernel used to send.
  for (const state of ["pending", "launched", "running"])
    assert.ok(result.seen.has(state), `task_latest_status was seen as ${state} (saw ${[...result.seen].join(", ")})`);
}

test(
  "task_latest_status equals each task's newest status row at every sample (threads)",
  { timeout: 60_000 },
  async () => {
    check(await sampleRun(new ThreadPoolExecutor({ label: "threads", maxThreads: 2 })));
  },
);

test(
  "task_latest_status equals each task's newest status row at every sample (HTEX, local provider)",
  { timeout: 90_000 },
  async () => {
    check(
      await sampleRun(
        new HighThroughputExecutor({
          label: "htex",
          maxWorkersPerNode: 2,
          interchangePortRange: [0, 0],
          provider: new LocalProvider({ initBlocks: 1, minBlocks: 0, maxBlocks: 1 }),
        }),
      ),
    );
  },
);
