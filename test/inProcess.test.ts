/** The in-process executor: every try it accepts finishes, whatever throws along the way. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { InProcessExecutor } from "../src/executors/inProcess.js";
import { appOf, tryHandle } from "./htexHarness.js";

test(
  "a try whose setup throws (an output named '') finishes with that error, not an unhandled rejection",
  { timeout: 10_000 },
  async () => {
    const ex = new InProcessExecutor();
    const bad = tryHandle(
      appOf(function neverRuns() {
        return 1;
      }),
      [],
      { outputs: [""] },
    );
    const good = tryHandle(
      appOf(function runs() {
        return 2;
      }),
      [],
    );
    ex.submit(bad);
    ex.submit(good);
    const r = await bad.result;
    assert.ok(!r.ok && r.error instanceof TypeError, !r.ok ? String(r.error) : "ok");
    assert.match(r.error.message, /File needs a non-empty path/);
    const g = await good.result;
    assert.ok(g.ok && g.value === 2, g.ok ? String(g.value) : String(g.error));
    assert.equal(bad.finishCount, 1);
    await ex.shutdown();
  },
);
