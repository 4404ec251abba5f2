/**
 * The PostgreSQL store (node-postgres). Several writer processes, on several hosts, may write
 * one database at once: every statement is keyed by the run, and nothing is kept in memory
 * between batches.
 *
 * Write path: a batch becomes a plan (batchPlan.ts, shared with SQLite), the plan is written in
 * one transaction with one statement per table and column set: rows travel as one array per
 * column and are expanded server-side with UNNEST (measured against multi-row VALUES: see
 * `IngestMethod`). Replays are harmless: new rows are upserts that overwrite only the columns
 * Parsl updates later, status / resource / block rows are `ON CONFLICT DO NOTHING`, node rows
 * are skipped when an identical one is stored.
 *
 * `task_latest_status` follows SQLite's rule (a replayed older batch never sets a state back),
 * without a rowid: the status insert's `RETURNING` names the status rows this batch added, and
 * a task's state is set only when the status row it came from is among them.
 *
 * Errors go by `postgresDialect.classify`: transient (a lost connection, a server restart) →
 * the whole batch is retried with backoff for as long as it takes, one warning per episode;
 * a refused row → the batch is written again row by row (each in a savepoint) and every refused
 * row is reported; anything else → PermanentStoreError.
 */
import type { Micros, MonitoringEvent } from "../../vocabulary/events.js";
import {
  DERIVED_LATEST,
  planBatch,
  TASK_BITS,
  TASK_UPDATABLE,
  TRY_BITS,
  TRY_UPDATABLE,
  type BatchPlan,
  type ColumnBits,
  type CoalescedRow,
} from "../batchPlan.js";
import type { Connection, Queryable } from "../connection.js";
import { NODE, RESOURCE, TABLES, TASK, TRY, WORKFLOW, type ColumnType, type Table } from "../schema.js";
import { ensureSchema } from "../schemaSetup.js";
import { ident, join, raw, sql, type Sql } from "../sql.js";
import {
  PermanentStoreError,
  StoreOpenError,
  type BatchOutcome,
  type PreparedBatch,
  type Store,
  type StoreNotices,
} from "../store.js";
import { formatMicros } from "../timeformat.js";
import { PostgresConnection } from "./connection.js";
import { classifyPgError, pgCode, pgErrorText, postgresDialect } from "./dialect.js";

/**
 * How rows reach the server. `unnest`: one array parameter per column, `UNNEST(…) AS v(…)`: one
 * statement per group whatever its size, few parameters to bind. `values`: a multi-row
 * `VALUES` list, one parameter per cell (chunked below PostgreSQL's 65,535 parameters).
 * Both give the same rows; bench/pgIngest.ts measures them.
 */
export type IngestMethod = "unnest" | "values";

const BACKOFF_START_MS = 50;
const BACKOFF_MAX_MS = 2000;
/** How long set-up waits out a server that is restarting before load() fails. */
const STARTUP_PATIENCE_MS = 15_000;
/** Cells per `VALUES` statement (PostgreSQL allows 65,535 parameters). */
const VALUES_CELLS = 30_000;

