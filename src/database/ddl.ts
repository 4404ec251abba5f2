/**
 * SQLite DDL generated from schema.ts. Parsl's columns form the CREATE TABLE (laid out the
 * way SQLAlchemy emits it, so `.schema` of a fresh parsl-ts database reads like Parsl's);
 * our extra columns are always added afterwards with ALTER TABLE, the same path that
 * upgrades a database written by Python Parsl.
 */
import { INDEXES, type Column, type IndexDef, type Table } from "./schema.js";

const q = (identifier: string): string => {
  // Only schema.ts names reach here; quoting keeps reserved words (`user`) safe regardless.
  if (!/^[a-z_][a-z0-9_]*$/.test(identifier)) throw new Error(`bad SQL identifier ${identifier}`);
  return identifier;
};

function columnDef(c: Column): string {
  return `${q(c.name)} ${c.type}${c.notNull ? " NOT NULL" : ""}`;
}

export function createTableSql(t: Table): string {
  const parts = t.columns.filter((c) => !c.extra).map(columnDef);
  parts.push(`PRIMARY KEY (${t.primaryKey.map(q).join(", ")})`);
  if (t.foreignKeyRunId) parts.push("FOREIGN KEY(run_id) REFERENCES workflow (run_id)");
  return `CREATE TABLE IF NOT EXISTS ${q(t.name)} (\n\t${parts.join(", \n\t")}\n)`;
}

export function addColumnSql(t: Table, c: Column): string {
  if (c.notNull) throw new Error(`cannot add NOT NULL column ${t.name}.${c.name} to an existing table`);
  return `ALTER TABLE ${q(t.name)} ADD COLUMN ${columnDef(c)}`;
}

export function createIndexSql(ix: IndexDef): string {
  return `CREATE INDEX IF NOT EXISTS ${q(ix.name)} ON ${q(ix.table)} (${ix.columns.map(q).join(", ")})`;
}

export function allIndexSql(): string[] {
  return INDEXES.map(createIndexSql);
}
