/**
 * The database layer on real SQLite files: time format, endpoints, DDL against the Parsl
 * fixture, upgrade in place, coalescing and set-once semantics, idempotent replay, refused
 * rows, and lock handling.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describeEndpoint, parseEndpoint } from "../src/database/endpoint.js";
import { INDEXES, TABLES } from "../src/database/schema.js";
import { openStore, type Store } from "../src/database/store.js";
import { formatMicros, parseDateTime } from "../src/database/timeformat.js";
import type { MonitoringEvent } from "../src/monitoring/messages.js";
import { DIALECTS, pgAdminUrl, pgUrl, testDatabase, type TestDatabase } from "./databases.js";
import { parslFixture, tempDir as sharedTempDir } from "./helpers.js";

const FIXTURE = parslFixture();

const tempDir = (): string => sharedTempDir("parsl-ts-database-");

interface Notices {
  warnings: string[];
  notes: string[];
  warning(m: string): void;
  note(m: string): void;
}
function notices(): Notices {
  const n: Notices = {
    warnings: [],
    notes: [],
    warning: (m) => void n.warnings.push(m),
    note: (m) => void n.notes.push(m),
  };
  return n;
}

function all(file: string, sql: string, ...params: unknown[]): Record<string, unknown>[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

type ColumnInfo = { cid: number; name: string; type: string; notnull: number; pk: number };
const tableInfo = (file: string, table: string): ColumnInfo[] =>
  all(file, `PRAGMA table_info(${table})`) as unknown as ColumnInfo[];

const T0 = Date.UTC(2026, 10, 24, 21, 0, 0) * 1000;

function taskFirst(taskId: number, extra: Record<string, unknown> = {}): MonitoringEvent {
  return {
    t: "task",
    task_id: taskId,
    first: true,
    cols: {
      task_depends: "",
      task_func_name: "app",
      task_memoize: true,
      task_hashsum: null,
      task_inputs: "None",
      task_outputs: "None",
      task_stdin: null,
      task_stdout: "",
      task_stderr: "",
      task_time_invoked: T0 + taskId,
      task_fail_count: 0,
      task_fail_cost: 0,
      ...extra,
    },
  };
}

function workflowStart(): MonitoringEvent {
  return {
    t: "workflow_start",
    workflow_name: "wf",
    workflow_version: "v1",
    time_began: T0,
    host: "h",
    user: "u",
    rundir: "/r/000",
  };
}

/** A complete no-op task: pending, launched, running, running_ended, exec_done. */
function taskLifecycle(taskId: number): MonitoringEvent[] {
  const t = T0 + taskId * 100;
  return [
    taskFirst(taskId),
    { t: "status", task_id: taskId, try_id: 0, state: "pending", ts: t },
    {
      t: "try",
      task_id: taskId,
      try_id: 0,
      first: true,
      cols: { task_executor: "threads", task_try_time_launched: t + 1 },
    },
    { t: "task", task_id: taskId, first: false, cols: { task_hashsum: "abc" } },
    { t: "status", task_id: taskId, try_id: 0, state: "launched", ts: t + 2 },
    { t: "try", task_id: taskId, try_id: 0, first: false, cols: { task_try_time_running: t + 3, hostname: "node1" } },
    { t: "status", task_id: taskId, try_id: 0, state: "running", ts: t + 3 },
    { t: "status", task_id: taskId, try_id: 0, state: "running_ended", ts: t + 4 },
    {
      t: "try",
      task_id: taskId,
      try_id: 0,
      first: false,
      cols: { task_try_time_returned: t + 5, task_fail_history: "" },
    },
    { t: "task", task_id: taskId, first: false, cols: { task_time_returned: t + 5 } },
    { t: "status", task_id: taskId, try_id: 0, state: "exec_done", ts: t + 5 },
  ];
}

/** Every row of every table, in a stable order (PostgreSQL has no rowid), as one string. */
async function snapshot(db: TestDatabase): Promise<string> {
  const tables: string[][] = [];
  for (const t of TABLES)
    tables.push((await db.rows(`SELECT * FROM "${t.name}"`)).map((r) => JSON.stringify(r)).sort());
  return JSON.stringify(tables);
}

async function withStore<T>(file: string, runId: string, n: Notices, fn: (s: Store) => Promise<T>): Promise<T> {
  const s = await openStore(file, runId, n);
  try {
    return await fn(s);
  } finally {
    s.close();
  }
}

// ---------------------------------------------------------------------------- time format

test("formatMicros writes naive local time with six fractional digits", () => {
  const local = new Date(2026, 10, 24, 21, 52, 7, 544);
  const us = local.getTime() * 1000 + 16;
  assert.equal(formatMicros(us), "2026-11-24 21:52:07.544016");
  assert.equal(formatMicros(new Date(2026, 0, 2, 3, 4, 5).getTime() * 1000), "2026-01-02 03:04:05.000000");
});

test("formatMicros agrees with a plain Date formatter across many seconds (prefix cache)", () => {
  const reference = (us: number): string => {
    const d = new Date(Math.floor(us / 1000));
    const p = (n: number, w = 2): string => String(n).padStart(w, "0");
    return (
      `${p(d.getFullYear(), 4)}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.` +
      p(((us % 1_000_000) + 1_000_000) % 1_000_000, 6)
    );
  };
  let seed = 12345;
  const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let i = 0; i < 20_000; i++) {
    // Alternate between nearby and far-apart seconds so cache slots are reused and replaced.
    const us = Math.floor(T0 + (i % 2 === 0 ? rand() * 5e6 : rand() * 3e14));
    assert.equal(formatMicros(us), reference(us));
  }
  // Before 1970 (negative microseconds) and within one millisecond (the millisecond cache).
  for (const us of [-1, -999, -1000, -1001, -86_400_000_001, T0 + 1, T0 + 999, T0 + 1000, T0 - 1])
    assert.equal(formatMicros(us), reference(us), `formatMicros(${us})`);
});

