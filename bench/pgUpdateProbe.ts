/**
 * Probe (not part of npm run bench): the plan and server time of the writer's task update
 * (`UPDATE task … FROM UNNEST(…)`, the completion of 6,000 tasks) in a run that already holds N
 * tasks, with the planner's defaults and with hash and merge joins off (what the writer's
 * transactions use: see JOIN_BY_KEY in src/database/postgres/store.ts). The rows the plan reads
 * are a count, not a timing, so they mean the same on a busy machine.
 *   node dist/bench/pgUpdateProbe.js [tasks=60000]
 */
import crypto from "node:crypto";
import pg from "pg";
import { PostgresStore } from "../src/database/postgres/store.js";
import { benchPgAdminUrl } from "./pgServer.js";
import { noopTaskEvents, probeWorkflowStart } from "./writer.js";

const tasks = Number(process.argv[2] ?? 60_000);
const per = 6000;
const base = benchPgAdminUrl();
const name = `parsl_probe_${crypto.randomBytes(4).toString("hex")}`;
const admin = new pg.Client({ connectionString: base });
await admin.connect();
await admin.query(`CREATE DATABASE "${name}"`);
const u = new URL(base);
u.pathname = "/" + name;
const RUN = "probe-" + crypto.randomBytes(4).toString("hex");
try {
  const store = await PostgresStore.open(u.toString(), "probe", RUN, { warning: console.warn, note: () => undefined });
  await store.ensureSchema();
  const t = Date.now() * 1000;
  await store.applyBatch([probeWorkflowStart(t, "/")]);
  // The run as the writer leaves it in a burst: each task's launch, then its completion, a batch of 6,000 at a time.
  for (let s = 0; s < tasks; s += per) {
    const launch = [];
    const done = [];
    for (let i = s; i < s + per; i++) {
      const ev = noopTaskEvents(i, t + i);
      launch.push(...ev.slice(0, 4));
      done.push(...ev.slice(4));
    }
    await store.applyBatch(launch);
    await store.applyBatch(done);
  }
  store.close();
  const c = new pg.Client({ connectionString: u.toString() });
  await c.connect();
  const ids = Array.from({ length: per }, (_, i) => i);
  const params = ["{" + ids.join(",") + "}", RUN, "{" + ids.map(() => `"2026-12-02 03:00:00.000001"`).join(",") + "}"];
  const update = `UPDATE task AS x SET task_time_returned = v.t FROM UNNEST($1::int4[], $3::timestamp[]) AS v(task_id, t)
    WHERE x.task_id = v.task_id AND x.run_id = $2`;
  for (const [label, settings] of [
    ["planner defaults", []],
    ["hash and merge joins off", ["enable_hashjoin", "enable_mergejoin"]],
  ] as const) {
    await c.query("BEGIN");
    for (const s of settings) await c.query(`SELECT set_config('${s}', 'off', true)`);
    const plan = (await c.query(`EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) ${update}`, params)).rows[0][
      "QUERY PLAN"
    ][0];
    await c.query("ROLLBACK");
    let read = 0;
    const walk = (n: Record<string, unknown>): void => {
      if (n["Relation Name"] === "task") read += Number(n["Actual Rows"]) * Number(n["Actual Loops"]);
      for (const k of (n["Plans"] as Record<string, unknown>[] | undefined) ?? []) walk(k);
    };
    walk(plan["Plan"]);
    const joins: string[] = [];
    const kinds = (n: Record<string, unknown>): void => {
      joins.push(String(n["Node Type"]));
      for (const k of (n["Plans"] as Record<string, unknown>[] | undefined) ?? []) kinds(k);
    };
    kinds(plan["Plan"]);
    console.log(
      `${tasks} tasks in the run, updating ${per}: ${label.padEnd(24)} ${String(plan["Execution Time"]).padStart(8)} ms, ` +
        `${read} task rows read (${joins.join(" > ")})`,
    );
  }
  await c.end();
} finally {
  await admin.query(`DROP DATABASE "${name}" WITH (FORCE)`);
  await admin.end();
}
