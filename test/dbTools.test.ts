/**
 * `parsl-ts db upgrade | prune | check | roles` on both dialects: real SQLite files, the real
 * PostgreSQL test server, and the real CLI process for exit codes and output.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import test from "node:test";
import { fileURLToPath } from "node:url";
import { connect, type Connection } from "../src/database/connection.js";
import type { DialectName } from "../src/database/dialect.js";
import { rolesSql } from "../src/database/postgres/roles.js";
import { TABLES } from "../src/database/schema.js";
import { ensureSchema, readSchema, SCHEMA_VERSION } from "../src/database/schemaSetup.js";
import { ident, raw, sql } from "../src/database/sql.js";
import { formatMicros, nowMicros } from "../src/database/timeformat.js";
import { parseWhen } from "../src/cli/when.js";
import { renderRows } from "../src/cli/output.js";
import { DIALECTS, freshPgDatabase, pgAdmin, pgUrl } from "./databases.js";
import { runSmallWorkflow, tempDir } from "./helpers.js";
import { ROOT } from "./visualizer-helpers.js";

const CLI = fileURLToPath(new URL("../src/cli/parsl-ts.cjs", import.meta.url));
const SEVEN = TABLES.map((t) => t.name);

/** The real CLI as a user runs it (async: the test's own PostgreSQL connections stay responsive). */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "",
      err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out, err }));
  });
}

/** An empty database of a dialect: a path that does not exist yet, or a fresh PostgreSQL database. */
async function emptyEndpoint(dialect: DialectName): Promise<string> {
  return dialect === "sqlite" ? path.join(tempDir(), "monitoring.db") : pgUrl(await freshPgDatabase());
}

/** A database as Python Parsl leaves it: the SQLite fixture (copied), or Parsl's PostgreSQL DDL. */
async function pythonParslDb(dialect: DialectName): Promise<string> {
  if (dialect === "sqlite") {
    const file = path.join(tempDir(), "parsl.db");
    fs.copyFileSync(path.join(ROOT, "test/fixtures/parsl-mixed/monitoring.db"), file);
    return file;
  }
  const name = await freshPgDatabase();
  const ddl = fs.readFileSync(path.join(ROOT, "test/fixtures/parsl-postgres/schema.sql"), "utf8");
  await pgAdmin(ddl.replace(/^SELECT pg_catalog\.set_config.*$/m, ""), [], name);
  return pgUrl(name);
}

async function withDb<T>(endpoint: string, fn: (db: Connection) => Promise<T>): Promise<T> {
  const db = await connect(endpoint);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

const at = (minutesAgo: number): string => formatMicros(nowMicros() - Math.round(minutesAgo * 60e6));

interface PlantOptions {
  name: string;
  began: string;
  tasks?: number;
  /** parsl-ts's run status (null: a Python Parsl row), with a heartbeat this many minutes ago. */
  status?: string | null;
  heartbeatAgo?: number;
}

/** A run with rows in all seven tables. */
async function plantRun(db: Connection, runId: string, o: PlantOptions): Promise<void> {
  const q = ident;
  const n = o.tasks ?? 3;
  await db.transaction(async (tx) => {
    const running = o.status === "running";
    await tx.run(sql`INSERT INTO ${q("workflow")} (${q("run_id")}, ${q("workflow_name")}, ${q("time_began")}, ${q("time_completed")}, ${q("host")}, ${q("user")},
      ${q("rundir")}, ${q("tasks_failed_count")}, ${q("tasks_completed_count")}, ${q("run_status")}, ${q("last_heartbeat")}, ${q("heartbeat_period")})
      VALUES (${runId}, ${o.name}, ${o.began}, ${running ? null : o.began}, ${"h"}, ${"u"}, ${"/r"}, ${0}, ${n}, ${o.status ?? "completed"},
        ${o.heartbeatAgo === undefined ? null : at(o.heartbeatAgo)}, ${60})`);
    for (let t = 0; t < n; t++) {
      await tx.run(sql`INSERT INTO ${q("task")} (${q("task_id")}, ${q("run_id")}, ${q("task_func_name")}, ${q("task_memoize")}, ${q("task_fail_count")},
        ${q("task_fail_cost")}, ${q("task_latest_status")}) VALUES (${t}, ${runId}, ${"app"}, ${"False"}, ${0}, ${0}, ${"exec_done"})`);
      await tx.run(
        sql`INSERT INTO ${q("try")} (${q("try_id")}, ${q("task_id")}, ${q("run_id")}, ${q("task_executor")}) VALUES (${0}, ${t}, ${runId}, ${"threads"})`,
      );
      await tx.run(sql`INSERT INTO ${q("status")} (${q("task_id")}, ${q("task_status_name")}, ${q("timestamp")}, ${q("run_id")}, ${q("try_id")})
        VALUES (${t}, ${"pending"}, ${o.began}, ${runId}, ${0}), (${t}, ${"exec_done"}, ${formatMicros(Date.parse(o.began.replace(" ", "T")) * 1000 + 1000)}, ${runId}, ${0})`);
      await tx.run(
        sql`INSERT INTO ${q("resource")} (${q("try_id")}, ${q("task_id")}, ${q("run_id")}, ${q("timestamp")}) VALUES (${0}, ${t}, ${runId}, ${o.began})`,
      );
    }
    await tx.run(sql`INSERT INTO ${q("node")} (${q("run_id")}, ${q("hostname")}, ${q("uid")}, ${q("block_id")}, ${q("cpu_count")}, ${q("total_memory")}, ${q("active")},
      ${q("worker_count")}, ${q("python_v")}, ${q("timestamp")}, ${q("last_heartbeat")}) VALUES (${runId}, ${"h"}, ${"u1"}, ${"0"}, ${2}, ${2 ** 33}, ${true}, ${2}, ${"node"}, ${o.began}, ${o.began})`);
    await tx.run(sql`INSERT INTO ${q("block")} (${q("run_id")}, ${q("executor_label")}, ${q("block_id")}, ${q("timestamp")}, ${q("status")})
      VALUES (${runId}, ${"htex"}, ${"0"}, ${o.began}, ${"RUNNING"})`);
  });
}

/** Rows of a run in each of the seven tables. */
async function runRows(db: Connection, runId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of SEVEN)
    out[t] = Number(
      (await db.first<{ n: number }>(sql`SELECT COUNT(*) AS n FROM ${ident(t)} WHERE ${ident("run_id")} = ${runId}`))!
        .n,
    );
  return out;
}

