/**
 * Every options object a user builds is checked at run time (untyped JavaScript passes anything):
 * unknown names, Parsl's snake_case and old names, typos and bad values each give an error that
 * names the object, the field and the known options or a suggestion.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  AppDefinitionError,
  bashApp,
  Config,
  ConfigurationError,
  HighThroughputExecutor,
  InProcessExecutor,
  joinApp,
  LocalProvider,
  MonitoringHub,
  SimpleLauncher,
  SingleNodeLauncher,
  SlurmProvider,
  SrunLauncher,
  ThreadPoolExecutor,
  tsApp,
} from "../src/index.js";
import { describeValue, editDistance, suggestOption } from "../src/validation.js";

const KNOWN = {
  Config:
    "executors, monitoring, runDir, retries, retryHandler, appCache, checkpointMode, checkpointPeriod, checkpointFiles, logLevel, handleSignals, summary, progress",
  MonitoringHub:
    "loggingEndpoint, workflowName, workflowVersion, resourceMonitoringEnabled, resourceMonitoringInterval, monitoringDebug, heartbeatPeriod",
  ThreadPoolExecutor: "label, maxThreads",
  HighThroughputExecutor:
    "label, provider, maxWorkersPerNode, coresPerWorker, memPerWorker, address, interchangePortRange, heartbeatPeriod, " +
    "heartbeatThreshold, encrypted, workerDebug, prefetchCapacity, strategy, strategyPeriod, maxIdletime, launchCommand",
  LocalProvider: "initBlocks, minBlocks, maxBlocks, parallelism, nodesPerBlock, launcher, workerInit, cancelGrace",
  SlurmProvider:
    "initBlocks, minBlocks, maxBlocks, parallelism, nodesPerBlock, partition, account, qos, walltime, exclusive, coresPerNode, " +
    "memPerNode, schedulerOptions, workerInit, launcher, commandTimeout",
  app: "name, executors, cache, ignoreForCache",
};

/** [case, make, the exact message] — every case is a ConfigurationError. */
type Case = [string, () => unknown, string];

function configurationCases(title: string, cases: Case[]): void {
  describe(title, () => {
    for (const [name, make, message] of cases) {
      test(name, () => {
        assert.throws(make, (e: unknown) => {
          assert.ok(e instanceof ConfigurationError, `a ConfigurationError, got ${String(e)}`);
          assert.equal(e.message, `invalid configuration: ${message}`);
          assert.equal(e.field, /^(\S+(?: options)?) /.exec(message)![1]);
          return true;
        });
      });
    }
  });
}

const bad = (o: unknown) => o as never;

configurationCases("Config", [
  [
    "a typo is suggested",
    () => new Config(bad({ retires: 2 })),
    `Config.retires is not an option; did you mean retries? Known options: ${KNOWN.Config}`,
  ],
  [
    "Parsl's snake_case",
    () => new Config(bad({ run_dir: "x" })),
    `Config.run_dir is not an option; did you mean runDir? Known options: ${KNOWN.Config}`,
  ],
  [
    "a Parsl Config option that parsl-ts has on the executor",
    () => new Config(bad({ max_idletime: 3 })),
    `Config.max_idletime is not an option of Config: in parsl-ts it is an option of HighThroughputExecutor. Known options: ${KNOWN.Config}`,
  ],
  [
    "an unrelated name gets the known options only",
    () => new Config(bad({ usageTracking: true })),
    `Config.usageTracking is not an option. Known options: ${KNOWN.Config}`,
  ],
  [
    "options that are not an object",
    () => new Config(bad("runinfo")),
    `Config options must be an object, got "runinfo"`,
  ],
  ["an array is not an options object", () => new Config(bad([])), `Config options must be an object, got []`],
  ["retries", () => new Config({ retries: -1 }), "Config.retries must be a number ≥ 0, got -1"],
  ["retries NaN", () => new Config({ retries: NaN }), "Config.retries must be a number ≥ 0, got NaN"],
  ["appCache", () => new Config(bad({ appCache: "no" })), `Config.appCache must be true or false, got "no"`],
  [
    "monitoring as a plain object",
    () => new Config(bad({ monitoring: { loggingEndpoint: "x.db" } })),
    `Config.monitoring must be a MonitoringHub (new MonitoringHub({...})) or null, got {"loggingEndpoint":"x.db"}`,
  ],
  [
    "logLevel",
    () => new Config(bad({ logLevel: "verbose" })),
    `Config.logLevel must be one of debug, info, warning, error, got "verbose"`,
  ],
  [
    "checkpointFiles",
    () => new Config(bad({ checkpointFiles: "runinfo/000" })),
    `Config.checkpointFiles must be an array of checkpoint directory paths, or null, got "runinfo/000"`,
  ],
  [
    "checkpointPeriod",
    () => new Config({ checkpointMode: "periodic", checkpointPeriod: "5 minutes" }),
    `Config.checkpointPeriod must be HH:MM:SS, got "5 minutes"`,
  ],
  ["handleSignals", () => new Config(bad({ handleSignals: 1 })), "Config.handleSignals must be true or false, got 1"],
  ["progress", () => new Config(bad({ progress: "yes" })), `Config.progress must be true or false, got "yes"`],
  [
    "executors entry",
    () => new Config(bad({ executors: [new ThreadPoolExecutor(), "htex"] })),
    "Config.executors[1] is not an executor (needs label, start, submit, shutdown)",
  ],
]);