test("parseDateTime inverts formatMicros, and rejects other text", () => {
  for (const us of [T0, T0 + 1, T0 + 999_999, new Date(2026, 2, 29, 2, 30).getTime() * 1000 + 7]) {
    assert.equal(parseDateTime(formatMicros(us)), us);
  }
  assert.equal(parseDateTime("2026-11-24 21:52:07"), new Date(2026, 10, 24, 21, 52, 7).getTime() * 1000);
  assert.throws(() => parseDateTime("yesterday"), /not a DATETIME value/);
  assert.throws(() => formatMicros(1.5), /integer number of microseconds/);
});

// ---------------------------------------------------------------------------- endpoints

test("parseEndpoint: file paths, SQLAlchemy sqlite URLs and postgresql", () => {
  assert.deepEqual(parseEndpoint("runinfo/monitoring.db", "/home/u"), {
    kind: "sqlite",
    path: "/home/u/runinfo/monitoring.db",
  });
  assert.deepEqual(parseEndpoint("/abs/m.db", "/home/u"), { kind: "sqlite", path: "/abs/m.db" });
  assert.deepEqual(parseEndpoint("sqlite:///runinfo/monitoring.db", "/home/u"), {
    kind: "sqlite",
    path: "/home/u/runinfo/monitoring.db",
  });
  assert.deepEqual(parseEndpoint("sqlite:////var/db/m.db", "/home/u"), { kind: "sqlite", path: "/var/db/m.db" });
  assert.deepEqual(parseEndpoint("postgresql://me@db.example/parsl"), {
    kind: "postgresql",
    url: "postgresql://me@db.example/parsl",
  });
  assert.deepEqual(parseEndpoint("postgresql+psycopg2://h/db"), {
    kind: "postgresql",
    url: "postgresql+psycopg2://h/db",
  });
});

test("parseEndpoint: bad endpoints give errors naming them", () => {
  assert.throws(() => parseEndpoint("mysql://h/db"), /endpoint "mysql:\/\/h\/db" has an unsupported scheme 'mysql'/);
  assert.throws(() => parseEndpoint("sqlite://host/x.db"), /endpoint "sqlite:\/\/host\/x.db" names a host/);
  assert.throws(() => parseEndpoint("sqlite://"), /endpoint "sqlite:\/\/" has no file path/);
  assert.throws(() => parseEndpoint("sqlite:///"), /endpoint "sqlite:\/\/\/" has no file path/);
  assert.throws(() => parseEndpoint("sqlite:///:memory:"), /in-memory database/);
  assert.throws(() => parseEndpoint(""), /endpoint is empty/);
});

test("opening PostgreSQL fails fast, naming the endpoint with its password hidden: refused, wrong password, no database; a directory is refused by name", async () => {
  const started = Date.now();
  const refused = "postgresql://me:s3cret@127.0.0.1:1/parsl";
  await assert.rejects(
    openStore(refused, "r", notices()),
    (err: Error) =>
      /cannot connect to PostgreSQL at postgresql:\/\/me:\*\*\*@127\.0\.0\.1:1\/parsl: connection refused/.test(
        err.message,
      ) && !err.message.includes("s3cret"),
  );
  const admin = new URL(pgAdminUrl());
  const wrong = pgUrl("postgres", { name: decodeURIComponent(admin.username), password: "not-the-password" });
  await assert.rejects(
    openStore(wrong, "r", notices()),
    (err: Error) =>
      /cannot log in to PostgreSQL at .*:\*\*\*@.*password authentication failed.*\(wrong password\?\)/.test(
        err.message,
      ) && !err.message.includes("not-the-password"),
  );
  await assert.rejects(
    openStore(pgUrl("parsl_no_such_database"), "r", notices()),
    /PostgreSQL database at .*\/parsl_no_such_database does not exist/,
  );
  assert.ok(Date.now() - started < 10_000, "no error waits for a timeout");
  const dir = tempDir();
  await assert.rejects(openStore(dir, "r", notices()), (err: Error) =>
    err.message.includes(`cannot open monitoring database ${dir}`),
  );
});

// ---------------------------------------------------------------------------- schema

