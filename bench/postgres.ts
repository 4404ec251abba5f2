/**
 * PostgreSQL monitoring, end to end: no-op tasks on ThreadPoolExecutor(2), unmonitored, monitored
 * into SQLite and monitored into PostgreSQL, alternated in one process so the ratios share the
 * machine's noise. The figure is what a user waits for: first submit → cleanup() returned, which
 * is when the writer has committed every row (checked by counting them).
 *
 * The server: PARSL_TS_TEST_PG (an admin URL), else scripts/postgres/start-server.sh starts a
 * private one on loopback. Each run writes a fresh database.
 *
 *   node dist/bench/postgres.js [--tasks 100000] [--rounds 3] [--targets none,sqlite,postgresql]
 *
 * Per round it also prints CPU µs per task of the kernel process, the writer process (from the
 * line it logs on exit) and the server's processes (from /proc when the server is on this
 * machine; every client of the server counts).
 */
import { benchPgAdminUrl } from "./pgServer.js";
import { writerCpuSeconds } from "./writerCpu.js";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { Config, MonitoringHub, ThreadPoolExecutor, load, tsApp } from "../src/index.js";

const noop = tsApp(function noop() {
  return 7;
});

async function admin(url: string, text: string): Promise<Record<string, unknown>[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text)).rows as Record<string, unknown>[];
  } finally {
    await c.end();
  }
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = "/" + db;
  return u.toString();
}

type Target = "none" | "sqlite" | "postgresql";

const CLOCK_TICKS = 100; // USER_HZ on Linux

/**
 * CPU seconds of the server processes that serve one database (their command line names it:
 * `postgres: user db host(port) …`), when the server runs on this machine (Linux /proc); else
 * null. Sampled while the run goes on, so a backend that exits (the writer's, at its end) still
 * counts with its last sample; other users of the same server are left out, as are the server's
 * shared processes (WAL writer, checkpointer), which the writer makes busy too.
 */
class BackendCpu {
  private readonly last = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private found = false;
  constructor(private readonly db: string) {
    this.sample();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
  }
  private sample(): void {
    let entries: string[];
    try {
      entries = fs.readdirSync("/proc");
    } catch {
      return;
    }
    for (const pid of entries) {
      if (!/^\d+$/.test(pid)) continue;
      let stat: string;
      try {
        stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        if (!stat.includes("(postgres)")) continue;
        if (!this.last.has(pid) && !fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(` ${this.db} `)) continue;
      } catch {
        continue;
      }
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      this.last.set(pid, Number(f[11]) + Number(f[12]));
      this.found = true;
    }
  }
  /** Stops sampling. */
  stop(): void {
    clearInterval(this.timer);
  }
  /** CPU seconds of the database's backends so far, or null when none was seen. */
  total(): number | null {
    this.sample();
    if (!this.found) return null;
    let ticks = 0;
    for (const t of this.last.values()) ticks += t;
    return ticks / CLOCK_TICKS;
  }
}
const SAMPLE_MS = 200;

interface Once {
  perSecond: number;
  rows: number;
  /** Seconds until every task's future resolved (the rest of the wait is the writer catching up). */
  tasksDone: number;
  /** CPU µs per task: the kernel process (all its threads), the writer process, the database's server backends. */
  kernelCpu: number;
  writerCpu: number | null;
  serverCpu: number | null;
}

async function once(n: number, target: Target, adminUrl: string): Promise<Once> {
  const runDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "parsl-ts-bench-pg-")), "runinfo");
  let endpoint: string | undefined;
  let dbName = "";
  if (target === "postgresql") {
    dbName = `parsl_bench_${crypto.randomBytes(4).toString("hex")}`;
    await admin(adminUrl, `CREATE DATABASE "${dbName}"`);
    endpoint = withDatabase(adminUrl, dbName);
  }
  const dfk = await load(
    new Config({
      executors: [new ThreadPoolExecutor({ label: "threads", maxThreads: 2 })],
      monitoring:
        target === "none"
          ? null
          : new MonitoringHub({ resourceMonitoringInterval: 0, ...(endpoint ? { loggingEndpoint: endpoint } : {}) }),
      runDir,
      handleSignals: false,
      summary: false,
    }),
  );
  await Promise.all(Array.from({ length: 2000 }, () => noop()));
  const backends = target === "postgresql" ? new BackendCpu(dbName) : null;
  const server0 = backends?.total() ?? null;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const futures = new Array(n);
  for (let i = 0; i < n; i++) futures[i] = noop();
  await Promise.all(futures);
  const tasksDone = (performance.now() - t0) / 1000;
  await dfk.cleanup();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const server1 = backends?.total() ?? null;
  backends?.stop();
  const perTask = (s: number | null): number | null => (s === null ? null : (s * 1e6) / n);
  // The writer's CPU includes its start-up and the 2,000 warm-up tasks: small next to n.
  const writerCpu = target === "none" ? null : perTask(writerCpuSeconds(runDir));
  const serverCpu = target === "postgresql" && server0 !== null && server1 !== null ? perTask(server1 - server0) : null;
  let rows = 0;
  if (target === "postgresql") {
    const r = await admin(
      endpoint!,
      `SELECT (SELECT COUNT(*) FROM task) + (SELECT COUNT(*) FROM try) + (SELECT COUNT(*) FROM status) AS n`,
    );
    rows = Number(r[0]!["n"]);
    await admin(adminUrl, `DROP DATABASE "${dbName}" WITH (FORCE)`);
  } else if (target === "sqlite") {
    const Database = (await import("better-sqlite3")).default;
    const db = new Database(path.join(runDir, "monitoring.db"), { readonly: true });
    rows = (
      db
        .prepare("SELECT (SELECT COUNT(*) FROM task) + (SELECT COUNT(*) FROM try) + (SELECT COUNT(*) FROM status) AS n")
        .get() as { n: number }
    ).n;
    db.close();
  }
  fs.rmSync(path.dirname(runDir), { recursive: true, force: true });
  const expected = (n + 2000) * 7; // task + try + 5 status rows per task
  if (target !== "none" && rows !== expected)
    throw new Error(`${target}: ${rows} rows committed, expected ${expected}`);
  return { perSecond: n / seconds, rows, tasksDone, kernelCpu: (cpu.user + cpu.system) / n, writerCpu, serverCpu };
}