configurationCases("MonitoringHub", [
  [
    "Parsl's snake_case",
    () => new MonitoringHub(bad({ logging_endpoint: "x.db" })),
    `MonitoringHub.logging_endpoint is not an option; did you mean loggingEndpoint? Known options: ${KNOWN.MonitoringHub}`,
  ],
  [
    "Parsl's hub address",
    () => new MonitoringHub(bad({ hub_address: "127.0.0.1" })),
    `MonitoringHub.hub_address is not an option of MonitoringHub: parsl-ts has no monitoring hub service (a local writer process fills the database). Known options: ${KNOWN.MonitoringHub}`,
  ],
  [
    "a typo",
    () => new MonitoringHub(bad({ resourceMonitoringIntervall: 1 })),
    `MonitoringHub.resourceMonitoringIntervall is not an option; did you mean resourceMonitoringInterval? Known options: ${KNOWN.MonitoringHub}`,
  ],
  [
    "an unsupported endpoint scheme",
    () => new MonitoringHub({ loggingEndpoint: "mysql://db.example/parsl" }),
    `MonitoringHub.loggingEndpoint "mysql://db.example/parsl" has an unsupported scheme 'mysql': give a file path, sqlite:///relative/path.db or sqlite:////absolute/path.db, or postgresql://user@host:5432/database`,
  ],
  [
    "an http URL",
    () => new MonitoringHub({ loggingEndpoint: "http://localhost:8080/" }),
    `MonitoringHub.loggingEndpoint "http://localhost:8080/" has an unsupported scheme 'http': give a file path, sqlite:///relative/path.db or sqlite:////absolute/path.db, or postgresql://user@host:5432/database`,
  ],
  [
    "an SQLite URL with a host",
    () => new MonitoringHub({ loggingEndpoint: "sqlite://host/m.db" }),
    `MonitoringHub.loggingEndpoint "sqlite://host/m.db" names a host, which SQLite URLs cannot: use sqlite:///relative/path.db or sqlite:////absolute/path.db`,
  ],
  [
    "an in-memory SQLite database",
    () => new MonitoringHub({ loggingEndpoint: "sqlite:///:memory:" }),
    `MonitoringHub.loggingEndpoint "sqlite:///:memory:" is an in-memory database, which cannot be shared with the writer process: give a file path`,
  ],
  [
    "an empty endpoint",
    () => new MonitoringHub({ loggingEndpoint: "" }),
    `MonitoringHub.loggingEndpoint must be a non-empty string or null, got ""`,
  ],
  [
    "resourceMonitoringInterval",
    () => new MonitoringHub({ resourceMonitoringInterval: -1 }),
    "MonitoringHub.resourceMonitoringInterval must be a number ≥ 0 (seconds), got -1",
  ],
  [
    "heartbeatPeriod",
    () => new MonitoringHub(bad({ heartbeatPeriod: "5" })),
    `MonitoringHub.heartbeatPeriod must be a number ≥ 0.05 (seconds), got "5"`,
  ],
  [
    "monitoringDebug",
    () => new MonitoringHub(bad({ monitoringDebug: "yes" })),
    `MonitoringHub.monitoringDebug must be true or false, got "yes"`,
  ],
]);

