import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalProvider } from "../src/providers/local.js";
import { SingleNodeLauncher, SrunLauncher } from "../src/providers/launchers.js";
import { SlurmProvider, slurmStateToJobState } from "../src/providers/slurm.js";
import { decide, type StrategyInput } from "../src/providers/strategy.js";
import { waitFor } from "./helpers.js";
import { HighThroughputExecutor } from "../src/executors/htex/executor.js";

const base: StrategyInput = {
  strategy: "simple",
  outstanding: 0,
  blocks: [],
  slotsPerBlock: 4,
  minBlocks: 0,
  maxBlocks: 10,
  parallelism: 1,
  maxIdletime: 120,
  allIdleSince: null,
  now: 1_000_000,
};
const block = (id: string, busy = 0, idleSince = 0) => ({ blockId: id, busy, idleSince });

test("strategy simple: scales out to cover outstanding tries, capped by maxBlocks, scaled by parallelism", () => {
  assert.deepEqual(decide({ ...base, outstanding: 10 }), { scaleOut: 3, scaleIn: [] });
  assert.deepEqual(decide({ ...base, outstanding: 10, maxBlocks: 2 }), { scaleOut: 2, scaleIn: [] });
  assert.deepEqual(decide({ ...base, outstanding: 10, parallelism: 0.5 }), { scaleOut: 2, scaleIn: [] });
  assert.deepEqual(decide({ ...base, outstanding: 10, blocks: [block("0", 4), block("1", 4), block("2", 2)] }), {
    scaleOut: 0,
    scaleIn: [],
  });
  // min blocks are kept even with nothing to do
  assert.deepEqual(decide({ ...base, minBlocks: 2 }), { scaleOut: 2, scaleIn: [] });
});

test("strategy simple: scales in to minBlocks only after maxIdletime with nothing outstanding", () => {
  const blocks = [block("0", 0, 0), block("1", 0, 0)];
  assert.deepEqual(decide({ ...base, blocks, allIdleSince: base.now - 119_000 }), { scaleOut: 0, scaleIn: [] });
  assert.deepEqual(decide({ ...base, blocks, allIdleSince: base.now - 120_000 }), { scaleOut: 0, scaleIn: ["0", "1"] });
  assert.deepEqual(decide({ ...base, blocks, minBlocks: 1, allIdleSince: base.now - 120_000 }).scaleIn.length, 1);
});

test("strategy htex_auto_scale scales in idle blocks while work continues elsewhere; none never acts", () => {
  const now = base.now;
  const blocks = [block("0", 3, now), block("1", 0, now - 200_000), block("2", 0, now - 10_000)];
  assert.deepEqual(decide({ ...base, strategy: "htex_auto_scale", outstanding: 3, blocks }), {
    scaleOut: 0,
    scaleIn: ["1"],
  });
  assert.deepEqual(decide({ ...base, strategy: "simple", outstanding: 3, blocks }), { scaleOut: 0, scaleIn: [] });
  assert.deepEqual(decide({ ...base, strategy: "none", outstanding: 100 }), { scaleOut: 0, scaleIn: [] });
  assert.deepEqual(decide({ ...base, strategy: "none", blocks, allIdleSince: 0 }), { scaleOut: 0, scaleIn: [] });
});

test("LocalProvider: a block is a process group; status follows it; cancel stops it and its children", async () => {
  const dir = mkdtempSync(join(tmpdir(), "provider-test-"));
  const p = new LocalProvider({ cancelGrace: 0.5 });
  const ok = await p.submit("echo started; exit 0", "block-ok", dir);
  const bad = await p.submit("exit 4", "block-bad", dir);
  const long = await p.submit("sleep 30 & sleep 30; wait", "block-long", dir);
  const st = await waitFor(
    async () => {
      const s = await p.status([ok, bad, long, "999999999"]);
      return s.get(ok)?.state !== "RUNNING" && s.get(bad)?.state !== "RUNNING" ? s : null;
    },
    { what: "the two short blocks to end" },
  );
  assert.deepEqual(st.get(ok), { state: "COMPLETED", exitCode: 0 });
  assert.deepEqual(st.get(bad), { state: "FAILED", exitCode: 4 });
  assert.equal(st.get(long)!.state, "RUNNING");
  assert.equal(st.get("999999999")!.state, "MISSING");
  assert.equal(readFileSync(join(dir, "block-ok.stdout"), "utf8"), "started\n");
  assert.equal(
    statSync(join(dir, "block-ok.sh")).mode & 0o077,
    0,
    "the block script (it holds the secret) is owner-only",
  );
  await p.cancel([long]);
  assert.equal((await p.status([long])).get(long)!.state, "CANCELLED");
  const groupAlive = (): boolean => {
    try {
      process.kill(-Number(long), 0);
      return true;
    } catch {
      return false;
    }
  };
  await waitFor(() => !groupAlive(), { timeoutMs: 2000, what: "no process of the group to be left" });
});

