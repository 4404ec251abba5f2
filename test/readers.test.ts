/**
 * The read layer (src/database/queries/) on both dialects: the change token moves when another
 * session commits, and a reader's connection cannot write.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, type Connection } from "../src/database/connection.js";
import { ReadContext } from "../src/database/queries/context.js";
import { openMonitoringDb } from "../src/database/queries/index.js";
import { ensureSchema } from "../src/database/schemaSetup.js";
import { raw, sql, type Sql } from "../src/database/sql.js";
import { DIALECTS, testDatabase } from "./databases.js";

for (const dialect of DIALECTS) {
  test(`the change token moves when another session commits, and readers cannot write (${dialect})`, async () => {
    const tdb = await testDatabase(dialect);
    const writer = await connect(tdb.endpoint);
    await ensureSchema(writer);
    const reader = await openMonitoringDb(tdb.endpoint);
    try {
      const before = await reader.changeToken();
      assert.match(before, /^v\S+$/);
      await writer.run(sql`INSERT INTO workflow (run_id, time_began, host, ${raw('"user"')}, rundir, tasks_failed_count, tasks_completed_count)
        VALUES (${"r1"}, ${"2026-12-01 10:00:00.000000"}, ${"h"}, ${"u"}, ${"/d"}, ${0}, ${0})`);
      assert.notEqual(await reader.changeToken(), before, "a commit elsewhere moves the token");
      assert.equal((await reader.listWorkflows(0, 10)).total, 1);
      await assert.rejects(
        reader.connection.run(sql`DELETE FROM workflow`),
        dialect === "sqlite" ? /readonly/i : /read-only transaction/,
      );
      assert.equal(await tdb.count(`SELECT COUNT(*) FROM workflow`), 1);
    } finally {
      await reader.close();
      await writer.close();
    }
  });
}

for (const dialect of DIALECTS) {
  test(`a run's task id range includes its tasks without a try, beside bigger runs on either side (${dialect})`, async () => {
    const tdb = await testDatabase(dialect);
    const writer = await connect(tdb.endpoint);
    await ensureSchema(writer);
    // [run, task ids, task ids that have a try]: each run's try range leaves tasks out at both ends,
    // and the runs beside it are bigger, so both ways of finding the ends are taken.
    const runs: [string, [number, number], [number, number]][] = [
      ["big", [0, 299], [0, 289]],
      ["small", [0, 9], [2, 7]],
      ["high", [1000, 1009], [1003, 1006]],
    ];
    for (const [run, [lo, hi], [tlo, thi]] of runs) {
      for (let id = lo; id <= hi; id++) {
        await writer.run(sql`INSERT INTO task (task_id, run_id, task_func_name, task_memoize, task_fail_count, task_fail_cost)
          VALUES (${id}, ${run}, ${"f"}, ${"0"}, ${0}, ${0})`);
        if (id >= tlo && id <= thi)
          await writer.run(
            sql`INSERT INTO try (try_id, task_id, run_id, task_executor) VALUES (${0}, ${id}, ${run}, ${"x"})`,
          );
      }
    }
    const conn = await connect(tdb.endpoint, { readonly: true });
    try {
      const ctx = await ReadContext.open(conn);
      for (const [run, range] of runs) assert.deepEqual(await ctx.taskIdRange(run), range, `run ${run}`);
      assert.equal(await ctx.taskIdRange("none"), null);
    } finally {
      await conn.close();
      await writer.close();
    }
  });
}

/** A real connection that records the text of every statement read through it. */
function recording(conn: Connection): { conn: Connection; texts: string[] } {
  const texts: string[] = [];
  const log = (q: Sql): void => {
    texts.push(q.compile(conn.dialect.placeholder).text);
  };
  const proxy = new Proxy(conn, {
    get(target, key) {
      if (key === "all" || key === "first")
        return (q: Sql) => {
          log(q);
          return key === "all" ? target.all(q) : target.first(q);
        };
      const v: unknown = Reflect.get(target, key);
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { conn: proxy, texts };
}

for (const dialect of DIALECTS) {
  test(`one statement reads the schema; a one-shot reader reads no change token and keeps nothing (${dialect})`, async () => {
    const tdb = await testDatabase(dialect);
    const writer = await connect(tdb.endpoint);
    await ensureSchema(writer);
    const addTask = async (id: number): Promise<void> => {
      await writer.run(sql`INSERT INTO task (task_id, run_id, task_func_name, task_memoize, task_fail_count, task_fail_cost)
        VALUES (${id}, ${"r1"}, ${"f"}, ${"0"}, ${0}, ${0})`);
      await writer.run(
        sql`INSERT INTO try (try_id, task_id, run_id, task_executor) VALUES (${0}, ${id}, ${"r1"}, ${"x"})`,
      );
    };
    for (const id of [0, 1, 2]) await addTask(id);
    const real = await connect(tdb.endpoint, { readonly: true });
    const { conn, texts } = recording(real);
    const token = conn.dialect.changeToken().compile(conn.dialect.placeholder).text;
    const tokenReads = (): number => texts.filter((t) => t === token).length;
    try {
      const once = await ReadContext.open(conn, { cacheResults: false });
      assert.equal(texts.length, 1, `the schema facts took ${texts.length} statements`);
      assert.ok(once.has("task", "task_latest_status") && once.hasIndex("ix_try_run_task"));
      texts.length = 0;
      assert.deepEqual(await once.taskIdRange("r1"), [0, 2]);
      assert.equal(texts.length, 2, `a run's id range took ${texts.length} statements:\n${texts.join("\n")}`);
      await addTask(3);
      assert.deepEqual(await once.taskIdRange("r1"), [0, 3], "a one-shot reader asks again");
      assert.equal(tokenReads(), 0);

      texts.length = 0;
      const kept = await ReadContext.open(conn);
      assert.deepEqual(await kept.taskIdRange("r1"), [0, 3]);
      assert.deepEqual(await kept.taskIdRange("r1"), [0, 3]);
      assert.equal(tokenReads(), 2, "the default reader checks the token each time");
      assert.equal(texts.length, 1 + 2 + 2, "and computes the range once");
    } finally {
      await real.close();
      await writer.close();
    }
  });
}

for (const dialect of DIALECTS) {
  test(`reads inside MonitoringDb.snapshot see one committed state while a writer commits (${dialect})`, async () => {
    const tdb = await testDatabase(dialect);
    const writer = await connect(tdb.endpoint);
    await ensureSchema(writer);
    const addRun = (id: string) =>
      writer.run(sql`INSERT INTO workflow (run_id, time_began, host, ${raw('"user"')}, rundir, tasks_failed_count, tasks_completed_count)
        VALUES (${id}, ${"2026-12-01 10:00:00.000000"}, ${"h"}, ${"u"}, ${"/d"}, ${0}, ${0})`);
    // SQLite: snapshots need WAL mode, which the writer sets on the databases it creates.
    if (dialect === "sqlite") await writer.all(sql`PRAGMA journal_mode = WAL`);
    await addRun("r1");
    const reader = await openMonitoringDb(tdb.endpoint);
    try {
      const seen = await reader.snapshot(async (view) => {
        const before = (await view.listWorkflows(0, 10)).total;
        await addRun("r2"); // committed by another session in the middle of the snapshot
        return [before, (await view.listWorkflows(0, 10)).total];
      });
      assert.deepEqual(seen, [1, 1], "the snapshot does not see the commit made after its first read");
      assert.equal((await reader.listWorkflows(0, 10)).total, 2, "outside the snapshot it does");
    } finally {
      await reader.close();
      await writer.close();
    }
  });
}
