/**
 * The Node options a child process of ours (`child_process.fork`) may inherit.
 *
 * `process.execArgv` holds the options the user's `node` was started with, and child_process.fork
 * passes them on by default. Some of them are the user's program rather than settings:
 * `node -e "<script>"` would make every forked helper run the user's script again (which starts
 * another helper, and so on), `--test` / `--watch` would make it a test runner or a watcher,
 * `--inspect` would fight over the debugger port. Those are left out; profiling, memory and
 * loader options are kept.
 *
 * Worker threads get no `execArgv` from us at all: see workerThread.ts.
 */
const WITH_VALUE = new Set([
  "-e",
  "--eval",
  "-p",
  "--print",
  "--input-type",
  "--watch-path",
  "--test-name-pattern",
  "--test-reporter",
  "--test-reporter-destination",
  "--test-shard",
  "--test-concurrency",
  "--test-timeout",
  "--test-skip-pattern",
]);
const DROPPED = [/^-(e|p|i|c|pe|ep)$/, /^--(eval|print|interactive|check|input-type|test|watch|inspect|debug)(-|=|$)/];

export function inheritableExecArgv(argv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!DROPPED.some((re) => re.test(a))) {
      out.push(a);
      continue;
    }
    // `-e code`, `--eval code`: the next item is this option's value, not an option of its own.
    if (!a.includes("=") && (WITH_VALUE.has(a) || a === "-pe" || a === "-ep") && i + 1 < argv.length) i++;
  }
  return out;
}
