import { test } from "node:test";
import assert from "node:assert/strict";
import { HighThroughputExecutor } from "../src/executors/htex/executor.js";
import { LocalProvider } from "../src/providers/local.js";
import { appOf, ofType, recordingHost, tryHandle } from "./htexHarness.js";
import { waitFor } from "./helpers.js";

function napPid(ms: number): Promise<number> {
  return new Promise((r) => setTimeout(() => r(process.ppid), ms));
}

test(
  "simple strategy: scales out to multi-node blocks for the load (capped by maxBlocks), then scales idle blocks in",
  { timeout: 90_000 },
  async () => {
    const host = recordingHost({ interval: 0 });
    const ex = new HighThroughputExecutor({
      maxWorkersPerNode: 1,
      prefetchCapacity: 0,
      interchangePortRange: [0, 0],
      strategy: "simple",
      strategyPeriod: 0.1,
      maxIdletime: 0.5,
      provider: new LocalProvider({ initBlocks: 0, minBlocks: 0, maxBlocks: 2, nodesPerBlock: 2 }),
    });
    await ex.start(host);
    try {
      const tries = Array.from({ length: 6 }, () => tryHandle(appOf(napPid), [1200]));
      for (const t of tries) ex.submit(t);
      const results = await Promise.all(tries.map((t) => t.result));
      assert.ok(results.every((r) => r.ok));
      // 6 tries over 2 blocks × 2 nodes × 1 worker: four pools, never a third block.
      const pools = new Set(results.map((r) => (r as { value: number }).value));
      assert.equal(pools.size, 4, `pools used: ${[...pools].join(",")}`);
      const blockIds = new Set(tries.map((t) => t.where?.blockId));
      assert.deepEqual([...blockIds].sort(), ["0", "1"]);
      const registered = new Map<string, Set<string>>();
      for (const n of ofType(host.events, "node")) {
        if (!registered.has(n.row.block_id)) registered.set(n.row.block_id, new Set());
        registered.get(n.row.block_id)!.add(n.row.uid);
      }
      assert.deepEqual([...registered.entries()].map(([b, u]) => [b, u.size]).sort(), [
        ["0", 2],
        ["1", 2],
      ]);
      // Idle for maxIdletime: both blocks are scaled in while the executor keeps running.
      await waitFor(() => ofType(host.events, "block").filter((b) => b.row.status === "SCALED_IN").length === 2, {
        timeoutMs: 5000,
        what: "idle scale-in",
      });
      assert.equal(ex.blockTable().filter((b) => b.state === "SCALED_IN").length, 2);
      // New work brings a new block.
      const again = tryHandle(appOf(napPid), [10]);
      ex.submit(again);
      assert.equal((await again.result).ok, true);
      assert.equal(again.where?.blockId, "2");
    } finally {
      await ex.shutdown();
    }
    const rows = ofType(host.events, "block").map((b) => `${b.row.block_id}:${b.row.status}`);
    assert.equal(rows.filter((r) => r.endsWith("PENDING")).length, 3, rows.join(" "));
    assert.equal(rows.filter((r) => r.endsWith("SCALED_IN")).length, 3, rows.join(" "));
  },
);

test(
  "htex_auto_scale: an idle block is scaled in while another block still runs a long try",
  { timeout: 90_000 },
  async () => {
    const host = recordingHost({ interval: 0 });
    const ex = new HighThroughputExecutor({
      maxWorkersPerNode: 1,
      prefetchCapacity: 0,
      interchangePortRange: [0, 0],
      strategy: "htex_auto_scale",
      strategyPeriod: 0.1,
      maxIdletime: 0.5,
      provider: new LocalProvider({ initBlocks: 2, minBlocks: 0, maxBlocks: 2 }),
    });
    await ex.start(host);
    try {
      // Submitted at once: with nothing outstanding, a 0.5 s idle limit would scale in both blocks
      // if their pools were slow to start (a loaded machine), before the test could place the try.
      const long = tryHandle(appOf(napPid), [3000]);
      ex.submit(long);
      await waitFor(() => long.runningAt !== null || ex.interchangeForTests!.poolViews().some((p) => p.inflight > 0), {
        timeoutMs: 15_000,
        what: "the long try to be placed",
      });
      const busyBlock = ex.interchangeForTests!.poolViews().find((p) => p.inflight > 0)!.blockId;
      await waitFor(() => ofType(host.events, "block").some((b) => b.row.status === "SCALED_IN"), {
        timeoutMs: 10_000,
        what: "the idle block to be scaled in",
      });
      const scaled = ofType(host.events, "block")
        .filter((b) => b.row.status === "SCALED_IN")
        .map((b) => b.row.block_id);
      assert.equal(scaled.length, 1);
      assert.notEqual(scaled[0], busyBlock, "the busy block is kept");
      const r = await long.result;
      assert.equal(r.ok, true, "the long try finished on the block that was kept");
      assert.equal(long.where?.blockId, busyBlock);
    } finally {
      await ex.shutdown();
    }
  },
);