test("a fresh database has Parsl's exact columns, then ours, and every index", async () => {
  const file = path.join(tempDir(), "fresh.db");
  await withStore(file, "r", notices(), async () => {});
  for (const t of TABLES) {
    const ours = tableInfo(file, t.name);
    const parsl = tableInfo(FIXTURE, t.name);
    assert.ok(parsl.length > 0, `fixture has table ${t.name}`);
    const pick = (c: ColumnInfo): unknown[] => [c.name, c.type, c.notnull, c.pk];
    assert.deepEqual(ours.slice(0, parsl.length).map(pick), parsl.map(pick), `Parsl's columns of ${t.name}`);
    const extras = t.columns.filter((c) => c.extra).map((c) => [c.name, c.type, 0, 0]);
    assert.deepEqual(ours.slice(parsl.length).map(pick), extras, `our extra columns of ${t.name}`);
  }
  const fks = all(file, "PRAGMA foreign_key_list(status)").concat(all(file, "PRAGMA foreign_key_list(resource)"));
  assert.deepEqual(
    fks.map((f) => [f["table"], f["from"], f["to"]]),
    [
      ["workflow", "run_id", "run_id"],
      ["workflow", "run_id", "run_id"],
    ],
  );
  const indexes = all(
    file,
    "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%'",
  );
  assert.deepEqual(
    indexes.map((i) => `${String(i["tbl_name"])}.${String(i["name"])}`).sort(),
    INDEXES.map((i) => `${i.table}.${i.name}`).sort(),
  );
  assert.equal(all(file, "PRAGMA journal_mode")[0]!["journal_mode"], "wal");
  assert.equal(all(file, "PRAGMA page_size")[0]!["page_size"], 65536, "databases we create use 64 KiB pages");
  assert.ok(!indexes.some((i) => i["name"] === "ix_task_lineage_hash"), "lineage hashes are not indexed by default");
});

test("opening a copy of a Python Parsl database upgrades it in place without changing a row", async () => {
  const file = path.join(tempDir(), "parsl.db");
  fs.copyFileSync(FIXTURE, file);
  fs.chmodSync(file, 0o644);
  const dump = (t: string, cols: string[]): unknown[] =>
    all(file, `SELECT ${cols.join(", ")} FROM ${t} ORDER BY rowid`);
  const parslColumns = new Map(TABLES.map((t) => [t.name, tableInfo(FIXTURE, t.name).map((c) => c.name)]));
  const before = new Map(TABLES.map((t) => [t.name, dump(t.name, parslColumns.get(t.name)!)]));

  const runId = "new-run-after-upgrade";
  await withStore(file, runId, notices(), async (s) => {
    await s.applyBatch([workflowStart(), ...taskLifecycle(0)]);
    // A failed try's forensics and task_args land in the columns the upgrade added.
    await s.applyBatch([
      { t: "task", task_id: 0, first: false, cols: { task_args: "[1, 'a']" } },
      {
        t: "try",
        task_id: 0,
        try_id: 0,
        first: false,
        cols: {
          task_try_error_type: "BashExitFailure",
          task_try_error: "BashExitFailure: exit 3",
          task_try_exit_code: 3,
          task_try_stdout_tail: "out\n",
          task_try_stderr_tail: "",
        },
      },
    ]);
  });
  assert.deepEqual(all(file, "SELECT task_args FROM task WHERE run_id = ?", runId), [{ task_args: "[1, 'a']" }]);
  assert.deepEqual(
    all(
      file,
      "SELECT task_try_error_type, task_try_exit_code, task_try_stdout_tail, task_try_stderr_tail FROM try WHERE run_id = ?",
      runId,
    ),
    [
      {
        task_try_error_type: "BashExitFailure",
        task_try_exit_code: 3,
        task_try_stdout_tail: "out\n",
        task_try_stderr_tail: "",
      },
    ],
  );
  assert.equal(
    all(file, "SELECT COUNT(*) AS n FROM try WHERE run_id <> ? AND task_try_error IS NOT NULL", runId)[0]!["n"],
    0,
  );

  for (const t of TABLES) {
    const cols = tableInfo(file, t.name).map((c) => c.name);
    for (const c of t.columns) assert.ok(cols.includes(c.name), `${t.name}.${c.name} exists after upgrade`);
    const old = dump(t.name, parslColumns.get(t.name)!).slice(0, before.get(t.name)!.length);
    assert.deepEqual(old, before.get(t.name), `rows of ${t.name} unchanged`);
  }
  const extrasOfOldRuns = all(
    file,
    "SELECT COUNT(*) AS n FROM workflow WHERE run_status IS NOT NULL AND run_id <> ?",
    runId,
  );
  assert.equal(extrasOfOldRuns[0]!["n"], 0);
  assert.equal(all(file, "SELECT COUNT(*) AS n FROM workflow")[0]!["n"], 4);
  assert.equal(
    all(file, "PRAGMA page_size")[0]!["page_size"],
    all(FIXTURE, "PRAGMA page_size")[0]!["page_size"],
    "Parsl's page size is kept",
  );
  assert.deepEqual(
    all(file, "SELECT task_status_name FROM status WHERE run_id = ? ORDER BY timestamp", runId).map(
      (r) => r["task_status_name"],
    ),
    ["pending", "launched", "running", "running_ended", "exec_done"],
  );
});

// ---------------------------------------------------------------------------- write semantics

