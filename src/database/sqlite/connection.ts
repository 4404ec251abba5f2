/**
 * The SQLite driver: better-sqlite3 (synchronous) behind the async Connection seam. Statements
 * are prepared once per text. A transaction holds the connection: other callers wait for it.
 */
import fs from "node:fs";
import Database from "better-sqlite3";
import {
  BoundConnection,
  ConnectionError,
  type ConnectOptions,
  type Connection,
  type Queryable,
  type Row,
} from "../connection.js";
import type { Sql } from "../sql.js";
import { sqliteDialect, sqliteErrorText } from "./dialect.js";

type Statement = Database.Statement<unknown[]>;
const STATEMENT_CACHE = 200;
const BUSY_TIMEOUT_MS = 5000;

class SqliteQueryable implements Queryable {
  readonly dialect = sqliteDialect;
  private readonly cache = new Map<string, Statement>();
  constructor(protected readonly db: Database.Database) {}

  protected prepare(query: Sql): { stmt: Statement; values: unknown[] } {
    const { text, values } = query.compile(() => "?");
    let stmt = this.cache.get(text);
    if (!stmt) {
      stmt = this.db.prepare(text);
      if (this.cache.size >= STATEMENT_CACHE) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(text, stmt);
    }
    return { stmt, values: values.map(toSqlite) };
  }

  async all<T = Row>(query: Sql): Promise<T[]> {
    const { stmt, values } = this.prepare(query);
    return stmt.all(...values) as T[];
  }

  async first<T = Row>(query: Sql): Promise<T | undefined> {
    const { stmt, values } = this.prepare(query);
    return stmt.get(...values) as T | undefined;
  }

  async run(query: Sql): Promise<number> {
    const { stmt, values } = this.prepare(query);
    return stmt.run(...values).changes;
  }
}

/** better-sqlite3 binds numbers, strings, bigints, buffers and null; booleans become 1/0 as SQLAlchemy stores them. */
function toSqlite(v: unknown): unknown {
  if (typeof v === "boolean") return v ? 1 : 0;
  if (v === undefined) return null;
  return v;
}

export class SqliteConnection extends SqliteQueryable implements Connection {
  private queue: Promise<unknown> = Promise.resolve();
  private inTransaction = false;

  private constructor(
    db: Database.Database,
    readonly location: string,
    readonly readonly: boolean,
  ) {
    super(db);
  }

  static open(file: string, options: ConnectOptions = {}): SqliteConnection {
    const readonly = options.readonly ?? false;
    if (readonly && !fs.existsSync(file)) throw new ConnectionError(`monitoring database ${file} does not exist`);
    let db: Database.Database;
    try {
      db = new Database(file, { readonly, fileMustExist: readonly, timeout: BUSY_TIMEOUT_MS });
    } catch (err) {
      throw new ConnectionError(`cannot open monitoring database ${file}: ${sqliteErrorText(err)}`);
    }
    return new SqliteConnection(db, file, readonly);
  }

  /**
   * A connection over a handle its owner already has open (the writer's store, which keeps the
   * synchronous handle for its hot path). The owner closes the handle, not this connection.
   */
  static wrap(db: Database.Database, location: string): SqliteConnection {
    return new SqliteConnection(db, location, db.readonly);
  }

  /** The underlying handle, for code that must stay synchronous (the writer's hot path, the visualizer's worker). */
  get handle(): Database.Database {
    return this.db;
  }

  // Outside a transaction, a call waits for any transaction in progress to end.
  override async all<T = Row>(query: Sql): Promise<T[]> {
    if (this.inTransaction) await this.queue.catch(() => undefined);
    return super.all<T>(query);
  }
  override async first<T = Row>(query: Sql): Promise<T | undefined> {
    if (this.inTransaction) await this.queue.catch(() => undefined);
    return super.first<T>(query);
  }
  override async run(query: Sql): Promise<number> {
    if (this.inTransaction) await this.queue.catch(() => undefined);
    return super.run(query);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.begin(this.readonly ? "BEGIN" : "BEGIN IMMEDIATE", fn);
  }

  /**
   * A deferred transaction: its snapshot is taken at the first read and kept to the end. Only in
   * WAL mode, where a reader never holds a writer off; in rollback-journal mode (Python Parsl's
   * databases) a long read would block the workflow's writer, so reads then run as they come.
   */
  snapshot<T>(fn: (view: Connection) => Promise<T>): Promise<T> {
    let mode = "";
    try {
      mode = String(this.db.pragma("journal_mode", { simple: true })).toLowerCase();
    } catch {
      // Not a database (or unreadable): fn's first read reports it, in the words of its caller.
    }
    if (mode !== "wal") return fn(this);
    return this.begin("BEGIN", (tx) => fn(new BoundConnection(tx, this.location, this.readonly)));
  }

  private begin<T>(statement: string, fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const result = this.queue
      .catch(() => undefined)
      .then(async () => {
        this.inTransaction = true;
        const tx = new SqliteQueryable(this.db);
        this.db.prepare(statement).run();
        try {
          const value = await fn(tx);
          this.db.prepare("COMMIT").run();
          return value;
        } catch (err) {
          if (this.db.inTransaction) this.db.prepare("ROLLBACK").run();
          throw err;
        } finally {
          this.inTransaction = false;
        }
      });
    this.queue = result;
    return result;
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    if (this.db.open) this.db.close();
  }
}
