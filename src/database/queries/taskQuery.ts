/**
 * Rows of tasks (or of tries) with any fields of fields.ts, a filter (filter.ts), a sort and a
 * limit, for one run or across runs: what `parsl-ts tasks` prints and `parsl-ts/query` returns.
 *
 * Pages are streamed: in the default order (task id, then try id) each page continues after the
 * last row of the one before (keyset paging on the primary key), so the first rows of a
 * 1,000,000-task run arrive after reading about a page of tasks, and nothing counts the run first.
 * A sort on another field, or rows across runs, is one query (the database sorts anyway).
 */
import { join, raw, sql, type Sql } from "../sql.js";
import type { ReadContext } from "./context.js";
import { field, fieldValue, type Field } from "./fields.js";
import { FilterError, filterSql } from "./filter.js";

export interface TaskQuery {
  /** The run; omitted: every run (rows carry run_id). */
  readonly runId?: string;
  /** Field names (fields.ts); order kept. */
  readonly fields: readonly string[];
  /** A filter in the filter language (filter.ts). */
  readonly filter?: string;
  /** Field names to sort by, `-name` for descending; ties keep task-id order. */
  readonly sort?: readonly string[];
  readonly limit?: number;
  /** A row per try instead of per task (tasks without a try: one row with empty try fields). */
  readonly tries?: boolean;
}

export type FieldRow = Record<string, string | number | boolean | null>;

/** Field names → fields; an unknown one is a FilterError pointing into `what` (the joined list). */
export function resolveFields(names: readonly string[], what: string): Field[] {
  const text = names.join(",");
  let pos = 0;
  return names.map((n) => {
    const f = field(n.replace(/^-/, ""));
    const at = pos;
    pos += n.length + 1;
    if (!f)
      throw new FilterError(
        `${what}: unknown field ${JSON.stringify(n)}; 'parsl-ts tasks --list-fields' lists them`,
        text,
        at,
        n.length,
      );
    return f;
  });
}

const usesTry = (s: Sql): boolean => /\br\./.test(s.texts.join("?"));

interface Plan {
  readonly select: Sql;
  readonly from: Sql;
  readonly where: Sql[];
  readonly fields: readonly Field[];
  readonly keyed: boolean;
  readonly order: Sql;
}

function plan(ctx: ReadContext, q: TaskQuery): Plan {
  const fields = resolveFields(q.fields, "fields");
  if (fields.length === 0) throw new FilterError("fields: give at least one field", "", 0);
  const sorts = q.sort ?? [];
  const sortFields = resolveFields(sorts, "sort");
  const exprs = fields.map((f) => f.expr(ctx));
  const where: Sql[] = [];
  if (q.runId !== undefined) where.push(sql`${ctx.runCol("t")} = ${q.runId}`);
  if (q.filter !== undefined && q.filter.trim() !== "") where.push(filterSql(ctx, q.filter));
  const sortExprs = sortFields.map((f) => f.expr(ctx));
  const needTry = q.tries === true || [...exprs, ...where, ...sortExprs].some(usesTry);
  // In a row per task, r is the latest try: found through try's (run_id, task_id, try_id) index.
  const tryJoin = !needTry
    ? raw("")
    : q.tries
      ? raw(" LEFT JOIN try r ON r.run_id = t.run_id AND r.task_id = t.task_id")
      : raw(
          " LEFT JOIN try r ON r.run_id = t.run_id AND r.task_id = t.task_id AND r.try_id = (SELECT MAX(x.try_id) FROM try x WHERE x.run_id = t.run_id AND x.task_id = t.task_id)",
        );
  const keyCols = [
    raw("t.task_id AS k_task"),
    raw("t.run_id AS k_run"),
    ...(q.tries ? [raw("r.try_id AS k_try")] : []),
  ];
  const select = join([...exprs.map((e, i) => sql`${e} AS ${raw(`c${i}`)}`), ...keyCols]);
  const order: Sql[] = sortExprs.map(
    (e, i) => sql`(${e} IS NULL), ${e}${raw(sorts[i]!.startsWith("-") ? " DESC" : "")}`,
  );
  if (q.runId === undefined) order.push(raw("t.task_time_invoked, t.run_id"));
  order.push(raw("t.task_id"));
  if (q.tries) order.push(raw("r.try_id"));
  return {
    select,
    from: sql`task t${tryJoin}`,
    where,
    fields,
    keyed: sorts.length === 0 && q.runId !== undefined,
    order: join(order),
  };
}

