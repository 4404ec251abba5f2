/**
 * `parsl-ts` is one CommonJS bundle behind a small executable (scripts/bundleCli.ts). What that
 * must keep: the commands outside the bundle (export, db, report, …) load from their compiled
 * modules; errors end the process with the same statuses whichever copy of their class threw them
 * (2 usage, 1 failure); a PostgreSQL command does not load SQLite's native addon; and what makes
 * the start short stays (pg's crypto on first use, one ASCII file).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import test from "node:test";
import vm from "node:vm";
import { fileURLToPath } from "node:url";
import { asciiOnly } from "../scripts/bundleCli.js";
import { tempDir } from "./helpers.js";
import { copyFixture } from "./visualizer-helpers.js";

const CLI_DIR = fileURLToPath(new URL("../src/cli/", import.meta.url));
const CLI = path.join(CLI_DIR, "parsl-ts.cjs");
const BUNDLE = path.join(CLI_DIR, "cli.cjs");

/** Runs `parsl-ts`, with a CommonJS hook that logs each package the process requires. */
function cli(args: string[]): Promise<{ code: number | null; err: string; required: string[] }> {
  const dir = tempDir("parsl-ts-bundle-");
  const hook = path.join(dir, "requires.cjs");
  const log = path.join(dir, "required.txt");
  fs.writeFileSync(
    hook,
    `const Module = require("node:module");
const load = Module._load;
Module._load = function (request, ...rest) {
  if (!request.startsWith(".") && !request.startsWith("/") && !request.startsWith("node:"))
    require("node:fs").appendFileSync(${JSON.stringify(log)}, request + "\\n");
  return load.call(this, request, ...rest);
};`,
  );
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--require", hook, CLI, ...args], {
      env: { ...process.env, PARSL_TS_DB: "" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      err += d;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const required = fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").filter(Boolean) : [];
      resolve({ code, err, required });
    });
  });
}

test("the executable runs one CommonJS bundle with the read commands and node-postgres; the other commands stay modules", () => {
  const executable = fs.readFileSync(CLI, "utf8");
  assert.match(executable, /^#!\/usr\/bin\/env node\n/);
  assert.match(executable, /enableCompileCache\?\.\(\);\nrequire\("\.\/cli\.cjs"\);/);
  assert.ok((fs.statSync(CLI).mode & 0o111) !== 0, "the executable is not executable");

  const text = fs.readFileSync(BUNDLE, "utf8");
  assert.doesNotMatch(text, /^import /m, "an ES module import in the CommonJS bundle");
  const outside = [...text.matchAll(/\bimport\("([^"]+)"\)/g)].map((m) => m[1]).sort();
  assert.deepEqual(outside, [
    "../executors/htex/workerPoolCommand.js",
    "../visualizer/index.js",
    "./db.js",
    "./export.js",
    "./perf.js",
    "./report.js",
  ]);
  for (const cmd of ["runsCommand", "tasksCommand", "statsCommand", "analyzeCommand", "watchCommand"])
    assert.match(text, new RegExp(`async function ${cmd}\\b`), `${cmd} is not in the bundle`);
  // node-postgres is inside; better-sqlite3 only as a require() that runs when SQLite is opened.
  assert.match(text, /node_modules\/pg\/lib\/client\.js/);
  assert.match(text, /module\d*\.exports = require\("better-sqlite3"\);/);
  // What keeps a command's start short: pg's crypto helpers replaced by ours (loaded on first
  // use), and one-byte text for Node to decode.
  assert.match(text, /src\/database\/postgres\/pgLazyCrypto\.ts/);
  assert.doesNotMatch(text, /node_modules\/pg\/lib\/crypto\/utils\.js/);
  assert.doesNotMatch(text, /[\u0080-\uffff]/, "the bundle has a character outside ASCII");
});

test("asciiOnly keeps what code means: escapes in literals, plain text in comments", () => {
  const code = 'return ["a → b", `ε ${"≤"}`, /[é]/.test("é")]; /* → */ // ≥';
  const ascii = asciiOnly(code);
  assert.doesNotMatch(ascii, /[\u0080-\uffff]/);
  assert.deepEqual(vm.runInThisContext(`(() => { ${ascii}\n})()`), ["a → b", "ε ≤", true]);
});

test("inside and outside the bundle: exit 2 for a bad endpoint, option or filter, exit 1 for a refused connection; better-sqlite3 only for SQLite", async () => {
  const refused = await cli(["tasks", "--db", "postgresql://me:secret@127.0.0.1:1/parsl"]);
  assert.equal(refused.code, 1, refused.err);
  assert.match(
    refused.err,
    /^parsl-ts tasks: cannot connect to PostgreSQL at postgresql:\/\/me:\*\*\*@127\.0\.0\.1:1\/parsl/,
  );
  assert.ok(!refused.required.includes("better-sqlite3"), `a PostgreSQL command loaded ${refused.required.join(", ")}`);

  const scheme = await cli(["runs", "--db", "mysql://host/db"]);
  assert.equal(scheme.code, 2, scheme.err);
  assert.match(
    scheme.err,
    /^parsl-ts runs: monitoring database endpoint "mysql:\/\/host\/db" has an unsupported scheme 'mysql'/,
  );

  const db = copyFixture(tempDir());
  const filter = await cli(["tasks", "--db", db, "-F", "state = (("]);
  assert.equal(filter.code, 2, filter.err);
  assert.match(filter.err, /^parsl-ts tasks: --filter: expected a value, found "\("/);
  assert.ok(filter.required.includes("better-sqlite3"), "the SQLite command did not load better-sqlite3");

  const stats = await cli(["stats", "--db", db]);
  assert.equal(stats.code, 0, stats.err);

  // Commands outside the bundle throw the compiled modules' classes: the same statuses.
  const option = await cli(["export", "--bogus"]);
  assert.equal(option.code, 2, option.err);
  assert.match(option.err, /^parsl-ts export: unknown option --bogus/);
  const exportRefused = await cli([
    "export",
    "--db",
    "postgresql://me:secret@127.0.0.1:1/parsl",
    "--format",
    "csv",
    "-o",
    path.join(tempDir(), "out"),
  ]);
  assert.equal(exportRefused.code, 1, exportRefused.err);
  assert.match(
    exportRefused.err,
    /^parsl-ts export: cannot connect to PostgreSQL at postgresql:\/\/me:\*\*\*@127\.0\.0\.1:1\/parsl/,
  );
  const dbScheme = await cli(["db", "check", "mysql://host/db"]);
  assert.equal(dbScheme.code, 2, dbScheme.err);
  assert.match(
    dbScheme.err,
    /^parsl-ts db: monitoring database endpoint "mysql:\/\/host\/db" has an unsupported scheme/,
  );
});
