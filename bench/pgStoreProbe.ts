/**
 * Probe (not part of npm run bench): the PostgreSQL store alone on no-op-task batches, this
 * build against another (PROBE_BASE = that build's dist/src/database/postgres/store.js),
 * alternated batch by batch in one process: wall, client CPU, CPU of the writer's own server
 * backends (/proc, server on this machine) and per-statement wall time.
 *   PROBE_BASE=… node dist/bench/pgStoreProbe.js [tasks=60000] [tasksPerBatch=6000]
 */
import crypto from "node:crypto";
import fs from "node:fs";
import pg from "pg";
import { PostgresStore } from "../src/database/postgres/store.js";
import type { MonitoringEvent } from "../src/monitoring/messages.js";
import { noopTaskEvents } from "./writer.js";
import { benchPgAdminUrl } from "./pgServer.js";

function serverCpu(): number {
  let t = 0;
  for (const pid of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    let s: string;
    try {
      s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue;
    }
    const c = s.lastIndexOf(")");
    if (s.slice(s.indexOf("(") + 1, c) !== "postgres") continue;
    const f = s.slice(c + 2).split(" ");
    t += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return t / 100;
}

function backendCpu(pids: number[]): number {
  let t = 0;
  for (const pid of pids) {
    try {
      const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
      t += Number(f[11]) + Number(f[12]);
    } catch {
      /* gone */
    }
  }
  return t / 100;
}
const tasks = Number(process.argv[2] ?? 60000);
const per = Number(process.argv[3] ?? 6000);
const base = benchPgAdminUrl();
const name = `parsl_probe_${crypto.randomBytes(4).toString("hex")}`;
const admin = new pg.Client({ connectionString: base });
await admin.connect();
await admin.query(`CREATE DATABASE "${name}"`);
const u = new URL(base);
u.pathname = "/" + name;
const stmt = new Map<string, { n: number; ms: number }>();
// eslint-disable-next-line @typescript-eslint/unbound-method -- wrapped below and called with the client as `this`
const orig = pg.Client.prototype.query;
(pg.Client.prototype as any).query = function (this: any, ...args: any[]) {
  const t0 = performance.now();
  const text = typeof args[0] === "string" ? args[0] : (args[0]?.text ?? "?");
  const key = this.connectionParameters?.application_name?.slice(0, 0) + text.replace(/\s+/g, " ").slice(0, 60);
  const p = (orig as any).apply(this, args);
  if (p && typeof p.then === "function")
    p.then(
      () => {
        const e = stmt.get(key) ?? { n: 0, ms: 0 };
        e.n++;
        e.ms += performance.now() - t0;
        stmt.set(key, e);
      },
      () => undefined,
    );
  return p;
};
try {
  const mk = async (run: string) => {
    const st = await PostgresStore.open(u.toString(), "probe", run, { warning: console.warn, note: () => undefined });
    await st.ensureSchema();
    return st;
  };
  const other = process.env["PROBE_BASE"]; // another build's dist/src/database/postgres/store.js, to compare with
  const Base = other ? ((await import(other)).PostgresStore as typeof PostgresStore) : PostgresStore;
  const mkBase = async (run: string) => {
    const st = await Base.open(u.toString(), "probe", run, { warning: console.warn, note: () => undefined });
    await st.ensureSchema();
    return st;
  };
  const stores: Record<string, PostgresStore> = { new: await mk("probe-new"), base: await mkBase("probe-base") };
  const began = Date.now() * 1000;
  for (const st of Object.values(stores))
    await st.applyBatch([
      {
        t: "workflow_start",
        workflow_name: "b",
        workflow_version: "1",
        time_began: began,
        host: "b",
        user: "b",
        rundir: "/",
      },
    ]);
  // Warm both pools to 2 connections each, then find their backends.
  await Promise.all(Object.values(stores).flatMap((st) => [st.heartbeat(began), st.heartbeat(began)]));
  const pids = (
    await admin.query(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'parsl-ts writer'`, [
      name,
    ])
  ).rows.map((r) => Number(r.pid));
  stmt.clear();
  // Events as the writer sees them: batch boundaries split tasks (a task's life spans ~1/3 of a batch here).
  const acc: Record<string, { wall: number; cpu: number; server: number; all: number }> = {};
  for (let from = 0; from < tasks; from += per) {
    for (const [mode, store] of Object.entries(stores)) {
      const events: MonitoringEvent[] = [];
      for (let i = from; i < Math.min(tasks, from + per); i++) events.push(...noopTaskEvents(i, began + i * 20));
      const a = (acc[mode] ??= { wall: 0, cpu: 0, server: 0, all: 0 });
      const s0 = backendCpu(pids),
        g0 = serverCpu();
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await store.applyBatch(events);
      a.wall += performance.now() - t0;
      const c = process.cpuUsage(c0);
      a.cpu += (c.user + c.system) / 1000;
      a.server += backendCpu(pids) - s0;
      a.all += serverCpu() - g0;
    }
  }
  for (const st of Object.values(stores)) st.close();
  for (const [mode, a] of Object.entries(acc)) {
    console.log(
      `${mode.padEnd(7)} ${tasks} tasks, ${per}/batch: wall ${((a.wall * 1000) / tasks).toFixed(1)} µs/task, client CPU ${((a.cpu * 1000) / tasks).toFixed(1)} µs/task, ` +
        `writer backends CPU ${((a.server * 1e6) / tasks).toFixed(1)} µs/task (all postgres processes ${((a.all * 1e6) / tasks).toFixed(1)})`,
    );
  }
  for (const [k, v] of [...stmt].sort((a, b) => b[1].ms - a[1].ms))
    console.log(`  ${((v.ms * 1000) / tasks).toFixed(1).padStart(6)} µs/task  ${String(v.n).padStart(5)}×  ${k}`);
} finally {
  (pg.Client.prototype as any).query = orig;
  await admin.query(`DROP DATABASE "${name}" WITH (FORCE)`);
  await admin.end();
}
