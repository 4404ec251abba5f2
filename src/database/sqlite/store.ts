/**
 * The SQLite store (better-sqlite3). One connection, used by exactly one writer process.
 *
 * Write path: a batch becomes a plan (batchPlan.ts), the plan is written in one
 * `BEGIN IMMEDIATE` transaction with statements cached per column set. Lock errors roll back
 * and retry the whole batch forever with backoff; a row the database refuses (constraint,
 * type) makes the batch re-run in tolerant mode, where each refused row is reported and
 * every other row is written.
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { Micros, MonitoringEvent, StatusEvent } from "../../vocabulary/events.js";
import {
  DERIVED_LATEST,
  planBatch,
  TASK_BITS,
  TASK_UPDATABLE,
  TRY_BITS,
  TRY_UPDATABLE,
  type BatchPlan,
  ColumnBits,
  type CoalescedRow,
} from "../batchPlan.js";
import { NODE, RESOURCE, TABLES, type ColumnType } from "../schema.js";
import { ensureSchema } from "../schemaSetup.js";
import {
  PermanentStoreError,
  StoreOpenError,
  type BatchOutcome,
  type PreparedBatch,
  type Store,
  type StoreNotices,
} from "../store.js";
import { formatMicros } from "../timeformat.js";
import { SqliteConnection } from "./connection.js";
import { isDuplicateKey, isLockError, isPermanentError, isRowError, sqliteErrorText as errorText } from "./dialect.js";

type Statement = Database.Statement<unknown[]>;

/**
 * Page size of databases we create. Rows arrive in runs of neighbouring keys, and each commit
 * writes every page it touched to the WAL: 64 KiB pages make that a few large writes instead of
 * many small ones (measured: about 20% less writer time per task than SQLite's default 4 KiB).
 */
export const PAGE_SIZE = 65536;
/** Checkpoint the WAL into the database about every this many bytes (SQLite counts pages). */
const WAL_CHECKPOINT_BYTES = 16 * 2 ** 20;
const BUSY_TIMEOUT_MS = 500; // absorb short contention (another run's writer) inside SQLite; longer waits are ours
const BACKOFF_START_MS = 50;
const BACKOFF_MAX_MS = 1000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function toSql(type: ColumnType, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (type === "DATETIME") return formatMicros(v as number);
  // Parsl quirk: task_memoize is a TEXT column fed a bool, so it holds '1'/'0'.
  if (typeof v === "boolean") return type === "TEXT" ? (v ? "1" : "0") : v ? 1 : 0;
  return v;
}

/**
 * The file and its directory must be writable by this process (WAL mode creates files beside
 * the database). Checked before SQLite opens it, which would silently fall back to read-only.
 */
function checkWritable(file: string): void {
  const dir = path.dirname(file);
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
  } catch {
    throw new Error(`its directory ${dir} is not writable by this user`);
  }
  if (!fs.existsSync(file)) return;
  try {
    fs.accessSync(file, fs.constants.R_OK | fs.constants.W_OK);
  } catch {
    throw new Error("the file is not writable by this user (read-only)");
  }
}

/**
 * Before anything in an existing file changes (even its journal mode): it must be an intact
 * SQLite database that is empty or holds Parsl's monitoring tables with their required columns.
 */
function inspectBeforeUse(db: Database.Database, file: string): void {
  const tables = new Set(
    (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name),
  );
  if (tables.size === 0) return; // new or empty: ours to set up
  const check = db.pragma("quick_check", { simple: true });
  if (check !== "ok") {
    throw new StoreOpenError(
      `monitoring database ${file} is corrupt (PRAGMA quick_check: ${String(check)}); nothing was changed`,
    );
  }
  if (!tables.has("workflow") || !tables.has("task")) {
    const names = [...tables].sort().slice(0, 8).join(", ");
    throw new StoreOpenError(
      `${file} is not a Parsl monitoring database (its tables: ${names}${tables.size > 8 ? ", …" : ""}); ` +
        "nothing was changed. Point the monitoring endpoint at a new file or an existing monitoring database",
    );
  }
  for (const t of TABLES) {
    if (!tables.has(t.name)) continue;
    const present = new Set(
      (db.prepare(`PRAGMA table_info("${t.name}")`).all() as { name: string }[]).map((r) => r.name),
    );
    const lacking = t.columns.filter((c) => c.notNull && !present.has(c.name)).map((c) => c.name);
    if (lacking.length > 0) {
      throw new StoreOpenError(
        `monitoring database ${file}: table ${t.name} lacks the required column(s) ${lacking.join(", ")}, ` +
          "so it was not written by a compatible Parsl or parsl-ts; nothing was changed",
      );
    }
  }
}

