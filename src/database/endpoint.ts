/**
 * Monitoring database endpoints, as users give them: a plain file path, or an SQLAlchemy-style
 * URL (RFC-1738) as Parsl accepts — `sqlite:///relative.db`, `sqlite:////absolute.db`,
 * `postgresql://user:password@host:5432/db` (also `postgres://` and SQLAlchemy's
 * `postgresql+psycopg2://`). The one parser for the writer, the visualizer and the tools.
 */
import path from "node:path";

export type Endpoint =
  { readonly kind: "sqlite"; readonly path: string } | { readonly kind: "postgresql"; readonly url: string };

/** A malformed or unsupported endpoint. `problem` completes a sentence about the endpoint option. */
export class EndpointError extends Error {
  override readonly name = "EndpointError";
  constructor(readonly problem: string) {
    super(`monitoring database endpoint ${problem}`);
  }
}

/** The database the tools read when none is given (the default of `MonitoringHub`). */
export const DEFAULT_DB = "runinfo/monitoring.db";

const SQLITE_FORMS = "a file path, sqlite:///relative/path.db or sqlite:////absolute/path.db";
const ALL_FORMS = `${SQLITE_FORMS}, or postgresql://user@host:5432/database`;

const POSTGRES_SCHEMES = /^(postgresql|postgres)(\+[a-z0-9_]+)?:\/\//i;
const ANY_SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/**
 * Parses an endpoint. Relative SQLite paths are resolved against `cwd` (as SQLAlchemy
 * resolves them against the process's working directory), so the result is absolute.
 */
export function parseEndpoint(endpoint: string, cwd: string = process.cwd()): Endpoint {
  if (typeof endpoint !== "string" || endpoint.trim() === "") {
    throw new EndpointError(`is empty (${JSON.stringify(endpoint)}): give ${ALL_FORMS}`);
  }
  if (POSTGRES_SCHEMES.test(endpoint)) return { kind: "postgresql", url: endpoint };

  const scheme = ANY_SCHEME.exec(endpoint);
  if (scheme) {
    if (scheme[1]!.toLowerCase() !== "sqlite") {
      throw new EndpointError(
        `${JSON.stringify(endpoint)} has an unsupported scheme '${scheme[1]}': give ${ALL_FORMS}`,
      );
    }
    return { kind: "sqlite", path: sqliteUrlPath(endpoint, cwd) };
  }
  if (endpoint.includes("\0")) throw new EndpointError(`${JSON.stringify(endpoint)} contains a NUL byte`);
  return { kind: "sqlite", path: path.resolve(cwd, endpoint) };
}

function sqliteUrlPath(url: string, cwd: string): string {
  // sqlite:// + <empty host> + / + path; an absolute path therefore starts with a 4th slash.
  const rest = url.slice("sqlite://".length);
  if (rest === "" || rest === "/")
    throw new EndpointError(
      `${JSON.stringify(url)} has no file path: use sqlite:///relative/path.db or sqlite:////absolute/path.db`,
    );
  if (!rest.startsWith("/")) {
    throw new EndpointError(
      `${JSON.stringify(url)} names a host, which SQLite URLs cannot: use sqlite:///relative/path.db or sqlite:////absolute/path.db`,
    );
  }
  const file = rest.slice(1);
  if (file === ":memory:") {
    throw new EndpointError(
      `${JSON.stringify(url)} is an in-memory database, which cannot be shared with the writer process: give a file path`,
    );
  }
  if (file.includes("?")) {
    throw new EndpointError(`${JSON.stringify(url)} has query parameters, which are not supported`);
  }
  return path.resolve(cwd, file);
}

/** For messages: the endpoint as the user should recognise it, with any password hidden. */
export function describeEndpoint(e: Endpoint): string {
  if (e.kind === "sqlite") return e.path;
  return e.url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@").replace(/([?&]password=)[^&]*/i, "$1***");
}
