/**
 * Monitoring database endpoints, as users give them: a plain file path, or an SQLAlchemy-style
 * URL (RFC-1738) as Parsl accepts — `sqlite:///relative.db`, `sqlite:////absolute.db`,
 * `postgresql://user@host/db`.
 */
import path from "node:path";

export type Endpoint =
  | { readonly kind: "sqlite"; readonly path: string }
  | { readonly kind: "postgresql"; readonly url: string };

export class EndpointError extends Error {
  override readonly name = "EndpointError";
}

const POSTGRES_SCHEMES = /^(postgresql|postgres)(\+[a-z0-9_]+)?:\/\//i;
const ANY_SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/**
 * Parses an endpoint. Relative SQLite paths are resolved against `cwd` (as SQLAlchemy
 * resolves them against the process's working directory), so the result is absolute.
 */
export function parseEndpoint(endpoint: string, cwd: string = process.cwd()): Endpoint {
  if (typeof endpoint !== "string" || endpoint.trim() === "") {
    throw new EndpointError(`monitoring database endpoint is empty: ${JSON.stringify(endpoint)}`);
  }
  if (POSTGRES_SCHEMES.test(endpoint)) return { kind: "postgresql", url: endpoint };

  const scheme = ANY_SCHEME.exec(endpoint);
  if (scheme) {
    if (scheme[1]!.toLowerCase() !== "sqlite") {
      throw new EndpointError(
        `unsupported monitoring database endpoint ${JSON.stringify(endpoint)}: ` +
          `expected a file path, sqlite:///relative/path.db, sqlite:////absolute/path.db or postgresql://…`,
      );
    }
    return { kind: "sqlite", path: sqliteUrlPath(endpoint, cwd) };
  }
  if (endpoint.includes("\0")) throw new EndpointError(`monitoring database path contains a NUL byte: ${JSON.stringify(endpoint)}`);
  return { kind: "sqlite", path: path.resolve(cwd, endpoint) };
}

function sqliteUrlPath(url: string, cwd: string): string {
  // sqlite:// + <empty host> + / + path; an absolute path therefore starts with a 4th slash.
  const rest = url.slice("sqlite://".length);
  if (!rest.startsWith("/")) {
    throw new EndpointError(
      `bad SQLite endpoint ${JSON.stringify(url)}: a host is not allowed; use sqlite:///relative/path.db or sqlite:////absolute/path.db`,
    );
  }
  const file = rest.slice(1);
  if (file === "" || file === ":memory:") {
    throw new EndpointError(
      `bad SQLite endpoint ${JSON.stringify(url)}: an in-memory database cannot be shared with the writer process; give a file path`,
    );
  }
  if (file.includes("?")) {
    throw new EndpointError(`bad SQLite endpoint ${JSON.stringify(url)}: query parameters are not supported`);
  }
  return path.resolve(cwd, file);
}

/** For messages: the endpoint as the user should recognise it. */
export function describeEndpoint(e: Endpoint): string {
  return e.kind === "sqlite" ? e.path : e.url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}
