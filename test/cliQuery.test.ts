/**
 * `parsl-ts runs` and `parsl-ts tasks` as a user runs them (real processes): output, formats,
 * exit statuses (0 ok, 1 unknown run / missing database, 2 usage with a caret under the bad
 * token), on the Python Parsl fixture (SQLite and PostgreSQL) and on a parsl-ts run.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import test from "node:test";
import { fileURLToPath } from "node:url";
import { tsApp } from "../src/index.js";
import { DIALECTS } from "./databases.js";
import { loadMonitored, tempDir } from "./helpers.js";
import { copyFixture, RUN1, RUN2, servedDatabase } from "./visualizer-helpers.js";

const CLI = fileURLToPath(new URL("../src/cli/parsl-ts.cjs", import.meta.url));

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, PARSL_TS_DB: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      err += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out, err }));
  });
}

for (const dialect of DIALECTS) {
  test(`parsl-ts runs / tasks on the Python Parsl fixture (${dialect})`, async () => {
    const served = await servedDatabase(dialect, copyFixture(tempDir()));
    const before = await served.fingerprint();
    const db = ["--db", served.endpoint];

    const runs = await cli(["runs", ...db]);
    assert.equal(runs.code, 0, runs.err);
    const lines = runs.out.trimEnd().split("\n");
    assert.match(
      lines[0]!,
      /^workflow\s+run_id\s+status\s+started\s+duration\s+tasks\s+done\s+memo\s+failed\s+dep_fail\s+not_run\s+host\s+user$/,
    );
    assert.match(
      lines[3]!,
      new RegExp(
        `^fixture-mixed\\s+${RUN1}\\s+failed\\s+2026-11-24 21:52:07.544\\s+16.3s\\s+173\\s+154\\s+2\\s+12\\s+5\\s+0\\s+vm\\s+root$`,
      ),
    );
    const json = JSON.parse(
      (await cli(["runs", ...db, "--format", "json", "--workflow", "fixture-mixed"])).out,
    ) as Record<string, unknown>[];
    assert.deepEqual(
      json.map((r) => [r["run_id"], r["tasks"], r["exec_done"], r["memo_done"], r["failed"]]),
      [
        [RUN2, 16, 9, 5, 2],
        [RUN1, 173, 154, 2, 12],
      ],
    );
    assert.deepEqual(Object.keys(json[0]!), [
      "workflow_name",
      "run_id",
      "status",
      "time_began",
      "runtime_s",
      "tasks",
      "exec_done",
      "memo_done",
      "failed",
      "dep_fail",
      "not_run",
      "host",
      "user",
      "time_completed",
      "status_reason",
      "workflow_version",
    ]);
    const csv = await cli(["runs", ...db, "--format", "csv", "--status", "failed", "--limit", "1"]);
    assert.equal(csv.out.split("\r\n")[1]!.split(",")[1], RUN2);
    assert.equal(
      (await cli(["runs", ...db, "--since", "2026-11-24 21:52:30", "--format", "tsv"])).out.trimEnd().split("\n")
        .length,
      2,
      "header + run 3",
    );

    const failed = await cli([
      "tasks",
      RUN1.slice(0, 6),
      ...db,
      "-F",
      "state in (failed, dep_fail) and app ~ 'chain*'",
      "-f",
      "task_id,state,depends,error_type",
    ]);
    assert.equal(failed.code, 0, failed.err);
    assert.deepEqual(
      failed.out
        .trimEnd()
        .split("\n")
        .map((l) => l.trim().split(/\s+/)),
      [
        ["task_id", "state", "depends", "error_type"],
        ["126", "dep_fail", "125", "DependencyError"],
        ["127", "dep_fail", "126", "DependencyError"],
        ["128", "dep_fail", "127", "DependencyError"],
      ],
    );
    const hist = JSON.parse(
      (
        await cli([
          "tasks",
          ...db,
          "--all-runs",
          "-F",
          "hashsum = e956094ef717f52e6e33c6852a654783 and memo = yes",
          "--format",
          "json",
        ])
      ).out,
    ) as Record<string, unknown>[];
    assert.deepEqual(
      hist.map((r) => [r["run_id"], r["task_id"], r["memo"]]),
      [
        [RUN1, 167, true],
        [RUN1, 169, true],
        [RUN2, 0, true],
        [RUN2, 7, true],
      ],
    );
    const latest = await cli([
      "tasks",
      ...db,
      "--format",
      "csv",
      "-f",
      "task_id,state",
      "--sort",
      "-task_id",
      "--limit",
      "2",
    ]);
    assert.equal(latest.out, "task_id,state\r\n11,pending\r\n10,pending\r\n", "RUN defaults to the latest run (run 3)");
    const tries = await cli([
      "tasks",
      RUN1,
      ...db,
      "--tries",
      "-F",
      "task_id = 124",
      "--format",
      "tsv",
      "-f",
      "try_id,try_state,error",
    ]);
    assert.equal(tries.out.trimEnd().split("\n").length, 6);

    // Usage errors: exit 2, the message names the option and puts a caret under the token.
    const bad = await cli(["tasks", RUN1, ...db, "-F", "state = failed and stat = x"]);
    assert.equal(bad.code, 2);
    assert.equal(
      bad.err,
      `parsl-ts tasks: --filter: unknown field "stat" (did you mean "state"?); 'parsl-ts tasks --list-fields' lists them\n  state = failed and stat = x\n                     ^^^^\n`,
    );
    const badField = await cli(["tasks", ...db, "-f", "task_id,colour"]);
    assert.equal(badField.code, 2);
    assert.match(badField.err, /--fields: fields: unknown field "colour".*\n {2}task_id,colour\n {10}\^{6}\n$/);
    for (const args of [
      ["runs", "--status", "done"],
      ["runs", "--since", "yesterday"],
      ["runs", "--limit", "0"],
      ["tasks", "--sort", "-nope"],
      ["tasks", "--all-runs", RUN1],
      ["tasks", "a", "b"],
      ["tasks", "-F", "run_s > soon"],
      ["tasks", "--format", "xml"],
    ]) {
      const r = await cli([...args, ...db]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
    }
    const unknownRun = await cli(["tasks", "zzzz", ...db]);
    assert.equal(unknownRun.code, 1);
    assert.match(unknownRun.err, /no run has an id starting with "zzzz"/);
    const injected = await cli(["tasks", RUN1, ...db, "-F", `app = "x'; DROP TABLE task; --"`]);
    assert.equal(injected.code, 0);
    assert.equal(injected.out.trim().split("\n").length, 1, "only the header: no task has that app name");
    assert.equal(await served.fingerprint(), before, "the database is unchanged");
  });
}

test("parsl-ts runs / tasks on a parsl-ts run: completed, memo hits, args and lineage hashes; -l lists fields; missing db is exit 1", async () => {
  const run = await loadMonitored({ retries: 1 });
  const square = tsApp(
    function square(x: number) {
      return x * x;
    },
    { cache: true },
  );
  const boom = tsApp(function boom(_x: number): number {
    throw new TypeError("no good");
  });
  await square(3);
  await square(3);
  await square(4);
  await assert.rejects(boom(1));
  await run.dfk.cleanup();
  const db = ["--db", run.dbPath];
  const runs = JSON.parse((await cli(["runs", ...db, "--format", "json"])).out) as Record<string, unknown>[];
  assert.equal(runs.length, 1);
  assert.deepEqual(
    [runs[0]!["status"], runs[0]!["tasks"], runs[0]!["exec_done"], runs[0]!["memo_done"], runs[0]!["failed"]],
    ["failed", 4, 2, 1, 1],
  );
  const rows = JSON.parse(
    (
      await cli([
        "tasks",
        ...db,
        "--format",
        "json",
        "-f",
        "task_id,app,state,memo,args,lineage_hash,error_type,error,tries",
      ])
    ).out,
  ) as Record<string, unknown>[];
  assert.deepEqual(
    rows.map((r) => [r["app"], r["state"], r["memo"], r["args"], r["tries"]]),
    [
      ["square", "exec_done", false, "[3]", 1],
      ["square", "memo_done", true, "[3]", rows[1]!["tries"]],
      ["square", "exec_done", false, "[4]", 1],
      ["boom", "failed", false, "[1]", 2],
    ],
  );
  assert.equal(rows[0]!["lineage_hash"], rows[1]!["lineage_hash"], "the memo hit has the same lineage hash");
  assert.match(String(rows[0]!["lineage_hash"]), /^[0-9a-f]{16,}$/);
  assert.equal(rows[3]!["error_type"], "TypeError");
  assert.match(String(rows[3]!["error"]), /no good/);
  const list = await cli(["tasks", "-l"]);
  assert.equal(list.code, 0);
  assert.match(list.out, /^name\s+type\s+description\n/);
  assert.match(list.out, /\nrun_s\s+duration\s+try running → returned/);
  const env = await cli(["runs"], { PARSL_TS_DB: run.dbPath });
  assert.equal(env.code, 0, "PARSL_TS_DB names the database");
  const missing = await cli(["runs", "--db", path.join(tempDir(), "nothing.db")]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /nothing\.db does not exist/);
});
