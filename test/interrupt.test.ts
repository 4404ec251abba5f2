/**
 * Issue 8 item 4: an interrupted run is not a failed one. After SIGINT, SIGTERM or
 * cleanup({ wait: false }), tasks that were running, queued on the executor or waiting on a
 * dependency get no failed try, no `failed`/`dep_fail` status and no count in
 * tasks_failed_count; they keep their last state, their futures fail with TaskCancelled, and
 * the run is `interrupted`. Each case runs a real workflow script on threads and on HTEX.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { InProcessExecutor, TaskCancelled, tsApp } from "../src/index.js";
import { loadMonitored, rows, sleep, tempDir, waitFor } from "./helpers.js";

const INDEX = fileURLToPath(new URL("../src/index.js", import.meta.url));

type Kind = "threads" | "htex";

/**
 * Two slow tasks take both workers, a third waits in the executor's queue, a fourth waits on
 * the first. On "cleanup" from stdin the script calls cleanup({ wait: false }) and prints how
 * each future ended.
 */
function script(dir: string, kind: Kind): string {
  const file = path.join(dir, "wf.mjs");
  const executor =
    kind === "threads"
      ? `new ThreadPoolExecutor({ label: "threads", maxThreads: 2 })`
      : `new HighThroughputExecutor({ label: "htex", maxWorkersPerNode: 2, interchangePortRange: [0, 0], prefetchCapacity: 0,
        provider: new LocalProvider({ initBlocks: 1, minBlocks: 0, maxBlocks: 1 }) })`;
  fs.writeFileSync(
    file,
    `
import { load, Config, MonitoringHub, ThreadPoolExecutor, HighThroughputExecutor, LocalProvider, TaskCancelled, tsApp } from ${JSON.stringify(INDEX)};
const slow = tsApp(async function slow() { await new Promise((r) => setTimeout(r, 60000)); return 1; });
const after = tsApp(function after(x) { return x; });
const dfk = await load(new Config({
  executors: [${executor}],
  monitoring: new MonitoringHub({ resourceMonitoringInterval: 1, heartbeatPeriod: 0.2 }),
  runDir: ${JSON.stringify(path.join(dir, "runinfo"))},
  retries: 2,
}));
const first = slow();
const futures = [first, slow(), slow(), after(first)];
console.log("READY " + dfk.runId);
process.stdin.on("data", async (d) => {
  if (String(d).startsWith("wait")) {
    console.log("CLEANING");
    await dfk.cleanup(); // waits for the 60 s tasks: a signal now must still end the run at once
    console.log("CLEANUP RETURNED");
    return;
  }
  await dfk.cleanup({ wait: false });
  const outcomes = await Promise.allSettled(futures);
  console.log("OUTCOMES " + JSON.stringify(outcomes.map((o) => o.status === "rejected" && o.reason instanceof TaskCancelled ? "TaskCancelled" : String(o.reason))));
  process.exit(0);
});
`,
  );
  return file;
}

type How = "SIGINT" | "SIGTERM" | "cleanup";

