/**
 * Creating and upgrading the monitoring schema on any Connection: Parsl's seven tables, our
 * extra columns and indexes, and the parsl-ts schema version. Idempotent and additive: it only
 * creates what is missing, so it upgrades a Python Parsl database (either dialect) in place and
 * is safe to run from several writers at once.
 */
import type { Connection, Queryable } from "./connection.js";
import { addColumnSql, createIndexSql, createTableSql } from "./ddl.js";
import { INDEXES, TABLES } from "./schema.js";
import { ident, raw, sql } from "./sql.js";

/**
 * The parsl-ts schema version this code writes. 1: parsl-ts databases before versions were
 * recorded (no `parsl_ts_meta` table); 2: adds `parsl_ts_meta` itself. Python Parsl's databases
 * have no version (null).
 */
export const SCHEMA_VERSION = 2;
/** Our key/value table; Parsl's tools ignore tables they do not know. */
export const META_TABLE = "parsl_ts_meta";

export interface SchemaState {
  /** Table name → its column names. */
  readonly tables: ReadonlyMap<string, ReadonlySet<string>>;
  /** `parsl_ts_meta.schema_version`, or null when not recorded. */
  readonly version: number | null;
}

export interface SchemaChanges {
  readonly createdTables: string[];
  readonly addedColumns: string[];
  readonly versionBefore: number | null;
  readonly versionAfter: number;
}

export async function readSchema(db: Queryable): Promise<SchemaState> {
  const tables = new Map<string, Set<string>>();
  for (const { name } of await db.all<{ name: string }>(db.dialect.listTables())) {
    const cols = await db.all<{ name: string }>(db.dialect.listColumns(name));
    tables.set(name, new Set(cols.map((c) => c.name)));
  }
  let version: number | null = null;
  if (tables.has(META_TABLE)) {
    const row = await db.first<{ value: string }>(sql`SELECT ${ident("value")} FROM ${ident(META_TABLE)} WHERE ${ident("key")} = ${"schema_version"}`);
    if (row) version = Number(row.value);
  }
  return { tables, version };
}

/** Creates what is missing, in one transaction; returns what changed. */
export async function ensureSchema(db: Connection): Promise<SchemaChanges> {
  return db.transaction(async (tx) => {
    const lock = tx.dialect.schemaLock();
    if (lock) await tx.first(lock);
    const before = await readSchema(tx);
    const createdTables: string[] = [];
    const addedColumns: string[] = [];
    for (const t of TABLES) {
      const present = before.tables.get(t.name);
      if (!present) {
        await tx.run(raw(createTableSql(tx.dialect, t)));
        createdTables.push(t.name);
      }
      for (const c of t.columns) {
        if (present ? present.has(c.name) : !c.extra) continue;
        if (c.notNull) {
          throw new Error(`table ${t.name} lacks the NOT NULL column ${c.name}: the database was written by an incompatible Parsl version`);
        }
        await tx.run(raw(addColumnSql(tx.dialect, t, c)));
        if (present) addedColumns.push(`${t.name}.${c.name}`);
      }
    }
    // Only missing indexes: even CREATE INDEX IF NOT EXISTS needs the table's owner on
    // PostgreSQL, and a writer role that may only write rows must still open the database.
    const indexes = new Set((await tx.all<{ name: string }>(tx.dialect.listIndexes())).map((r) => r.name));
    for (const ix of INDEXES) if (!indexes.has(ix.name)) await tx.run(raw(createIndexSql(ix)));
    if (!before.tables.has(META_TABLE)) {
      await tx.run(sql`CREATE TABLE IF NOT EXISTS ${ident(META_TABLE)} (${ident("key")} TEXT NOT NULL PRIMARY KEY, ${ident("value")} TEXT NOT NULL)`);
    }
    if (before.version === null || before.version < SCHEMA_VERSION) {
      const v = String(SCHEMA_VERSION);
      await tx.run(sql`INSERT INTO ${ident(META_TABLE)} (${ident("key")}, ${ident("value")}) VALUES (${"schema_version"}, ${v})
        ON CONFLICT (${ident("key")}) DO UPDATE SET ${ident("value")} = ${v}`);
    }
    return { createdTables, addedColumns, versionBefore: before.version, versionAfter: Math.max(SCHEMA_VERSION, before.version ?? 0) };
  });
}
