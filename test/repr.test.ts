/**
 * reprValue writes task_args / task_inputs / task_outputs for every task, on the kernel's hot
 * path: Parsl-style text, cut at 2,000 characters, and work bounded by that cut whatever the
 * size of the value.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { reprValue } from "../src/dataflow/repr.js";

test("reprValue: Parsl's str() style for plain values", () => {
  assert.equal(reprValue([1, "a", null, true, false, undefined]), "[1, 'a', None, True, False, None]");
  assert.equal(reprValue({ k: "it's", n: [2.5] }), "{'k': 'it\\'s', 'n': [2.5]}");
  assert.equal(reprValue("back\\slash"), "'back\\\\slash'");
  assert.equal(reprValue([]), "[]");
  assert.equal(reprValue(new Map()), "<Map>");
  assert.equal(reprValue([[[[[[1]]]]]]), "[[[[[…]]]]]");
});

test("reprValue: long values are cut at 2,000 characters with a marker, and what is kept is their start", () => {
  const long = Array.from({ length: 5000 }, (_, i) => i);
  const full = `[${long.join(", ")}]`;
  assert.equal(reprValue(long), `${full.slice(0, 2000)}…`);
  const s = "x'".repeat(3000);
  const r = reprValue([s]);
  assert.equal(r.length, 2001);
  assert.ok(r.startsWith("['x\\'x\\'"));
  assert.ok(r.endsWith("…"));
  assert.ok(reprValue(s).endsWith("…") && reprValue(s).length <= 2 + 2 * 2000);
});

test("reprValue: huge values give the same bounded text (formatting stops at the cut; its cost is measured in npm run bench, htex 100 KB)", () => {
  const huge = new Array(10_000_000).fill(7);
  assert.equal(reprValue([huge]), `[[${"7, ".repeat(700).slice(0, 1998)}…`);
  const big = "y".repeat(50_000_000);
  assert.equal(reprValue([big]), `['${"y".repeat(1998)}…`);
});
