/**
 * `parsl-ts report` through the real CLI: the HTML file opened from disk in Chromium (Debian's
 * /usr/bin/chromium via playwright-core) makes no request but the file itself, and shows the
 * fixture's documented facts; the same on PostgreSQL through a SELECT-only role; failure evidence
 * of a parsl-ts run (exit code, stderr tail); exit statuses.
 */
import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { chromium, type Browser } from "playwright-core";
import { DIALECTS } from "./databases.js";
import { rows, tempDir } from "./helpers.js";
import { CLI, GATED, start, stopAll } from "./liveHelpers.js";
import {
  CHROMIUM_ARGS,
  FIXTURE_DB,
  RUN1,
  copyFixture,
  servedDatabase,
  type ServedDatabase,
} from "./visualizer-helpers.js";

const CHROMIUM = "/usr/bin/chromium";
const noBrowser =
  !fs.existsSync(CHROMIUM) && process.env.CI !== "true"
    ? `${CHROMIUM} not found: install Debian's chromium (apt-get install --no-install-recommends chromium) to run the browser tests`
    : false;

afterEach(stopAll);

// Tasks per app of run 1, straight from the fixture file.
const RUN1_APP_COUNTS = Object.fromEntries(
  rows<{ app: string; n: number }>(
    FIXTURE_DB,
    "SELECT task_func_name AS app, COUNT(*) AS n FROM task WHERE run_id = ? GROUP BY task_func_name",
    RUN1,
  ).map((r) => [r.app, r.n]),
);
const RUN1_APPS = Object.keys(RUN1_APP_COUNTS).length;

async function report(args: string[], cwd: string): Promise<{ code: number | null; out: string; err: string }> {
  const p = start(CLI, ["report", ...args], { cwd });
  const code = await p.exited;
  return { code, out: p.out(), err: p.err() };
}

