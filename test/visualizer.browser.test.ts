/**
 * The visualizer in a real Chromium (Debian's /usr/bin/chromium, driven by playwright-core):
 * every page of the Python-Parsl fixture, link clicks, content checks, no off-host requests,
 * a live update without reload, and screenshots under test-results/visualizer/.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { startVisualizer, type VisualizerHandle } from "../src/visualizer/index.js";
import { msToNaive, naiveNowMs } from "../src/visualizer/timefmt.js";
import { DIALECTS } from "./databases.js";
import {
  CHROMIUM_ARGS,
  ROOT,
  RUN1,
  RUN2,
  RUN3,
  copyFixture,
  servedDatabase,
  tempDir,
  type ServedDatabase,
} from "./visualizer-helpers.js";

const SHOTS = path.join(ROOT, "test-results", "visualizer");

// Without Chromium the browser tests cannot run; say how to enable them. CI must run them.
const CHROMIUM = "/usr/bin/chromium";
const noBrowser =
  !fs.existsSync(CHROMIUM) && process.env.CI !== "true"
    ? `${CHROMIUM} not found: install Debian's chromium (apt-get install --no-install-recommends chromium) to run the browser tests`
    : false;

// The same pages on the fixture file and on the fixture copied into PostgreSQL (a SELECT-only role).
for (const dialect of DIALECTS)
  describe(`visualizer in Chromium (${dialect})`, { skip: noBrowser }, () => {
    let dir: string;
    let db: ServedDatabase;
    let checksum: string;
    let viz: VisualizerHandle;
    let base: string;
    let browser: Browser;
    let page: Page;
    const offHost: string[] = [];
    const pageErrors: string[] = [];

    before(async () => {
      fs.mkdirSync(SHOTS, { recursive: true });
      dir = tempDir();
      db = await servedDatabase(dialect, copyFixture(dir));
      checksum = await db.fingerprint();
      viz = await startVisualizer({ db: db.endpoint, port: 0 });
      base = viz.url.replace(/\/$/, "");
      browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
      page = await browser.newPage({ viewport: { width: 1366, height: 850 } });
      page.on("request", (r) => {
        if (!r.url().startsWith(base) && !r.url().startsWith("data:")) offHost.push(r.url());
      });
      page.on("pageerror", (e) => pageErrors.push(e.message));
    });

    after(async () => {
      await browser?.close();
      await viz?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    const shotPath = (name: string): string => path.join(SHOTS, `${name}${dialect === "sqlite" ? "" : "-pg"}.png`);

    async function open(url: string, shot: string): Promise<void> {
      await page.goto(base + url);
      await page.waitForSelector("body[data-ready='1'][data-complete='1']", { timeout: 15_000 });
      await page.screenshot({ path: shotPath(shot), fullPage: true });
    }

    test("workflows list shows every run with its real status", async () => {
      await open("/", "01-workflows");
      const rows = await page.locator("table.workflows tbody tr").allInnerTexts();
      assert.equal(rows.length, 3);
      const crashed = rows.find((r) => r.includes("crashed_run.py"));
      assert.ok(crashed, "crashed run listed");
      assert.match(crashed, /unknown/);
      assert.equal(rows.filter((r) => /failed/.test(r)).length, 2);
      // Completed, memo hits and failed, in that order (run 2 of the fixture: 9, 5, 2).
      const run2 = page
        .locator("table.workflows tbody tr", { hasText: "2026-11-24 21:52:25" })
        .locator(".task-counts .task");
      assert.deepEqual(await run2.allInnerTexts(), ["9", "5", "2"]);
      assert.deepEqual(await run2.evaluateAll((els) => els.map((e) => e.getAttribute("title"))), [
        "completed (exec_done)",
        "memo hits (memo_done)",
        "failed",
      ]);
    });

    test("click through: list → workflow → app → task", async () => {
      await open("/", "01-workflows");
      await Promise.all([
        page.waitForURL(`**/workflow/${RUN1}/`),
        page.locator(`a[href="/workflow/${RUN1}/"]`).click(),
      ]);
      await page.waitForSelector("body[data-ready='1'][data-complete='1']");
      await page.screenshot({ path: shotPath("02-workflow"), fullPage: true });
      const summary = await page.locator("main").innerText();
      assert.match(summary, /Workflow fixture-mixed/);
      assert.match(summary, /\/tmp\/parsl-fixture-mixed\/runinfo\/000/);
      assert.match(summary, /173 tasks by latest state/);
      assert.deepEqual(
        await page.locator("main .task-counts .task").allInnerTexts(),
        ["154", "2", "12"],
        "completed, memo hits, failed",
      );
      // Gantt: one bar group per task, coloured with Parsl's colours.
      assert.equal(await page.locator("#gantt-note").innerText(), "Showing tasks 0–172.");
      const fills = await page
        .locator("svg.chart a rect")
        .evaluateAll((els) => [...new Set(els.map((e) => e.getAttribute("fill")))]);
      assert.ok(
        fills.includes("rgb(0, 200, 0)") && fills.includes("rgb(200, 0, 0)") && fills.includes("rgb(255, 128, 255)"),
        `gantt colours ${fills.join(" ")}`,
      );
      assert.ok((await page.locator("text=Execution tries per app").count()) >= 1);
      await Promise.all([
        page.waitForURL("**/app/flaky_half"),
        page.locator("a.app-link", { hasText: "flaky_half" }).click(),
      ]);
      await page.waitForSelector("body[data-ready='1']");
      await page.screenshot({ path: shotPath("03-app"), fullPage: true });
      const appRows = await page.locator("table.tasks tbody tr").allInnerTexts();
      assert.equal(appRows.length, 1);
      assert.match(appRows[0]!, /124\s+failed/);
      await Promise.all([page.waitForURL("**/task/124"), page.locator("a.task-link", { hasText: "124" }).click()]);
      await page.waitForSelector("body[data-ready='1']");
      await page.screenshot({ path: shotPath("04-task"), fullPage: true });
      assert.match(await page.locator("h1").innerText(), /flaky_half \(124\)\s+failed/);
      assert.equal(await page.locator("table.states tbody tr").count(), 25);
      assert.equal(await page.locator("table.tries tbody tr").count(), 5);
      assert.match(await page.locator("main").innerText(), /ValueError\('flaky-a'\)/);
      assert.ok((await page.locator("svg.chart[aria-label='Memory usage']").count()) === 1);
      assert.match(await page.locator("main").innerText(), /no hashsum/);
    });

    test("task page: the same computation across runs by hashsum, with memo hits, linked", async () => {
      await open(`/workflow/${RUN1}/task/161`, "04b-task-history");
      const rows = await page.locator("table.history tbody tr").allInnerTexts();
      assert.equal(rows.length, 5);
      assert.match(rows[0]!, /this task\s+fixture-mixed\s+2026-11-24 21:52:07\s+exec_done/);
      assert.equal(rows.filter((r) => /memo hit/.test(r)).length, 4);
      await Promise.all([
        page.waitForURL(`**/workflow/${RUN2}/task/0`),
        page.locator("table.history a", { hasText: `${RUN2.slice(0, 8)} · 0` }).click(),
      ]);
      await page.waitForSelector("body[data-ready='1']");
      assert.match(await page.locator("h1").innerText(), /cached_square \(0\)\s+memo_done/);
    });

    test("all tasks of a run, paged, with dependency links", async () => {
      await open(`/workflow/${RUN1}/task/`, "05-all-tasks");
      assert.equal(await page.locator("table.tasks tbody tr").count(), 100);
      await page.locator("button", { hasText: "next ›" }).last().click();
      await page.waitForFunction(() => document.querySelector(".pager span")?.textContent?.startsWith("101–173"));
      const fanIn = await page.locator("table.tasks tbody tr", { hasText: "fan_in_args" }).first().innerText();
      assert.match(fanIn, /157/);
      await Promise.all([
        page.waitForURL("**/task/125"),
        page
          .locator("table.tasks tbody tr", { has: page.locator("a.task-link", { hasText: /^126$/ }) })
          .locator("td")
          .nth(3)
          .locator("a")
          .click(),
      ]);
      await page.waitForSelector("body[data-ready='1']");
      assert.match(await page.locator("h1").innerText(), /always_fail \(125\)/);
    });

    test("DAG pages: grouped by app and by state, nodes link to tasks", async () => {
      await open(`/workflow/${RUN1}/dag_group_by_apps`, "06-dag-apps");
      assert.equal(await page.locator("a.app-node").count(), 22);
      assert.equal(await page.locator("a.dag-node").count(), 173);
      // Every dependency edge of the run is drawn (the window covers the whole 173-task run).
      const api = (await (await fetch(`${base}/api/workflows/${RUN1}/dag?from=0&limit=300`)).json()) as {
        window: { edges: unknown[] };
      };
      const depCount = Number(
        Object.values(
          (
            await db.exec(
              `SELECT SUM(LENGTH(task_depends) - LENGTH(REPLACE(task_depends, ',', '')) + 1) AS n FROM task
      WHERE run_id = ? AND task_depends <> ''`,
              RUN1,
            )
          )[0]!,
        )[0],
      );
      assert.equal(api.window.edges.length, depCount);
      assert.equal(await page.locator("line.edge").count(), depCount);
      await open(`/workflow/${RUN1}/dag_group_by_states`, "07-dag-states");
      const failedNodes = await page.locator("a.dag-node circle[fill='rgb(200, 0, 0)']").count();
      assert.equal(failedNodes, 12);
      await page.locator("#main input[name=from]").fill("125");
      await page.locator("#main select[name=limit]").selectOption("100");
      await page.locator("#main form button[type=submit]").click();
      await page.waitForFunction(() => document.getElementById("dag-note")?.textContent?.startsWith("Tasks 125–172"));
      await Promise.all([page.waitForURL("**/task/126"), page.locator("a.dag-node[data-task='126']").click()]);
      await page.waitForSelector("body[data-ready='1']");
      assert.match(await page.locator("h1").innerText(), /chain_step \(126\)\s+dep_fail/);
    });

    test("resource usage page draws every plot", async () => {
      await open(`/workflow/${RUN1}/resource_usage`, "08-resources");
      const titles = await page
        .locator("svg.chart .chart-title")
        .evaluateAll((els) => els.map((e) => e.textContent ?? ""));
      for (const t of [
        "Worker efficiency",
        "CPU usage",
        "CPU time distribution (max per task)",
        "Memory usage",
        "Memory distribution (average per task)",
        "Memory distribution (max per task)",
      ]) {
        assert.ok(
          titles.some((x) => x.startsWith(t)),
          `missing plot ${t}: ${titles.join(" | ")}`,
        );
      }
      assert.match(await page.locator("main").innerText(), /SCALED_IN/);
    });

    test("a running workflow's page shows new rows without reloading", async () => {
      await open(`/workflow/${RUN3}/`, "09-live-before");
      await page.evaluate(() => {
        (window as unknown as { marker: number }).marker = 42;
      });
      assert.equal(await page.locator("a.app-link", { hasText: "late_app" }).count(), 0);
      const now = naiveNowMs();
      await db.exec(
        `INSERT INTO task (task_id, run_id, task_depends, task_func_name, task_memoize, task_inputs, task_outputs, task_stdout, task_stderr,
        task_time_invoked, task_fail_count, task_fail_cost) VALUES (12, ?, '', 'late_app', '0', 'None', 'None', '', '', ?, 0, 0)`,
        RUN3,
        msToNaive(now),
      );
      await db.exec(
        `INSERT INTO status (task_id, task_status_name, timestamp, run_id, try_id) VALUES (12, 'pending', ?, ?, 0)`,
        msToNaive(now),
        RUN3,
      );
      await db.exec(
        `INSERT INTO status (task_id, task_status_name, timestamp, run_id, try_id) VALUES (12, 'launched', ?, ?, 0)`,
        msToNaive(now + 1),
        RUN3,
      );
      await page.waitForSelector("a.app-link:has-text('late_app')", { timeout: 10_000 });
      assert.equal(
        await page.evaluate(() => (window as unknown as { marker?: number }).marker),
        42,
        "the page was reloaded",
      );
      assert.match(await page.locator("main").innerText(), /13 tasks by latest state/);
      assert.match(await page.locator("#gantt-note").innerText(), /0–12/);
      assert.match(await page.locator("#live").innerText(), /updated/);
      await page.screenshot({ path: shotPath("10-live-after"), fullPage: true });
      // New activity makes the crashed-looking run "running" again in the list.
      await open("/", "11-workflows-after");
      assert.match(
        await page.locator("table.workflows tbody tr", { hasText: "crashed_run.py" }).innerText(),
        /running/,
      );
    });

    test("error pages are readable", async () => {
      const res = await page.goto(`${base}/workflow/not-a-run/`);
      assert.equal(res?.status(), 404);
      assert.match(await page.locator("#error-message").innerText(), /Workflow not-a-run could not be found/);
      await page.screenshot({ path: shotPath("12-error") });
    });

    test("no request left the server, no script errors, database untouched except by the test's own writes", async () => {
      assert.deepEqual(offHost, []);
      assert.deepEqual(pageErrors, []);
      assert.notEqual(await db.fingerprint(), checksum); // the live test appended rows itself
      assert.equal(
        Number(Object.values((await db.exec(`SELECT COUNT(*) AS n FROM task WHERE run_id = ?`, RUN3))[0]!)[0]),
        13,
      );
    });
  });