for (const dialect of DIALECTS)
  test(`task and try events coalesce; set-once columns keep their first value; types follow Parsl (${dialect})`, async () => {
    const db = await testDatabase(dialect);
    const file = db.endpoint;
    const runId = "run-coalesce";
    await withStore(file, runId, notices(), async (s) => {
      // One batch with every event of task 0; task 1 created in one batch and updated in later ones.
      const out = await s.applyBatch([
        workflowStart(),
        ...taskLifecycle(0),
        taskFirst(1, { task_inputs: "[<Future>]" }),
        { t: "status", task_id: 1, try_id: 0, state: "pending", ts: T0 + 500 },
      ]);
      assert.equal(out.rejected.length, 0);
      assert.equal(out.rows, 1 + 1 + 1 + 5 + 1 + 1, "one row write per task, per try and per status row");
      await s.applyBatch([
        {
          t: "task",
          task_id: 1,
          first: false,
          cols: { task_func_name: "renamed", task_inputs: "[123]", task_stdout: "late.txt" },
        },
        { t: "task", task_id: 1, first: false, cols: { task_fail_count: 1, task_fail_cost: 0.5 } },
        { t: "status", task_id: 1, try_id: 0, state: "fail_retryable", ts: T0 + 600 },
      ]);
      await s.applyBatch([
        { t: "try", task_id: 1, try_id: 0, first: true, cols: { task_executor: "htex" } },
        { t: "try", task_id: 1, try_id: 0, first: false, cols: { task_executor: "other", block_id: "0" } },
      ]);
    });
    const t0 = (await db.rows("SELECT * FROM task WHERE run_id = ? AND task_id = 0", runId))[0]!;
    assert.equal(t0["task_func_name"], "app");
    assert.equal(t0["task_memoize"], "1", "task_memoize is TEXT '1'/'0' as Parsl stores it");
    assert.equal(t0["task_hashsum"], "abc");
    assert.equal(t0["task_latest_status"], "exec_done");
    assert.equal(t0["task_time_invoked"], formatMicros(T0));
    assert.equal(t0["task_time_returned"], formatMicros(T0 + 5));
    const types =
      dialect === "sqlite"
        ? await db.rows(
            "SELECT typeof(task_memoize) AS m, typeof(task_fail_cost) AS c, typeof(task_fail_count) AS n FROM task WHERE run_id = ?",
            runId,
          )
        : await db.rows(
            "SELECT pg_typeof(task_memoize)::text AS m, pg_typeof(task_fail_cost)::text AS c, pg_typeof(task_fail_count)::text AS n FROM task WHERE run_id = ?",
            runId,
          );
    assert.deepEqual(
      types[0],
      dialect === "sqlite"
        ? { m: "text", c: "real", n: "integer" }
        : { m: "text", c: "double precision", n: "integer" },
    );
    const t1 = (await db.rows("SELECT * FROM task WHERE run_id = ? AND task_id = 1", runId))[0]!;
    assert.equal(t1["task_func_name"], "app", "task_func_name is set once");
    assert.equal(t1["task_stdout"], "", "task_stdout is set once");
    assert.equal(t1["task_inputs"], "[123]", "task_inputs follows updates");
    assert.equal(t1["task_fail_cost"], 0.5);
    assert.equal(t1["task_latest_status"], "fail_retryable");
    const try0 = (await db.rows("SELECT * FROM try WHERE run_id = ? AND task_id = 0", runId))[0]!;
    assert.equal(try0["hostname"], "node1");
    assert.equal(try0["task_try_time_running"], formatMicros(T0 + 3));
    assert.equal(try0["task_fail_history"], "");
    const try1 = (await db.rows("SELECT task_executor, block_id FROM try WHERE run_id = ? AND task_id = 1", runId))[0]!;
    assert.deepEqual(try1, { task_executor: "htex", block_id: "0" });
  });

for (const dialect of DIALECTS)
  test(`awkward text survives the round trip: quotes, backslashes, braces, commas, "NULL", newlines, unicode (${dialect})`, async () => {
    const db = await testDatabase(dialect);
    const awkward = [
      'say "hi"',
      "back\\slash\\",
      "{braces}, commas",
      "NULL",
      "",
      "line\nbreak\ttab",
      "snow ☃ and 𝄞",
      "'single'",
      '\\"',
    ];
    await withStore(db.endpoint, "run-text", notices(), async (s) => {
      const out = await s.applyBatch([
        workflowStart(),
        ...awkward.map((text, i) => taskFirst(i, { task_inputs: text, task_stdout: text })),
      ]);
      assert.deepEqual(out.rejected, []);
    });
    const got = await db.rows<{ task_id: number; task_inputs: string; task_stdout: string }>(
      "SELECT task_id, task_inputs, task_stdout FROM task WHERE run_id = ? ORDER BY task_id",
      "run-text",
    );
    assert.deepEqual(
      got.map((r) => r.task_inputs),
      awkward,
    );
    assert.deepEqual(
      got.map((r) => r.task_stdout),
      awkward,
    );
  });