async function allCounts(db: Connection): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of SEVEN)
    out[t] = Number((await db.first<{ n: number }>(sql`SELECT COUNT(*) AS n FROM ${ident(t)}`))!.n);
  return out;
}

const schemaShape = async (endpoint: string): Promise<string> =>
  withDb(endpoint, async (db) => {
    const s = await readSchema(db);
    return JSON.stringify([[...s.tables].map(([t, c]) => [t, [...c].sort()]).sort(), [...s.indexes].sort(), s.version]);
  });

for (const dialect of DIALECTS) {
  test(`db upgrade (${dialect}): a Python Parsl database is brought up to date, once; dry run and check change nothing`, async () => {
    const endpoint = await pythonParslDb(dialect);
    const shape = await schemaShape(endpoint);
    const counts = await withDb(endpoint, allCounts);

    const before = await cli(["db", "check", endpoint, "--format", "json"]);
    assert.equal(before.code, 1, before.err);
    const report = JSON.parse(before.out) as { schema_version: number | null; findings: { kind: string }[] };
    assert.equal(report.schema_version, null);
    assert.ok(report.findings.some((f) => f.kind === "schema_older"));
    assert.ok(report.findings.some((f) => f.kind === "missing_columns"));

    const dry = await cli(["db", "upgrade", endpoint, "--dry-run"]);
    assert.equal(dry.code, 0, dry.err);
    assert.match(dry.out, /would upgrade .*: schema version none \(Python Parsl\) → 2/);
    assert.match(dry.out, /would add columns: workflow\.run_status/);
    assert.match(dry.out, /dry run: nothing was changed/);
    assert.equal(await schemaShape(endpoint), shape, "the dry run and the check changed nothing");

    const up = await cli(["db", "upgrade", "--db", endpoint]);
    assert.equal(up.code, 0, up.err);
    assert.match(up.out, new RegExp(`^upgraded .*: schema version none \\(Python Parsl\\) → ${SCHEMA_VERSION}\\n`));
    assert.match(up.out, /added columns: .*task\.task_latest_status.*try\.task_try_error_type/);
    assert.match(up.out, /created indexes: ix_task_run_func/);
    assert.doesNotMatch(up.out, /created tables/, "Parsl's tables are used as they are");
    if (dialect === "postgresql") {
      const password = new URL(endpoint).password;
      assert.ok(
        password.length > 0 && !up.out.includes(password) && up.out.includes(":***@"),
        "the password is hidden",
      );
    }
    assert.deepEqual(await withDb(endpoint, allCounts), counts, "no row changed");

    const again = await cli(["db", "upgrade", endpoint, "--format", "json"]);
    assert.equal(again.code, 0, again.err);
    const j = JSON.parse(again.out) as Record<string, unknown>;
    assert.deepEqual(
      [j["changed"], j["version_before"], j["version_after"], j["added_columns"]],
      [false, SCHEMA_VERSION, SCHEMA_VERSION, []],
    );
    assert.match((await cli(["db", "upgrade", endpoint])).out, /already up to date \(schema version 2\)/);

    const after = await cli(["db", "check", endpoint]);
    assert.equal(after.code, 0, after.out + after.err);
    assert.match(after.out, /no problems found/);
  });

  test(`db upgrade (${dialect}): a version-1 parsl-ts database gets its version; refusals change nothing`, async () => {
    const endpoint = await emptyEndpoint(dialect);
    await withDb(endpoint, async (db) => {
      await ensureSchema(db);
      await plantRun(db, "r1", { name: "wf", began: at(60) });
      await db.run(sql`DROP TABLE ${ident("parsl_ts_meta")}`); // parsl-ts before versions were recorded
    });
    const up = await cli(["db", "upgrade", endpoint]);
    assert.equal(up.code, 0, up.err);
    assert.equal(
      up.out.split("\n")[0],
      `upgraded ${dialect === "sqlite" ? endpoint : endpoint.replace(/:[^:@/]*@/, ":***@")}: schema version 1 (parsl-ts, before versions were recorded) → 2`,
    );
    assert.equal(up.out.split("\n").length, 2, "only the version changed");
    assert.match((await cli(["db", "upgrade", endpoint])).out, /already up to date/);

    // A newer schema: check warns that this parsl-ts is older; upgrade refuses and changes nothing.
    await withDb(endpoint, (db) =>
      db.run(
        sql`UPDATE ${ident("parsl_ts_meta")} SET ${ident("value")} = ${"99"} WHERE ${ident("key")} = ${"schema_version"}`,
      ),
    );
    const chk = await cli(["db", "check", endpoint]);
    assert.equal(chk.code, 1);
    assert.match(chk.out, /schema version 99, newer than this parsl-ts \(2\): this parsl-ts is older/);
    const refused = await cli(["db", "upgrade", endpoint]);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /newer than this parsl-ts knows .*nothing was changed/);

    // Not a monitoring database: a clear error, nothing created.
    const other = await emptyEndpoint(dialect);
    await withDb(other, (db) => db.run(sql`CREATE TABLE ${ident("invoices")} (${ident("id")} INTEGER)`));
    const shape = await schemaShape(other);
    const no = await cli(["db", "upgrade", other]);
    assert.equal(no.code, 1);
    assert.match(
      no.err,
      /is not a Parsl monitoring database \(no workflow and task tables; its tables: invoices\); nothing was changed/,
    );
    assert.equal((await cli(["db", "check", other])).code, 1);
    assert.equal(await schemaShape(other), shape);

    // An empty database is set up only when asked.
    const empty = await emptyEndpoint(dialect);
    if (dialect === "sqlite") {
      const missing = await cli(["db", "upgrade", empty]);
      assert.equal(missing.code, 1);
      assert.match(missing.err, /does not exist/);
      assert.equal(fs.existsSync(empty), false, "no file was created");
    } else {
      const bare = await cli(["db", "upgrade", empty]);
      assert.equal(bare.code, 1);
      assert.match(bare.err, /has no tables.*--create/);
    }
    const created = await cli(["db", "upgrade", empty, "--create"]);
    assert.equal(created.code, 0, created.err);
    assert.match(
      created.out,
      /schema version none \(empty database\) → 2\n {2}created tables: workflow, task, try, node, block, status, resource/,
    );
    assert.equal((await cli(["db", "check", empty])).code, 0);
  });

  test(`db prune (${dialect}): by date and keep-last, whole runs in all seven tables; running runs kept; dry run changes nothing`, async () => {
    const endpoint = await emptyEndpoint(dialect);
    await withDb(endpoint, async (db) => {
      await ensureSchema(db);
      await plantRun(db, "old-a", { name: "sim", began: "2026-01-10 08:00:00.000000", tasks: 4 });
      await plantRun(db, "old-b", { name: "other", began: "2026-01-11 09:30:00.000000", tasks: 2 });
      await plantRun(db, "live", {
        name: "sim",
        began: "2026-01-09 07:00:00.000000",
        status: "running",
        heartbeatAgo: 0,
      });
      await plantRun(db, "new-c", { name: "sim", began: "2026-03-01 10:00:00.000000" });
      await plantRun(db, "new-d", { name: "sim", began: "2026-03-02 10:00:00.000000" });
    });
    const before = await withDb(endpoint, allCounts);

    const dry = await cli(["db", "prune", endpoint, "--before", "2026-02-01", "--dry-run"]);
    assert.equal(dry.code, 0, dry.err);
    assert.match(dry.out, /keeping run live \(sim\): it is still running/);
    assert.match(dry.out, /would delete 2 run\(s\) with 6 task\(s\)/);
    assert.match(
      dry.out,
      /old-b\s+other\s+2026-01-11 09:30:00\s+2\s+completed\n.*old-a\s+sim\s+2026-01-10 08:00:00\s+4\s+completed/,
    );
    assert.deepEqual(await withDb(endpoint, allCounts), before, "the dry run deleted nothing");

    const noYes = await cli(["db", "prune", endpoint, "--before", "2026-02-01"]);
    assert.equal(noYes.code, 2);
    assert.match(noYes.err, /needs --yes/);

    const gone = await cli(["db", "prune", endpoint, "--before", "2026-02-01T00:00", "--yes", "--format", "json"]);
    assert.equal(gone.code, 0, gone.err);
    const j = JSON.parse(gone.out) as {
      runs: { run_id: string }[];
      kept_running: string[];
      deleted: Record<string, number>;
    };
    assert.deepEqual(
      j.runs.map((r) => r.run_id),
      ["old-b", "old-a"],
    );
    assert.deepEqual(j.kept_running, ["live"]);
    assert.deepEqual(j.deleted, { resource: 6, status: 12, try: 6, task: 6, node: 2, block: 2, workflow: 2 });
    await withDb(endpoint, async (db) => {
      for (const r of ["old-a", "old-b"])
        assert.deepEqual(Object.values(await runRows(db, r)), [0, 0, 0, 0, 0, 0, 0], `${r} is gone from every table`);
      assert.deepEqual(await runRows(db, "new-c"), {
        workflow: 1,
        task: 3,
        try: 3,
        node: 1,
        block: 1,
        status: 6,
        resource: 3,
      });
      assert.equal((await runRows(db, "live"))["task"], 3);
    });

    // keep-last within a workflow name: of sim's runs (new-d, new-c, live) keep the newest one.
    const keep = await cli(["db", "prune", endpoint, "--keep-last", "1", "--workflow", "sim", "--yes"]);
    assert.equal(keep.code, 0, keep.err);
    assert.match(
      keep.out,
      /deleted 1 run\(s\): 3 resource, 6 status, 3 try, 3 task, 1 node, 1 block, 1 workflow row\(s\)/,
    );
    assert.match(keep.out, /keeping run live/);
    const forced = await cli(["db", "prune", endpoint, "--keep-last", "1", "--yes", "--force"]);
    assert.equal(forced.code, 0, forced.err);
    assert.match(forced.out, /deleting 1 run\(s\) with 3 task\(s\)[^]*live\s+sim\s+2026-01-09 07:00:00\s+3\s+running/);
    await withDb(endpoint, async (db) => {
      assert.deepEqual(
        (await db.all<{ run_id: string }>(sql`SELECT ${ident("run_id")} FROM ${ident("workflow")}`)).map(
          (r) => r.run_id,
        ),
        ["new-d"],
      );
      const counts = await allCounts(db);
      assert.deepEqual(counts, await runRows(db, "new-d"), "only new-d's rows are left, in every table");
    });
    assert.match((await cli(["db", "prune", endpoint, "--keep-last", "5", "--yes"])).out, /no runs to delete/);
  });

  test(`db prune (${dialect}): many runs at once (PostgreSQL: a temporary index for the foreign key checks, dropped after)`, async () => {
    const endpoint = await emptyEndpoint(dialect);
    await withDb(endpoint, async (db) => {
      await ensureSchema(db);
      for (let i = 0; i < 20; i++)
        await plantRun(db, `run-${String(i).padStart(2, "0")}`, {
          name: "many",
          began: `2026-02-${String(i + 1).padStart(2, "0")} 12:00:00.000000`,
          tasks: 1,
        });
    });
    const r = await cli(["db", "prune", endpoint, "--keep-last", "2", "--yes"]);
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.out,
      /deleted 18 run\(s\): 18 resource, 36 status, 18 try, 18 task, 18 node, 18 block, 18 workflow row\(s\)/,
    );
    if (dialect === "postgresql")
      assert.match(r.err, /built a temporary index parsl_ts_prune_status_run on status \(run_id\)/);
    await withDb(endpoint, async (db) => {
      assert.deepEqual(
        (await db.all<{ run_id: string }>(sql`SELECT ${ident("run_id")} FROM ${ident("workflow")} ORDER BY 1`)).map(
          (w) => w.run_id,
        ),
        ["run-18", "run-19"],
      );
      assert.ok(!(await readSchema(db)).indexes.has("parsl_ts_prune_status_run"), "the temporary index is gone");
    });
    if (dialect === "postgresql") {
      // With an index of its own on status (run_id), prune uses it and builds none.
      await withDb(endpoint, async (db) => {
        await db.run(
          sql`CREATE INDEX ${ident("my_status_run")} ON ${ident("status")} (${ident("run_id")}, ${ident("timestamp")})`,
        );
        for (let i = 0; i < 20; i++)
          await plantRun(db, `more-${String(i).padStart(2, "0")}`, {
            name: "many",
            began: `2026-01-${String(i + 1).padStart(2, "0")} 12:00:00.000000`,
            tasks: 1,
          });
      });
      const again = await cli(["db", "prune", endpoint, "--keep-last", "2", "--yes"]);
      assert.equal(again.code, 0, again.err);
      assert.match(again.out, /deleted 20 run\(s\)/);
      assert.doesNotMatch(again.err, /temporary index/);
    }
  });

  test(`db check (${dialect}): clean is exit 0; planted drift and orphans are found and exit 1`, async () => {
    const endpoint = await emptyEndpoint(dialect);
    await withDb(endpoint, async (db) => {
      await ensureSchema(db);
      await plantRun(db, "good", { name: "wf", began: at(30) });
      await plantRun(db, "beating", { name: "wf", began: at(5), status: "running", heartbeatAgo: 0 });
    });
    const clean = await cli(["db", "check", endpoint]);
    assert.equal(clean.code, 0, clean.out + clean.err);
    assert.match(clean.out, /schema version 2; this parsl-ts writes 2\nno problems found\n$/);

    // A status row whose run has no workflow row, past the foreign key (Python Parsl on SQLite does not enforce it).
    const orphan = `INSERT INTO status (task_id, task_status_name, "timestamp", run_id, try_id) VALUES (1, 'pending', '${at(1)}', 'ghost-run', 0)`;
    if (dialect === "sqlite") {
      await withDb(endpoint, async (db) => {
        await db.run(raw("PRAGMA foreign_keys = OFF"));
        await db.run(raw(orphan));
      });
    } else {
      await pgAdmin(`SET session_replication_role = replica; ${orphan}`, [], new URL(endpoint).pathname.slice(1));
    }
    await withDb(endpoint, async (db) => {
      const q = ident;
      await db.run(
        sql`INSERT INTO ${q("try")} (${q("try_id")}, ${q("task_id")}, ${q("run_id")}, ${q("task_executor")}) VALUES (${0}, ${77}, ${"good"}, ${"threads"})`,
      );
      await db.run(
        sql`UPDATE ${q("task")} SET ${q("task_latest_status")} = ${"failed"} WHERE ${q("run_id")} = ${"good"} AND ${q("task_id")} = ${2}`,
      );
      await plantRun(db, "dead", { name: "wf", began: at(60), status: "running", heartbeatAgo: 20 });
      await db.run(sql`DROP INDEX ${q("ix_block_run")}`);
    });
    const found = await cli(["db", "check", "--db", endpoint, "--format", "json"]);
    assert.equal(found.code, 1, found.err);
    const r = JSON.parse(found.out) as {
      clean: boolean;
      findings: { kind: string; severity: string; table?: string; count?: number; message: string }[];
    };
    assert.equal(r.clean, false);
    const byKind = new Map(r.findings.map((f) => [f.kind, f]));
    assert.deepEqual([...byKind.keys()].sort(), [
      "latest_status_mismatch",
      "missing_index",
      "orphan_rows",
      "stale_running_run",
      "try_without_task",
    ]);
    assert.match(
      byKind.get("orphan_rows")!.message,
      /1 status row\(s\) belong to run\(s\) with no workflow row: ghost-run/,
    );
    assert.match(byKind.get("try_without_task")!.message, /good\/77/);
    assert.match(byKind.get("latest_status_mismatch")!.message, /good\/2 \(failed\)/);
    assert.match(
      byKind.get("stale_running_run")!.message,
      /run dead \(wf\) is marked running, but its last heartbeat was 20 min ago/,
    );
    assert.match(byKind.get("missing_index")!.message, /ix_block_run/);
    const tsv = await cli(["db", "check", endpoint, "--format", "tsv"]);
    assert.equal(tsv.code, 1);
    assert.equal(tsv.out.split("\n")[0], "severity\tkind\ttable\tcount\tmessage");
    assert.equal(tsv.out.trim().split("\n").length, 6);
  });
}

