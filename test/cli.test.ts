/** The `parsl-ts` command as a user runs it: a real process. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { count, tempDir } from "./helpers.js";

const CLI = fileURLToPath(new URL("../src/cli/parsl-ts.cjs", import.meta.url));
const INDEX = fileURLToPath(new URL("../src/index.js", import.meta.url));

function run(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test("parsl-ts perf runs the given batch sizes on the config module and records them when monitored", () => {
  const dir = tempDir();
  const cfg = path.join(dir, "config.mjs");
  fs.writeFileSync(
    cfg,
    `
import { Config, MonitoringHub, ThreadPoolExecutor } from ${JSON.stringify(INDEX)};
export function freshConfig() {
  return new Config({ executors: [new ThreadPoolExecutor({ maxThreads: 2 })], monitoring: new MonitoringHub(), runDir: ${JSON.stringify(path.join(dir, "runinfo"))} });
}`,
  );
  const r = run(["perf", "--config", cfg, "--iterate", "10,50", "--argsize", "100"], dir);
  assert.equal(r.code, 0, r.err);
  assert.match(
    r.out,
    /==== Iteration 1 ====\nWill run 10 tasks\nSubmission took [\d.]+ seconds = [\d.]+ tasks\/second\nRuntime: actual [\d.]+s vs target 120s\nTasks per second: [\d.]+/,
  );
  assert.match(r.out, /==== Iteration 2 ====\nWill run 50 tasks/);
  assert.match(r.out, /Tests complete - leaving DFK block\nThe end\n$/);
  assert.equal(
    count(
      path.join(dir, "runinfo", "monitoring.db"),
      "SELECT COUNT(*) FROM task WHERE task_latest_status = 'exec_done'",
    ),
    60,
  );
});

test("parsl-ts perf: bad arguments get a clear error and exit code 2", () => {
  const dir = tempDir();
  const cases: Array<[string[], RegExp]> = [
    [["perf", "--config", "x.mjs", "--iterate", "sometimes"], /Invalid iteration mode: sometimes/],
    [["perf", "--iterate", "10"], /--config FILE is required/],
    [["perf", "--config", "x.mjs", "--time", "-3"], /--time must be a positive number of seconds/],
    [["perf", "--config", path.join(dir, "missing.mjs")], /cannot load config module .*missing\.mjs/],
    [["perf", "--bogus"], /unknown option --bogus/],
  ];
  for (const [args, re] of cases) {
    const r = run(args, dir);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, re);
  }
  fs.writeFileSync(path.join(dir, "notconfig.mjs"), "export const config = 42;");
  const r = run(["perf", "--config", path.join(dir, "notconfig.mjs")], dir);
  assert.equal(r.code, 2);
  assert.match(r.err, /must export `config` \(a Config\) or `freshConfig\(\)`/);
});

test("parsl-ts without a command prints usage; an unknown command is an error; --version prints the version", () => {
  const dir = tempDir();
  assert.match(run([], dir).out, /usage: parsl-ts <command>/);
  const u = run(["frobnicate"], dir);
  assert.equal(u.code, 2);
  assert.match(u.err, /unknown command 'frobnicate'/);
  assert.match(run(["--version"], dir).out, /^parsl-ts \d+\.\d+\.\d+/);
});
