import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { hostname } from "node:os";
import { HighThroughputExecutor } from "../src/executors/htex/executor.js";
import { LocalProvider } from "../src/providers/local.js";
import { appOf, ofType, recordingHost, tryHandle } from "./htexHarness.js";

/** A preload (for NODE_OPTIONS) that makes a pool's processes run `us` µs ahead of this host. */
function skewClockUrl(us: number): string {
  const url = new URL("./fixtures/skewClock.js", import.meta.url);
  return `${url.href}?us=${us}`;
}

function add(a: number, b: number): number {
  return a + b;
}

test("htex runs tries in worker processes and reports where and when they ran", { timeout: 90_000 }, async () => {
  const host = recordingHost({ interval: 1 });
  const ex = new HighThroughputExecutor({
    label: "htex",
    maxWorkersPerNode: 2,
    provider: new LocalProvider({ initBlocks: 1, maxBlocks: 1 }),
    interchangePortRange: [0, 0],
    strategyPeriod: 0.2,
  });
  await ex.start(host);
  try {
    const before = Date.now() * 1000;
    const handles = Array.from({ length: 50 }, (_, i) => tryHandle(appOf(add), [i, 1]));
    for (const h of handles) ex.submit(h);
    const results = await Promise.all(handles.map((h) => h.result));
    results.forEach((r, i) => assert.deepEqual(r, { ok: true, value: i + 1, endedAt: r.endedAt }));
    for (const h of handles) {
      assert.equal(h.finishCount, 1);
      assert.equal(h.where?.hostname, hostname());
      assert.equal(h.where?.blockId, "0");
      assert.ok(h.runningAt! >= before - 5_000_000 && h.runningAt! <= (results[0]!.endedAt ?? 0) + 60_000_000);
    }
    // A body that throws fails only its own try, with the error's name and message.
    const boom = tryHandle(
      appOf(function boom() {
        throw new RangeError("boom");
      }),
      [],
    );
    ex.submit(boom);
    const r = await boom.result;
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.error.name, "RangeError");
    assert.equal(!r.ok && r.error.message, "boom");
    // `this` is the invocation context; async bodies work.
    const ctx = tryHandle(
      appOf(async function ctxApp(this: { taskId: number; tryId: number }, x: number) {
        return [this.taskId, this.tryId, x];
      }),
      [7],
      {},
      3,
      4242,
    );
    ex.submit(ctx);
    assert.deepEqual(((await ctx.result) as { value: unknown }).value, [4242, 3, 7]);
    // Unsendable function: clear error naming the app.
    const bound = tryHandle({ ...appOf(add), name: "boundApp", source: null }, [1, 2]);
    ex.submit(bound);
    const br = await bound.result;
    assert.ok(!br.ok && /boundApp/.test(br.error.message));
  } finally {
    await ex.shutdown();
  }
  const nodes = ofType(host.events, "node");
  assert.ok(nodes.length >= 3, `node rows: ${nodes.length}`);
  assert.equal(nodes[0]!.row.active, true);
  assert.equal(nodes[0]!.row.worker_count, 2);
  assert.equal(nodes[0]!.row.block_id, "0");
  assert.equal(nodes.at(-1)!.row.active, false, "the last node row marks the pool inactive");
  const blocks = ofType(host.events, "block").map((b) => b.row.status);
  assert.equal(blocks[0], "PENDING");
  assert.equal(blocks.at(-1), "SCALED_IN");
  assert.equal(blocks.filter((s) => s === "SCALED_IN").length, 1);
  // Resource monitoring on: every finished try has its final sample.
  const res = ofType(host.events, "resource");
  const tasksWithSamples = new Set(res.map((e) => e.row.task_id));
  assert.ok(tasksWithSamples.size >= 50, `tries with samples: ${tasksWithSamples.size}`);
  const one = res[0]!.row;
  assert.equal(one.run_id, undefined, "the writer adds run_id");
  assert.equal(one.resource_monitoring_interval, 1);
  assert.ok(typeof one.psutil_process_pid === "number" && one.psutil_process_pid > 0);
  assert.ok((one.psutil_process_memory_resident as number) > 1_000_000);
  assert.ok(["running", "sleeping"].includes(one.psutil_process_status as string));
});