for (const dialect of DIALECTS)
  test(`replaying the same batches gives identical rows in every table (${dialect})`, async () => {
    const db = await testDatabase(dialect);
    const file = db.endpoint;
    const runId = "run-replay";
    const batches: MonitoringEvent[][] = [
      [workflowStart(), ...taskLifecycle(0), ...taskLifecycle(1).slice(0, 5)],
      [
        ...taskLifecycle(1).slice(5),
        ...taskLifecycle(2),
        {
          t: "resource",
          row: {
            try_id: 0,
            task_id: 2,
            timestamp: T0 + 7,
            psutil_process_pid: 42,
            psutil_cpu_num: "1",
            psutil_process_memory_resident: 1.5e8,
          },
        },
        {
          t: "node",
          row: {
            hostname: "n",
            uid: "abc123",
            block_id: "0",
            cpu_count: 2,
            total_memory: 25276514304,
            active: true,
            worker_count: 2,
            python_v: "node-20",
            timestamp: T0 + 8,
            last_heartbeat: T0 + 8,
          },
        },
        {
          t: "block",
          row: { executor_label: "htex", block_id: "0", job_id: "123", timestamp: T0 + 9, status: "PENDING" },
        },
        { t: "counts", tasks_completed_count: 3, tasks_failed_count: 0 },
      ],
      [
        {
          t: "workflow_end",
          time_completed: T0 + 1000,
          tasks_completed_count: 3,
          tasks_failed_count: 0,
          run_status: "completed",
        },
      ],
    ];
    await withStore(file, runId, notices(), async (s) => {
      for (const b of batches) await s.applyBatch(b);
      const once = await snapshot(db);
      for (const b of batches) await s.applyBatch(b);
      assert.equal(await snapshot(db), once);
      await s.applyBatch(batches[1]!);
      assert.equal(await snapshot(db), once, "a late replay of a middle batch changes nothing either");
    });
    const wf = (await db.rows("SELECT * FROM workflow WHERE run_id = ?", runId))[0]!;
    assert.equal(wf["run_status"], "completed");
    assert.equal(wf["tasks_completed_count"], 3);
    assert.equal(wf["time_completed"], formatMicros(T0 + 1000));
    const node = await db.rows("SELECT active, total_memory FROM node WHERE run_id = ?", runId);
    // Parsl's BOOLEAN: 1 on SQLite (as SQLAlchemy stores it), true on PostgreSQL.
    assert.deepEqual(node, [{ active: dialect === "sqlite" ? 1 : true, total_memory: 25276514304 }]);
    assert.equal(
      (await db.rows("SELECT psutil_cpu_num FROM resource WHERE run_id = ?", runId))[0]!["psutil_cpu_num"],
      "1",
    );
  });

for (const dialect of DIALECTS)
  test(`task_latest_status follows every status row across batches; a replayed older batch never sets it back (${dialect})`, async () => {
    const db = await testDatabase(dialect);
    const file = db.endpoint;
    const runId = "run-latest";
    const n = 300; // more than one grouped UPDATE per column set, plus leftovers written row by row
    // Batch k holds the k-th status (and the task/try events before it) of every task.
    const batches: MonitoringEvent[][] = [[workflowStart()], [], [], [], []];
    for (let i = 0; i < n; i++) {
      const life = taskLifecycle(i);
      let k = 0;
      for (const e of life) {
        batches[k]!.push(e);
        if (e.t === "status") k = Math.min(k + 1, 4);
      }
    }
    const states = ["pending", "launched", "running", "running_ended", "exec_done"];
    const latest = async (): Promise<Map<unknown, unknown>> =>
      new Map(
        (await db.rows("SELECT task_id, task_latest_status FROM task WHERE run_id = ?", runId)).map((r) => [
          r["task_id"],
          r["task_latest_status"],
        ]),
      );
    const expectAll = async (state: string, why: string): Promise<void> => {
      const got = await latest();
      assert.equal(got.size, n);
      for (const [id, st] of got) assert.equal(st, state, `task ${String(id)}: ${why}`);
    };
    await withStore(file, runId, notices(), async (s) => {
      for (let k = 0; k < 5; k++) {
        assert.deepEqual((await s.applyBatch(batches[k]!)).rejected, []);
        await expectAll(states[k]!, `after batch ${k}`);
      }
      for (let k = 0; k < 4; k++) {
        await s.applyBatch(batches[k]!);
        await expectAll("exec_done", `after replaying batch ${k}`);
      }
      // A status-only batch (the task event came earlier) moves the state too: a retry begins.
      const retry: MonitoringEvent[] = [];
      for (let i = 0; i < n; i++)
        retry.push({ t: "status", task_id: i, try_id: 1, state: "pending", ts: T0 + i * 100 + 50 });
      await s.applyBatch(retry);
      await expectAll("pending", "after a status-only batch");
      await s.applyBatch(batches[4]!);
      await expectAll("pending", "after replaying the batch with the older exec_done");
    });
    // A writer that died after committing a batch gets it again, coalesced with the next one:
    // the task rows' inserts meet existing rows, and the newer states still win.
    const db2 = await testDatabase(dialect);
    await withStore(db2.endpoint, runId, notices(), async (s) => {
      await s.applyBatch(batches[0]!);
      await s.applyBatch([...batches[0]!, ...batches[1]!]);
      const got = await db2.rows("SELECT DISTINCT task_latest_status AS st FROM task WHERE run_id = ?", runId);
      assert.deepEqual(got, [{ st: "launched" }]);
    });
  });

for (const dialect of DIALECTS)
  test(`large batches (grouped statements) replay idempotently and match row-by-row writes (${dialect})`, async () => {
    const grouped = await testDatabase(dialect);
    const single = await testDatabase(dialect);
    const runId = "run-grouped";
    const events = [workflowStart(), ...Array.from({ length: 150 }, (_, i) => taskLifecycle(i)).flat()];
    await withStore(grouped.endpoint, runId, notices(), async (s) => {
      const out = await s.applyBatch(events);
      assert.equal(out.rows, 1 + 150 * 7);
      const once = await snapshot(grouped);
      // The replay meets stored keys: written again with upserts, nothing refused, nothing changed.
      const again = await s.applyBatch(events);
      assert.deepEqual(again.rejected, []);
      assert.equal(again.rows, 1 + 150 * 7);
      assert.equal(await snapshot(grouped), once);
    });
    // The same events one at a time: no grouping, no coalescing.
    await withStore(single.endpoint, runId, notices(), async (s) => {
      for (const e of events) await s.applyBatch([e]);
    });
    assert.equal(await snapshot(grouped), await snapshot(single));
    assert.equal((await grouped.rows("SELECT COUNT(*) AS n FROM status WHERE run_id = ?", runId))[0]!["n"], 750);
  });

