/** Shared helpers for the visualizer tests (real SQLite files in temp dirs or the test PostgreSQL server, a real visualizer). */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { copyDatabase } from "../src/database/copy.js";
import type { DialectName } from "../src/database/dialect.js";
import { freshPgDatabase, pgAdmin, pgReadOnlyUrl, pgUrl, toDollarParams } from "./databases.js";
import { parslFixture, tempDir as sharedTempDir } from "./helpers.js";

const here = path.dirname(fileURLToPath(import.meta.url));
/** Repository root (tests run from dist/test/). */
export const ROOT = path.resolve(here, "..", "..");
/** The Python-Parsl fixture, test/fixtures/parsl-mixed/monitoring.db (see helpers.ts). */
export const FIXTURE_DB = parslFixture();

export const RUN1 = "1184f076-14a3-473a-9d16-bb9b165f62e9";
export const RUN2 = "ee786505-674c-4a3f-8d80-7eee11e68fc9";
export const RUN3 = "410b4fa3-e65b-4f17-99a5-099a7172c239";

export function tempDir(prefix = "viz-test-"): string {
  return sharedTempDir(prefix);
}

/** A private copy of the Python-Parsl fixture database. */
export function copyFixture(dir: string): string {
  const dest = path.join(dir, "monitoring.db");
  fs.copyFileSync(FIXTURE_DB, dest);
  return dest;
}

export function sha256(file: string): string {
  return crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

export async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* keep text */
  }
  return { status: res.status, body };
}

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/**
 * A monitoring database for the visualizer tests in either dialect, with the rows of the SQLite
 * file `source`: that file itself, or a fresh PostgreSQL database it was copied into (copy.ts),
 * served through a role that may only SELECT.
 */
export interface ServedDatabase {
  /** What startVisualizer takes. */
  readonly endpoint: string;
  /** Changes when anything in the database changes (file bytes; PostgreSQL: rows and schema). */
  fingerprint(): Promise<string>;
  /** Rows of the task table. */
  taskRows(): Promise<number>;
  /** Runs SQL with `?` parameters as the database's owner (a writer, for tests that add rows). */
  exec(sql: string, ...params: unknown[]): Promise<Record<string, unknown>[]>;
}

/**
 * `postgresql-parsl`: PostgreSQL with exactly the tables Python Parsl creates there
 * (test/fixtures/parsl-postgres/schema.sql: none of our columns or indexes), as a database that
 * Parsl itself wrote would be.
 */
export type ServedKind = DialectName | "postgresql-parsl";

export async function servedDatabase(dialect: ServedKind, source: string): Promise<ServedDatabase> {
  if (dialect === "sqlite") {
    return {
      endpoint: source,
      fingerprint: async () => sha256(source),
      taskRows: async () => {
        const db = new Database(source, { readonly: true });
        try {
          return db.prepare(`SELECT COUNT(*) FROM task`).pluck().get() as number;
        } finally {
          db.close();
        }
      },
      exec: async (sql, ...params) => {
        const db = new Database(source);
        try {
          const st = db.prepare(sql);
          return st.reader ? (st.all(...params) as Record<string, unknown>[]) : (st.run(...params), []);
        } finally {
          db.close();
        }
      },
    };
  }
  const name = await freshPgDatabase("parsl_viz");
  if (dialect === "postgresql-parsl") {
    const ddl = fs.readFileSync(path.join(ROOT, "test/fixtures/parsl-postgres/schema.sql"), "utf8");
    await pgAdmin(ddl.replace(/^SELECT pg_catalog\.set_config.*$/m, ""), [], name);
  }
  await copyDatabase(source, pgUrl(name), { schema: dialect === "postgresql-parsl" ? "existing" : "ensure" });
  const endpoint = await pgReadOnlyUrl(name);
  const fingerprint = async (): Promise<string> => {
    const [schema] = await pgAdmin<{ s: string }>(
      `SELECT string_agg(table_name || '.' || column_name || ':' || data_type, ',' ORDER BY table_name, column_name) AS s
      FROM information_schema.columns WHERE table_schema = 'public'`,
      [],
      name,
    );
    const [ix] = await pgAdmin<{ s: string }>(
      `SELECT string_agg(indexname, ',' ORDER BY indexname) AS s FROM pg_indexes WHERE schemaname = 'public'`,
      [],
      name,
    );
    const counts: string[] = [];
    for (const t of ["workflow", "task", "try", "status", "resource", "node", "block"]) {
      const [r] = await pgAdmin<{ n: string; h: string }>(
        `SELECT COUNT(*) AS n, md5(COALESCE(string_agg(x::text, '|' ORDER BY x::text), '')) AS h FROM "${t}" x`,
        [],
        name,
      );
      counts.push(`${t}=${r!.n}:${r!.h}`);
    }
    return `${schema!.s}|${ix!.s}|${counts.join(",")}`;
  };
  return {
    endpoint,
    fingerprint,
    taskRows: async () => Number((await pgAdmin<{ n: string }>(`SELECT COUNT(*) AS n FROM task`, [], name))[0]!.n),
    exec: (sql, ...params) => pgAdmin(toDollarParams(sql), params, name),
  };
}
