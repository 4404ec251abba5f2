/**
 * Every error class a user can catch is exported from the package, and is the class the
 * library really throws (not a copy or a plain Error with the same name).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as parsl from "../src/index.js";
import {
  AppDefinitionError,
  BadCheckpoint,
  BashExitFailure,
  Config,
  ConfigurationError,
  DependencyError,
  InProcessExecutor,
  JoinError,
  load,
  MemoizationError,
  NoDataFlowKernelError,
  ParslError,
  SerializationError,
  TaskCancelled,
  ThreadPoolExecutor,
  UnknownExecutorError,
  WalltimeExceeded,
  WorkerLost,
  bashApp,
  joinApp,
  tsApp,
  type AppFuture,
  type DataFlowKernel,
} from "../src/index.js";
import { tempDir } from "./helpers.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const DIST_SRC = path.join(REPO, "dist", "src");

/**
 * Error classes that never reach a user of the package (each caught inside, or living in a
 * separate process or command), with where they stay. A new `extends Error` class must be
 * added here with its reason, or derive from ParslError and be exported.
 */
/** Error classes of the `parsl-ts/query` entry point: a query API user catches them from there. */
const QUERY_API: Record<string, string> = {
  "database/queries/filter.ts FilterError": "a filter, field or sort that does not parse (position of the bad token)",
  "database/queries/resolveRun.ts RunNotFoundError": "a RUN that matches no run, or several",
};

const INTERNAL: Record<string, string> = {
  "export/files.ts ExportError": "parsl-ts export turns it into a CommandError (exit 1 with its message)",
  "database/endpoint.ts EndpointError":
    "MonitoringHub turns it into a ConfigurationError; otherwise only the writer process parses endpoints",
  "database/store.ts StoreOpenError": "writer process; load() reports its message",
  "database/errors.ts ConnectionError":
    "the writer process wraps it in a StoreOpenError (load() reports its message); readers and the commands print its message",
  "database/store.ts PermanentStoreError":
    "writer process; it stops and the user is told once, as a monitoring warning",
  "monitoring/wire.ts TruncatedError": "writer process wire decoding",
  "monitoring/validate.ts InvalidEventError": "writer process event checks",
  "executors/htex/protocol.ts ProtocolError": "interchange and worker pools drop the connection",
  "executors/htex/poolFrames.ts FrameTooLargeError": "interchange and worker pools drop the connection",
  "executors/htex/workerPoolCommand.ts UsageError": "parsl-ts worker-pool command line",
  "cli/args.ts UsageError": "parsl-ts command line",
  "cli/args.ts CommandError": "parsl-ts command line (exit status 1 with its message)",
  "database/upkeep/upgrade.ts UpkeepRefusal": "parsl-ts db commands turn it into a CommandError",
  "visualizer/http-util.ts HttpError": "visualizer server answers with the status",
  "visualizer/reader.ts NotFoundError": "visualizer server answers 404",
  "visualizer/client/dom.ts HttpError": "visualizer page in the browser",
};

interface ErrorClassSource {
  file: string; // relative to src/
  name: string;
  base: string;
}

function errorClassesInSource(): ErrorClassSource[] {
  const out: ErrorClassSource[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".ts")) {
        for (const m of fs.readFileSync(full, "utf8").matchAll(/\bclass\s+(\w+)\s+extends\s+(\w+)/g)) {
          out.push({
            file: path.relative(path.join(REPO, "src"), full).split(path.sep).join("/"),
            name: m[1]!,
            base: m[2]!,
          });
        }
      }
    }
  };
  walk(path.join(REPO, "src"));
  const byName = new Map(out.map((c) => [c.name, c]));
  const isError = (c: ErrorClassSource): boolean =>
    c.base === "Error" || (byName.has(c.base) && isError(byName.get(c.base)!));
  return out.filter(isError);
}

describe("error classes", () => {
  const classes = errorClassesInSource();
  const isParsl = (c: ErrorClassSource): boolean =>
    c.name === "ParslError" || (c.base !== "Error" && isParsl(classes.find((x) => x.name === c.base)!));

  test("the scan finds the library's error classes", () => {
    for (const name of ["ParslError", "ConfigurationError", "WorkerLost", "EndpointError"])
      assert.ok(
        classes.some((c) => c.name === name),
        name,
      );
  });

  test("every ParslError class is exported from the package as the class its module defines", async () => {
    for (const c of classes.filter(isParsl)) {
      const mod = (await import(pathToFileURL(path.join(DIST_SRC, c.file.replace(/\.ts$/, ".js"))).href)) as Record<
        string,
        unknown
      >;
      assert.equal(typeof mod[c.name], "function", `${c.file} exports ${c.name}`);
      assert.equal(
        (parsl as Record<string, unknown>)[c.name],
        mod[c.name],
        `${c.name} (${c.file}) is exported from src/index.ts`,
      );
      assert.ok((mod[c.name] as { prototype: unknown }).prototype instanceof ParslError || mod[c.name] === ParslError);
    }
  });

  test("the query API's error classes are exported from parsl-ts/query", async () => {
    const api = (await import(pathToFileURL(path.join(DIST_SRC, "query", "index.js")).href)) as Record<string, unknown>;
    for (const key of Object.keys(QUERY_API)) {
      const [file, name] = key.split(" ") as [string, string];
      const mod = (await import(pathToFileURL(path.join(DIST_SRC, file.replace(/\.ts$/, ".js"))).href)) as Record<
        string,
        unknown
      >;
      assert.equal(typeof mod[name], "function", `${file} exports ${name}`);
      assert.equal(api[name], mod[name], `${name} is exported from parsl-ts/query`);
    }
  });

  test("every other Error class is internal, with the reason it never reaches a user", () => {
    const others = classes
      .filter((c) => !isParsl(c) && !(`${c.file} ${c.name}` in QUERY_API))
      .map((c) => `${c.file} ${c.name}`);
    assert.deepEqual(
      others.filter((k) => !(k in INTERNAL)),
      [],
      "new Error classes: derive them from ParslError and export them, or list them in INTERNAL",
    );
    assert.deepEqual(
      Object.keys(INTERNAL).filter((k) => !others.includes(k)),
      [],
      "INTERNAL lists classes that no longer exist",
    );
  });
});

