/**
 * Errors as plain data, for crossing thread and process boundaries. Custom error classes
 * do not survive structured cloning with their names; this keeps name, message, stack and
 * the fields our own errors carry, and rebuilds parsl-ts error classes on arrival.
 */
import { BashExitFailure, ParslError, SerializationError, WalltimeExceeded } from "../errors.js";

export interface WireError {
  name: string;
  message: string;
  stack?: string;
  exitCode?: number;
  appName?: string;
  walltime?: number;
}

export function errorToWire(e: unknown): WireError {
  if (!(e instanceof Error)) return { name: "Error", message: `non-Error value thrown: ${safeString(e)}` };
  const w: WireError = { name: e.name, message: e.message };
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
  if (x.name === "BashExitFailure" && typeof x.exitCode === "number") e = new BashExitFailure(String(x.appName), x.exitCode);
  else if (x.name === "WalltimeExceeded" && typeof x.walltime === "number") e = new WalltimeExceeded(String(x.appName), x.walltime);
  else if (x.name === "SerializationError") e = new SerializationError(x.message);
  else {
    e = new Error(x.message);
    e.name = typeof x.name === "string" && x.name ? x.name : "Error";
  }
  if (typeof x.stack === "string") e.stack = x.stack;
  return e;
}

function safeString(v: unknown): string {
  try {
    return typeof v === "string" ? v : JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