for (const dialect of DIALECTS)
  test(`a row the database refuses is reported by table and key; the rest of the batch is written (${dialect})`, async () => {
    const db = await testDatabase(dialect);
    const file = db.endpoint;
    const runId = "run-refused";
    await withStore(file, runId, notices(), async (s) => {
      const bad = {
        t: "task",
        task_id: 7,
        first: true,
        cols: { task_func_name: "no_memoize_flag", task_fail_count: 0, task_fail_cost: 0 },
      } as MonitoringEvent;
      const out = await s.applyBatch([workflowStart(), ...taskLifecycle(0), bad, ...taskLifecycle(1)]);
      assert.equal(out.rejected.length, 1);
      assert.match(
        out.rejected[0]!,
        dialect === "sqlite"
          ? /^task 7 \(run run-refused\) was refused: SQLITE_CONSTRAINT_NOTNULL: .*task\.task_memoize/
          : /^task 7 \(run run-refused\) was refused: null value in column "task_memoize" of relation "task" violates not-null constraint \(23502\)/,
      );
    });
    assert.deepEqual(
      (await db.rows("SELECT task_id FROM task WHERE run_id = ? ORDER BY task_id", runId)).map((r) => r["task_id"]),
      [0, 1],
    );
    assert.equal((await db.rows("SELECT COUNT(*) AS n FROM status WHERE run_id = ?", runId))[0]!["n"], 10);
  });

for (const dialect of DIALECTS)
  test(`an event naming a column its table lacks refuses that row, named, whether it is a first event or a later one; the rest is written (${dialect})`, async () => {
    const db = await testDatabase(dialect);
    const runId = "run-unknown-column";
    await withStore(db.endpoint, runId, notices(), async (s) => {
      const first = await s.applyBatch([
        workflowStart(),
        ...taskLifecycle(0),
        taskFirst(3, { task_colour: "blue" }),
        ...taskLifecycle(4),
      ]);
      assert.deepEqual(first.rejected, [`task 3 (run ${runId}) was refused: task has no column "task_colour"`]);
      const later = await s.applyBatch([
        { t: "try", task_id: 0, try_id: 0, first: false, cols: { hostname: "elsewhere", try_colour: "red" } },
        { t: "try", task_id: 4, try_id: 0, first: false, cols: { hostname: "node2" } },
      ] as MonitoringEvent[]);
      assert.deepEqual(later.rejected, [`try 0 of task 0 (run ${runId}) was refused: try has no column "try_colour"`]);
    });
    assert.deepEqual(await db.rows("SELECT task_id, hostname FROM try WHERE run_id = ? ORDER BY task_id", runId), [
      { task_id: 0, hostname: "node1" },
      { task_id: 4, hostname: "node2" },
    ]);
    assert.deepEqual(
      (await db.rows("SELECT task_id FROM task WHERE run_id = ? ORDER BY task_id", runId)).map((r) => r["task_id"]),
      [0, 4],
    );
  });

for (const dialect of DIALECTS)
  test(`an update for a task whose first event never arrived is reported, not silently lost (${dialect})`, async () => {
    const db = await testDatabase(dialect);
    const file = db.endpoint;
    await withStore(file, "run-orphan", notices(), async (s) => {
      const out = await s.applyBatch([
        workflowStart(),
        ...taskLifecycle(0),
        { t: "task", task_id: 5, first: false, cols: { task_hashsum: "x" } },
        { t: "try", task_id: 5, try_id: 1, first: false, cols: { hostname: "h" } },
      ]);
      assert.deepEqual(out.rejected, [
        "task 5 (run run-orphan): an update found no row (its first event never arrived), so it was not written",
        "try 1 of task 5 (run run-orphan): an update found no row (its first event never arrived), so it was not written",
      ]);
    });
  });

for (const dialect of DIALECTS)
  test(`updates of many existing rows arrive in later batches, grouped; an orphan among them is named, the others are written (${dialect})`, async () => {
    const db = await testDatabase(dialect);
    const file = db.endpoint;
    const runId = "run-grouped";
    const n = 700; // several statement groups of both task and try updates
    await withStore(file, runId, notices(), async (s) => {
      const firsts: MonitoringEvent[] = [workflowStart()];
      const laters: MonitoringEvent[] = [];
      for (let i = 0; i < n; i++) {
        const [task, status, tryFirst, ...rest] = taskLifecycle(i);
        firsts.push(task!, status!, tryFirst!);
        laters.push(...rest);
      }
      assert.deepEqual((await s.applyBatch(firsts)).rejected, []);
      // The orphan carries the same column set as the real (coalesced) updates, latest state included, so it lands inside a group.
      laters.splice(
        400,
        0,
        { t: "task", task_id: n + 5, first: false, cols: { task_hashsum: "abc", task_time_returned: T0 } },
        { t: "status", task_id: n + 5, try_id: 0, state: "exec_done", ts: T0 },
        {
          t: "try",
          task_id: n + 5,
          try_id: 0,
          first: false,
          cols: { task_try_time_running: T0, hostname: "node1", task_try_time_returned: T0, task_fail_history: "" },
        },
      );
      const out = await s.applyBatch(laters);
      assert.deepEqual(out.rejected, [
        `task ${n + 5} (run ${runId}): an update found no row (its first event never arrived), so it was not written`,
        `try 0 of task ${n + 5} (run ${runId}): an update found no row (its first event never arrived), so it was not written`,
      ]);
    });
    const tasks = await db.rows(
      "SELECT task_id, task_latest_status, task_hashsum, task_time_returned FROM task WHERE run_id = ? ORDER BY task_id",
      runId,
    );
    assert.equal(tasks.length, n);
    tasks.forEach((r, i) => {
      assert.deepEqual(r, {
        task_id: i,
        task_latest_status: "exec_done",
        task_hashsum: "abc",
        task_time_returned: formatMicros(T0 + i * 100 + 5),
      });
    });
    const tries = await db.rows(
      "SELECT task_id, hostname, task_try_time_running, task_try_time_returned, task_fail_history FROM try WHERE run_id = ? ORDER BY task_id",
      runId,
    );
    assert.equal(tries.length, n);
    tries.forEach((r, i) => {
      const t = T0 + i * 100;
      assert.deepEqual(r, {
        task_id: i,
        hostname: "node1",
        task_try_time_running: formatMicros(t + 3),
        task_try_time_returned: formatMicros(t + 5),
        task_fail_history: "",
      });
    });
    // The orphan's status row is kept (status rows need no task row, as in Parsl).
    assert.equal((await db.rows("SELECT COUNT(*) AS n FROM status WHERE run_id = ?", runId))[0]!["n"], 5 * n + 1);
  });

