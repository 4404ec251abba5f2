/**
 * SlurmProvider end to end on a real Slurm cluster (scripts/slurm/start-cluster.sh starts a
 * one-node one). Skipped, with a message saying how to enable them, where Slurm is absent;
 * under CI=true they must run, so a missing cluster fails.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import os from "node:os";
import { tsApp } from "../src/index.js";
import { HighThroughputExecutor } from "../src/executors/htex/executor.js";
import { SlurmProvider } from "../src/providers/slurm.js";
import { count, loadMonitored, rows, sleep } from "./helpers.js";

function slurmProblem(): string | null {
  try {
    const out = execFileSync("scontrol", ["ping"], {
      encoding: "utf8",
      timeout: 10_000,
      stdio: ["ignore", "pipe", "pipe"],
    });
    return /UP/.test(out) ? null : `scontrol ping says: ${out.trim()}`;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT"
      ? "Slurm is not installed"
      : `the Slurm controller does not answer (${(e as Error).message.split("\n")[0]})`;
  }
}

const problem = slurmProblem();
const inCI = process.env.CI === "true";
const skip =
  problem !== null && !inCI ? `${problem}; enable these tests with: sudo bash scripts/slurm/start-cluster.sh` : false;

function jobState(id: string): string {
  try {
    return /JobState=(\S+)/.exec(execFileSync("scontrol", ["show", "job", id], { encoding: "utf8" }))?.[1] ?? "GONE";
  } catch {
    return "GONE";
  }
}

const hostOf = tsApp(function hostOf(x: number) {
  return [x * 2, process.env.SLURM_JOB_ID ?? null];
});

test(
  "slurm: tasks run in an sbatch job; block rows carry the real job id; cleanup cancels the job",
  { skip, timeout: 180_000 },
  async () => {
    assert.equal(problem, null, `CI=true but Slurm is not usable: ${problem}`);
    const provider = new SlurmProvider({
      partition: "debug",
      walltime: "00:05:00",
      exclusive: false,
      coresPerNode: 1,
      initBlocks: 1,
      maxBlocks: 1,
    });
    const { dfk, dbPath } = await loadMonitored(
      {
        executors: [
          new HighThroughputExecutor({
            label: "slurm_htex",
            provider,
            maxWorkersPerNode: 2,
            interchangePortRange: [0, 0],
            strategyPeriod: 0.5,
          }),
        ],
      },
      { resourceMonitoringInterval: 1 },
    );
    let jobId = "";
    try {
      const results = await Promise.all([1, 2, 3, 4].map((i) => hostOf(i)));
      assert.deepEqual(
        results.map((r) => r[0]),
        [2, 4, 6, 8],
      );
      jobId = String(results[0]![1]);
      assert.match(jobId, /^\d+$/, "the task saw SLURM_JOB_ID: it ran inside the job");
      assert.ok(results.every((r) => String(r[1]) === jobId));
      assert.equal(jobState(jobId), "RUNNING");
    } finally {
      await dfk.cleanup();
    }
    const blocks = rows<{ block_id: string; job_id: string; status: string }>(
      dbPath,
      "SELECT block_id, job_id, status FROM block ORDER BY timestamp",
    );
    assert.ok(
      blocks.every((b) => b.job_id === jobId && b.block_id === "0"),
      JSON.stringify(blocks),
    );
    assert.equal(blocks[0]!.status, "PENDING");
    assert.equal(blocks.at(-1)!.status, "SCALED_IN");
    assert.equal(count(dbPath, "SELECT COUNT(*) FROM try WHERE block_id = '0' AND hostname = ?", os.hostname()), 4);
    assert.ok(count(dbPath, "SELECT COUNT(*) FROM node") >= 4);
    assert.ok(count(dbPath, "SELECT COUNT(*) FROM resource") >= 4);
    for (let i = 0; i < 50 && !["CANCELLED", "COMPLETED", "GONE"].includes(jobState(jobId)); i++) await sleep(100);
    assert.ok(
      ["CANCELLED", "COMPLETED", "GONE"].includes(jobState(jobId)),
      `job ${jobId} is ${jobState(jobId)} after cleanup`,
    );
  },
);

test(
  "slurm: an idle block is scaled in (scancel) and new work gets a new job",
  { skip, timeout: 180_000 },
  async () => {
    assert.equal(problem, null, `CI=true but Slurm is not usable: ${problem}`);
    const provider = new SlurmProvider({
      partition: "debug",
      walltime: "00:05:00",
      exclusive: false,
      coresPerNode: 1,
      initBlocks: 1,
      minBlocks: 0,
      maxBlocks: 1,
    });
    const { dfk, dbPath } = await loadMonitored(
      {
        executors: [
          new HighThroughputExecutor({
            label: "slurm_htex",
            provider,
            maxWorkersPerNode: 1,
            interchangePortRange: [0, 0],
            strategy: "simple",
            strategyPeriod: 0.3,
            maxIdletime: 1,
          }),
        ],
      },
      { resourceMonitoringInterval: 0 },
    );
    let first = "",
      second = "";
    try {
      first = String((await hostOf(1))[1]);
      // Idle for maxIdletime: the strategy cancels the job.
      for (let i = 0; i < 100 && count(dbPath, "SELECT COUNT(*) FROM block WHERE status = 'SCALED_IN'") === 0; i++)
        await sleep(100);
      assert.equal(count(dbPath, "SELECT COUNT(*) FROM block WHERE block_id = '0' AND status = 'SCALED_IN'"), 1);
      for (let i = 0; i < 50 && !["CANCELLED", "COMPLETED", "GONE"].includes(jobState(first)); i++) await sleep(100);
      assert.ok(["CANCELLED", "COMPLETED", "GONE"].includes(jobState(first)), `job ${first} is ${jobState(first)}`);
      // New work: the strategy submits a new block.
      second = String((await hostOf(2))[1]);
      assert.notEqual(second, first);
    } finally {
      await dfk.cleanup();
    }
    const jobs = rows<{ block_id: string; job_id: string }>(
      dbPath,
      "SELECT DISTINCT block_id, job_id FROM block ORDER BY block_id",
    );
    assert.deepEqual(jobs, [
      { block_id: "0", job_id: first },
      { block_id: "1", job_id: second },
    ]);
    assert.equal(count(dbPath, "SELECT COUNT(*) FROM block WHERE status = 'SCALED_IN'"), 2);
  },
);
