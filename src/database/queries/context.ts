/**
 * What every read query shares: the connection, the facts about the database's schema that pick
 * a query's shape (Python Parsl's tables or ours with extra columns and indexes), a cache keyed by
 * the change token, and the few building blocks the queries repeat (a task's latest state, a
 * run's task-id range, the task sample of whole-run aggregates). Dialect-neutral: all SQL is
 * built with `sql` and the Dialect's helpers.
 */
import type { Connection, Row } from "../connection.js";
import { TABLES } from "../schema.js";
import { ident, raw, sql, type Sql } from "../sql.js";
import { TokenCache } from "./cache.js";
import { naiveToMs } from "./time.js";

/** Whole-run aggregates read at most about this many tasks; bigger runs use every k-th task id, scaled by k. */
export const SAMPLE_TASKS = 50_000;

export interface ReadOptions {
  /** Above this many tasks, whole-run aggregates read every k-th task (tests lower it). */
  readonly sampleTasks?: number;
  /**
   * false for a reader that asks each question once (a terminal command): results are not kept,
   * so no change token is read for them, a round trip per question saved on PostgreSQL.
   * Default true (the visualizer, `watch`, long-lived API users).
   */
  readonly cacheResults?: boolean;
}

export class ReadContext {
  readonly cache = new TokenCache();
  readonly sampleTasks: number;
  private readonly cacheResults: boolean;
  /** Without `cacheResults`: computations still running, shared by callers that ask at the same time. */
  private readonly running = new Map<string, Promise<unknown>>();

  private constructor(
    readonly db: Connection,
    private readonly cols: ReadonlyMap<string, ReadonlySet<string>>,
    private readonly indexes: ReadonlySet<string>,
    options: ReadOptions,
  ) {
    this.sampleTasks = options.sampleTasks ?? SAMPLE_TASKS;
    this.cacheResults = options.cacheResults ?? true;
  }

  /** Reads the schema facts once; refuses a database that lacks one of Parsl's tables. */
  static async open(db: Connection, options: ReadOptions = {}): Promise<ReadContext> {
    const cols = new Map<string, Set<string>>(TABLES.map((t) => [t.name, new Set<string>()]));
    const indexes = new Set<string>();
    // Columns and index names in one round trip (index rows have no table_name).
    for (const r of await db.all<{ table_name: string | null; name: string }>(
      sql`SELECT table_name, name FROM (${db.dialect.listColumns(TABLES.map((t) => t.name))}) c
        UNION ALL SELECT NULL AS table_name, name FROM (${db.dialect.listIndexes()}) i`,
    )) {
      if (r.table_name === null) indexes.add(r.name);
      else cols.get(r.table_name)?.add(r.name);
    }
    for (const t of TABLES) {
      if (cols.get(t.name)!.size === 0) {
        // PostgreSQL lists only the columns a role may read: tell "no privilege" from "no table".
        const denied = await db.first(sql`SELECT * FROM ${ident(t.name)} LIMIT 0`).then(
          () => null,
          (e: unknown) => e,
        );
        if (denied !== null && /permission denied|42501/i.test(db.dialect.describeError(denied))) {
          throw new Error(
            `${db.location} refused to let this role read table "${t.name}": ${db.dialect.describeError(denied)} (grant it SELECT)`,
          );
        }
        throw new Error(`${db.location} is not a Parsl monitoring database: table "${t.name}" is missing`);
      }
    }
    return new ReadContext(db, cols, indexes, options);
  }

  /** The same schema facts over another connection to the same database (a snapshot's view): no second read of the schema. */
  over(view: Connection): ReadContext {
    return new ReadContext(view, this.cols, this.indexes, {
      sampleTasks: this.sampleTasks,
      cacheResults: this.cacheResults,
    });
  }

  get d() {
    return this.db.dialect;
  }

  has(table: string, col: string): boolean {
    return this.cols.get(table)?.has(col) ?? false;
  }

  hasIndex(name: string): boolean {
    return this.indexes.has(name);
  }

  get hasLatestCol(): boolean {
    return this.has("task", "task_latest_status");
  }

  /** The database's change token (see Dialect.changeToken). */
  async token(): Promise<string> {
    const row = await this.db.first<Row>(this.d.changeToken());
    return `v${String(row ? Object.values(row)[0] : "")}`;
  }

  /**
   * `compute()` once per change token (slow results are reused a little longer: TokenCache). Without
   * `cacheResults`, nothing is kept: only callers asking while it runs (a command's parallel reads) share it.
   */
  async cached<T>(key: string, compute: () => Promise<T>): Promise<T> {
    if (this.cacheResults) return this.cache.get(key, await this.token(), compute);
    const running = this.running.get(key);
    if (running) return running as Promise<T>;
    const p = compute().finally(() => this.running.delete(key));
    this.running.set(key, p);
    return p;
  }

  /** `alias.run_id` kept off the run-wide indexes on SQLite (see Dialect.unindexed). */
  runCol(alias: string): Sql {
    return this.d.unindexed(raw(`${alias}.run_id`));
  }

