/**
 * `parsl-ts export`: round trips (CSV, JSON lines and Parquet read back equal the database rows)
 * on the Python Parsl fixture in SQLite, PostgreSQL with our schema and PostgreSQL with Parsl's
 * own, and on a database a real parsl-ts workflow wrote; OTLP parsed, counted and linked; the
 * real CLI for exit statuses and clear errors.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import test from "node:test";
import { fileURLToPath } from "node:url";
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import { connect, type Connection } from "../src/database/connection.js";
import { ReadContext } from "../src/database/queries/context.js";
import { ident, join, sql } from "../src/database/sql.js";
import type { ColumnType, TableName } from "../src/database/schema.js";
import { exportRuns, type ExportFormat, type Manifest } from "../src/export/index.js";
import { copyFixture, RUN1, RUN2, RUN3, servedDatabase, tempDir, type ServedKind } from "./visualizer-helpers.js";
import { runSmallWorkflow } from "./helpers.js";

const CLI = fileURLToPath(new URL("../src/cli/parsl-ts.cjs", import.meta.url));
const RUNS = [RUN1, RUN2, RUN3];
const TABLE_NAMES: TableName[] = ["workflow", "task", "try", "status", "resource", "node", "block"];

/** The fixture README's row counts of run 1. */
const RUN1_COUNTS = { workflow: 1, task: 173, try: 199, status: 968, resource: 131, node: 235, block: 3 };

interface Col {
  name: string;
  type: ColumnType;
}

function columnsOf(m: Manifest, table: TableName): Col[] {
  const t = m.tables!.find((x) => x.name === table)!;
  return t.columns.map((c) => ({ name: c.name, type: c.type as ColumnType }));
}

/** Every row of the runs, read in one plain query (not the exporter's paging). */
async function dbRows(
  db: Connection,
  table: TableName,
  cols: Col[],
  runs: string[],
): Promise<Record<string, unknown>[]> {
  return db.all(sql`SELECT ${join(
    cols.map((c) => ident(c.name)),
    ", ",
  )} FROM ${ident(table)}
    WHERE run_id IN (${join(
      runs.map((r) => sql`${r}`),
      ", ",
    )})`);
}

/** RFC 4180 parser: rows of fields; an unquoted empty field is null (NULL), a quoted one "". */
function parseCsv(text: string): (string | null)[][] {
  const rows: (string | null)[][] = [];
  let row: (string | null)[] = [];
  let i = 0;
  for (;;) {
    let field: string | null;
    if (text[i] === '"') {
      let s = "";
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        assert.ok(q >= 0, "unterminated quoted field");
        s += text.slice(i, q);
        i = q + 1;
        if (text[i] === '"') {
          s += '"';
          i++;
        } else break;
      }
      field = s;
    } else {
      let j = i;
      while (j < text.length && text[j] !== "," && text[j] !== "\r") j++;
      field = j === i ? null : text.slice(i, j);
      assert.ok(!/["\n]/.test(field ?? ""), `bare field with a quote or LF: ${field}`);
      i = j;
    }
    row.push(field);
    if (text[i] === ",") {
      i++;
      continue;
    }
    assert.equal(text.slice(i, i + 2), "\r\n", "records end with CRLF");
    rows.push(row);
    row = [];
    i += 2;
    if (i >= text.length) return rows;
  }
}

const isBool = (t: ColumnType) => t === "BOOLEAN";
const boolOf = (v: unknown) => (typeof v === "boolean" ? v : Number(v) !== 0);

/** Database value → CSV cell text. */
function csvExpected(t: ColumnType, v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return isBool(t) ? String(boolOf(v)) : String(v);
}

function jsonExpected(t: ColumnType, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  return isBool(t) ? boolOf(v) : v;
}

function microsOf(text: string): bigint {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$/.exec(text);
  assert.ok(m, `a Parsl timestamp: ${text}`);
  return (
    BigInt(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!)) * 1000n + BigInt((m[7] ?? "").padEnd(6, "0"))
  );
}

