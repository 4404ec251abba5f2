/** The dataflow kernel without monitoring: dependencies, errors, retries, joins, bash apps. */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import {
  AppDefinitionError,
  AUTO_LOGNAME,
  BashExitFailure,
  Config,
  ConfigurationError,
  DependencyError,
  type File,
  InProcessExecutor,
  JoinError,
  load,
  NoDataFlowKernelError,
  SerializationError,
  ThreadPoolExecutor,
  UnknownExecutorError,
  WalltimeExceeded,
  bashApp,
  joinApp,
  tsApp,
  type DataFlowKernel,
} from "../src/index.js";
import { tempDir } from "./helpers.js";

const double = tsApp(function double(x: number) {
  return x * 2;
});
const add = tsApp(function add(a: number, b: number) {
  return a + b;
});
const boom = tsApp(function boom(): number {
  throw new Error("boom");
});

describe("apps before load", () => {
  test("calling an app with no kernel loaded names the app and says what to do", () => {
    assert.throws(
      () => double(1),
      (e: unknown) => e instanceof NoDataFlowKernelError && /app 'double'.*load\(config\)/.test(e.message),
    );
  });

  test("an app needs a name", () => {
    assert.throws(() => tsApp((x: number) => x), AppDefinitionError);
    assert.throws(
      () =>
        tsApp(function () {
          return 1;
        }),
      /has no name/,
    );
    assert.equal(tsApp((x: number) => x, { name: "named" }).appName, "named");
    const later = function forDecorationLater() {
      return 1;
    };
    assert.equal(tsApp(later).appName, "forDecorationLater");
    const arrow = (x: number) => x;
    assert.equal(tsApp(arrow).appName, "arrow");
  });

  test("an app must be a function, with valid options", () => {
    assert.throws(() => tsApp(42 as never), /needs a function, got number/);
    assert.throws(
      () =>
        tsApp(
          function f() {
            return 1;
          },
          { executors: "threads" as never },
        ),
      /executors must be "all" or an array/,
    );
  });
});

