/** Our worker threads start however the user started `node` (src/workerThread.ts). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { hasInputType } from "../src/workerThread.js";
import { tempDir } from "./helpers.js";

const MODULE = fileURLToPath(new URL("../src/workerThread.js", import.meta.url));

test("--input-type is recognised in both spellings and nothing else", () => {
  assert.equal(hasInputType(["--input-type=module", "-e", "1"]), true);
  assert.equal(hasInputType(["--input-type", "commonjs", "-e", "1"]), true);
  assert.equal(hasInputType(["--test", "--stack-trace-limit=10", "--import", "tsx"]), false);
  assert.equal(hasInputType([]), false);
});

test("a worker thread starts and answers under a script file, -e code (ESM and CommonJS), stdin, node --test and V8 options", () => {
  const dir = tempDir();
  const thread = path.join(dir, "thread.mjs");
  fs.writeFileSync(
    thread,
    `import { parentPort, workerData } from "node:worker_threads";\nparentPort.postMessage("hello " + workerData);\n`,
  );
  const esm = `import { startWorkerThread } from ${JSON.stringify(MODULE)};
const w = startWorkerThread(new URL(${JSON.stringify(`file://${thread}`)}), { workerData: "thread" });
w.on("message", (m) => { console.log(m); w.terminate(); });
w.on("error", (e) => { console.log("error: " + e.message); process.exitCode = 1; });
`;
  const cjs = `import(${JSON.stringify(MODULE)}).then(({ startWorkerThread }) => {
  const w = startWorkerThread(new URL(${JSON.stringify(`file://${thread}`)}), { workerData: "thread" });
  w.on("message", (m) => { console.log(m); w.terminate(); });
  w.on("error", (e) => { console.log("error: " + e.message); process.exitCode = 1; });
});`;
  const script = path.join(dir, "main.mjs");
  fs.writeFileSync(script, esm);
  const testFile = path.join(dir, "main.test.mjs");
  fs.writeFileSync(
    testFile,
    `import { test } from "node:test";\ntest("starts a thread", () => import(${JSON.stringify(script)}));\n`,
  );
  // Our own runner's NODE_TEST_CONTEXT would make an inner `node --test` report to us instead.
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const cases: [string, string[], string?][] = [
    ["script file", [script]],
    ["-e, ESM", ["--input-type=module", "-e", esm]],
    ["-e, CommonJS", ["-e", cjs]],
    ["-e, explicit CommonJS", ["--input-type", "commonjs", "-e", cjs]],
    ["stdin, ESM", ["--input-type=module"], esm],
    [
      "V8 and per-process options with -e",
      ["--stack-size=2000", "--max-old-space-size=512", "--input-type=module", "-e", esm],
    ],
    ["node --test", ["--test", "--test-reporter=tap", testFile]],
  ];
  for (const [name, argv, stdin] of cases) {
    const r = spawnSync(process.execPath, argv, {
      encoding: "utf8",
      input: stdin ?? "",
      env,
      cwd: dir,
      timeout: 30_000,
    });
    assert.equal(r.status, 0, `${name}: exit ${r.status} ${r.signal ?? ""}\n${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /^(# )?hello thread$/m, `${name}: ${r.stdout}${r.stderr}`);
  }
});