for (const dialect of DIALECTS)
  test(`markCrashed only touches a started run that never ended; heartbeat only a live run (${dialect})`, async () => {
    const db = await testDatabase(dialect);
    const file = db.endpoint;
    await withStore(file, "never-started", notices(), async (s) => {
      assert.equal(await s.markCrashed(T0), false);
    });
    await withStore(file, "ended", notices(), async (s) => {
      await s.applyBatch([
        workflowStart(),
        {
          t: "workflow_end",
          time_completed: T0 + 9,
          tasks_completed_count: 0,
          tasks_failed_count: 0,
          run_status: "completed",
        },
      ]);
      await s.heartbeat(T0 + 50);
      assert.equal(await s.markCrashed(T0 + 99), false);
    });
    await withStore(file, "crashed", notices(), async (s) => {
      await s.applyBatch([workflowStart()]);
      await s.heartbeat(T0 + 50);
      assert.equal(await s.markCrashed(T0 + 99), true);
    });
    const wf = await db.rows("SELECT run_id, run_status, time_completed, last_heartbeat FROM workflow ORDER BY run_id");
    assert.deepEqual(wf, [
      {
        run_id: "crashed",
        run_status: "crashed",
        time_completed: formatMicros(T0 + 99),
        last_heartbeat: formatMicros(T0 + 50),
      },
      {
        run_id: "ended",
        run_status: "completed",
        time_completed: formatMicros(T0 + 9),
        last_heartbeat: formatMicros(T0),
      },
    ]);
  });

test("a file that is not a database is refused with its path", async () => {
  const file = path.join(tempDir(), "notes.txt");
  fs.writeFileSync(file, "these are my notes, not a database ".repeat(200));
  await assert.rejects(openStore(file, "r", notices()), (err: Error) =>
    err.message.startsWith(`cannot set up monitoring database ${file}: SQLITE_NOTADB`),
  );
  assert.equal(fs.readFileSync(file, "utf8").slice(0, 9), "these are", "the file is left alone");
});

test("a batch waits out another connection's exclusive lock: one warning, one note, nothing lost", async () => {
  const file = path.join(tempDir(), "m.db");
  const runId = "run-locked";
  const n = notices();
  await withStore(file, runId, n, async (s) => {
    await s.applyBatch([workflowStart()]);
    const other = new Database(file);
    other.exec("BEGIN EXCLUSIVE");
    const release = setTimeout(() => {
      other.exec("COMMIT");
      other.close();
    }, 1200);
    const started = Date.now();
    const out = await s.applyBatch([...taskLifecycle(0), ...taskLifecycle(1)]);
    clearTimeout(release);
    assert.ok(Date.now() - started >= 1000, "the batch waited for the lock");
    assert.equal(out.rejected.length, 0);
  });
  assert.equal(n.warnings.length, 1);
  assert.match(n.warnings[0]!, /monitoring database .*m\.db is locked by another connection; waiting, nothing is lost/);
  assert.equal(n.notes.filter((m) => /writable again/.test(m)).length, 1);
  assert.equal(all(file, "SELECT COUNT(*) AS n FROM status WHERE run_id = ?", runId)[0]!["n"], 10);
});

test("opening waits for a lock held at startup", async () => {
  const file = path.join(tempDir(), "m.db");
  await withStore(file, "r0", notices(), async () => {}); // an existing monitoring database
  const other = new Database(file);
  other.exec("BEGIN EXCLUSIVE");
  setTimeout(() => {
    other.exec("COMMIT");
    other.close();
  }, 1500);
  const n = notices();
  await withStore(file, "r", n, async (s) => {
    await s.applyBatch([workflowStart()]);
  });
  assert.equal(n.warnings.length, 1);
  assert.match(n.warnings[0]!, /is locked by another connection/);
  assert.equal(all(file, "SELECT COUNT(*) AS n FROM workflow")[0]!["n"], 1);
});

