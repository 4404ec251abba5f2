/** What the kernel records in the monitoring database (spec §2, §3.2, §9), on real SQLite files. */
import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { AUTO_LOGNAME, File, InProcessExecutor, bashApp, joinApp, tsApp, type AppFuture } from "../src/index.js";
import { DIALECTS } from "./databases.js";
import {
  PARSL_TIME,
  count,
  dbCount,
  dbRows,
  dbStatusSequence,
  loadMonitored,
  sleep,
  tempDir,
  waitFor,
  type MonitoredRun,
} from "./helpers.js";

const ok5 = tsApp(function thisApp() {
  return 5;
});
const boom = tsApp(function boom(): number {
  throw new Error("boom");
});
const inc = tsApp(function inc(x: number) {
  return x + 1;
});
const cached = tsApp(
  function cachedSquare(x: number) {
    return x * x;
  },
  { cache: true },
);
const cachedFail = tsApp(
  function cachedFail(_x: number): number {
    throw new Error("boom");
  },
  { cache: true },
);
const failOnce = tsApp(function failOnce(this: { tryId: number }) {
  if (this.tryId === 0) throw new Error("first try fails");
  return "ok";
});

async function settle(f: AppFuture<unknown>): Promise<void> {
  await f.then(
    () => undefined,
    () => undefined,
  );
}

