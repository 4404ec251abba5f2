/** Which of the user's Node options our child processes and worker threads inherit. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { inheritableExecArgv } from "../src/childArgv.js";

test("options that are the user's program (eval, print, test runner, watch, inspector) are not passed on; settings are", () => {
  const cases: [string[], string[]][] = [
    [["--input-type=module", "-e", "import x from 'y'"], []],
    [["--eval", "1+1", "--max-old-space-size=4096"], ["--max-old-space-size=4096"]],
    [["--eval=1+1", "--enable-source-maps"], ["--enable-source-maps"]],
    [["-p", "process.pid"], []],
    [["--print", "1", "--cpu-prof"], ["--cpu-prof"]],
    [["-pe", "1"], []],
    [["--test", "--test-concurrency", "1", "--test-reporter=spec"], []],
    [
      ["--watch", "--watch-path", "src", "--import", "tsx"],
      ["--import", "tsx"],
    ],
    [["--inspect-brk=9229", "--expose-gc"], ["--expose-gc"]],
    [["-i"], []],
    [
      ["--require", "./setup.cjs", "--stack-size=2000"],
      ["--require", "./setup.cjs", "--stack-size=2000"],
    ],
    [[], []],
  ];
  for (const [argv, expected] of cases) assert.deepEqual(inheritableExecArgv(argv), expected, argv.join(" "));
});