  /**
   * Orders a task's status rows as they were written: by timestamp, then insertion (SQLite's
   * rowid) or, where the dialect has none, try_id. `desc` gives newest first.
   */
  statusOrder(alias: string, desc = false): Sql {
    const dir = raw(desc ? " DESC" : "");
    const tie = this.d.insertionOrder(alias) ?? raw(`${alias}.try_id`);
    return sql`${raw(alias)}.timestamp${dir}, ${tie}${dir}`;
  }

  /** SQL for a task's latest state: the parsl-ts column when present and set, else the newest status row. */
  latestExpr(alias: string): Sql {
    // On SQLite the unindexed s.run_id keeps the primary key (task_id, run_id, …) in use instead of a scan of the run's time index.
    const sub = sql`(SELECT s.task_status_name FROM status s WHERE s.task_id = ${raw(alias)}.task_id AND ${this.runCol("s")} = ${raw(alias)}.run_id
      ORDER BY ${this.statusOrder("s", true)} LIMIT 1)`;
    return this.hasLatestCol ? sql`COALESCE(${raw(alias)}.task_latest_status, ${sub})` : sub;
  }

  /**
   * SQL for a try's exit code (`alias` is a `try` row): parsl-ts's task_try_exit_code, else the
   * code in Python Parsl's failure history, which holds a bash app's exit as `BashExitFailure('app', 3)`
   * (the app's name has no ", ", so the code lies between the first ", " and the closing parenthesis).
   */
  exitCodeExpr(alias: string): Sql {
    const h = raw(`${alias}.task_fail_history`);
    const comma = this.d.strpos(h, raw("', '"));
    const fromHistory = sql`(CASE WHEN ${h} LIKE 'BashExitFailure(%)' AND ${comma} > 0
      THEN ${this.d.integerOrNull(sql`SUBSTR(${h}, ${comma} + 2, LENGTH(${h}) - ${comma} - 2)`)} END)`;
    return this.has("try", "task_try_exit_code")
      ? sql`COALESCE(${raw(`${alias}.task_try_exit_code`)}, ${fromHistory})`
      : fromHistory;
  }

  /** True when every task of the run has task_latest_status set, so the indexed column alone is exact. */
  async latestColComplete(runId: string): Promise<boolean> {
    if (!this.hasLatestCol) return false;
    return (
      (await this.db.first(
        sql`SELECT 1 AS x FROM task WHERE run_id = ${runId} AND task_latest_status IS NULL LIMIT 1`,
      )) === undefined
    );
  }

  workflowColumns(): Sql {
    const extra = ["run_status", "last_heartbeat", "heartbeat_period"].filter((c) => this.has("workflow", c));
    return raw(
      [
        "run_id",
        "workflow_name",
        "workflow_version",
        "time_began",
        "time_completed",
        "host",
        '"user"',
        "rundir",
        "tasks_failed_count",
        "tasks_completed_count",
        ...extra,
      ].join(", "),
    );
  }

  async workflowRow(runId: string): Promise<Row> {
    const r = await this.db.first(sql`SELECT ${this.workflowColumns()} FROM workflow WHERE run_id = ${runId}`);
    if (!r) throw new Error(`unknown run ${runId}`); // callers check that the run exists first
    return r;
  }

  /** Newest timestamp the run wrote to `status` or `resource` (naive ms). */
  async lastActivityMs(runId: string): Promise<number | null> {
    let newest: number | null = null;
    const consider = (row: Row | undefined): void => {
      const ms = naiveToMs(row?.["ts"]);
      if (ms !== null && (newest === null || ms > newest)) newest = ms;
    };
    const ins = this.d.insertionOrder("status");
    if (this.hasIndex("ix_status_run_time") || ins === null) {
      consider(await this.db.first(sql`SELECT MAX(timestamp) AS ts FROM status WHERE run_id = ${runId}`));
    } else {
      // Rows are appended in time order, so the newest rowid of the run is (nearly) its newest row.
      consider(
        await this.db.first(
          sql`SELECT timestamp AS ts FROM status WHERE run_id = ${runId} ORDER BY ${ins} DESC LIMIT 1`,
        ),
      );
    }
    const rins = this.d.insertionOrder("resource");
    consider(
      await this.db.first(
        rins === null
          ? sql`SELECT MAX(timestamp) AS ts FROM resource WHERE run_id = ${runId}`
          : sql`SELECT timestamp AS ts FROM resource WHERE run_id = ${runId} ORDER BY ${rins} DESC LIMIT 1`,
      ),
    );
    return newest;
  }

  /** Where the last Gantt bar of each task ends: time_completed, else the newest status (Parsl's rule). */
  async endMs(runId: string, wf: Row): Promise<number | null> {
    return naiveToMs(wf["time_completed"]) ?? (await this.lastActivityMs(runId));
  }

