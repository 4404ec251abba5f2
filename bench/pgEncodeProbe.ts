/**
 * Probe (not part of npm run bench): the PostgreSQL store's client CPU per task (planning and
 * building the statements and their array parameters) with no server, this build against
 * another (PROBE_BASE = that build's dist/src/database/postgres/store.js), alternated.
 *   PROBE_BASE=… node dist/bench/pgEncodeProbe.js [rounds=20]
 */
import { PostgresStore } from "../src/database/postgres/store.js";
import { postgresDialect } from "../src/database/postgres/dialect.js";
import { planBatch } from "../src/database/batchPlan.js";
import type { MonitoringEvent } from "../src/monitoring/messages.js";
import { noopTaskEvents } from "./writer.js";

const other = process.env["PROBE_BASE"];
const Base = other ? ((await import(other)).PostgresStore as typeof PostgresStore) : PostgresStore;
const per = 6500,
  rounds = Number(process.argv[2] ?? 20);
const fakeTx = {
  dialect: postgresDialect,
  async run(q: any) {
    const { text, values } = q.compile(postgresDialect.placeholder);
    void text;
    void values;
    return 1e9;
  },
  async all(q: any) {
    q.compile(postgresDialect.placeholder);
    return [];
  },
  async first() {
    return undefined;
  },
};
function mk(C: any) {
  const s = Object.create(C.prototype);
  Object.assign(s, {
    tolerant: false,
    replaySafe: false,
    rejected: [],
    rows: 0,
    runId: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    method: "unnest",
  });
  return s;
}
const stores: Record<string, any> = { new: mk(PostgresStore), base: mk(Base) };
const acc: Record<string, number> = { new: 0, base: 0 };
const began = Date.now() * 1000;
for (let r = 0; r < rounds; r++) {
  const events: MonitoringEvent[] = [];
  for (let i = r * per; i < (r + 1) * per; i++) events.push(...noopTaskEvents(i, began + i * 20));
  for (const [k, s] of Object.entries(stores)) {
    const t0 = performance.now();
    const plan = planBatch(events);
    await s.writePlan(fakeTx, plan);
    acc[k] = (acc[k] ?? 0) + performance.now() - t0;
  }
}
for (const [k, ms] of Object.entries(acc))
  console.log(`${k}: ${((ms * 1000) / (rounds * per)).toFixed(2)} µs/task (plan + encode, no server)`);