describe("the library throws the exported classes", () => {
  let dfk: DataFlowKernel;
  const runDir = path.join(tempDir(), "runinfo");
  const boom = tsApp(function boom(): number {
    throw new Error("boom");
  });
  const add = tsApp(function add(a: number, b: number) {
    return a + b;
  });
  const threads = { executors: ["threads"] };

  /** Every exported error class, and how a user meets it; the last column runs with a loaded kernel. */
  const cases: Array<[abstract new (...args: never[]) => Error, string, () => unknown]> = [
    [ParslError, "load() without a Config", () => load({} as never)],
    [ConfigurationError, "a bad option", () => new ThreadPoolExecutor({ maxThread: 2 } as never)],
    [ConfigurationError, "an unsupported endpoint", () => new parsl.MonitoringHub({ loggingEndpoint: "mysql://h/db" })],
    [AppDefinitionError, "a bad app option", () => tsApp(function f() {}, { cach: true } as never)],
    [
      UnknownExecutorError,
      "an app naming a missing executor",
      () => tsApp(function lost() {}, { executors: ["nope"] })(),
    ],
    [DependencyError, "a failed dependency", () => add(boom(), 1)],
    [
      JoinError,
      "a join app whose inner task fails",
      () =>
        joinApp(function joins() {
          return boom();
        })(),
    ],
    [
      BashExitFailure,
      "a bash command exiting non-zero",
      () =>
        bashApp(function exits3() {
          return "exit 3";
        })(),
    ],
    [
      WalltimeExceeded,
      "a try over its walltime",
      () =>
        tsApp(function spin() {
          for (;;);
        }, threads).with({ walltime: 0.2 })(),
    ],
    [
      SerializationError,
      "a body that is not self-contained",
      () =>
        tsApp(function closes() {
          return runDir;
        }, threads)(),
    ],
    [
      MemoizationError,
      "a cached call with an argument that cannot be hashed",
      () =>
        tsApp(
          function keyed(m: Map<string, number>) {
            return m.size;
          },
          { cache: true, executors: ["local"] },
        )(new Map()),
    ],
    [
      WorkerLost,
      "a worker thread that exits mid-try",
      () =>
        tsApp(function quits() {
          process.exit(3);
        }, threads)(),
    ],
  ];

  before(async () => {
    dfk = await load(
      new Config({
        executors: [new ThreadPoolExecutor({ maxThreads: 2 }), new InProcessExecutor()],
        runDir,
        handleSignals: false,
      }),
    );
  });
  after(async () => {
    await dfk.cleanup();
  });

  for (const [cls, what, make] of cases) {
    test(`${cls.name}: ${what}`, async () => {
      const check = (e: unknown) => e instanceof cls && e.name === cls.name && e instanceof ParslError;
      let result: unknown;
      try {
        result = make();
      } catch (e) {
        assert.ok(check(e), `threw ${String(e)}`);
        return;
      }
      await assert.rejects(Promise.resolve(result as AppFuture<unknown> | Promise<unknown>), check);
    });
  }

  test("NoDataFlowKernelError, BadCheckpoint and TaskCancelled (each needs its own kernel state)", async () => {
    // Runs after the cases above: the shared kernel is cleaned up here and by `after`.
    const sleepy = tsApp(function sleepy() {
      return new Promise((r) => setTimeout(r, 60_000));
    }, threads);
    const pending = sleepy();
    await dfk.cleanup({ wait: false });
    await assert.rejects(pending, (e: unknown) => e instanceof TaskCancelled);
    assert.throws(() => add(1, 2), NoDataFlowKernelError);
    await assert.rejects(
      load(
        new Config({
          executors: [new InProcessExecutor()],
          runDir,
          handleSignals: false,
          checkpointFiles: [path.join(runDir, "missing")],
        }),
      ),
      BadCheckpoint,
    );
  });

  test("cleanup() options are checked like every other options object", async () => {
    const k = await load(new Config({ executors: [new InProcessExecutor()], runDir, handleSignals: false }));
    try {
      assert.throws(
        () => k.cleanup({ wiat: false } as never),
        (e: unknown) =>
          e instanceof TypeError &&
          e.message === "cleanup().wiat is not an option; did you mean wait? Known options: wait",
      );
      assert.throws(
        () => k.cleanup({ wait: "no" } as never),
        (e: unknown) => e instanceof TypeError && e.message === `cleanup().wait must be true or false, got "no"`,
      );
    } finally {
      await k.cleanup();
    }
  });

  test("the cases cover every exported error class", () => {
    const exported = Object.entries(parsl)
      .filter(
        ([, v]) =>
          typeof v === "function" &&
          (v === ParslError || (v as { prototype: unknown }).prototype instanceof ParslError),
      )
      .map(([k]) => k);
    const covered = new Set([...cases.map(([c]) => c.name), "NoDataFlowKernelError", "BadCheckpoint", "TaskCancelled"]);
    assert.deepEqual(exported.filter((n) => !covered.has(n)).sort(), []);
  });
});
