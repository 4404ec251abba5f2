/**
 * Join apps: their bodies return futures, and anything awaited in JS unwraps thenables, so the
 * body's result is boxed on the way out and unboxed by the kernel; the executor hands the
 * futures back untouched.
 */
import type { AppSpec } from "../apps/app.js";

const JOIN_BOX = Symbol("join result");
type JoinBox = { [JOIN_BOX]: unknown };
const joinDefinitions = new WeakMap<AppSpec, AppSpec>();

/** The app an executor runs for a join app: the same body, its result boxed (one per app). */
export function joinDefinition(app: AppSpec): AppSpec {
  let def = joinDefinitions.get(app);
  if (!def) {
    const body = app.fn;
    const box = (v: unknown): JoinBox => ({ [JOIN_BOX]: v });
    def = {
      ...app,
      fn: function (this: unknown, ...args: unknown[]) {
        const r = body.apply(this, args);
        return r instanceof Promise ? r.then(box) : box(r);
      },
    };
    joinDefinitions.set(app, def);
  }
  return def;
}

/** What a join body returned, from the value its try finished with. */
export function unboxJoinResult(value: unknown): unknown {
  return (value as JoinBox)[JOIN_BOX];
}
