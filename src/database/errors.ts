/**
 * The database layer's error for an endpoint that cannot be reached or opened. A leaf module of its
 * own: the `parsl-ts` command maps it to an exit status with `instanceof`, so the bundled read
 * commands (scripts/bundleCli.ts) import this one copy instead of carrying their own class.
 */

/** The database cannot be reached or opened (wrong path, refused connection, bad password, missing database). */
export class ConnectionError extends Error {
  override readonly name = "ConnectionError";
}
