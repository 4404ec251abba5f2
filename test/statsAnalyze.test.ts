/**
 * `parsl-ts stats` and `parsl-ts analyze`: the query functions on the Python Parsl fixture (values
 * from test/fixtures/parsl-mixed/README.md) in both dialects and in Python Parsl's own PostgreSQL
 * schema, on real parsl-ts runs with a failure cascade and a retried app, and the real CLI (exit
 * statuses, formats, usage errors).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import test, { describe, before, after } from "node:test";
import { fileURLToPath } from "node:url";
import { openMonitoringDb, type MonitoringDb } from "../src/database/queries/index.js";
import { compareStats, REGRESSION_RULE, type RunStats, type StatsGroup } from "../src/database/queries/stats.js";
import { naiveToMs } from "../src/database/queries/time.js";
import { connect } from "../src/database/connection.js";
import { sql } from "../src/database/sql.js";
import { DIALECTS, testDatabase } from "./databases.js";
import { loadMonitored, tempDir } from "./helpers.js";
import { copyFixture, RUN1, RUN2, RUN3, servedDatabase, type ServedDatabase } from "./visualizer-helpers.js";
import { brokenStep, consume, retriedStep, work } from "./fixtures/statsApps.js";

const CLI = fileURLToPath(new URL("../src/cli/parsl-ts.cjs", import.meta.url));

function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "",
      err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out, err }));
  });
}

const group = (s: RunStats, key: string | null): StatsGroup => {
  const g = s.groups.find((x) => x.key === key);
  assert.ok(g, `group ${key} in ${s.groups.map((x) => x.key).join(",")}`);
  return g;
};

/** Nearest-rank percentile, written out again here so the test does not reuse the code it checks. */
function nearestRank(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.ceil(q * s.length) - 1]!;
}