  /** Lowest and highest task id of a run, without scanning the run (cached per change token). */
  taskIdRange(runId: string): Promise<[number, number] | null> {
    return this.cached(`range|${runId}`, () => this.computeTaskIdRange(runId));
  }

  private async computeTaskIdRange(runId: string): Promise<[number, number] | null> {
    const one = async (q: Sql): Promise<number | null> => {
      const v = (await this.db.first<Row>(q))?.["x"];
      return v === null || v === undefined ? null : Number(v);
    };
    const run = this.runCol("task");
    if (this.hasIndex("ix_try_run_task")) {
      // O(log n) through try's (run_id, task_id) index; then extend by tasks that have no try yet.
      // One round trip; each MIN/MAX is its own subquery, so each is one index look-up.
      const ends = await this.db.first<Row>(
        sql`SELECT (SELECT MIN(task_id) FROM try WHERE run_id = ${runId}) AS lo, (SELECT MAX(task_id) FROM try WHERE run_id = ${runId}) AS hi,
          (SELECT MIN(task_id) FROM task) AS bottom, (SELECT MAX(task_id) FROM task) AS top`,
      );
      const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
      const lo0 = num(ends?.["lo"]);
      const hi0 = num(ends?.["hi"]);
      if (lo0 !== null && hi0 !== null) {
        // Walking the primary key (task_id, run_id) past an end of that range steps over every
        // task of every run there: cheap for the newest big run, a scan of a million rows for a
        // small run beside it. Then the run's own index (one step per task of the run) is cheaper.
        const span = hi0 - lo0 + 1;
        const top = num(ends?.["top"]) ?? hi0;
        const bottom = num(ends?.["bottom"]) ?? lo0;
        // `task_id + 0`: not the MIN/MAX shortcut, which would walk the primary key again.
        const lower =
          lo0 - bottom <= span
            ? sql`SELECT task_id FROM task WHERE task_id < ${lo0} AND ${run} = ${runId} ORDER BY task_id LIMIT 1`
            : sql`SELECT MIN(task_id + 0) FROM task WHERE run_id = ${runId}`;
        const upper =
          top - hi0 <= span
            ? sql`SELECT task_id FROM task WHERE task_id > ${hi0} AND ${run} = ${runId} ORDER BY task_id DESC LIMIT 1`
            : sql`SELECT MAX(task_id + 0) FROM task WHERE run_id = ${runId}`;
        const beyond = await this.db.first<Row>(sql`SELECT (${lower}) AS lo, (${upper}) AS hi`);
        return [Math.min(num(beyond?.["lo"]) ?? lo0, lo0), Math.max(num(beyond?.["hi"]) ?? hi0, hi0)];
      }
    }
    const lo = await one(sql`SELECT task_id AS x FROM task WHERE ${run} = ${runId} ORDER BY task_id LIMIT 1`);
    if (lo === null) return null;
    const hi = await one(sql`SELECT task_id AS x FROM task WHERE ${run} = ${runId} ORDER BY task_id DESC LIMIT 1`);
    return [lo, hi ?? lo];
  }

  /**
   * Which tasks a whole-run aggregate reads, as a FROM clause ending in a WHERE condition (callers
   * append `AND …`). Small runs: all of them (the table, filtered by run). Huge runs: one
   * pseudo-randomly placed task id in every block of k ids (stratified sampling, so periodic
   * patterns such as apps submitted round-robin are not aliased), enumerated by a recursive CTE and
   * joined on the (run_id, task_id) indexes. The cost is bounded by `sampleTasks` whatever the run's
   * size; callers multiply counts by k.
   */
  async taskSample(
    runId: string,
    table: "task" | "try" | "resource",
    alias: string,
    join: Sql = raw(""),
    share = 1,
  ): Promise<{ k: number; from: Sql }> {
    const range = await this.taskIdRange(runId);
    const span = range ? range[1] - range[0] + 1 : 0;
    const k = Math.max(1, Math.ceil(span / (this.sampleTasks * share)));
    const t = raw(table);
    const a = raw(alias);
    if (k === 1 || !range) return { k: 1, from: sql`${t} ${a} ${join} WHERE ${a}.run_id = ${runId}` };
    // try and resource have (run_id, task_id, …) indexes; task's path is its primary key (task_id, run_id),
    // so on SQLite its run_id must not tempt the planner into the run-wide ix_task_run_func.
    const runCol = table === "task" ? this.runCol(table) : raw(`${table}.run_id`);
    const blocks = Math.floor(span / k);
    return {
      k,
      from: sql`(WITH RECURSIVE blocks(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM blocks WHERE i + 1 < ${blocks}),
          ids(x) AS (SELECT ${range[0]} + i * ${k} + ((i * 2654435761) % 1000003) % ${k} FROM blocks)
        SELECT ${t}.* FROM ids ${this.d.orderedJoin()} ${t} ON ${t}.task_id = ids.x AND ${runCol} = ${runId}) ${a} ${join} WHERE 1 = 1`,
    };
  }
}
