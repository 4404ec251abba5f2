/**
 * `parsl-ts watch` and Config.progress on real running workflows (test/fixtures/gatedWorkflow.ts:
 * tasks wait for a file the test creates), on SQLite and PostgreSQL; plain lines when the output
 * is not a terminal, the redrawn view in a pseudo-terminal (`script`), Ctrl-C, exit statuses.
 * Plus the rendering module's rules.
 */
/* eslint-disable no-control-regex -- the assertions match the terminal escape codes the view writes */
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { DIALECTS, testDatabase, type TestDatabase } from "./databases.js";
import { tempDir, waitFor } from "./helpers.js";
import { CLI, GATED, plain, start, stopAll } from "./liveHelpers.js";

// A failed test leaves no process behind: its gated tasks are let go, its processes ended.
const goFiles: string[] = [];
afterEach(() => {
  for (const f of goFiles.splice(0)) fs.writeFileSync(f, "");
  stopAll();
});
import { bar, bucketOf, RateMeter, renderBlock, renderLine, type ProgressSnapshot } from "../src/progress/render.js";
import { RUN1, copyFixture } from "./visualizer-helpers.js";

async function runStarted(db: TestDatabase, tasks: number): Promise<void> {
  await waitFor(
    async () => {
      try {
        return (
          (await db.count("SELECT COUNT(*) FROM task")) >= tasks &&
          (await db.count("SELECT COUNT(*) FROM workflow")) === 1
        );
      } catch {
        return false; // not created yet
      }
    },
    { timeoutMs: 60_000, what: `${tasks} tasks in ${db.endpoint}` },
  );
}

function gated(
  dir: string,
  endpoint: string,
  opts: { tasks: number; fail: boolean; progress?: boolean; tty?: boolean },
) {
  const go = path.join(dir, "go");
  goFiles.push(go);
  const proc = start(
    GATED,
    [path.join(dir, "runinfo"), endpoint, go, String(opts.tasks), opts.fail ? "1" : "0", opts.progress ? "1" : "0"],
    { cwd: dir, tty: opts.tty ?? false },
  );
  return { proc, go: () => fs.writeFileSync(go, "") };
}

for (const dialect of DIALECTS) {
  test(`watch follows a running workflow, one plain line per change, and exits 1 when the run failed (${dialect})`, async () => {
    const dir = tempDir();
    const db = await testDatabase(dialect);
    const wf = gated(dir, db.endpoint, { tasks: 6, fail: true });
    await runStarted(db, 8);
    const watch = start(CLI, ["watch", "--db", db.endpoint], { cwd: dir });
    // While the tasks wait: running, nothing done yet (6 gated + broken + after_broken).
    await watch.waitFor(/^run [0-9a-f]{8} \(gated\) running \d+\S*: 0\/8 done, 0 failed, /m);
    wf.go();
    const code = await watch.exited;
    assert.equal(code, 1, watch.err());
    const lines = watch.out().trimEnd().split("\n");
    assert.ok(lines.length >= 2, watch.out());
    assert.match(
      lines[lines.length - 1]!,
      /^run [0-9a-f]{8} \(gated\) failed \d+\S*: 6\/8 done, 2 failed, 0 running, 0 launched, 0 pending$/,
    );
    // One line per change of counts or status (not of the clock or the rate): never the same twice in a row.
    const key = (l: string): string => l.replace(/^(run \S+ \(gated\) \S+) .*?: /, "$1: ").replace(/ · .*$/, "");
    for (let i = 1; i < lines.length; i++) assert.notEqual(key(lines[i]!), key(lines[i - 1]!), watch.out());
    assert.equal(await wf.proc.exited, 0, wf.proc.err());
  });
}

