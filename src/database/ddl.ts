/**
 * DDL for either dialect, generated from schema.ts, every identifier quoted. Parsl's columns
 * form the CREATE TABLE (as SQLAlchemy lays it out); our extra columns are always added
 * afterwards with ALTER TABLE, the same path that upgrades a database written by Python Parsl.
 */
import type { Dialect } from "./dialect.js";
import { INDEXES, type Column, type IndexDef, type Table } from "./schema.js";
import { quoted as q } from "./sql.js";

function columnDef(d: Dialect, t: Table, c: Column): string {
  // PostgreSQL: Parsl's node.id is SERIAL (SQLite's INTEGER PRIMARY KEY numbers rows by itself).
  const type = d.name === "postgresql" && t.autoincrementKey === c.name ? "SERIAL" : d.columnType(c.type);
  return `${q(c.name)} ${type}${c.notNull ? " NOT NULL" : ""}`;
}

export function createTableSql(d: Dialect, t: Table): string {
  const parts = t.columns.filter((c) => !c.extra).map((c) => columnDef(d, t, c));
  parts.push(`PRIMARY KEY (${t.primaryKey.map(q).join(", ")})`);
  if (t.foreignKeyRunId) parts.push(`FOREIGN KEY(${q("run_id")}) REFERENCES ${q("workflow")} (${q("run_id")})`);
  return `CREATE TABLE IF NOT EXISTS ${q(t.name)} (\n\t${parts.join(", \n\t")}\n)`;
}

export function addColumnSql(d: Dialect, t: Table, c: Column): string {
  if (c.notNull) throw new Error(`cannot add NOT NULL column ${t.name}.${c.name} to an existing table`);
  return `ALTER TABLE ${q(t.name)} ADD COLUMN ${columnDef(d, t, c)}`;
}

export function createIndexSql(ix: IndexDef): string {
  return `CREATE INDEX IF NOT EXISTS ${q(ix.name)} ON ${q(ix.table)} (${ix.columns.map(q).join(", ")})`;
}

export function allIndexSql(): string[] {
  return INDEXES.map(createIndexSql);
}