for (const dialect of [...DIALECTS, "postgresql-parsl" as const])
  describe(`stats and analyze on the Python Parsl fixture (${dialect})`, () => {
    let served: ServedDatabase;
    let db: MonitoringDb;
    before(async () => {
      served = await servedDatabase(dialect, copyFixture(tempDir()));
      db = await openMonitoringDb(served.endpoint);
    });
    after(async () => {
      await db?.close();
    });

    test("run 1: tasks and tries per outcome, run time and badput, per app", async () => {
      const s = await db.runStats(RUN1);
      assert.deepEqual(s.tasks, {
        total: 173,
        succeeded: 154,
        failed: 12,
        dep_fail: 5,
        memo: 2,
        unfinished: 0,
        retried: 13,
      });
      // 199 try rows less the 5 bookkeeping rows of dep_fail tasks; failed tries = Σ task_fail_count of the others (README).
      assert.deepEqual(s.tries, { total: 194, succeeded: 154, failed: 38, memo: 2, unfinished: 0, retries: 26 });
      assert.equal(s.sample_step, 1);
      assert.equal(s.run.status, "failed");
      assert.ok(Math.abs(s.wall_time_s! - 16.275943) < 1e-3, String(s.wall_time_s));
      // Cumulative run time and badput from the try rows, summed here independently.
      const rows = await served.exec(
        `SELECT y.task_id, y.try_id, CAST(y.task_try_time_running AS TEXT) AS r, CAST(y.task_try_time_returned AS TEXT) AS e,
        t.task_fail_count AS fc, t.task_func_name AS app
      FROM try y JOIN task t ON t.task_id = y.task_id AND t.run_id = y.run_id WHERE y.run_id = ? AND y.task_try_time_running IS NOT NULL`,
        RUN1,
      );
      assert.equal(
        rows.length,
        189,
        "tries that ran: 199 rows less 5 dep_fail rows and 5 memo rows (167, 169, 172 ×3)",
      );
      const dur = (r: Record<string, unknown>): number =>
        (naiveToMs(String(r["e"]))! - naiveToMs(String(r["r"]))!) / 1000;
      const total = rows.reduce((a, r) => a + dur(r), 0);
      const bad = rows.filter((r) => Number(r["try_id"]) < Number(r["fc"])).reduce((a, r) => a + dur(r), 0);
      assert.ok(Math.abs(s.cumulative_run_s - total) < 1e-6 && total > 10, `${s.cumulative_run_s} vs ${total}`);
      assert.ok(Math.abs(s.badput_s - bad) < 1e-6 && bad > 0.5, `${s.badput_s} vs ${bad}`);
      // Per app: always_fail is tasks 118-120, 125, 165, three failed tries each; burn's peak memory is task 1's (README).
      const af = group(s, "always_fail");
      assert.deepEqual([af.tasks, af.tries, af.failed_tries, af.timed_tries], [5, 15, 15, 15]);
      const burn = group(s, "burn");
      assert.equal(burn.peak_rss_bytes, 227688448);
      const burnTimes = rows.filter((r) => r["app"] === "burn").map(dur);
      assert.equal(burnTimes.length, 4);
      assert.ok(Math.abs(burn.run_time.p50_s! - nearestRank(burnTimes, 0.5)) < 1e-9);
      assert.ok(Math.abs(burn.run_time.p95_s! - nearestRank(burnTimes, 0.95)) < 1e-9);
      assert.ok(Math.abs(burn.run_time.max_s! - Math.max(...burnTimes)) < 1e-9);
      assert.ok(
        burn.run_time.min_s! < burn.run_time.p50_s! && burn.cpu_max_s! >= 3.57 + 0.21 - 1e-9,
        JSON.stringify(burn),
      );
      // chain_step: 5 tasks (126-128 dep_fail, 133, 134 ok): 2 tries. The thread pool records no resources.
      assert.deepEqual([group(s, "chain_step").tasks, group(s, "chain_step").tries], [5, 2]);
      assert.equal(group(s, "add_threads").peak_rss_bytes, null);
      assert.equal(
        s.groups.reduce((a, g) => a + g.tasks, 0),
        173,
      );
    });

    test("runs 2 and 3: memo hits, unfinished tasks of the crashed run; --by host / executor / hour", async () => {
      const s2 = await db.runStats(RUN2);
      assert.deepEqual(s2.tasks, {
        total: 16,
        succeeded: 9,
        failed: 2,
        dep_fail: 0,
        memo: 5,
        unfinished: 0,
        retried: 2,
      });
      assert.equal(s2.tries.memo, 5);
      const s3 = await db.runStats(RUN3, { by: "executor" });
      assert.deepEqual(s3.tasks, {
        total: 12,
        succeeded: 5,
        failed: 1,
        dep_fail: 0,
        memo: 0,
        unfinished: 6,
        retried: 1,
      });
      // Tasks 6, 7, 9 running and 8 launched when the run was killed; 10 and 11 never got a try.
      assert.equal(s3.tries.unfinished, 4);
      assert.deepEqual(s3.groups.map((g) => g.key).sort(), ["htex", "threads"]);
      assert.equal(group(s3, "threads").failed_tries, 3);
      const byHour = await db.runStats(RUN1, { by: "hour" });
      assert.deepEqual(
        byHour.groups.map((g) => g.key),
        ["2026-11-24 21:00", null],
        "memo hits and dep_fail tries never started",
      );
      const byBlock = await db.runStats(RUN1, { by: "block" });
      assert.ok(byBlock.groups.some((g) => g.key === "htex/0"));
    });

    test("compare run 1 with run 2 and a summary of every run", async () => {
      const c = await db.compareRuns(RUN1, RUN2);
      const cs = c.apps.find((a) => a.app === "cached_square")!;
      assert.deepEqual(cs.tasks, [5, 7]);
      const burn = c.apps.find((a) => a.app === "burn")!;
      assert.deepEqual(burn.tasks, [4, 0]);
      assert.deepEqual(burn.regressions, [], "an app absent from the other run is not a regression");
      const all = await db.statsOfRuns();
      assert.deepEqual(
        all.map((s) => s.run.run_id),
        [RUN3, RUN2, RUN1],
      );
      assert.deepEqual(
        (await db.statsOfRuns({ workflow: "fixture-mixed", limit: 1 })).map((s) => s.run.run_id),
        [RUN2],
      );
    });

    test("analyze run 1: 12 root failures, dep_fail cascades under 125 and 130, evidence per try", async () => {
      const a = await db.analyzeRun(RUN1, { limit: 3 });
      assert.equal(a.roots_total, 12);
      assert.equal(a.unexplained_dep_fail.count, 0);
      assert.deepEqual(
        a.failures.map((f) => [f.task_id, f.dependents.count]),
        [
          [125, 3],
          [130, 2],
          [115, 0],
        ],
      );
      assert.deepEqual(a.failures[0]!.dependents.apps, [{ app: "chain_step", count: 3 }]);
      assert.deepEqual(a.failures[0]!.dependents.first_ids, [126, 127, 128]);
      assert.deepEqual(a.failures[1]!.dependents.apps, [{ app: "combine2", count: 2 }]);
      const bash = a.failures[2]!;
      assert.equal(bash.app, "bash_fail");
      assert.equal(bash.tries_total, 3);
      assert.deepEqual(
        bash.tries.map((t) => [t.try_id, t.host, t.block_id, t.job_id, t.exit_code, t.error_type, t.error, t.failed]),
        [0, 1, 2].map((i) => [i, "vm", "0", "29493", 3, "BashExitFailure", "BashExitFailure('bash_fail', 3)", true]),
      );
      // Only a bash app's failure carries an exit code.
      assert.deepEqual(
        a.failures[0]!.tries.map((t) => t.exit_code),
        [null, null, null],
      );
      assert.match(bash.stderr!, /task_0115_bash_fail\.stderr$/);
      // always_fail: 118-120, 125, 165 (README); the others one kind each.
      assert.deepEqual(
        a.kinds.find((k) => k.app === "always_fail"),
        { app: "always_fail", error_type: "ValueError", count: 5 },
      );
      assert.equal(
        a.kinds.reduce((x, k) => x + k.count, 0),
        12,
      );
      assert.deepEqual(
        a.kinds.find((k) => k.app === "join_inner_fails"),
        { app: "join_inner_fails", error_type: "JoinError", count: 1 },
      );
    });
  });

