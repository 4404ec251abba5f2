/**
 * Probe (not part of npm run bench): what writing a task's launch and its completion in one
 * transaction saves, against two (the writer in a burst of submissions), store alone (no kernel,
 * no journal). N no-op tasks' events in batches of 6,000 tasks; prints CPU µs per task of this
 * process in the store's calls (the writer's work), and of the whole loop including making the
 * events, and, for PostgreSQL, of the server backend(s) of the database.
 *   node dist/bench/coalesceProbe.js joined|split [tasks=60000] [endpoint=a temporary SQLite file]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { parseEndpoint } from "../src/database/endpoint.js";
import { openStore } from "../src/database/store.js";
import type { MonitoringEvent } from "../src/monitoring/messages.js";
import { noopTaskEvents, probeWorkflowStart } from "./writer.js";

const mode = process.argv[2];
if (mode !== "joined" && mode !== "split") throw new Error("first argument: joined or split");
const n = Number(process.argv[3] ?? 60_000);
const endpoint = process.argv[4];
const per = 6000;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "parsl-ts-coalesce-"));
const store = await openStore(parseEndpoint(endpoint ?? path.join(dir, "monitoring.db")), `probe-${process.pid}`, {
  warning: console.error,
  note: () => undefined,
});
const t = Date.now() * 1000;
await store.applyBatch([probeWorkflowStart(t, dir)]);
// CPU of the store's calls alone, and of the whole loop (which also makes the events: about
// 8 µs per task, the part a real writer spends decoding the journal instead).
let inStore = 0;
const timed = async (batch: MonitoringEvent[]): Promise<void> => {
  const c0 = process.cpuUsage();
  await store.applyBatch(batch);
  const c = process.cpuUsage(c0);
  inStore += c.user + c.system;
};
const c0 = process.cpuUsage();
for (let s = 0; s < n; s += per) {
  const launch: MonitoringEvent[] = [];
  const done: MonitoringEvent[] = [];
  for (let i = s; i < s + per; i++) {
    const ev = noopTaskEvents(i, t + i);
    for (let j = 0; j < ev.length; j++) (j < 4 ? launch : done).push(ev[j]!);
  }
  if (mode === "joined") await timed(launch.concat(done));
  else {
    await timed(launch);
    await timed(done);
  }
}
const c = process.cpuUsage(c0);
let server = "";
if (endpoint) {
  const cl = new pg.Client({ connectionString: endpoint });
  await cl.connect();
  const pids = (
    await cl.query("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
  ).rows.map((r) => Number(r.pid));
  let ticks = 0;
  for (const p of pids) {
    const st = fs.readFileSync(`/proc/${p}/stat`, "utf8");
    const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
    ticks += Number(f[11]) + Number(f[12]);
  }
  await cl.end();
  server = `, server backend ${((ticks * 1e4) / n).toFixed(1)} µs/task`;
}
console.log(
  `${mode}: CPU ${(inStore / n).toFixed(1)} µs/task in the store's calls, ` +
    `${((c.user + c.system) / n).toFixed(1)} with making the events${server}`,
);
store.close();
fs.rmSync(dir, { recursive: true, force: true });
