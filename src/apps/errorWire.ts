/**
 * Errors as plain data, for crossing thread and process boundaries. Custom error classes
 * do not survive structured cloning with their names; this keeps name, message, stack and
 * the fields our own errors carry, and rebuilds parsl-ts error classes on arrival.
 */
import { BashExitFailure, ParslError, SerializationError, WalltimeExceeded } from "../errors.js";

export interface WireError {
  name: string;
  /** The error's class name, when it differs from `name` (a user's own Error subclass, such as MyError). */
  type?: string;
  message: string;
  stack?: string;
  exitCode?: number;
  appName?: string;
  walltime?: number;
}

export function errorToWire(e: unknown): WireError {
  if (!(e instanceof Error)) return { name: "Error", message: `non-Error value thrown: ${safeString(e)}` };
  const w: WireError = { name: e.name, message: e.message };
  const type = errorTypeOf(e);
  if (type !== e.name) w.type = type;
  if (e.stack !== undefined) w.stack = e.stack;
  if (e instanceof BashExitFailure) Object.assign(w, { exitCode: e.exitCode, appName: e.appName });
  if (e instanceof WalltimeExceeded) Object.assign(w, { walltime: e.walltime, appName: e.appName });
  return w;
}

export function errorFromWire(w: unknown): Error {
  if (w === null || typeof w !== "object" || typeof (w as WireError).message !== "string") {
    return new ParslError(`malformed error from a worker: ${safeString(w)}`);
  }
  const x = w as WireError;
  let e: Error;
  if (x.name === "BashExitFailure" && typeof x.exitCode === "number")
    e = new BashExitFailure(String(x.appName), x.exitCode);
  else if (x.name === "WalltimeExceeded" && typeof x.walltime === "number")
    e = new WalltimeExceeded(String(x.appName), x.walltime);
  else if (x.name === "SerializationError") e = new SerializationError(x.message);
  else {
    e = new Error(x.message);
    e.name = typeof x.name === "string" && x.name ? x.name : "Error";
  }
  if (typeof x.stack === "string") e.stack = x.stack;
  if (typeof x.type === "string" && x.type !== e.name) Object.defineProperty(e, ERROR_TYPE, { value: x.type });
  return e;
}

const ERROR_TYPE = Symbol("parsl-ts error class");

/**
 * The error's class name (`try.task_try_error_type`): its constructor's name unless that is the
 * plain `Error` (then its `name`, which is how an error rebuilt from the wire keeps its class).
 */
export function errorTypeOf(e: Error): string {
  const carried = (e as { [ERROR_TYPE]?: unknown })[ERROR_TYPE];
  if (typeof carried === "string") return carried;
  const ctor = (e as { constructor?: { name?: unknown } }).constructor?.name;
  if (typeof ctor === "string" && ctor !== "" && ctor !== "Error") return ctor;
  return typeof e.name === "string" && e.name !== "" ? e.name : "Error";
}

function safeString(v: unknown): string {
  try {
    return typeof v === "string" ? v : (JSON.stringify(v) ?? String(v));
  } catch {
    return String(v);
  }
}
