/**
 * Creating and upgrading the monitoring schema on any Connection: Parsl's seven tables, our
 * extra columns and indexes, and the parsl-ts schema version. Idempotent and additive: it only
 * creates what is missing, so it upgrades a Python Parsl database (either dialect) in place and
 * is safe to run from several writers at once. `planSchema` says what would change without
 * changing anything (`parsl-ts db upgrade --dry-run`).
 */
import type { Connection, Queryable } from "./connection.js";
import { addColumnSql, createIndexSql, createTableSql } from "./ddl.js";
import { INDEXES, TABLES } from "./schema.js";
import { ident, raw, sql, type Sql } from "./sql.js";

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
  /** Names of the indexes present (any table). */
  readonly indexes: ReadonlySet<string>;
  /** `parsl_ts_meta.schema_version`, or null when not recorded. */
  readonly version: number | null;
}

export interface SchemaChanges {
  readonly createdTables: string[];
  /** `table.column`, for columns added to tables that existed. */
  readonly addedColumns: string[];
  readonly createdIndexes: string[];
  readonly versionBefore: number | null;
  readonly versionAfter: number;
}

export async function readSchema(db: Queryable): Promise<SchemaState> {
  const tables = new Map<string, Set<string>>();
  const names = (await db.all<{ name: string }>(db.dialect.listTables())).map((r) => r.name);
  for (const name of names) tables.set(name, new Set());
  if (names.length > 0)
    for (const c of await db.all<{ table_name: string; name: string }>(db.dialect.listColumns(names)))
      tables.get(c.table_name)?.add(c.name);
  const indexes = new Set((await db.all<{ name: string }>(db.dialect.listIndexes())).map((r) => r.name));
  let version: number | null = null;
  if (tables.has(META_TABLE)) {
    const row = await db.first<{ value: string }>(
      sql`SELECT ${ident("value")} FROM ${ident(META_TABLE)} WHERE ${ident("key")} = ${"schema_version"}`,
    );
    if (row) version = Number(row.value);
  }
  return { tables, indexes, version };
}

/** The statement that creates `parsl_ts_meta` (key/value text). */
export const CREATE_META_TABLE: Sql = sql`CREATE TABLE IF NOT EXISTS ${ident(META_TABLE)} (${ident("key")} TEXT NOT NULL PRIMARY KEY, ${ident("value")} TEXT NOT NULL)`;

/** The statement that records this code's schema version (both dialects take ON CONFLICT … DO UPDATE). */
export function recordVersionSql(version: number = SCHEMA_VERSION): Sql {
  const v = String(version);
  return sql`INSERT INTO ${ident(META_TABLE)} (${ident("key")}, ${ident("value")}) VALUES (${"schema_version"}, ${v})
        ON CONFLICT (${ident("key")}) DO UPDATE SET ${ident("value")} = ${v}`;
}

/** What `ensureSchema` would change on a database in state `before`. Throws when a required Parsl column is missing. */
export function planSchema(before: SchemaState): SchemaChanges {
  const createdTables: string[] = [];
  const addedColumns: string[] = [];
  for (const t of TABLES) {
    const present = before.tables.get(t.name);
    if (!present) {
      createdTables.push(t.name);
      continue;
    }
    for (const c of t.columns) {
      if (present.has(c.name)) continue;
      if (c.notNull) {
        throw new Error(
          `table ${t.name} lacks the NOT NULL column ${c.name}: the database was written by an incompatible Parsl version`,
        );
      }
      addedColumns.push(`${t.name}.${c.name}`);
    }
  }
  const createdIndexes = INDEXES.filter((ix) => !before.indexes.has(ix.name)).map((ix) => ix.name);
  return {
    createdTables,
    addedColumns,
    createdIndexes,
    versionBefore: before.version,
    versionAfter: Math.max(SCHEMA_VERSION, before.version ?? 0),
  };
}

/**
 * Creates what is missing, in one transaction; returns what changed. Only missing objects are
 * touched, so on an up-to-date database it issues no DDL at all (a writer role that does not
 * own the tables can run it).
 */
export async function ensureSchema(db: Connection): Promise<SchemaChanges> {
  return db.transaction(async (tx) => {
    const lock = tx.dialect.schemaLock();
    if (lock) await tx.first(lock);
    const before = await readSchema(tx);
    const plan = planSchema(before);
    for (const t of TABLES) {
      if (plan.createdTables.includes(t.name)) {
        await tx.run(raw(createTableSql(tx.dialect, t)));
        for (const c of t.columns) if (c.extra) await tx.run(raw(addColumnSql(tx.dialect, t, c)));
      }
    }
    for (const col of plan.addedColumns) {
      const [tableName, columnName] = col.split(".") as [string, string];
      const t = TABLES.find((x) => x.name === tableName)!;
      await tx.run(
        raw(
          addColumnSql(
            tx.dialect,
            t,
            t.columns.find((c) => c.name === columnName)!,
          ),
        ),
      );
    }
    for (const ix of INDEXES) if (plan.createdIndexes.includes(ix.name)) await tx.run(raw(createIndexSql(ix)));
    if (!before.tables.has(META_TABLE)) await tx.run(CREATE_META_TABLE);
    if (before.version === null || before.version < SCHEMA_VERSION) await tx.run(recordVersionSql());
    return plan;
  });
}