for (const dialect of [...DIALECTS, "postgresql-parsl" as const])
  test(`exit_code on the Python Parsl fixture: read from BashExitFailure, filterable, never an error (${dialect})`, async () => {
    const served = await servedDatabase(dialect, copyFixture(tempDir()));
    const db = await openMonitoringDb(served.endpoint);
    try {
      const rows = async (filter: string): Promise<unknown[][]> => {
        const out: unknown[][] = [];
        for await (const page of db.taskPages({
          runId: RUN1,
          tries: true,
          fields: ["task_id", "try_id", "exit_code"],
          filter,
        }))
          for (const r of page) out.push([r["task_id"], r["try_id"], r["exit_code"]]);
        return out;
      };
      assert.deepEqual(await rows("exit_code = 3"), [
        [115, 0, 3],
        [115, 1, 3],
        [115, 2, 3],
      ]);
      assert.deepEqual(await rows("exit_code != 3"), []);
      // Every other try, failed or not, has none: 199 tries in run 1 (README), 3 of them bash_fail's.
      assert.equal((await rows("exit_code = null")).length, 196);
    } finally {
      await db.close();
    }
  });

for (const dialect of DIALECTS)
  test(`integerOrNull reads exactly an integer and nothing else (${dialect})`, async () => {
    const tdb = await testDatabase(dialect);
    const conn = await connect(tdb.endpoint);
    try {
      const cases: [string, number | null][] = [
        ["3", 3],
        ["-9", -9],
        ["137", 137],
        ["3x", null],
        [" 3", null],
        ["x", null],
        ["", null],
        ["1.5", null],
      ];
      for (const [text, expected] of cases) {
        const row = await conn.first<{ n: unknown }>(
          // CAST: a bare parameter in CAST(… AS INTEGER) would be typed integer by PostgreSQL itself.
          sql`SELECT ${conn.dialect.integerOrNull(sql`CAST(${text} AS TEXT)`)} AS n`,
        );
        assert.equal(row?.n === null || row?.n === undefined ? null : Number(row.n), expected, JSON.stringify(text));
      }
    } finally {
      await conn.close();
    }
  });