test("provider options are validated with errors naming the option", () => {
  assert.throws(
    () => new LocalProvider({ initBlocks: -1 }),
    /LocalProvider\.initBlocks must be an integer ≥ 0, got -1/,
  );
  assert.throws(() => new LocalProvider({ minBlocks: 3, maxBlocks: 2 }), /minBlocks \(3\) exceeds maxBlocks \(2\)/);
  assert.throws(
    () => new LocalProvider({ parallelism: 2 }),
    /LocalProvider\.parallelism must be a number from 0 to 1, got 2/,
  );
  assert.throws(
    () => new SlurmProvider({ partition: "debug; rm -rf /" }),
    /SlurmProvider\.partition must be a plain Slurm name/,
  );
  assert.throws(() => new SlurmProvider({ memPerNode: 0 }), /memPerNode must be a positive number/);
  assert.throws(
    () => new HighThroughputExecutor({ strategy: "sometimes" as never }),
    /strategy must be one of none, simple, htex_auto_scale/,
  );
  assert.throws(() => new HighThroughputExecutor({ heartbeatPeriod: 0 }), /heartbeatPeriod must be a positive number/);
  assert.throws(() => new HighThroughputExecutor({ interchangePortRange: [6000, 5000] }), /interchangePortRange/);
  assert.throws(
    () => new HighThroughputExecutor({ prefetchCapacity: -1 }),
    /prefetchCapacity must be "auto" or an integer/,
  );
});

test("SlurmProvider writes the job script from its options; Slurm states map to block states", () => {
  const p = new SlurmProvider({
    partition: "debug",
    account: "proj1",
    qos: "normal",
    walltime: "00:30:00",
    nodesPerBlock: 2,
    exclusive: true,
    memPerNode: 2,
    schedulerOptions: "#SBATCH --constraint=haswell",
    workerInit: "module load node",
  });
  const script = p.jobScript("run-pool --x", "block-3", "/runs/000/htex");
  for (const line of [
    "#SBATCH --job-name=block-3",
    "#SBATCH --nodes=2",
    "#SBATCH --time=00:30:00",
    "#SBATCH --partition=debug",
    "#SBATCH --account=proj1",
    "#SBATCH --qos=normal",
    "#SBATCH --exclusive",
    "#SBATCH --mem=2048M",
    "#SBATCH --constraint=haswell",
    "#SBATCH --output=/runs/000/htex/block-3.stdout",
    "module load node",
  ]) {
    assert.ok(script.split("\n").includes(line), `missing ${line}:\n${script}`);
  }
  assert.match(script, /srun --ntasks=2 --ntasks-per-node=1 --nodes=2 +\/bin\/bash -c 'run-pool --x'/);
  assert.equal(slurmStateToJobState("PENDING"), "PENDING");
  assert.equal(slurmStateToJobState("COMPLETING"), "RUNNING");
  assert.equal(slurmStateToJobState("CANCELLED+"), "CANCELLED");
  assert.equal(slurmStateToJobState("NODE_FAIL"), "FAILED");
  assert.equal(slurmStateToJobState("TIMEOUT"), "TIMEOUT");
  assert.equal(slurmStateToJobState("WEIRD"), "UNKNOWN");
  assert.equal(new SingleNodeLauncher().wrap("x", 1), "x");
  assert.match(new SingleNodeLauncher().wrap("x 'y'", 3), /seq 1 3.*bash -c 'x '\\''y'\\'''/);
  assert.match(new SrunLauncher("--mpi=none").wrap("cmd", 1), /^srun .*--mpi=none \/bin\/bash -c 'cmd'$/);
  assert.ok(!existsSync("/runs/000/htex/block-3.submit"), "jobScript only renders");
});
