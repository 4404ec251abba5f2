/**
 * The query core (fields, filter language, task rows, run table, Parsl's queries.pandas, history
 * by hashsum) and `parsl-ts/query`, on the Python Parsl fixture in SQLite, in PostgreSQL with our
 * schema, and in PostgreSQL with exactly Python Parsl's tables; values checked against the
 * fixture's README.
 */
import assert from "node:assert/strict";
import test from "node:test";
import { globParts, toLikePattern, toSqliteGlob } from "../src/database/glob.js";
import { FIELDS } from "../src/database/queries/fields.js";
import { FilterError, parseDuration, parseFilter } from "../src/database/queries/filter.js";
import { openMonitoringDb, FilterError as PublicFilterError, listFields, type FieldRow } from "../src/query/index.js";
import { copyFixture, RUN1, RUN2, RUN3, servedDatabase, tempDir, type ServedKind } from "./visualizer-helpers.js";

const HASH = "e956094ef717f52e6e33c6852a654783"; // cached_square(…) in runs 1 and 2 (README)

function filterError(source: string): FilterError {
  try {
    parseFilter(source);
  } catch (e) {
    if (e instanceof FilterError) return e;
    throw e;
  }
  assert.fail(`${source} parsed`);
}

test("filter language: grammar, precedence, values and errors that point at the token", () => {
  const t = parseFilter(`app = simulate and state in (failed, dep_fail) or not (run_s > 10s)`);
  assert.equal(t.kind, "or", "and binds tighter than or");
  assert.equal(t.kind === "or" && t.left.kind, "and");
  assert.equal(t.kind === "or" && t.right.kind, "not");
  assert.equal(parseDuration("250ms"), 0.25);
  assert.equal(parseDuration("1h30m"), 5400);
  assert.equal(parseDuration("12"), 12);
  assert.equal(parseDuration("5 minutes"), null);
  const cases: [string, RegExp, number, number][] = [
    ["stat = failed", /unknown field "stat" \(did you mean "state"/, 0, 4],
    ["app = ", /expected a value, found the end/, 6, 1],
    ["app == x", /expected a value, found "="/, 5, 1],
    ["app = x and", /ends where a term/, 11, 1],
    ["app = x y", /expected and, or or the end of the filter, found "y"/, 8, 1],
    ["(app = x", /expected "\)"/, 8, 1],
    ["state in (a, b", /expected "," or "\)"/, 14, 1],
    ["app = 'x", /unterminated quoted value/, 6, 2],
    ["app ! x", /'!' must be followed by '='/, 4, 1],
    ["", /empty/, 0, 1],
    ["app x", /expected an operator/, 4, 1],
  ];
  for (const [src, re, pos, len] of cases) {
    const e = filterError(src);
    assert.match(e.message, re, src);
    assert.equal(e.position, pos, `${src}: position`);
    assert.equal(e.length, len, `${src}: length`);
    // The caret line is under the token.
    const lines = e.message.split("\n");
    assert.equal(lines[2]!.indexOf("^"), 2 + pos, `${src}: caret\n${e.message}`);
  }
  assert.match(filterError("a = x").message, /unknown field "a"/);
});

test("globs: * and ? are wildcards, everything else (and \\*) literal on both dialects", () => {
  assert.deepEqual(globParts("a*b?c\\*"), [{ text: "a" }, { any: true }, { text: "b" }, { one: true }, { text: "c*" }]);
  assert.equal(toSqliteGlob(globParts("x[1]*_%\\?")), "x[[]1]*_%[?]");
  assert.equal(toLikePattern(globParts("x[1]*_%\\?\\\\")), "x[1]%\\_\\%?\\\\");
});

test("the field list: unique names, every type documented", () => {
  const names = FIELDS.map((f) => f.name);
  assert.equal(new Set(names).size, names.length);
  for (const f of listFields()) assert.ok(f.description.length > 10, f.name);
  for (const n of [
    "task_id",
    "run_id",
    "app",
    "state",
    "executor",
    "host",
    "block",
    "job_id",
    "tries",
    "fail_count",
    "fail_cost",
    "invoked",
    "launched",
    "running",
    "returned",
    "queue_s",
    "run_s",
    "total_s",
    "mem_peak",
    "cpu_s",
    "exit_code",
    "error_type",
    "error",
    "hashsum",
    "lineage_hash",
    "depends",
    "args",
    "stdout",
    "stderr",
    "memo",
  ]) {
    assert.ok(names.includes(n), `missing field ${n}`);
  }
});

const byTask = (rows: FieldRow[]): Map<number, FieldRow> => new Map(rows.map((r) => [Number(r["task_id"]), r]));

for (const kind of ["sqlite", "postgresql", "postgresql-parsl"] as ServedKind[]) {
  test(`query API on the Python Parsl fixture (${kind}): runs, fields, filters, tries, sort, history, queries.pandas`, async () => {
    const served = await servedDatabase(kind, copyFixture(tempDir()));
    const before = await served.fingerprint();
    const db = await openMonitoringDb(served.endpoint);
    try {
      // Runs: newest first; counts per final state from the README.
      const runs = await db.runs();
      assert.deepEqual(
        runs.map((r) => r.run_id),
        [RUN3, RUN2, RUN1],
      );
      const r1 = runs[2]!;
      assert.deepEqual(
        { ...r1.tasks, states: undefined },
        { total: 173, exec_done: 154, memo_done: 2, failed: 12, dep_fail: 5, not_run: 0, states: undefined },
      );
      assert.equal(r1.status, "failed", "Parsl recorded an end and failed tasks");
      assert.deepEqual([runs[1]!.tasks.exec_done, runs[1]!.tasks.memo_done, runs[1]!.tasks.failed], [9, 5, 2]);
      assert.deepEqual(
        [runs[0]!.tasks.total, runs[0]!.tasks.not_run],
        [12, 6],
        "run 3: launched 1 + pending 2 + running 3 never finished",
      );
      assert.notEqual(runs[0]!.status, "completed");
      assert.deepEqual(
        (await db.runs({ workflow: "fixture-mixed" })).map((r) => r.run_id),
        [RUN2, RUN1],
      );
      assert.deepEqual(
        (await db.runs({ status: ["failed"], limit: 1 })).map((r) => r.run_id),
        [RUN2],
      );
      assert.deepEqual(
        (await db.runs({ since: "2026-11-24 21:52:30.000000" })).map((r) => r.run_id),
        [RUN3],
      );

      // Filters on run 1.
      const count = async (filter: string, run = RUN1): Promise<number> =>
        (await db.tasks({ run, fields: ["task_id"], filter })).length;
      assert.equal(await count("state = failed"), 12);
      assert.equal(await count("state in (failed, dep_fail)"), 17);
      assert.equal(await count("state not in (failed, dep_fail, memo_done)"), 154);
      assert.equal(await count("not state = exec_done"), 19);
      assert.equal(
        await count("app ~ 'always_fail*'"),
        7,
        "always_fail 118-120, 125, 165 and always_fail_threads 121, 130",
      );
      assert.equal(await count("app ~ 'bash_echo?threads'"), 2);
      assert.equal(await count("app ~ 'BASH*'"), 0, "globs are case-sensitive on both dialects");
      assert.equal(await count("app = chain_step and (state = dep_fail or task_id = 134)"), 4);
      assert.equal(await count("fail_count >= 3 and fail_cost < 3"), 1, "flaky_half: 5 failures cost 2.5");
      assert.equal(await count("hashsum = null"), 173 - 7, "hashsums: 161 and 167-172");
      assert.equal(await count("lineage_hash = null"), 173, "a column Python Parsl lacks is NULL, not an error");
      assert.equal(await count("exit_code = 3"), 1, "bash_fail (115): the code in its BashExitFailure('bash_fail', 3)");
      assert.equal(await count("exit_code != null"), 1);
      assert.equal(await count("memo = true"), 2);
      assert.equal(await count("run_s > 1h"), 0);
      assert.ok((await count("run_s > 2s")) >= 4, "the four burn tasks ran over 2 s");
      assert.equal(await count("invoked >= 2026-11-24 and invoked < '2026-11-25'"), 173);
      assert.equal(await count("depends ~ '*125*'"), 1);
      assert.equal(
        await count(`error = "ValueError(\\'boom-0\\')"`),
        1,
        "a backslash escapes the next character in quoted text",
      );
      assert.equal(
        await count(`error ~ "*\\(*"`),
        17,
        "\\( is a literal parenthesis in a glob: the 12 failed and 5 dep_fail tasks",
      );

      // Fields from try, block and resource, on the latest try; Python Parsl's error history gives the error type.
      const rows = byTask(
        await db.tasks({
          run: RUN1,
          fields: [
            "task_id",
            "app",
            "state",
            "tries",
            "executor",
            "block",
            "job_id",
            "error_type",
            "error",
            "mem_peak",
            "cpu_s",
            "memo",
          ],
          filter: "task_id in (1, 118, 124, 126, 167)",
        }),
      );
      assert.deepEqual(rows.get(118), {
        task_id: 118,
        app: "always_fail",
        state: "failed",
        tries: 3,
        executor: "htex",
        block: "0",
        job_id: "29493",
        error_type: "ValueError",
        error: "ValueError('boom-0')",
        mem_peak: rows.get(118)!["mem_peak"],
        cpu_s: rows.get(118)!["cpu_s"],
        memo: false,
      });
      assert.equal(rows.get(1)!["mem_peak"], 227688448, "README: task 1 peaks at 227688448 bytes");
      assert.equal(rows.get(124)!["tries"], 5);
      assert.equal(rows.get(126)!["error_type"], "DependencyError");
      assert.equal(rows.get(167)!["memo"], true);
      // Sort: descending by peak memory, NULLs last on both dialects.
      const top = await db.tasks({ run: RUN1, fields: ["task_id", "mem_peak"], sort: ["-mem_peak"], limit: 4 });
      assert.deepEqual(
        top.map((r) => r["task_id"]),
        [1, 0, 2, 3],
      );
      const last = await db.tasks({ run: RUN1, fields: ["task_id", "mem_peak"], sort: ["mem_peak"] });
      assert.equal(last.at(-1)!["mem_peak"], null);
      // A row per try (Parsl writes a try row for memo hits too).
      const tries = await db.tasks({
        run: RUN1,
        fields: ["task_id", "try_id", "try_state"],
        tries: true,
        filter: "task_id in (124, 167)",
      });
      assert.deepEqual(
        tries.map((r) => [r["task_id"], r["try_id"]]),
        [
          [124, 0],
          [124, 1],
          [124, 2],
          [124, 3],
          [124, 4],
          [167, 0],
        ],
      );
      assert.deepEqual(
        tries.slice(0, 5).map((r) => r["try_state"]),
        ["fail_retryable", "fail_retryable", "fail_retryable", "fail_retryable", "failed"],
      );
      // Paging: small pages give the same rows as one big one.
      const pages: FieldRow[] = [];
      for await (const p of db.taskPages({ run: RUN1, fields: ["task_id", "try_id"], tries: true })) pages.push(...p);
      assert.equal(pages.length, 199, "README: 199 tries");
      assert.deepEqual(
        pages,
        await db.tasks({ run: RUN1, fields: ["task_id", "try_id"], tries: true, sort: ["task_id", "try_id"] }),
      );

      // Across runs by hashsum: runs 1 and 2, with memo hits.
      const hist = await db.tasks({
        allRuns: true,
        fields: ["run_id", "task_id", "state", "memo"],
        filter: `hashsum = ${HASH}`,
      });
      assert.deepEqual(
        hist.map((r) => [r["run_id"], r["task_id"], r["memo"]]),
        [
          [RUN1, 161, false],
          [RUN1, 167, true],
          [RUN1, 169, true],
          [RUN2, 0, true],
          [RUN2, 7, true],
        ],
      );
      const th = await db.taskHistory(RUN2, 0);
      assert.equal(th.hashsum, HASH);
      assert.deepEqual(
        th.runs.map((r) => [r.run_id, r.task_id, r.state, r.memo]),
        hist.map((r) => [r["run_id"], r["task_id"], r["state"], r["memo"]]),
      );
      assert.deepEqual(await db.taskHistory(RUN1, 0), { hashsum: null, runs: [] });

      // parsl.monitoring.queries.pandas, one for one (README row counts).
      assert.equal(
        (await db.appCountsForWorkflow(RUN1)).reduce((a, b) => a + b.frequency, 0),
        173,
      );
      assert.deepEqual(
        (await db.appCountsForWorkflow(RUN1)).find((a) => a.task_func_name === "cached_square"),
        { task_func_name: "cached_square", frequency: 5 },
      );
      assert.equal((await db.nodesForWorkflow(RUN1)).length, 235);
      assert.equal((await db.resourcesForWorkflow(RUN1)).length, 131);
      assert.equal((await db.resourcesForTask(RUN1, 1)).length, 5);
      assert.equal((await db.statusForWorkflow(RUN1)).length, 968);
      assert.equal((await db.completionTimesForWorkflow(RUN3)).filter((r) => r.task_time_returned !== null).length, 6);
      assert.equal((await db.tasksForWorkflow(RUN2)).length, 16);
      assert.equal((await db.triesForWorkflow(RUN2)).length, 20);
      assert.equal(await db.runId("ee78"), RUN2);

      // Usage errors carry the token; hostile text is only ever a value.
      await assert.rejects(
        db.tasks({ run: RUN1, fields: ["task_id"], filter: "exit_code = abc" }),
        (e: Error) =>
          e instanceof PublicFilterError &&
          /exit_code is a number; "abc" is not one/.test(e.message) &&
          e.position === 12,
      );
      await assert.rejects(
        db.tasks({ run: RUN1, fields: ["task_id", "nope"] }),
        (e: Error) => e instanceof PublicFilterError && e.position === 8,
      );
      await assert.rejects(
        db.tasks({ run: RUN1, fields: ["task_id"], filter: "run_s ~ 1*" }),
        /~ \(glob\) works on text fields/,
      );
      const hostile = [
        `app = "x'; DROP TABLE task; --"`,
        `app = 'x"); DELETE FROM workflow; --'`,
        `app ~ "%' OR 1=1 --"`,
        `app in ("a') OR ('1'='1", b)`,
        `error = "\\'; UPDATE task SET task_func_name = 'p'"`,
        `app = "Robert'); DROP TABLE status;--"`,
        `hashsum ~ "*'||(SELECT 1)||'*"`,
      ];
      for (const f of hostile) assert.equal(await count(f), 0, f);
      const refused = [
        `app = x; DROP TABLE task`,
        `app = 1 OR 1=1`,
        `task_id = 1 UNION SELECT 1`,
        `app = x) OR (1 = 1`,
        `"app" = x`,
        `task_id = 0x10`,
      ];
      for (const f of refused) await assert.rejects(count(f), (e: Error) => e instanceof PublicFilterError, f);

      // The commands' views through the same API: stats, compare, analyze, progress, report, export.
      const st = await db.stats("1184");
      assert.deepEqual(
        [st.run.run_id, st.tasks.total, st.tasks.succeeded, st.tasks.failed, st.tasks.dep_fail, st.tasks.memo],
        [RUN1, 173, 154, 12, 5, 2],
      );
      assert.equal(st.by, "app");
      assert.deepEqual(
        (await db.stats(RUN1, { by: "executor" })).groups.map((g) => g.key),
        ["htex", "threads", "_parsl_internal"],
      );
      assert.deepEqual(
        (await db.statsOfRuns({ workflow: "fixture-mixed" })).map((r) => r.run.run_id),
        [RUN2, RUN1],
      );
      assert.equal((await db.compareStats(RUN1, RUN2)).apps.length, 22);
      const an = await db.analyze(RUN1, { limit: 2 });
      assert.deepEqual([an.roots_total, an.failures.map((f) => f.task_id)], [12, [125, 130]]);
      const pr = await db.progress("latest", { workflow: "fixture-mixed", failures: 3 });
      assert.equal(pr.run_id, RUN2);
      assert.equal(
        pr.apps.reduce((n, a) => n + a.n, 0),
        16,
      );
      assert.ok(pr.failures.length > 0 && pr.failures.length <= 3);
      const html = await db.report(RUN1);
      assert.match(html, /^<!doctype html>/i);
      assert.ok(html.includes(RUN1) && html.includes("bash_fail"));
      const dir = tempDir();
      const manifest = await db.export({ format: "jsonl", dir, runs: ["1184", "ee78"] });
      assert.deepEqual(
        manifest.runs.map((r) => r.run_id),
        [RUN1, RUN2],
      );
      assert.equal(manifest.tables!.find((t) => t.name === "task")!.rows, 173 + 16);
      const all = await db.export({ format: "csv", dir: tempDir(), runs: "all" });
      assert.deepEqual(
        all.runs.map((r) => r.run_id),
        [RUN1, RUN2, RUN3],
        "oldest first, as the CLI writes them",
      );
      await assert.rejects(
        db.export({ format: "csv", dir, runs: ["1184"] }),
        /exist|overwrite|already/i,
        "an earlier export is not overwritten unasked",
      );
      assert.equal(await served.fingerprint(), before, "the database is unchanged");
    } finally {
      await db.close();
    }
  });
}

test("fuzzed filters never reach the database as SQL text: they parse or are refused, and the file is unchanged", async () => {
  const served = await servedDatabase("sqlite", copyFixture(tempDir()));
  const before = await served.fingerprint();
  const db = await openMonitoringDb(served.endpoint);
  const alphabet = [
    " ",
    "app",
    "state",
    "=",
    "!=",
    "~",
    "<",
    "(",
    ")",
    ",",
    "and",
    "or",
    "not",
    "in",
    "'",
    '"',
    ";",
    "--",
    "DROP",
    "TABLE",
    "task",
    "*",
    "%",
    "_",
    "\\",
    "x",
    "1",
    "10s",
    "null",
  ];
  let seed = 42;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  let parsed = 0;
  try {
    for (let i = 0; i < 400; i++) {
      const src = Array.from({ length: 1 + rnd(9) }, () => alphabet[rnd(alphabet.length)]).join(rnd(2) ? " " : "");
      try {
        await db.tasks({ run: RUN1, fields: ["task_id"], filter: src });
        parsed++;
      } catch (e) {
        assert.ok(e instanceof PublicFilterError, `${src}: ${String(e)}`);
      }
    }
  } finally {
    await db.close();
  }
  assert.ok(parsed > 0, "some fuzzed filters are valid");
  assert.equal(await served.fingerprint(), before);
});
