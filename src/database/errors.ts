/**
 * The database layer's error for an endpoint that cannot be reached or opened. A leaf module of its
 * own, so that every layer can throw it without importing the connection code. The `parsl-ts`
 * command maps it to exit status 1 by its name (cli/args.ts: exitStatusOf).
 */

/** The database cannot be reached or opened (wrong path, refused connection, bad password, missing database). */
export class ConnectionError extends Error {
  override readonly name = "ConnectionError";
}