configurationCases("ThreadPoolExecutor and InProcessExecutor", [
  [
    "a typo: maxThread",
    () => new ThreadPoolExecutor(bad({ maxThread: 4 })),
    `ThreadPoolExecutor(threads).maxThread is not an option; did you mean maxThreads? Known options: ${KNOWN.ThreadPoolExecutor}`,
  ],
  [
    "Parsl's snake_case names the labelled object",
    () => new ThreadPoolExecutor(bad({ label: "io", max_threads: 4 })),
    `ThreadPoolExecutor(io).max_threads is not an option; did you mean maxThreads? Known options: ${KNOWN.ThreadPoolExecutor}`,
  ],
  [
    "another executor's name",
    () => new ThreadPoolExecutor(bad({ maxWorkers: 4 })),
    `ThreadPoolExecutor(threads).maxWorkers is not an option; did you mean maxThreads? Known options: ${KNOWN.ThreadPoolExecutor}`,
  ],
  [
    "maxThreads 0",
    () => new ThreadPoolExecutor({ maxThreads: 0 }),
    "ThreadPoolExecutor(threads).maxThreads must be an integer from 1 to 1024, got 0",
  ],
  [
    "maxThreads as a string",
    () => new ThreadPoolExecutor(bad({ maxThreads: "4" })),
    `ThreadPoolExecutor(threads).maxThreads must be an integer from 1 to 1024, got "4"`,
  ],
  [
    "maxThreads fractional",
    () => new ThreadPoolExecutor({ maxThreads: 2.5 }),
    "ThreadPoolExecutor(threads).maxThreads must be an integer from 1 to 1024, got 2.5",
  ],
  [
    "a bad label names the class only",
    () => new ThreadPoolExecutor(bad({ label: 7 })),
    "ThreadPoolExecutor.label must be a non-empty string, got 7",
  ],
  [
    "options not an object",
    () => new ThreadPoolExecutor(bad(4)),
    "ThreadPoolExecutor options must be an object, got 4",
  ],
  [
    "InProcessExecutor unknown name",
    () => new InProcessExecutor(bad({ lable: "x" })),
    "InProcessExecutor(local).lable is not an option; did you mean label? Known options: label",
  ],
  [
    "InProcessExecutor empty label",
    () => new InProcessExecutor({ label: "" }),
    `InProcessExecutor.label must be a non-empty string, got ""`,
  ],
]);