test(
  "htex bash apps write their streams, fail with the exit code, and are measured with their children",
  { timeout: 90_000 },
  async () => {
    const host = recordingHost({ interval: 0.2 });
    const ex = new HighThroughputExecutor({
      maxWorkersPerNode: 1,
      provider: new LocalProvider({ initBlocks: 1 }),
      interchangePortRange: [0, 0],
    });
    await ex.start(host);
    const out = join(host.runDir, "hello.txt");
    const err = join(host.runDir, "err.txt");
    try {
      const echo = tryHandle(
        appOf(function echoApp(word: string) {
          return `echo hello ${word}; echo oops >&2`;
        }, "bash"),
        ["world"],
        { stdout: { path: out, mode: "w" }, stderr: { path: err, mode: "a" } },
      );
      ex.submit(echo);
      assert.deepEqual((await echo.result).ok, true);
      assert.equal(readFileSync(out, "utf8"), "hello world\n");
      assert.equal(readFileSync(err, "utf8"), "oops\n");
      const fail = tryHandle(
        appOf(function failApp() {
          return "exit 3";
        }, "bash"),
        [],
      );
      ex.submit(fail);
      const fr = await fail.result;
      assert.ok(
        !fr.ok &&
          fr.error.name === "BashExitFailure" &&
          (fr.error as { exitCode?: number }).exitCode === 3 &&
          /code 3/.test(fr.error.message),
      );
      // A CPU-burning command: its CPU time shows in the try's final sample though it has exited.
      const burn = tryHandle(
        appOf(function burnApp() {
          return "timeout 1 bash -c 'while :; do :; done' || true";
        }, "bash"),
        [],
      );
      ex.submit(burn);
      assert.equal((await burn.result).ok, true);
      const rows = ofType(host.events, "resource")
        .filter((e) => e.row.task_id === burn.taskId)
        .map((e) => e.row);
      assert.ok(rows.length >= 3, `samples for a 1 s task at 0.2 s: ${rows.length}`);
      const last = rows.at(-1)!;
      const cpu = (last.psutil_process_time_user as number) + (last.psutil_process_time_system as number);
      const first = rows[0]!;
      const cpu0 = (first.psutil_process_time_user as number) + (first.psutil_process_time_system as number);
      assert.ok(cpu - cpu0 > 0.05, `child CPU counted: ${cpu0} -> ${cpu}`);
      assert.ok(
        rows.some((r) => (r.psutil_process_children_count as number) >= 1),
        "the running command is seen as a child",
      );
      assert.ok(rows.every((r, i) => i === 0 || (r.timestamp as number) >= (rows[i - 1]!.timestamp as number)));
      const walltime = tryHandle(
        appOf(function sleepy() {
          return "sleep 5";
        }, "bash"),
        [],
        { walltime: 0.3 },
      );
      ex.submit(walltime);
      const wr = await walltime.result;
      assert.ok(!wr.ok && wr.error.name === "WalltimeExceeded");
    } finally {
      await ex.shutdown();
    }
    assert.ok(existsSync(join(host.runDir, "htex", "block-0.sh")));
  },
);

test(
  "worker times are corrected for the clock offset between the pool's host and the submit host",
  { timeout: 90_000 },
  async () => {
    const host = recordingHost({ interval: 0.1 });
    const skew = 7_000_000; // the pool's clock runs 7 s ahead
    const ex = new HighThroughputExecutor({
      maxWorkersPerNode: 1,
      interchangePortRange: [0, 0],
      provider: new LocalProvider({
        initBlocks: 1,
        workerInit: `export NODE_OPTIONS="--import=${skewClockUrl(skew)}"`,
      }),
    });
    await ex.start(host);
    try {
      const nap = tryHandle(
        appOf(function nap() {
          return new Promise((r) => setTimeout(() => r(1), 300));
        }),
        [],
      );
      const submitted = Date.now() * 1000;
      ex.submit(nap);
      const r = await nap.result;
      const returned = Date.now() * 1000;
      assert.equal(r.ok, true);
      const slack = 50_000; // offset estimate error on loopback is far below this
      assert.ok(
        nap.runningAt! >= submitted - slack && nap.runningAt! <= returned,
        `running ${nap.runningAt! - submitted} µs after submit`,
      );
      assert.ok(
        r.endedAt! >= nap.runningAt! + 250_000 && r.endedAt! <= returned + slack,
        `ended ${r.endedAt! - submitted} µs after submit`,
      );
      const samples = ofType(host.events, "resource").filter((e) => e.row.task_id === nap.taskId);
      assert.ok(samples.length >= 2);
      for (const s of samples) {
        const ts = s.row.timestamp as number;
        assert.ok(ts >= submitted - slack && ts <= returned + slack, `sample ${ts - submitted} µs after submit`);
      }
    } finally {
      await ex.shutdown();
    }
  },
);