for (const dialect of DIALECTS)
  describe(`stats and analyze on a parsl-ts run with a failure cascade (${dialect})`, () => {
    let endpoint = "";
    let failing = "";
    let clean = "";
    let cleanEndpoint = "";
    let brokenId = -1;
    before(async () => {
      const runDir = path.join(tempDir(), "runinfo");
      const run = await loadMonitored({ retries: 2, runDir }, { resourceMonitoringInterval: 0 }, dialect);
      endpoint = run.db.endpoint;
      try {
        const broken = brokenStep.with({ stderr: path.join(runDir, "..", "broken.err") })("part-7");
        brokenId = broken.taskId;
        // A cascade: 3 direct dependents, each with 10 of its own, and a fan-in over all of them.
        const level1 = [0, 1, 2].map((i) => consume(broken, i));
        const level2 = level1.flatMap((f) => Array.from({ length: 10 }, (_, j) => consume(f, j)));
        const fanIn = consume(...level2);
        const retried = retriedStep();
        const ok = Array.from({ length: 20 }, (_, i) => work(i));
        await Promise.allSettled([broken, ...level1, ...level2, fanIn, retried, ...ok]);
        failing = run.dfk.runId;
      } finally {
        await run.dfk.cleanup();
      }
      // A run where nothing fails (SQLite: in the same database, the latest run there; PostgreSQL: a fresh database).
      const run2 = await loadMonitored({ runDir }, { resourceMonitoringInterval: 0 }, dialect);
      try {
        await Promise.all([work(1), work(2)]);
        clean = run2.dfk.runId;
        cleanEndpoint = run2.db.endpoint;
      } finally {
        await run2.dfk.cleanup();
      }
    });

    test("stats: the failed app's tries, the retried app, dep_fail tasks", async () => {
      const db = await openMonitoringDb(endpoint);
      try {
        const s = await db.runStats(failing);
        assert.deepEqual(s.tasks, {
          total: 56,
          succeeded: 21,
          failed: 1,
          dep_fail: 34,
          memo: 0,
          unfinished: 0,
          retried: 2,
        });
        assert.deepEqual([s.tries.total, s.tries.failed, s.tries.succeeded, s.tries.retries], [26, 5, 21, 4]);
        const b = group(s, "brokenStep");
        assert.deepEqual([b.tasks, b.tries, b.failed_tries], [1, 3, 3]);
        const r = group(s, "retriedStep");
        assert.deepEqual([r.tasks, r.tries, r.failed_tries], [1, 3, 2]);
        assert.equal(group(s, "consume").tasks, 34);
        assert.ok(s.badput_s > 0 && s.badput_s <= s.cumulative_run_s);
      } finally {
        await db.close();
      }
    });

    test("analyze: one root with its whole cascade, the try evidence, exit statuses through the CLI", async () => {
      const db = await openMonitoringDb(endpoint);
      try {
        const a = await db.analyzeRun(failing);
        assert.equal(a.roots_total, 1);
        const f = a.failures[0]!;
        assert.equal(f.task_id, brokenId);
        assert.deepEqual(f.dependents.apps, [{ app: "consume", count: 34 }], "3 + 30 + the fan-in: one entry");
        assert.equal(f.args, "['part-7']");
        assert.equal(f.tries.length, 3);
        for (const t of f.tries) {
          assert.equal(t.exit_code, 4);
          assert.equal(t.failed, true);
          assert.match(t.stderr_tail ?? "", /disk full while writing part-7/);
          assert.ok(t.error_type !== null && t.host !== null, JSON.stringify(t));
        }
      } finally {
        await db.close();
      }
      const text = await cli(["analyze", failing.slice(0, 12), "--db", endpoint]);
      assert.equal(text.code, 1, text.err);
      assert.match(text.out, /1 root failure \(failed tasks\); 34 dep_fail tasks under them/);
      assert.match(text.out, /34 dependent tasks failed with it \(dep_fail\): consume ×34/);
      assert.match(text.out, /exit 4/);
      assert.match(text.out, /\| disk full while writing part-7/);
      assert.equal(text.out.split("\n").filter((l) => l.startsWith("[")).length, 1, "one entry, not 35");
      const ok = await cli(["analyze", "--db", cleanEndpoint]);
      assert.equal(ok.code, 0, ok.out + ok.err);
      assert.match(ok.out, new RegExp(`^run {7}${clean}`));
      assert.match(ok.out, /no task failed/);
      const json = await cli(["analyze", failing, "--db", endpoint, "--format", "json"]);
      assert.equal(json.code, 1);
      assert.equal(JSON.parse(json.out).failures[0].dependents.count, 34);
      const st = await cli(["stats", failing, "--db", endpoint, "--format", "csv"]);
      assert.equal(st.code, 0, st.err);
      assert.equal(
        st.out.split("\r\n")[0],
        "app,tasks,tries,failed_tries,min_s,mean_s,p50_s,p95_s,max_s,total_s,peak_rss_bytes,cpu_max_s",
      );
      assert.match(st.out, /\r\nbrokenStep,1,3,3,/);
    });
  });

