/**
 * Test databases of both dialects, so one suite runs on SQLite and on PostgreSQL:
 *
 *   for (const dialect of DIALECTS) test(`… (${dialect})`, async () => { const db = await testDatabase(dialect); … });
 *
 * PostgreSQL: the server named by PARSL_TS_TEST_PG (an admin URL; `.ci/run` starts one with
 * scripts/postgres/start-server.sh), or, when that is unset, the same script is run here to
 * start (or reuse) a private server. Each test database is a fresh PostgreSQL database, dropped
 * when the test process exits. There is no skip: without PostgreSQL these tests fail and say why.
 */
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import type { DialectName } from "../src/database/dialect.js";
import { typeParsers } from "../src/database/postgres/connection.js";
import { tempDir } from "./helpers.js";

export const DIALECTS: readonly DialectName[] = ["sqlite", "postgresql"];

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/**
 * A service's admin URL: from `envVar` when set (`.ci/run` exports it), else printed by `script`
 * (which starts the service, or reuses a running one). Read once per test process.
 */
function serviceUrl(envVar: string, script: string, args: () => string[], need: string): () => string {
  let url: string | null = null;
  return () => {
    if (url) return url;
    const fromEnv = process.env[envVar];
    if (fromEnv) return (url = fromEnv);
    try {
      url = execFileSync("bash", [path.join(ROOT, script), ...args()], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
        timeout: 120_000,
      }).trim();
    } catch (err) {
      throw new Error(
        `${need}: set ${envVar}, or install it so that ${script} can start one (${(err as Error).message})`,
      );
    }
    return url;
  };
}

/** The admin (superuser) URL of the test server, starting it if needed. */
export const pgAdminUrl = serviceUrl(
  "PARSL_TS_TEST_PG",
  "scripts/postgres/start-server.sh",
  () => [],
  "PostgreSQL tests need a server (Debian's postgresql)",
);

/**
 * The admin URL through PgBouncer in front of the test server (transaction pooling, as
 * docs/POSTGRES.md recommends for a shared server), starting it if needed.
 */
export const pgBouncerAdminUrl = serviceUrl(
  "PARSL_TS_TEST_PGBOUNCER",
  "scripts/postgres/start-pgbouncer.sh",
  () => [pgAdminUrl()],
  "PgBouncer tests need PgBouncer (Debian's pgbouncer) in front of the test server",
);

/** A URL of the test server, with the same user, password and database, through PgBouncer. */
export function throughPgBouncer(url: string): string {
  const u = new URL(url);
  const bouncer = new URL(pgBouncerAdminUrl());
  u.host = bouncer.host;
  return u.toString();
}

/** Where a test's database is: a SQLite file, the PostgreSQL test server, or that server through PgBouncer. */
export type TestTarget = DialectName | "pgbouncer";

/** The admin URL with another database (and optionally another user and password). */
export function pgUrl(database: string, user?: { name: string; password: string }): string {
  const u = new URL(pgAdminUrl());
  u.pathname = "/" + database;
  if (user) {
    u.username = user.name;
    u.password = user.password;
  }
  return u.toString();
}

/** Runs SQL as the admin on a database of the test server (default: `postgres`). */
export async function pgAdmin<T = Record<string, unknown>>(
  text: string,
  params: unknown[] = [],
  database = "postgres",
): Promise<T[]> {
  const client = new pg.Client({ connectionString: pgUrl(database) });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

const created: string[] = [];
let cleanupArmed = false;

/** A new, empty PostgreSQL database; returns its name. Dropped at exit (best effort). */
export async function freshPgDatabase(prefix = "parsl_test"): Promise<string> {
  const name = `${prefix}_${crypto.randomBytes(5).toString("hex")}`;
  await pgAdmin(`CREATE DATABASE "${name}"`);
  created.push(name);
  if (!cleanupArmed) {
    cleanupArmed = true;
    // A test file's process ends after its tests: drop what it created, in a child (exit handlers cannot wait).
    process.once("exit", () => {
      if (created.length === 0) return;
      const script =
        `const pg=require("pg");(async()=>{const c=new pg.Client({connectionString:process.argv[1]});await c.connect();` +
        `for(const d of process.argv.slice(2)){await c.query('DROP DATABASE IF EXISTS "'+d+'" WITH (FORCE)').catch(()=>{});}await c.end();})()`;
      try {
        execFileSync(process.execPath, ["-e", script, pgUrl("postgres"), ...created], {
          cwd: ROOT,
          stdio: "ignore",
          timeout: 30_000,
        });
      } catch {
        /* the server may be gone already */
      }
    });
  }
  return name;
}

/** A database the tests write and read, of either dialect. */
export interface TestDatabase {
  readonly dialect: DialectName;
  /** What MonitoringHub.loggingEndpoint and the tools take. */
  readonly endpoint: string;
  /** Rows of a query; `?` placeholders work on both (turned into `$n` for PostgreSQL). */
  rows<T = Record<string, unknown>>(sql: string, ...params: unknown[]): Promise<T[]>;
  /** The first column of the first row, as a number. */
  count(sql: string, ...params: unknown[]): Promise<number>;
}

/** `?` → `$1, $2, …` outside quotes. */
export function toDollarParams(sql: string): string {
  let n = 0;
  let out = "";
  let quote: string | null = null;
  for (const ch of sql) {
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
    } else if (ch === "?") {
      out += `$${++n}`;
      continue;
    }
    out += ch;
  }
  return out;
}

