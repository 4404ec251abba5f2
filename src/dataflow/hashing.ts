/**
 * Canonical encoding of app calls, for memoization hashsums and lineage hashes.
 *
 * The encoding is a byte string built from type-tagged values, so that values that differ
 * in type never collide (`1` vs `"1"`), and object keys are sorted so that key order does
 * not matter. It is documented in docs/HASHING.md; changing it changes every stored hash.
 *
 *   string    s<utf16 length>:<chars>  (S<md5 of the chars>; from 1024 chars on)
 *   number  n<String(n)>     bigint  b<digits>
 *   boolean   T | F                          null    N                undefined  U
 *   array     l<length>[<items>]             plain object  d<n>{<key><value>…} keys sorted
 *   File      F<url>                         Date    D<ISO string>    Uint8Array  B<hex>
 *   function  f<name>   (the app's identity is its name, as in Parsl: edits to the body do not change the hash)
 *
 * Anything else (class instances, Maps, symbols…) has no canonical encoding: hashing it
 * fails with a MemoizationError naming the value's type.
 */
import { createHash } from "node:crypto";
import type { AppSpec, CallOptions, StreamSpec } from "../apps/app.js";
import { AUTO_LOGNAME, File } from "../apps/files.js";
import { MemoizationError } from "../errors.js";
import { AppFuture, DataFuture } from "../apps/futures.js";

/** Strings at least this long are encoded by their digest (`S<md5>;`), computed once per string. */
export const LONG_STRING = 1024;
const longDigests = new Map<string, string>();

/** md5 of a long string, remembered for the last few strings seen (a big input is often passed to many tasks). */
function longStringDigest(v: string): string {
  let d = longDigests.get(v);
  if (d === undefined) {
    d = createHash("md5").update(v).digest("hex");
    if (longDigests.size >= 32) longDigests.delete(longDigests.keys().next().value!);
    longDigests.set(v, d);
  }
  return d;
}

export function encodeValue(v: unknown, out: string[], futures?: (f: AppFuture<unknown> | DataFuture) => string): void {
  switch (typeof v) {
    case "string":
      if (v.length >= LONG_STRING) out.push(`S${longStringDigest(v)};`);
      else out.push(`s${v.length}:`, v);
      return;
    case "number":
      out.push(`n${Object.is(v, -0) ? "-0" : String(v)};`);
      return;
    case "bigint":
      out.push(`b${v.toString()};`);
      return;
    case "boolean":
      out.push(v ? "T" : "F");
      return;
    case "undefined":
      out.push("U");
      return;
    case "function":
      out.push(`f${v.name.length}:${v.name}`);
      return;
    case "symbol":
      throw new MemoizationError(`unknown type for memoization: symbol (${String(v)})`);
    case "object":
      break; // null, futures, arrays, files, dates, bytes and plain objects: below
  }
  if (v === null) {
    out.push("N");
    return;
  }
  if (futures && (v instanceof AppFuture || v instanceof DataFuture)) {
    out.push(futures(v));
    return;
  }
  if (Array.isArray(v)) {
    out.push(`l${v.length}[`);
    for (const x of v) encodeValue(x, out, futures);
    out.push("]");
    return;
  }
  if (v instanceof File) {
    out.push(`F${v.url.length}:`, v.url);
    return;
  }
  if (v instanceof Date) {
    out.push(`D${v.toISOString()};`);
    return;
  }
  if (v instanceof Uint8Array) {
    out.push(`B${v.length}:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex")}`);
    return;
  }
  const proto = Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null;
  if (proto === Object.prototype || proto === null) {
    const keys = Object.keys(v).sort();
    out.push(`d${keys.length}{`);
    for (const k of keys) {
      out.push(`s${k.length}:`, k);
      encodeValue((v as Record<string, unknown>)[k], out, futures);
    }
    out.push("}");
    return;
  }
  const name = proto.constructor?.name ?? "object";
  throw new MemoizationError(`unknown type for memoization: ${name}`);
}

export function md5Hex(parts: readonly string[]): string {
  const h = createHash("md5");
  for (const p of parts) h.update(p);
  return h.digest("hex");
}

/** The parts of a call that memoization and lineage hash. */
export interface CallShape {
  appName: string;
  args: readonly unknown[];
  /** Named call options (inputs, outputs, stdout…) that take part in the hash. */
  kwargs: Record<string, unknown>;
  /** `outputs`, hashed first (as in Parsl). */
  outputs: readonly unknown[] | undefined;
}

function encodeCall(call: CallShape, futures?: (f: AppFuture<unknown> | DataFuture) => string): string[] {
  const out: string[] = [];
  if (call.outputs !== undefined) encodeValue(call.outputs, out, futures);
  encodeValue(call.kwargs, out, futures);
  out.push(`f${call.appName.length}:${call.appName}`);
  encodeValue(call.args, out, futures);
  return out;
}

/** Parsl's `task_hashsum`: md5 over the resolved call. Throws MemoizationError for unencodable values. */
export function hashsum(call: CallShape): string {
  return md5Hex(encodeCall(call));
}

/**
 * The lineage hash: known at call time. Each future is replaced by its producer's lineage
 * hash (and a DataFuture also by its file), so two calls that will compute the same thing
 * share it while they still wait. Returns null when an argument has no encoding (a plain
 * promise, a class instance) or a producer has no lineage hash.
 */
export function lineageHash(call: CallShape): string | null {
  let unknown = false;
  const futures = (f: AppFuture<unknown> | DataFuture): string => {
    const producer = f instanceof DataFuture ? f.producer : f;
    const lh = producer.lineageHash;
    if (lh === null) unknown = true;
    return f instanceof DataFuture ? `A${lh}>F${f.file.url.length}:${f.file.url}` : `A${lh};`;
  };
  try {
    const parts = encodeCall(call, futures);
    if (unknown) return null;
    parts.unshift("lineage:1;");
    return md5Hex(parts);
  } catch {
    return null;
  }
}

/** What memoization and lineage hash of a call (spec §4.3): options minus ignored names, app, arguments. */
export function callShape(
  app: AppSpec,
  args: readonly unknown[],
  call: CallOptions<readonly unknown[]>,
  outputs: File[],
): CallShape {
  const kwargs: Record<string, unknown> = {};
  const ignore = new Set(app.ignoreForCache);
  if (call.stdout === AUTO_LOGNAME) ignore.add("stdout");
  if (call.stderr === AUTO_LOGNAME) ignore.add("stderr");
  const put = (k: string, v: unknown) => {
    if (v !== undefined && !ignore.has(k)) kwargs[k] = v;
  };
  put("inputs", call.inputs);
  put("stdout", streamKey(call.stdout));
  put("stderr", streamKey(call.stderr));
  put("stdin", call.stdin ?? undefined);
  put("walltime", call.walltime);
  put("resourceSpecification", call.resourceSpecification);
  const positional = ignore.size > 0 ? args.map((a, i) => (ignore.has(String(i)) ? null : a)) : args;
  return {
    appName: app.name,
    args: positional,
    kwargs,
    outputs: call.outputs !== undefined && !ignore.has("outputs") ? outputs : undefined,
  };
}

function streamKey(s: StreamSpec): unknown {
  if (s === undefined || s === null || s === AUTO_LOGNAME) return undefined;
  if (s instanceof File) return s;
  return typeof s === "string" ? s : [s[0], s[1]];
}
