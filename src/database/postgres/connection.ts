/**
 * The PostgreSQL driver: a node-postgres pool behind the async Connection seam. Values are
 * normalised to what SQLite gives: timestamps as Parsl's text (`YYYY-MM-DD HH:MM:SS.ffffff`),
 * BIGINT and NUMERIC (COUNT, SUM, AVG) as numbers. Type parsers are set on this pool only, so
 * a user's own pg code in the same process is unaffected.
 */
import net from "node:net";
import pg from "./pgDriver.js";
import {
  BoundConnection,
  ConnectionError,
  type ConnectOptions,
  type Connection,
  type Queryable,
  type Row,
} from "../connection.js";
import type { Sql } from "../sql.js";
import { pgCode, pgErrorText, postgresDialect } from "./dialect.js";

const OID_INT8 = 20;
const OID_NUMERIC = 1700;
const OID_TIMESTAMP = 1114;
const OID_TIMESTAMPTZ = 1184;
const CONNECT_TIMEOUT_MS = 10_000;

/** PostgreSQL prints `2026-12-01 10:00:00.5` and `… 10:00:00`; Parsl's text always has six digits. */
export function normaliseTimestamp(text: string): string {
  const dot = text.indexOf(".");
  if (dot < 0) return text + ".000000";
  const digits = text.length - dot - 1;
  return digits >= 6 ? text : text + "000000".slice(digits);
}

export const typeParsers = {
  getTypeParser(oid: number, format?: "text" | "binary"): (value: string) => unknown {
    if (oid === OID_INT8 || oid === OID_NUMERIC) return Number;
    if (oid === OID_TIMESTAMP) return normaliseTimestamp;
    if (oid === OID_TIMESTAMPTZ) return (v: string) => v;
    return pg.types.getTypeParser(oid, format ?? "text") as (value: string) => unknown;
  },
};

/**
 * A connection's socket. The login needs node:crypto, which the CLI's bundle loads on first use
 * (pgLazyCrypto.ts): it loads once the startup message is sent, while the server starts a
 * backend for us (10–20 ms here), instead of after the server asks for the password.
 */
function loginSocket(): net.Socket {
  const socket = new net.Socket();
  socket.once("connect", () => setImmediate(() => process.getBuiltinModule?.("node:crypto")));
  return socket;
}

/** Why a connection could not be made, in words that say what to fix. */
export function explainConnectError(err: unknown, location: string): string {
  const code = pgCode(err);
  const text = pgErrorText(err);
  // PgBouncer, by default, refuses the session settings sent at login (PoolConfig.options).
  if (code === "08P01" && /unsupported startup parameter/i.test(text)) {
    return `cannot connect to PostgreSQL at ${location}: ${text}: a connection pooler (PgBouncer?) refused the session settings parsl-ts sends at login (options=-c jit=off …); add "ignore_startup_parameters = options" to its configuration, and give readers a read-only role (parsl-ts db roles), since the pooler then drops the read-only session setting too`;
  }
  switch (code) {
    case "ECONNREFUSED":
      return `cannot connect to PostgreSQL at ${location}: connection refused (is the server running and listening there?)`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `cannot connect to PostgreSQL at ${location}: unknown host`;
    case "28P01":
      return `cannot log in to PostgreSQL at ${location}: ${text} (wrong password?)`;
    case "28000":
      return `cannot log in to PostgreSQL at ${location}: ${text}`;
    case "3D000":
      return `PostgreSQL database at ${location} does not exist: ${text} (create it, or name another in the URL)`;
    case "42501":
      return `PostgreSQL at ${location} refused access: ${text}`;
    default:
      return `cannot connect to PostgreSQL at ${location}: ${text}`;
  }
}

class PgQueryable implements Queryable {
  readonly dialect = postgresDialect;
  constructor(protected readonly target: pg.Pool | pg.PoolClient) {}

  async all<T = Row>(query: Sql): Promise<T[]> {
    const { text, values } = query.compile(postgresDialect.placeholder);
    return (await this.target.query(text, values)).rows as T[];
  }

  async first<T = Row>(query: Sql): Promise<T | undefined> {
    return (await this.all<T>(query))[0];
  }

  async run(query: Sql): Promise<number> {
    const { text, values } = query.compile(postgresDialect.placeholder);
    return (await this.target.query(text, values)).rowCount ?? 0;
  }
}

export class PostgresConnection extends PgQueryable implements Connection {
  private constructor(
    private readonly pool: pg.Pool,
    readonly location: string,
    readonly readonly: boolean,
  ) {
    super(pool);
  }

  /** The pool settings for a URL; libpq's PG* variables and ~/.pgpass fill what the URL leaves out. */
  static poolConfig(url: string, options: ConnectOptions = {}): pg.PoolConfig {
    return {
      connectionString: url.replace(/^postgres(ql)?\+[a-z0-9_]+:/i, "postgresql:"),
      max: options.poolSize ?? 4,
      application_name: options.applicationName ?? "parsl-ts",
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      idleTimeoutMillis: 30_000,
      types: typeParsers,
      stream: loginSocket,
      // jit off: our statements are short inserts and aggregations that run in milliseconds to a few
      // hundred; JIT compiling them (the server's default above a plan cost) added ~0.8 s to each.
      options: options.readonly ? "-c jit=off -c default_transaction_read_only=on" : "-c jit=off",
    };
  }

  /** Connects once to check the endpoint, so a wrong password or a missing database fails here, not later. */
  static async open(url: string, location: string, options: ConnectOptions = {}): Promise<PostgresConnection> {
    let config: pg.PoolConfig;
    try {
      config = PostgresConnection.poolConfig(url, options);
    } catch (err) {
      throw new ConnectionError(`PostgreSQL endpoint ${location} is malformed: ${pgErrorText(err)}`);
    }
    const pool = new pg.Pool(config);
    // An idle client that loses its server (restart, network) emits here; the next query reconnects.
    pool.on("error", () => undefined);
    try {
      const client = await pool.connect();
      client.release();
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new ConnectionError(explainConnectError(err, location));
    }
    return new PostgresConnection(pool, location, options.readonly ?? false);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.begin(this.readonly ? "BEGIN READ ONLY" : "BEGIN", fn);
  }

  snapshot<T>(fn: (view: Connection) => Promise<T>): Promise<T> {
    return this.begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", (tx) =>
      fn(new BoundConnection(tx, this.location, this.readonly)),
    );
  }

  private async begin<T>(statement: string, fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // A checked-out client has no error listener of the pool's: without one, a server that goes
    // away between two statements would crash the process instead of failing the next statement.
    const onError = (): void => undefined;
    client.on("error", onError);
    let broken = false;
    try {
      await client.query(statement);
      const value = await fn(new PgQueryable(client));
      await client.query("COMMIT");
      return value;
    } catch (err) {
      try {
        await client.query("ROLLBACK");
      } catch {
        broken = true; // the connection is gone: do not return it to the pool
      }
      throw err;
    } finally {
      client.removeListener("error", onError);
      client.release(broken || undefined);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
