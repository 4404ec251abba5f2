/**
 * Nothing internal on the public surface (issue 12): the kernel's own ways to settle a future,
 * listen to it synchronously, or start a kernel are not methods users can call, and the package
 * exports none of them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import * as api from "../src/index.js";
import { AppFuture, Config, DataFuture, File, InProcessExecutor, load, tsApp } from "../src/index.js";
import { tempDir } from "./helpers.js";

const INTERNAL = [
  "setResult",
  "setException",
  "onDone",
  "start",
  "logLine",
  "startKernel",
  "resolveFuture",
  "rejectFuture",
  "whenDone",
];

function members(o: object): string[] {
  const names = new Set<string>();
  for (let p: object | null = o; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const k of Reflect.ownKeys(p)) if (typeof k === "string") names.add(k);
  }
  return [...names];
}

test("futures carry no way to settle them or to listen synchronously", async () => {
  const f = new AppFuture<number>(1, "p");
  const d = new DataFuture(f, new File("out.txt"));
  for (const o of [f, d]) {
    const leaked = members(o).filter((k) => INTERNAL.includes(k));
    assert.deepEqual(leaked, [], `${o.constructor.name} exposes ${leaked.join(", ")}`);
  }
  assert.equal(f.done(), false);
});

test("a loaded kernel has no start() or logLine(), and the package exports none of the kernel's friends", async () => {
  const dfk = await load(
    new Config({ executors: [new InProcessExecutor()], runDir: path.join(tempDir(), "runinfo"), summary: false }),
  );
  try {
    assert.deepEqual(
      members(dfk).filter((k) => INTERNAL.includes(k)),
      [],
    );
    const ok = tsApp(function surfaceOk() {
      return 7;
    });
    assert.equal(await ok(), 7, "the kernel still runs tasks and settles their futures");
  } finally {
    await dfk.cleanup();
  }
  assert.deepEqual(
    Object.keys(api).filter((k) => INTERNAL.includes(k)),
    [],
  );
});

test("the production code reads no test hook from the environment", async () => {
  const { readdirSync, readFileSync } = await import("node:fs");
  const root = new URL("../../src/", import.meta.url);
  const hooks: string[] = [];
  const walk = (dir: URL): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(new URL(`${e.name}/`, dir));
      else if (e.name.endsWith(".ts")) {
        for (const m of readFileSync(new URL(e.name, dir), "utf8").matchAll(
          /process\.env\.(PARSL_TS_[A-Z0-9_]*TEST[A-Z0-9_]*|PARSL_TS_[A-Z0-9_]*SKEW[A-Z0-9_]*)/g,
        ))
          hooks.push(`${e.name}: ${m[1]}`);
      }
    }
  };
  walk(root);
  assert.deepEqual(hooks, []);
});
