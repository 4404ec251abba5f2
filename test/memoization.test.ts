/** Memoization, hashing and checkpoints (spec §4). */
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import {
  Config,
  File,
  InProcessExecutor,
  MemoizationError,
  getAllCheckpoints,
  getLastCheckpoint,
  load,
  tsApp,
  BadCheckpoint,
} from "../src/index.js";
import { hashsum, lineageHash } from "../src/dataflow/hashing.js";
import { AppFuture } from "../src/apps/futures.js";
import { tempDir, waitFor } from "./helpers.js";

let calls = 0;
const square = tsApp(
  function square(x: number) {
    calls++;
    return x * x;
  },
  { cache: true },
);
const failing = tsApp(
  function cachedFail(_x: number): number {
    calls++;
    throw new Error("always");
  },
  { cache: true },
);
const local = () => [new InProcessExecutor({ label: "local" })];

describe("hashing", () => {
  const shape = (args: unknown[], kwargs: Record<string, unknown> = {}, appName = "f") => ({
    appName,
    args,
    kwargs,
    outputs: undefined,
  });

  test("hashsum is 32 lowercase hex, equal for equal calls, different otherwise", () => {
    const h = hashsum(shape([4]));
    assert.match(h, /^[0-9a-f]{32}$/);
    assert.equal(hashsum(shape([4])), h);
    assert.notEqual(hashsum(shape([17])), h);
    assert.notEqual(hashsum(shape(["4"])), h, "types are part of the encoding");
    assert.notEqual(hashsum(shape([4], {}, "g")), h, "the app is part of the hash");
    assert.equal(
      hashsum(shape([{ a: 1, b: [2, "x"] }])),
      hashsum(shape([{ b: [2, "x"], a: 1 }])),
      "object key order does not matter",
    );
    assert.equal(hashsum(shape([new File("file:///tmp/a")])), hashsum(shape([new File("file:///tmp/a")])));
  });

  test("values with no canonical encoding are refused with a clear error", () => {
    assert.throws(
      () => hashsum(shape([new Map()])),
      (e: unknown) => e instanceof MemoizationError && /unknown type for memoization: Map/.test(e.message),
    );
    class Thing {}
    assert.throws(() => hashsum(shape([new Thing()])), /unknown type for memoization: Thing/);
  });

  test("lineage hash: futures replaced by their producer's lineage", () => {
    const a = new AppFuture<number>(1, "p", "aaaa");
    const b = new AppFuture<number>(2, "p", "aaaa");
    const c = new AppFuture<number>(3, "p", "bbbb");
    assert.equal(
      lineageHash(shape([a])),
      lineageHash(shape([b])),
      "same producer lineage → same lineage while waiting",
    );
    assert.notEqual(lineageHash(shape([a])), lineageHash(shape([c])));
    assert.equal(lineageHash(shape([new AppFuture(4, "p", null)])), null, "unknown producer lineage → unknown");
    assert.equal(lineageHash(shape([Promise.resolve(1)])), null, "a plain promise has no lineage");
  });
});

describe("memoization in a run", () => {
  test("a repeated call is a memo hit; failures are memoized too and replayed without running", async () => {
    const dfk = await load(
      new Config({ executors: local(), runDir: path.join(tempDir(), "runinfo"), retries: 1, handleSignals: false }),
    );
    try {
      calls = 0;
      assert.equal(await square(4), 16);
      assert.equal(await square(17), 289);
      assert.equal(await square(4), 16);
      assert.equal(await square(4), 16);
      assert.equal(calls, 2, "two distinct calls ran; the two repeats were memo hits");
      calls = 0;
      await assert.rejects(failing(1), /always/);
      assert.equal(calls, 2, "retries=1: two tries");
      await assert.rejects(failing(1), /always/);
      assert.equal(calls, 2, "the memoized failure is replayed, not run again");
      assert.deepEqual(dfk.finalCounts, { exec_done: 2, failed: 2, dep_fail: 0, memo_done: 2 });
    } finally {
      await dfk.cleanup();
    }
  });

  test("ignoreForCache leaves named options and positions out of the hash", async () => {
    let n = 0;
    const f = tsApp(
      function ignoring(x: number, _noise: number) {
        n++;
        return x;
      },
      { cache: true, ignoreForCache: ["1", "walltime"] },
    );
    const dfk = await load(
      new Config({ executors: local(), runDir: path.join(tempDir(), "runinfo"), handleSignals: false }),
    );
    try {
      await f(1, 100);
      await f(1, 200);
      await f.with({ walltime: 5 })(1, 300);
      assert.equal(n, 1);
      await f(2, 100);
      assert.equal(n, 2);
    } finally {
      await dfk.cleanup();
    }
  });

  test("appCache: false turns memoization off", async () => {
    const dfk = await load(
      new Config({
        executors: local(),
        runDir: path.join(tempDir(), "runinfo"),
        appCache: false,
        handleSignals: false,
      }),
    );
    try {
      calls = 0;
      await square(3);
      await square(3);
      assert.equal(calls, 2);
    } finally {
      await dfk.cleanup();
    }
  });
});