function parquetExpected(t: ColumnType, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  switch (t) {
    case "BOOLEAN":
      return boolOf(v);
    case "INTEGER":
    case "BIGINT":
      return BigInt(v as number);
    case "DATETIME":
      return microsOf(String(v));
    default:
      return v;
  }
}

const key = (r: unknown[]): string => JSON.stringify(r, (_k, v) => (typeof v === "bigint" ? `${v}n` : v));
const sorted = (rows: unknown[][]): string[] => rows.map(key).sort();

async function readBack(format: ExportFormat, file: string, cols: Col[]): Promise<unknown[][]> {
  if (format === "csv") {
    const [header, ...rows] = parseCsv(fs.readFileSync(file, "utf8"));
    assert.deepEqual(
      header,
      cols.map((c) => c.name),
      "header row",
    );
    return rows;
  }
  if (format === "jsonl") {
    const text = fs.readFileSync(file, "utf8");
    if (text === "") return [];
    return text
      .trimEnd()
      .split("\n")
      .map((line) => {
        const o = JSON.parse(line) as Record<string, unknown>;
        assert.deepEqual(
          Object.keys(o),
          cols.map((c) => c.name),
        );
        return cols.map((c) => o[c.name]);
      });
  }
  const buf = await asyncBufferFromFile(file);
  const meta = await parquetMetadataAsync(buf);
  // Types as documented: TEXT → UTF-8 string, INTEGER → INT64, FLOAT → DOUBLE, DATETIME → local µs timestamps.
  for (const c of cols) {
    const el = meta.schema.find((s) => s.name === c.name)!;
    const want = {
      TEXT: "BYTE_ARRAY",
      INTEGER: "INT64",
      BIGINT: "INT64",
      FLOAT: "DOUBLE",
      BOOLEAN: "BOOLEAN",
      DATETIME: "INT64",
    }[c.type];
    assert.equal(el.type, want, `${c.name} is ${want}`);
    if (c.type === "TEXT") assert.equal(el.converted_type, "UTF8");
    if (c.type === "DATETIME")
      assert.deepEqual(el.logical_type, { type: "TIMESTAMP", isAdjustedToUTC: false, unit: "MICROS" });
  }
  const objects = await parquetReadObjects({ file: buf, parsers: { timestampFromMicroseconds: (us: bigint) => us } });
  return objects.map((o) => cols.map((c) => o[c.name] ?? null));
}

/** Every table file of an export in `dir` equals the database's rows of `runs`. */
async function checkRoundTrip(
  db: Connection,
  format: ExportFormat,
  dir: string,
  m: Manifest,
  runs: string[],
): Promise<void> {
  for (const table of TABLE_NAMES) {
    const cols = columnsOf(m, table);
    const expected = (await dbRows(db, table, cols, runs)).map((r) =>
      cols.map((c) =>
        format === "csv"
          ? csvExpected(c.type, r[c.name])
          : format === "jsonl"
            ? jsonExpected(c.type, r[c.name])
            : parquetExpected(c.type, r[c.name]),
      ),
    );
    const file = path.join(dir, m.tables!.find((t) => t.name === table)!.file);
    const actual = await readBack(format, file, cols);
    assert.equal(actual.length, expected.length, `${format} ${table}: rows`);
    assert.equal(m.tables!.find((t) => t.name === table)!.rows, expected.length, `manifest rows of ${table}`);
    assert.deepEqual(sorted(actual), sorted(expected), `${format} ${table}: values`);
    if (format === "parquet") assert.equal(m.tables!.find((t) => t.name === table)!.coerced, 0);
  }
}

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: Record<string, unknown> }[];
  events?: { timeUnixNano: string; name: string }[];
  status: { code: number; message?: string };
}

const attrOf = (s: Span, k: string): unknown => {
  const a = s.attributes.find((x) => x.key === k);
  return a === undefined ? undefined : Object.values(a.value)[0];
};