configurationCases("HighThroughputExecutor", [
  [
    "Parsl's old max_workers",
    () => new HighThroughputExecutor(bad({ max_workers: 4 })),
    `HighThroughputExecutor(htex).max_workers is not an option; did you mean maxWorkersPerNode? Known options: ${KNOWN.HighThroughputExecutor}`,
  ],
  [
    "Parsl's snake_case",
    () => new HighThroughputExecutor(bad({ label: "big", cores_per_worker: 2 })),
    `HighThroughputExecutor(big).cores_per_worker is not an option; did you mean coresPerWorker? Known options: ${KNOWN.HighThroughputExecutor}`,
  ],
  [
    "Parsl's launch_cmd",
    () => new HighThroughputExecutor(bad({ launch_cmd: "x" })),
    `HighThroughputExecutor(htex).launch_cmd is not an option; did you mean launchCommand? Known options: ${KNOWN.HighThroughputExecutor}`,
  ],
  [
    "a typo",
    () => new HighThroughputExecutor(bad({ heartbeatThresold: 10 })),
    `HighThroughputExecutor(htex).heartbeatThresold is not an option; did you mean heartbeatThreshold? Known options: ${KNOWN.HighThroughputExecutor}`,
  ],
  [
    "a provider option on the executor",
    () => new HighThroughputExecutor(bad({ init_blocks: 2 })),
    `HighThroughputExecutor(htex).init_blocks is not an option of HighThroughputExecutor: it is an option of the provider, e.g. provider: new LocalProvider({ initBlocks: … }). Known options: ${KNOWN.HighThroughputExecutor}`,
  ],
  [
    "a provider given as plain options",
    () => new HighThroughputExecutor(bad({ provider: { initBlocks: 2 } })),
    `HighThroughputExecutor(htex).provider must be a provider such as new LocalProvider({...}) or new SlurmProvider({...}), got {"initBlocks":2}`,
  ],
  [
    "strategy",
    () => new HighThroughputExecutor(bad({ strategy: "sometimes" })),
    `HighThroughputExecutor(htex).strategy must be one of none, simple, htex_auto_scale, got "sometimes"`,
  ],
  [
    "heartbeatPeriod",
    () => new HighThroughputExecutor({ heartbeatPeriod: 0 }),
    "HighThroughputExecutor(htex).heartbeatPeriod must be a positive number (seconds), got 0",
  ],
  [
    "maxWorkersPerNode",
    () => new HighThroughputExecutor({ maxWorkersPerNode: 1.5 }),
    "HighThroughputExecutor(htex).maxWorkersPerNode must be an integer ≥ 0, got 1.5",
  ],
  [
    "memPerWorker",
    () => new HighThroughputExecutor({ memPerWorker: -1 }),
    "HighThroughputExecutor(htex).memPerWorker must be a number ≥ 0 (GB), got -1",
  ],
  [
    "interchangePortRange",
    () => new HighThroughputExecutor({ interchangePortRange: [6000, 5000] }),
    "HighThroughputExecutor(htex).interchangePortRange must be [low, high] with 0 ≤ low ≤ high ≤ 65535, got [6000,5000]",
  ],
  [
    "prefetchCapacity",
    () => new HighThroughputExecutor({ prefetchCapacity: -1 }),
    `HighThroughputExecutor(htex).prefetchCapacity must be "auto" or an integer ≥ 0, got -1`,
  ],
  [
    "encrypted",
    () => new HighThroughputExecutor(bad({ encrypted: "true" })),
    `HighThroughputExecutor(htex).encrypted must be true or false, got "true"`,
  ],
  [
    "workerDebug",
    () => new HighThroughputExecutor(bad({ workerDebug: 1 })),
    "HighThroughputExecutor(htex).workerDebug must be true or false, got 1",
  ],
  [
    "address",
    () => new HighThroughputExecutor({ address: "" }),
    `HighThroughputExecutor(htex).address must be a non-empty string, got ""`,
  ],
  [
    "launchCommand",
    () => new HighThroughputExecutor(bad({ launchCommand: ["parsl-ts", "worker-pool"] })),
    `HighThroughputExecutor(htex).launchCommand must be a non-empty command line, got ["parsl-ts","worker-pool"]`,
  ],
]);

