/**
 * The writer on a real PostgreSQL server, where things go wrong: a database Python Parsl
 * created, a server restarted mid-run (a private server, so the shared one is never touched),
 * load() against a refused connection, a wrong password, a missing database and a role without
 * INSERT, and two and four workflows in separate processes writing one database at once.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import pg from "pg";
import { Config, load, MonitoringHub, ThreadPoolExecutor, tsApp } from "../src/index.js";
import { openStore } from "../src/database/store.js";
import { SCHEMA_VERSION } from "../src/database/schemaSetup.js";
import { freshPgDatabase, pgAdmin, pgAdminUrl, pgQuery, pgUrl, throughPgBouncer } from "./databases.js";
import { tempDir, waitFor } from "./helpers.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const INDEX_URL = pathToFileURL(fileURLToPath(new URL("../src/index.js", import.meta.url))).href;

const noop = tsApp(function noop(i: number) {
  return i;
});
const flaky = tsApp(function flaky(i: number) {
  if (i % 10 === 0) throw new Error(`task ${i} fails`);
  return i;
});

const query = pgQuery;
const count = async (url: string, sql: string, ...params: unknown[]): Promise<number> =>
  Number(Object.values((await query(url, sql, ...params))[0]!)[0]);

function monitoredConfig(endpoint: string, extra: { heartbeatPeriod?: number; workflowName?: string } = {}): Config {
  return new Config({
    executors: [new ThreadPoolExecutor({ label: "threads", maxThreads: 2 })],
    monitoring: new MonitoringHub({ loggingEndpoint: endpoint, resourceMonitoringInterval: 0, ...extra }),
    runDir: path.join(tempDir(), "runinfo"),
    handleSignals: false,
    summary: false,
  });
}

/** Every task row, try row, five status rows per task, the right final states, and the run's counters. */
async function assertRun(url: string, runId: string, tasks: number, failed: number): Promise<void> {
  assert.equal(await count(url, "SELECT COUNT(*) FROM task WHERE run_id = ?", runId), tasks, "task rows");
  assert.equal(await count(url, "SELECT COUNT(*) FROM try WHERE run_id = ?", runId), tasks, "try rows");
  assert.equal(await count(url, "SELECT COUNT(*) FROM status WHERE run_id = ?", runId), tasks * 5, "status rows");
  assert.equal(
    await count(url, "SELECT COUNT(*) FROM task WHERE run_id = ? AND task_latest_status = 'exec_done'", runId),
    tasks - failed,
  );
  assert.equal(
    await count(url, "SELECT COUNT(*) FROM task WHERE run_id = ? AND task_latest_status = 'failed'", runId),
    failed,
  );
  const [wf] = await query(url, "SELECT * FROM workflow WHERE run_id = ?", runId);
  assert.equal(wf!["tasks_completed_count"], tasks - failed);
  assert.equal(wf!["tasks_failed_count"], failed);
  assert.equal(wf!["run_status"], failed > 0 ? "failed" : "completed");
}

// ---------------------------------------------------------------------------- Python Parsl's database

test("a database Python Parsl created on PostgreSQL is used as it is: a monitored run writes into its tables", async () => {
  const fixture = fs.readFileSync(path.join(ROOT, "test/fixtures/parsl-postgres/schema.sql"), "utf8");
  const db = await freshPgDatabase();
  await pgAdmin(fixture.replace(/^SELECT pg_catalog\.set_config.*$/m, ""), [], db);
  const url = pgUrl(db);
  const typesOf = (): Promise<Record<string, unknown>[]> =>
    query(
      url,
      "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, column_name",
    );
  const before = await typesOf();
  const dfk = await load(monitoredConfig(url));
  const futures = Array.from({ length: 50 }, (_, i) => flaky(i));
  await Promise.allSettled(futures);
  await dfk.cleanup();
  await assertRun(url, dfk.runId, 50, 5);
  const after = await typesOf();
  const key = (r: Record<string, unknown>): string => `${String(r["table_name"])}.${String(r["column_name"])}`;
  const afterByKey = new Map(after.map((r) => [key(r), r]));
  for (const col of before) assert.deepEqual(afterByKey.get(key(col)), col, `Parsl's column ${key(col)} is unchanged`);
  assert.ok(after.length > before.length, "our nullable extra columns were added");
  assert.deepEqual(await query(url, `SELECT "value" FROM parsl_ts_meta WHERE "key" = 'schema_version'`), [
    { value: String(SCHEMA_VERSION) },
  ]);
  // Parsl's foreign keys stay enforced, and our rows satisfy them.
  assert.equal(
    await count(url, "SELECT COUNT(*) FROM information_schema.table_constraints WHERE constraint_type = 'FOREIGN KEY'"),
    2,
  );
});

