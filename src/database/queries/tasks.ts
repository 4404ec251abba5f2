/** Tasks: paged lists (per app, per latest state), existence checks and one task's detail. */
import type { Row } from "../connection.js";
import { join, list, sql, type Sql } from "../sql.js";
import type { ReadContext } from "./context.js";
import { naiveToMs } from "./time.js";
import type { Page, TaskDetail, TaskListItem } from "./types.js";
import { taskHistory } from "./parslQueries.js";

const MEMORY_POINTS = 2_000;
const DEPENDENT_SCAN = 5_000;

/** Parsl's task_depends text ("3,4" or "3, 4") as ids. */
export function parseDepends(value: unknown): number[] {
  if (typeof value !== "string" || value.trim() === "") return [];
  const out: number[] = [];
  for (const part of value.split(",")) {
    const p = part.trim();
    if (/^\d+$/.test(p)) out.push(Number(p));
  }
  return out;
}

export interface TaskFilter {
  app?: string;
  state?: string;
}

export async function listTasks(
  ctx: ReadContext,
  runId: string,
  filter: TaskFilter,
  offset: number,
  limit: number,
): Promise<Page<TaskListItem>> {
  const where: Sql[] = [sql`t.run_id = ${runId}`];
  if (filter.app !== undefined) where.push(sql`t.task_func_name = ${filter.app}`);
  if (filter.state !== undefined) {
    where.push(
      (await ctx.latestColComplete(runId))
        ? sql`t.task_latest_status = ${filter.state}`
        : sql`${ctx.latestExpr("t")} = ${filter.state}`,
    );
  }
  const w = join(where, " AND ");
  const total = await ctx.cached(`taskcount|${runId}|${filter.app ?? ""}|${filter.state ?? ""}`, async () =>
    Number((await ctx.db.first<Row>(sql`SELECT COUNT(*) AS n FROM task t WHERE ${w}`))?.["n"] ?? 0),
  );
  const cols = sql`t.task_id, t.task_func_name, t.task_depends, t.task_time_invoked, t.task_time_returned, t.task_fail_count,
    ${ctx.latestExpr("t")} AS state`;
  let rows: Row[];
  if (filter.app === undefined && filter.state === undefined) {
    // Whole run: walk the primary key (task_id, run_id) in id order (SQLite: the unindexed run_id stops it from
    // picking a run_id index and sorting the whole run). Parsl task ids are dense, so a page is an id range.
    const range = await ctx.taskIdRange(runId);
    if (range && total === range[1] - range[0] + 1) {
      const lo = range[0] + offset;
      rows = await ctx.db.all(sql`SELECT ${cols} FROM task t WHERE t.task_id >= ${lo} AND t.task_id < ${lo + limit}
        AND ${ctx.runCol("t")} = ${runId} ORDER BY t.task_id`);
    } else {
      rows = await ctx.db.all(
        sql`SELECT ${cols} FROM task t WHERE ${ctx.runCol("t")} = ${runId} ORDER BY t.task_id LIMIT ${limit} OFFSET ${offset}`,
      );
    }
  } else if (filter.state === undefined && offset > 0) {
    // One app: find the page's first id by skipping `offset` entries of ix_task_run_func (run_id, task_func_name,
    // task_id) alone, then read the page from there. A plain OFFSET makes PostgreSQL fetch every skipped row.
    const first = sql`(SELECT x.task_id FROM task x WHERE x.run_id = ${runId} AND x.task_func_name = ${filter.app}
      ORDER BY x.task_id LIMIT 1 OFFSET ${offset})`;
    rows = await ctx.db.all(
      sql`SELECT ${cols} FROM task t WHERE ${w} AND t.task_id >= ${first} ORDER BY t.task_id LIMIT ${limit}`,
    );
  } else {
    rows = await ctx.db.all(
      sql`SELECT ${cols} FROM task t WHERE ${w} ORDER BY t.task_id LIMIT ${limit} OFFSET ${offset}`,
    );
  }
  return {
    total,
    offset,
    limit,
    rows: rows.map((r) => ({
      task_id: Number(r["task_id"]),
      task_func_name: String(r["task_func_name"]),
      task_depends: parseDepends(r["task_depends"]),
      task_time_invoked: (r["task_time_invoked"] as string | null) ?? null,
      task_time_returned: (r["task_time_returned"] as string | null) ?? null,
      task_fail_count: Number(r["task_fail_count"] ?? 0),
      state: (r["state"] as string | null) ?? null,
    })),
  };
}