test("db prune (sqlite): runs of a Python Parsl database as it is, by date, then VACUUM gives the space back", async () => {
  const file = await pythonParslDb("sqlite");
  const dry = await cli(["db", "prune", file, "--before", "2026-11-24 21:52:30", "--dry-run", "--format", "csv"]);
  assert.equal(dry.code, 0, dry.err);
  assert.equal(
    dry.out,
    "run_id,workflow_name,time_began,tasks,status\r\n" +
      "ee786505-674c-4a3f-8d80-7eee11e68fc9,fixture-mixed,2026-11-24 21:52:25,16,failed\r\n" +
      "1184f076-14a3-473a-9d16-bb9b165f62e9,fixture-mixed,2026-11-24 21:52:07,173,failed\r\n",
  );
  const freed = await cli(["db", "prune", file, "--before", "2026-11-24 21:52:30", "--yes"]);
  assert.equal(freed.code, 0, freed.err);
  assert.match(
    freed.out,
    /deleted 2 run\(s\): 139 resource, 1053 status, 219 try, 189 task, 253 node, 5 block, 2 workflow row\(s\)/,
  );
  assert.match(freed.out, /\d\.\d MiB inside .*parsl\.db is now free for new rows; .*VACUUM/);
  await withDb(file, async (db) => {
    assert.deepEqual(
      await allCounts(db),
      await runRows(db, "410b4fa3-e65b-4f17-99a5-099a7172c239"),
      "only the crashed run is left",
    );
    assert.deepEqual(await runRows(db, "410b4fa3-e65b-4f17-99a5-099a7172c239"), {
      workflow: 1,
      task: 12,
      try: 14,
      node: 6,
      block: 2,
      status: 53,
      resource: 24,
    });
  });
  // The crashed run (no end, no activity for long: status unknown, not running) goes too; VACUUM shrinks the file.
  const size = fs.statSync(file).size;
  const last = await cli(["db", "prune", file, "--keep-last", "0", "--yes", "--vacuum"]);
  assert.equal(last.code, 0, last.err);
  assert.match(last.out, /410b4fa3-e65b-4f17-99a5-099a7172c239\s+crashed_run\.py\s+2026-11-24 21:52:35\s+12\s+unknown/);
  assert.match(last.out, /VACUUM: .* went from [\d.]+ MiB to [\d.]+ MiB/);
  assert.ok(fs.statSync(file).size < size / 2, `the file shrank (${size} → ${fs.statSync(file).size} bytes)`);
});

