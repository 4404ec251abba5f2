/**
 * Failure forensics per try (error class, message and stack at the user's own file and line,
 * exit code, this try's stdout/stderr tails), task_args, each try's hostname, and HTEX
 * resource figures counted from each try's start. Real executors, real writer, real SQLite.
 */
import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { InProcessExecutor, ThreadPoolExecutor, tsApp, type AppFuture, type Executor } from "../src/index.js";
import { HighThroughputExecutor } from "../src/executors/htex/executor.js";
import { LocalProvider } from "../src/providers/local.js";
import {
  addArgs,
  arrowThrows,
  burnCpu,
  customError,
  flakyBash,
  hugeMessage,
  loudFailure,
  throwsAtKnownLine,
} from "./fixtures/forensicsApps.js";
import { sourceOrigin } from "../src/apps/sourceOrigin.js";
import { loadMonitored, rows, tempDir } from "./helpers.js";

const FIXTURE_JS = fileURLToPath(new URL("./fixtures/forensicsApps.js", import.meta.url));

/** 1-based line and column of `needle` on the line carrying `marker` in the compiled fixture. */
function fixturePosition(marker: string, needle: string): { line: number; column: number } {
  const lines = fs.readFileSync(FIXTURE_JS, "utf8").split("\n");
  const i = lines.findIndex((l) => l.includes(marker));
  assert.ok(i >= 0, `marker ${marker} in ${FIXTURE_JS}`);
  const column = lines[i]!.indexOf(needle) + 1;
  assert.ok(column > 0, `${needle} on the line of ${marker}`);
  return { line: i + 1, column };
}

async function settle(f: AppFuture<unknown>): Promise<void> {
  await f.then(
    () => undefined,
    () => undefined,
  );
}

interface TryRow {
  task_id: number;
  try_id: number;
  hostname: string | null;
  task_try_error_type: string | null;
  task_try_error: string | null;
  task_try_exit_code: number | null;
  task_try_stdout_tail: string | null;
  task_try_stderr_tail: string | null;
}

const executors: Record<string, () => Executor> = {
  inprocess: () => new InProcessExecutor({ label: "inprocess" }),
  threads: () => new ThreadPoolExecutor({ label: "threads", maxThreads: 1 }),
  htex: () =>
    new HighThroughputExecutor({
      label: "htex",
      maxWorkersPerNode: 1,
      interchangePortRange: [0, 0],
      provider: new LocalProvider({ initBlocks: 1, minBlocks: 0, maxBlocks: 1 }),
    }),
};