// Also through PgBouncer (transaction pooling): the writer keeps no session state between transactions.
for (const dialect of [...DIALECTS, "pgbouncer"] as const)
  describe(`status sequences on a thread pool (retries = 2) (${dialect})`, () => {
    let run: MonitoredRun;
    const ids: Record<string, number> = {};
    before(async () => {
      run = await loadMonitored({ retries: 2 }, undefined, dialect);
      const simple = ok5();
      ids.simple = simple.taskId;
      await simple;
      const failing = boom();
      ids.failing = failing.taskId;
      await settle(failing);
      const once = failOnce();
      ids.once = once.taskId;
      await once;
      const root = boom();
      ids.root = root.taskId;
      const child = inc(root);
      ids.child = child.taskId;
      await settle(child);
      const first = cached(4);
      ids.memoFirst = first.taskId;
      await first;
      const hit = cached(4);
      ids.memoHit = hit.taskId;
      await hit;
      const j1 = joinApp(function joinSingle() {
        return ok5();
      })();
      ids.joinSingle = j1.taskId;
      await j1;
      const jl = joinApp(function joinList() {
        return [ok5(), ok5()];
      })();
      ids.joinList = jl.taskId;
      await jl;
      const jf = joinApp(function joinInnerFails() {
        return boom();
      })();
      ids.joinFail = jf.taskId;
      await settle(jf);
      await run.dfk.cleanup();
    });

    const seq = (name: string) => dbStatusSequence(run.db, run.dfk.runId, ids[name]!);
    const task = async (name: string) =>
      (await dbRows(run.db, "SELECT * FROM task WHERE run_id = ? AND task_id = ?", run.dfk.runId, ids[name]!))[0]!;
    const tries = (name: string) =>
      dbRows(run.db, "SELECT * FROM try WHERE run_id = ? AND task_id = ? ORDER BY try_id", run.dfk.runId, ids[name]!);

    test("simple success: pending launched running running_ended exec_done, causally ordered", async () => {
      assert.deepEqual(await seq("simple"), [
        "pending(0)",
        "launched(0)",
        "running(0)",
        "running_ended(0)",
        "exec_done(0)",
      ]);
      const [t] = await tries("simple");
      assert.ok(t!.task_try_time_launched! < t!.task_try_time_running!, "launched is never after running");
    });

    test("failure with retries=2: three full tries, cumulative fail count and cost", async () => {
      const one = (i: number, last: string) => [
        `pending(${i})`,
        `launched(${i})`,
        `running(${i})`,
        `running_ended(${i})`,
        `${last}(${i})`,
      ];
      assert.deepEqual(await seq("failing"), [
        ...one(0, "fail_retryable"),
        ...one(1, "fail_retryable"),
        ...one(2, "failed"),
      ]);
      const t = await task("failing");
      assert.equal(t.task_fail_count, 3);
      assert.equal(t.task_fail_cost, 3);
      const ts = await tries("failing");
      assert.equal(ts.length, 3);
      for (const x of ts) assert.equal(x.task_fail_history, "Error('boom')");
    });

    test("fails once then succeeds", async () => {
      assert.deepEqual(await seq("once"), [
        "pending(0)",
        "launched(0)",
        "running(0)",
        "running_ended(0)",
        "fail_retryable(0)",
        "pending(1)",
        "launched(1)",
        "running(1)",
        "running_ended(1)",
        "exec_done(1)",
      ]);
      assert.equal((await task("once")).task_fail_count, 1);
      assert.equal((await task("once")).task_fail_cost, 1);
      assert.equal((await tries("once"))[1]!.task_fail_history, "");
    });

    test("dependency failed: pending dep_fail, one try with no launch", async () => {
      assert.deepEqual(await seq("child"), ["pending(0)", "dep_fail(0)"]);
      const t = await task("child");
      assert.equal(t.task_fail_count, 1);
      assert.equal(t.task_fail_cost, 1);
      assert.equal(t.task_depends, String(ids.root));
      const [x] = await tries("child");
      assert.equal(x!.task_try_time_launched, null);
      assert.equal(x!.task_try_time_running, null);
      assert.equal(x!.hostname, null);
      assert.match(String(x!.task_try_time_returned), PARSL_TIME);
      assert.equal(x!.task_fail_history, `DependencyError([(Error('boom'), 'task ${ids.root}')], ${ids.child})`);
    });

    test("memo hit: pending memo_done, same hashsum, try launched but never running", async () => {
      assert.deepEqual(await seq("memoHit"), ["pending(0)", "memo_done(0)"]);
      assert.match(String((await task("memoFirst")).task_hashsum), /^[0-9a-f]{32}$/);
      assert.equal((await task("memoHit")).task_hashsum, (await task("memoFirst")).task_hashsum);
      const [x] = await tries("memoHit");
      assert.match(String(x!.task_try_time_launched), PARSL_TIME);
      assert.equal(x!.task_try_time_running, null);
      assert.equal((await task("memoHit")).task_memoize, "1");
      assert.equal((await task("simple")).task_memoize, "0");
    });

    test("join apps: joining then exec_done with task_joins; inner failure → failed with JoinError, cost 0", async () => {
      const outer = ["pending(0)", "launched(0)", "running(0)", "running_ended(0)", "joining(0)"];
      assert.deepEqual(await seq("joinSingle"), [...outer, "exec_done(0)"]);
      assert.equal((await tries("joinSingle"))[0]!.task_executor, "_parsl_internal");
      assert.match(String((await tries("joinSingle"))[0]!.task_joins), /^\d+$/);
      assert.match(String((await tries("joinList"))[0]!.task_joins), /^\d+,\d+$/);
      assert.deepEqual(await seq("joinFail"), [...outer, "failed(0)"]);
      const t = await task("joinFail");
      assert.equal(t.task_fail_count, 1);
      assert.equal(t.task_fail_cost, 0);
      const inner = Number((await tries("joinFail"))[0]!.task_joins);
      assert.equal(
        (await tries("joinFail"))[0]!.task_fail_history,
        `JoinError([(Error('boom'), 'task ${inner}')], ${ids.joinFail})`,
      );
    });

    test("every timestamp is Parsl's text format with microseconds, and every task's rows are causally ordered", async () => {
      const all = await dbRows<{ task_id: number; timestamp: string }>(
        run.db,
        `SELECT task_id, timestamp FROM status WHERE run_id = ? ORDER BY task_id, ${dialect === "sqlite" ? "rowid" : "timestamp"}`,
        run.dfk.runId,
      );
      assert.ok(all.length > 40);
      let prev: { task_id: number; timestamp: string } | null = null;
      for (const r of all) {
        assert.match(r.timestamp, PARSL_TIME);
        if (prev && prev.task_id === r.task_id)
          assert.ok(prev.timestamp < r.timestamp, `task ${r.task_id}: ${prev.timestamp} !< ${r.timestamp}`);
        prev = r;
      }
    });

    test("workflow counts: exec_done and failed only; run status failed; times set", async () => {
      const w = (await dbRows(run.db, "SELECT * FROM workflow WHERE run_id = ?", run.dfk.runId))[0]!;
      const c = run.dfk.finalCounts;
      assert.equal(w.tasks_completed_count, c.exec_done);
      assert.equal(w.tasks_failed_count, c.failed);
      assert.equal(w.run_status, "failed");
      assert.match(String(w.time_began), PARSL_TIME);
      assert.match(String(w.time_completed), PARSL_TIME);
      assert.equal(w.rundir, run.dfk.runDir);
      assert.match(String(w.last_heartbeat), PARSL_TIME);
    });
  });

