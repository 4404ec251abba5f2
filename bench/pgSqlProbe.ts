/**
 * Probe (not part of npm run bench): server CPU (the backend's /proc times) and WAL bytes per
 * status row for insert variants into Parsl's status table: upsert vs plain insert vs NOT
 * EXISTS, with and without the foreign key to workflow. Server on this machine only.
 *   node dist/bench/pgSqlProbe.js [tasksPerTransaction=6000] [repetitions=3]
 */
import crypto from "node:crypto";
import fs from "node:fs";
import pg from "pg";
import { PostgresStore } from "../src/database/postgres/store.js";
import { formatMicros } from "../src/database/timeformat.js";
import { benchPgAdminUrl } from "./pgServer.js";

const per = Number(process.argv[2] ?? 6000);
const reps = Number(process.argv[3] ?? 3);
const only = process.argv[4];
const base = benchPgAdminUrl();
const name = `parsl_probe_${crypto.randomBytes(4).toString("hex")}`;
const admin = new pg.Client({ connectionString: base });
await admin.connect();
await admin.query(`CREATE DATABASE "${name}"`);
const u = new URL(base);
u.pathname = "/" + name;
const RUN = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
function cpuOf(pid: number): number {
  const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}
try {
  const store = await PostgresStore.open(u.toString(), "probe", RUN, { warning: console.warn, note: () => undefined });
  await store.ensureSchema();
  store.close();
  const c = new pg.Client({ connectionString: u.toString() });
  await c.connect();
  const pid = Number((await c.query("SELECT pg_backend_pid() AS p")).rows[0].p);
  await c.query(
    `INSERT INTO workflow (run_id, time_began, host, "user", rundir, tasks_failed_count, tasks_completed_count) VALUES ('${RUN}', now(), 'h', 'u', '/', 0, 0)`,
  );
  await c.query(`CREATE TABLE status_nofk (LIKE status INCLUDING ALL)`);
  let next = 0;
  const began = Date.now() * 1000;
  const states = ["pending", "launched", "running", "running_ended", "exec_done"];
  const arr = (xs: unknown[]) => "{" + xs.map((x) => (typeof x === "string" ? `"${x}"` : String(x))).join(",") + "}";
  function statusArrays(from: number) {
    const ids: number[] = [],
      names: string[] = [],
      ts: string[] = [],
      tries: number[] = [];
    for (let i = from; i < from + per; i++)
      states.forEach((st, k) => {
        ids.push(i);
        names.push(st);
        ts.push(formatMicros(began + i * 20 + k));
        tries.push(0);
      });
    return [arr(ids), arr(names), arr(ts), arr(tries)];
  }
  const SRC = `UNNEST($1::int4[], $2::text[], $3::timestamp[], $4::int4[]) AS v(a, b, c, d)`;
  const variants: Record<string, (from: number) => Promise<void>> = {
    "status on-conflict": async (f) => {
      await c.query(
        `INSERT INTO status (task_id, task_status_name, "timestamp", run_id, try_id) SELECT v.a, v.b, v.c, '${RUN}', v.d FROM ${SRC} ON CONFLICT DO NOTHING`,
        statusArrays(f),
      );
    },
    "status plain": async (f) => {
      await c.query(
        `INSERT INTO status (task_id, task_status_name, "timestamp", run_id, try_id) SELECT v.a, v.b, v.c, '${RUN}', v.d FROM ${SRC}`,
        statusArrays(f),
      );
    },
    "status not-exists": async (f) => {
      await c.query(
        `INSERT INTO status (task_id, task_status_name, "timestamp", run_id, try_id) SELECT v.a, v.b, v.c, '${RUN}', v.d FROM ${SRC} WHERE NOT EXISTS (SELECT 1 FROM status s WHERE s.task_id = v.a AND s.run_id = '${RUN}' AND s.task_status_name = v.b AND s."timestamp" = v.c)`,
        statusArrays(f),
      );
    },
    "status nofk on-conflict": async (f) => {
      await c.query(
        `INSERT INTO status_nofk (task_id, task_status_name, "timestamp", run_id, try_id) SELECT v.a, v.b, v.c, '${RUN}', v.d FROM ${SRC} ON CONFLICT DO NOTHING`,
        statusArrays(f),
      );
    },
    "status nofk plain": async (f) => {
      await c.query(
        `INSERT INTO status_nofk (task_id, task_status_name, "timestamp", run_id, try_id) SELECT v.a, v.b, v.c, '${RUN}', v.d FROM ${SRC}`,
        statusArrays(f),
      );
    },
  };
  const results = new Map<string, { cpu: number; wal: number; ms: number }>();
  for (let r = 0; r < reps; r++) {
    for (const [k, fn] of Object.entries(variants)) {
      if (only && !k.includes(only)) continue;
      const from = next;
      next += per;
      const lsn0 = (await c.query("SELECT pg_current_wal_insert_lsn() AS l")).rows[0].l;
      const c0 = cpuOf(pid);
      const t0 = performance.now();
      await c.query("BEGIN");
      await fn(from);
      await c.query("COMMIT");
      const ms = performance.now() - t0;
      const cpu = cpuOf(pid) - c0;
      const wal = Number(
        (await c.query(`SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '${lsn0}') AS d`)).rows[0].d,
      );
      const e = results.get(k) ?? { cpu: 0, wal: 0, ms: 0 };
      e.cpu += cpu;
      e.wal += wal;
      e.ms += ms;
      results.set(k, e);
    }
  }
  const rows = per * 5 * reps;
  for (const [k, e] of results)
    console.log(
      `${k.padEnd(26)} backend CPU ${((e.cpu * 1e6) / rows).toFixed(2)} µs/row, wall ${((e.ms * 1000) / rows).toFixed(2)} µs/row, WAL ${(e.wal / rows).toFixed(0)} B/row`,
    );
  await c.end();
} finally {
  await admin.query(`DROP DATABASE "${name}" WITH (FORCE)`);
  await admin.end();
}