export async function benchPostgres(opts: {
  tasks: number;
  rounds: number;
  print: (s: string) => void;
  targets?: readonly Target[];
}): Promise<Record<string, unknown>> {
  const targets = opts.targets ?? (["none", "sqlite", "postgresql"] as const);
  const adminUrl = benchPgAdminUrl();
  const version = (await admin(adminUrl, "SHOW server_version"))[0]!["server_version"];
  opts.print(
    `PostgreSQL ${String(version)} at ${new URL(adminUrl).host}; ${opts.tasks} no-op tasks, ThreadPoolExecutor(2), ${opts.rounds} alternated rounds`,
  );
  const runs: Record<Target, number[]> = { none: [], sqlite: [], postgresql: [] };
  const cpu: Record<Target, { kernel: number[]; writer: number[]; server: number[] }> = {
    none: { kernel: [], writer: [], server: [] },
    sqlite: { kernel: [], writer: [], server: [] },
    postgresql: { kernel: [], writer: [], server: [] },
  };
  for (let r = 0; r < opts.rounds; r++) {
    for (const target of targets) {
      const o = await once(opts.tasks, target, adminUrl);
      runs[target].push(o.perSecond);
      cpu[target].kernel.push(o.kernelCpu);
      if (o.writerCpu !== null) cpu[target].writer.push(o.writerCpu);
      if (o.serverCpu !== null) cpu[target].server.push(o.serverCpu);
      const us = (v: number | null): string => (v === null ? "-" : v.toFixed(0));
      opts.print(
        `  round ${r + 1} ${target.padEnd(10)} ${o.perSecond.toFixed(0)} tasks/s until every row is committed ` +
          `(tasks done at ${o.tasksDone.toFixed(1)} s; CPU µs/task: kernel ${us(o.kernelCpu)}, writer ${us(o.writerCpu)}, server ${us(o.serverCpu)})`,
      );
    }
  }
  const median = (xs: number[]): number =>
    xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const none = median(runs.none);
  const costOf = (t: Target): number => 1e6 / median(runs[t]) - 1e6 / none;
  /** Median CPU µs per task of each process, and their sum: on a machine of `cores` cores no faster rate is possible. */
  const budget = (
    t: Target,
  ): { kernel: number; writer: number; server: number | null; sum: number; boundPerSecond: number } => {
    const kernel = median(cpu[t].kernel);
    const writer = median(cpu[t].writer);
    const server = cpu[t].server.length > 0 ? median(cpu[t].server) : null;
    const sum = kernel + writer + (server ?? 0);
    return { kernel, writer, server, sum, boundPerSecond: (os.availableParallelism() * 1e6) / sum };
  };
  const out = {
    tasks: opts.tasks,
    unmonitoredPerSecond: none,
    sqlitePerSecond: median(runs.sqlite),
    postgresPerSecond: median(runs.postgresql),
    sqliteCostMicrosPerTask: costOf("sqlite"),
    postgresCostMicrosPerTask: costOf("postgresql"),
    sqliteCpuMicrosPerTask: targets.includes("sqlite") ? budget("sqlite") : null,
    postgresCpuMicrosPerTask: targets.includes("postgresql") ? budget("postgresql") : null,
  };
  const f = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : "-");
  opts.print(
    `postgres: medians — unmonitored ${none.toFixed(0)}/s, SQLite ${out.sqlitePerSecond.toFixed(0)}/s, PostgreSQL ${out.postgresPerSecond.toFixed(0)}/s end to end`,
  );
  for (const t of ["sqlite", "postgresql"] as const) {
    if (!targets.includes(t)) continue;
    const b = budget(t);
    opts.print(
      `  ${t === "sqlite" ? "SQLite" : "PostgreSQL"}: monitoring cost ${f(costOf(t))} µs/task end to end (against unmonitored in the same rounds); ` +
        `CPU µs/task kernel ${f(b.kernel)} + writer ${f(b.writer)}${b.server === null ? "" : ` + server ${f(b.server)}`} = ${f(b.sum)}, ` +
        `so at most ${b.boundPerSecond.toFixed(0)} tasks/s on ${os.availableParallelism()} cores`,
    );
  }
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name: string, dflt: number): number => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : dflt;
  };
  const i = process.argv.indexOf("--targets");
  const targets = i >= 0 ? (process.argv[i + 1]!.split(",") as Target[]) : undefined;
  for (const t of targets ?? [])
    if (!["none", "sqlite", "postgresql"].includes(t))
      throw new Error(`--targets: unknown target ${t} (none, sqlite, postgresql)`);
  await benchPostgres({
    tasks: arg("--tasks", 100_000),
    rounds: arg("--rounds", 3),
    print: (s) => console.log(s),
    ...(targets ? { targets } : {}),
  });
}