describe("kernel on threads", () => {
  let dfk: DataFlowKernel;
  let runDir: string;
  before(async () => {
    runDir = path.join(tempDir(), "runinfo");
    dfk = await load(
      new Config({
        executors: [
          new ThreadPoolExecutor({ label: "threads", maxThreads: 2 }),
          new InProcessExecutor({ label: "local" }),
        ],
        runDir,
        retries: 2,
        handleSignals: false,
      }),
    );
  });
  after(async () => {
    await dfk.cleanup();
  });

  test("futures passed as arguments become dependencies", async () => {
    const total = add(double(3), double(4));
    assert.equal(typeof total.taskId, "number");
    assert.equal(await total, 14);
    assert.equal(total.done(), true);
    assert.equal(total.exception(), null);
  });

  test("task ids count up from 0 in call order", async () => {
    const a = double(1);
    const b = double(2);
    assert.equal(b.taskId, a.taskId + 1);
    await Promise.all([a, b]);
  });

  test("futures inside inputs are dependencies and the body reads resolved inputs from this", async () => {
    const sum = tsApp(function sumInputs(this: { inputs: number[] }) {
      return this.inputs.reduce((a, b) => a + b, 0);
    });
    assert.equal(await sum.with({ inputs: [double(1), double(2), 10] })(), 16);
  });

  test("a plain promise is a dependency too", async () => {
    let release!: (v: number) => void;
    const p = new Promise<number>((r) => (release = r));
    const f = double(p);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(f.done(), false);
    release(21);
    assert.equal(await f, 42);
  });

  test("a failed dependency ends the task in dep_fail with a DependencyError naming the failed task", async () => {
    const root = boom();
    const child = double(root);
    const grandchild = double(child);
    await assert.rejects(
      child,
      (e: unknown) => e instanceof DependencyError && e.message.includes(`task ${root.taskId}`),
    );
    await assert.rejects(
      grandchild,
      (e: unknown) => e instanceof DependencyError && e.message.includes(`task ${child.taskId}`),
    );
    assert.match(String((root.exception() as Error).message), /boom/);
  });

  test("an app naming an unknown executor fails with an error that names the label and the known ones", async () => {
    const lost = tsApp(
      function lost() {
        return 1;
      },
      { executors: ["nope"] },
    );
    await assert.rejects(
      lost(),
      (e: unknown) => e instanceof UnknownExecutorError && /'nope'.*threads, local/.test(e.message),
    );
  });

  test("closures are refused on worker threads with an error naming the app; they run in-process", async () => {
    const captured = 5;
    const closure = tsApp(
      function usesClosure() {
        return captured + 1;
      },
      { executors: ["threads"] },
    );
    await assert.rejects(
      closure(),
      (e: unknown) => e instanceof SerializationError && /app 'usesClosure'.*self-contained/.test(e.message),
    );
    const inProc = tsApp(
      function usesClosureLocally() {
        return captured + 1;
      },
      { executors: ["local"] },
    );
    assert.equal(await inProc(), 6);
  });

  test("arguments a worker thread cannot receive fail the task with an error naming the app and argument", async () => {
    const take = tsApp(
      function takesAnything(_x: unknown, _y: unknown) {
        return 1;
      },
      { executors: ["threads"] },
    );
    await assert.rejects(
      take(1, () => 2),
      (e: unknown) => e instanceof SerializationError && /takesAnything.*argument 1 \(a function\)/.test(e.message),
    );
    const giveBack = tsApp(
      function returnsFunction() {
        return () => 1;
      },
      { executors: ["threads"] },
    );
    await assert.rejects(
      giveBack(),
      (e: unknown) => e instanceof SerializationError && /cannot be sent back/.test(e.message),
    );
  });

  test("worker threads can load modules with require and import()", async () => {
    const useModules = tsApp(
      async function useModules() {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- require in a worker is what this test checks
        const os = require("node:os") as typeof import("node:os");
        const p = await import("node:path");
        return `${typeof os.cpus}-${p.basename("/a/b.txt")}`;
      },
      { executors: ["threads"] },
    );
    assert.equal(await useModules(), "function-b.txt");
  });

  test("retries: a try that fails twice then succeeds is retried within the budget", async () => {
    const marker = path.join(runDir, "flaky-count");
    const flaky = tsApp(
      function flaky(file: string) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- a synchronous app body runs in a worker: no top-level import
        const fs = require("node:fs") as typeof import("node:fs");
        const n = fs.existsSync(file) ? Number(fs.readFileSync(file, "utf8")) : 0;
        fs.writeFileSync(file, String(n + 1));
        if (n < 2) throw new Error(`fail ${n}`);
        return n;
      },
      { executors: ["threads"] },
    );
    assert.equal(await flaky(marker), 2);
  });

  test("retries: the budget runs out after retries + 1 tries", async () => {
    await assert.rejects(boom(), /boom/);
  });

  test("join apps wait on the futures their body returns", async () => {
    const one = joinApp(function joinOne(x: number) {
      return double(x);
    });
    const many = joinApp(function joinMany(x: number) {
      return [double(x), double(x + 1)];
    });
    const none = joinApp(function joinNone() {
      return [] as ReturnType<typeof double>[];
    });
    assert.equal(await one(5), 10);
    assert.deepEqual(await many(5), [10, 12]);
    assert.deepEqual(await none(), []);
  });

  test("a join app whose inner task fails fails with JoinError; a body returning a non-future is a TypeError", async () => {
    const inner = joinApp(function joinInnerFails() {
      return boom();
    });
    await assert.rejects(
      inner(),
      (e: unknown) => e instanceof JoinError && /inner tasks failed: task \d+/.test((e as Error).message),
    );
    const wrong = joinApp(function joinReturnsNumber() {
      return 3 as never;
    });
    await assert.rejects(
      wrong(),
      (e: unknown) => e instanceof TypeError && /must return a future or an array of futures, got 3/.test(e.message),
    );
  });

  test("bash apps run in bash with stdout/stderr files; AUTO_LOGNAME puts them in the run dir", async () => {
    const dir = tempDir();
    const echo = bashApp(function echo(this: unknown, word: string) {
      return `echo out-${word}; echo err-${word} >&2`;
    });
    const out = path.join(dir, "o.txt");
    assert.equal(await echo.with({ stdout: out, stderr: [path.join(dir, "e.txt"), "w"] })("a"), 0);
    assert.equal(fs.readFileSync(out, "utf8"), "out-a\n");
    assert.equal(fs.readFileSync(path.join(dir, "e.txt"), "utf8"), "err-a\n");
    const f = echo.with({ stdout: AUTO_LOGNAME, stderr: AUTO_LOGNAME })("b");
    await f;
    const logs = path.join(dfk.runDir, "task_logs", "0000");
    const name = `task_${String(f.taskId).padStart(4, "0")}_echo`;
    assert.equal(fs.readFileSync(path.join(logs, `${name}.stdout`), "utf8"), "out-b\n");
    assert.equal(fs.readFileSync(path.join(logs, `${name}.stderr`), "utf8"), "err-b\n");
  });

  test("a bash app's non-zero exit fails the try with the exit code", async () => {
    const fail = bashApp(function exits3() {
      return "exit 3";
    });
    await assert.rejects(
      fail(),
      (e: unknown) =>
        e instanceof BashExitFailure && e.exitCode === 3 && /exited with code 3/.test((e as Error).message),
    );
  });

  test("walltime stops a bash command and a long body on a worker thread", async () => {
    const sleepy = bashApp(function sleepy() {
      return "sleep 20";
    });
    const t0 = Date.now();
    await assert.rejects(sleepy.with({ walltime: 0.3 })(), WalltimeExceeded);
    const spin = tsApp(
      function spin() {
        const end = Date.now() + 20_000;
        while (Date.now() < end) {
          /* busy */
        }
        return 1;
      },
      { executors: ["threads"] },
    );
    await assert.rejects(spin.with({ walltime: 0.3 })(), WalltimeExceeded);
    assert.ok(Date.now() - t0 < 8000, "walltime must stop the work long before it would end");
    assert.equal(await double(4), 8, "the pool keeps working after a thread was stopped");
  });

  test("outputs give DataFutures that resolve to the File and can feed other apps", async () => {
    const dir = tempDir();
    const write = bashApp(function writeFile(this: { outputs: readonly File[] }) {
      return `echo 1 > ${this.outputs[0]!.filepath}; echo 2 >> ${this.outputs[0]!.filepath}`;
    });
    const countLines = tsApp(
      function countLines(this: { inputs: File[] }) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- a synchronous app body runs in a worker: no top-level import
        const fs = require("node:fs") as typeof import("node:fs");
        return fs.readFileSync(this.inputs[0]!.filepath, "utf8").trim().split("\n").length;
      },
      { executors: ["threads"] },
    );
    const w = write.with({ outputs: [path.join(dir, "x.txt")] })();
    assert.equal(w.outputs.length, 1);
    const n = countLines.with({ inputs: [w.outputs[0]!] })();
    assert.equal(await n, 2);
    assert.equal((await w.outputs[0]!).url, path.join(dir, "x.txt"));
  });

  test("bad call options give a clear error naming the option", () => {
    assert.throws(() => double.with({ walltime: -1 })(1), /call option walltime must be a positive number/);
    assert.throws(() => double.with({ stdout: 5 as never })(1), /call option stdout must be/);
    assert.throws(
      () => double.with({ wall_time: 5 } as never)(1),
      /call option wall_time is not an option; did you mean walltime\?/,
    );
    assert.throws(
      () => double.with({ bogus: 1 } as never)(1),
      /call option bogus is not an option\. Known options: inputs, outputs, stdout, stderr, stdin, walltime, resourceSpecification$/,
    );
  });

  test("loading a second kernel while one is loaded is refused", async () => {
    await assert.rejects(load(new Config({ runDir: path.join(tempDir(), "r") })), /already loaded/);
  });
});