for (const [name, make] of Object.entries(executors)) {
  describe(`failure forensics on ${name}`, { timeout: 120_000 }, () => {
    const ids: Record<string, number> = {};
    let dbPath = "";
    let outFile = "";
    let errFile = "";
    before(async () => {
      const dir = tempDir();
      outFile = path.join(dir, "flaky.out");
      errFile = path.join(dir, "flaky.err");
      // Resource monitoring off: every try must record its host all the same.
      const run = await loadMonitored(
        { executors: [make()], retries: 2, runDir: path.join(dir, "runinfo") },
        { resourceMonitoringEnabled: false },
      );
      dbPath = run.dbPath;
      try {
        const typeError = throwsAtKnownLine(1);
        ids.typeError = typeError.taskId;
        const arrow = arrowThrows(2);
        ids.arrow = arrow.taskId;
        const custom = customError();
        ids.custom = custom.taskId;
        const flaky = flakyBash.with({ stdout: outFile, stderr: errFile })();
        ids.flaky = flaky.taskId;
        const ok = addArgs(1, "a");
        ids.ok = ok.taskId;
        const later = addArgs(2, ok);
        ids.later = later.taskId;
        await Promise.all([settle(typeError), settle(arrow), settle(custom), flaky, later]);
      } finally {
        await run.dfk.cleanup();
      }
    });
    const tries = (key: string): TryRow[] =>
      rows<TryRow>(dbPath, "SELECT * FROM try WHERE task_id = ? ORDER BY try_id", ids[key]!);

    test("an app body's error: class name, message, and a stack frame at the user's own file and line", () => {
      const { line } = fixturePosition("MARKER:typeError", "throw");
      const ts = tries("typeError");
      assert.equal(ts.length, 3);
      for (const t of ts) {
        assert.equal(t.task_try_error_type, "TypeError");
        assert.match(t.task_try_error!, /^TypeError: value 1 is too large\n/);
        assert.ok(
          t.task_try_error!.includes(`forensicsApps.js:${line}:`),
          `frame at forensicsApps.js:${line} in:\n${t.task_try_error}`,
        );
        assert.doesNotMatch(t.task_try_error!, /compileBody/);
        assert.equal(t.task_try_exit_code, null);
        assert.equal(t.task_try_stdout_tail, null, "no streams: no tails");
      }
    });

    test("a one-line arrow body's frame has the user's line and column", () => {
      const { line, column } = fixturePosition("MARKER:arrow", "new RangeError");
      const [t] = tries("arrow");
      assert.equal(t!.task_try_error_type, "RangeError");
      assert.ok(
        t!.task_try_error!.includes(`forensicsApps.js:${line}:${column})`),
        `frame at ${line}:${column} in:\n${t!.task_try_error}`,
      );
    });

    test("an error class of the body's own is named by its class", () => {
      assert.deepEqual(
        tries("custom").map((t) => t.task_try_error_type),
        ["LocalFailure", "LocalFailure", "LocalFailure"],
      );
    });

    test("a flaky bash app: exit code, and each try's tails hold only what that try wrote", () => {
      const ts = tries("flaky");
      assert.equal(ts.length, 3);
      for (const i of [0, 1]) {
        const t = ts[i]!;
        assert.equal(t.task_try_error_type, "BashExitFailure");
        assert.equal(t.task_try_exit_code, 3);
        assert.match(t.task_try_error!, /command exited with code 3/);
        assert.equal(t.task_try_stdout_tail, `stdout of try ${i}\n`);
        assert.equal(t.task_try_stderr_tail, `stderr of try ${i}\n`);
      }
      const last = ts[2]!;
      for (const k of [
        "task_try_error_type",
        "task_try_error",
        "task_try_exit_code",
        "task_try_stdout_tail",
        "task_try_stderr_tail",
      ] as const) {
        assert.equal(last[k], null, `a successful try has no ${k}`);
      }
      assert.equal(
        fs.readFileSync(outFile, "utf8"),
        "stdout of try 0\nstdout of try 1\nstdout of try 2\n",
        "retries append to one file",
      );
    });

    test("every try records its host, with resource monitoring off", () => {
      const all = rows<{ hostname: string | null }>(dbPath, "SELECT hostname FROM try");
      assert.ok(all.length >= 10);
      for (const t of all) assert.equal(t.hostname, os.hostname());
    });

    test("task_args: a bounded repr of the positional arguments, futures replaced by their values once known", () => {
      const args = (key: string) =>
        rows<{ task_args: string }>(dbPath, "SELECT task_args FROM task WHERE task_id = ?", ids[key]!)[0]!.task_args;
      assert.equal(args("ok"), "[1, 'a']");
      assert.equal(args("later"), "[2, '1a']");
      assert.equal(args("custom"), "[]");
    });
  });
}

test("tails are the last 4096 bytes of the try's output; error text is bounded at 64 KiB with a marker", async () => {
  const dir = tempDir();
  const out = path.join(dir, "loud.out");
  fs.writeFileSync(out, "before the run\n");
  const run = await loadMonitored({
    executors: [new InProcessExecutor({ label: "here" })],
    runDir: path.join(dir, "runinfo"),
  });
  let loud = -1,
    huge = -1;
  try {
    const a = loudFailure.with({ stdout: out })(10_000);
    loud = a.taskId;
    const b = hugeMessage(40_000);
    huge = b.taskId;
    await Promise.all([settle(a), settle(b)]);
  } finally {
    await run.dfk.cleanup();
  }
  const get = (id: number) => rows<TryRow>(run.dbPath, "SELECT * FROM try WHERE task_id = ?", id)[0]!;
  const tail = get(loud).task_try_stdout_tail!;
  assert.equal(tail.length, 4096);
  assert.equal(tail, fs.readFileSync(out, "utf8").slice(-4096));
  assert.ok(tail.endsWith("xxxEND"));
  const text = get(huge).task_try_error!;
  assert.ok(Buffer.byteLength(text) <= 64 * 1024, `${Buffer.byteLength(text)} bytes`);
  assert.match(text, /^Error: éé/);
  assert.match(text, /\n… \[truncated: \d+ bytes in all\]$/);
  // Parsl's own column keeps its format, bounded too: the message inside the repr is cut.
  const history = (get(huge) as unknown as { task_fail_history: string }).task_fail_history;
  assert.ok(history.length < 5000, `task_fail_history is ${history.length} characters`);
  assert.match(history, /^Error\('éé.*… \[40000 characters in all\]'\)$/s);
});

