/**
 * The read layer (src/database/queries/) on both dialects: the change token moves when another
 * session commits, and a reader's connection cannot write.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "../src/database/connection.js";
import { openMonitoringDb } from "../src/database/queries/index.js";
import { ensureSchema } from "../src/database/schemaSetup.js";
import { raw, sql } from "../src/database/sql.js";
import { DIALECTS, testDatabase } from "./databases.js";

for (const dialect of DIALECTS) {
  test(`the change token moves when another session commits, and readers cannot write (${dialect})`, async () => {
    const tdb = await testDatabase(dialect);
    const writer = await connect(tdb.endpoint);
    await ensureSchema(writer);
    const reader = await openMonitoringDb(tdb.endpoint);
    try {
      const before = await reader.changeToken();
      assert.match(before, /^v\S+$/);
      await writer.run(sql`INSERT INTO workflow (run_id, time_began, host, ${raw('"user"')}, rundir, tasks_failed_count, tasks_completed_count)
        VALUES (${"r1"}, ${"2026-12-01 10:00:00.000000"}, ${"h"}, ${"u"}, ${"/d"}, ${0}, ${0})`);
      assert.notEqual(await reader.changeToken(), before, "a commit elsewhere moves the token");
      assert.equal((await reader.listWorkflows(0, 10)).total, 1);
      await assert.rejects(
        reader.connection.run(sql`DELETE FROM workflow`),
        dialect === "sqlite" ? /readonly/i : /read-only transaction/,
      );
      assert.equal(await tdb.count(`SELECT COUNT(*) FROM workflow`), 1);
    } finally {
      await reader.close();
      await writer.close();
    }
  });
}