test("libpq's PG* variables fill what the URL leaves out (host, port, user, password)", async () => {
  const db = await freshPgDatabase();
  const admin = new URL(pgAdminUrl());
  const vars = {
    PGHOST: admin.hostname,
    PGPORT: admin.port,
    PGUSER: decodeURIComponent(admin.username),
    PGPASSWORD: decodeURIComponent(admin.password),
  };
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars); // the writer process inherits them
  try {
    const dfk = await load(monitoredConfig(`postgresql:///${db}`));
    await Promise.all(Array.from({ length: 10 }, (_, i) => noop(i)));
    await dfk.cleanup();
    await assertRun(pgUrl(db), dfk.runId, 10, 0);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});

// ---------------------------------------------------------------------------- load() fails fast

test("load() fails fast and names the endpoint (password hidden): refused, wrong password, missing database, no INSERT privilege", async () => {
  const expectFailure = async (endpoint: string, pattern: RegExp, secret: string): Promise<void> => {
    const started = Date.now();
    await assert.rejects(load(monitoredConfig(endpoint)), (err: Error) => {
      assert.match(err.message, pattern);
      assert.ok(!err.message.includes(secret), `the password is not shown: ${err.message}`);
      return true;
    });
    assert.ok(
      Date.now() - started < 15_000,
      `${endpoint.replace(secret, "***")} failed within seconds, not by a timeout`,
    );
  };
  await expectFailure(
    "postgres://me:s3cret@127.0.0.1:1/parsl",
    /cannot connect to PostgreSQL at postgres:\/\/me:\*\*\*@127\.0\.0\.1:1\/parsl: connection refused/,
    "s3cret",
  );
  const admin = new URL(pgAdminUrl());
  await expectFailure(
    pgUrl("postgres", { name: decodeURIComponent(admin.username), password: "wrong-pw" }),
    /cannot log in to PostgreSQL at postgresql:\/\/.*:\*\*\*@.*password authentication failed/,
    "wrong-pw",
  );
  await expectFailure(
    pgUrl("parsl_missing_db_x"),
    /PostgreSQL database at .*\/parsl_missing_db_x does not exist/,
    decodeURIComponent(admin.password),
  );

  // A role that may read the monitoring tables but not write them.
  const db = await freshPgDatabase();
  const store = await openStore(pgUrl(db), "setup", { warning: () => undefined, note: () => undefined });
  store.close();
  const role = `parsl_reader_${process.pid}`;
  await pgAdmin(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
  await pgAdmin(`CREATE ROLE ${role} LOGIN PASSWORD 'reader-pw'`);
  try {
    await pgAdmin(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}`, [], db);
    await expectFailure(
      pgUrl(db, { name: role, password: "reader-pw" }),
      new RegExp(
        `the role ${role} lacks the privileges the writer needs: INSERT on workflow, UPDATE on workflow, INSERT on task`,
      ),
      "reader-pw",
    );
  } finally {
    await pgAdmin(`DROP OWNED BY ${role}`, [], db).catch(() => undefined);
    await pgAdmin(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
  }
});

// ---------------------------------------------------------------------------- a server restart

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Runs pg_ctl on a private cluster, as the postgres user when we are root (PostgreSQL refuses root). */
function pgCtl(dataDir: string, ...args: string[]): void {
  const bin = execFileSync("bash", ["-c", "ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1"], {
    encoding: "utf8",
  }).trim();
  const cmd = [path.join(bin, "pg_ctl"), "-D", dataDir, ...args];
  if (process.getuid?.() === 0)
    execFileSync("runuser", ["-u", "postgres", "--", ...cmd], { stdio: "ignore", timeout: 60_000 });
  else execFileSync(cmd[0]!, cmd.slice(1), { stdio: "ignore", timeout: 60_000 });
}

test("the server restarted mid-run: the writer waits it out, one warning, and no row is lost", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "parsl-ts-pg-restart-"));
  const port = await freePort();
  const env = { ...process.env, PARSL_TS_PG_DIR: dir, PARSL_TS_PG_PORT: String(port) };
  const admin = execFileSync("bash", [path.join(ROOT, "scripts/postgres/start-server.sh")], {
    env,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim();
  try {
    const adminClient = new pg.Client({ connectionString: admin });
    await adminClient.connect();
    await adminClient.query("CREATE DATABASE restart_test");
    await adminClient.end();
    const u = new URL(admin);
    u.pathname = "/restart_test";
    const url = u.toString();

    const dfk = await load(monitoredConfig(url, { heartbeatPeriod: 0.2 }));
    const runId = dfk.runId;
    const tasks = 6000;
    const futures: Promise<unknown>[] = [];
    const outageWarnings = (): string[] =>
      fs
        .readFileSync(path.join(dfk.runDir, "parsl.log"), "utf8")
        .split("\n")
        .filter((l) => /monitoring: cannot write to monitoring database .*retrying, nothing is lost/.test(l));
    let stopped = false;
    let restarted = false;
    for (let i = 0; i < tasks; i++) {
      futures.push(noop(i));
      if (i % 500 === 499) {
        await Promise.all(futures.slice(-500));
        if (i >= 2000 && !stopped) {
          // Rows of the first 2,000 tasks are in (or on their way): the server goes down under the running workflow.
          stopped = true;
          pgCtl(path.join(dir, "data"), "-m", "fast", "-w", "stop");
        } else if (stopped && !restarted) {
          // 500 more tasks ran meanwhile: the writer met the outage with them. Once it has said so, the server comes back.
          await waitFor(() => outageWarnings().length >= 1, {
            timeoutMs: 60_000,
            what: "the writer to report the outage",
          });
          restarted = true;
          pgCtl(path.join(dir, "data"), "-w", "start", "-l", path.join(dir, "server.log"));
        }
      }
    }
    await Promise.all(futures);
    await dfk.cleanup();
    assert.ok(restarted);
    await assertRun(url, runId, tasks, 0);
    const log = fs.readFileSync(path.join(dfk.runDir, "parsl.log"), "utf8");
    assert.equal(outageWarnings().length, 1, "one warning for the outage");
    assert.ok(!log.includes(u.password), "the password is never logged");
    assert.match(
      fs.readFileSync(path.join(dfk.runDir, "database_manager.log"), "utf8"),
      /writable again after .* s; nothing was lost/,
    );
  } finally {
    execFileSync("bash", [path.join(ROOT, "scripts/postgres/stop-server.sh")], { env, stdio: "ignore" });
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------- many writers

const KERNEL = `
import { Config, load, MonitoringHub, ThreadPoolExecutor, tsApp } from ${JSON.stringify(INDEX_URL)};
const [endpoint, name, runDir, heartbeat, tasks] = process.argv.slice(2);
const work = tsApp(function work(i) { if (i % 10 === 0) throw new Error("task " + i + " fails"); return new Promise((r) => setTimeout(() => r(i), 5)); });
const dfk = await load(new Config({
  executors: [new ThreadPoolExecutor({ label: "threads", maxThreads: 2 })],
  monitoring: new MonitoringHub({ loggingEndpoint: endpoint, workflowName: name, heartbeatPeriod: Number(heartbeat), resourceMonitoringInterval: 0 }),
  runDir, handleSignals: false, summary: false,
}));
await Promise.allSettled(Array.from({ length: Number(tasks) }, (_, i) => work(i)));
await dfk.cleanup();
process.stdout.write(dfk.runId + "\\n");
`;

for (const [writers, via] of [
  [2, "the server"],
  [4, "the server"],
  [4, "PgBouncer"],
] as const) {
  test(`${writers} workflows in separate processes write one fresh database at once (${via}): every run's rows, counters and heartbeats are its own`, async () => {
    const db = await freshPgDatabase();
    const url = pgUrl(db); // what was stored is read here, from the server itself
    const dir = tempDir();
    const script = path.join(dir, "kernel.mjs");
    fs.writeFileSync(script, KERNEL);
    const tasks = 400;
    const runs = await Promise.all(
      Array.from(
        { length: writers },
        (_, k) =>
          new Promise<{ runId: string; name: string; period: number }>((resolve, reject) => {
            const name = `wf-${k}`;
            const period = 0.1 * (k + 1);
            const child = spawn(
              process.execPath,
              [
                script,
                via === "PgBouncer" ? throughPgBouncer(url) : url,
                name,
                path.join(dir, `runinfo-${k}`),
                String(period),
                String(tasks),
              ],
              { stdio: ["ignore", "pipe", "inherit"] },
            );
            let out = "";
            child.stdout.on("data", (d: Buffer) => (out += d.toString()));
            child.on("exit", (code) =>
              code === 0
                ? resolve({ runId: out.trim(), name, period })
                : reject(new Error(`workflow ${k} exited ${code}`)),
            );
          }),
      ),
    );
    assert.equal(new Set(runs.map((r) => r.runId)).size, writers);
    assert.equal(await count(url, "SELECT COUNT(*) FROM workflow"), writers);
    for (const r of runs) {
      await assertRun(url, r.runId, tasks, tasks / 10);
      const [wf] = await query(
        url,
        "SELECT workflow_name, heartbeat_period, time_began, last_heartbeat FROM workflow WHERE run_id = ?",
        r.runId,
      );
      assert.equal(wf!["workflow_name"], r.name);
      assert.equal(wf!["heartbeat_period"], r.period);
      assert.ok(String(wf!["last_heartbeat"]) > String(wf!["time_began"]), `run ${r.name}'s own heartbeat advanced`);
      assert.equal(await count(url, "SELECT COUNT(DISTINCT task_id) FROM status WHERE run_id = ?", r.runId), tasks);
    }
    assert.equal(await count(url, "SELECT COUNT(*) FROM task"), writers * tasks, "no row belongs to no run or to two");
  });
}
