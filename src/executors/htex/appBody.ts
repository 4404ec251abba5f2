/**
 * Turns an app's source text back into a function, once per worker per source id.
 * Accepts function declarations and expressions, arrow functions, and method shorthand
 * (`name(a) { ... }`, what `String()` gives for an object literal's method).
 */
type Body = (...args: unknown[]) => unknown;

const cache = new Map<string, Body>();

export function compileBody(appName: string, sourceId: string, source: string | undefined): Body {
  const hit = cache.get(sourceId);
  if (hit) return hit;
  if (source === undefined) throw new Error(`app ${appName}: worker has no source for ${sourceId}`);
  let fn: unknown;
  try {
    fn = new Function(`return (${source});`)();
  } catch (first) {
    try {
      const holder = new Function(`return ({${source}});`)() as Record<string, unknown>;
      fn = Object.values(holder)[0];
    } catch {
      throw new Error(`app ${appName}: its source does not compile on the worker: ${(first as Error).message}`);
    }
  }
  if (typeof fn !== "function") throw new Error(`app ${appName}: its source does not evaluate to a function`);
  cache.set(sourceId, fn as Body);
  return fn as Body;
}