test(
  "db on a database a real parsl-ts workflow wrote (sqlite): versioned, clean, and pruned to nothing",
  { timeout: 120_000 },
  async () => {
    const dir = tempDir();
    const file = await runSmallWorkflow(dir);
    const up = await cli(["db", "upgrade", "--dry-run"], { PARSL_TS_DB: file });
    assert.equal(
      up.out,
      `${file} is already up to date (schema version 2)\n`,
      "the writer recorded the schema version",
    );
    const chk = await cli(["db", "check", file]);
    assert.equal(chk.code, 0, chk.out + chk.err);
    assert.match(chk.out, /no problems found/);
    const gone = await cli(["db", "prune", file, "--keep-last", "0", "--yes"]);
    assert.equal(gone.code, 0, gone.err);
    assert.match(gone.out, /deleting 1 run\(s\) with 6 task\(s\)[^]*\s6\s+failed\n/);
    await withDb(file, async (db) => assert.deepEqual(Object.values(await allCounts(db)), [0, 0, 0, 0, 0, 0, 0]));
  },
);

test("db roles (postgresql): the writer role runs a workflow's writes, the reader can only read", async () => {
  const dbName = await freshPgDatabase();
  const suffix = crypto.randomBytes(4).toString("hex");
  const writer = { name: `parsl_w_${suffix}`, password: crypto.randomBytes(9).toString("hex") };
  const reader = { name: `parsl_r_${suffix}`, password: crypto.randomBytes(9).toString("hex") };
  const databases = [dbName];
  const printed = await cli(["db", "roles", pgUrl(dbName), "--writer", writer.name, "--reader", reader.name]);
  assert.equal(printed.code, 0, printed.err);
  assert.equal(printed.out, rolesSql({ database: dbName, writer: writer.name, reader: reader.name }));
  try {
    await pgAdmin(printed.out, [], dbName);
    await pgAdmin(
      `ALTER ROLE "${writer.name}" PASSWORD '${writer.password}'; ALTER ROLE "${reader.name}" PASSWORD '${reader.password}'`,
    );

    // The writer creates the schema on first use and writes a run, as a monitored workflow does.
    await withDb(pgUrl(dbName, writer), async (db) => {
      assert.equal((await ensureSchema(db)).createdTables.length, 7);
      await plantRun(db, "w1", { name: "wf", began: at(1), status: "running", heartbeatAgo: 0 });
      assert.equal(
        await db.run(
          sql`UPDATE ${ident("workflow")} SET ${ident("run_status")} = ${"completed"} WHERE ${ident("run_id")} = ${"w1"}`,
        ),
        1,
      );
    });
    // The reader reads everything (tables the writer created included) and can write nothing.
    await withDb(pgUrl(dbName, reader), async (db) => {
      assert.deepEqual(await runRows(db, "w1"), {
        workflow: 1,
        task: 3,
        try: 3,
        node: 1,
        block: 1,
        status: 6,
        resource: 3,
      });
      await assert.rejects(
        db.run(sql`INSERT INTO ${ident("parsl_ts_meta")} VALUES (${"k"}, ${"v"})`),
        /read-only transaction/,
      );
      await db.run(sql`SET default_transaction_read_only = off`);
      await assert.rejects(db.run(sql`DELETE FROM ${ident("workflow")}`), /permission denied for table workflow/);
    });
    const asReader = await cli(["db", "check", pgUrl(dbName, reader)]);
    assert.equal(asReader.code, 0, asReader.out + asReader.err);
    assert.equal(
      (await cli(["db", "upgrade", pgUrl(dbName, reader)])).code,
      0,
      "nothing to change: the reader's upgrade is a no-op",
    );

    // A database whose tables an administrator set up (Python Parsl's, upgraded): the writer needs no DDL.
    const parslDb = await freshPgDatabase();
    databases.push(parslDb);
    const ddl = fs.readFileSync(path.join(ROOT, "test/fixtures/parsl-postgres/schema.sql"), "utf8");
    await pgAdmin(ddl.replace(/^SELECT pg_catalog\.set_config.*$/m, ""), [], parslDb);
    assert.equal((await cli(["db", "upgrade", pgUrl(parslDb)])).code, 0);
    await pgAdmin(
      rolesSql({ database: parslDb, writer: writer.name, reader: reader.name }).replace(
        /^CREATE ROLE.*$|^ALTER ROLE.*$/gm,
        "",
      ),
      [],
      parslDb,
    );
    await withDb(pgUrl(parslDb, writer), async (db) => {
      const r = await ensureSchema(db);
      assert.deepEqual([r.createdTables, r.addedColumns, r.createdIndexes], [[], [], []]);
      await plantRun(db, "w2", { name: "wf", began: at(1) });
      await assert.rejects(db.run(sql`DELETE FROM ${ident("workflow")}`), /permission denied/);
    });
    // A schema change on tables it does not own is the owner's job (docs/POSTGRES.md, "Roles").
    await pgAdmin(`DROP INDEX ix_block_run`, [], parslDb);
    await withDb(pgUrl(parslDb, writer), async (db) =>
      assert.rejects(ensureSchema(db), /must be owner of table block/),
    );
    assert.match((await cli(["db", "upgrade", pgUrl(parslDb)])).out, /created indexes: ix_block_run/);
    await withDb(pgUrl(parslDb, reader), async (db) => assert.equal((await runRows(db, "w2"))["status"], 6));
  } finally {
    // Roles belong to the whole server: revoke what they hold in each database, then drop them.
    // (One DROP OWNED per role: naming both at once trips over their shared default ACL.)
    for (const d of databases) {
      for (const role of [reader.name, writer.name])
        await pgAdmin(`DROP OWNED BY "${role}"`, [], d).catch(() => undefined);
    }
    for (const role of [writer.name, reader.name]) await pgAdmin(`DROP ROLE IF EXISTS "${role}"`);
  }
});

