import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { HighThroughputExecutor } from "../src/executors/htex/executor.js";
import { LocalProvider } from "../src/providers/local.js";
import { appOf, ofType, recordingHost, startLocalHtex, tryHandle } from "./htexHarness.js";
import { waitFor } from "./helpers.js";

function pidFileApp(this: unknown, file: string, seconds: number): Promise<number> {
  // Runs in a worker: leave our pid and our pool's pid for the test, then wait.
  return import("node:fs").then((fs) => {
    fs.writeFileSync(file, `${process.pid} ${process.ppid}`);
    return new Promise((r) => setTimeout(() => r(process.pid), seconds * 1000));
  });
}

function square(x: number): number {
  return x * x;
}

test(
  "a worker killed mid-try fails that try with 'worker lost'; the pool replaces the worker",
  { timeout: 90_000 },
  async () => {
    const host = recordingHost({ interval: 0 });
    const ex = new HighThroughputExecutor({
      maxWorkersPerNode: 1,
      provider: new LocalProvider({ initBlocks: 1 }),
      interchangePortRange: [0, 0],
    });
    await ex.start(host);
    try {
      const pidFile = join(host.runDir, "pids");
      const victim = tryHandle(appOf(pidFileApp), [pidFile, 30]);
      ex.submit(victim);
      await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, "utf8").includes(" "), {
        timeoutMs: 10_000,
        what: "the try to start",
      });
      const workerPid = Number(readFileSync(pidFile, "utf8").split(" ")[0]);
      process.kill(workerPid, "SIGKILL");
      const r = await victim.result;
      assert.equal(r.ok, false);
      assert.ok(
        !r.ok && r.error.name === "WorkerLost" && /worker lost/.test(r.error.message),
        !r.ok ? r.error.message : "",
      );
      assert.ok(!r.ok && r.error.message.includes(`task ${victim.taskId}`));
      // The same pool keeps working with a new worker.
      const after = tryHandle(appOf(square), [9]);
      ex.submit(after);
      assert.deepEqual(((await after.result) as { value: number }).value, 81);
      // A body that kills its own process is the same case.
      const suicide = tryHandle(
        appOf(function suicide() {
          process.kill(process.pid, "SIGKILL");
        }),
        [],
      );
      ex.submit(suicide);
      const sr = await suicide.result;
      assert.ok(!sr.ok && sr.error.name === "WorkerLost");
      assert.equal(victim.finishCount, 1);
    } finally {
      await ex.shutdown();
    }
  },
);

test(
  "a pool that stops sending heartbeats is dropped, its tries fail, and the strategy replaces the block",
  { timeout: 90_000 },
  async () => {
    const host = recordingHost({ interval: 0 });
    const ex = new HighThroughputExecutor({
      maxWorkersPerNode: 1,
      provider: new LocalProvider({ initBlocks: 1, maxBlocks: 1 }),
      interchangePortRange: [0, 0],
      heartbeatPeriod: 0.2,
      heartbeatThreshold: 1,
      strategyPeriod: 0.2,
      strategy: "simple",
    });
    await ex.start(host);
    let poolPid = 0;
    try {
      const pidFile = join(host.runDir, "pids");
      const stuck = tryHandle(appOf(pidFileApp), [pidFile, 30]);
      ex.submit(stuck);
      await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, "utf8").includes(" "), {
        timeoutMs: 10_000,
        what: "the try to start",
      });
      poolPid = Number(readFileSync(pidFile, "utf8").split(" ")[1]);
      const t0 = Date.now();
      process.kill(poolPid, "SIGSTOP"); // alive but silent
      const r = await stuck.result;
      const waited = Date.now() - t0;
      assert.ok(
        !r.ok && r.error.name === "WorkerLost" && /went away/.test(r.error.message),
        !r.ok ? r.error.message : "",
      );
      assert.ok(waited >= 700 && waited < 5000, `dropped after ${waited} ms (threshold 1 s)`);
      const nodes = ofType(host.events, "node");
      assert.equal(nodes.at(-1)!.row.active, false);
      process.kill(poolPid, "SIGCONT"); // it now finds its connection closed and exits; its block ends
      // New work goes to a replacement block.
      const next = tryHandle(appOf(square), [5]);
      ex.submit(next);
      assert.deepEqual(((await next.result) as { value: number }).value, 25);
      assert.equal(next.where?.blockId, "1");
      const rows = ofType(host.events, "block").map((b) => `${b.row.block_id}:${b.row.status}`);
      assert.ok(rows.includes("0:PENDING") && rows.includes("1:PENDING"), rows.join(" "));
      assert.ok(rows.includes("0:COMPLETED") || rows.includes("0:FAILED"), rows.join(" "));
    } finally {
      if (poolPid)
        try {
          process.kill(poolPid, "SIGCONT");
        } catch {
          /* gone */
        }
      await ex.shutdown();
    }
  },
);

