/**
 * Types are part of the API. This file is type-checked by `npm test` (tsc): every
 * `@ts-expect-error` line must be a type error, and the typed lines must compile.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import {
  Config,
  InProcessExecutor,
  bashApp,
  joinApp,
  load,
  tsApp,
  type AppFuture,
  type TaskContext,
} from "../src/index.js";
import { tempDir } from "./helpers.js";

const double = tsApp(function double(x: number) {
  return x * 2;
});
const greet = tsApp(async function greet(name: string) {
  return `hello ${name}`;
});
const sum = tsApp(function sum(this: TaskContext<number[]>) {
  return this.inputs.reduce((a, b) => a + b, 0);
});
const both = joinApp(function both(x: number) {
  return [double(x), double(x + 1)];
});
const one = joinApp(function one(x: number) {
  return double(x);
});
const echo = bashApp(function echo(word: string) {
  return `echo ${word}`;
});

function typeChecks(): void {
  const a: AppFuture<number> = double(1);
  const b: AppFuture<number> = double(double(2)); // a future of the parameter's type is accepted
  const c: AppFuture<string> = greet("x"); // async bodies: the future holds the awaited value
  const d: AppFuture<number> = sum.with({ inputs: [1, double(2)] })();
  const e: AppFuture<number[]> = both(1);
  const f: AppFuture<number> = one(1);
  const g: AppFuture<number> = echo("hi"); // bash apps resolve to the exit code
  // @ts-expect-error a string is not a number
  double("x");
  // @ts-expect-error a future of a string is not a number
  double(greet("x"));
  // @ts-expect-error too many arguments
  double(1, 2);
  // @ts-expect-error inputs are typed by the body's TaskContext
  sum.with({ inputs: ["a"] });
  // @ts-expect-error the result type is number, not string
  const h: AppFuture<string> = double(1);
  void [a, b, c, d, e, f, g, h];
}

test("typed apps run and resolve to typed values", async () => {
  assert.equal(typeof typeChecks, "function");
  const dfk = await load(
    new Config({
      executors: [new InProcessExecutor({ label: "local" })],
      runDir: path.join(tempDir(), "runinfo"),
      handleSignals: false,
    }),
  );
  try {
    const n: number = await double(double(2));
    const s: string = await greet("ts");
    const xs: number[] = await both(1);
    assert.equal(n, 8);
    assert.equal(s, "hello ts");
    assert.deepEqual(xs, [2, 4]);
    assert.equal(await sum.with({ inputs: [1, double(2)] })(), 5);
  } finally {
    await dfk.cleanup();
  }
});