/** The resource table's rows: the bitmask of the columns a row carries (positions and names from ColumnBits). */
class TableShape {
  constructor(readonly bits: ColumnBits) {}
  /** Bitmask of the columns present in `cols`; throws on a name that is not a column. */
  mask(cols: Record<string, unknown>, exclude: ReadonlySet<string>): number {
    let m = 0;
    for (const k in cols) {
      if (exclude.has(k)) continue;
      const i = this.bits.index.get(k);
      if (i === undefined) throw new TypeError(`${this.bits.table.name} has no column ${JSON.stringify(k)}`);
      m |= 1 << i;
    }
    return m;
  }
  names(mask: number): readonly string[] {
    return this.bits.names(mask);
  }
  values(mask: number, cols: Record<string, unknown>, out: unknown[]): void {
    const columns = this.bits.table.columns;
    for (let i = 0; i < columns.length; i++) {
      if ((mask & (1 << i)) !== 0) out.push(toSql(columns[i]!.type, cols[columns[i]!.name]));
    }
  }
}

/**
 * How the task or try rows with one column set are written: the names of the columns carried
 * (table order, task_latest_status apart: it goes last, from `CoalescedRow.latest`), their
 * types, and the number of parameters per row.
 */
class RowLayout {
  readonly names: readonly string[];
  readonly types: readonly ColumnType[];
  readonly isTry: boolean;
  /** Parameters per row: the key(s) (run_id is the named parameter @r), the columns, the state. */
  readonly width: number;
  constructor(
    readonly bits: ColumnBits,
    readonly mask: number,
    readonly latest: boolean,
  ) {
    this.names = bits.names(mask);
    this.types = this.names.map((n) => bits.table.columns[bits.index.get(n)!]!.type);
    this.isTry = bits === TRY_BITS;
    this.width = (this.isTry ? 2 : 1) + this.names.length + (latest ? 1 : 0);
  }
  /** Writes row `r`'s parameters into `out` from `k` on: key(s), columns, then the state (and its time if `ts`). */
  fill(out: unknown[], k: number, r: CoalescedRow, ts: boolean): number {
    if (this.isTry) out[k++] = r.try_id;
    out[k++] = r.task_id;
    const names = this.names;
    const types = this.types;
    const cols = r.cols;
    for (let j = 0; j < names.length; j++) out[k++] = toSql(types[j]!, cols[names[j]!]);
    if (this.latest) {
      out[k++] = r.latest;
      if (ts) out[k++] = formatMicros(r.latestTs);
    }
    return k;
  }
}

/** A prepared statement with the parameter array it is always run with (reused: no garbage per statement). */
interface Reusable {
  readonly stmt: Statement;
  readonly params: unknown[];
}

const STATUS_INSERT = "INSERT OR IGNORE INTO status (task_id, task_status_name, timestamp, run_id, try_id) VALUES";
const STATUS_GROUP = 64;
/** Parameters per grouped INSERT (well under SQLite's limit of 32766). */
const GROUP_PARAMS = 512;

const KEYS_RESOURCE = new Set(["run_id"]);

/**
 * `task_latest_status` takes the batch's newest state of a task only if that status row is new,
 * i.e. was inserted by this transaction (its rowid is above `before`, the largest rowid of
 * `status` when the batch began). A batch replayed after a writer restart carries status rows
 * that are already stored, so it never sets a state back behind a later batch. (Comparing
 * timestamps instead would misjudge the repeated hour of a daylight-saving change: they are
 * Parsl's naive local time.) `value`, `ts` and `before` are SQL expressions, in text order.
 * When every status row of the batch was inserted (the insert's changes say so), the guard
 * holds for every task and the store sets the state without it (`guardLatest` false).
 */