test("parsl-ts stats / analyze CLI on the fixture: table, json, --compare, --all, usage and run errors", async () => {
  const file = copyFixture(tempDir());
  const t = await cli(["stats", RUN1.slice(0, 8), "--db", file]);
  assert.equal(t.code, 0, t.err);
  assert.match(t.out, /^tasks +173 +154 +12 +5 +2 +0 +13$/m);
  assert.match(t.out, /^tries +194 +154 +38 +2 +0 +26 retries$/m);
  assert.match(t.out, /^always_fail +5 +15 +15 /m);
  const j = JSON.parse((await cli(["stats", RUN3, "--db", file, "--format", "json", "--by", "host"])).out);
  assert.equal(j.tasks.unfinished, 6);
  assert.equal(j.by, "host");
  const cmp = await cli(["stats", RUN1, "--compare", RUN2, "--db", file]);
  assert.equal(cmp.code, 0, cmp.err);
  assert.match(cmp.out, /^cached_square +5 → 7 /m);
  assert.match(cmp.out, /regression: p50 or p95 run time \+20% and \+0.5 s/);
  const all = await cli(["stats", "--all", "--db", file, "--format", "tsv"]);
  assert.deepEqual(
    all.out
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => l.split("\t")[0]),
    [RUN3, RUN2, RUN1],
  );
  const a = await cli(["analyze", RUN1, "--db", file, "--limit", "2"]);
  assert.equal(a.code, 1, "run 1 failed");
  assert.match(a.out, /^\[1\] task 125 +always_fail +failed after 3 tries$/m);
  assert.match(a.out, /… and 10 more root failures/);
  // The failure kinds line up in columns: the error type starts at the same place on every line.
  const kinds = a.out.split("failed tasks by app and error type:\n")[1]!.split("\n\n")[0]!.split("\n");
  assert.equal(kinds.length, 6);
  assert.match(kinds[0]!, /^ +5 {2}always_fail {10}ValueError$/);
  assert.equal(new Set(kinds.map((l) => l.search(/\S+$/))).size, 1, kinds.join("\n"));
  const csv = await cli(["analyze", RUN1, "--db", file, "--format", "csv", "--limit", "1"]);
  assert.equal(
    csv.out.split("\r\n")[1],
    "125,always_fail,3,3,chain_step:3,vm,29493,,ValueError,ValueError('boom-chain'),0.043719",
  );
  for (const [args, code, msg] of [
    [["stats", "--by", "weekday", "--db", file], 2, /--by must be one of app, host, block, executor, hour/],
    [["stats", "--all", RUN1, "--db", file], 2, /--all summarises many runs/],
    [["analyze", "--limit", "-1", "--db", file], 2, /--limit must be a non-negative integer/],
    [["analyze", "nope", "--db", file], 1, /no run has an id starting with "nope"/],
    [["stats", "--db", path.join(tempDir(), "absent.db")], 1, /does not exist/],
  ] as const) {
    const r = await cli([...args]);
    assert.equal(r.code, code, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, msg);
  }
});