for (const dialect of DIALECTS)
  describe(`more status sequences (${dialect})`, () => {
    test("retry handler cost 0.5 with retries=2: five tries, fail_count 5, fail_cost 2.5", async () => {
      const run = await loadMonitored({ retries: 2, retryHandler: () => 0.5 }, undefined, dialect);
      const f = boom();
      await settle(f);
      await run.dfk.cleanup();
      const t = (await dbRows(run.db, "SELECT * FROM task WHERE run_id = ?", run.dfk.runId))[0]!;
      assert.equal(t.task_fail_count, 5);
      assert.equal(t.task_fail_cost, 2.5);
      assert.equal(await dbCount(run.db, "SELECT COUNT(*) FROM try WHERE run_id = ?", run.dfk.runId), 5);
    });

    test("memo hit on a failed call, retries=1: pending fail_retryable pending failed, never launched", async () => {
      const run = await loadMonitored({ retries: 1 }, undefined, dialect);
      await settle(cachedFail(1));
      const again = cachedFail(1);
      await settle(again);
      await run.dfk.cleanup();
      assert.deepEqual(await dbStatusSequence(run.db, run.dfk.runId, again.taskId), [
        "pending(0)",
        "fail_retryable(0)",
        "pending(1)",
        "failed(1)",
      ]);
    });

    test("a launch that raises (unknown executor): no launched row, retried, then failed", async () => {
      const run = await loadMonitored({ retries: 1 }, undefined, dialect);
      const f = tsApp(
        function nowhere() {
          return 1;
        },
        { executors: ["missing"] },
      )();
      await settle(f);
      await run.dfk.cleanup();
      assert.deepEqual(await dbStatusSequence(run.db, run.dfk.runId, f.taskId), [
        "pending(0)",
        "fail_retryable(0)",
        "pending(1)",
        "failed(1)",
      ]);
      assert.match(
        String(
          (await dbRows(run.db, "SELECT task_fail_history FROM try WHERE run_id = ? AND try_id = 1", run.dfk.runId))[0]!
            .task_fail_history,
        ),
        /^UnknownExecutorError\(["'].*names executor 'missing'/,
      );
    });

    test("resourceMonitoringEnabled=false: pending launched exec_done, no running time", async () => {
      const run = await loadMonitored({}, { resourceMonitoringEnabled: false }, dialect);
      const f = ok5();
      await f;
      await run.dfk.cleanup();
      assert.deepEqual(await dbStatusSequence(run.db, run.dfk.runId, f.taskId), [
        "pending(0)",
        "launched(0)",
        "exec_done(0)",
      ]);
      assert.equal(
        (await dbRows(run.db, "SELECT task_try_time_running FROM try WHERE run_id = ?", run.dfk.runId))[0]!
          .task_try_time_running,
        null,
      );
    });
  });

for (const dialect of DIALECTS)
  describe(`Parsl's monitoring tests, translated (${dialect})`, () => {
    test("test_row_counts_base (threads, interval 0): one workflow, task and try; running time recorded; no resource rows", async () => {
      const run = await loadMonitored({}, { resourceMonitoringInterval: 0 }, dialect);
      assert.equal(await ok5(), 5);
      await run.dfk.cleanup();
      const q = (sql: string) => dbCount(run.db, sql);
      assert.equal(await q("SELECT COUNT(*) FROM workflow"), 1);
      assert.equal(await q("SELECT COUNT(*) FROM task"), 1);
      assert.equal(await q("SELECT COUNT(*) FROM try"), 1);
      assert.equal(
        await q(
          "SELECT COUNT(*) FROM status, try WHERE status.task_id = try.task_id AND status.task_status_name='exec_done' AND task_try_time_running IS NULL",
        ),
        0,
      );
      assert.equal(
        await q("SELECT COUNT(*) FROM workflow WHERE time_began IS NOT NULL AND time_completed IS NOT NULL"),
        1,
      );
      assert.equal(await q("SELECT COUNT(*) FROM resource"), 0);
      assert.equal(await q("SELECT COUNT(*) FROM workflow WHERE run_status = 'completed'"), 1);
    });

    for (const [label, make, expected] of [
      [
        "regular_decorated_app",
        () =>
          tsApp(function regular_decorated_app() {
            return 1;
          }),
        "regular_decorated_app",
      ],
      [
        "for_decoration_later",
        () => {
          function for_decoration_later() {
            return 1;
          }
          return tsApp(for_decoration_later);
        },
        "for_decoration_later",
      ],
      [
        "decorated_closure",
        () => {
          const y = 1;
          return tsApp(
            function decorated_closure() {
              return y;
            },
            { executors: ["local"] },
          );
        },
        "decorated_closure",
      ],
    ] as const) {
      test(`test_app_name: ${label}`, async () => {
        const run = await loadMonitored({ executors: [new InProcessExecutor({ label: "local" })] }, undefined, dialect);
        await make()();
        await run.dfk.cleanup();
        assert.equal(await dbCount(run.db, "SELECT COUNT(*) FROM workflow"), 1);
        assert.equal(await dbCount(run.db, "SELECT COUNT(*) FROM try"), 1);
        assert.deepEqual(await dbRows(run.db, "SELECT task_func_name FROM task"), [{ task_func_name: expected }]);
      });
    }

    // SQLite's locks: the file's own behaviour.
    if (dialect === "sqlite")
      test("test_db_locks: a reader holding a transaction open does not lose anything", async () => {
        const run = await loadMonitored({}, undefined, dialect);
        await waitFor(() => count(run.dbPath, "SELECT COUNT(*) FROM workflow") === 1, { what: "the workflow row" });
        const reader = new Database(run.dbPath);
        reader.exec("BEGIN TRANSACTION");
        // The read takes the reader's snapshot (and its lock) until COMMIT below.
        assert.equal((reader.prepare("SELECT COUNT(*) AS n FROM workflow").get() as { n: number }).n, 1);
        assert.equal(await ok5(), 5);
        // The writer commits the task's rows while the reader's transaction is open (WAL), not after it.
        await waitFor(() => count(run.dbPath, "SELECT COUNT(*) FROM try") === 1, {
          what: "the try row, committed past the open reader",
        });
        assert.equal(
          (reader.prepare("SELECT COUNT(*) AS n FROM try").get() as { n: number }).n,
          0,
          "the reader still sees its snapshot",
        );
        await run.dfk.cleanup();
        reader.exec("COMMIT");
        reader.close();
        assert.equal(await dbCount(run.db, "SELECT COUNT(*) FROM workflow"), 1);
        assert.equal(await dbCount(run.db, "SELECT COUNT(*) FROM task"), 1);
        assert.equal(await dbCount(run.db, "SELECT COUNT(*) FROM try"), 1);
      });

    if (dialect === "sqlite")
      test("an exclusive lock held by another connection delays writes but loses nothing", async () => {
        const run = await loadMonitored({}, undefined, dialect);
        const locker = new Database(run.dbPath);
        locker.exec("BEGIN EXCLUSIVE");
        const fs = Array.from({ length: 50 }, () => ok5());
        for (const f of fs) await f;
        await sleep(1000);
        locker.exec("COMMIT");
        locker.close();
        await run.dfk.cleanup();
        assert.equal(await dbCount(run.db, "SELECT COUNT(*) FROM task"), 50);
        assert.equal(await dbCount(run.db, "SELECT COUNT(*) FROM status"), 250);
      });

    test("test_future_representation: task_inputs shows resolved inputs", async () => {
      const run = await loadMonitored({}, undefined, dialect);
      let release!: (v: string) => void;
      const token = `tok-${process.pid}`;
      const f = tsApp(function takesInputs(this: { inputs: string[] }) {
        return this.inputs[0];
      }).with({ inputs: [new Promise<string>((r) => (release = r))] })();
      // The task's first row (inputs unresolved) is stored before the input resolves.
      await waitFor(async () => (await dbCount(run.db, "SELECT COUNT(*) FROM task")) === 1, {
        what: "the task's first row",
      });
      assert.equal(f.done(), false);
      release(token);
      assert.equal(await f, token);
      await run.dfk.cleanup();
      assert.deepEqual(await dbRows(run.db, "SELECT task_inputs FROM task"), [{ task_inputs: `['${token}']` }]);
    });

    test("test_log_config: the run dir has database_manager.log and parsl.log", async () => {
      const run = await loadMonitored({}, undefined, dialect);
      await ok5();
      await run.dfk.cleanup();
      assert.ok(fs.existsSync(path.join(run.dfk.runDir, "database_manager.log")));
      assert.ok(fs.existsSync(path.join(run.dfk.runDir, "parsl.log")));
    });

    // Fourteen runs, each checking how the kernel names a stream (text columns): once, on SQLite, is enough.
    if (dialect === "sqlite")
      test("test_stdstream_to_monitoring: task_stdout / task_stderr per stream spec", async () => {
        const dir = tempDir("std-");
        const cases: Array<[unknown, RegExp | string]> = [
          [path.join(dir, "hello.txt"), path.join(dir, "hello.txt")],
          [null, ""],
          [undefined, ""],
          [[path.join(dir, "tuple.txt"), "w"], path.join(dir, "tuple.txt")],
          [AUTO_LOGNAME, /.*\/task_0000_stdapp\.std(out|err)$/],
          [new File(`arbitrary:${dir}/abc123`), `arbitrary:${dir}/abc123`],
          [new File(`file://${dir}/pl5`), `file://${dir}/pl5`],
        ];
        for (const which of ["stdout", "stderr"] as const) {
          for (const [spec, expected] of cases) {
            const run = await loadMonitored({}, undefined, dialect);
            const app = bashApp(function stdapp() {
              return "echo hi";
            });
            await settle(app.with({ [which]: spec })());
            await run.dfk.cleanup();
            const got = String((await dbRows(run.db, `SELECT task_${which} AS v FROM task`))[0]!.v);
            if (expected instanceof RegExp) {
              assert.match(got, expected);
              assert.ok(path.isAbsolute(got));
            } else assert.equal(got, expected, `${which} = ${String(spec)}`);
            assert.equal(await dbCount(run.db, "SELECT COUNT(*) FROM try"), 1);
            assert.doesNotMatch(fs.readFileSync(path.join(run.dfk.runDir, "parsl.log"), "utf8"), / ERROR /);
          }
        }
      });

    test("test_memoization_representation: calls 4, 17, 4, 4 → three equal hashes, 2 exec_done, 2 memo_done", async () => {
      const run = await loadMonitored({}, undefined, dialect);
      for (const x of [4, 17, 4, 4]) await cached(x);
      await run.dfk.cleanup();
      const hs = (await dbRows<{ task_hashsum: string }>(run.db, "SELECT task_hashsum FROM task ORDER BY task_id")).map(
        (r) => r.task_hashsum,
      );
      assert.equal(hs[0], hs[2]);
      assert.equal(hs[0], hs[3]);
      assert.notEqual(hs[0], hs[1]);
      assert.equal(await dbCount(run.db, "SELECT COUNT(*) FROM status WHERE task_status_name = 'exec_done'"), 2);
      assert.equal(await dbCount(run.db, "SELECT COUNT(*) FROM status WHERE task_status_name = 'memo_done'"), 2);
    });

    test("lineage hash: unknown (NULL) below a plain promise, known otherwise", async () => {
      const run = await loadMonitored({}, undefined, dialect);
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const waitFor = tsApp(async function waitForGate(_g: unknown) {
        return 1;
      });
      const a = inc(waitFor(gate));
      const b = inc(waitFor(gate));
      const c = inc(41);
      assert.equal(a.done(), false);
      release();
      await Promise.all([a, b, c]);
      await run.dfk.cleanup();
      const lh = await dbRows<{ task_id: number; task_lineage_hash: string | null }>(
        run.db,
        "SELECT task_id, task_lineage_hash FROM task ORDER BY task_id",
      );
      const byId = new Map(lh.map((r) => [r.task_id, r.task_lineage_hash]));
      // The gate is a plain promise, so the producers have no lineage; the consumers inherit "unknown".
      assert.equal(byId.get(a.taskId), null);
      assert.match(String(byId.get(c.taskId)), /^[0-9a-f]{32}$/);
    });

    test("lineage hash is shared by calls over futures of identical calls", async () => {
      const run = await loadMonitored({}, undefined, dialect);
      const a = inc(inc(1));
      const b = inc(inc(1));
      const c = inc(inc(2));
      await Promise.all([a, b, c]);
      await run.dfk.cleanup();
      const get = async (id: number) =>
        (await dbRows<{ h: string }>(run.db, "SELECT task_lineage_hash AS h FROM task WHERE task_id = ?", id))[0]!.h;
      assert.equal(await get(a.taskId), await get(b.taskId));
      assert.notEqual(await get(a.taskId), await get(c.taskId));
    });
  });

describe("a slow database", () => {
  test("never holds the workflow: tasks finish while the database is locked, and every row is written afterwards", async () => {
    const run = await loadMonitored({}, { resourceMonitoringInterval: 0 });
    await ok5(); // the database exists and the writer is warm
    const locker = new Database(run.dbPath);
    locker.exec("BEGIN EXCLUSIVE");
    const fs_: Array<AppFuture<number>> = [];
    for (let i = 0; i < 500; i++) fs_.push(ok5());
    for (const f of fs_) assert.equal(await f, 5); // all done while the lock is still held
    const journal = path.join(run.dfk.runDir, "monitoring.journal");
    assert.ok(fs.statSync(journal).size > 100_000, "their rows wait in the journal");
    locker.exec("ROLLBACK");
    locker.close();
    await run.dfk.cleanup();
    assert.equal(count(run.dbPath, "SELECT COUNT(*) FROM task"), 501);
    assert.equal(count(run.dbPath, "SELECT COUNT(*) FROM status"), 501 * 5);
    assert.equal(fs.existsSync(journal), false, "the journal is removed once stored");
  });
});
