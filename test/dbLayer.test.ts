/** The async database layer (connection.ts, sql.ts, both dialects) on real SQLite files and a real PostgreSQL server. */
import assert from "node:assert/strict";
import path from "node:path";
import test from "node:test";
import { connect, ConnectionError } from "../src/database/connection.js";
import { ident, join, list, raw, sql } from "../src/database/sql.js";
import { normaliseTimestamp } from "../src/database/postgres/connection.js";
import { DIALECTS, freshPgDatabase, pgUrl, toDollarParams } from "./databases.js";
import { tempDir } from "./helpers.js";

test("sql: values are parameters, fragments are spliced, identifiers are quoted", () => {
  const run = "r'; DROP TABLE task; --";
  const q = sql`SELECT ${ident("user")} FROM workflow WHERE run_id = ${run} AND x IN ${list([1, 2])} ${raw("ORDER BY 1")}`;
  assert.equal(q.compile((i) => `$${i + 1}`).text, `SELECT "user" FROM workflow WHERE run_id = $1 AND x IN ($2, $3) ORDER BY 1`);
  assert.deepEqual(q.values, [run, 1, 2]);
  assert.equal(join([sql`a = ${1}`, sql`b = ${2}`], " AND ").toString(), "a = ? AND b = ?");
  assert.throws(() => ident("x; drop"), /bad SQL identifier/);
  assert.equal(list([]).toString(), "(NULL)");
  assert.equal(toDollarParams(`SELECT '?' , ? , "a?" , ?`), `SELECT '?' , $1 , "a?" , $2`);
});

test("postgres timestamps come back as Parsl's six-digit text", () => {
  assert.equal(normaliseTimestamp("2026-12-01 10:00:00"), "2026-12-01 10:00:00.000000");
  assert.equal(normaliseTimestamp("2026-12-01 10:00:00.5"), "2026-12-01 10:00:00.500000");
  assert.equal(normaliseTimestamp("2026-12-01 10:00:00.123456"), "2026-12-01 10:00:00.123456");
});

for (const dialect of DIALECTS) {
  test(`connection (${dialect}): queries, normalised values, transactions`, async () => {
    const endpoint = dialect === "sqlite" ? path.join(tempDir(), "layer.db") : pgUrl(await freshPgDatabase());
    const db = await connect(endpoint);
    try {
      assert.equal(db.dialect.name, dialect);
      await db.run(sql`CREATE TABLE ${ident("t")} (${ident("user")} TEXT, n BIGINT, at ${raw(db.dialect.columnType("DATETIME"))})`);
      assert.equal(await db.run(sql`INSERT INTO t VALUES (${"ann"}, ${2 ** 40}, ${"2026-12-01 10:00:00.250000"})`), 1);
      const row = await db.first<{ user: string; n: number; at: string; c: number }>(
        sql`SELECT ${ident("user")}, n, at, COUNT(*) AS c FROM t GROUP BY ${ident("user")}, n, at`);
      assert.deepEqual({ ...row }, { user: "ann", n: 2 ** 40, at: "2026-12-01 10:00:00.250000", c: 1 });
      const secs = await db.first<{ s: number }>(sql`SELECT ${db.dialect.epochSeconds(sql`at`)} AS s FROM t`);
      // julianday is a double: within a millisecond is what SQLite can give.
      assert.ok(Math.abs(secs!.s - Date.UTC(2026, 11, 1, 10, 0, 0, 250) / 1000) < 1e-3, `epoch seconds ${secs!.s}`);
      await assert.rejects(db.transaction(async (tx) => {
        await tx.run(sql`INSERT INTO t VALUES (${"bob"}, ${1}, ${null})`);
        throw new Error("roll back");
      }), /roll back/);
      assert.equal((await db.all(sql`SELECT * FROM t`)).length, 1, "the failed transaction left nothing");
      await db.transaction(async (tx) => { await tx.run(sql`INSERT INTO t VALUES (${"cy"}, ${1}, ${null})`); });
      assert.equal((await db.all(sql`SELECT * FROM t`)).length, 2);
    } finally {
      await db.close();
    }
    const ro = await connect(endpoint, { readonly: true });
    try {
      await assert.rejects(ro.run(sql`INSERT INTO t VALUES (${"x"}, ${1}, ${null})`), (err: unknown) => ro.dialect.classify(err) === "fatal");
    } finally {
      await ro.close();
    }
  });
}

test("connect: clear errors for what cannot be reached, password hidden", async () => {
  await assert.rejects(connect(path.join(tempDir(), "missing.db"), { readonly: true }), ConnectionError);
  await assert.rejects(connect("postgresql://nobody:s3cret@127.0.0.1:1/x"),
    (err: Error) => err instanceof ConnectionError && /connection refused/.test(err.message) && !err.message.includes("s3cret") && err.message.includes("***"));
  const bad = new URL(pgUrl("postgres"));
  bad.password = "wrong-password";
  await assert.rejects(connect(bad.toString()), (err: Error) => /wrong password/.test(err.message) && !err.message.includes("wrong-password"));
  await assert.rejects(connect(pgUrl("no_such_database_here")), /does not exist/);
});