const guardedLatest = (task: string, before: string, value: string, ts: string): string =>
  `CASE WHEN EXISTS (SELECT 1 FROM status s WHERE s.rowid > ${before} AND s.task_id = ${task}.task_id AND s.run_id = ${task}.run_id ` +
  `AND s.task_status_name = ${value} AND s.timestamp = ${ts}) THEN ${value} ELSE ${task}.${DERIVED_LATEST} END`;
/** The same guard on an insert that meets an existing row (a replay); `before` is the named parameter @b. */
const LATEST_ON_CONFLICT =
  `${DERIVED_LATEST} = CASE WHEN EXISTS (SELECT 1 FROM status s WHERE s.rowid > @b ` +
  `AND s.task_id = excluded.task_id AND s.run_id = excluded.run_id AND s.task_status_name = excluded.${DERIVED_LATEST}) ` +
  `THEN excluded.${DERIVED_LATEST} ELSE task.${DERIVED_LATEST} END`;

export class SqliteStore implements Store {
  private readonly resource = new TableShape(new ColumnBits(RESOURCE, new Set()));
  private readonly stmtCache = new Map<string, Statement>();
  private readonly reusable = new Map<string, Reusable>();
  private readonly layouts = new Map<number, RowLayout>();
  private tolerant = false;
  /**
   * Whether new rows go in as upserts (a batch met a key stored already, or tolerant mode). Else
   * they are plain `INSERT OR FAIL`s: an upsert, or any statement of several rows that could
   * abort halfway, makes SQLite copy every page it changes to a statement journal first (with
   * 64 KiB pages, about 7% of the writer's CPU), and the fast path never needs a statement
   * rolled back alone: any error rolls the whole transaction back.
   */
  private replaySafe = false;
  private rejected: string[] = [];
  private rows = 0;
  private readonly writeTxn: (plan: BatchPlan) => void;
  /**
   * The named parameters of the keyed statements: the run id (@r, bound once per statement
   * rather than once per row) and the largest rowid of `status` before the current batch's
   * rows (@b, see guardedLatest).
   */
  private readonly named: { r: string; b: number };
  /** Whether some status row of the current batch was not inserted by it (see guardedLatest). */
  private guardLatest = true;

  private constructor(
    private readonly db: Database.Database,
    readonly location: string,
    private readonly runId: string,
    private readonly notices: StoreNotices,
  ) {
    this.named = { r: runId, b: 0 };
    const txn = db.transaction((plan: BatchPlan) => this.writePlan(plan));
    this.writeTxn = (plan) => txn.immediate(plan);
  }