configurationCases("LocalProvider and SlurmProvider", [
  [
    "Parsl's init_blocks",
    () => new SlurmProvider(bad({ init_blocks: 2 })),
    `SlurmProvider.init_blocks is not an option; did you mean initBlocks? Known options: ${KNOWN.SlurmProvider}`,
  ],
  [
    "Parsl's cmd_timeout",
    () => new SlurmProvider(bad({ cmd_timeout: 60 })),
    `SlurmProvider.cmd_timeout is not an option; did you mean commandTimeout? Known options: ${KNOWN.SlurmProvider}`,
  ],
  [
    "Parsl's constraint",
    () => new SlurmProvider(bad({ constraint: "haswell" })),
    `SlurmProvider.constraint is not an option of SlurmProvider: pass it as schedulerOptions: "#SBATCH --constraint=…". Known options: ${KNOWN.SlurmProvider}`,
  ],
  [
    "a typo",
    () => new LocalProvider(bad({ maxBlock: 2 })),
    `LocalProvider.maxBlock is not an option; did you mean maxBlocks? Known options: ${KNOWN.LocalProvider}`,
  ],
  [
    "Parsl's worker_init",
    () => new LocalProvider(bad({ worker_init: "module load x" })),
    `LocalProvider.worker_init is not an option; did you mean workerInit? Known options: ${KNOWN.LocalProvider}`,
  ],
  [
    "initBlocks",
    () => new LocalProvider({ initBlocks: -1 }),
    "LocalProvider.initBlocks must be an integer ≥ 0, got -1",
  ],
  [
    "nodesPerBlock",
    () => new LocalProvider({ nodesPerBlock: 0 }),
    "LocalProvider.nodesPerBlock must be an integer ≥ 1, got 0",
  ],
  [
    "parallelism",
    () => new LocalProvider({ parallelism: 2 }),
    "LocalProvider.parallelism must be a number from 0 to 1, got 2",
  ],
  [
    "minBlocks over maxBlocks",
    () => new LocalProvider({ minBlocks: 3, maxBlocks: 2 }),
    "LocalProvider.minBlocks (3) exceeds maxBlocks (2)",
  ],
  [
    "cancelGrace",
    () => new LocalProvider(bad({ cancelGrace: "2s" })),
    `LocalProvider.cancelGrace must be a number ≥ 0 (seconds), got "2s"`,
  ],
  [
    "workerInit",
    () => new LocalProvider(bad({ workerInit: ["module load x"] })),
    `LocalProvider.workerInit must be a string, got ["module load x"]`,
  ],
  [
    "launcher as a name",
    () => new LocalProvider(bad({ launcher: "srun" })),
    `LocalProvider.launcher must be a launcher (an object with wrap(command, nodesPerBlock)), e.g. new SingleNodeLauncher(), got "srun"`,
  ],
  [
    "SlurmProvider launcher as a plain object",
    () => new SlurmProvider(bad({ launcher: { overrides: "--mpi=pmi2" } })),
    `SlurmProvider.launcher must be a launcher (an object with wrap(command, nodesPerBlock)), e.g. new SrunLauncher(), got {"overrides":"--mpi=pmi2"}`,
  ],
  [
    "partition with shell",
    () => new SlurmProvider({ partition: "debug; rm -rf /" }),
    `SlurmProvider.partition must be a plain Slurm name or value (letters, digits, _.:,=@/+-) or null, got "debug; rm -rf /"`,
  ],
  [
    "walltime",
    () => new SlurmProvider({ walltime: "1 hour" }),
    `SlurmProvider.walltime must be a plain Slurm name or value (letters, digits, _.:,=@/+-), got "1 hour"`,
  ],
  [
    "memPerNode",
    () => new SlurmProvider({ memPerNode: 0 }),
    "SlurmProvider.memPerNode must be a positive number or null, got 0",
  ],
  [
    "coresPerNode",
    () => new SlurmProvider({ coresPerNode: 1.5 }),
    "SlurmProvider.coresPerNode must be a positive integer or null, got 1.5",
  ],
  [
    "exclusive",
    () => new SlurmProvider(bad({ exclusive: "no" })),
    `SlurmProvider.exclusive must be true or false, got "no"`,
  ],
  [
    "commandTimeout",
    () => new SlurmProvider({ commandTimeout: 0 }),
    "SlurmProvider.commandTimeout must be a positive number (seconds), got 0",
  ],
  ["options not an object", () => new SlurmProvider(bad(null)), "SlurmProvider options must be an object, got null"],
]);

configurationCases("launchers", [
  [
    "SrunLauncher typo",
    () => new SrunLauncher(bad({ overide: "--mpi=pmi2" })),
    "SrunLauncher.overide is not an option; did you mean overrides? Known options: overrides",
  ],
  [
    "SrunLauncher overrides type",
    () => new SrunLauncher(bad({ overrides: 2 })),
    "SrunLauncher.overrides must be a string, got 2",
  ],
  [
    "SingleNodeLauncher takes no options",
    () => new SingleNodeLauncher(bad({ fail_on_any: true })),
    "SingleNodeLauncher.fail_on_any is not an option: SingleNodeLauncher takes no options",
  ],
  [
    "SimpleLauncher takes no options",
    () => new SimpleLauncher(bad({ debug: true })),
    "SimpleLauncher.debug is not an option: SimpleLauncher takes no options",
  ],
]);

test("good options still build the objects they describe", () => {
  assert.equal(new ThreadPoolExecutor({ label: "t", maxThreads: 3 }).maxThreads, 3);
  assert.equal(
    new SrunLauncher({ overrides: "--mpi=pmi2" }).wrap("cmd", 2),
    new SrunLauncher("--mpi=pmi2").wrap("cmd", 2),
  );
  assert.match(
    new SrunLauncher({ overrides: "--mpi=pmi2" }).wrap("cmd", 2),
    /--nodes=2 --mpi=pmi2 \/bin\/bash -c 'cmd'$/,
  );
  const slurm = new SlurmProvider({
    initBlocks: 0,
    maxBlocks: 3,
    partition: null,
    coresPerNode: 4,
    launcher: new SimpleLauncher(),
  });
  assert.deepEqual([slurm.initBlocks, slurm.maxBlocks, slurm.nodesPerBlock], [0, 3, 1]);
  assert.match(slurm.jobScript("cmd", "b", "/d"), /--cpus-per-task=4\n[\s\S]*\ncmd\n$/);
  const htex = new HighThroughputExecutor({
    label: "h",
    provider: new LocalProvider({ initBlocks: 0 }),
    prefetchCapacity: 0,
    launchCommand: null,
  });
  assert.equal(htex.provider.initBlocks, 0);
  const hub = new MonitoringHub({ loggingEndpoint: "sqlite:///runinfo/m.db", workflowName: null });
  assert.equal(hub.loggingEndpoint, "sqlite:///runinfo/m.db");
  assert.equal(new Config({ checkpointMode: null, retryHandler: null, monitoring: null }).checkpointMode, null);
  // Options that are set to undefined count as not given.
  assert.equal(new ThreadPoolExecutor({ maxThreads: undefined }).maxThreads, 2);
});