test("db commands: usage errors exit 2 and say what is wrong", async () => {
  const dir = tempDir();
  const db = path.join(dir, "m.db");
  const cases: Array<[string[], RegExp]> = [
    [["db"], /usage: parsl-ts db <subcommand>/],
    [["db", "vacuum"], /unknown subcommand 'vacuum'/],
    [["db", "prune", db], /exactly one of --before WHEN and --keep-last N/],
    [["db", "prune", db, "--before", "yesterday", "--dry-run"], /--before takes a date or time .* got "yesterday"/],
    [["db", "prune", db, "--before", "2026-02-30", "--dry-run"], /"2026-02-30" is not a valid date/],
    [["db", "prune", db, "--keep-last", "-1", "--dry-run"], /--keep-last must be a whole number/],
    [["db", "check", db, "--format", "xml"], /--format must be one of table, json, csv, tsv/],
    [["db", "check", "--db", db, path.join(dir, "other.db")], /give the database once/],
    [["db", "check", "mysql://h/x"], /unsupported scheme 'mysql'/],
    [["db", "roles", db], /roles are for PostgreSQL/],
    [["db", "roles", "--database", "x", "--writer", "Robert'); DROP"], /writer role .* must be lower-case letters/],
  ];
  for (const [args, re] of cases) {
    const r = await cli(args, { PARSL_TS_DB: "" });
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, re, args.join(" "));
  }
  // PARSL_TS_DB is the default database; a missing one is exit 1 with its name.
  const r = await cli(["db", "check"], { PARSL_TS_DB: path.join(dir, "nope.db") });
  assert.equal(r.code, 1);
  assert.match(r.err, /monitoring database .*nope\.db does not exist/);
  const bad = await cli(["db", "check", "postgresql://someone:hunter2@127.0.0.1:1/x"]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /connection refused/);
  assert.ok(!bad.err.includes("hunter2"));
  for (const sub of ["upgrade", "prune", "check", "roles"]) {
    const h = await cli(["db", sub, "--help"]);
    assert.equal(h.code, 0);
    assert.match(h.out, new RegExp(`^usage: parsl-ts db ${sub}`));
  }
});