  static open(file: string, runId: string, notices: StoreNotices): SqliteStore {
    if (typeof runId !== "string" || runId === "") throw new StoreOpenError("run id must be a non-empty string");
    let db: Database.Database;
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      if (fs.existsSync(file) && fs.statSync(file).isDirectory()) throw new Error("it is a directory, not a file");
      checkWritable(file);
      db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
    } catch (err) {
      throw new StoreOpenError(`cannot open monitoring database ${file}: ${errorText(err)}`);
    }
    return new SqliteStore(db, file, runId, notices);
  }

  // ---------------------------------------------------------------- schema

  async ensureSchema(): Promise<void> {
    const startupError = (err: unknown): Error =>
      err instanceof StoreOpenError
        ? err
        : new StoreOpenError(`cannot set up monitoring database ${this.location}: ${errorText(err)}`);
    await this.retrying("read", () => inspectBeforeUse(this.db, this.location), startupError);
    await this.retrying(
      "create the schema in",
      () => {
        // Page size only takes effect on a database not yet written (ours); Parsl's keep theirs.
        this.db.pragma(`page_size = ${PAGE_SIZE}`);
        const mode = this.db.pragma("journal_mode = WAL", { simple: true });
        const pageSize = Number(this.db.pragma("page_size", { simple: true }));
        this.db.pragma(`wal_autocheckpoint = ${Math.max(100, Math.round(WAL_CHECKPOINT_BYTES / pageSize))}`);
        if (String(mode).toLowerCase() !== "wal")
          this.notices.note(`monitoring database ${this.location}: journal mode is ${String(mode)}, not WAL`);
        this.db.pragma("synchronous = NORMAL");
        // better-sqlite3 enables FK enforcement by default; Parsl (SQLAlchemy on SQLite) runs without it,
        // and a status row must never be refused just because it arrived before its workflow row.
        this.db.pragma("foreign_keys = OFF");
        this.db.pragma("cache_size = -65536"); // 64 MiB: index pages of big runs stay in memory
      },
      startupError,
    );
    // The tables, columns, indexes and schema version: the code every dialect shares, on this handle.
    const conn = SqliteConnection.wrap(this.db, this.location);
    await this.retrying("create the schema in", () => ensureSchema(conn), startupError);
  }

  // ---------------------------------------------------------------- writes

  async applyBatch(events: readonly MonitoringEvent[]): Promise<BatchOutcome> {
    return this.applyPrepared(planBatch(events));
  }

  async prepare(events: readonly MonitoringEvent[]): Promise<BatchPlan> {
    return planBatch(events);
  }

  async applyPrepared(batch: PreparedBatch): Promise<BatchOutcome> {
    const plan = batch as BatchPlan;
    this.tolerant = false;
    this.replaySafe = false;
    return this.retrying("write to", () => {
      for (;;) {
        this.rows = 0;
        this.rejected = [];
        try {
          this.writeTxn(plan);
          break;
        } catch (err) {
          if (this.tolerant || !isRowError(err)) throw err;
          // A key stored already (a replayed batch): write the batch again with upserts. Another
          // refused row: write it again row by row, naming each refused row.
          if (!this.replaySafe && isDuplicateKey(err)) this.replaySafe = true;
          else this.tolerant = true;
        }
      }
      const outcome = { rows: this.rows, rejected: this.rejected };
      this.rejected = [];
      return outcome;
    });
  }

  /** Runs one row write; in tolerant mode a refused row is reported instead of failing the batch. */
  private row(write: () => void, describe: () => string): void {
    if (!this.tolerant) {
      write();
      this.rows++;
      return;
    }
    try {
      write();
      this.rows++;
    } catch (err) {
      if (!isRowError(err)) throw err;
      this.rejected.push(`${describe()} (run ${this.runId}) was refused: ${errorText(err)}`);
    }
  }

  private writePlan(plan: BatchPlan): void {
    const start = plan.workflowStart;
    if (start) {
      this.row(
        () =>
          this.stmt(
            "wf-start",
            () =>
              `INSERT INTO workflow (run_id, workflow_name, workflow_version, time_began, host, user, rundir, ` +
              `tasks_failed_count, tasks_completed_count, run_status, last_heartbeat, heartbeat_period) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, 'running', ?, ?) ` +
              `ON CONFLICT (run_id) DO UPDATE SET workflow_name = excluded.workflow_name, workflow_version = excluded.workflow_version, ` +
              `time_began = excluded.time_began, host = excluded.host, user = excluded.user, rundir = excluded.rundir, ` +
              `heartbeat_period = excluded.heartbeat_period`,
          ).run([
            this.runId,
            start.workflow_name,
            start.workflow_version,
            formatMicros(start.time_began),
            start.host,
            start.user,
            start.rundir,
            formatMicros(start.time_began),
            start.heartbeat_period ?? null,
          ]),
        () => "workflow row",
      );
    }
    // Status rows before task rows: task_latest_status is set only from status rows this batch added.
    this.guardLatest = true;
    if (plan.status.length > 0) {
      this.named.b = Number(
        this.stmt("status-max", () => "SELECT COALESCE(MAX(rowid), 0) FROM status")
          .pluck()
          .get(),
      );
      this.guardLatest = this.writeStatus(plan.status) !== plan.status.length;
    }
    this.writeKeyedRows(TASK_BITS, plan.tasks.values(), (r) => `task ${r.task_id}`);
    this.writeKeyedRows(TRY_BITS, plan.tries.values(), (r) => `try ${r.try_id} of task ${r.task_id}`);
    for (const e of plan.resources) {
      this.row(
        () => {
          const mask = this.resource.mask(e.row, KEYS_RESOURCE);
          const stmt = this.stmt("resource:" + mask, () => {
            const names = this.resource.names(mask);
            return `INSERT OR IGNORE INTO resource (run_id, ${names.join(", ")}) VALUES (?${", ?".repeat(names.length)})`;
          });
          const params: unknown[] = [this.runId];
          this.resource.values(mask, e.row, params);
          stmt.run(params);
        },
        () => `resource sample of task ${String(e.row["task_id"])} try ${String(e.row["try_id"])}`,
      );
    }
    for (const e of plan.nodes)
      this.row(
        () => this.insertNode(e.row),
        () => `node ${e.row.uid}`,
      );
    for (const e of plan.blocks) {
      this.row(
        () =>
          this.stmt(
            "block",
            () =>
              `INSERT OR IGNORE INTO block (run_id, executor_label, block_id, job_id, timestamp, status) VALUES (?, ?, ?, ?, ?, ?)`,
          ).run([
            this.runId,
            e.row.executor_label,
            e.row.block_id,
            e.row.job_id,
            formatMicros(e.row.timestamp),
            e.row.status,
          ]),
        () => `block ${e.row.block_id} of executor ${e.row.executor_label}`,
      );
    }
    const counts = plan.counts;
    if (counts) {
      this.row(
        () =>
          this.stmt(
            "counts",
            () => `UPDATE workflow SET tasks_completed_count = ?, tasks_failed_count = ? WHERE run_id = ?`,
          ).run([counts.tasks_completed_count, counts.tasks_failed_count, this.runId]),
        () => "workflow counts",
      );
    }
    const end = plan.workflowEnd;
    if (end) {
      this.row(
        () =>
          this.stmt(
            "wf-end",
            () =>
              `UPDATE workflow SET time_completed = ?, tasks_completed_count = ?, tasks_failed_count = ?, run_status = ? WHERE run_id = ?`,
          ).run([
            formatMicros(end.time_completed),
            end.tasks_completed_count,
            end.tasks_failed_count,
            end.run_status,
            this.runId,
          ]),
        () => "workflow end",
      );
    }
  }

  /**
   * Status rows are most of the volume (5+ per task): in fast mode they go in groups of
   * STATUS_GROUP rows per statement, which saves a native call and a bind round per row.
   * Returns how many rows were inserted (not already stored, not refused).
   */
  private writeStatus(rows: readonly StatusEvent[]): number {
    const single = this.stmt("status", () => `${STATUS_INSERT} (?, ?, ?, @r, ?)`);
    const named = this.named;
    let inserted = 0;
    let i = 0;
    if (!this.tolerant) {
      const { stmt, params } = this.reuse("status*", STATUS_GROUP * 4, () => {
        return `${STATUS_INSERT} (?, ?, ?, @r, ?)${", (?, ?, ?, @r, ?)".repeat(STATUS_GROUP - 1)}`;
      });
      for (; i + STATUS_GROUP <= rows.length; i += STATUS_GROUP) {
        for (let j = 0, k = 0; j < STATUS_GROUP; j++) {
          const s = rows[i + j]!;
          params[k++] = s.task_id;
          params[k++] = s.state;
          params[k++] = formatMicros(s.ts);
          params[k++] = s.try_id;
        }
        inserted += stmt.run(params, named).changes;
        this.rows += STATUS_GROUP;
      }
    }
    for (; i < rows.length; i++) {
      const s = rows[i]!;
      this.row(
        () => {
          inserted += single.run([s.task_id, s.state, formatMicros(s.ts), s.try_id], named).changes;
        },
        () => `status ${s.state} of task ${s.task_id} try ${s.try_id}`,
      );
    }
    return inserted;
  }

  /** The statement text's column set of a row (task_latest_status included as its bit). */
  private layoutOf(bits: ColumnBits, r: CoalescedRow): RowLayout {
    if (r.unknownColumn !== undefined)
      throw new TypeError(`${bits.table.name} has no column ${JSON.stringify(r.unknownColumn)}`);
    const latest = r.latest !== undefined;
    const key = (bits === TRY_BITS ? 1 : 0) + (latest ? 2 : 0) + r.mask * 4;
    let layout = this.layouts.get(key);
    if (!layout) this.layouts.set(key, (layout = new RowLayout(bits, r.mask, latest)));
    return layout;
  }

  /**
   * Task or try rows. In fast mode, new rows with the same column set go in groups of up to
   * ~GROUP_PARAMS parameters per statement, and so do updates of rows with the same column set.
   * In tolerant mode every row is its own statement, so a refused row can be named.
   */
  private writeKeyedRows(bits: ColumnBits, rows: Iterable<CoalescedRow>, describe: (r: CoalescedRow) => string): void {
    if (this.tolerant) {
      for (const r of rows)
        this.row(
          () => this.writeOne(bits, r),
          () => describe(r),
        );
      return;
    }
    const inserts = new Map<RowLayout, CoalescedRow[]>();
    const updates = new Map<RowLayout, CoalescedRow[]>();
    for (const r of rows) {
      const layout = this.layoutOf(bits, r);
      if (!r.first && layout.width === (layout.isTry ? 2 : 1)) continue; // an update of nothing
      const byLayout = r.first ? inserts : updates;
      const group = byLayout.get(layout);
      if (group) group.push(r);
      else byLayout.set(layout, [r]);
    }
    for (const [layout, group] of inserts) {
      const size = Math.max(1, Math.floor(GROUP_PARAMS / layout.width));
      let i = 0;
      for (; size > 1 && i + size <= group.length; i += size) {
        this.insertGroup(layout, group, i, size);
        this.rows += size;
      }
      for (; i < group.length; i++) {
        const r = group[i]!;
        this.row(
          () => this.writeOne(bits, r),
          () => describe(r),
        );
      }
    }
    for (const [layout, group] of updates) {
      const size = Math.max(1, Math.floor(GROUP_PARAMS / (layout.width + 1)));
      let i = 0;
      for (; size > 1 && i + size <= group.length; i += size) {
        // Fewer changes than rows: some row does not exist. Redo this group row by row (the
        // updates are idempotent), which names the missing rows.
        if (this.updateGroup(layout, group, i, size) === size) this.rows += size;
        else
          for (let j = i; j < i + size; j++) {
            const r = group[j]!;
            this.row(
              () => this.writeOne(bits, r),
              () => describe(r),
            );
          }
      }
      for (; i < group.length; i++) {
        const r = group[i]!;
        this.row(
          () => this.writeOne(bits, r),
          () => describe(r),
        );
      }
    }
  }

  /**
   * New rows (`rows[from … from+n)`, all with `layout`'s column set) in one statement: a plain
   * insert, or when the batch may be stored already an upsert (only the columns Parsl updates
   * later are overwritten on conflict, so replays are harmless).
   */
  private insertGroup(layout: RowLayout, rows: readonly CoalescedRow[], from: number, n: number): void {
    const table = layout.bits.table;
    const upsert = this.replaySafe || this.tolerant;
    const key = `${table.name}:${upsert ? "upsert" : "ins"}:${layout.mask}:${layout.latest}:${n}`;
    const { stmt, params } = this.reuse(key, n * layout.width, () => {
      const updatable = layout.isTry ? TRY_UPDATABLE : TASK_UPDATABLE;
      const set = layout.names.filter((c) => updatable.has(c)).map((c) => `${c} = excluded.${c}`);
      if (layout.latest) set.push(LATEST_ON_CONFLICT);
      const all = [...(layout.isTry ? ["try_id", "task_id"] : ["task_id"]), "run_id", ...layout.names];
      if (layout.latest) all.push(DERIVED_LATEST);
      const tuple = `(${layout.isTry ? "?, ?" : "?"}, @r${", ?".repeat(layout.width - (layout.isTry ? 2 : 1))})`;
      const values = `(${all.join(", ")}) VALUES ${tuple}${`, ${tuple}`.repeat(n - 1)}`;
      if (!upsert) return `INSERT OR FAIL INTO ${table.name} ${values}`;
      return (
        `INSERT INTO ${table.name} ${values} ` +
        `ON CONFLICT (${table.primaryKey.join(", ")}) DO ${set.length > 0 ? "UPDATE SET " + set.join(", ") : "NOTHING"}`
      );
    });
    let k = 0;
    for (let i = from; i < from + n; i++) k = layout.fill(params, k, rows[i]!, false);
    stmt.run(params, this.named);
  }

  /**
   * Updates existing rows (`rows[from … from+n)`, same column set) in one statement (UPDATE …
   * FROM a VALUES list joined on the primary key); returns how many rows it changed.
   */
  private updateGroup(layout: RowLayout, rows: readonly CoalescedRow[], from: number, n: number): number {
    const table = layout.bits.table.name;
    const guard = layout.latest && this.guardLatest;
    const width = layout.width + (guard ? 1 : 0);
    const { stmt, params } = this.reuse(
      `${table}:updn:${layout.mask}:${layout.latest}:${guard}:${n}`,
      n * width,
      () => {
        // VALUES columns are named column1, column2, …: the key(s) first, then the columns set,
        // then the state and (guarded) its time.
        const nKeys = layout.isTry ? 2 : 1;
        const tuple = `(?${", ?".repeat(width - 1)})`;
        const set = layout.names.map((c, i) => `${c} = v.column${nKeys + i + 1}`);
        if (layout.latest) {
          const v = `v.column${nKeys + layout.names.length + 1}`;
          set.push(`${DERIVED_LATEST} = ${guard ? guardedLatest(table, "@b", v, `v.column${width}`) : v}`);
        }
        const match = layout.isTry
          ? `${table}.try_id = v.column1 AND ${table}.task_id = v.column2`
          : `${table}.task_id = v.column1`;
        return (
          `UPDATE OR FAIL ${table} SET ${set.join(", ")} FROM (VALUES ${tuple}${`, ${tuple}`.repeat(n - 1)}) AS v ` +
          `WHERE ${match} AND ${table}.run_id = @r`
        );
      },
    );
    let k = 0;
    for (let i = from; i < from + n; i++) k = layout.fill(params, k, rows[i]!, guard);
    return stmt.run(params, this.named).changes;
  }

  /**
   * Writes one row: an insert of a first row (as insertGroup), else an update of exactly the
   * columns carried; an update that finds no row is reported.
   */
  private writeOne(bits: ColumnBits, r: CoalescedRow): void {
    const layout = this.layoutOf(bits, r);
    if (r.first) {
      this.insertGroup(layout, [r], 0, 1);
      return;
    }
    if (layout.width === (layout.isTry ? 2 : 1)) return; // nothing to update
    const table = bits.table.name;
    const guard = layout.latest && this.guardLatest;
    const { stmt, params } = this.reuse(
      `${table}:upd:${layout.mask}:${layout.latest}:${guard}`,
      layout.width + (guard ? 2 : 0),
      () => {
        const set = layout.names.map((c) => `${c} = ?`);
        // guardedLatest's placeholders in text order: the state, its time, the state again.
        if (layout.latest) set.push(`${DERIVED_LATEST} = ${guard ? guardedLatest(table, "@b", "?", "?") : "?"}`);
        const keys = layout.isTry ? "try_id = ? AND task_id = ?" : "task_id = ?";
        return `UPDATE OR FAIL ${table} SET ${set.join(", ")} WHERE ${keys} AND run_id = @r`;
      },
    );
    let k = 0;
    const names = layout.names;
    for (let j = 0; j < names.length; j++) params[k++] = toSql(layout.types[j]!, r.cols[names[j]!]);
    if (layout.latest) {
      params[k++] = r.latest;
      if (guard) {
        params[k++] = formatMicros(r.latestTs);
        params[k++] = r.latest;
      }
    }
    if (layout.isTry) params[k++] = r.try_id;
    params[k++] = r.task_id;
    if (stmt.run(params, this.named).changes === 0) {
      this.rejected.push(
        `${layout.isTry ? `try ${r.try_id} of task ${r.task_id}` : `task ${r.task_id}`} (run ${this.runId}): ` +
          `an update found no row (its first event never arrived), so it was not written`,
      );
    }
  }

  /** `node` is an append-only log with a surrogate key; skip an exact repeat so replays stay idempotent. */
  private insertNode(n: MonitoringEventNodeRow): void {
    const cols = ["run_id", ...NODE.columns.slice(2).map((c) => c.name)];
    const stmt = this.stmt(
      "node",
      () =>
        `INSERT INTO node (${cols.join(", ")}) SELECT ${cols.map(() => "?").join(", ")} WHERE NOT EXISTS ` +
        `(SELECT 1 FROM node WHERE run_id = ? AND timestamp = ? AND uid = ? AND active = ? AND last_heartbeat = ? AND worker_count = ?)`,
    );
    const ts = formatMicros(n.timestamp);
    const hb = formatMicros(n.last_heartbeat);
    const active = n.active ? 1 : 0;
    stmt.run([
      this.runId,
      n.hostname,
      n.uid,
      n.block_id,
      n.cpu_count,
      n.total_memory,
      active,
      n.worker_count,
      n.python_v,
      ts,
      hb,
      this.runId,
      ts,
      n.uid,
      active,
      hb,
      n.worker_count,
    ]);
  }

  /** A statement run with a parameter array of its own, made once per key. */
  private reuse(key: string, length: number, sql: () => string): Reusable {
    let r = this.reusable.get(key);
    if (!r) {
      r = { stmt: this.db.prepare(sql()), params: new Array<unknown>(length) };
      this.reusable.set(key, r);
    }
    return r;
  }

  private stmt(key: string, sql: () => string): Statement {
    let s = this.stmtCache.get(key);
    if (!s) {
      s = this.db.prepare(sql());
      this.stmtCache.set(key, s);
    }
    return s;
  }

  // ---------------------------------------------------------------- run lifecycle

  async heartbeat(now: Micros): Promise<void> {
    try {
      this.stmt(
        "heartbeat",
        () => `UPDATE workflow SET last_heartbeat = ? WHERE run_id = ? AND time_completed IS NULL`,
      ).run([formatMicros(now), this.runId]);
    } catch (err) {
      if (!isLockError(err)) throw err; // a missed heartbeat while locked is harmless; the next one follows
    }
  }

  async markCrashed(now: Micros): Promise<boolean> {
    return this.retrying(
      "mark the run crashed in",
      () =>
        this.stmt(
          "crashed",
          () =>
            `UPDATE workflow SET time_completed = ?, run_status = 'crashed' WHERE run_id = ? AND time_completed IS NULL ` +
            `AND (run_status IS NULL OR run_status = 'running')`,
        ).run([formatMicros(now), this.runId]).changes > 0,
    );
  }

  async checkpoint(): Promise<void> {
    try {
      this.db.pragma("wal_checkpoint(TRUNCATE)");
    } catch (err) {
      this.notices.note(`monitoring database ${this.location}: WAL checkpoint skipped: ${errorText(err)}`);
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  // ---------------------------------------------------------------- retry policy

  /**
   * Runs `fn` until it succeeds. Lock errors (and errors of the database file that time can
   * mend, such as a full disk) are waited out with backoff, one warning per episode and a note
   * when it ends: data is never dropped. Permanent errors (isPermanentError) throw a
   * PermanentStoreError at once. `fatal` turns every other error into a specific error instead (startup).
   */
  private async retrying<T>(what: string, fn: () => T | Promise<T>, fatal?: (err: unknown) => Error): Promise<T> {
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
        const lock = isLockError(err);
        if (!lock && (fatal || isRowError(err))) throw fatal ? fatal(err) : err;
        if (isPermanentError(err)) {
          throw new PermanentStoreError(
            `cannot ${what} monitoring database ${this.location}: ${errorText(err)}; waiting will not fix this`,
          );
        }
        if (since === 0) {
          since = Date.now();
          this.notices.warning(
            lock
              ? `monitoring database ${this.location} is locked by another connection; waiting, nothing is lost`
              : `cannot ${what} monitoring database ${this.location} (${errorText(err)}); retrying, nothing is lost`,
          );
        }
        await sleep(delay);
        delay = Math.min(delay * 2, BACKOFF_MAX_MS);
      }
    }
  }
}

type MonitoringEventNodeRow = Extract<MonitoringEvent, { t: "node" }>["row"];