describe("app options are checked like the rest, as AppDefinitionError", () => {
  const body = function double(x: number) {
    return x * 2;
  };
  const cases: Array<[string, () => unknown, string]> = [
    [
      "a typo",
      () => tsApp(body, bad({ cach: true })),
      `tsApp(double).cach is not an option; did you mean cache? Known options: ${KNOWN.app}`,
    ],
    [
      "Parsl's snake_case",
      () => bashApp(() => "true", bad({ name: "t", ignore_for_cache: ["stdout"] })),
      `bashApp(t).ignore_for_cache is not an option; did you mean ignoreForCache? Known options: ${KNOWN.app}`,
    ],
    [
      "walltime is a call option",
      () => joinApp(body, bad({ walltime: 5 })),
      `joinApp(double).walltime is not an option of joinApp(double): it is a call option: app.with({ walltime })(…). Known options: ${KNOWN.app}`,
    ],
    [
      "cache must be a boolean",
      () => tsApp(body, bad({ cache: "yes" })),
      `tsApp(double).cache must be true or false, got "yes"`,
    ],
    [
      "executors",
      () => tsApp(body, bad({ executors: "threads" })),
      `tsApp(double).executors must be "all" or an array of executor labels, got "threads"`,
    ],
    [
      "ignoreForCache",
      () => tsApp(body, bad({ ignoreForCache: "stdout" })),
      `tsApp(double).ignoreForCache must be an array of names, got "stdout"`,
    ],
    ["name", () => tsApp(body, bad({ name: 3 })), "tsApp(double).name must be a non-empty string, got 3"],
    [
      "options not an object",
      () => tsApp(body, bad("double")),
      `tsApp(double) options must be an object, got "double"`,
    ],
  ];
  for (const [name, make, message] of cases) {
    test(name, () => {
      assert.throws(make, (e: unknown) => e instanceof AppDefinitionError && e.message === message);
    });
  }
});

describe("suggestions", () => {
  const known = ["initBlocks", "minBlocks", "maxBlocks", "maxWorkersPerNode", "heartbeatPeriod", "heartbeatThreshold"];
  const cases: Array<[string, string | null]> = [
    ["init_blocks", "initBlocks"],
    ["INIT_BLOCKS", "initBlocks"],
    ["init-blocks", "initBlocks"],
    ["initBlock", "initBlocks"],
    ["inti_blocks", "initBlocks"],
    ["maxWorkers", "maxWorkersPerNode"],
    ["heartbeat", null],
    ["zzz", null],
    ["", null],
  ];
  for (const [given, expected] of cases) {
    test(`${JSON.stringify(given)} → ${String(expected)}`, () => assert.equal(suggestOption(given, known), expected));
  }
  test("aliases win over spelling", () =>
    assert.equal(
      suggestOption("max_workers", ["maxWorkersPerNode", "maxWorker"], { maxWorkers: "maxWorkersPerNode" }),
      "maxWorkersPerNode",
    ));
  test("edit distance counts a swap of neighbours as one edit", () => {
    assert.equal(editDistance("retires", "retries"), 1);
    assert.equal(editDistance("", "abc"), 3);
    assert.equal(editDistance("kitten", "sitting"), 3);
  });
  test("values in messages", () => {
    assert.equal(describeValue(undefined), "undefined");
    assert.equal(
      describeValue(() => 1),
      "a function",
    );
    assert.equal(describeValue(new Map()), "a Map");
    assert.equal(describeValue(Object.create(null)), "{}");
    assert.equal(describeValue(Infinity), "Infinity");
    assert.equal(describeValue("x".repeat(100)).length, 80);
  });
});