test(
  "HTEX resource figures count from each try's start: a worker's earlier try never inflates a later one",
  { timeout: 120_000 },
  async () => {
    const htex = new HighThroughputExecutor({
      label: "htex",
      maxWorkersPerNode: 1,
      interchangePortRange: [0, 0],
      provider: new LocalProvider({ initBlocks: 1, minBlocks: 0, maxBlocks: 1 }),
    });
    const run = await loadMonitored({ executors: [htex] }, { resourceMonitoringInterval: 0.1 });
    const burn = 400; // CPU milliseconds per try
    let first = -1,
      second = -1;
    try {
      // Both at once: one batch for the single worker, back to back.
      const a = burnCpu(burn);
      first = a.taskId;
      const b = burnCpu(burn);
      second = b.taskId;
      await Promise.all([a, b]);
    } finally {
      await run.dfk.cleanup();
    }
    const samples = (id: number) =>
      rows<{ user: number; n: number; pid: number }>(
        run.dbPath,
        "SELECT MAX(psutil_process_time_user) AS user, COUNT(*) AS n, MAX(psutil_process_pid) AS pid FROM resource WHERE task_id = ?",
        id,
      )[0]!;
    const a = samples(first),
      b = samples(second);
    assert.equal(a.pid, b.pid, "one worker ran both tries");
    assert.ok(a.n >= 1 && b.n >= 1);
    for (const [which, s] of [
      ["first", a],
      ["second", b],
    ] as const) {
      assert.ok(
        s.user >= 0.35 && s.user < 0.4 + 0.25,
        `${which} try's user time ${s.user} s is its own ${burn / 1000} s (not the worker's total)`,
      );
    }
    // Every sample of a try lies within that try's own figures (none counts from the worker's start).
    const over = rows(run.dbPath, "SELECT * FROM resource WHERE psutil_process_time_user > 0.65");
    assert.deepEqual(over, []);
  },
);

test("sourceOrigin: the function's text in the calling file; else a literal at the call; never a guess for a function passed by name", () => {
  const dir = tempDir();
  const js = path.join(dir, "flow.js");
  fs.writeFileSync(
    js,
    "const q = 1;\nexport const a = tsApp(function a(x) {\n  return x;\n});\nconst b = tsApp(function a(x) {\n  return x;\n});\n",
  );
  const body = "function a(x) {\n  return x;\n}";
  // Two identical bodies: the one nearest the calling line wins; a file: URL names the file as ESM frames do.
  assert.deepEqual(sourceOrigin(body, [{ file: `file://${js}`, line: 2, column: 18 }]), {
    file: `file://${js}`,
    line: 2,
    column: 24,
  });
  assert.deepEqual(sourceOrigin(body, [{ file: js, line: 5, column: 11 }]), { file: js, line: 5, column: 17 });
  // TypeScript run through a loader: the emitted text is not in the .ts file, the literal at the call is used.
  const ts = path.join(dir, "flow.ts");
  fs.writeFileSync(
    ts,
    "export const a = tsApp(function a(x: number) {\n  return x;\n});\nexport const b = tsApp(imported);\n",
  );
  assert.deepEqual(sourceOrigin(body, [{ file: ts, line: 1, column: 18 }]), { file: ts, line: 1, column: 24 });
  assert.equal(sourceOrigin("function imported() {}", [{ file: ts, line: 4, column: 18 }]), null);
  assert.equal(sourceOrigin(body, [{ file: path.join(dir, "missing.js"), line: 1, column: 1 }]), null);
});

test("a worker thread that exits mid-try: WorkerLost with the thread's exit code", { timeout: 60_000 }, async () => {
  const exits = tsApp(function exitsItsThread(): number {
    process.exit(7);
  });
  const run = await loadMonitored({ executors: [new ThreadPoolExecutor({ label: "threads", maxThreads: 1 })] });
  let id = -1;
  try {
    const f = exits();
    id = f.taskId;
    await settle(f);
  } finally {
    await run.dfk.cleanup();
  }
  const [t] = rows<TryRow>(run.dbPath, "SELECT * FROM try WHERE task_id = ?", id);
  assert.equal(t!.task_try_error_type, "WorkerLost");
  assert.equal(t!.task_try_exit_code, 7);
  assert.equal(t!.hostname, os.hostname());
});
