/** The task graph: per-app counts and app-level edges (whole run), and windows of the task graph itself. */
import type { Row } from "../connection.js";
import { list, sql } from "../sql.js";
import type { ReadContext } from "./context.js";
import { parseDepends } from "./tasks.js";
import type { DagData, DagSummary } from "./types.js";

/** App-level edges are counted over the first this many tasks that have dependencies (exact for smaller runs). */
const APP_EDGE_SAMPLE = 20_000;
const OUTSIDE_PARENTS = 500;

export async function dagWindow(
  ctx: ReadContext,
  runId: string,
  from: number,
  limit: number,
): Promise<DagData["window"]> {
  const run = ctx.runCol("t");
  const ids = (
    await ctx.db.all<Row>(
      sql`SELECT t.task_id FROM task t WHERE ${run} = ${runId} AND t.task_id >= ${from} ORDER BY t.task_id LIMIT ${limit}`,
    )
  ).map((r) => Number(r["task_id"]));
  const nodes: DagData["window"]["nodes"] = [];
  const edges: [number, number][] = [];
  if (ids.length > 0) {
    const lo = ids[0]!;
    const hi = ids[ids.length - 1]!;
    const rows = await ctx.db.all(sql`SELECT t.task_id, t.task_func_name, t.task_depends, ${ctx.latestExpr("t")} AS st
      FROM task t WHERE ${run} = ${runId} AND t.task_id BETWEEN ${lo} AND ${hi} ORDER BY t.task_id`);
    const inWindow = new Set(rows.map((r) => Number(r["task_id"])));
    const outside = new Set<number>();
    for (const r of rows) {
      const id = Number(r["task_id"]);
      nodes.push({ id, app: String(r["task_func_name"]), state: (r["st"] as string | null) ?? null, outside: false });
      for (const dep of parseDepends(r["task_depends"])) {
        edges.push([dep, id]);
        if (!inWindow.has(dep)) outside.add(dep);
      }
    }
    const extra = [...outside].slice(0, OUTSIDE_PARENTS);
    if (extra.length > 0) {
      for (const r of await ctx.db.all(sql`SELECT t.task_id, t.task_func_name, ${ctx.latestExpr("t")} AS st FROM task t
          WHERE ${run} = ${runId} AND t.task_id IN ${list(extra)} ORDER BY t.task_id`)) {
        nodes.push({
          id: Number(r["task_id"]),
          app: String(r["task_func_name"]),
          state: (r["st"] as string | null) ?? null,
          outside: true,
        });
      }
    }
  }
  const known = new Set(nodes.map((n) => n.id));
  return { from, limit, nodes, edges: edges.filter(([a]) => known.has(a)) };
}

export async function dagSummary(ctx: ReadContext, runId: string): Promise<DagSummary> {
  const apps = new Map<string, { name: string; count: number; states: Record<string, number> }>();
  // With task_latest_status filled in, ix_task_run_latest_status (run_id, task_latest_status, task_func_name) covers this.
  const stateCol = (await ctx.latestColComplete(runId)) ? sql`t.task_latest_status` : ctx.latestExpr("t");
  for (const r of await ctx.db.all(sql`SELECT t.task_func_name AS app, ${stateCol} AS st, COUNT(*) AS n FROM task t
      WHERE t.run_id = ${runId} GROUP BY 1, 2`)) {
    const app = String(r["app"]);
    let a = apps.get(app);
    if (!a) apps.set(app, (a = { name: app, count: 0, states: {} }));
    const n = Number(r["n"]);
    a.count += n;
    const key = r["st"] === null ? "unknown" : String(r["st"]);
    a.states[key] = (a.states[key] ?? 0) + n;
  }
  const sample = await ctx.db
    .all(sql`SELECT t.task_id, t.task_func_name, t.task_depends FROM task t WHERE ${ctx.runCol("t")} = ${runId}
    AND t.task_depends <> '' ORDER BY t.task_id LIMIT ${APP_EDGE_SAMPLE}`);
  const appOf = new Map<number, string>();
  for (const r of sample) appOf.set(Number(r["task_id"]), String(r["task_func_name"]));
  const wanted = new Set<number>();
  for (const r of sample) for (const dep of parseDepends(r["task_depends"])) if (!appOf.has(dep)) wanted.add(dep);
  // Parents outside the sample, looked up in batches of ids.
  const want = [...wanted];
  for (let i = 0; i < want.length; i += 500) {
    for (const r of await ctx.db.all(sql`SELECT task_id, task_func_name FROM task WHERE ${ctx.runCol("task")} = ${runId}
        AND task_id IN ${list(want.slice(i, i + 500))}`))
      appOf.set(Number(r["task_id"]), String(r["task_func_name"]));
  }
  const edgeCounts = new Map<string, number>();
  for (const r of sample) {
    const app = String(r["task_func_name"]);
    for (const dep of parseDepends(r["task_depends"])) {
      const src = appOf.get(dep);
      if (src === undefined) continue;
      const k = JSON.stringify([src, app]);
      edgeCounts.set(k, (edgeCounts.get(k) ?? 0) + 1);
    }
  }
  const appList = [...apps.values()].sort((a, b) => a.name.localeCompare(b.name));
  return {
    task_count: appList.reduce((a, b) => a + b.count, 0),
    apps: appList,
    app_edges: [...edgeCounts.entries()].map(([k, count]) => {
      const [f, t] = JSON.parse(k) as [string, string];
      return { from: f, to: t, count };
    }),
    edges_from_tasks: sample.length,
  };
}