test("compareStats flags regressions by the stated rule only", () => {
  const g = (key: string, p50: number, p95: number, rss: number, tries = 10, failed = 0): StatsGroup => ({
    key,
    tasks: 10,
    tries,
    failed_tries: failed,
    timed_tries: tries,
    run_time: { min_s: p50, mean_s: p50, p50_s: p50, p95_s: p95, max_s: p95, total_s: p50 * tries },
    peak_rss_bytes: rss,
    cpu_max_s: null,
  });
  const stats = (groups: StatsGroup[]): RunStats => ({ groups }) as unknown as RunStats;
  const MiB = 1024 ** 2;
  const c = compareStats(
    stats([
      g("small", 1.0, 1.0, 100 * MiB),
      g("slow", 2.0, 2.0, 100 * MiB),
      g("nearly", 10, 10, 100 * MiB),
      g("fat", 1, 1, 100 * MiB),
      g("flaky", 1, 1, MiB, 100, 1),
    ]),
    stats([
      g("small", 1.3, 1.3, 100 * MiB),
      g("slow", 2.6, 2.0, 100 * MiB),
      g("nearly", 11.9, 11.9, 100 * MiB),
      g("fat", 1, 1, 200 * MiB),
      g("flaky", 1, 1, MiB, 100, 7),
    ]),
  );
  const flags = Object.fromEntries(c.apps.map((a) => [a.app, a.regressions]));
  assert.deepEqual(flags, {
    small: [],
    slow: ["p50 run time"],
    nearly: [],
    fat: ["peak memory"],
    flaky: ["failed tries"],
  });
  assert.equal(REGRESSION_RULE.timeRatio, 0.2);
});

for (const dialect of DIALECTS)
  test(`stats on a run past the sampling threshold: clustered sample close to the exact figures (${dialect})`, async () => {
    const { createSyntheticDb } = await import("../bench/visualizer.js");
    const file = path.join(tempDir(), "monitoring.db");
    const runId = createSyntheticDb(file, { tasks: 30_000 });
    const served = await servedDatabase(dialect, file);
    const exactDb = await openMonitoringDb(served.endpoint, { sampleTasks: 100_000 });
    const sampledDb = await openMonitoringDb(served.endpoint, { sampleTasks: 1_000 });
    try {
      const exact = await exactDb.runStats(runId);
      const s = await sampledDb.runStats(runId);
      assert.equal(exact.sample_step, 1);
      // 20,000 ids read; tasks without a launched try (dep_fail) are not counted among them.
      assert.ok(
        s.sample_step === 1.5 && s.sampled_tasks > 19_500 && s.sampled_tasks <= 20_000,
        `${s.sample_step} ${s.sampled_tasks}`,
      );
      assert.deepEqual(s.tasks.total, exact.tasks.total, "task counts stay exact");
      assert.equal(s.tasks.failed, exact.tasks.failed);
      const near = (a: number, b: number, tol: number, what: string): void =>
        assert.ok(Math.abs(a - b) <= tol * b, `${what}: ${a} vs ${b}`);
      near(s.tries.total, exact.tries.total, 0.02, "tries");
      near(s.cumulative_run_s, exact.cumulative_run_s, 0.03, "cumulative run time");
      for (const g of exact.groups) {
        const x = s.groups.find((y) => y.key === g.key)!;
        near(x.run_time.p50_s!, g.run_time.p50_s!, 0.05, `${g.key} p50`);
        near(x.run_time.p95_s!, g.run_time.p95_s!, 0.05, `${g.key} p95`);
      }
    } finally {
      await exactDb.close();
      await sampledDb.close();
    }
  });