test("describeEndpoint hides a PostgreSQL password", () => {
  assert.equal(
    describeEndpoint(parseEndpoint("postgresql://me:s3cret@db.example:5432/parsl")),
    "postgresql://me:***@db.example:5432/parsl",
  );
  assert.equal(describeEndpoint(parseEndpoint("sqlite:////var/m.db")), "/var/m.db");
});

test("judgeRun, the one run-status rule: a heartbeat stale by the run's own period means crashed; Python Parsl rows by end time and activity", async () => {
  const { judgeRun, ACTIVITY_STALE_SECONDS } = await import("../src/database/runStatus.js");
  type Facts = Parameters<typeof judgeRun>[0];
  const now = T0 + 60_000_000;
  const base: Facts = {
    runStatus: null,
    lastHeartbeat: null,
    heartbeatPeriod: null,
    timeCompleted: null,
    lastActivity: null,
    tasksFailed: 0,
    now,
  };
  const judge = (f: Partial<Facts>) => judgeRun({ ...base, ...f }).status;
  assert.equal(
    judge({ runStatus: "running", lastHeartbeat: now - 14_000_000 }),
    "running",
    "default period 5 s: 15 s allowed",
  );
  assert.equal(judge({ runStatus: "running", lastHeartbeat: now - 16_000_000 }), "crashed");
  assert.equal(
    judge({ runStatus: "running", lastHeartbeat: now - 16_000_000, heartbeatPeriod: 10 }),
    "running",
    "its own period 10 s: 30 s allowed",
  );
  assert.equal(
    judge({ runStatus: "running", lastHeartbeat: now - 2_000_000, heartbeatPeriod: 0.5 }),
    "crashed",
    "its own period 0.5 s: 1.5 s allowed",
  );
  assert.equal(judge({ runStatus: "running" }), "unknown", "running without any heartbeat");
  assert.equal(judge({ runStatus: "completed", timeCompleted: now, lastHeartbeat: T0 }), "completed");
  assert.equal(judge({ runStatus: "interrupted", timeCompleted: now }), "interrupted");
  assert.equal(judge({}), "unknown");
  assert.equal(judge({ timeCompleted: now, tasksFailed: 2 }), "failed");
  assert.equal(judge({ timeCompleted: now }), "completed");
  assert.equal(judge({ lastActivity: now - 1_000_000 }), "running", "a Python Parsl run still writing");
  assert.equal(judge({ lastActivity: now - (ACTIVITY_STALE_SECONDS + 1) * 1e6 }), "unknown");
  assert.equal(judge({ runStatus: "sleeping" }), "unknown");
  assert.match(judgeRun({ ...base, runStatus: "sleeping" }).reason, /unknown value "sleeping"/);
  // The fixture's runs: two finished with failed tasks, one SIGKILLed long ago.
  const fixtureRuns = all(FIXTURE, "SELECT time_completed, tasks_failed_count FROM workflow ORDER BY time_began");
  assert.deepEqual(
    fixtureRuns.map((r) =>
      judge({
        timeCompleted: r["time_completed"] === null ? null : parseDateTime(r["time_completed"] as string),
        tasksFailed: r["tasks_failed_count"] as number,
      }),
    ),
    ["failed", "failed", "unknown"],
  );
});

test("PostgreSQL: a batch's updates look their rows up by key; they do not read the whole run each batch", async () => {
  // The planner's statistics lag a task table that grows within one run; left to itself it read
  // every task row of the run to update one batch's (a cost growing with the run).
  const db = await testDatabase("postgresql");
  const runId = "run-update-plan";
  const batches = 10;
  const per = 300;
  await withStore(db.endpoint, runId, notices(), async (s) => {
    await s.applyBatch([workflowStart()]);
    for (let b = 0; b < batches; b++) {
      // As in a burst of submissions: the batch's launches, then (in a later transaction) its completions.
      const launches: MonitoringEvent[] = [];
      const completions: MonitoringEvent[] = [];
      for (let i = b * per; i < (b + 1) * per; i++) {
        const [task, status, tryFirst, ...rest] = taskLifecycle(i);
        launches.push(task!, status!, tryFirst!);
        completions.push(...rest);
      }
      assert.deepEqual((await s.applyBatch(launches)).rejected, []);
      assert.deepEqual((await s.applyBatch(completions)).rejected, []);
    }
  });
  const tasks = batches * per;
  // The store's connections report their table counters when they end (closed above); wait for them.
  let read = 0;
  for (const deadline = Date.now() + 20_000; ; await new Promise((r) => setTimeout(r, 50))) {
    const rows = await db.rows<{ seq_tup_read: string; idx_tup_fetch: string; n: string }>(
      "SELECT seq_tup_read, COALESCE(idx_tup_fetch, 0) AS idx_tup_fetch, seq_scan + COALESCE(idx_scan, 0) AS n FROM pg_stat_user_tables WHERE relname = 'task'",
    );
    read = Number(rows[0]!.seq_tup_read) + Number(rows[0]!.idx_tup_fetch);
    if (Number(rows[0]!.n) > 0) break;
    assert.ok(Date.now() < deadline, "the store's connections never reported their table statistics");
  }
  // By key: about one row read per row updated. The whole run per batch: the run's size summed over the batches (5.5 × tasks here).
  assert.ok(read < 2 * tasks, `the updates read ${read} task rows to update ${tasks}`);
  assert.equal(
    await db.count("SELECT COUNT(*) FROM task WHERE run_id = ? AND task_latest_status = 'exec_done'", runId),
    tasks,
  );
});