export async function taskExists(ctx: ReadContext, runId: string, taskId: number): Promise<boolean> {
  return (
    (await ctx.db.first(
      sql`SELECT 1 AS x FROM task WHERE ${ctx.runCol("task")} = ${runId} AND task_id = ${taskId}`,
    )) !== undefined
  );
}

export async function appExists(ctx: ReadContext, runId: string, app: string): Promise<boolean> {
  return (
    (await ctx.db.first(sql`SELECT 1 AS x FROM task WHERE run_id = ${runId} AND task_func_name = ${app} LIMIT 1`)) !==
    undefined
  );
}

export async function taskDetail(ctx: ReadContext, runId: string, taskId: number): Promise<TaskDetail | null> {
  const db = ctx.db;
  const task = await db.first(sql`SELECT * FROM task t WHERE ${ctx.runCol("t")} = ${runId} AND t.task_id = ${taskId}`);
  if (!task) return null;
  const state = (
    await db.first<Row>(
      sql`SELECT ${ctx.latestExpr("t")} AS st FROM task t WHERE ${ctx.runCol("t")} = ${runId} AND t.task_id = ${taskId}`,
    )
  )?.["st"];
  const tries = await db.all(sql`SELECT * FROM try WHERE run_id = ${runId} AND task_id = ${taskId} ORDER BY try_id`);
  const states = await db.all<
    TaskDetail["states"][number]
  >(sql`SELECT s.task_status_name, s.timestamp, s.try_id FROM status s
    WHERE ${ctx.runCol("s")} = ${runId} AND s.task_id = ${taskId} ORDER BY ${ctx.statusOrder("s")}`);
  const n = Number(
    (await db.first<Row>(sql`SELECT COUNT(*) AS n FROM resource WHERE run_id = ${runId} AND task_id = ${taskId}`))?.[
      "n"
    ] ?? 0,
  );
  const step = Math.max(1, Math.ceil(n / MEMORY_POINTS));
  const memRows = await db.all(sql`SELECT m.timestamp, m.rss, m.vms, m.try_id FROM (
      SELECT r.timestamp, r.psutil_process_memory_resident AS rss, r.psutil_process_memory_virtual AS vms, r.try_id,
        ROW_NUMBER() OVER (ORDER BY r.timestamp, r.try_id) AS rn
      FROM resource r WHERE r.run_id = ${runId} AND r.task_id = ${taskId}) m
    WHERE (m.rn - 1) % ${step} = 0 ORDER BY m.timestamp, m.try_id`);
  // Dependents are found among the next DEPENDENT_SCAN task ids (Parsl numbers a task after its dependencies).
  const dependents = (
    await db.all<Row>(sql`SELECT task_id FROM task WHERE ${ctx.runCol("task")} = ${runId}
      AND task_id > ${taskId} AND task_id <= ${taskId + DEPENDENT_SCAN}
      AND task_depends <> '' AND (',' || REPLACE(task_depends, ' ', '') || ',') LIKE ${`%,${taskId},%`} ORDER BY task_id LIMIT 100`)
  ).map((r) => Number(r["task_id"]));
  return {
    task,
    state: (state as string | null | undefined) ?? null,
    tries,
    states,
    memory: memRows.map((r) => ({
      t: naiveToMs(r["timestamp"]) ?? 0,
      rss: Number(r["rss"] ?? 0),
      vms: Number(r["vms"] ?? 0),
      try_id: Number(r["try_id"]),
    })),
    memory_sampled: step > 1,
    dependents,
    history: await taskHistory(ctx, runId, taskId, 50),
  };
}

/** Task id → app name for a list of ids of one run. */
export async function appsOf(ctx: ReadContext, runId: string, ids: readonly number[]): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  if (ids.length === 0) return out;
  for (const r of await ctx.db.all(
    sql`SELECT task_id, task_func_name FROM task WHERE ${ctx.runCol("task")} = ${runId} AND task_id IN ${list(ids)}`,
  )) {
    out.set(Number(r["task_id"]), String(r["task_func_name"]));
  }
  return out;
}
