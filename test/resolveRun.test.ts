/** Which run a command means (RUN id, unique prefix, `latest`, --workflow) on the Python Parsl fixture, both dialects. */
import assert from "node:assert/strict";
import test from "node:test";
import { resolveRun, RunNotFoundError } from "../src/database/queries/resolveRun.js";
import { ReadContext } from "../src/database/queries/context.js";
import { connect } from "../src/database/connection.js";
import { DIALECTS } from "./databases.js";
import { copyFixture, RUN1, RUN2, RUN3, servedDatabase, tempDir } from "./visualizer-helpers.js";

for (const dialect of DIALECTS) {
  test(`resolveRun (${dialect}): latest, ids, prefixes, workflow names, clear refusals`, async () => {
    const served = await servedDatabase(dialect, copyFixture(tempDir()));
    const db = await connect(served.endpoint, { readonly: true });
    try {
      const ctx = await ReadContext.open(db);
      // Run 3 began last (the fixture's README lists the runs in order).
      assert.equal((await resolveRun(ctx)).run_id, RUN3);
      assert.equal((await resolveRun(ctx, "latest", "fixture-mixed")).run_id, RUN2, "run 3 has another workflow name");
      assert.equal((await resolveRun(ctx, RUN1)).run_id, RUN1);
      assert.equal((await resolveRun(ctx, RUN1.slice(0, 6))).run_id, RUN1);
      await assert.rejects(
        resolveRun(ctx, "zzz"),
        (e: Error) => e instanceof RunNotFoundError && /no run has an id starting with "zzz"/.test(e.message),
      );
      await assert.rejects(
        resolveRun(ctx, "%"),
        /no run has an id starting with "%"/,
        "LIKE wildcards are matched literally",
      );
      await assert.rejects(
        resolveRun(ctx, "latest", "no-such-workflow"),
        /holds no run of workflow "no-such-workflow"/,
      );
      await assert.rejects(resolveRun(ctx, RUN3, "fixture-mixed"), /no run of workflow "fixture-mixed"/);
      // "" and a prefix shared by several runs are refused with the candidates named.
      await assert.rejects(resolveRun(ctx, ""), /empty/);
      await served.exec(
        `INSERT INTO workflow (run_id, workflow_name, time_began, host, "user", rundir, tasks_failed_count, tasks_completed_count)
        VALUES (?, 'twin', ?, 'h', 'u', '/r', 0, 0)`,
        RUN1.slice(0, 8) + "-twin",
        "2026-11-20 10:00:00.000000",
      );
      await assert.rejects(
        resolveRun(ctx, RUN1.slice(0, 8)),
        (e: Error) => /matches several runs/.test(e.message) && e.message.includes(RUN1) && e.message.includes("-twin"),
      );
    } finally {
      await db.close();
    }
  });
}