function toRow(fields: readonly Field[], r: Record<string, unknown>): FieldRow {
  const out: FieldRow = {};
  fields.forEach((f, i) => {
    out[f.name] = fieldValue(f.type, r[`c${i}`]);
  });
  return out;
}

/** Checks a query (fields, sort, filter) without running it: a FilterError says what is wrong. */
export function checkTaskQuery(ctx: ReadContext, q: TaskQuery): void {
  plan(ctx, q);
}

/**
 * The rows, page by page: the first page is `firstPage` rows (small, so the first rows show at
 * once), the next ones `pageSize`.
 */
export async function* taskPages(
  ctx: ReadContext,
  q: TaskQuery,
  firstPage = 100,
  pageSize = 2_000,
): AsyncGenerator<FieldRow[]> {
  const p = plan(ctx, q);
  const limit = q.limit ?? Infinity;
  const where = (extra: Sql[]): Sql => {
    const all = [...p.where, ...extra];
    return all.length ? sql` WHERE ${join(all, " AND ")}` : raw("");
  };
  if (!p.keyed) {
    const lim = Number.isFinite(limit) ? sql` LIMIT ${limit}` : raw("");
    const rows = await ctx.db.all(sql`SELECT ${p.select} FROM ${p.from}${where([])} ORDER BY ${p.order}${lim}`);
    if (rows.length) yield rows.map((r) => toRow(p.fields, r));
    return;
  }
  // Task-id windows: each query reads at most `span` ids of the run, so no planner can turn a
  // first page into a join over the whole run (PostgreSQL did, for filters on try fields: 7 s).
  // A window that yields little doubles the next one, so sparse filters still move fast.
  const range = await ctx.taskIdRange(q.runId!);
  if (!range) return;
  let sent = 0;
  let after: { task: number; tryId: number | null } | null = null;
  let size = firstPage;
  let lo = range[0];
  // Unfiltered, a page needs a page of ids; filtered, start wider (a round trip costs more than a few thousand rows).
  let span = q.filter !== undefined && q.filter.trim() !== "" ? 10_000 : 4 * firstPage;
  while (sent < limit && lo <= range[1]) {
    const hi = lo + span;
    const n = Math.min(size, limit - sent);
    const key: Sql[] = [sql`t.task_id >= ${lo}`, sql`t.task_id < ${hi}`];
    if (after) {
      key.push(
        q.tries && after.tryId !== null
          ? sql`(t.task_id > ${after.task} OR (t.task_id = ${after.task} AND r.try_id > ${after.tryId}))`
          : sql`t.task_id > ${after.task}`,
      );
    }
    const rows = await ctx.db.all(sql`SELECT ${p.select} FROM ${p.from}${where(key)} ORDER BY ${p.order} LIMIT ${n}`);
    if (rows.length > 0) {
      yield rows.map((r) => toRow(p.fields, r));
      sent += rows.length;
      size = pageSize;
    }
    if (rows.length === n) {
      const last = rows[rows.length - 1]!;
      after = {
        task: Number(last["k_task"]),
        tryId: last["k_try"] === null || last["k_try"] === undefined ? null : Number(last["k_try"]),
      };
    } else {
      // The window is exhausted: on to the next one, wider when this one held few rows.
      lo = hi;
      after = null;
      if (rows.length < n / 4) span = Math.min(span * 2, 1_000_000);
    }
  }
}

/** Every row at once (the API's convenience; the CLI streams taskPages). */
export async function taskRows(ctx: ReadContext, q: TaskQuery): Promise<FieldRow[]> {
  const out: FieldRow[] = [];
  for await (const page of taskPages(ctx, q, 2_000, 5_000)) out.push(...page);
  return out;
}