const PG_ARRAY_TYPE: Record<ColumnType, string> = {
  TEXT: "text",
  INTEGER: "int4",
  BIGINT: "int8",
  FLOAT: "float8",
  DATETIME: "timestamp",
  BOOLEAN: "bool",
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function toPg(type: ColumnType, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (type === "DATETIME") return formatMicros(v as number);
  if (typeof v === "boolean") {
    // Parsl quirk: task_memoize is a TEXT column fed a bool, so it holds '1'/'0' (as on SQLite).
    if (type === "TEXT") return v ? "1" : "0";
    return type === "BOOLEAN" ? v : v ? 1 : 0;
  }
  return v;
}

const NEEDS_ESCAPE = /["\\]/;
const ESCAPED = /["\\]/g;

/**
 * Items `from`..`to` of one column as a PostgreSQL array literal (`{1,NULL,"a\"b"}`), still
 * sent as a parameter. node-postgres builds the same text element by element through its
 * generic value preparation; doing it here costs a fraction of the writer's CPU per row. The
 * items are joined once (appending them one by one would build a rope of thousands of pieces).
 */
export function arrayLiteral(column: readonly unknown[], from: number, to: number): string {
  // The common columns take one join: all numbers, or all text that needs no escaping.
  let numbers = true;
  let plainText = true;
  for (let i = from; i < to && (numbers || plainText); i++) {
    const v = column[i];
    if (typeof v === "number") plainText = false;
    else {
      numbers = false;
      if (typeof v !== "string" || NEEDS_ESCAPE.test(v)) plainText = false;
    }
  }
  if (numbers || plainText) {
    const items = from === 0 && to === column.length ? column : column.slice(from, to);
    return numbers ? "{" + items.join(",") + "}" : '{"' + items.join('","') + '"}';
  }
  const parts = new Array<string>(to - from);
  for (let i = from; i < to; i++) {
    const v = column[i];
    let item: string;
    if (v === null || v === undefined) item = "NULL";
    else if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") item = String(v);
    else {
      const text = typeof v === "string" ? v : JSON.stringify(v);
      item = '"' + (NEEDS_ESCAPE.test(text) ? text.replace(ESCAPED, "\\$&") : text) + '"';
    }
    parts[i - from] = item;
  }
  return "{" + parts.join(",") + "}";
}

/** The key columns of task (task_id) or try (try_id, task_id) rows. */
function keyColumns(table: Table, rows: readonly CoalescedRow[]): unknown[][] {
  const taskIds = rows.map((r) => r.task_id);
  return table === TRY ? [rows.map((r) => r.try_id), taskIds] : [taskIds];
}

/** One column of coalesced rows, as PostgreSQL takes it (task_latest_status from each row's `latest`). */
function columnOf(rows: readonly CoalescedRow[], name: string, type: ColumnType): unknown[] {
  const out = new Array<unknown>(rows.length);
  if (name === DERIVED_LATEST) for (let i = 0; i < rows.length; i++) out[i] = rows[i]!.latest;
  else for (let i = 0; i < rows.length; i++) out[i] = toPg(type, rows[i]!.cols[name]);
  return out;
}

/** Column name → column, per table; throws a TypeError (a refused row) on a name that is not a column. */
function columnsOf(table: Table, names: Iterable<string>): ColumnType[] {
  const out: ColumnType[] = [];
  for (const n of names) {
    const c = table.columns.find((x) => x.name === n);
    if (!c) throw new TypeError(`${table.name} has no column ${JSON.stringify(n)}`);
    out.push(c.type);
  }
  return out;
}

/** Rows to write with one column list, by column: `columns[j][i]` is column `names[j]` of row i. */
interface RowGroup {
  names: string[];
  types: ColumnType[];
  columns: unknown[][];
  length: number;
  /** For messages, per row. */
  describe: (i: number) => string;
}

const KEYS_TASK = ["task_id"];
/** The source column that carries the time of a task's latest state (fast mode; see latestGuard). */
const LATEST_TS = "latest_ts";

/**
 * task_latest_status takes `value` only if the status row it came from was added by this
 * transaction (its xmin is our transaction id), else the stored state stays (`current`): a batch
 * replayed after a writer restart carries status rows that are already stored, so it never sets
 * a state back behind a later batch. SQLite's store asks the same with rowids. `ts` may be null
 * (an insert meeting an existing row, where only the state is known, as on SQLite).
 */
function latestGuard(runId: string, taskId: Sql, state: Sql, ts: Sql | null, value: Sql, current: Sql): Sql {
  return sql`CASE WHEN EXISTS (SELECT 1 FROM "status" s WHERE s."task_id" = ${taskId} AND s."run_id" = ${runId}
    AND s."task_status_name" = ${state}${ts ? sql` AND s."timestamp" = ${ts}` : raw("")} AND s.xmin = pg_current_xact_id()::xid)
    THEN ${value} ELSE ${current} END`;
}
const KEYS_TRY = ["try_id", "task_id"];

/** A statement recorded by prepare(); `expect`: the row count it must report (updates), else null. */
interface Recorded {
  query: Sql;
  expect: number | null;
}

/** A batch as prepare() leaves it: the plan, and the statements of the usual case built ahead. */
interface PgPrepared extends BatchPlan {
  recorded?: { statements: Recorded[]; rows: number };
}

/**
 * Stands in for the transaction while prepare() builds a batch's statements: it records them and
 * reports every row written, which is what the plain-insert mode expects (applyPrepared checks
 * the counts that matter).
 */
class Recorder implements Queryable {
  readonly dialect = postgresDialect;
  readonly statements: Recorded[] = [];
  /** Set by grouped() before each statement: the rows it carries, and whether the count is to be checked. */
  expect = 0;
  checked = false;

  async run(query: Sql): Promise<number> {
    this.statements.push({ query, expect: this.checked ? this.expect : null });
    const n = this.expect;
    this.expect = 0;
    this.checked = false;
    return n;
  }

  async all<T>(): Promise<T[]> {
    throw new Error("internal: a read while recording a batch");
  }

  async first<T>(): Promise<T | undefined> {
    throw new Error("internal: a read while recording a batch");
  }
}

/** Thrown inside a recorded batch's transaction when an update changed fewer rows than it carries. */
const MISMATCH = new Error("an update found fewer rows than it carries");

/**
 * The first statement of every write transaction. The updates join the batch's rows (UNNEST) to
 * the run's task / try rows; the planner, whose statistics lag a table growing within one run,
 * chose a hash join that reads every row of the run once per batch (measured: 66,000 rows read to
 * update 6,000, and growing with the run). Without hash and merge joins it looks each row up in
 * the primary key, which costs the same whatever the run's size. Local to the transaction.
 * Not enough alone: believing the run small, the planner may loop over the run's rows instead,
 * so the writer also keeps the statistics fresh (refreshStatistics).
 */
const JOIN_BY_KEY = raw(
  "SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)",
);

/** Refresh the planner's statistics first once this writer has added this many task rows (then at every doubling). */
const ANALYZE_FIRST = 1000;

/** unique_violation: a row of the batch is stored already. */
const DUPLICATE_KEY = "23505";

export class PostgresStore implements Store {
  private tolerant = false;
  /**
   * Write new rows as upserts (`ON CONFLICT`), for a batch that may be stored already: the first
   * batch of a writer (a new writer resumes from the last acknowledged offset, and the batch it
   * starts with may have committed just before the old one died), and a batch whose plain
   * inserts met a stored row (a commit whose reply was lost). Otherwise new rows are plain
   * inserts, which cost the server about a quarter less per row; a duplicate key then rolls the
   * transaction back and the batch is written again as upserts, so the outcome is the same.
   */
  private replaySafe = true;
  private rejected: string[] = [];
  private rows = 0;
  /** Task rows this writer has added, and how many there were when it last refreshed the planner's statistics. */
  private tasksWritten = 0;
  private tasksAnalyzed = 0;

  private constructor(
    private readonly conn: Connection,
    readonly location: string,
    private readonly runId: string,
    private readonly notices: StoreNotices,
    private readonly method: IngestMethod,
  ) {}

  /** Connects (failing fast with a clear message) and checks the run id; ensureSchema() does the rest. */
  static async open(
    url: string,
    location: string,
    runId: string,
    notices: StoreNotices,
    options: { method?: IngestMethod } = {},
  ): Promise<PostgresStore> {
    if (typeof runId !== "string" || runId === "") throw new StoreOpenError("run id must be a non-empty string");
    let conn: Connection;
    try {
      conn = await PostgresConnection.open(url, location, { poolSize: 2, applicationName: "parsl-ts writer" });
    } catch (err) {
      throw new StoreOpenError(`monitoring database: ${(err as Error).message}`);
    }
    return new PostgresStore(conn, location, runId, notices, options.method ?? "unnest");
  }

  // ---------------------------------------------------------------- schema

  async ensureSchema(): Promise<void> {
    const what = `monitoring database ${this.location}`;
    try {
      await this.retrying("set up", () => ensureSchema(this.conn), true);
    } catch (err) {
      if (err instanceof StoreOpenError) throw err;
      throw new StoreOpenError(`cannot set up ${what}: ${explainFatal(err)}`);
    }
    // A role that may read but not write (or not update) would otherwise fail only at the first
    // batch, after load() has returned: check the privileges the writer needs now.
    const needed: [string, string][] = [];
    for (const t of TABLES) {
      needed.push([t.name, "SELECT"], [t.name, "INSERT"]);
      if (t === WORKFLOW || t === TASK || t === TRY) needed.push([t.name, "UPDATE"]);
    }
    const missing: string[] = [];
    for (const [table, priv] of needed) {
      const row = await this.conn.first<{ ok: boolean }>(
        sql`SELECT has_table_privilege(${ident(table).texts[0]!}, ${priv}) AS ok`,
      );
      if (!row?.ok) missing.push(`${priv} on ${table}`);
    }
    const seq = await this.conn.first<{ ok: boolean | null }>(
      sql`SELECT has_sequence_privilege(pg_get_serial_sequence(${ident(NODE.name).texts[0]!}, ${"id"}), ${"USAGE"}) AS ok`,
    );
    if (seq && seq.ok === false) missing.push("USAGE on the sequence of node.id");
    if (missing.length > 0) {
      const who = await this.conn.first<{ u: string }>(sql`SELECT current_user AS u`);
      throw new StoreOpenError(
        `${what}: the role ${who?.u ?? "?"} lacks the privileges the writer needs: ${missing.join(", ")} ` +
          "(grant them, or use the writer role; see docs/POSTGRES.md)",
      );
    }
  }

  // ---------------------------------------------------------------- writes

  async applyBatch(events: readonly MonitoringEvent[]): Promise<BatchOutcome> {
    return this.applyPrepared(await this.prepare(events));
  }

  /**
   * Plans the batch and builds the statements of the usual case (plain inserts, no refused row)
   * ahead, so that the writer does this work while the previous batch is on the server. Built
   * on a copy of the store's state: a batch in flight is not disturbed.
   */
  async prepare(events: readonly MonitoringEvent[]): Promise<PreparedBatch> {
    const plan: PgPrepared = planBatch(events);
    const recorder = new Recorder();
    const copy: PostgresStore = Object.assign(Object.create(PostgresStore.prototype) as object, this);
    copy.tolerant = false;
    copy.replaySafe = false;
    copy.rows = 0;
    copy.rejected = [];
    try {
      await copy.writePlan(recorder, plan);
      plan.recorded = { statements: recorder.statements, rows: copy.rows };
    } catch {
      // A row the usual case cannot write (a column that is no column): applyPrepared's own path reports it.
    }
    return plan;
  }

  /** The statements prepare() built, in one transaction; null when an update missed rows (the caller then takes the long way). */
  private async writeRecorded(recorded: NonNullable<PgPrepared["recorded"]>): Promise<BatchOutcome | null> {
    try {
      await this.conn.transaction(async (tx) => {
        await tx.run(JOIN_BY_KEY);
        for (const r of recorded.statements) {
          const n = await tx.run(r.query);
          if (r.expect !== null && n !== r.expect) throw MISMATCH;
        }
      });
    } catch (err) {
      if (err === MISMATCH) return null;
      throw err;
    }
    return { rows: recorded.rows, rejected: [] };
  }

  async applyPrepared(batch: PreparedBatch): Promise<BatchOutcome> {
    const plan = batch as PgPrepared;
    const outcome = await this.retrying("write to", async () => {
      this.tolerant = false;
      try {
        try {
          if (!this.replaySafe && plan.recorded) {
            const done = await this.writeRecorded(plan.recorded);
            if (done) return done;
          }
          return await this.writeOnce(plan);
        } catch (err) {
          if (this.replaySafe || pgCode(err) !== DUPLICATE_KEY) throw err;
          this.replaySafe = true; // some of it is stored already: upserts from here on, for this batch
          return await this.writeOnce(plan);
        }
      } catch (err) {
        if (classifyPgError(err) !== "row") throw err;
        // A refused row: write the batch again, this time row by row.
        this.tolerant = true;
        return await this.writeOnce(plan);
      }
    });
    this.replaySafe = false;
    for (const r of plan.tasks.values()) if (r.first) this.tasksWritten++;
    if (this.tasksWritten >= Math.max(ANALYZE_FIRST, 2 * this.tasksAnalyzed)) await this.refreshStatistics();
    return outcome;
  }

  /**
   * The planner judges the updates' joins by statistics that lag a table growing within the run
   * (autovacuum analyzes it a minute or more later): believing the run small, it reads all of the
   * run's rows per batch (see JOIN_BY_KEY). Each time this writer has doubled its task rows, it
   * refreshes them, so a run's statistics are never more than half behind (a few analyses per
   * run; each samples a bounded number of rows). A role that does not own the tables gets a
   * warning from the server and nothing happens; any other failure only costs the refresh.
   */
  private async refreshStatistics(): Promise<void> {
    this.tasksAnalyzed = this.tasksWritten;
    try {
      await this.conn.run(raw(`ANALYZE "task", "try"`));
    } catch (err) {
      this.notices.note(`monitoring database ${this.location}: statistics not refreshed (${pgErrorText(err)})`);
    }
  }

  private async writeOnce(plan: BatchPlan): Promise<BatchOutcome> {
    this.rows = 0;
    this.rejected = [];
    await this.conn.transaction(async (tx) => {
      await tx.run(JOIN_BY_KEY);
      await this.writePlan(tx, plan);
    });
    const outcome = { rows: this.rows, rejected: this.rejected };
    this.rejected = [];
    return outcome;
  }

  /** One statement; in tolerant mode inside a savepoint, so a refused row is reported and the transaction goes on. */
  private async guarded<T>(tx: Queryable, write: () => Promise<T>, describe: () => string): Promise<T | undefined> {
    if (!this.tolerant) return write();
    await tx.run(raw("SAVEPOINT parsl_row"));
    try {
      const value = await write();
      await tx.run(raw("RELEASE SAVEPOINT parsl_row"));
      return value;
    } catch (err) {
      if (classifyPgError(err) !== "row") throw err;
      await tx.run(raw("ROLLBACK TO SAVEPOINT parsl_row"));
      this.rejected.push(`${describe()} (run ${this.runId}) was refused: ${pgErrorText(err)}`);
      return undefined;
    }
  }

  /**
   * Runs `statement` over the rows of `group`: all at once (chunked for VALUES), or in tolerant
   * mode one row at a time. `statement` gets the row source `… AS v(…)`; returns the rows it
   * returned (`returning`) and how many rows it changed.
   */
  private async grouped(
    tx: Queryable,
    group: RowGroup,
    statement: (source: Sql) => Sql,
    returning = false,
    counted = false,
  ): Promise<{ rows: Record<string, unknown>[]; changed: number }> {
    const out: Record<string, unknown>[] = [];
    let changed = 0;
    const n = group.length;
    if (n === 0) return { rows: out, changed };
    const exec = async (from: number, to: number): Promise<void> => {
      const q = statement(this.source(group, from, to));
      if (returning) {
        const got = await tx.all(q);
        for (const r of got) out.push(r);
        changed += got.length;
      } else {
        if (tx instanceof Recorder) {
          tx.expect = to - from;
          tx.checked = counted;
        }
        changed += await tx.run(q);
      }
    };
    if (this.tolerant) {
      for (let i = 0; i < n; i++) {
        if (
          await this.guarded(
            tx,
            () => exec(i, i + 1).then(() => true),
            () => group.describe(i),
          )
        )
          this.rows++;
      }
      return { rows: out, changed };
    }
    const step = this.method === "unnest" ? n : Math.max(1, Math.floor(VALUES_CELLS / Math.max(1, group.names.length)));
    for (let i = 0; i < n; i += step) {
      const end = Math.min(n, i + step);
      await exec(i, end);
      this.rows += end - i;
    }
    return { rows: out, changed };
  }

  /** Rows `from`..`to` of a group as a relation `v` with the group's column names. */
  private source(group: RowGroup, from: number, to: number): Sql {
    const names = join(group.names.map((c) => ident(c)));
    if (this.method === "unnest") {
      const arrays = group.names.map(
        (_, j) => sql`${arrayLiteral(group.columns[j]!, from, to)}::${raw(PG_ARRAY_TYPE[group.types[j]!])}[]`,
      );
      return sql`UNNEST(${join(arrays)}) AS v(${names})`;
    }
    const tuples: Sql[] = [];
    for (let i = from; i < to; i++) {
      // Casts on every row: a VALUES list outside INSERT … VALUES does not take the target's types.
      tuples.push(
        sql`(${join(group.columns.map((col, j) => sql`${col[i]}::${raw(PG_ARRAY_TYPE[group.types[j]!])}`))})`,
      );
    }
    return sql`(VALUES ${join(tuples)}) AS v(${names})`;
  }

  private async writePlan(tx: Queryable, plan: BatchPlan): Promise<void> {
    const run = this.runId;
    const start = plan.workflowStart;
    if (start) {
      await this.guarded(
        tx,
        () =>
          tx
            .run(
              sql`INSERT INTO "workflow" ("run_id", "workflow_name", "workflow_version", "time_began", "host", "user",
          "rundir", "tasks_failed_count", "tasks_completed_count", "run_status", "last_heartbeat", "heartbeat_period")
        VALUES (${run}, ${start.workflow_name}, ${start.workflow_version}, ${formatMicros(start.time_began)}::timestamp, ${start.host},
          ${start.user}, ${start.rundir}, 0, 0, 'running', ${formatMicros(start.time_began)}::timestamp, ${start.heartbeat_period ?? null}::float8)
        ON CONFLICT ("run_id") DO UPDATE SET "workflow_name" = EXCLUDED."workflow_name", "workflow_version" = EXCLUDED."workflow_version",
          "time_began" = EXCLUDED."time_began", "host" = EXCLUDED."host", "user" = EXCLUDED."user", "rundir" = EXCLUDED."rundir",
          "heartbeat_period" = EXCLUDED."heartbeat_period"`,
            )
            .then(() => this.rows++),
        () => "workflow row",
      );
    }
    // Status rows first: only a status row this transaction added may set task_latest_status.
    // Plain inserts: every status row of the batch is new (else the insert failed), so any state
    // may be set. Replay-safe mode asks the server (the row's xmin is this transaction:
    // latestGuard); in tolerant mode rows go in savepoints, which have xids of their own, so
    // RETURNING says which are new.
    const fresh = new Set<string>();
    if (plan.status.length > 0) {
      const st = plan.status;
      const n = st.length;
      const ids = new Array<number>(n),
        states = new Array<string>(n),
        times = new Array<string>(n),
        tries = new Array<number>(n);
      for (let i = 0; i < n; i++) {
        const s = st[i]!;
        ids[i] = s.task_id;
        states[i] = s.state;
        times[i] = formatMicros(s.ts);
        tries[i] = s.try_id;
      }
      const group: RowGroup = {
        names: ["task_id", "task_status_name", "timestamp", "try_id"],
        types: ["INTEGER", "TEXT", "DATETIME", "INTEGER"],
        columns: [ids, states, times, tries],
        length: n,
        describe: (i) => `status ${st[i]!.state} of task ${st[i]!.task_id} try ${st[i]!.try_id}`,
      };
      const added = await this.grouped(
        tx,
        group,
        (v) => sql`INSERT INTO "status" ("task_id", "task_status_name", "timestamp", "run_id", "try_id")
        SELECT v."task_id", v."task_status_name", v."timestamp", ${run}, v."try_id" FROM ${v}
        ${this.tolerant ? raw(`ON CONFLICT DO NOTHING RETURNING "task_id", "task_status_name", "timestamp"`) : raw(this.replaySafe ? "ON CONFLICT DO NOTHING" : "")}`,
        this.tolerant,
      );
      for (const r of added.rows)
        fresh.add(`${String(r["task_id"])}|${String(r["task_status_name"])}|${String(r["timestamp"])}`);
    }
    const latestIsNew = (r: CoalescedRow): boolean =>
      !this.tolerant || fresh.has(`${r.task_id}|${String(r.latest)}|${formatMicros(r.latestTs)}`);
    await this.writeKeyed(
      tx,
      TASK_BITS,
      KEYS_TASK,
      TASK_UPDATABLE,
      plan.tasks.values(),
      latestIsNew,
      (r) => `task ${r.task_id}`,
    );
    await this.writeKeyed(
      tx,
      TRY_BITS,
      KEYS_TRY,
      TRY_UPDATABLE,
      plan.tries.values(),
      () => true,
      (r) => `try ${r.try_id} of task ${r.task_id}`,
    );
    await this.writeResources(tx, plan);
    for (const e of plan.nodes) {
      const n = e.row;
      await this.guarded(
        tx,
        () =>
          tx
            .run(
              sql`INSERT INTO "node" ("run_id", "hostname", "uid", "block_id", "cpu_count", "total_memory", "active",
          "worker_count", "python_v", "timestamp", "last_heartbeat")
        SELECT ${run}, ${n.hostname}, ${n.uid}, ${n.block_id}, ${n.cpu_count}::int4, ${n.total_memory}::int8, ${n.active}::bool,
          ${n.worker_count}::int4, ${n.python_v}, ${formatMicros(n.timestamp)}::timestamp, ${formatMicros(n.last_heartbeat)}::timestamp
        WHERE NOT EXISTS (SELECT 1 FROM "node" WHERE "run_id" = ${run} AND "timestamp" = ${formatMicros(n.timestamp)}::timestamp
          AND "uid" = ${n.uid} AND "active" = ${n.active}::bool AND "last_heartbeat" = ${formatMicros(n.last_heartbeat)}::timestamp
          AND "worker_count" = ${n.worker_count}::int4)`,
            )
            .then(() => this.rows++),
        () => `node ${n.uid}`,
      );
    }
    for (const e of plan.blocks) {
      const b = e.row;
      await this.guarded(
        tx,
        () =>
          tx
            .run(
              sql`INSERT INTO "block" ("run_id", "executor_label", "block_id", "job_id", "timestamp", "status")
        VALUES (${run}, ${b.executor_label}, ${b.block_id}, ${b.job_id}, ${formatMicros(b.timestamp)}::timestamp, ${b.status})
        ON CONFLICT DO NOTHING`,
            )
            .then(() => this.rows++),
        () => `block ${b.block_id} of executor ${b.executor_label}`,
      );
    }
    const counts = plan.counts;
    if (counts) {
      await this.guarded(
        tx,
        () =>
          tx
            .run(
              sql`UPDATE "workflow" SET "tasks_completed_count" = ${counts.tasks_completed_count}::int4,
        "tasks_failed_count" = ${counts.tasks_failed_count}::int4 WHERE "run_id" = ${run}`,
            )
            .then(() => this.rows++),
        () => "workflow counts",
      );
    }
    const end = plan.workflowEnd;
    if (end) {
      await this.guarded(
        tx,
        () =>
          tx
            .run(
              sql`UPDATE "workflow" SET "time_completed" = ${formatMicros(end.time_completed)}::timestamp,
        "tasks_completed_count" = ${end.tasks_completed_count}::int4, "tasks_failed_count" = ${end.tasks_failed_count}::int4,
        "run_status" = ${end.run_status} WHERE "run_id" = ${run}`,
            )
            .then(() => this.rows++),
        () => "workflow end",
      );
    }
  }

  /**
   * Task or try rows, grouped by column set: first rows are upserts (on conflict only the
   * columns Parsl updates later are overwritten), later ones updates of exactly the columns
   * carried; when an update changes fewer rows than it carries, a look-up names the rows that
   * do not exist (their first event never came).
   */
  private async writeKeyed(
    tx: Queryable,
    bits: ColumnBits,
    keys: readonly string[],
    updatable: ReadonlySet<string>,
    rows: Iterable<CoalescedRow>,
    latestIsNew: (r: CoalescedRow) => boolean,
    describe: (r: CoalescedRow) => string,
  ): Promise<void> {
    const table = bits.table;
    // Rows with the same column set share a statement: keyed by mask, whether the state is
    // written, and whether it is stale (its status row was already stored, so it must not
    // overwrite the stored state: an update leaves it out, an insert's conflict clause too).
    const inserts = new Map<number, CoalescedRow[]>();
    const updates = new Map<number, CoalescedRow[]>();
    const withLatest = (key: number): boolean => (key & 2) !== 0;
    const isStaleKey = (key: number): boolean => (key & 1) !== 0;
    for (const r of rows) {
      if (r.unknownColumn !== undefined) {
        const err = new TypeError(`${table.name} has no column ${JSON.stringify(r.unknownColumn)}`);
        if (!this.tolerant) throw err;
        this.rejected.push(`${describe(r)} (run ${this.runId}) was refused: ${err.message}`);
        continue;
      }
      const isStale = r.latest !== undefined && !latestIsNew(r);
      const key = r.mask * 4 + (r.latest !== undefined && !(isStale && !r.first) ? 2 : 0) + (isStale ? 1 : 0);
      const byKey = r.first ? inserts : updates;
      const g = byKey.get(key);
      if (g) g.push(r);
      else byKey.set(key, [r]);
    }
    const namesOf = (key: number): string[] => [
      ...bits.names(Math.floor(key / 4)),
      ...(withLatest(key) ? [DERIVED_LATEST] : []),
    ];
    const keyTypes = columnsOf(table, keys);
    const q = (c: string): Sql => ident(c);
    const t = ident(table.name);
    const run = this.runId;
    for (const [groupKey, group] of inserts) {
      const names = namesOf(groupKey);
      const stale0 = isStaleKey(groupKey);
      const types = this.typesOf(table, names, group, describe);
      if (!types) continue;
      const rg: RowGroup = {
        names: [...keys, ...names],
        types: [...keyTypes, ...types],
        columns: [...keyColumns(table, group), ...names.map((c, j) => columnOf(group, c, types[j]!))],
        length: group.length,
        describe: (i) => describe(group[i]!),
      };
      const set = names
        .filter((c) => updatable.has(c) && !(c === DERIVED_LATEST && stale0))
        .map((c) =>
          c === DERIVED_LATEST && !this.tolerant
            ? sql`${q(c)} = ${latestGuard(run, sql`EXCLUDED."task_id"`, sql`EXCLUDED."task_latest_status"`, null, sql`EXCLUDED."task_latest_status"`, sql`"task"."task_latest_status"`)}`
            : sql`${q(c)} = EXCLUDED.${q(c)}`,
        );
      const pk = join(table.primaryKey.map(q));
      const upsert = this.tolerant || this.replaySafe;
      await this.grouped(
        tx,
        rg,
        (v) => sql`INSERT INTO ${t} (${join([...keys, "run_id", ...names].map(q))})
        SELECT ${join([...keys.map((k) => sql`v.${q(k)}`), sql`${run}`, ...names.map((c) => sql`v.${q(c)}`)])}
        FROM ${v}${!upsert ? raw("") : sql` ON CONFLICT (${pk}) DO ${set.length > 0 ? sql`UPDATE SET ${join(set)}` : raw("NOTHING")}`}`,
      );
    }
    for (const [groupKey, group] of updates) {
      const names = namesOf(groupKey);
      if (names.length === 0) continue;
      const types = this.typesOf(table, names, group, describe);
      if (!types) continue;
      // Replay-safe mode: the state's time goes along for latestGuard.
      const guard = !this.tolerant && this.replaySafe && names.includes(DERIVED_LATEST);
      const rg: RowGroup = {
        names: [...keys, ...names, ...(guard ? [LATEST_TS] : [])],
        types: [...keyTypes, ...types, ...(guard ? ["DATETIME" as const] : [])],
        columns: [
          ...keyColumns(table, group),
          ...names.map((c, j) => columnOf(group, c, types[j]!)),
          ...(guard ? [group.map((r) => formatMicros(r.latestTs))] : []),
        ],
        length: group.length,
        describe: (i) => describe(group[i]!),
      };
      const setCol = (c: string): Sql =>
        c === DERIVED_LATEST && guard
          ? sql`${q(c)} = ${latestGuard(run, sql`v."task_id"`, sql`v.${q(DERIVED_LATEST)}`, sql`v.${q(LATEST_TS)}`, sql`v.${q(DERIVED_LATEST)}`, sql`x.${q(DERIVED_LATEST)}`)}`
          : sql`${q(c)} = v.${q(c)}`;
      const where = (v: Sql): Sql =>
        sql`${join(
          keys.map((k) => sql`x.${q(k)} = ${v}.${q(k)}`),
          " AND ",
        )} AND x."run_id" = ${run}`;
      const { changed } = await this.grouped(
        tx,
        rg,
        (v) => sql`UPDATE ${t} AS x SET ${join(names.map(setCol))} FROM ${v} WHERE ${where(raw("v"))}`,
        false,
        true,
      );
      if (changed === group.length) continue;
      // Some row does not exist (its first event never arrived): name it. Rare, so a second look is fine.
      const keyCols = keys.map((_, j) => group.map((r) => (table === TRY ? [r.try_id, r.task_id] : [r.task_id])[j]));
      const keySource = sql`UNNEST(${join(keyCols.map((col, j) => sql`${col}::${raw(PG_ARRAY_TYPE[keyTypes[j]!])}[]`))}) AS u(${join(keys.map(q))})`;
      const present = await tx.all(sql`SELECT ${join(keys.map((k) => sql`x.${q(k)}`))} FROM ${t} AS x JOIN ${keySource}
        ON ${join(
          keys.map((k) => sql`x.${q(k)} = u.${q(k)}`),
          " AND ",
        )} WHERE x."run_id" = ${run}`);
      const seen = new Set(present.map((r) => keys.map((k) => String(r[k])).join(".")));
      for (const r of group) {
        const id = (table === TRY ? [r.try_id, r.task_id] : [r.task_id]).join(".");
        if (seen.has(id)) continue;
        this.rows--;
        this.rejected.push(
          `${describe(r)} (run ${run}): an update found no row (its first event never arrived), so it was not written`,
        );
      }
    }
  }

  /** The types of a group's columns; a name that is no column refuses the group's rows (in tolerant mode, reported). */
  private typesOf(
    table: Table,
    names: string[],
    group: readonly CoalescedRow[],
    describe: (r: CoalescedRow) => string,
  ): ColumnType[] | null {
    try {
      return columnsOf(table, names);
    } catch (err) {
      if (!this.tolerant) throw err;
      for (const r of group)
        this.rejected.push(`${describe(r)} (run ${this.runId}) was refused: ${(err as Error).message}`);
      return null;
    }
  }

  private async writeResources(tx: Queryable, plan: BatchPlan): Promise<void> {
    const groups = new Map<string, { names: string[]; rows: Record<string, unknown>[] }>();
    for (const e of plan.resources) {
      const names = Object.keys(e.row)
        .filter((c) => c !== "run_id")
        .sort();
      const key = names.join(",");
      const g = groups.get(key);
      if (g) g.rows.push(e.row);
      else groups.set(key, { names, rows: [e.row] });
    }
    for (const { names, rows } of groups.values()) {
      let types: ColumnType[];
      try {
        types = columnsOf(RESOURCE, names);
      } catch (err) {
        if (!this.tolerant) throw err;
        for (const r of rows) {
          this.rejected.push(
            `resource sample of task ${String(r["task_id"])} try ${String(r["try_id"])} (run ${this.runId}) was refused: ${(err as Error).message}`,
          );
        }
        continue;
      }
      const rg: RowGroup = {
        names,
        types,
        columns: names.map((c, j) => rows.map((r) => toPg(types[j]!, r[c]))),
        length: rows.length,
        describe: (i) => `resource sample of task ${String(rows[i]!["task_id"])} try ${String(rows[i]!["try_id"])}`,
      };
      await this.grouped(
        tx,
        rg,
        (v) => sql`INSERT INTO "resource" ("run_id", ${join(names.map((c) => ident(c)))})
        SELECT ${this.runId}, ${join(names.map((c) => sql`v.${ident(c)}`))} FROM ${v} ON CONFLICT DO NOTHING`,
      );
    }
  }

  // ---------------------------------------------------------------- run lifecycle

  async heartbeat(now: Micros): Promise<void> {
    try {
      await this.conn.run(sql`UPDATE "workflow" SET "last_heartbeat" = ${formatMicros(now)}::timestamp
        WHERE "run_id" = ${this.runId} AND "time_completed" IS NULL`);
    } catch (err) {
      if (classifyPgError(err) !== "transient") throw err; // a missed heartbeat while the server is away is harmless
    }
  }

  async markCrashed(now: Micros): Promise<boolean> {
    return this.retrying(
      "mark the run crashed in",
      async () =>
        (await this.conn.run(sql`UPDATE "workflow"
      SET "time_completed" = ${formatMicros(now)}::timestamp, "run_status" = 'crashed'
      WHERE "run_id" = ${this.runId} AND "time_completed" IS NULL AND ("run_status" IS NULL OR "run_status" = 'running')`)) >
        0,
    );
  }

  /** PostgreSQL has no write-ahead log to fold back into a file. */
  async checkpoint(): Promise<void> {}

  close(): void {
    void this.conn.close().catch(() => undefined);
  }

  // ---------------------------------------------------------------- retry policy

  /**
   * Runs `fn` until it succeeds. Transient errors (the server is unreachable, restarting, or
   * dropped the connection) are waited out with backoff, one warning per episode and a note
   * when it ends: data is never dropped. Fatal errors become PermanentStoreError; at start-up
   * (`startup`) they are thrown as they are, for the caller to explain.
   */
  private async retrying<T>(what: string, fn: () => Promise<T>, startup = false): Promise<T> {
    let delay = BACKOFF_START_MS;
    let since = 0;
    for (;;) {
      try {
        const result = await fn();
        if (since > 0) {
          this.notices.note(
            `monitoring database ${this.location} is writable again after ${((Date.now() - since) / 1000).toFixed(1)} s; nothing was lost`,
          );
        }
        return result;
      } catch (err) {
        const cls = classifyPgError(err);
        if (cls !== "transient") {
          if (startup || cls === "row") throw err;
          throw new PermanentStoreError(
            `cannot ${what} monitoring database ${this.location}: ${explainFatal(err)}; waiting will not fix this`,
          );
        }
        // At start-up the user waits in load(): a server that stays away is an error, not a wait.
        if (startup && since > 0 && Date.now() - since > STARTUP_PATIENCE_MS) throw err;
        if (since === 0) {
          since = Date.now();
          this.notices.warning(
            `cannot ${what} monitoring database ${this.location} (${pgErrorText(err)}); retrying, nothing is lost`,
          );
        }
        await sleep(delay);
        delay = Math.min(delay * 2, BACKOFF_MAX_MS);
      }
    }
  }
}

/** A fatal server error, with a hint where the usual cause is a missing grant. */
function explainFatal(err: unknown): string {
  const text = pgErrorText(err);
  const code = (err as { code?: unknown })?.code;
  if (code === "42501")
    return `${text} (the role lacks a privilege: see docs/POSTGRES.md for the writer role's grants)`;
  if (code === "25006") return `${text} (the session or server is read-only)`;
  return text;
}