test("times and output formats of the shared CLI modules", () => {
  const now = new Date(2026, 10, 24, 12, 0, 0);
  assert.equal(parseWhen("2026-11-24", "--x"), "2026-11-24 00:00:00.000000");
  assert.equal(parseWhen("2026-11-24 21:52", "--x"), "2026-11-24 21:52:00.000000");
  assert.equal(parseWhen("2026-11-24T21:52:07.5", "--x"), "2026-11-24 21:52:07.500000");
  assert.equal(parseWhen("2d", "--x", now), "2026-11-22 12:00:00.000000");
  assert.equal(parseWhen("90m", "--x", now), "2026-11-24 10:30:00.000000");
  // An explicit offset is converted to local time, as Parsl's naive timestamps are.
  const utc = new Date(Date.UTC(2026, 10, 24, 21, 52, 7));
  const local = `${utc.getFullYear()}-${String(utc.getMonth() + 1).padStart(2, "0")}-${String(utc.getDate()).padStart(2, "0")} ${String(utc.getHours()).padStart(2, "0")}:52:07.000000`;
  assert.equal(parseWhen("2026-11-24T21:52:07Z", "--x"), local);
  const rows = [
    { a: 'x,"y"', b: 1 },
    { a: "tab\there\nnl", b: null },
  ];
  const cols = [
    { key: "a", value: (r: (typeof rows)[number]) => r.a },
    { key: "b", value: (r: (typeof rows)[number]) => r.b, align: "right" as const },
  ];
  assert.equal(renderRows(rows, cols, "csv"), 'a,b\r\n"x,""y""",1\r\n"tab\there\nnl",\r\n');
  assert.equal(renderRows(rows, cols, "tsv"), 'a\tb\nx,"y"\t1\ntab\\there\\nnl\t\n');
  assert.deepEqual(JSON.parse(renderRows(rows, cols, "json")), rows);
  assert.equal(renderRows(rows, cols, "table"), 'a            b\nx,"y"        1\ntab here nl\n');
});

