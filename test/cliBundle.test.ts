/**
 * The read commands ship as one bundled file (scripts/bundleCli.ts). What that must not change:
 * the error classes `parsl-ts` maps to exit statuses are the same classes inside the bundle (so
 * a bad endpoint is still exit 2 and a refused connection exit 1), and a PostgreSQL command does
 * not load SQLite's native addon, which the bundle requires only when a SQLite file is opened.
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
const CLI = path.join(CLI_DIR, "main.js");
const BUNDLE = path.join(CLI_DIR, "readCommands.js");

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

test("the build bundles the read commands, importing the shared error modules instead of copying them", () => {
  const text = fs.readFileSync(BUNDLE, "utf8");
  const relative = new Set([...text.matchAll(/^import [^;]*? from "(\.[^"]+)";$/gm)].map((m) => m[1]));
  assert.deepEqual([...relative].sort(), ["../database/endpoint.js", "../database/errors.js", "./args.js"]);
  for (const cls of ["UsageError", "CommandError", "EndpointError", "ConnectionError"])
    assert.doesNotMatch(text, new RegExp(`class ${cls}\\b`), `the bundle carries its own ${cls}`);
  // node-postgres is inside; better-sqlite3 only as a require() that runs when SQLite is opened.
  assert.match(text, /node_modules\/pg\/lib\/client\.js/);
  assert.doesNotMatch(text, /^import [^;]*from "better-sqlite3"/m);
  // What keeps a command's start short: pg's crypto helpers replaced by ours (loaded on first
  // use), Node's modules through require() (an ESM import of node:fs loads fs/promises and
  // readline), and one-byte text for Node to decode.
  assert.match(text, /src\/database\/postgres\/pgLazyCrypto\.ts/);
  assert.doesNotMatch(text, /node_modules\/pg\/lib\/crypto\/utils\.js/);
  const esmBuiltins = [...text.matchAll(/^import [^;]*? from "(node:[^"]+)";$/gm)].map((m) => m[1]);
  assert.deepEqual(esmBuiltins, ["node:module"]);
  assert.doesNotMatch(text, /[\u0080-\uffff]/, "the bundle has a character outside ASCII");
});

test("asciiOnly keeps what code means: escapes in literals, plain text in comments", () => {
  const code = 'return ["a → b", `ε ${"≤"}`, /[é]/.test("é")]; /* → */ // ≥';
  const ascii = asciiOnly(code);
  assert.doesNotMatch(ascii, /[\u0080-\uffff]/);
  assert.deepEqual(vm.runInThisContext(`(() => { ${ascii}\n})()`), ["a → b", "ε ≤", true]);
});

test("across the bundle's edge: exit 2 for a bad endpoint or filter, exit 1 for a refused connection; better-sqlite3 only for SQLite", async () => {
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
});
