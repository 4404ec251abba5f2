/** The dispatch policy as a pure function: pool views in, assignments out. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { assignTries, type PoolView } from "../src/executors/htex/dispatchPolicy.js";

const NOW = 1_000_000_000;
function pool(uid: string, capacity: number, inflight = 0, extra: Partial<PoolView> = {}): PoolView {
  return {
    uid,
    hostname: `h-${uid}`,
    blockId: "0",
    workerCount: capacity,
    capacity,
    inflight,
    active: true,
    lastHeartbeat: NOW,
    lastHeard: NOW,
    ...extra,
  };
}
const run = (pending: number, pools: PoolView[], cursor = 0, silentAfter = 60e6) =>
  assignTries({ pending, pools, now: NOW, silentAfter, cursor });

test("shares the queue evenly, each pool up to its free capacity, never more than is pending", () => {
  // Capacity 16 = 8 workers + 8 prefetched: an even share once every idle worker has a try.
  const pools = [
    pool("a", 16, 0, { workerCount: 8 }),
    pool("b", 16, 14, { workerCount: 8 }),
    pool("c", 16, 0, { workerCount: 8 }),
  ];
  const d = run(30, pools);
  assert.deepEqual(d.assignments, [
    { pool: 0, count: 10 },
    { pool: 1, count: 2 },
    { pool: 2, count: 16 },
  ]);
  const total = d.assignments.reduce((n, a) => n + a.count, 0);
  assert.equal(total, 28, "every pool full, two tries left queued");
});

test("a few tries go together to one pool's idle workers, not one frame per pool", () => {
  const pools = [pool("a", 8), pool("b", 8, 6), pool("c", 8)];
  const d = run(10, pools);
  assert.deepEqual(d.assignments, [
    { pool: 0, count: 8 },
    { pool: 1, count: 2 },
  ]);
  const total = d.assignments.reduce((n, a) => n + a.count, 0);
  assert.equal(total, 10);
  // More work than room: every pool filled exactly.
  const full = run(1000, pools);
  assert.deepEqual(
    full.assignments.map((a) => a.count),
    [8, 2, 8],
  );
});

test("held (inactive), full and silent pools get nothing; silence is judged by lastHeard", () => {
  const pools = [
    pool("held", 8, 0, { active: false }),
    pool("full", 4, 4),
    pool("silent", 8, 0, { lastHeartbeat: NOW - 61e6, lastHeard: NOW - 61e6 }),
    pool("stalled", 8, 0, { lastHeartbeat: NOW - 61e6, lastHeard: NOW - 1e6 }),
    pool("ok", 8),
  ];
  const d = run(20, pools);
  // "stalled" was last heard 61 s ago, but 60 s of that was the interchange's own stall: not silent.
  assert.deepEqual(d.assignments, [
    { pool: 3, count: 8 },
    { pool: 4, count: 8 },
  ]);
  assert.deepEqual(run(5, pools.slice(0, 3)).assignments, [], "no pool with room: nothing assigned");
  assert.deepEqual(run(0, pools).assignments, []);
  assert.deepEqual(run(5, []).assignments, []);
});

test("a trickle of tries rotates over the pools instead of always filling the first", () => {
  const pools = [pool("a", 8), pool("b", 8), pool("c", 8)];
  let cursor = 0;
  const got: number[] = [];
  for (let i = 0; i < 6; i++) {
    const d = run(1, pools, cursor);
    assert.equal(d.assignments.length, 1);
    got.push(d.assignments[0]!.pool);
    cursor = d.cursor;
  }
  assert.deepEqual(got, [0, 1, 2, 0, 1, 2]);
});

test("pure: the views are not changed, and the same input gives the same output", () => {
  const pools = [pool("a", 8, 3), pool("b", 2)].map((p) => Object.freeze(p));
  const before = JSON.stringify(pools);
  const d1 = run(7, pools, 1);
  const d2 = run(7, pools, 1);
  assert.deepEqual(d1, d2);
  assert.equal(JSON.stringify(pools), before);
  assert.deepEqual(d1.assignments, [
    { pool: 1, count: 2 },
    { pool: 0, count: 5 },
  ]);
  assert.equal(d1.cursor, 1, "the round ended on pool 0: the next starts at pool 1");
});

test("one pass over 10,000 pools stays cheap (no per-try scans)", () => {
  const pools = Array.from({ length: 10_000 }, (_, i) => pool(String(i), 8));
  const t0 = performance.now();
  let cursor = 0;
  for (let i = 0; i < 200; i++) cursor = run(64, pools, cursor).cursor;
  const perCall = (performance.now() - t0) / 200;
  const d = run(80_000, pools);
  assert.equal(d.assignments.length, 10_000);
  assert.ok(d.assignments.every((a) => a.count === 8));
  assert.ok(perCall < 20, `${perCall.toFixed(2)} ms per decision over 10,000 pools`);
});

/** The policy as first written (one pass collecting every eligible pool), to check the faster one against. */
function reference(pending: number, pools: PoolView[], cursor: number, silentAfter: number) {
  const n = pools.length;
  if (pending <= 0 || n === 0) return { assignments: [], cursor };
  const start = ((cursor % n) + n) % n;
  const eligible: number[] = [];
  for (let k = 0; k < n; k++) {
    const idx = (start + k) % n;
    const p = pools[idx]!;
    if (p.active && p.inflight < p.capacity && NOW - p.lastHeard <= silentAfter) eligible.push(idx);
  }
  const assignments: { pool: number; count: number }[] = [];
  let left = pending,
    remaining = eligible.length,
    cur = cursor;
  for (const idx of eligible) {
    const p = pools[idx]!;
    const idle = Math.max(0, p.workerCount - p.inflight);
    const share = Math.min(p.capacity - p.inflight, Math.max(Math.ceil(left / remaining--), Math.min(idle, left)));
    if (share <= 0) continue;
    assignments.push({ pool: idx, count: share });
    left -= share;
    cur = idx + 1;
    if (left === 0) break;
  }
  return { assignments, cursor: cur };
}

test("the early-stopping policy decides exactly as the one-pass policy did (random pools and queues)", () => {
  let seed = 12345;
  const rnd = (k: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % k;
  };
  for (let round = 0; round < 3000; round++) {
    const pools = Array.from({ length: 1 + rnd(40) }, (_, i) => {
      const workers = 1 + rnd(16);
      const capacity = workers + rnd(3) * rnd(20);
      return pool(String(i), capacity, rnd(capacity + 2), {
        workerCount: workers,
        active: rnd(10) > 0,
        lastHeard: NOW - (rnd(10) === 0 ? 90e6 : 0),
      });
    });
    const pending = rnd(4) === 0 ? rnd(5) : rnd(600);
    const cursor = rnd(60);
    assert.deepEqual(run(pending, pools, cursor), reference(pending, pools, cursor, 60e6), `round ${round}`);
  }
});

test("a trickle stops at the first pool with idle workers for it: the rest of 10,000 pools are not read", () => {
  let reads = 0;
  const pools = Array.from({ length: 10_000 }, (_, i) => {
    const p = pool(String(i), 8, i < 3 ? 8 : 0);
    return new Proxy(p, {
      get(t, k) {
        if (k === "inflight") reads++;
        return t[k as keyof PoolView];
      },
    });
  });
  const d = run(5, pools, 0);
  assert.deepEqual(d.assignments, [{ pool: 3, count: 5 }], "three full pools skipped, the fourth takes all five");
  assert.equal(d.cursor, 4);
  assert.ok(reads <= 10, `${reads} pool views read for 5 tries`);
});