/** Parses an OTLP/JSON lines file and checks its shape against the database; returns the spans by trace. */
async function checkOtlp(db: Connection, file: string, runs: string[]): Promise<Map<string, Span[]>> {
  const byTrace = new Map<string, Span[]>();
  for (const line of fs.readFileSync(file, "utf8").trimEnd().split("\n")) {
    const req = JSON.parse(line) as {
      resourceSpans: {
        resource: { attributes: unknown[] };
        scopeSpans: { scope: { name: string }; spans: Span[] }[];
      }[];
    };
    assert.ok(
      Array.isArray(req.resourceSpans) && req.resourceSpans.length > 0,
      "an ExportTraceServiceRequest per line",
    );
    for (const rs of req.resourceSpans) {
      assert.ok(rs.resource.attributes.some((a) => (a as { key: string }).key === "service.name"));
      for (const ss of rs.scopeSpans) {
        assert.equal(ss.scope.name, "parsl-ts export");
        for (const s of ss.spans) {
          assert.match(s.traceId, /^[0-9a-f]{32}$/);
          assert.doesNotMatch(s.traceId, /^0+$/);
          assert.match(s.spanId, /^[0-9a-f]{16}$/);
          assert.match(s.startTimeUnixNano, /^\d{19}$/);
          assert.match(s.endTimeUnixNano, /^\d{19}$/);
          assert.ok(BigInt(s.endTimeUnixNano) >= BigInt(s.startTimeUnixNano), `${s.name}: ends after it starts`);
          assert.equal(s.kind, 1);
          assert.ok([0, 1, 2].includes(s.status.code));
          for (const a of s.attributes) {
            const [k, v] = Object.entries(a.value)[0]!;
            assert.ok(["stringValue", "intValue", "doubleValue", "boolValue"].includes(k));
            if (k === "intValue") assert.match(String(v), /^-?\d+$/, "int64 as a decimal string");
          }
          let list = byTrace.get(s.traceId);
          if (!list) byTrace.set(s.traceId, (list = []));
          list.push(s);
        }
      }
    }
  }
  assert.equal(byTrace.size, runs.length, "one trace per run");
  const count = async (table: string, run: string): Promise<number> =>
    Number((await db.first<{ n: number }>(sql`SELECT COUNT(*) AS n FROM ${ident(table)} WHERE run_id = ${run}`))!.n);
  for (const run of runs) {
    const spans = [...byTrace.values()].find((l) =>
      l.some((s) => s.parentSpanId === undefined && attrOf(s, "cicd.pipeline.run.id") === run),
    );
    assert.ok(spans, `a trace for ${run}`);
    const tasks = await count("task", run);
    const tries = await count("try", run);
    assert.equal(spans.length, 1 + tasks + tries, `${run}: 1 + ${tasks} tasks + ${tries} tries`);
    assert.equal(new Set(spans.map((s) => s.spanId)).size, spans.length, "span ids unique");
    const roots = spans.filter((s) => s.parentSpanId === undefined);
    assert.equal(roots.length, 1);
    const taskSpans = spans.filter((s) => s.parentSpanId === roots[0]!.spanId);
    assert.equal(taskSpans.length, tasks);
    const taskIds = new Set(taskSpans.map((s) => s.spanId));
    const trySpans = spans.filter((s) => s.parentSpanId !== undefined && s.parentSpanId !== roots[0]!.spanId);
    assert.equal(trySpans.length, tries);
    for (const t of trySpans) {
      assert.ok(taskIds.has(t.parentSpanId!), "a try's parent is a task span");
      const parent = taskSpans.find((s) => s.spanId === t.parentSpanId)!;
      assert.equal(attrOf(t, "parsl.task.id"), attrOf(parent, "parsl.task.id"), "the try hangs under its own task");
    }
    const events = taskSpans.reduce((n, s) => n + (s.events?.length ?? 0), 0);
    assert.equal(events, await count("status", run), "a span event per status row");
  }
  return byTrace;
}

