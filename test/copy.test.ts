/**
 * database/copy.ts: whole runs between databases of either dialect. The Python Parsl fixture and
 * a parsl-ts database go SQLite → PostgreSQL → SQLite and come back row for row (node ids aside),
 * in small chunks; a second copy skips what the target has; a run the source lacks is an error.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import Database from "better-sqlite3";
import { copyDatabase } from "../src/database/copy.js";
import { TABLES } from "../src/database/schema.js";
import { createSyntheticDb } from "../bench/visualizer.js";
import { freshPgDatabase, pgAdmin, pgUrl } from "./databases.js";
import { parslFixture, tempDir } from "./helpers.js";

/** Every row of every table, columns named by `cols`, as sorted JSON lines (node without its id). */
function snapshot(file: string, only?: Map<string, string[]>): Map<string, string[]> {
  const db = new Database(file, { readonly: true });
  try {
    const out = new Map<string, string[]>();
    for (const t of TABLES) {
      const cols =
        only?.get(t.name) ??
        (db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(t.name) as string[]).filter(
          (c) => c !== "id" || t.name !== "node",
        );
      const rows = db
        .prepare(`SELECT ${cols.map((c) => `"${c}"`).join(", ")} FROM "${t.name}"`)
        .raw()
        .all() as unknown[][];
      out.set(t.name, rows.map((r) => JSON.stringify(r)).sort());
    }
    return out;
  } finally {
    db.close();
  }
}

function columnsOf(file: string): Map<string, string[]> {
  const db = new Database(file, { readonly: true });
  try {
    return new Map(
      TABLES.map((t) => [
        t.name,
        (db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(t.name) as string[]).filter(
          (c) => c !== "id" || t.name !== "node",
        ),
      ]),
    );
  } finally {
    db.close();
  }
}

for (const [what, make] of [
  ["the Python Parsl fixture", (): string => parslFixture()],
  [
    "a parsl-ts database",
    (): string => {
      const file = path.join(tempDir(), "monitoring.db");
      createSyntheticDb(file, { tasks: 700, runId: "run-a" });
      createSyntheticDb(file, { tasks: 50, runId: "run-b", unfinished: true });
      return file;
    },
  ],
] as const) {
  test(`${what}: SQLite → PostgreSQL → SQLite keeps every row`, async () => {
    const source = make();
    const pgName = await freshPgDatabase("parsl_copy");
    const there = await copyDatabase(source, pgUrl(pgName), { chunkRows: 100 });
    const original = snapshot(source);
    for (const t of TABLES) assert.equal(there.rows[t.name], original.get(t.name)!.length, `${t.name} rows copied`);
    assert.equal(there.skipped.length, 0);
    // Booleans arrive as booleans, node ids are the target's own.
    const nodes = await pgAdmin<{ active: unknown; id: number }>(`SELECT active, id FROM node ORDER BY id`, [], pgName);
    assert.ok(nodes.length > 0 && nodes.every((n) => typeof n.active === "boolean"));
    assert.deepEqual(
      nodes.map((n) => n.id),
      nodes.map((_, i) => i + 1),
    );

    const back = path.join(tempDir(), "back.db");
    const home = await copyDatabase(pgUrl(pgName), back, { chunkRows: 100 });
    assert.deepEqual(home.copied, there.copied);
    // The target gained our extra columns (ensureSchema); compare the source's columns.
    assert.deepEqual(snapshot(back, columnsOf(source)), original);

    const again = await copyDatabase(source, pgUrl(pgName));
    assert.deepEqual(again.copied, []);
    assert.deepEqual(again.skipped, there.copied, "runs the target has are skipped");
    assert.equal(
      Number((await pgAdmin<{ n: string }>(`SELECT COUNT(*) AS n FROM task`, [], pgName))[0]!.n),
      original.get("task")!.length,
    );
  });
}

test("a run the source does not have is a clear error", async () => {
  const pgName = await freshPgDatabase("parsl_copy");
  await assert.rejects(
    copyDatabase(parslFixture(), pgUrl(pgName), { runIds: ["no-such-run"] }),
    /run no-such-run is not in .*monitoring\.db/,
  );
});

test("a file that is not a monitoring database is refused before anything is written", async () => {
  const file = path.join(tempDir(), "other.db");
  const d = new Database(file);
  d.exec("CREATE TABLE t (x)");
  d.close();
  const pgName = await freshPgDatabase("parsl_copy");
  await assert.rejects(
    copyDatabase(file, pgUrl(pgName)),
    /is not a Parsl monitoring database: table "workflow" is missing/,
  );
  assert.equal(
    (await pgAdmin(`SELECT 1 FROM information_schema.tables WHERE table_schema = 'public'`, [], pgName)).length,
    0,
  );
});