test("watch in a terminal: bars redrawn in place, Ctrl-C restores the cursor (130), a completed run exits 0", async () => {
  const dir = tempDir();
  const db = await testDatabase("sqlite");
  const wf = gated(dir, db.endpoint, { tasks: 4, fail: false });
  await runStarted(db, 4);
  const a = start(CLI, ["watch", "--db", db.endpoint], { cwd: dir, tty: true });
  const b = start(CLI, ["watch", "--db", db.endpoint], { cwd: dir, tty: true });
  await a.waitFor(/gated .*0\/4/);
  await b.waitFor(/gated .*0\/4/);
  assert.match(a.out(), /\x1b\[\?25l/, "cursor hidden");
  // Ctrl-C typed into the terminal: the line discipline sends SIGINT to watch.
  a.child.stdin!.write("\x03");
  assert.equal(await a.exited, 130);
  assert.match(a.out(), /\x1b\[\?25h\s*$/, "cursor shown again as the last thing written");
  wf.go();
  assert.equal(await b.exited, 0, b.out());
  const screen = plain(b.out());
  assert.match(screen, /run [0-9a-f]{8} \(gated\)\s+completed/);
  assert.match(screen, /gated\s+█+ 4\/4/);
  assert.match(b.out(), /\x1b\[\d+F/, "redrawn in place (cursor moved up)");
  assert.match(b.out(), /\x1b\[\?25h\s*$/);
  assert.equal(await wf.proc.exited, 0);
});

test("watch on the Python Parsl fixture: counts as the fixture's README gives them; usage and run errors", async () => {
  const dir = tempDir();
  const db = copyFixture(dir);
  const r = start(CLI, ["watch", RUN1.slice(0, 6), "--db", db], { cwd: dir });
  assert.equal(await r.exited, 1); // run 1 finished with failed tasks
  // 154 exec_done + 2 memo_done; 12 failed + 5 dep_fail.
  assert.equal(
    r.out(),
    "run 1184f076 (fixture-mixed) failed 16s: 156/173 done, 17 failed, 0 running, 0 launched, 0 pending\n",
  );
  const bad = start(CLI, ["watch", "--interval", "5", "--db", db], { cwd: dir });
  assert.equal(await bad.exited, 2);
  assert.match(bad.err(), /--interval must be a number of seconds from 0.1 to 1, got "5"/);
  const none = start(CLI, ["watch", "nosuchrun", "--db", db], { cwd: dir });
  assert.equal(await none.exited, 1);
  assert.match(none.err(), /no run has an id starting with "nosuchrun"/);
  const missing = start(CLI, ["watch", "--db", path.join(dir, "nope.db")], { cwd: dir });
  assert.equal(await missing.exited, 1);
  assert.match(missing.err(), /nope\.db does not exist/);
});

test("Config.progress without a terminal: the final line on stderr, before the run's summary line", async () => {
  const dir = tempDir();
  const db = path.join(dir, "runinfo", "monitoring.db");
  const wf = gated(dir, db, { tasks: 5, fail: true, progress: true });
  wf.go();
  assert.equal(await wf.proc.exited, 0, wf.proc.err());
  const err = wf.proc.err().trimEnd().split("\n");
  assert.match(
    err[err.length - 2]!,
    /^run [0-9a-f]{8} failed \d+\S*: 5\/7 done, 2 failed, 0 running, 0 launched, 0 pending$/,
  );
  assert.match(err[err.length - 1]!, /^parsl-ts: run [0-9a-f-]{36} failed in /);
});

test("Config.progress on a terminal: live bars per app, the latest failure, the cursor restored before the summary", async () => {
  const dir = tempDir();
  const db = path.join(dir, "runinfo", "monitoring.db");
  const wf = gated(dir, db, { tasks: 5, fail: true, progress: true, tty: true });
  // The live view appears while the tasks wait, then the test lets them run.
  await wf.proc.waitFor(/gated.*0\/5/);
  assert.match(plain(wf.proc.out()), /run [0-9a-f]{8}\s+running/);
  wf.go();
  assert.equal(await wf.proc.exited, 0);
  const out = wf.proc.out();
  const screen = plain(out);
  assert.match(screen, /broken\s+x+ 0\/1 1 failed/);
  assert.match(screen, /after_broken\s+x+ 0\/1 1 failed/);
  assert.match(screen, /latest failures:\n {2}task 5 \(broken\): BashExitFailure/);
  assert.ok(out.indexOf("\x1b[?25h") < out.indexOf("parsl-ts: run "), "cursor shown before the summary line");
});

test("rendering: buckets, bars that add up, the plain line, the rate", () => {
  assert.deepEqual(
    [
      "pending",
      "fail_retryable",
      "launched",
      "running",
      "running_ended",
      "joining",
      "exec_done",
      "memo_done",
      "failed",
      "dep_fail",
      null,
    ].map(bucketOf),
    ["pending", "pending", "launched", "running", "running", "running", "done", "done", "failed", "failed", "pending"],
  );
  const counts = { pending: 1, launched: 0, running: 3, done: 996, failed: 0 };
  const b = bar(counts, 20, false);
  assert.equal([...b].length, 20);
  assert.match(b, /^█+▓░$/, "small non-zero buckets still get a cell");
  assert.equal(bar({ pending: 0, launched: 0, running: 0, done: 0, failed: 0 }, 5, false), "     ");
  const snap: ProgressSnapshot = {
    title: "run abc",
    status: "running",
    elapsed_s: 75,
    rate: 2,
    apps: [{ name: "a", pending: 4, launched: 1, running: 1, done: 3, failed: 1 }],
    failures: [{ task_id: 9, app: "a", error: "boom\nline 2" }],
  };
  assert.equal(
    renderLine(snap),
    "run abc running 1m 15s: 3/10 done, 1 failed, 1 running, 1 launched, 4 pending · 2.0 tasks/s · ETA 3s",
  );
  const block = renderBlock(snap, { width: 80, color: false });
  assert.equal(block[0], "run abc  running  1m 15s  2.0 tasks/s  ETA 3s");
  assert.match(block[1]!, /^a x?/);
  assert.equal(block[block.length - 1], "  task 9 (a): boom line 2");
  const m = new RateMeter(10_000);
  assert.equal(m.rate(), null);
  m.add(0, 0);
  m.add(1000, 10);
  m.add(2000, 30);
  assert.equal(m.rate(), 15);
  m.add(20_000, 30); // a long stall: the window forgets the old progress
  assert.ok((m.rate() ?? 0) < 2, String(m.rate()));
});