async function openCtx(endpoint: string): Promise<{ db: Connection; ctx: ReadContext }> {
  const db = await connect(endpoint, { readonly: true });
  return { db, ctx: await ReadContext.open(db) };
}

const SERVED: ServedKind[] = ["sqlite", "postgresql", "postgresql-parsl"];

for (const kind of SERVED) {
  test(
    `export round trips on the Python Parsl fixture (${kind}): csv, jsonl and parquet equal the database; otlp links and counts`,
    { timeout: 180_000 },
    async () => {
      const served = await servedDatabase(kind, copyFixture(tempDir()));
      const { db, ctx } = await openCtx(served.endpoint);
      const before = await served.fingerprint();
      try {
        const runs = RUNS.map((run_id) => ({ run_id, workflow_name: null }));
        for (const format of ["csv", "jsonl", "parquet"] as const) {
          const dir = path.join(tempDir(), format);
          // Pages of 7 rows: every table needs several, so keyset paging is exercised across runs.
          const m = await exportRuns(ctx, { format, dir, runs, version: "test", pageRows: 7 });
          assert.equal(m.format, format);
          const password = new URL(served.endpoint.startsWith("postgres") ? served.endpoint : "file:///").password;
          if (password !== "")
            assert.ok(!m.source.includes(password) && m.source.includes(":***@"), `password redacted: ${m.source}`);
          assert.deepEqual(
            m.runs.map((r) => r.run_id),
            RUNS,
          );
          assert.deepEqual(
            m.tables!.map((t) => t.name),
            TABLE_NAMES,
          );
          await checkRoundTrip(db, format, dir, m, RUNS);
          assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8")), m);
          assert.deepEqual(
            fs.readdirSync(dir).filter((f) => f.endsWith(".partial")),
            [],
            "no partial file left",
          );
        }
        // One run alone: the README's counts.
        const one = await exportRuns(ctx, {
          format: "csv",
          dir: path.join(tempDir(), "one"),
          runs: [{ run_id: RUN1, workflow_name: "fixture-mixed" }],
          version: "test",
        });
        assert.deepEqual(Object.fromEntries(one.tables!.map((t) => [t.name, t.rows])), RUN1_COUNTS);
        // Python Parsl's schema has none of our extra columns; the export lists what the database has.
        const taskCols = columnsOf(one, "task").map((c) => c.name);
        assert.equal(
          taskCols.includes("task_latest_status"),
          kind === "postgresql",
          "extras only where the schema has them",
        );

        const dir = path.join(tempDir(), "otlp");
        const m = await exportRuns(ctx, { format: "otlp", dir, runs, version: "test" });
        const traces = await checkOtlp(db, path.join(dir, m.traces!.file), RUNS);
        assert.equal(m.traces!.traces, 3);
        // Run 1 (README): failed, 12 failed and 5 dep_fail tasks, 2 memo hits.
        const run1 = traces.get(RUN1.replace(/-/g, ""))!;
        assert.ok(run1, "a UUID run id is its trace id");
        const root = run1.find((s) => s.parentSpanId === undefined)!;
        assert.equal(attrOf(root, "cicd.pipeline.name"), "fixture-mixed");
        assert.equal(attrOf(root, "cicd.pipeline.result"), "failure");
        assert.equal(root.status.code, 2);
        const tasks = run1.filter((s) => s.parentSpanId === root.spanId);
        assert.equal(tasks.filter((s) => attrOf(s, "cicd.pipeline.task.run.result") === "failure").length, 12);
        assert.equal(tasks.filter((s) => attrOf(s, "cicd.pipeline.task.run.result") === "skip").length, 5);
        assert.equal(tasks.filter((s) => attrOf(s, "parsl.task.memo_hit") === true).length, 2);
        assert.equal(tasks.filter((s) => s.status.code === 2).length, 17);
        const root3 = traces.get(RUN3.replace(/-/g, ""))!.find((s) => s.parentSpanId === undefined)!;
        // A Python Parsl run that recorded no end: the run-status rule says "unknown", so no result is claimed.
        assert.equal(attrOf(root3, "parsl.run.status"), "unknown");
        assert.equal(attrOf(root3, "cicd.pipeline.result"), undefined);
        assert.equal(root3.status.code, 0);
        // Tries on htex carry their block and its batch job id; failed tries are errors.
        const tries = run1.filter((s) => s.parentSpanId !== undefined && s.parentSpanId !== root.spanId);
        assert.ok(
          tries.some(
            (s) =>
              attrOf(s, "parsl.executor") === "htex" &&
              attrOf(s, "parsl.block.id") === "0" &&
              attrOf(s, "parsl.job.id") !== undefined,
          ),
        );
        assert.ok(tries.some((s) => s.status.code === 2 && typeof attrOf(s, "parsl.try.error") === "string"));
        // Task 115 (bash_fail, README): exits 3 on each of its three tries; Python Parsl keeps only the error's repr.
        const bash = tries.filter((s) => attrOf(s, "parsl.task.id") === "115");
        assert.equal(bash.length, 3);
        for (const s of bash) {
          assert.equal(attrOf(s, "error.type"), "BashExitFailure");
          assert.equal(attrOf(s, "process.exit.code"), "3");
        }
        assert.equal(typeof attrOf(tasks[0]!, "parsl.task.fail_cost"), "number", "a FLOAT column is a doubleValue");
        // The same database gives the same ids.
        const dir2 = path.join(tempDir(), "otlp");
        const again = await exportRuns(ctx, { format: "otlp", dir: dir2, runs, version: "test" });
        const ids = (f: string) =>
          fs
            .readFileSync(f, "utf8")
            .match(/"(span|trace|parentSpan)Id":"[0-9a-f]+"/g)!
            .join();
        assert.equal(ids(path.join(dir2, again.traces!.file)), ids(path.join(dir, m.traces!.file)));
        assert.equal(await served.fingerprint(), before, "the export changed nothing");
      } finally {
        await db.close();
      }
    },
  );
}

