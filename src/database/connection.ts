/**
 * The async seam every database user goes through: the writer's stores, the visualizer's
 * reader, the `parsl-ts db` commands and the query tools. SQLite's driver is synchronous
 * underneath (better-sqlite3); wrapping it in promises costs little and lets PostgreSQL share
 * every caller. Values come back normalised so callers never branch on the dialect:
 * DATETIME columns as Parsl's text `YYYY-MM-DD HH:MM:SS.ffffff`, integers (COUNT, SUM, BIGINT)
 * as numbers.
 */
import type { Dialect } from "./dialect.js";
import { describeEndpoint, parseEndpoint, type Endpoint } from "./endpoint.js";
import type { Sql } from "./sql.js";

export type Row = Record<string, unknown>;

export interface Queryable {
  readonly dialect: Dialect;
  /** Every row of a query. */
  all<T = Row>(query: Sql): Promise<T[]>;
  /** The first row, or undefined. */
  first<T = Row>(query: Sql): Promise<T | undefined>;
  /** Runs a statement; resolves to the number of rows it changed. */
  run(query: Sql): Promise<number>;
}

export interface Connection extends Queryable {
  /** The endpoint as the user should recognise it (password redacted). */
  readonly location: string;
  readonly readonly: boolean;
  /**
   * Runs `fn` in one transaction (committed when it resolves, rolled back when it throws).
   * Other callers of this connection wait until it ends.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` over one consistent view: every read through `view` sees the same committed state,
   * however long `fn` takes and whatever writers do meanwhile (PostgreSQL: a REPEATABLE READ,
   * READ ONLY transaction; SQLite in WAL mode: one read transaction — in rollback-journal mode it
   * would hold writers off, so there reads run as they come). For readers that must agree with
   * themselves across many queries, such as an export of a live run.
   */
  snapshot<T>(fn: (view: Connection) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * A Connection bound to one open transaction (what `snapshot` hands out): transactions and
 * snapshots inside it simply run in it; closing it is its owner's business.
 */
export class BoundConnection implements Connection {
  constructor(
    private readonly tx: Queryable,
    readonly location: string,
    readonly readonly: boolean,
  ) {}
  get dialect(): Dialect {
    return this.tx.dialect;
  }
  all<T = Row>(query: Sql): Promise<T[]> {
    return this.tx.all<T>(query);
  }
  first<T = Row>(query: Sql): Promise<T | undefined> {
    return this.tx.first<T>(query);
  }
  run(query: Sql): Promise<number> {
    return this.tx.run(query);
  }
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return fn(this);
  }
  snapshot<T>(fn: (view: Connection) => Promise<T>): Promise<T> {
    return fn(this);
  }
  async close(): Promise<void> {}
}

export interface ConnectOptions {
  /** Open for reading only: SQLite opens the file read-only; PostgreSQL sessions are read-only. */
  readonly readonly?: boolean;
  /** PostgreSQL: most connections kept open at once (default 4). */
  readonly poolSize?: number;
  /** PostgreSQL: `application_name` shown in pg_stat_activity. */
  readonly applicationName?: string;
}

export { ConnectionError } from "./errors.js";

/** Opens a connection to an endpoint (a path, `sqlite:///…` or `postgresql://…`). Fails fast with a clear message. */
export async function connect(endpoint: string | Endpoint, options: ConnectOptions = {}): Promise<Connection> {
  const e = typeof endpoint === "string" ? parseEndpoint(endpoint) : endpoint;
  if (e.kind === "sqlite") {
    const { SqliteConnection } = await import("./sqlite/connection.js");
    return SqliteConnection.open(e.path, options);
  }
  const { PostgresConnection } = await import("./postgres/connection.js");
  return PostgresConnection.open(e.url, describeEndpoint(e), options);
}

/** How readers connect: read-only (SQLite opens the file read-only; PostgreSQL sessions default to read-only transactions). */
export function readerConnectOptions(options: { poolSize?: number; applicationName?: string } = {}): ConnectOptions {
  return {
    readonly: true,
    ...(options.poolSize !== undefined ? { poolSize: options.poolSize } : {}),
    applicationName: options.applicationName ?? "parsl-ts reader",
  };
}