async function interruptRun(kind: Kind, how: How, duringCleanup = false): Promise<void> {
  const dir = tempDir();
  const child = spawn(process.execPath, [script(dir, kind)], { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const exit = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  try {
    await waitFor(() => /READY (\S+)/.test(out) || child.exitCode !== null, {
      timeoutMs: 30_000,
      what: "the script to start",
    });
    const runId = /READY (\S+)/.exec(out)?.[1];
    assert.ok(runId, out);
    const db = path.join(dir, "runinfo", "monitoring.db");
    const running = (): number =>
      fs.existsSync(db)
        ? rows<{ n: number }>(
            db,
            "SELECT COUNT(*) AS n FROM status WHERE run_id = ? AND task_status_name = 'running'",
            runId,
          )[0]!.n
        : 0;
    await waitFor(() => running() >= 2, { timeoutMs: 30_000, what: "two tasks running" });

    if (duringCleanup) {
      child.stdin.write("wait\n");
      await waitFor(() => out.includes("CLEANING"), { timeoutMs: 30_000, what: "cleanup() to be waiting" });
      await sleep(300); // inside cleanup's wait for the tasks
    }
    const signalledAt = Date.now();
    if (how === "cleanup") child.stdin.write("cleanup\n");
    else child.kill(how);
    const code = await exit;
    if (duringCleanup)
      assert.ok(
        Date.now() - signalledAt < 10_000,
        `the process ended within seconds of ${how} (${Date.now() - signalledAt} ms)`,
      );
    assert.equal(code, how === "SIGINT" ? 130 : how === "SIGTERM" ? 143 : 0, out);
    if (how === "cleanup") {
      assert.match(
        out,
        /OUTCOMES \["TaskCancelled","TaskCancelled","TaskCancelled","TaskCancelled"\]/,
        "every future fails with TaskCancelled",
      );
    }

    assert.match(
      out,
      /^parsl-ts: run \S+ interrupted in [^:]+: 4 cancelled · .*monitoring\.db$/m,
      "the end-of-run line",
    );
    const wf = rows(
      db,
      "SELECT run_status, tasks_completed_count, tasks_failed_count FROM workflow WHERE run_id = ?",
      runId,
    )[0];
    assert.deepEqual(wf, { run_status: "interrupted", tasks_completed_count: 0, tasks_failed_count: 0 });
    const bad = rows(
      db,
      `SELECT task_id, task_status_name FROM status WHERE run_id = ?
      AND task_status_name IN ('failed', 'dep_fail', 'fail_retryable', 'running_ended', 'exec_done')`,
      runId,
    );
    assert.deepEqual(bad, [], "no try was recorded as ended or failed");
    const tasks = rows<{
      task_id: number;
      task_latest_status: string;
      task_fail_count: number;
      task_time_returned: string | null;
    }>(
      db,
      "SELECT task_id, task_latest_status, task_fail_count, task_time_returned FROM task WHERE run_id = ? ORDER BY task_id",
      runId,
    );
    const states = tasks.map((t) => t.task_latest_status);
    // Two of tasks 0-2 run, the other is launched (queued in the executor) or running too; task 3 waits on task 0.
    assert.ok(
      states.slice(0, 3).every((s) => s === "launched" || s === "running"),
      `tasks 0-2 keep their last state, got ${states.join(", ")}`,
    );
    assert.ok(
      states.slice(0, 3).filter((s) => s === "running").length >= 2,
      `two tasks were running, got ${states.join(", ")}`,
    );
    assert.equal(states[3], "pending", "the dependent task keeps pending, not dep_fail");
    assert.ok(
      tasks.every((t) => t.task_fail_count === 0 && t.task_time_returned === null),
      JSON.stringify(tasks),
    );
    const tries = rows(
      db,
      "SELECT task_id, try_id, task_try_time_returned, task_fail_history FROM try WHERE run_id = ? ORDER BY task_id",
      runId,
    );
    assert.deepEqual(
      tries.map((t) => [t["task_id"], t["try_id"], t["task_try_time_returned"], t["task_fail_history"]]),
      [
        [0, 0, null, null],
        [1, 0, null, null],
        [2, 0, null, null],
        [3, 0, null, null],
      ],
      "one try each, none recorded as returned",
    );
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}

for (const kind of ["threads", "htex"] as const) {
  for (const how of ["cleanup", "SIGINT", "SIGTERM"] as const) {
    test(
      `${how === "cleanup" ? "cleanup({ wait: false })" : how} on ${kind}: tasks keep their last state, nothing counts as failed, the run is interrupted`,
      { timeout: 90_000 },
      () => interruptRun(kind, how),
    );
  }
  // The first signal while cleanup() waits for tasks (as under Slurm's scancel) ends the run, not a later SIGKILL.
  for (const how of ["SIGTERM", "SIGINT"] as const) {
    test(
      `${how} while cleanup() waits on ${kind}: the run is interrupted and the process ends within seconds`,
      { timeout: 90_000 },
      () => interruptRun(kind, how, true),
    );
  }
}

test(
  "cleanup({ wait: false }) on an InProcessExecutor: the running body's task is cancelled, not failed; with nothing outstanding the run completes",
  { timeout: 30_000 },
  async () => {
    const never = tsApp(async function never() {
      await new Promise((r) => setTimeout(r, 60_000));
    });
    const quick = tsApp(function quick() {
      return 1;
    });
    const { dfk, dbPath } = await loadMonitored(
      { executors: [new InProcessExecutor({ label: "here" })] },
      { resourceMonitoringInterval: 1 },
    );
    assert.equal(await quick(), 1);
    const f = never();
    await waitFor(
      () => rows(dbPath, "SELECT 1 FROM status WHERE task_id = 1 AND task_status_name = 'running'").length === 1,
      { timeoutMs: 30_000, what: "the body to start" },
    );
    await dfk.cleanup({ wait: false });
    await assert.rejects(
      f,
      (e: Error) => e instanceof TaskCancelled && /still running when executor 'here' shut down/.test(e.message),
    );
    assert.deepEqual(rows(dbPath, "SELECT run_status, tasks_completed_count, tasks_failed_count FROM workflow")[0], {
      run_status: "interrupted",
      tasks_completed_count: 1,
      tasks_failed_count: 0,
    });
    assert.deepEqual(rows(dbPath, "SELECT task_id, task_latest_status, task_fail_count FROM task ORDER BY task_id"), [
      { task_id: 0, task_latest_status: "exec_done", task_fail_count: 0 },
      { task_id: 1, task_latest_status: "running", task_fail_count: 0 },
    ]);

    const second = await loadMonitored({ executors: [new InProcessExecutor({ label: "here" })] });
    assert.equal(await quick(), 1);
    await second.dfk.cleanup({ wait: false });
    assert.equal(
      rows(second.dbPath, "SELECT run_status FROM workflow")[0]!["run_status"],
      "completed",
      "nothing was interrupted",
    );
  },
);