describe("checkpoints", () => {
  async function runOnce(
    runDir: string,
    extra: Partial<ConstructorParameters<typeof Config>[0]> = {},
    body?: () => Promise<void>,
  ) {
    const dfk = await load(new Config({ executors: local(), runDir, handleSignals: false, ...extra }));
    try {
      if (body) await body();
      else {
        await square(2);
        await square(3);
      }
    } finally {
      await dfk.cleanup();
    }
    return dfk;
  }

  for (const mode of ["task_exit", "dfk_exit"] as const) {
    test(`${mode}: results written by one run are reused by the next`, async () => {
      const runDir = path.join(tempDir(), "runinfo");
      const first = await runOnce(runDir, { checkpointMode: mode });
      const file = path.join(first.runDir, "checkpoint", "tasks.jsonl");
      assert.equal(fs.readFileSync(file, "utf8").trim().split("\n").length, 2);
      calls = 0;
      await runOnce(runDir, { checkpointFiles: getLastCheckpoint(runDir) });
      assert.equal(calls, 0, "both results came from the checkpoint");
    });
  }

  test("task_exit writes at once; manual writes when asked; dfk_exit at cleanup", async () => {
    const runDir = path.join(tempDir(), "runinfo");
    let dfk = await load(new Config({ executors: local(), runDir, handleSignals: false, checkpointMode: "task_exit" }));
    await square(5);
    assert.ok(fs.existsSync(path.join(dfk.runDir, "checkpoint", "tasks.jsonl")));
    await dfk.cleanup();
    dfk = await load(
      new Config({ executors: local(), runDir, handleSignals: false, checkpointMode: "manual", checkpointFiles: [] }),
    );
    await square(6);
    const file = path.join(dfk.runDir, "checkpoint", "tasks.jsonl");
    assert.equal(fs.existsSync(file), false);
    assert.equal(dfk.checkpoint(), 1);
    assert.ok(fs.existsSync(file));
    await dfk.cleanup();
  });

  test("periodic checkpoints are written on the timer", async () => {
    const runDir = path.join(tempDir(), "runinfo");
    const dfk = await load(
      new Config({
        executors: local(),
        runDir,
        handleSignals: false,
        checkpointMode: "periodic",
        checkpointPeriod: "00:00:01",
      }),
    );
    try {
      await square(7);
      const file = path.join(dfk.runDir, "checkpoint", "tasks.jsonl");
      await waitFor(() => fs.existsSync(file), {
        timeoutMs: 5000,
        what: `${file}, written within a period or so, before cleanup`,
      });
    } finally {
      await dfk.cleanup();
    }
  });

  test("with a checkpoint mode and no files, every earlier checkpoint of the run dir is loaded", async () => {
    const runDir = path.join(tempDir(), "runinfo");
    await runOnce(runDir, { checkpointMode: "task_exit" }, async () => {
      await square(8);
    });
    await runOnce(runDir, { checkpointMode: "task_exit" }, async () => {
      await square(9);
    });
    calls = 0;
    await runOnce(runDir, { checkpointMode: "task_exit" }, async () => {
      await square(8);
      await square(9);
    });
    assert.equal(calls, 0);
  });

  test("getAllCheckpoints / getLastCheckpoint: numeric order, ignoring monitoring.db and other entries", async () => {
    const runDir = path.join(tempDir(), "runinfo");
    for (const d of ["000", "001", "002", "010"]) {
      fs.mkdirSync(path.join(runDir, d, "checkpoint"), { recursive: true });
      if (d !== "002") fs.writeFileSync(path.join(runDir, d, "checkpoint", "tasks.jsonl"), "");
    }
    fs.writeFileSync(path.join(runDir, "monitoring.db"), "");
    fs.mkdirSync(path.join(runDir, "notarun", "checkpoint"), { recursive: true });
    assert.deepEqual(
      getAllCheckpoints(runDir),
      ["000", "001", "010"].map((d) => path.join(runDir, d, "checkpoint")),
    );
    assert.deepEqual(getLastCheckpoint(runDir), [path.join(runDir, "010", "checkpoint")]);
    assert.deepEqual(getLastCheckpoint(path.join(runDir, "missing")), []);
  });

  test("a missing or corrupt checkpoint is a BadCheckpoint naming the file", async () => {
    const runDir = path.join(tempDir(), "runinfo");
    await assert.rejects(
      load(
        new Config({ executors: local(), runDir, handleSignals: false, checkpointFiles: [path.join(runDir, "nope")] }),
      ),
      (e: unknown) => e instanceof BadCheckpoint && /nope.*tasks\.jsonl/.test(e.message),
    );
    const bad = path.join(tempDir(), "checkpoint");
    fs.mkdirSync(bad);
    fs.writeFileSync(path.join(bad, "tasks.jsonl"), 'garbage\n{"hash":"x","result":"AA=="}\n');
    await assert.rejects(
      load(new Config({ executors: local(), runDir, handleSignals: false, checkpointFiles: [bad] })),
      /line 1 is corrupt/,
    );
  });
});

describe("long strings", () => {
  test("long strings hash by content, through their digest", () => {
    const shape = (args: unknown[]) => ({ appName: "f", args, kwargs: {}, outputs: undefined });
    const a = "x".repeat(100_000);
    const b = "x".repeat(99_999) + "y";
    assert.equal(hashsum(shape([a])), hashsum(shape(["x".repeat(100_000)])), "equal content, different string objects");
    assert.notEqual(hashsum(shape([a])), hashsum(shape([b])));
    assert.notEqual(hashsum(shape(["x".repeat(1023)])), hashsum(shape(["x".repeat(1024)])));
  });
});