test("a worker pool with the wrong secret is refused before it can send anything", { timeout: 90_000 }, async () => {
  const host = recordingHost({ interval: 0 });
  const ex = new HighThroughputExecutor({
    maxWorkersPerNode: 1,
    provider: new LocalProvider({ initBlocks: 0 }),
    interchangePortRange: [0, 0],
    strategy: "none",
  });
  await ex.start(host);
  try {
    const main = fileURLToPath(new URL("../src/executors/htex/workerPoolMain.js", import.meta.url));
    const child = spawn(
      process.execPath,
      [main, "--host", "127.0.0.1", "--port", String(ex.port), "--block-id", "9", "--max-workers", "1"],
      {
        env: { ...process.env, PARSL_TS_HTEX_SECRET: "0".repeat(64) },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.on("close", (c) => r(c)));
    assert.notEqual(code, 0, "the refused pool exits with an error");
    assert.match(stderr, /connection closed before registration/);
    assert.equal(ofType(host.events, "node").length, 0, "no node row for a refused pool");
    assert.ok(host.logs.some((l) => l.level === "warning" && /authentication failed/.test(l.message)));
    assert.equal(ex.interchangeForTests!.poolViews().length, 0);
    // Missing secret: the command refuses to start and says why.
    const bare = spawn(process.execPath, [main, "--host", "127.0.0.1", "--port", String(ex.port)], {
      env: { PATH: process.env.PATH ?? "" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let bareErr = "";
    bare.stderr.on("data", (d: Buffer) => (bareErr += d.toString()));
    assert.equal(await new Promise((r) => bare.on("close", (c) => r(c))), 2);
    assert.match(bareErr, /PARSL_TS_HTEX_SECRET/);
  } finally {
    await ex.shutdown();
  }
});

test(
  "shutdown is bounded with busy workers (a spinning body, a long command) and leaves no process behind",
  { timeout: 90_000 },
  async () => {
    const host = recordingHost({ interval: 0 });
    const ex = new HighThroughputExecutor({
      maxWorkersPerNode: 2,
      provider: new LocalProvider({ initBlocks: 1 }),
      interchangePortRange: [0, 0],
    });
    await ex.start(host);
    const pidFile = join(host.runDir, "pids");
    const spin = tryHandle(
      appOf(function spin(file: string) {
        (globalThis as unknown as { require: (m: string) => typeof import("node:fs") })
          .require("node:fs")
          .writeFileSync(file, `${process.pid} ${process.ppid}`);
        for (;;) {
          /* never returns */
        }
      }),
      [pidFile],
    );
    const marker = `sleep 61.${process.pid}`; // unique, so the test can look for leftovers
    const long = tryHandle(
      appOf(function longCommand(m: string) {
        return m;
      }, "bash"),
      [marker],
    );
    ex.submit(spin);
    ex.submit(long);
    await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, "utf8").includes(" "), {
      timeoutMs: 10_000,
      what: "the spinning try to start",
    });
    await waitFor(() => long.runningAt !== null, { timeoutMs: 10_000, what: "the command to start" });
    const [workerPid, poolPid] = readFileSync(pidFile, "utf8").split(" ").map(Number) as [number, number];
    const t0 = Date.now();
    await ex.shutdown();
    const took = Date.now() - t0;
    assert.ok(took < 10_000, `shutdown took ${took} ms`);
    const [rs, rl] = await Promise.all([spin.result, long.result]);
    assert.equal(rs.ok, false);
    assert.equal(rl.ok, false);
    assert.equal(spin.finishCount + long.finishCount, 2);
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await waitFor(() => !alive(workerPid) && !alive(poolPid), {
      timeoutMs: 5000,
      what: "the pool and its workers to be gone",
    });
    const leftovers = (): string[] =>
      readdirSync("/proc")
        .filter((d) => /^\d+$/.test(d))
        .filter((d) => {
          try {
            return readFileSync(`/proc/${d}/cmdline`, "utf8").replace(/\0/g, " ").includes(marker);
          } catch {
            return false;
          }
        });
    await waitFor(() => leftovers().length === 0, { timeoutMs: 5000, what: `the bash command (${marker}) to be gone` });
    const blocks = ofType(host.events, "block").map((b) => b.row.status);
    assert.equal(blocks.at(-1), "SCALED_IN");
  },
);

function bigResult(mib: number): Uint8Array {
  return new Uint8Array(mib * 1024 * 1024);
}
function byteLength(b: Uint8Array | string[][][][]): number {
  return b instanceof Uint8Array ? b.byteLength : JSON.stringify(b).length;
}

test(
  "arguments and results over the frame limit fail their own try with a clear error; the pool lives on",
  { timeout: 120_000 },
  async () => {
    const host = recordingHost({ interval: 0 });
    const ex = await startLocalHtex(host);
    try {
      const message = async (h: ReturnType<typeof tryHandle>): Promise<string> => {
        const r = (await h.result) as { ok: boolean; error?: Error };
        assert.equal(r.ok, false);
        return `${r.error!.name}: ${r.error!.message}`;
      };
      // Refused at submit: a 300 MiB argument is never sent.
      const bigArg = tryHandle(appOf(byteLength), [new Uint8Array(300 * 2 ** 20)], {}, 0, 1);
      ex.submit(bigArg);
      assert.match(
        await message(bigArg),
        /SerializationError: task 1: the arguments of app 'byteLength' take about 300\.0 MiB, over the 255\.9 MiB a try may carry to a worker process; pass a file path instead/,
      );
      // Too deep for the estimate at submit: caught when the frame is built, for that try alone.
      const deep = [[[Array.from({ length: 300 }, () => "x".repeat(1024 * 1024))]]];
      const deepArg = tryHandle(appOf(byteLength), [deep], {}, 0, 2);
      ex.submit(deepArg);
      assert.match(
        await message(deepArg),
        /task 2: the arguments of app 'byteLength' take \d+\.\d MiB, over the 255\.9 MiB/,
      );
      // A result that cannot travel back fails in the worker, before it is sent.
      const big = tryHandle(appOf(bigResult), [300], {}, 0, 3);
      ex.submit(big);
      assert.match(
        await message(big),
        /the value returned by app 'bigResult' cannot be sent back from a worker process \(it serializes to 300\.0 MiB, over the 255\.9 MiB a result may carry/,
      );
      // The same pool still runs tries.
      const after = tryHandle(appOf(square), [7], {}, 0, 4);
      ex.submit(after);
      assert.equal(((await after.result) as { value: number }).value, 49);
      assert.equal(ex.interchangeForTests!.poolViews().length, 1, "the pool was never dropped");
      assert.equal(ex.interchangeForTests!.rejected, 0);
    } finally {
      await ex.shutdown();
    }
  },
);

function spinForever(): number {
  for (;;) {
    /* never yields: only stopping the process ends it */
  }
}

test(
  "walltime stops any body: a synchronous endless loop fails its try with the walltime error; the worker is replaced",
  { timeout: 60_000 },
  async () => {
    const host = recordingHost({ interval: 0 });
    const ex = await startLocalHtex(host);
    try {
      const started = Date.now();
      const spin = tryHandle(appOf(spinForever), [], { walltime: 2 }, 0, 1);
      const queuedBehind = tryHandle(appOf(square), [6], {}, 0, 2); // same worker: must run, not be lost
      ex.submit(spin);
      ex.submit(queuedBehind);
      const r = (await spin.result) as { ok: boolean; error?: Error };
      const took = Date.now() - started;
      assert.equal(r.ok, false);
      assert.equal(r.error!.name, "WalltimeExceeded");
      assert.match(r.error!.message, /app 'spinForever' exceeded its walltime of 2 s and was stopped/);
      assert.ok(took >= 2000 && took < 8000, `stopped soon after 2 s (${took} ms)`);
      const behind = (await queuedBehind.result) as { ok: boolean; value?: number; error?: Error };
      assert.equal(behind.value, 36, `the try queued behind it ran: ${behind.error?.message ?? ""}`);
      const after = tryHandle(appOf(square), [9], {}, 0, 3);
      ex.submit(after);
      assert.equal(((await after.result) as { value: number }).value, 81);
    } finally {
      const t0 = Date.now();
      await ex.shutdown();
      assert.ok(Date.now() - t0 < 10_000, "shutdown is not held up by the spinning body");
    }
  },
);