for (const dialect of DIALECTS)
  describe(`report in Chromium (${dialect})`, { skip: noBrowser }, () => {
    let dir: string;
    let db: ServedDatabase;
    let browser: Browser;

    before(async () => {
      dir = tempDir();
      db = await servedDatabase(dialect, copyFixture(dir));
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    });

    after(async () => {
      await browser?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test("the fixture's run 1: opens from disk, makes no request, shows the documented facts", async () => {
      const before = await db.fingerprint();
      const file = path.join(dir, `report-${dialect}.html`);
      const r = await report([RUN1.slice(0, 8), "--db", db.endpoint, "-o", file], dir);
      assert.equal(r.code, 0, r.err);
      assert.match(
        r.err,
        new RegExp(
          `^parsl-ts report: run ${RUN1} \\(failed, 173 tasks\\) → .*report-${dialect}\\.html \\(\\d+ KiB, [\\d.]+ s\\)\\n$`,
        ),
      );
      assert.equal(await db.fingerprint(), before, "the database is unchanged");
      const html = fs.readFileSync(file, "utf8");
      assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none';/);
      assert.doesNotMatch(html, /\b(src|href)="(https?:)?\/\//, "no reference to anything outside the file");

      const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
      const requests: string[] = [];
      const errors: string[] = [];
      page.on("request", (q) => requests.push(q.url()));
      page.on("pageerror", (e) => errors.push(e.message));
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });
      const url = `file://${file}`;
      await page.goto(url);
      await page.waitForSelector("body[data-ready='1']");
      assert.deepEqual(requests, [url], "the only request is the file itself");
      assert.deepEqual(errors, []);

      // Summary: the README's counts for run 1 (154 exec_done, 2 memo_done, 12 failed, 5 dep_fail of 173).
      const counts = Object.fromEntries(
        await page
          .locator("#summary .count")
          .evaluateAll((els) =>
            els.map((e) => [e.getAttribute("data-state"), Number(e.querySelector("b")!.textContent.replace(/,/g, ""))]),
          ),
      );
      assert.deepEqual(counts, { exec_done: 154, memo_done: 2, failed: 12, dep_fail: 5, "not finished": 0 });
      assert.match(await page.locator("#summary .status").innerText(), /^failed$/);
      assert.match(await page.locator("#summary").innerText(), /completed\s+2026-11-24 21:52:23\.819959/);

      // Apps: one row per app; a row's counts add up; a click on "tasks" sorts by count, largest first after two clicks.
      const appRows = page.locator("table.apps tbody tr");
      assert.equal(await appRows.count(), RUN1_APPS);
      const shown = Object.fromEntries(
        (
          await appRows.evaluateAll((trs) =>
            trs.map((tr) => Array.from(tr.querySelectorAll("td"), (td) => td.textContent)),
          )
        ).map((cells) => [cells[0]!, Number(cells[1]!.replace(/,/g, ""))]),
      );
      assert.deepEqual(shown, RUN1_APP_COUNTS);
      // square_htex: tasks 54-103, all exec_done (README); its columns tasks, exec_done, memo_done, failed, dep_fail, other.
      assert.deepEqual((await page.locator('table.apps tr[data-app="square_htex"] td').allInnerTexts()).slice(0, 7), [
        "square_htex",
        String(RUN1_APP_COUNTS["square_htex"]),
        String(RUN1_APP_COUNTS["square_htex"]),
        "0",
        "0",
        "0",
        "0",
      ]);
      await page.locator("table.apps th", { hasText: /^tasks$/ }).click();
      await page.locator("table.apps th", { hasText: /^tasks$/ }).click();
      const firstCounts = await page.locator("table.apps tbody tr td:nth-child(2)").allInnerTexts();
      assert.deepEqual(
        firstCounts.map(Number),
        [...firstCounts.map(Number)].sort((a, b) => b - a),
      );

      // Timeline and resources: charts drawn (the fixture has resource rows).
      assert.ok((await page.locator("#timeline svg.chart path").count()) > 0);
      assert.ok((await page.locator("#timeline svg.chart rect").count()) >= 173, "a bar per task state segment");
      assert.ok((await page.locator("#resources svg.chart").count()) >= 4);

      // Failures: the 12 failed tasks, each with its tries; task 115 (bash_fail) failed by its exit code.
      assert.equal(await page.locator("#failures details.failure").count(), 12);
      assert.match(await page.locator("#failures").innerText(), /12 failed, 5 not run because a dependency failed/);
      assert.match(
        await page.locator('details.failure[data-task="115"] summary').innerText(),
        /task 115 \(bash_fail\)/,
      );

      // DAG: a box per app.
      assert.equal(await page.locator("#dag g.app").count(), RUN1_APPS);
      await page.screenshot({ path: path.join(dir, "report.png"), fullPage: true });
      await page.close();
    });
  });

test("report of a parsl-ts run: failure evidence (exit code, stderr tail), dep_fail counted", async () => {
  const dir = tempDir();
  const dbFile = path.join(dir, "runinfo", "monitoring.db");
  fs.writeFileSync(path.join(dir, "go"), ""); // the tasks need not wait
  const wf = start(GATED, [path.join(dir, "runinfo"), dbFile, path.join(dir, "go"), "3", "1", "0"], { cwd: dir });
  assert.equal(await wf.exited, 0, wf.err());
  const r = await report(["--db", dbFile, "-o", "out.html"], dir);
  assert.equal(r.code, 0, r.err);
  const html = fs.readFileSync(path.join(dir, "out.html"), "utf8");
  const failure = html.slice(html.indexOf('<details class="failure" data-task="3"'));
  assert.match(failure, /task <b>3<\/b> \(broken\)/);
  assert.match(failure, /<td class="n">3<\/td><td>BashExitFailure<\/td>/, "exit code and error type");
  assert.match(failure, /stderr \(tail\)<\/div><pre class="stderr">oops from broken\n<\/pre>/);
  assert.match(html, /<b>1<\/b> failed, <b>1<\/b> not run because a dependency failed/);
  assert.match(html, /<tr data-app="gated"><td>gated<\/td><td class="n" data-v="3">3<\/td>/);
});

test("report: usage and run errors have their exit statuses", async () => {
  const dir = tempDir();
  const db = copyFixture(dir);
  const cases: Array<[string[], number, RegExp]> = [
    [["--db", db], 2, /-o FILE is required/],
    [["--db", db, "-o"], 2, /option --output needs a value/],
    [["a", "b", "--db", db, "-o", "x.html"], 2, /report takes one RUN, got 2/],
    [["--bogus"], 2, /unknown option --bogus/],
    [["nosuchrun", "--db", db, "-o", "x.html"], 1, /no run has an id starting with "nosuchrun"/],
    [["--db", path.join(dir, "missing.db"), "-o", "x.html"], 1, /missing\.db does not exist/],
    [["--db", db, "-o", path.join(dir, "no", "such", "dir", "x.html")], 1, /cannot write .*x\.html/],
  ];
  for (const [args, code, re] of cases) {
    const r = await report(args, dir);
    assert.equal(r.code, code, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, re);
  }
  assert.ok(!fs.existsSync(path.join(dir, "x.html")));
  const out = await report(["--workflow", "crashed_run.py", "--db", db, "-o", "-"], dir);
  assert.equal(out.code, 0, out.err);
  assert.match(out.out, /^<!DOCTYPE html>[\s\S]*data-run="410b4fa3-e65b-4f17-99a5-099a7172c239"[\s\S]*<\/html>\n$/);
});