describe("retry handler", () => {
  test("fractional costs give more tries; a throwing handler stops retrying with its own error", async () => {
    const seen: number[] = [];
    const dfk = await load(
      new Config({
        executors: [new InProcessExecutor({ label: "local" })],
        runDir: path.join(tempDir(), "runinfo"),
        retries: 2,
        handleSignals: false,
        retryHandler: (e, task) => {
          seen.push(task.tryId);
          if (e.message === "stop") throw new Error("handler says no");
          return 0.5;
        },
      }),
    );
    try {
      const alwaysFails = tsApp(function alwaysFails() {
        throw new Error("nope");
      });
      await assert.rejects(alwaysFails(), /nope/);
      assert.deepEqual(seen, [0, 1, 2, 3, 4], "costs 0.5, 1, 1.5, 2 are within retries=2, 2.5 is not: 5 tries");
      seen.length = 0;
      const stop = tsApp(function stops() {
        throw new Error("stop");
      });
      await assert.rejects(stop(), /handler says no/);
      assert.deepEqual(seen, [0]);
    } finally {
      await dfk.cleanup();
    }
  });
});

describe("configuration errors name the field", () => {
  const cases: Array<[string, () => unknown, RegExp]> = [
    ["retries", () => new Config({ retries: -1 }), /retries must be a number ≥ 0/],
    [
      "maxThreads",
      () => new ThreadPoolExecutor({ maxThreads: 0 }),
      /ThreadPoolExecutor\(threads\)\.maxThreads must be an integer/,
    ],
    [
      "duplicate label",
      () => new Config({ executors: [new ThreadPoolExecutor(), new ThreadPoolExecutor()] }),
      /executors\[1\]\.label 'threads' is used by two executors/,
    ],
    [
      "reserved label",
      () => new Config({ executors: [new InProcessExecutor({ label: "_parsl_internal" })] }),
      /reserved/,
    ],
    ["empty executors", () => new Config({ executors: [] }), /executors must be a non-empty array/],
    ["not an executor", () => new Config({ executors: [{} as never] }), /executors\[0\] is not an executor/],
    [
      "unknown option",
      () => new Config({ retires: 2 } as never),
      /Config\.retires is not an option; did you mean retries\?/,
    ],
    ["checkpointMode", () => new Config({ checkpointMode: "sometimes" as never }), /checkpointMode must be one of/],
    ["periodic without period", () => new Config({ checkpointMode: "periodic" }), /checkpointPeriod is required/],
    [
      "bad period",
      () => new Config({ checkpointMode: "periodic", checkpointPeriod: "5 minutes" }),
      /checkpointPeriod must be HH:MM:SS/,
    ],
    ["runDir", () => new Config({ runDir: "" }), /runDir must be a non-empty path/],
    ["retryHandler", () => new Config({ retryHandler: 3 as never }), /retryHandler must be a function/],
  ];
  for (const [name, make, re] of cases) {
    test(name, () => {
      assert.throws(make, (e: unknown) => e instanceof ConfigurationError && re.test((e as Error).message));
    });
  }
});
