/**
 * The dialect-neutral face of the monitoring database: what the writer process needs, and
 * nothing more: sqlite/store.ts and postgres/store.ts implement it.
 * One Store writes one run (`runId`); several runs may share one database.
 */
import type { Micros, MonitoringEvent } from "../vocabulary/events.js";
import { describeEndpoint, parseEndpoint, type Endpoint } from "./endpoint.js";

/** How a store tells its owner about trouble it is handling itself. */
export interface StoreNotices {
  /** Something the user should know (a lock episode started, rows were rejected). */
  warning(message: string): void;
  /** Something resolved, or worth a line in the log. */
  note(message: string): void;
}

export interface BatchOutcome {
  /** Row writes executed (inserts, upserts and updates). */
  readonly rows: number;
  /** One message per row the database refused; every other row of the batch was written. */
  readonly rejected: readonly string[];
}

export interface Store {
  /** Where the data goes, for messages. */
  readonly location: string;
  /** Creates missing tables, columns and indexes; upgrades a Python Parsl database in place. Retries on lock. */
  ensureSchema(): Promise<void>;
  /**
   * Writes a batch in one transaction. Retries on lock (and other passing trouble) for as long as
   * it lasts; never drops the batch. Throws PermanentStoreError when waiting cannot help.
   */
  applyBatch(events: readonly MonitoringEvent[]): Promise<BatchOutcome>;
  /**
   * The part of applyBatch that needs no database (planning the rows, encoding them), so that the
   * writer can do it for the next batch while this one is on the server.
   * `applyBatch(events)` is `applyPrepared(prepare(events))`.
   */
  prepare(events: readonly MonitoringEvent[]): Promise<PreparedBatch>;
  /** Writes a prepared batch, as applyBatch. Calls must not overlap: the caller awaits one before the next. */
  applyPrepared(batch: PreparedBatch): Promise<BatchOutcome>;
  /** Refreshes `workflow.last_heartbeat` of a live run. Best effort: skipped while locked. */
  heartbeat(now: Micros): Promise<void>;
  /**
   * Marks the run crashed (time_completed = now, run_status = 'crashed') if it was started
   * and never ended. Returns whether a row was changed.
   */
  markCrashed(now: Micros): Promise<boolean>;
  /** Folds the write-ahead log back into the database file, where the dialect has one (PostgreSQL: nothing to do). */
  checkpoint(): Promise<void>;
  close(): void;
}

/** A batch made ready to write by one store's `prepare`; only that store can write it. */
export interface PreparedBatch {
  /** Number of events it was made from. */
  readonly events: number;
}

export class StoreOpenError extends Error {
  override readonly name = "StoreOpenError";
}

/** A write failed in a way that a retry would meet again (a read-only or corrupt file, a dropped table). */
export class PermanentStoreError extends Error {
  override readonly name = "PermanentStoreError";
}

/** Opens the store for an endpoint's kind and sets its schema up; fails fast, naming the endpoint (password redacted). */
export async function openStore(endpoint: string | Endpoint, runId: string, notices: StoreNotices): Promise<Store> {
  const e = typeof endpoint === "string" ? parseEndpoint(endpoint) : endpoint;
  let store: Store;
  if (e.kind === "sqlite") {
    const { SqliteStore } = await import("./sqlite/store.js");
    store = SqliteStore.open(e.path, runId, notices);
  } else {
    const { PostgresStore } = await import("./postgres/store.js");
    store = await PostgresStore.open(e.url, describeEndpoint(e), runId, notices);
  }
  try {
    await store.ensureSchema();
  } catch (err) {
    store.close();
    throw err;
  }
  return store;
}