function cli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  uid?: number,
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, PARSL_TS_DB: "", ...env }, ...(uid !== undefined ? { uid, gid: uid } : {}) },
      (e, out, err) => resolve({ code: e ? (typeof e.code === "number" ? e.code : 1) : 0, out, err }),
    );
  });
}

test("export CLI: exit statuses, summary, refusals with clear messages", { timeout: 120_000 }, async () => {
  const dir = tempDir();
  const db = copyFixture(dir);
  const out = path.join(dir, "out");
  const ok = await cli(["export", "--db", db, "--format", "csv", "-o", out]);
  assert.equal(ok.code, 0, ok.err);
  assert.match(
    ok.out,
    new RegExp(`^exported run ${RUN3} from .*monitoring\\.db as csv into ${out} in \\d+\\.\\d\\d s\\n`),
  );
  assert.match(ok.out, /\n {2}task\.csv +12 rows/);
  assert.deepEqual(fs.readdirSync(out).sort(), [
    "block.csv",
    "manifest.json",
    "node.csv",
    "resource.csv",
    "status.csv",
    "task.csv",
    "try.csv",
    "workflow.csv",
  ]);

  const again = await cli(["export", "--db", db, "--format", "csv", "-o", out]);
  assert.equal(again.code, 1);
  assert.match(again.err, /already holds workflow\.csv, task\.csv, .*manifest\.json \(use --force to overwrite\)/);
  assert.equal((await cli(["export", "--db", db, "--format", "csv", "-o", out, "--force", RUN1.slice(0, 8)])).code, 0);
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, "manifest.json"), "utf8")).runs[0].run_id, RUN1);

  const file = path.join(dir, "a-file");
  fs.writeFileSync(file, "x");
  const isFile = await cli(["export", "--db", db, "--format", "jsonl", "-o", file]);
  assert.equal(isFile.code, 1);
  assert.match(isFile.err, new RegExp(`parsl-ts export: output ${file} is a file, not a directory`));
  const under = await cli(["export", "--db", db, "--format", "jsonl", "-o", path.join(file, "sub")]);
  assert.equal(under.code, 1);
  assert.match(
    under.err,
    /^parsl-ts export: cannot use .*a-file\/sub as the output directory: a part of its path is a file, not a directory \(ENOTDIR\)\n$/,
  );

  // A directory this user may not write into (root may write anywhere, so then the CLI runs as nobody).
  const locked = path.join(dir, "locked");
  fs.mkdirSync(locked, { mode: 0o555 });
  fs.chmodSync(locked, 0o555);
  fs.chmodSync(dir, 0o755);
  fs.chmodSync(db, 0o644);
  const asUser = process.getuid?.() === 0 ? 65534 : undefined;
  const denied = await cli(["export", "--db", db, "--format", "parquet", "-o", locked], {}, asUser);
  assert.equal(denied.code, 1, denied.err);
  assert.equal(denied.err, `parsl-ts export: output directory ${locked} is not writable (permission denied)\n`);
  const deniedSub = await cli(
    ["export", "--db", db, "--format", "parquet", "-o", path.join(locked, "sub")],
    {},
    asUser,
  );
  assert.equal(deniedSub.code, 1, deniedSub.err);
  assert.equal(
    deniedSub.err,
    `parsl-ts export: cannot create output directory ${path.join(locked, "sub")}: permission denied (EACCES)\n`,
  );

  const all = await cli([
    "export",
    "--db",
    db,
    "--all",
    "--workflow",
    "fixture-mixed",
    "--format",
    "otlp",
    "-o",
    path.join(dir, "otlp"),
  ]);
  assert.equal(all.code, 0, all.err);
  assert.match(all.out, /exported 2 runs .* as otlp .*\n {2}traces\.otlp\.jsonl {2}2 traces, \d+ spans/);

  for (const [args, code, msg] of [
    [["--format", "xml", "-o", out], 2, /--format must be one of csv, jsonl, parquet, otlp, got "xml"/],
    [["--format", "csv"], 2, /-o DIR is required/],
    [["-o", out], 2, /--format is required/],
    [["--all", RUN1, "--format", "csv", "-o", out], 2, /a RUN or --all, not both/],
    [["nosuchrun", "--format", "csv", "-o", out, "--force"], 1, /no run has an id starting with "nosuchrun"/],
  ] as const) {
    const r = await cli(["export", "--db", db, ...args]);
    assert.equal(r.code, code, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, msg);
  }
  const missing = await cli(["export", "--db", path.join(dir, "none.db"), "--format", "csv", "-o", out]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /none\.db does not exist/);
  const text = path.join(dir, "text.db");
  fs.writeFileSync(text, "not a database\n");
  const notDb = await cli(["export", "--db", text, "--format", "csv", "-o", out, "--force"]);
  assert.equal(notDb.code, 1);
  assert.equal(
    notDb.err,
    `parsl-ts export: cannot read ${text} as a monitoring database: SQLITE_NOTADB: file is not a database\n`,
  );
});