/**
 * Rows of a query on a PostgreSQL URL (`?` placeholders), with values as our own connection gives
 * them (timestamps as Parsl's text, BIGINT as numbers), so assertions compare alike on both dialects.
 */
export async function pgQuery<T = Record<string, unknown>>(
  url: string,
  sql: string,
  ...params: unknown[]
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, types: typeParsers });
  await client.connect();
  try {
    return (await client.query(toDollarParams(sql), params)).rows as T[];
  } finally {
    await client.end();
  }
}

/**
 * A fresh test database. `pgbouncer`: a PostgreSQL one whose endpoint goes through PgBouncer;
 * `rows` and `count` still read the server directly, so what is checked is what was stored.
 */
export async function testDatabase(target: TestTarget): Promise<TestDatabase> {
  if (target === "sqlite") {
    const dialect = target;
    const dbPath = path.join(tempDir(), "monitoring.db");
    const Database = (await import("better-sqlite3")).default;
    const rows = async <T>(sql: string, ...params: unknown[]): Promise<T[]> => {
      const db = new Database(dbPath, { readonly: true, fileMustExist: true });
      try {
        return db.prepare(sql).all(...params) as T[];
      } finally {
        db.close();
      }
    };
    return { dialect, endpoint: dbPath, rows, count: async (sql, ...p) => firstNumber(await rows(sql, ...p)) };
  }
  const name = await freshPgDatabase();
  const url = pgUrl(name);
  const rows = <T>(sql: string, ...params: unknown[]): Promise<T[]> => pgQuery<T>(url, sql, ...params);
  return {
    dialect: "postgresql",
    endpoint: target === "pgbouncer" ? throughPgBouncer(url) : url,
    rows,
    count: async (sql, ...p) => firstNumber(await rows(sql, ...p)),
  };
}

function firstNumber(rows: Record<string, unknown>[]): number {
  const row = rows[0];
  if (!row) throw new Error("query returned no row");
  return Number(Object.values(row)[0]);
}

/**
 * A login role that may only read `database` (CONNECT, USAGE on its schema, SELECT on its tables),
 * as docs/ recommend for the visualizer and the tools; returns its URL. Dropped at exit with the
 * database (roles are per cluster, so the name is random).
 */
export async function pgReadOnlyUrl(database: string): Promise<string> {
  const name = `parsl_reader_${crypto.randomBytes(4).toString("hex")}`;
  const password = crypto.randomBytes(9).toString("hex");
  await pgAdmin(`CREATE ROLE "${name}" LOGIN PASSWORD '${password}'`);
  await pgAdmin(
    `REVOKE ALL ON DATABASE "${database}" FROM PUBLIC; GRANT CONNECT ON DATABASE "${database}" TO "${name}"`,
  );
  await pgAdmin(
    `REVOKE CREATE ON SCHEMA public FROM PUBLIC; GRANT USAGE ON SCHEMA public TO "${name}"; GRANT SELECT ON ALL TABLES IN SCHEMA public TO "${name}"`,
    [],
    database,
  );
  if (roles.length === 0) process.once("exit", dropRoles); // registered after the databases' handler: runs after it
  roles.push(name);
  return pgUrl(database, { name, password });
}

const roles: string[] = [];
function dropRoles(): void {
  // A role with privileges cannot be dropped; the databases holding them are gone by now.
  const script =
    `const pg=require("pg");(async()=>{const c=new pg.Client({connectionString:process.argv[1]});await c.connect();` +
    `for(const r of process.argv.slice(2)){await c.query('DROP ROLE IF EXISTS "'+r+'"').catch(()=>{});}await c.end();})()`;
  try {
    execFileSync(process.execPath, ["-e", script, pgUrl("postgres"), ...roles], {
      cwd: ROOT,
      stdio: "ignore",
      timeout: 30_000,
    });
  } catch {
    /* the server may be gone already */
  }
}

/** A SQLite file the test names itself (a run directory's monitoring.db), read like any test database. */
export function sqliteAt(file: string): TestDatabase {
  const rows = async <T>(sql: string, ...params: unknown[]): Promise<T[]> => {
    const Database = (await import("better-sqlite3")).default;
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      return db.prepare(sql).all(...params) as T[];
    } finally {
      db.close();
    }
  };
  return { dialect: "sqlite", endpoint: file, rows, count: async (sql, ...p) => firstNumber(await rows(sql, ...p)) };
}
