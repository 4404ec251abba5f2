/**
 * `parsl-ts db check`: what differs from the schema this code writes (schema.ts), and what in the
 * data does not hold together. Read-only: it needs only SELECT. Each finding says what is wrong
 * and, where there is one, what fixes it.
 */
import type { Queryable } from "../connection.js";
import { judgeStoredRun, workflowFactsColumns, type WorkflowFacts } from "../runFacts.js";
import { INDEXES, TABLES, type TableName } from "../schema.js";
import { readSchema, SCHEMA_VERSION, type SchemaState } from "../schemaSetup.js";
import { ident, list, raw, sql } from "../sql.js";
import { assertMonitoringDatabase, effectiveVersion, versionLabel } from "./upgrade.js";

export type Severity = "error" | "warning";

export interface Finding {
  /** A stable name for the kind of problem (JSON consumers switch on it). */
  readonly kind:
    | "schema_newer"
    | "schema_older"
    | "missing_table"
    | "missing_columns"
    | "missing_index"
    | "column_type"
    | "corrupt"
    | "orphan_rows"
    | "try_without_task"
    | "latest_status_mismatch"
    | "stale_running_run";
  readonly severity: Severity;
  readonly message: string;
  readonly table?: string;
  /** How many rows (or tasks, or runs) are affected; per-task kinds stop counting at 1,001 ("more than 1,000"). */
  readonly count?: number;
}

export interface CheckReport {
  readonly database: string;
  readonly dialect: string;
  readonly schemaVersion: number | null;
  readonly schemaVersionLabel: string;
  readonly codeSchemaVersion: number;
  readonly findings: Finding[];
}

const SAMPLE = 5;
/** The first few, for a message that states the count itself. */
const sample = (items: readonly (string | number)[]): string =>
  items.slice(0, SAMPLE).join(", ") + (items.length > SAMPLE ? ", …" : "");
/** Rows fetched for a per-task problem: enough to count a few and name some, bounded for a badly broken database. */
const ROW_LIMIT = 1000;
const howMany = (n: number): string => (n > ROW_LIMIT ? `more than ${ROW_LIMIT}` : String(n));

function schemaFindings(
  db: Queryable,
  state: SchemaState,
  types: ReadonlyMap<string, ReadonlyMap<string, string>>,
): Finding[] {
  const out: Finding[] = [];
  const version = effectiveVersion(state);
  if (version !== null && version > SCHEMA_VERSION) {
    out.push({
      kind: "schema_newer",
      severity: "warning",
      message:
        `the database is at parsl-ts schema version ${version}, newer than ` +
        `this parsl-ts (${SCHEMA_VERSION}): this parsl-ts is older than the one that wrote it; upgrade parsl-ts before writing to it`,
    });
  } else if (version === null || version < SCHEMA_VERSION) {
    out.push({
      kind: "schema_older",
      severity: "warning",
      message:
        `schema version ${versionLabel(version, state)}, this parsl-ts writes ` +
        `${SCHEMA_VERSION}: 'parsl-ts db upgrade' brings it up to date`,
    });
  }
  for (const t of TABLES) {
    const present = state.tables.get(t.name);
    if (!present) {
      out.push({
        kind: "missing_table",
        severity: "error",
        table: t.name,
        message: `table ${t.name} is missing ('parsl-ts db upgrade' creates it)`,
      });
      continue;
    }
    const missing = t.columns.filter((c) => !present.has(c.name));
    if (missing.length > 0) {
      const required = missing.some((c) => c.notNull);
      out.push({
        kind: "missing_columns",
        severity: required ? "error" : "warning",
        table: t.name,
        count: missing.length,
        message:
          `table ${t.name} lacks column(s) ${missing.map((c) => c.name).join(", ")}` +
          (required
            ? " (required by Parsl: the table was not written by a compatible Parsl)"
            : " (parsl-ts additions: 'parsl-ts db upgrade' adds them)"),
      });
    }
    const declared = types.get(t.name);
    for (const c of t.columns) {
      const actual = declared?.get(c.name);
      if (actual === undefined) continue;
      const expected =
        db.dialect.name === "postgresql" && t.autoincrementKey === c.name ? "integer" : db.dialect.columnType(c.type);
      if (actual.toLowerCase() !== expected.toLowerCase()) {
        out.push({
          kind: "column_type",
          severity: "warning",
          table: t.name,
          message: `column ${t.name}.${c.name} is ${actual}, expected ${expected}`,
        });
      }
    }
  }
  for (const ix of INDEXES) {
    if (state.tables.has(ix.table) && !state.indexes.has(ix.name)) {
      out.push({
        kind: "missing_index",
        severity: "warning",
        table: ix.table,
        message: `index ${ix.name} on ${ix.table} (${ix.columns.join(", ")}) is missing ('parsl-ts db upgrade' creates it)`,
      });
    }
  }
  return out;
}

/** Rows of `table` whose run has no workflow row, grouped by run. */
async function orphans(db: Queryable, table: TableName): Promise<Finding | null> {
  const rows = await db.all<{
    run_id: string;
    n: number;
  }>(sql`SELECT x.${ident("run_id")} AS run_id, COUNT(*) AS n FROM ${ident(table)} x
    WHERE NOT EXISTS (SELECT 1 FROM ${ident("workflow")} w WHERE w.${ident("run_id")} = x.${ident("run_id")}) GROUP BY x.${ident("run_id")}`);
  if (rows.length === 0) return null;
  const n = rows.reduce((s, r) => s + Number(r.n), 0);
  return {
    kind: "orphan_rows",
    severity: "error",
    table,
    count: n,
    message: `${n} ${table} row(s) belong to run(s) with no workflow row: ${sample(rows.map((r) => r.run_id))}`,
  };
}