test(
  "export of a database a real parsl-ts workflow wrote: parquet and csv equal it; failed tries are error spans",
  { timeout: 120_000 },
  async () => {
    const dir = tempDir();
    const file = await runSmallWorkflow(dir, 'no, "quoted", comma\nnewline');
    const { db } = await openCtx(file);
    try {
      const [run] = await db.all<{ run_id: string }>(sql`SELECT run_id FROM workflow`);
      for (const format of ["csv", "parquet"] as const) {
        const out = path.join(dir, format);
        const r = await cli(["export", "--db", file, "--format", format, "-o", out]);
        assert.equal(r.code, 0, r.err);
        const m = JSON.parse(fs.readFileSync(path.join(out, "manifest.json"), "utf8")) as Manifest;
        assert.ok(
          columnsOf(m, "try").some((c) => c.name === "task_try_error"),
          "parsl-ts's columns are exported",
        );
        await checkRoundTrip(db, format, out, m, [run!.run_id]);
      }
      const out = path.join(dir, "otlp");
      assert.equal((await cli(["export", "--db", file, "--format", "otlp", "-o", out])).code, 0);
      const traces = await checkOtlp(db, path.join(out, "traces.otlp.jsonl"), [run!.run_id]);
      const spans = [...traces.values()][0]!;
      const badTries = spans.filter((s) => attrOf(s, "parsl.app") === "bad");
      assert.equal(badTries.length, 2, "retries: 1 → two tries");
      for (const s of badTries) {
        assert.equal(s.status.code, 2);
        assert.equal(attrOf(s, "error.type"), "TypeError");
        assert.match(String(attrOf(s, "parsl.try.error")), /no, "quoted", comma\nnewline/);
        assert.equal(attrOf(s, "parsl.executor"), "threads");
      }
      const afterTask = spans.find(
        (s) => attrOf(s, "cicd.pipeline.task.name") === "after" && attrOf(s, "parsl.try.id") === undefined,
      )!;
      assert.equal(attrOf(afterTask, "parsl.task.state"), "dep_fail");
      assert.deepEqual(
        afterTask.events!.map((e) => e.name),
        ["pending", "dep_fail"],
      );
    } finally {
      await db.close();
    }
  },
);

