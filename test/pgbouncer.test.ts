/**
 * PostgreSQL behind PgBouncer in transaction pooling, set up as docs/POSTGRES.md recommends for a
 * shared server (scripts/postgres/start-pgbouncer.sh: `ignore_startup_parameters = options`).
 * The writer's side runs in monitoring.test.ts (every status sequence) and pgFaults.test.ts (four
 * workflows at once) with the `pgbouncer` target; here, the readers: a read-only role gets the same
 * answers through the pooler as from the server, and a login the pooler refuses says why.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { openMonitoringDb } from "../src/query/index.js";
import { startVisualizer, type VisualizerHandle } from "../src/visualizer/index.js";
import { throughPgBouncer } from "./databases.js";
import { tempDir } from "./helpers.js";
import { RUN1, RUN2, copyFixture, getJson, servedDatabase, type ServedDatabase } from "./visualizer-helpers.js";

const CLI = fileURLToPath(new URL("../src/cli/parsl-ts.cjs", import.meta.url));

function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, PARSL_TS_DB: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out, err }));
  });
}

describe("readers through PgBouncer (transaction pooling), as a read-only role", () => {
  let served: ServedDatabase;
  let direct: string;
  let pooled: string;
  let checksum: string;

  before(async () => {
    served = await servedDatabase("postgresql", copyFixture(tempDir("parsl-ts-pgbouncer-")));
    direct = served.endpoint;
    pooled = throughPgBouncer(direct);
    checksum = await served.fingerprint();
  });
  after(async () => {
    assert.equal(await served.fingerprint(), checksum, "reading through PgBouncer changed the database");
  });

  test("the read commands print what they print from the server itself, with the same exit statuses", async () => {
    const commands: string[][] = [
      ["runs", "--format", "json"],
      ["tasks", RUN1, "--format", "json"],
      ["tasks", RUN1, "--tries", "-F", "state in (failed, dep_fail) or exit_code = 3", "--format", "csv"],
      [
        "tasks",
        "--all-runs",
        "-F",
        "app = add_threads",
        "--sort",
        "-run_s,task_id",
        "--limit",
        "20",
        "--format",
        "tsv",
      ],
      ["stats", RUN1, "--by", "app", "--format", "json"],
      ["stats", RUN1, "--compare", RUN2, "--format", "json"],
      ["analyze", RUN1, "--format", "json"],
    ];
    for (const args of commands) {
      const [fromServer, fromPool] = [await cli([...args, "--db", direct]), await cli([...args, "--db", pooled])];
      assert.ok(fromServer.out.length > 0, `${args.join(" ")}: nothing printed (${fromServer.err})`);
      assert.equal(fromPool.code, fromServer.code, `${args.join(" ")}: ${fromPool.err}`);
      assert.equal(fromPool.out, fromServer.out, args.join(" "));
      assert.equal(fromPool.err, fromServer.err, args.join(" "));
    }
  });

  test("the query API and the visualizer's API answer as from the server", async () => {
    const [a, b] = [await openMonitoringDb(direct), await openMonitoringDb(pooled)];
    try {
      assert.deepEqual(await b.runs(), await a.runs());
      assert.deepEqual(await b.stats(RUN1, { by: "app" }), await a.stats(RUN1, { by: "app" }));
      assert.deepEqual(await b.compareStats(RUN1, RUN2), await a.compareStats(RUN1, RUN2));
      assert.deepEqual(await b.analyze(RUN1), await a.analyze(RUN1));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }

    const vizs: VisualizerHandle[] = [];
    try {
      for (const db of [direct, pooled]) vizs.push(await startVisualizer({ db, port: 0 }));
      const [fromServer, fromPool] = vizs.map((v) => v.url.replace(/\/$/, ""));
      for (const route of [
        "/api/workflows",
        `/api/workflows/${RUN1}`,
        `/api/workflows/${RUN1}/tasks?state=dep_fail`,
        `/api/workflows/${RUN1}/tasks/125`,
        `/api/workflows/${RUN1}/tries`,
        `/api/workflows/${RUN1}/gantt?rows=10`,
        `/api/workflows/${RUN1}/dag?from=125&limit=4`,
        `/api/workflows/${RUN1}/resources`,
        `/api/workflows/${RUN2}/history`,
      ]) {
        const [x, y] = [await getJson(fromServer + route), await getJson(fromPool + route)];
        assert.equal(x.status, 200, route);
        assert.equal(y.status, 200, route);
        assert.deepEqual(y.body, x.body, route);
      }
    } finally {
      await Promise.all(vizs.map((v) => v.close()));
    }
  });
});
