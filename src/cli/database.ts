/**
 * The database options every database command shares (`parsl-ts db …` and the query commands):
 * which endpoint (`--db ENDPOINT` or a positional one; default `$PARSL_TS_DB`, else
 * runinfo/monitoring.db) and opening it with errors a user can act on.
 */
import fs from "node:fs";
import { connect, type Connection } from "../database/connection.js";
import { DEFAULT_DB, describeEndpoint, parseEndpoint, type Endpoint } from "../database/endpoint.js";
import { CommandError, UsageError } from "./args.js";

/** The environment variable naming the default database. */
export const DB_ENV = "PARSL_TS_DB";

export function defaultEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  const v = env[DB_ENV];
  return v !== undefined && v.trim() !== "" ? v : DEFAULT_DB;
}

/** The endpoint from `--db` or a positional argument (not both), else the default. Malformed → UsageError. */
export function chooseEndpoint(option: string | true | undefined, positional: string | undefined): Endpoint {
  if (option === true) throw new UsageError("--db needs an endpoint");
  if (option !== undefined && positional !== undefined && option !== positional) {
    throw new UsageError(`give the database once: --db ${JSON.stringify(option)} or ${JSON.stringify(positional)}`);
  }
  const text = option ?? positional ?? defaultEndpoint();
  return parseEndpoint(text); // EndpointError: a usage error (main.ts)
}

export interface OpenOptions {
  readonly readonly: boolean;
  /** SQLite: create the file when it does not exist (default: refuse, so a typo never makes an empty database). */
  readonly create?: boolean;
  readonly applicationName?: string;
}

/** Opens an endpoint; a missing SQLite file or an unreachable server is a CommandError / ConnectionError (exit 1). */
export async function openDatabase(endpoint: Endpoint, options: OpenOptions): Promise<Connection> {
  if (endpoint.kind === "sqlite" && !options.create && !fs.existsSync(endpoint.path)) {
    throw new CommandError(`monitoring database ${describeEndpoint(endpoint)} does not exist`);
  }
  return connect(endpoint, {
    readonly: options.readonly,
    poolSize: 2,
    applicationName: options.applicationName ?? "parsl-ts db",
  });
}