test("parquet sink: several row groups, an empty table, and values that do not fit their type written as NULL and counted", async () => {
  const { ParquetSink } = await import("../src/export/parquet.js");
  const dir = tempDir();
  const empty = await ParquetSink.create(
    dir,
    "empty.parquet",
    [
      { name: "a", type: "TEXT" },
      { name: "t", type: "DATETIME" },
    ],
    "test",
  );
  await empty.commit();
  const e = await asyncBufferFromFile(path.join(dir, "empty.parquet"));
  assert.equal((await parquetMetadataAsync(e)).num_rows, 0n);
  assert.deepEqual(await parquetReadObjects({ file: e }), []);

  const sink = await ParquetSink.create(
    dir,
    "mixed.parquet",
    [
      { name: "i", type: "INTEGER" },
      { name: "f", type: "FLOAT" },
      { name: "b", type: "BOOLEAN" },
      { name: "t", type: "DATETIME" },
      { name: "s", type: "TEXT" },
    ],
    "test",
    2,
  );
  await sink.write([
    { i: 1, f: 1.5, b: 1, t: "2026-11-24 21:52:07.544016", s: 'é,"x"\n' },
    { i: "not a number", f: "nor this", b: null, t: "not a time", s: null },
    { i: 2 ** 40, f: -0.25, b: 0, t: "2026-11-24 21:52:07", s: "" },
  ]);
  await sink.commit();
  assert.equal(sink.coerced, 3, "i, f and t of the second row");
  const buf = await asyncBufferFromFile(path.join(dir, "mixed.parquet"));
  assert.equal((await parquetMetadataAsync(buf)).row_groups.length, 2);
  const rows = await parquetReadObjects({ file: buf, parsers: { timestampFromMicroseconds: (us: bigint) => us } });
  assert.deepEqual(rows, [
    { i: 1n, f: 1.5, b: true, t: microsOf("2026-11-24 21:52:07.544016"), s: 'é,"x"\n' },
    { i: null, f: null, b: null, t: null, s: null },
    { i: 2n ** 40n, f: -0.25, b: false, t: microsOf("2026-11-24 21:52:07"), s: "" },
  ]);
  assert.deepEqual(fs.readdirSync(dir).sort(), ["empty.parquet", "mixed.parquet"], "no partial files");
});
