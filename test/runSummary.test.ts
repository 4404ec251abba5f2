/**
 * Issue 8 item 10: the end-of-run line on stderr (Config.summary) and the time stamps of
 * parsl.log and database_manager.log (one format, local time with its UTC offset).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Config, ConfigurationError } from "../src/index.js";
import { formatDuration, formatRunSummary } from "../src/dataflow/runSummary.js";
import { logTimestamp } from "../src/logTime.js";
import { tempDir } from "./helpers.js";

const INDEX = fileURLToPath(new URL("../src/index.js", import.meta.url));
const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

test("formatRunSummary: status, tasks per final state, duration, database", () => {
  const counts = { exec_done: 1000, memo_done: 3, failed: 2, dep_fail: 0 };
  assert.equal(
    formatRunSummary(
      { runId: "r1", status: "failed", seconds: 12.43, counts, cancelled: 0, database: "/w/runinfo/monitoring.db" },
      "/w",
    ),
    "parsl-ts: run r1 failed in 12.4 s: 1,000 exec_done, 3 memo_done, 2 failed · runinfo/monitoring.db",
  );
  assert.equal(
    formatRunSummary(
      {
        runId: "r2",
        status: "interrupted",
        seconds: 192,
        counts: { ...counts, exec_done: 5, memo_done: 0, failed: 0 },
        cancelled: 7,
        database: "/elsewhere/m.db",
      },
      "/w",
    ),
    "parsl-ts: run r2 interrupted in 3 min 12 s: 5 exec_done, 7 cancelled · /elsewhere/m.db",
  );
  assert.equal(
    formatRunSummary(
      {
        runId: "r3",
        status: "completed",
        seconds: 0.04,
        counts: { exec_done: 0, memo_done: 0, failed: 0, dep_fail: 0 },
        cancelled: 0,
        database: null,
      },
      "/w",
    ),
    "parsl-ts: run r3 completed in 0.0 s: no tasks",
  );
  assert.equal(formatDuration(7505), "2 h 05 min");
});

test("Config.summary is validated like the other options", () => {
  assert.equal(new Config({}).summary, true);
  assert.equal(new Config({ summary: false }).summary, false);
  assert.throws(
    () => new Config({ summary: "no" as unknown as boolean }),
    (e: Error) => e instanceof ConfigurationError && /summary must be true or false, got "no"/.test(e.message),
  );
});

/** Runs a workflow script in `dir` (its working directory) and returns its stderr and exit code. */
function run(
  dir: string,
  body: string,
  config: string,
  env: NodeJS.ProcessEnv = {},
): { stderr: string; status: number | null } {
  const file = path.join(dir, "wf.mjs");
  fs.writeFileSync(
    file,
    `
import { load, Config, MonitoringHub, ThreadPoolExecutor, tsApp } from ${JSON.stringify(INDEX)};
const dfk = await load(new Config({ executors: [new ThreadPoolExecutor({ label: "threads", maxThreads: 2 })], ${config} }));
${body}
await dfk.cleanup();
`,
  );
  const r = spawnSync(process.execPath, [file], {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return { stderr: r.stderr, status: r.status };
}

const MIXED = `
const ok = tsApp(function ok(x) { return x; }, { cache: true });
const bad = tsApp(function bad() { throw new Error("no"); });
const after = tsApp(function after(x) { return x; });
await Promise.all([ok(1), ok(2), ok(3)]);
await ok(1); // a memo hit
await after(bad()).catch(() => {}); // bad fails, after is a dep_fail
`;

test(
  "a monitored run ends with one line: status, tasks per final state, duration, database path",
  { timeout: 60_000 },
  () => {
    const dir = tempDir();
    const { stderr, status } = run(dir, MIXED, `monitoring: new MonitoringHub({})`);
    assert.equal(status, 0, stderr);
    const lines = stderr.split("\n").filter((l) => l.startsWith("parsl-ts:"));
    assert.equal(lines.length, 1, stderr);
    assert.match(
      lines[0]!,
      new RegExp(
        `^parsl-ts: run ${UUID} failed in \\d+\\.\\d s: 3 exec_done, 1 memo_done, 1 failed, 1 dep_fail · runinfo/monitoring\\.db$`,
      ),
    );
  },
);

test("without monitoring the line has no database; summary: false prints nothing", { timeout: 60_000 }, () => {
  const quiet = `await tsApp(function one() { return 1; })();`;
  const plain = run(tempDir(), quiet, "");
  assert.match(plain.stderr, new RegExp(`^parsl-ts: run ${UUID} completed in \\d+\\.\\d s: 1 exec_done$`, "m"));
  assert.doesNotMatch(plain.stderr, /·/);
  const off = run(tempDir(), quiet, "summary: false, monitoring: new MonitoringHub({})");
  assert.equal(off.status, 0);
  assert.equal(off.stderr, "");
});

test(
  "parsl.log and database_manager.log stamp lines alike: local time with its UTC offset",
  { timeout: 60_000 },
  () => {
    assert.match(logTimestamp(new Date()), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$/);
    const dir = tempDir();
    const before = Date.now();
    // A zone with a half-hour offset and no daylight saving: UTC stamps would not match it.
    const { stderr, status } = run(
      dir,
      `await tsApp(function one() { return 1; })();`,
      `monitoring: new MonitoringHub({})`,
      { TZ: "Asia/Kolkata" },
    );
    const after = Date.now();
    assert.equal(status, 0, stderr);
    const runDir = path.join(dir, "runinfo", "000");
    for (const name of ["parsl.log", "database_manager.log"]) {
      const lines = fs.readFileSync(path.join(runDir, name), "utf8").trim().split("\n");
      assert.ok(lines.length > 0, name);
      for (const line of lines) {
        const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3})(\+05:30) /.exec(line);
        assert.ok(m, `${name}: ${line}`);
        const t = Date.parse(`${m[1]}T${m[2]}${m[3]}`);
        assert.ok(t >= before - 1000 && t <= after + 1000, `${name}: ${line} lies within the run`);
      }
    }
  },
);

test("a script that exits before cleanup still prints the line, from the exit handler", { timeout: 60_000 }, () => {
  const { stderr, status } = run(
    tempDir(),
    `
const quick = tsApp(function quick(x) { return x; });
const slow = tsApp(async function slow() { await new Promise((r) => setTimeout(r, 60000)); });
await Promise.all([quick(1), quick(2)]);
slow();
await new Promise((r) => setTimeout(r, 200));
process.exit(3);
`,
    `monitoring: new MonitoringHub({})`,
  );
  assert.equal(status, 3, stderr);
  assert.match(
    stderr,
    new RegExp(
      `^parsl-ts: run ${UUID} interrupted in \\d+\\.\\d s: 2 exec_done, 1 cancelled · runinfo/monitoring\\.db$`,
      "m",
    ),
  );
  assert.equal(stderr.split("\n").filter((l) => l.startsWith("parsl-ts:")).length, 1);
});