test("db copy: the Python Parsl fixture to PostgreSQL and back to a new SQLite file, every row; again skips; bad use exits 2", async () => {
  const src = path.join(tempDir(), "parsl.db");
  fs.copyFileSync(path.join(ROOT, "test/fixtures/parsl-mixed/monitoring.db"), src);
  const pgDb = pgUrl(await freshPgDatabase());
  const back = path.join(tempDir(), "back.db");
  const first = await cli(["db", "copy", src, pgDb]);
  assert.equal(first.code, 0, first.err);
  assert.match(first.out, /^copied 3 run\(s\) from .*parsl\.db to postgresql:\/\/parsl_admin:\*\*\*@/);
  assert.ok(!first.out.includes(new URL(pgDb).password), "the password is hidden");
  const again = await cli(["db", "copy", src, pgDb, "--format", "json"]);
  assert.equal(again.code, 0, again.err);
  assert.equal(JSON.parse(again.out).skipped.length, 3);
  const home = await cli(["db", "copy", pgDb, back, "--run", "1184f076-14a3-473a-9d16-bb9b165f62e9"]);
  assert.equal(home.code, 0, home.err);
  const counts = async (endpoint: string, runId?: string): Promise<Record<string, number>> =>
    withDb(endpoint, async (db) => {
      const out: Record<string, number> = {};
      for (const t of SEVEN) {
        const where = runId ? sql` WHERE run_id = ${runId}` : sql``;
        out[t] = Number((await db.first<{ n: number }>(sql`SELECT COUNT(*) AS n FROM ${ident(t)}${where}`))!.n);
      }
      return out;
    });
  assert.deepEqual(await counts(pgDb), await counts(src));
  assert.deepEqual(await counts(back), await counts(src, "1184f076-14a3-473a-9d16-bb9b165f62e9"));
  assert.equal((await cli(["db", "copy", src])).code, 2);
  assert.equal((await cli(["db", "copy", src, src])).code, 2);
  const missing = await cli(["db", "copy", path.join(tempDir(), "none.db"), back]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /does not exist/);
});
