/**
 * HTEX through the kernel into the monitoring database: the HTEX rows of spec §9
 * (test_row_counts_base, test_htex_init_blocks_vs_monitoring, test_stdouterr), with real
 * worker pools and the real writer process.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { AUTO_LOGNAME, bashApp, File, tsApp } from "../src/index.js";
import { HighThroughputExecutor } from "../src/executors/htex/executor.js";
import { LocalProvider } from "../src/providers/local.js";
import type { StrategyName } from "../src/providers/strategy.js";
import { count, loadMonitored, rows, tempDir } from "./helpers.js";

const thisApp = tsApp(function thisApp() {
  return 5;
});

function htex(strategy: StrategyName = "simple", initBlocks = 1, maxBlocks = 1): HighThroughputExecutor {
  return new HighThroughputExecutor({
    label: "htex",
    maxWorkersPerNode: 1,
    interchangePortRange: [0, 0],
    strategy,
    strategyPeriod: 0.1,
    provider: new LocalProvider({ initBlocks, minBlocks: 0, maxBlocks }),
  });
}

test(
  "test_row_counts_base (HTEX): one task gives 1 workflow/task/try, 4 node rows, block and resource rows",
  { timeout: 90_000 },
  async () => {
    const { dfk, dbPath } = await loadMonitored({ executors: [htex()] }, { resourceMonitoringInterval: 1 });
    try {
      assert.equal(await thisApp(), 5);
    } finally {
      await dfk.cleanup();
    }
    assert.equal(count(dbPath, "SELECT COUNT(*) FROM workflow"), 1);
    assert.equal(count(dbPath, "SELECT COUNT(*) FROM task"), 1);
    assert.equal(count(dbPath, "SELECT COUNT(*) FROM try"), 1);
    assert.equal(
      count(
        dbPath,
        `SELECT COUNT(*) FROM status JOIN try ON status.task_id = try.task_id AND status.run_id = try.run_id
    WHERE status.task_status_name = 'exec_done' AND try.task_try_time_running IS NULL`,
      ),
      0,
    );
    assert.equal(
      count(dbPath, "SELECT COUNT(*) FROM workflow WHERE time_began IS NOT NULL AND time_completed IS NOT NULL"),
      1,
    );
    assert.equal(count(dbPath, "SELECT COUNT(*) FROM node"), 4);
    assert.ok(count(dbPath, "SELECT COUNT(*) FROM block") >= 2);
    assert.ok(count(dbPath, "SELECT COUNT(*) FROM resource") >= 1);
    const t = rows<{ hostname: string; block_id: string; task_executor: string }>(
      dbPath,
      "SELECT hostname, block_id, task_executor FROM try",
    )[0]!;
    assert.deepEqual(t, { hostname: os.hostname(), block_id: "0", task_executor: "htex" });
    const states = rows<{ task_status_name: string }>(
      dbPath,
      "SELECT task_status_name FROM status ORDER BY timestamp",
    ).map((r) => r.task_status_name);
    assert.deepEqual(states, ["pending", "launched", "running", "running_ended", "exec_done"]);
    const nodes = rows<{ active: number; worker_count: number; block_id: string; python_v: string }>(
      dbPath,
      "SELECT active, worker_count, block_id, python_v FROM node ORDER BY id",
    );
    assert.deepEqual(
      nodes.map((n) => n.active),
      [1, 1, 1, 0],
    );
    assert.ok(nodes.every((n) => n.worker_count === 1 && n.block_id === "0" && n.python_v === process.versions.node));
    // Causal order across the worker boundary: launched <= running <= running_ended <= exec_done.
    const times = rows<{ timestamp: string }>(dbPath, "SELECT timestamp FROM status ORDER BY rowid").map(
      (r) => r.timestamp,
    );
    assert.deepEqual([...times].sort(), times);
  },
);

for (const strategy of ["none", "simple", "htex_auto_scale"] as const) {
  test(
    `test_htex_init_blocks_vs_monitoring (${strategy}): initBlocks=1, min=max=0 gives one PENDING and one SCALED_IN block row`,
    { timeout: 90_000 },
    async () => {
      const { dfk, dbPath } = await loadMonitored(
        { executors: [htex(strategy, 1, 0)] },
        { resourceMonitoringInterval: 1 },
      );
      try {
        assert.equal(await thisApp(), 5);
        await new Promise((r) => setTimeout(r, 300)); // a few strategy periods
      } finally {
        await dfk.cleanup();
      }
      assert.equal(count(dbPath, "SELECT COUNT(DISTINCT block_id) FROM block"), 1);
      assert.equal(count(dbPath, "SELECT COUNT(*) FROM block WHERE block_id = '0' AND status = 'PENDING'"), 1);
      assert.equal(count(dbPath, "SELECT COUNT(*) FROM block WHERE status = 'SCALED_IN'"), 1);
      const jobIds = rows<{ job_id: string }>(dbPath, "SELECT DISTINCT job_id FROM block").map((r) => r.job_id);
      assert.equal(jobIds.length, 1);
      assert.match(jobIds[0]!, /^\d+$/, "a local block's job id is its process id");
    },
  );
}

test(
  "test_stdouterr (HTEX): stream specs run on the pool and are stored as the spec says",
  { timeout: 90_000 },
  async () => {
    const cwd = process.cwd();
    const dir = tempDir();
    process.chdir(dir); // relative paths are relative to the run's working directory, as the pool's
    // Each stream gets its own file, so 'w' of one task does not truncate another's output.
    const cases: {
      spec: (w: string) => unknown;
      stored: (w: string) => string | RegExp;
      file?: (w: string) => string;
    }[] = [
      { spec: (w) => `hello-${w}.txt`, stored: (w) => `hello-${w}.txt`, file: (w) => path.join(dir, `hello-${w}.txt`) },
      { spec: () => null, stored: () => "" },
      {
        spec: (w) => [`tuple-${w}.txt`, "w"],
        stored: (w) => `tuple-${w}.txt`,
        file: (w) => path.join(dir, `tuple-${w}.txt`),
      },
      { spec: () => AUTO_LOGNAME, stored: () => /.*\/task_\d{4}_stdapp\.std...$/ },
      {
        spec: (w) => new File(`file://${path.join(dir, `pl5-${w}`)}`),
        stored: (w) => `file://${path.join(dir, `pl5-${w}`)}`,
        file: (w) => path.join(dir, `pl5-${w}`),
      },
    ];
    const stdapp = bashApp(function stdapp() {
      return "echo to-out; echo to-err >&2";
    });
    try {
      const { dfk, dbPath } = await loadMonitored(
        { executors: [htex()], runDir: path.join(dir, "runinfo") },
        { resourceMonitoringInterval: 1 },
      );
      const ids: { id: number; which: "stdout" | "stderr"; c: (typeof cases)[number] }[] = [];
      try {
        for (const c of cases) {
          for (const which of ["stdout", "stderr"] as const) {
            const f = stdapp.with({ [which]: c.spec(which) })();
            ids.push({ id: f.taskId, which, c });
            assert.equal(await f, 0);
          }
        }
      } finally {
        await dfk.cleanup();
      }
      for (const { id, which, c } of ids) {
        const stored = rows<Record<string, string>>(
          dbPath,
          `SELECT task_${which} AS v FROM task WHERE task_id = ?`,
          id,
        )[0]!.v;
        const want = c.stored(which);
        if (typeof want === "string") assert.equal(stored, want, `task ${id} ${which}`);
        else assert.match(stored!, want, `task ${id} ${which}`);
        if (c.file) assert.equal(fs.readFileSync(c.file(which), "utf8"), which === "stdout" ? "to-out\n" : "to-err\n");
      }
      assert.equal(count(dbPath, "SELECT COUNT(*) FROM try WHERE block_id = '0'"), ids.length);
      const log = fs.readFileSync(
        path.join(
          path.dirname(dbPath),
          fs.readdirSync(path.dirname(dbPath)).find((d) => /^\d{3}$/.test(d))!,
          "parsl.log",
        ),
        "utf8",
      );
      assert.doesNotMatch(log, /\bERROR\b/);
    } finally {
      process.chdir(cwd);
    }
  },
);

test(
  "a worker killed mid-try: the try fails with WorkerLost and the task is retried within its budget",
  { timeout: 90_000 },
  async () => {
    const flaky = tsApp(function flaky(this: { tryId: number }) {
      if (this.tryId === 0) process.kill(process.pid, "SIGKILL");
      return "second try";
    });
    const { dfk, dbPath } = await loadMonitored({ executors: [htex()], retries: 1 }, { resourceMonitoringInterval: 1 });
    try {
      assert.equal(await flaky(), "second try");
    } finally {
      await dfk.cleanup();
    }
    const tries = rows<{
      try_id: number;
      task_fail_history: string;
      block_id: string | null;
      task_try_error_type: string | null;
      task_try_exit_code: number | null;
    }>(
      dbPath,
      "SELECT try_id, task_fail_history, block_id, task_try_error_type, task_try_exit_code FROM try ORDER BY try_id",
    );
    assert.equal(tries.length, 2);
    assert.match(tries[0]!.task_fail_history, /WorkerLost/);
    assert.equal(tries[0]!.task_try_error_type, "WorkerLost");
    assert.equal(
      tries[0]!.task_try_exit_code,
      128 + os.constants.signals.SIGKILL,
      "a lost worker's signal, as a shell's $? shows it",
    );
    assert.equal(tries[1]!.task_try_error_type, null);
    assert.equal(tries[1]!.task_fail_history, "");
    assert.equal(tries[1]!.block_id, "0");
    const states = rows<{ task_status_name: string }>(
      dbPath,
      "SELECT task_status_name FROM status ORDER BY timestamp, rowid",
    ).map((r) => r.task_status_name);
    assert.ok(states.includes("fail_retryable") && states.at(-1) === "exec_done", states.join(","));
  },
);

test(
  "a script using HTEX that never calls cleanup() still ends, and its blocks are scaled in",
  { timeout: 90_000 },
  async () => {
    const dir = tempDir();
    const index = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../src/index.js");
    const file = path.join(dir, "forgetful-htex.mjs");
    fs.writeFileSync(
      file,
      `
import { load, Config, MonitoringHub, HighThroughputExecutor, LocalProvider, tsApp } from ${JSON.stringify(index)};
const one = tsApp(function one() { return 1; });
await load(new Config({
  executors: [new HighThroughputExecutor({ maxWorkersPerNode: 1, interchangePortRange: [0, 0], provider: new LocalProvider({}) })],
  monitoring: new MonitoringHub({ resourceMonitoringInterval: 1 }), runDir: ${JSON.stringify(path.join(dir, "runinfo"))},
}));
console.log(await one());
`,
    );
    const { spawn } = await import("node:child_process");
    const child = spawn(process.execPath, [file], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const code = await new Promise<number | null>((r) => child.on("close", (c) => r(c)));
    clearTimeout(timer);
    assert.equal(code, 0);
    assert.equal(out.trim(), "1");
    const db = path.join(dir, "runinfo", "monitoring.db");
    assert.equal(rows<{ run_status: string }>(db, "SELECT run_status FROM workflow")[0]!.run_status, "completed");
    assert.equal(count(db, "SELECT COUNT(*) FROM block WHERE status = 'SCALED_IN'"), 1);
    assert.equal(count(db, "SELECT COUNT(*) FROM node WHERE active = 0"), 1);
  },
);
