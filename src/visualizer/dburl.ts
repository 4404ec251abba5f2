/**
 * Turns the DB argument of `parsl-ts visualize` into a connection target.
 * Accepts a plain file path, `sqlite:///relative` / `sqlite:////absolute` (SQLAlchemy style)
 * and recognises `postgresql://…` so that a PostgreSQL reader can be plugged in later.
 */
import path from "node:path";

export type DbTarget =
  | { readonly kind: "sqlite"; readonly path: string }
  | { readonly kind: "postgresql"; readonly url: string };

export const DEFAULT_DB = "runinfo/monitoring.db";

export function parseDbTarget(arg: string, cwd: string = process.cwd()): DbTarget {
  const value = arg.trim();
  if (value === "") throw new Error("database argument is empty");
  if (/^postgres(ql)?(\+\w+)?:\/\//i.test(value)) return { kind: "postgresql", url: value };
  const m = /^sqlite:\/\/(.*)$/i.exec(value);
  if (m) {
    // SQLAlchemy: sqlite:///rel/path and sqlite:////abs/path; the part after the third slash is the path.
    const rest = m[1] ?? "";
    if (!rest.startsWith("/")) throw new Error(`invalid SQLite URL ${JSON.stringify(value)}: expected sqlite:///<path>`);
    const p = rest.slice(1);
    if (p === "" || p === ":memory:") throw new Error(`invalid SQLite URL ${JSON.stringify(value)}: no file path`);
    return { kind: "sqlite", path: path.resolve(cwd, p) };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw new Error(`unsupported database URL scheme in ${JSON.stringify(value)} (use a file path, sqlite:///… or postgresql://…)`);
  }
  return { kind: "sqlite", path: path.resolve(cwd, value) };
}
