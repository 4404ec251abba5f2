/**
 * A global `navigator` for as long as node-postgres loads, on Node versions without one (20).
 * At import, pg asks whether it runs in a Cloudflare Worker; without `navigator` it answers by
 * constructing a fetch `Response`, which loads Node's whole HTTP client (undici): 60–90 ms of
 * every PostgreSQL command's start here, measured. With one, the answer is immediate. Imported
 * only by `pgDriver.ts`, before pg, which removes it again once pg is loaded.
 */
const g = globalThis as { navigator?: unknown };
const added = g.navigator === undefined;
if (added) g.navigator = { userAgent: `Node.js/${process.versions.node}` };

export function removeNavigator(): void {
  if (added) delete g.navigator;
}