export async function checkDatabase(db: Queryable, location: string): Promise<CheckReport> {
  const state = await readSchema(db);
  assertMonitoringDatabase(state, location);
  const types = new Map<string, Map<string, string>>();
  for (const t of TABLES) {
    if (!state.tables.has(t.name)) continue;
    const cols = await db.all<{ name: string; type: string }>(db.dialect.columnTypes(t.name));
    types.set(t.name, new Map(cols.map((c) => [c.name, String(c.type)])));
  }
  const findings = schemaFindings(db, state, types);

  if (db.dialect.name === "sqlite") {
    const rows = await db.all<{ quick_check: string }>(raw("PRAGMA quick_check"));
    const problems = rows.map((r) => String(Object.values(r)[0])).filter((v) => v !== "ok");
    if (problems.length > 0) {
      findings.push({
        kind: "corrupt",
        severity: "error",
        count: problems.length,
        message: `PRAGMA quick_check found damage: ${problems.slice(0, SAMPLE).join("; ")}`,
      });
    }
  }

  for (const t of ["task", "try", "status", "resource", "node", "block"] as const) {
    if (!state.tables.has(t)) continue;
    const f = await orphans(db, t);
    if (f) findings.push(f);
  }

  if (state.tables.has("try")) {
    const rows = await db.all<{
      run_id: string;
      task_id: number;
    }>(sql`SELECT y.${ident("run_id")} AS run_id, y.${ident("task_id")} AS task_id
      FROM ${ident("try")} y WHERE NOT EXISTS (SELECT 1 FROM ${ident("task")} k
        WHERE k.${ident("task_id")} = y.${ident("task_id")} AND k.${ident("run_id")} = y.${ident("run_id")})
      GROUP BY y.${ident("run_id")}, y.${ident("task_id")} ORDER BY 1, 2 LIMIT ${ROW_LIMIT + 1}`);
    if (rows.length > 0) {
      findings.push({
        kind: "try_without_task",
        severity: "error",
        table: "try",
        count: rows.length,
        message: `try rows of ${howMany(rows.length)} task(s) that have no task row: ${sample(rows.map((r) => `${r.run_id}/${r.task_id}`))}`,
      });
    }
  }

  // Runs: stale "running" ones, and which are live (their tasks' latest status may lag a moment).
  const workflows = await db.all<WorkflowFacts>(
    sql`SELECT ${workflowFactsColumns(state.tables.get("workflow")!)} FROM ${ident("workflow")} w`,
  );
  const live: string[] = [];
  for (const w of workflows) {
    const verdict = await judgeStoredRun(db, w);
    if (verdict.status === "running") live.push(w.run_id);
    if (w.run_status === "running" && verdict.status === "crashed") {
      findings.push({
        kind: "stale_running_run",
        severity: "warning",
        table: "workflow",
        count: 1,
        message:
          `run ${w.run_id} (${w.workflow_name ?? "unnamed"}) is marked running, but ${verdict.reason.replace(/^marked running, but /, "")}: ` +
          "its writer died; readers show it as crashed",
      });
    }
  }

  if (state.tables.get("task")?.has("task_latest_status") && state.tables.has("status")) {
    const k = raw("k"),
      s = raw("s"),
      s2 = raw("s2");
    const same = (a: typeof k, b: typeof k) =>
      sql`${a}.${ident("task_id")} = ${b}.${ident("task_id")} AND ${a}.${ident("run_id")} = ${b}.${ident("run_id")}`;
    // NOT IN (NULL) would match nothing: without live runs there is no condition.
    const notLive = live.length > 0 ? sql`k.${ident("run_id")} NOT IN ${list(live)}` : raw("1 = 1");
    // The newest status row(s) of the task (ties allowed) must include the recorded latest state.
    const rows = await db.all<{
      run_id: string;
      task_id: number;
      latest: string;
    }>(sql`SELECT k.${ident("run_id")} AS run_id,
        k.${ident("task_id")} AS task_id, k.${ident("task_latest_status")} AS latest
      FROM ${ident("task")} k
      WHERE k.${ident("task_latest_status")} IS NOT NULL AND ${notLive}
        AND EXISTS (SELECT 1 FROM ${ident("status")} s WHERE ${same(s, k)})
        AND NOT EXISTS (SELECT 1 FROM ${ident("status")} s WHERE ${same(s, k)} AND s.${ident("task_status_name")} = k.${ident("task_latest_status")}
          AND s.${ident("timestamp")} = (SELECT MAX(s2.${ident("timestamp")}) FROM ${ident("status")} s2 WHERE ${same(s2, k)}))
      ORDER BY 1, 2 LIMIT ${ROW_LIMIT + 1}`);
    if (rows.length > 0) {
      findings.push({
        kind: "latest_status_mismatch",
        severity: "error",
        table: "task",
        count: rows.length,
        message:
          `${howMany(rows.length)} task(s) whose task_latest_status is not their newest status row: ` +
          sample(rows.map((r) => `${r.run_id}/${r.task_id} (${r.latest})`)),
      });
    }
  }
  const version = effectiveVersion(state);
  return {
    database: location,
    dialect: db.dialect.name,
    schemaVersion: version,
    schemaVersionLabel: versionLabel(version, state),
    codeSchemaVersion: SCHEMA_VERSION,
    findings,
  };
}
