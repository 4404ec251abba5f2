/**
 * The visualizer's JSON API and page routes over real databases: the Python-Parsl fixture and a
 * parsl-ts database (extra columns + indexes). Includes hostile input through every parameter.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { startVisualizer, type VisualizerHandle } from "../src/visualizer/index.js";
import { createSyntheticDb } from "../bench/visualizer.js";
import { msToNaive, naiveNowMs } from "../src/visualizer/timefmt.js";
import { copyDatabase } from "../src/database/copy.js";
import { DIALECTS, freshPgDatabase, pgAdmin, pgReadOnlyUrl, pgUrl } from "./databases.js";
import { parslFixture } from "./helpers.js";
import {
  ROOT,
  RUN1,
  RUN2,
  RUN3,
  copyFixture,
  getJson,
  servedDatabase,
  tempDir,
  type ServedDatabase,
} from "./visualizer-helpers.js";

/** An API error answer: JSON with the status and a message, whatever refused the request. */
function assertJsonError(res: Response, text: string, status: number, what: string): void {
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/, `${what}: an API error is JSON`);
  const body = JSON.parse(text) as { error?: unknown; status?: unknown };
  assert.equal(body.status, status, what);
  assert.equal(typeof body.error, "string", what);
}

// The same assertions on the fixture file and on the fixture copied into PostgreSQL (served through a
// SELECT-only role): into our schema, and into exactly the tables Python Parsl creates there.
for (const dialect of [...DIALECTS, "postgresql-parsl" as const])
  describe(`visualizer API over the Python Parsl fixture (${dialect})`, () => {
    let dir: string;
    let served: ServedDatabase;
    let viz: VisualizerHandle;
    let base: string;
    let checksum: string;

    before(async () => {
      dir = tempDir();
      served = await servedDatabase(dialect, copyFixture(dir));
      checksum = await served.fingerprint();
      viz = await startVisualizer({ db: served.endpoint, port: 0 });
      base = viz.url.replace(/\/$/, "");
    });
    after(async () => {
      await viz.close();
      assert.equal(await served.fingerprint(), checksum, "the database changed while being visualized");
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test("binds to loopback on a free port", () => {
      assert.match(viz.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    });

    test("workflows list: all runs with real statuses", async () => {
      const { status, body } = await getJson(`${base}/api/workflows`);
      assert.equal(status, 200);
      assert.equal(body.total, 3);
      const byId = new Map<string, any>(body.rows.map((r: any) => [r.run_id, r]));
      // One rule for every reader (database/runStatus.ts): a finished run with failed tasks is failed,
      // as parsl-ts records such a run itself.
      assert.equal(byId.get(RUN1).status, "failed");
      assert.equal(byId.get(RUN1).tasks_completed_count, 154);
      assert.equal(byId.get(RUN1).tasks_failed_count, 12);
      assert.equal(byId.get(RUN2).status, "failed");
      // Memo hits beside Parsl's counts (which leave them out): the fixture README's memo_done tasks.
      assert.deepEqual(
        [RUN1, RUN2, RUN3].map((r) => byId.get(r).tasks_memo_count),
        [2, 5, 0],
      );
      assert.equal(byId.get(RUN2).tasks_completed_count, 9, "tasks_completed_count keeps Parsl's meaning");
      // Run 3 was SIGKILLed: never completed, and it stopped writing long ago.
      assert.equal(byId.get(RUN3).status, "unknown");
      assert.match(byId.get(RUN3).status_reason, /no end recorded and no activity for/);
      assert.equal(byId.get(RUN3).workflow_name, "crashed_run.py");
      assert.ok(byId.get(RUN1).runtime_s > 16 && byId.get(RUN1).runtime_s < 17);
    });

    test("workflow summary: latest-state counts fall back to the status table", async () => {
      const { status, body } = await getJson(`${base}/api/workflows/${RUN1}`);
      assert.equal(status, 200);
      assert.equal(body.task_count, 173);
      assert.deepEqual(body.state_counts, { dep_fail: 5, exec_done: 154, failed: 12, memo_done: 2 });
      const apps = new Map<string, number>(body.apps.map((a: any) => [a.name, a.count]));
      assert.equal(apps.get("add_threads"), 53);
      assert.equal(apps.get("square_htex"), 52);
      assert.equal(body.workflow.rundir, "/tmp/parsl-fixture-mixed/runinfo/000");
      const crashed = (await getJson(`${base}/api/workflows/${RUN3}`)).body;
      assert.deepEqual(crashed.state_counts, { exec_done: 5, failed: 1, launched: 1, pending: 2, running: 3 });
    });

    test("task lists: per app, whole run, paging, state filter", async () => {
      const burn = (await getJson(`${base}/api/workflows/${RUN1}/tasks?app=burn`)).body;
      assert.equal(burn.total, 4);
      assert.deepEqual(
        burn.rows.map((t: any) => t.task_id),
        [0, 1, 2, 3],
      );
      const page = (await getJson(`${base}/api/workflows/${RUN1}/tasks?offset=150&limit=50`)).body;
      assert.equal(page.total, 173);
      assert.equal(page.rows.length, 23);
      assert.equal(page.rows[0].task_id, 150);
      const fanIn = page.rows.find((t: any) => t.task_id === 156);
      assert.deepEqual(
        fanIn.task_depends,
        Array.from({ length: 20 }, (_, i) => 136 + i),
      );
      // An app's later pages continue where the first one ends (and past the end are empty).
      const adds = (await getJson(`${base}/api/workflows/${RUN1}/tasks?app=add_threads&limit=100`)).body.rows.map(
        (t: any) => t.task_id,
      );
      assert.equal(adds.length, 53);
      const later = (await getJson(`${base}/api/workflows/${RUN1}/tasks?app=add_threads&offset=40&limit=10`)).body;
      assert.equal(later.total, 53);
      assert.deepEqual(
        later.rows.map((t: any) => t.task_id),
        adds.slice(40, 50),
      );
      assert.deepEqual((await getJson(`${base}/api/workflows/${RUN1}/tasks?app=add_threads&offset=53`)).body.rows, []);
      const depFail = (await getJson(`${base}/api/workflows/${RUN1}/tasks?state=dep_fail`)).body;
      assert.deepEqual(
        depFail.rows.map((t: any) => t.task_id),
        [126, 127, 128, 131, 132],
      );
    });

    test("task detail: every field, tries, state history, memory samples", async () => {
      const { status, body } = await getJson(`${base}/api/workflows/${RUN1}/tasks/124`);
      assert.equal(status, 200);
      assert.equal(body.task.task_func_name, "flaky_half");
      assert.equal(body.task.task_fail_cost, 2.5);
      assert.equal(body.state, "failed");
      assert.equal(body.tries.length, 5);
      assert.equal(body.states.length, 25);
      assert.equal(body.states[0].task_status_name, "pending");
      assert.equal(body.states[24].task_status_name, "failed");
      assert.equal(body.memory.length, 5);
      const burn1 = (await getJson(`${base}/api/workflows/${RUN1}/tasks/1`)).body;
      assert.equal(Math.max(...burn1.memory.map((m: any) => m.rss)), 227688448);
      const parent = (await getJson(`${base}/api/workflows/${RUN1}/tasks/125`)).body;
      assert.deepEqual(parent.dependents, [126]);
      assert.deepEqual(parent.history, { hashsum: null, runs: [] }, "not memoized: no hashsum to match across runs");
      // cached_square(…) with hashsum e956… ran in run 1 (task 161) and was a memo hit four times in runs 1 and 2.
      const memo = (await getJson(`${base}/api/workflows/${RUN2}/tasks/0`)).body;
      assert.equal(memo.history.hashsum, "e956094ef717f52e6e33c6852a654783");
      assert.deepEqual(
        memo.history.runs.map((r: any) => [r.run_id, r.task_id, r.state, r.memo]),
        [
          [RUN1, 161, "exec_done", false],
          [RUN1, 167, "memo_done", true],
          [RUN1, 169, "memo_done", true],
          [RUN2, 0, "memo_done", true],
          [RUN2, 7, "memo_done", true],
        ],
      );
    });

    test("gantt: one row per task with Parsl's segments, sampled when asked for fewer rows", async () => {
      const full = (await getJson(`${base}/api/workflows/${RUN1}/gantt?rows=300`)).body;
      assert.equal(full.step, 1);
      assert.equal(full.rows.length, 173);
      const t124 = full.rows.find((r: any) => r.task_id === 124);
      assert.equal(t124.segs.length, 25);
      // Consecutive segments touch; the last one extends to time_completed.
      for (let i = 1; i < t124.segs.length; i++) assert.equal(t124.segs[i][1], t124.segs[i - 1][2]);
      assert.equal(t124.segs[24][2], full.end_ms);
      const sampled = (await getJson(`${base}/api/workflows/${RUN1}/gantt?rows=10`)).body;
      assert.equal(sampled.rows.length, 10);
      assert.equal(sampled.step, 18);
      const windowed = (await getJson(`${base}/api/workflows/${RUN1}/gantt?from=120&to=129`)).body;
      assert.deepEqual(
        windowed.rows.map((r: any) => r.task_id),
        [120, 121, 122, 123, 124, 125, 126, 127, 128, 129],
      );
    });

    test("tries per app over time and resource usage are aggregated", async () => {
      const tries = (await getJson(`${base}/api/workflows/${RUN1}/tries`)).body;
      assert.ok(tries.series.length > 2);
      assert.equal(tries.series[0].name, "All");
      assert.ok(Math.max(...tries.series[0].values) > 0);
      const res = (await getJson(`${base}/api/workflows/${RUN1}/resources`)).body;
      assert.equal(res.has_resources, true);
      assert.equal(res.workers.total_workers, 2); // one manager with 2 workers, not the sum over 235 node events
      assert.equal(res.cpu.total_cores, 2);
      assert.equal(
        res.memory_max.counts.reduce((a: number, b: number) => a + b, 0),
        99,
      );
      assert.equal(res.cpu_time_max.counts.length, 20);
      assert.equal(res.blocks.length, 3);
      assert.equal(res.nodes.length, 1);
    });

    test("DAG: app graph, task window with edges and outside parents", async () => {
      const d = (await getJson(`${base}/api/workflows/${RUN1}/dag?from=125&limit=4`)).body;
      assert.equal(d.task_count, 173);
      assert.deepEqual(
        d.window.nodes.filter((n: any) => !n.outside).map((n: any) => n.id),
        [125, 126, 127, 128],
      );
      assert.deepEqual(d.window.edges, [
        [125, 126],
        [126, 127],
        [127, 128],
      ]);
      const fan = (await getJson(`${base}/api/workflows/${RUN1}/dag?from=156&limit=1`)).body;
      assert.equal(fan.window.nodes.filter((n: any) => n.outside).length, 20);
      assert.equal(fan.window.edges.length, 20);
      const edge = d.app_edges.find((e: any) => e.from === "fan_leaf" && e.to === "fan_in");
      assert.equal(edge.count, 20);
    });

    test("cross-run history groups runs by workflow name", async () => {
      const h = (await getJson(`${base}/api/workflows/${RUN2}/history`)).body;
      assert.equal(h.workflow_name, "fixture-mixed");
      assert.deepEqual(
        h.runs.map((r: any) => r.run_id),
        [RUN1, RUN2],
      );
      assert.equal(h.runs[1].apps.cached_square.count, 7);
    });

    test("every page of parsl-visualize answers 200 with an HTML shell", async () => {
      const pages = [
        "/",
        `/workflow/${RUN1}/`,
        `/workflow/${RUN1}/app/burn`,
        `/workflow/${RUN1}/task/`,
        `/workflow/${RUN1}/task/124`,
        `/workflow/${RUN1}/dag_group_by_apps`,
        `/workflow/${RUN1}/dag_group_by_states`,
        `/workflow/${RUN1}/resource_usage`,
        "/static/app.js",
        "/static/style.css",
        "/static/charts.js",
        "/static/dag.js",
        "/static/dom.js",
        "/static/colors.js",
      ];
      for (const p of pages) {
        const res = await fetch(base + p);
        assert.equal(res.status, 200, p);
        const text = await res.text();
        if (!p.startsWith("/static/")) assert.match(text, /<script type="module" src="\/static\/app.js">/);
        assert.doesNotMatch(text, /https?:\/\/(cdn|cdnjs|code\.jquery|stackpath|unpkg)/, `${p} references a CDN`);
      }
    });

    test("bad requests get clear 4xx answers, never a 500", async () => {
      const cases: [string, number, RegExp][] = [
        [`/api/workflows/00000000-0000-0000-0000-000000000000`, 404, /could not be found/],
        [
          `/workflow/00000000-0000-0000-0000-000000000000/`,
          404,
          /Workflow 00000000-0000-0000-0000-000000000000 could not be found/,
        ],
        [`/api/workflows/${RUN1}/tasks/abc`, 400, /task id must be a non-negative integer/],
        [`/workflow/${RUN1}/task/abc`, 400, /task id must be a non-negative integer/],
        [`/api/workflows/${RUN1}/tasks/99999`, 404, /Task 99999 .* could not be found/],
        [`/workflow/${RUN1}/task/99999`, 404, /could not be found/],
        [`/workflow/${RUN1}/app/no_such_app`, 404, /has no tasks/],
        [`/workflow/${RUN1}/dag_whatever`, 404, /no such page/],
        [`/nope`, 404, /no such page/],
        [`/api/nope`, 404, /no such API endpoint/],
        [`/api/workflows?limit=0`, 400, /limit.{0,4} must be between 1 and 500/],
        [`/api/workflows/${RUN1}/gantt?from=10&to=5`, 400, /smaller than/],
        [`/api/workflows/${RUN1}/tasks?state=bogus`, 400, /unknown state/],
      ];
      for (const [url, status, msg] of cases) {
        const res = await fetch(base + url);
        const text = await res.text();
        assert.equal(res.status, status, url);
        assert.match(text, msg, url);
        assert.doesNotMatch(text, /\n\s+at .*\.js:\d+/, `${url} leaked a stack trace`);
        if (url.startsWith("/api/")) assertJsonError(res, text, status, url);
      }
      const post = await fetch(`${base}/api/workflows`, { method: "POST", body: "x" });
      assert.equal(post.status, 405);
      assertJsonError(post, await post.text(), 405, "POST /api/workflows");
    });

    test("SQL injection and path traversal through every parameter: 4xx, database untouched", async () => {
      const before = await served.fingerprint();
      const evil = [
        "' OR '1'='1",
        "1; DROP TABLE task; --",
        "../../../../etc/passwd",
        "..%2f..%2fetc%2fpasswd",
        "%27%20OR%201%3D1--",
        "\u0000",
        "x".repeat(600),
      ];
      const urls: string[] = [];
      for (const e of evil) {
        const enc = encodeURIComponent(e);
        urls.push(
          `/api/workflows/${enc}`,
          `/workflow/${enc}/`,
          `/api/workflows/${RUN1}' OR '1'='1/tasks`,
          `/api/workflows/${RUN1}/tasks/${enc}`,
          `/workflow/${RUN1}/task/${enc}`,
          `/workflow/${RUN1}/app/${enc}`,
          `/api/workflows/${RUN1}/tasks?app=${enc}`,
          `/api/workflows/${RUN1}/tasks?state=${enc}`,
          `/api/workflows/${RUN1}/tasks?offset=${enc}`,
          `/api/workflows/${RUN1}/tasks?limit=${enc}`,
          `/api/workflows/${RUN1}/gantt?from=${enc}`,
          `/api/workflows/${RUN1}/gantt?to=${enc}`,
          `/api/workflows/${RUN1}/gantt?rows=${enc}`,
          `/api/workflows/${RUN1}/dag?from=${enc}`,
          `/api/workflows/${RUN1}/dag?limit=${enc}`,
          `/api/workflows?offset=${enc}`,
          `/api/workflows?limit=${enc}`,
          `/static/${enc}`,
        );
      }
      urls.push(
        "/static/..%2f..%2fpackage.json",
        "/static/%2e%2e%2fserver.js",
        "/static/app.js%00.css",
        "/static/..\\..\\package.json",
        "/workflow/%E0%A4%A/",
        `/workflow/${RUN1}/task/1%20OR%201=1`,
        `/workflow/${RUN1}/task/-1`,
        `/api/workflows/${RUN1}/tasks/1e3`,
      );
      for (const u of urls) {
        const res = await fetch(base + u);
        const text = await res.text();
        assert.ok(res.status >= 400 && res.status < 500, `${u} answered ${res.status}`);
        assert.doesNotMatch(text, /root:x:0|"name": "parsl-ts"/, `${u} leaked a file`);
      }
      // Raw (unnormalised) traversal straight over a socket.
      const raw = await new Promise<string>((resolve, reject) => {
        const { port } = new URL(base);
        import("node:net").then(({ connect }) => {
          const sock = connect(Number(port), "127.0.0.1", () =>
            sock.end("GET /static/../../../package.json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
          );
          let out = "";
          sock.on("data", (d) => (out += d.toString()));
          sock.on("end", () => resolve(out));
          sock.on("error", reject);
        }, reject);
      });
      assert.match(raw, /^HTTP\/1\.1 404/);
      // A page served under a foreign name (DNS rebinding) gets nothing.
      const rebound = await new Promise<string>((resolve, reject) => {
        const { port } = new URL(base);
        import("node:net").then(({ connect }) => {
          const sock = connect(Number(port), "127.0.0.1", () =>
            sock.end("GET /api/workflows HTTP/1.1\r\nHost: evil.example:80\r\nConnection: close\r\n\r\n"),
          );
          let out = "";
          sock.on("data", (d) => (out += d.toString()));
          sock.on("end", () => resolve(out));
          sock.on("error", reject);
        }, reject);
      });
      assert.match(rebound, /^HTTP\/1\.1 403/);
      assert.match(rebound, /content-type: application\/json/i, "API errors are JSON at every stage");
      assert.doesNotMatch(rebound, /run_id/);
      assert.equal(await served.fingerprint(), before);
      assert.equal(await served.taskRows(), 173 + 16 + 12);
      assert.equal((await getJson(`${base}/api/workflows/${RUN1}`)).body.task_count, 173);
    });
  });

for (const dialect of DIALECTS)
  describe(`visualizer over a parsl-ts database (extra columns, INDEXES) (${dialect})`, () => {
    let dir: string;
    let db: string;
    let served: ServedDatabase;
    let viz: VisualizerHandle;
    let base: string;
    let runs: { live: string; failed: string; crashed: string };

    before(async () => {
      dir = tempDir();
      db = path.join(dir, "monitoring.db");
      runs = {
        live: createSyntheticDb(db, { tasks: 400, runId: "run-live", unfinished: true, workflowName: "synthetic" }),
        failed: createSyntheticDb(db, {
          tasks: 50,
          runId: "run-failed",
          runStatus: "failed",
          workflowName: "synthetic",
        }),
        crashed: createSyntheticDb(db, { tasks: 30, runId: "run-crashed", unfinished: true, workflowName: "other" }),
      };
      const w = new Database(db);
      w.prepare(`UPDATE workflow SET last_heartbeat = ? WHERE run_id = ?`).run(
        msToNaive(naiveNowMs() - 3_600_000),
        runs.crashed,
      );
      w.close();
      served = await servedDatabase(dialect, db);
      viz = await startVisualizer({ db: dialect === "sqlite" ? `sqlite:///${db}` : served.endpoint, port: 0 });
      base = viz.url.replace(/\/$/, "");
    });
    after(async () => {
      await viz.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test("run_status and last_heartbeat decide the status", async () => {
      const list = (await getJson(`${base}/api/workflows`)).body;
      const st = new Map<string, string>(list.rows.map((r: any) => [r.run_id, r.status]));
      assert.equal(st.get(runs.live), "running");
      assert.equal(st.get(runs.failed), "failed");
      assert.equal(st.get(runs.crashed), "crashed");
    });

    test("task_latest_status is used, and agrees with the status table", async () => {
      const sum = (await getJson(`${base}/api/workflows/${runs.live}`)).body;
      assert.equal(sum.task_count, 400);
      const total = Object.values(sum.state_counts as Record<string, number>).reduce((a, b) => a + b, 0);
      assert.equal(total, 400);
      const check = new Database(db, { readonly: true });
      const fromStatus = check
        .prepare(
          `SELECT COUNT(*) FROM task t WHERE t.run_id = ? AND t.task_latest_status =
      (SELECT s.task_status_name FROM status s WHERE s.run_id = t.run_id AND s.task_id = t.task_id ORDER BY s.timestamp DESC, s.rowid DESC LIMIT 1)`,
        )
        .pluck()
        .get(runs.live);
      check.close();
      assert.equal(fromStatus, 400);
      for (const ep of [
        "tries",
        "resources",
        "history",
        "gantt?rows=50",
        "dag?limit=100",
        "tasks?state=failed",
        "tasks/17",
      ]) {
        const r = await getJson(`${base}/api/workflows/${runs.live}/${ep}`);
        assert.equal(r.status, 200, ep);
      }
    });

    test("the visualizer creates nothing: schema and rows unchanged after every endpoint", async () => {
      const before = await served.fingerprint();
      for (const ep of ["", "/changes", "/tries", "/resources", "/history", "/gantt", "/dag", "/tasks", "/tasks/3"]) {
        assert.equal((await getJson(`${base}/api/workflows/${runs.failed}${ep}`)).status, 200, ep);
      }
      assert.equal(await served.fingerprint(), before);
    });
  });

describe("visualizer CLI", () => {
  const entry = path.join(ROOT, "dist", "src", "visualizer", "index.js");
  const runCli = (
    args: string[],
    untilUrl: boolean,
  ): Promise<{ code: number | null; out: string; err: string; url?: string }> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [
        "--input-type=module",
        "-e",
        `import(${JSON.stringify(entry)}).then((m) => m.visualizeCommand(${JSON.stringify(args)})).then((c) => process.exit(c));`,
      ]);
      let out = "";
      let err = "";
      let url: string | undefined;
      const fetchBoth = async (base: string) => {
        // A cheap endpoint and one computed in the aggregate worker thread.
        const res = await fetch(`${base}api/workflows`);
        const heavy = await fetch(`${base}api/workflows/${RUN1}/resources`);
        out += `\nfetched:${res.status},${heavy.status}`;
        child.kill("SIGTERM");
      };
      child.stdout.on("data", (d) => {
        out += d.toString();
        const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (untilUrl && m && !url) {
          url = m[1]!;
          // A failed fetch fails the test (it used to be an unhandled rejection), and the server is stopped.
          fetchBoth(url).catch((e: unknown) => {
            child.kill("SIGTERM");
            reject(e instanceof Error ? e : new Error(String(e)));
          });
        }
      });
      child.stderr.on("data", (d) => (err += d.toString()));
      child.on("error", reject);
      child.on("exit", (code) => resolve({ code, out, err, ...(url ? { url } : {}) }));
    });

  test("a missing database is a clear error naming the path", async () => {
    const r = await runCli(["/nonexistent/dir/monitoring.db", "--port", "0"], false);
    assert.equal(r.code, 1);
    assert.match(r.err, /monitoring database \/nonexistent\/dir\/monitoring\.db does not exist/);
  });

  test("a SQLite file that is not a monitoring database is rejected", async () => {
    const dir = tempDir();
    const other = path.join(dir, "other.db");
    const d = new Database(other);
    d.exec("CREATE TABLE t (x)");
    d.close();
    const r = await runCli([other, "--port", "0"], false);
    assert.equal(r.code, 1);
    assert.match(r.err, /not a Parsl monitoring database: table "workflow" is missing/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("serves a PostgreSQL database given as a URL, and names a wrong password clearly", async () => {
    const dir = tempDir();
    const served = await servedDatabase("postgresql", copyFixture(dir));
    const r = await runCli([served.endpoint, "--port", "0"], true);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /fetched:200,200/);
    assert.doesNotMatch(r.out + r.err, new RegExp(new URL(served.endpoint).password), "the password is never printed");
    const wrong = new URL(served.endpoint);
    wrong.password = "not-the-password";
    const bad = await runCli([wrong.toString(), "--port", "0"], false);
    assert.equal(bad.code, 1);
    assert.match(
      bad.err,
      /cannot log in to PostgreSQL at postgresql:\/\/parsl_reader_\w+:\*+@127\.0\.0\.1:\d+\/parsl_viz_\w+.*password/,
    );
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("bad arguments exit 2 with usage", async () => {
    const r = await runCli(["--port", "x"], false);
    assert.equal(r.code, 2);
    assert.match(r.err, /usage: parsl-ts visualize/);
  });

  test("serves until SIGTERM, then exits 0", async () => {
    const dir = tempDir();
    const db = copyFixture(dir);
    const r = await runCli([db, "--port", "0"], true);
    assert.equal(r.code, 0);
    assert.match(r.out, /serving .* at http:\/\/127\.0\.0\.1:\d+\//);
    assert.match(r.out, /fetched:200,200/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe("whole-run aggregates on huge runs are sampled, not scanned", () => {
  for (const dialect of DIALECTS)
    test(`every k-th task, scaled by k, agrees with the exact aggregate (${dialect})`, async () => {
      const { openMonitoringDb } = await import("../src/database/queries/index.js");
      const dir = tempDir();
      const file = path.join(dir, "monitoring.db");
      const run = createSyntheticDb(file, { tasks: 2000, runId: "run-big" });
      const db = (await servedDatabase(dialect, file)).endpoint;
      const exact = await openMonitoringDb(db);
      const sampled = await openMonitoringDb(db, { sampleTasks: 250 }); // 2000 tasks / 250 → every 8th task
      try {
        const area = (ts: { bucket_s: number; series: { values: number[] }[] }): number =>
          ts.series[0]!.values.reduce((a, b) => a + b, 0) * ts.bucket_s;
        const te = await exact.triesOverTime(run);
        const tsm = await sampled.triesOverTime(run);
        assert.equal(te.sample_step, 1);
        assert.equal(tsm.sample_step, 8);
        const ratio = area(tsm) / area(te);
        assert.ok(ratio > 0.8 && ratio < 1.2, `sampled busy time is ${ratio.toFixed(2)}× the exact one`);
        const re = await exact.resources(run);
        const rsm = await sampled.resources(run);
        assert.ok(rsm.sample_step >= 8, `resource sample step ${rsm.sample_step}`); // resources get a smaller share of the budget
        const total = (hh: { counts: number[] }): number => hh.counts.reduce((a, b) => a + b, 0);
        const tasksWithSamples = total(re.memory_max);
        assert.ok(
          Math.abs(total(rsm.memory_max) - tasksWithSamples) <= tasksWithSamples * 0.25,
          `${total(rsm.memory_max)} vs ${tasksWithSamples}`,
        );
        const he = await exact.appHistory(run);
        const hs = await sampled.appHistory(run);
        // Counts stay exact; only mean durations are estimated.
        for (const [app, v] of Object.entries(he.runs[0]!.apps)) {
          assert.equal(hs.runs[0]!.apps[app]!.count, v.count);
          assert.ok(Math.abs(hs.runs[0]!.apps[app]!.mean_s! - v.mean_s!) < v.mean_s! * 0.35, app);
        }
      } finally {
        await exact.close();
        await sampled.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
});

test("a parsl-ts run served fully from the cache lists its memo hits, not `0 0`", { timeout: 60_000 }, async () => {
  const { loadMonitored } = await import("./helpers.js");
  const { getLastCheckpoint, tsApp } = await import("../src/index.js");
  const cube = tsApp(
    function cube(x: number) {
      return x * x * x;
    },
    { cache: true },
  );
  const dir = tempDir();
  const runDir = path.join(dir, "runinfo");
  const first = await loadMonitored({ runDir, checkpointMode: "task_exit" });
  await Promise.all([1, 2, 3, 4].map((x) => cube(x)));
  await first.dfk.cleanup();
  const second = await loadMonitored({ runDir, checkpointFiles: getLastCheckpoint(runDir) });
  assert.deepEqual(await Promise.all([1, 2, 3, 4].map((x) => cube(x))), [1, 8, 27, 64]);
  await second.dfk.cleanup();
  const viz = await startVisualizer({ db: first.dbPath, port: 0 });
  try {
    const base = viz.url.replace(/\/$/, "");
    const list = (await getJson(`${base}/api/workflows`)).body;
    const byId = new Map<string, any>(list.rows.map((r: any) => [r.run_id, r]));
    const counts = (id: string): number[] =>
      ["tasks_completed_count", "tasks_memo_count", "tasks_failed_count"].map((k) => byId.get(id)[k]);
    assert.deepEqual(counts(first.dfk.runId), [4, 0, 0]);
    assert.deepEqual(
      counts(second.dfk.runId),
      [0, 4, 0],
      "completed count keeps Parsl's meaning; the memo hits are shown beside it",
    );
    const summary = (await getJson(`${base}/api/workflows/${second.dfk.runId}`)).body;
    assert.equal(summary.workflow.tasks_memo_count, 4);
    assert.deepEqual(summary.state_counts, { memo_done: 4 });
  } finally {
    await viz.close();
  }
});

describe("opening errors name the database and what is wrong", () => {
  test("a file that is not SQLite", async () => {
    const file = path.join(tempDir(), "garbage.db");
    fs.writeFileSync(file, "this is not a database ".repeat(200));
    await assert.rejects(
      startVisualizer({ db: file, port: 0 }),
      /cannot read .*garbage\.db as a monitoring database: .*not a database/,
    );
  });

  test("a PostgreSQL role without SELECT is told so (not that the tables are missing), password redacted", async () => {
    const name = await freshPgDatabase("parsl_viz");
    await copyDatabase(parslFixture(), pgUrl(name));
    const url = await pgReadOnlyUrl(name);
    const role = new URL(url).username;
    await pgAdmin(`REVOKE SELECT ON ALL TABLES IN SCHEMA public FROM "${role}"`, [], name);
    const err = await startVisualizer({ db: url, port: 0 }).then(
      () => null,
      (e: Error) => e,
    );
    assert.ok(err);
    assert.match(
      err.message,
      new RegExp(
        `postgresql://${role}:\\*+@.*refused to let this role read table "workflow": permission denied.*grant it SELECT`,
      ),
    );
    assert.doesNotMatch(err.message, new RegExp(new URL(url).password));
  });
});
