/** The async database layer (connection.ts, sql.ts, both dialects) on real SQLite files and a real PostgreSQL server. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import test from "node:test";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { connect, ConnectionError } from "../src/database/connection.js";
import { ident, join, list, raw, sql } from "../src/database/sql.js";
import { explainConnectError, normaliseTimestamp } from "../src/database/postgres/connection.js";
import { ensureSchema, readSchema, SCHEMA_VERSION } from "../src/database/schemaSetup.js";
import { DIALECTS, freshPgDatabase, pgAdmin, pgUrl, toDollarParams } from "./databases.js";
import { tempDir } from "./helpers.js";
import { ROOT } from "./visualizer-helpers.js";

const execFileAsync = promisify(execFile);

test("sql: values are parameters, fragments are spliced, identifiers are quoted", () => {
  const run = "r'; DROP TABLE task; --";
  const q = sql`SELECT ${ident("user")} FROM workflow WHERE run_id = ${run} AND x IN ${list([1, 2])} ${raw("ORDER BY 1")}`;
  assert.equal(
    q.compile((i) => `$${i + 1}`).text,
    `SELECT "user" FROM workflow WHERE run_id = $1 AND x IN ($2, $3) ORDER BY 1`,
  );
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
      await db.run(
        sql`CREATE TABLE ${ident("t")} (${ident("user")} TEXT, n BIGINT, at ${raw(db.dialect.columnType("DATETIME"))})`,
      );
      assert.equal(await db.run(sql`INSERT INTO t VALUES (${"ann"}, ${2 ** 40}, ${"2026-12-01 10:00:00.250000"})`), 1);
      const row = await db.first<{ user: string; n: number; at: string; c: number }>(
        sql`SELECT ${ident("user")}, n, at, COUNT(*) AS c FROM t GROUP BY ${ident("user")}, n, at`,
      );
      assert.deepEqual({ ...row }, { user: "ann", n: 2 ** 40, at: "2026-12-01 10:00:00.250000", c: 1 });
      const secs = await db.first<{ s: number }>(sql`SELECT ${db.dialect.epochSeconds(sql`at`)} AS s FROM t`);
      // julianday is a double: within a millisecond is what SQLite can give.
      assert.ok(Math.abs(secs!.s - Date.UTC(2026, 11, 1, 10, 0, 0, 250) / 1000) < 1e-3, `epoch seconds ${secs!.s}`);
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.run(sql`INSERT INTO t VALUES (${"bob"}, ${1}, ${null})`);
          throw new Error("roll back");
        }),
        /roll back/,
      );
      assert.equal((await db.all(sql`SELECT * FROM t`)).length, 1, "the failed transaction left nothing");
      await db.transaction(async (tx) => {
        await tx.run(sql`INSERT INTO t VALUES (${"cy"}, ${1}, ${null})`);
      });
      assert.equal((await db.all(sql`SELECT * FROM t`)).length, 2);
    } finally {
      await db.close();
    }
    const ro = await connect(endpoint, { readonly: true });
    try {
      await assert.rejects(
        ro.run(sql`INSERT INTO t VALUES (${"x"}, ${1}, ${null})`),
        (err: unknown) => ro.dialect.classify(err) === "fatal",
      );
    } finally {
      await ro.close();
    }
  });

  test(`connection (${dialect}): a snapshot reads one state while another session commits`, async () => {
    const endpoint = dialect === "sqlite" ? path.join(tempDir(), "snap.db") : pgUrl(await freshPgDatabase());
    const writer = await connect(endpoint);
    const reader = await connect(endpoint, { readonly: true });
    const count = async (q: { first<T>(s: ReturnType<typeof sql>): Promise<T | undefined> }) =>
      Number((await q.first<{ n: number }>(sql`SELECT COUNT(*) AS n FROM t`))!.n);
    try {
      if (dialect === "sqlite") await writer.run(raw("PRAGMA journal_mode = WAL")); // as the writer's databases are
      await writer.run(sql`CREATE TABLE t (n INTEGER)`);
      await writer.run(sql`INSERT INTO t VALUES (${1})`);
      const seen = await reader.snapshot(async (view) => {
        const before = await count(view);
        await writer.run(sql`INSERT INTO t VALUES (${2})`);
        await writer.transaction(async (tx) => {
          await tx.run(sql`INSERT INTO t VALUES (${3})`);
        });
        // Nested transactions and snapshots run inside the same view.
        const inner = await view.snapshot((v) => count(v));
        const tx = await view.transaction((v) => count(v));
        return [before, await count(view), inner, tx];
      });
      assert.deepEqual(seen, [1, 1, 1, 1], "every read inside the snapshot saw the state of its first read");
      assert.equal(await count(reader), 3, "after the snapshot the reader sees both commits");
      await assert.rejects(
        reader.snapshot(async (view) => view.run(sql`INSERT INTO t VALUES (${4})`)),
        (err: unknown) => reader.dialect.classify(err) === "fatal",
        "a snapshot is read-only",
      );
      assert.equal(await count(writer), 3);
    } finally {
      await reader.close();
      await writer.close();
    }
  });
}

test("connect: clear errors for what cannot be reached, password hidden", async () => {
  await assert.rejects(connect(path.join(tempDir(), "missing.db"), { readonly: true }), ConnectionError);
  await assert.rejects(
    connect("postgresql://nobody:s3cret@127.0.0.1:1/x"),
    (err: Error) =>
      err instanceof ConnectionError &&
      /connection refused/.test(err.message) &&
      !err.message.includes("s3cret") &&
      err.message.includes("***"),
  );
  const bad = new URL(pgUrl("postgres"));
  bad.password = "wrong-password";
  await assert.rejects(
    connect(bad.toString()),
    (err: Error) => /wrong password/.test(err.message) && !err.message.includes("wrong-password"),
  );
  await assert.rejects(connect(pgUrl("no_such_database_here")), /does not exist/);
});

test("connect: a pooler that refuses the login's session settings gets the setting that fixes it", () => {
  // What PgBouncer 1.18 (Debian's) answers by default, as node-postgres reports it: seen against
  // the test server behind PgBouncer; with ignore_startup_parameters = options the commands work.
  const refusal = Object.assign(new Error("unsupported startup parameter: options"), { code: "08P01" });
  const text = explainConnectError(refusal, "postgresql://parsl:***@db:6432/monitoring");
  assert.match(
    text,
    /^cannot connect to PostgreSQL at postgresql:\/\/parsl:\*\*\*@db:6432\/monitoring: unsupported startup parameter: options \(08P01\)/,
  );
  assert.match(text, /ignore_startup_parameters = options/);
  assert.match(text, /read-only role \(parsl-ts db roles\)/);
  // Another protocol violation is only reported.
  const other = Object.assign(new Error("invalid frontend message type 0"), { code: "08P01" });
  assert.equal(
    explainConnectError(other, "postgresql://db/x"),
    "cannot connect to PostgreSQL at postgresql://db/x: invalid frontend message type 0 (08P01)",
  );
});

test("ensureSchema (postgresql): the schema we create matches what Python Parsl creates, and upgrades it in place", async () => {
  const fixture = fs.readFileSync(path.join(ROOT, "test/fixtures/parsl-postgres/schema.sql"), "utf8");
  const parslDb = await freshPgDatabase();
  await pgAdmin(fixture.replace(/^SELECT pg_catalog\.set_config.*$/m, ""), [], parslDb);
  const oursDb = await freshPgDatabase();
  const ours = await connect(pgUrl(oursDb));
  const theirs = await connect(pgUrl(parslDb));
  try {
    const created = await ensureSchema(ours);
    assert.deepEqual(created.createdTables.sort(), ["block", "node", "resource", "status", "task", "try", "workflow"]);
    const upgraded = await ensureSchema(theirs);
    assert.deepEqual(upgraded.createdTables, [], "Parsl's tables are used as they are");
    assert.equal(upgraded.versionBefore, null);
    assert.equal(upgraded.versionAfter, SCHEMA_VERSION);
    assert.ok(upgraded.addedColumns.includes("workflow.run_status"));
    const again = await ensureSchema(theirs);
    assert.deepEqual([again.createdTables, again.addedColumns, again.versionBefore], [[], [], SCHEMA_VERSION]);
    // Same columns (name, type, nullability) in both, Parsl's and our extras alike.
    const describe = (db: string) =>
      pgAdmin<{ t: string; c: string; type: string; nullable: string; dflt: string | null }>(
        `SELECT table_name AS t, column_name AS c, data_type AS type, is_nullable AS nullable, column_default AS dflt
         FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2`,
        [],
        db,
      );
    assert.deepEqual(await describe(oursDb), await describe(parslDb));
    const keys = (db: string) =>
      pgAdmin<{ t: string; kind: string; def: string }>(
        `SELECT conrelid::regclass::text AS t, contype AS kind, pg_get_constraintdef(oid) AS def FROM pg_constraint
         WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2, 3`,
        [],
        db,
      );
    assert.deepEqual(await keys(oursDb), await keys(parslDb));
  } finally {
    await ours.close();
    await theirs.close();
  }
});

for (const dialect of DIALECTS) {
  // Separate processes, as writers are (in one thread, SQLite's busy wait would block the lock holder itself).
  test(`ensureSchema (${dialect}): concurrent first writers in four processes do not collide`, async () => {
    const endpoint = dialect === "sqlite" ? path.join(tempDir(), "race.db") : pgUrl(await freshPgDatabase());
    const module = pathToFileURL(path.join(ROOT, "dist/src/database/schemaSetup.js")).href;
    const connection = pathToFileURL(path.join(ROOT, "dist/src/database/connection.js")).href;
    const script = `const { ensureSchema } = await import(${JSON.stringify(module)}); const { connect } = await import(${JSON.stringify(connection)});
      const db = await connect(process.argv[1]); const r = await ensureSchema(db); await db.close(); console.log(r.createdTables.length);`;
    const outs = await Promise.all(
      [1, 2, 3, 4].map(() =>
        execFileAsync(process.execPath, ["--input-type=module", "-e", script, endpoint]).then((r) =>
          Number(r.stdout.trim()),
        ),
      ),
    );
    assert.deepEqual(
      outs.filter((n) => n > 0),
      [7],
      "exactly one process created the seven tables",
    );
    const db = await connect(endpoint, { readonly: true });
    try {
      assert.equal((await readSchema(db)).version, SCHEMA_VERSION);
    } finally {
      await db.close();
    }
  });
}
