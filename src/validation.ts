/**
 * Checking of user options objects (Config, MonitoringHub, executors, providers, launchers,
 * apps). Untyped JavaScript callers can pass anything, so every object is checked at run time:
 * an unknown name is refused with the known options and, for a near miss (Parsl's snake_case,
 * an old Parsl name, a typo), a suggestion; each value is checked for type and range. Messages
 * name the object (`HighThroughputExecutor(htex)`), the field and what was expected.
 */
import { ConfigurationError } from "./errors.js";

/** Builds the error for `field` (e.g. `SlurmProvider.walltime`) and its problem. */
export type ErrorMaker = (field: string, problem: string) => Error;

const configurationError: ErrorMaker = (field, problem) => new ConfigurationError(field, problem);

export interface OptionsSpec {
  /** The object's class or function name, e.g. `ThreadPoolExecutor`. */
  readonly kind: string;
  readonly known: readonly string[];
  /** Other names users reach for (Parsl's old names), mapped to the option they mean. */
  readonly aliases?: Readonly<Record<string, string>>;
  /** Names that are options elsewhere, with a sentence saying where (e.g. Parsl's Config.strategy). */
  readonly elsewhere?: Readonly<Record<string, string>>;
  /** For objects with a `label` option: the default label. The object is then named `kind(label)`. */
  readonly defaultLabel?: string;
  /** Default: ConfigurationError. */
  readonly error?: ErrorMaker;
}

/** Reads and checks one options object. Each reader returns the value or the default for `undefined`. */
export class Options {
  /** The object as messages name it: `kind`, or `kind(label)` for labelled objects. */
  readonly name: string;
  private readonly values: Readonly<Record<string, unknown>>;
  private readonly makeError: ErrorMaker;

  constructor(spec: OptionsSpec, options: unknown) {
    this.makeError = spec.error ?? configurationError;
    if (options === undefined) options = {};
    if (options === null || typeof options !== "object" || Array.isArray(options)) {
      throw this.makeError(`${spec.kind} options`, `must be an object, got ${describeValue(options)}`);
    }
    const values = options as Record<string, unknown>;
    let name = spec.kind;
    if (spec.defaultLabel !== undefined) {
      const label = values.label === undefined ? spec.defaultLabel : values.label;
      if (typeof label === "string" && label !== "") name = `${spec.kind}(${label})`;
    }
    this.name = name;
    this.values = values;
    for (const key of Object.keys(values)) {
      if (!spec.known.includes(key)) throw this.makeError(`${name}.${key}`, unknownOptionProblem(key, spec));
    }
  }

  /** Throws the object's error for `key`. */
  fail(key: string, problem: string): never {
    throw this.makeError(`${this.name}.${key}`, problem);
  }

  /** The raw value, for checks the readers below do not cover. */
  raw(key: string): unknown {
    return this.values[key];
  }

  /** `expected` describes what is accepted, e.g. "a positive number of seconds". */
  check<T>(key: string, dflt: T, accept: (v: unknown) => boolean, expected: string): T {
    const v = this.values[key];
    if (v === undefined) return dflt;
    if (!accept(v)) this.fail(key, `must be ${expected}, got ${describeValue(v)}`);
    return v as T;
  }

  string(key: string, dflt: string, pattern?: { re: RegExp; expected: string }): string {
    return this.check(
      key,
      dflt,
      (v) => typeof v === "string" && v !== "" && (pattern === undefined || pattern.re.test(v)),
      pattern?.expected ?? "a non-empty string",
    );
  }

  /** A string or null (the default); `undefined` and null both give null. */
  optionalString(key: string, pattern?: { re: RegExp; expected: string }): string | null {
    if (this.values[key] === null) return null;
    const expected = `${pattern?.expected ?? "a non-empty string"} or null`;
    return this.check<string | null>(
      key,
      null,
      (v) => typeof v === "string" && v !== "" && (pattern === undefined || pattern.re.test(v)),
      expected,
    );
  }

  /** Any string, including "" (e.g. lines of shell). */
  text(key: string, dflt: string): string {
    return this.check(key, dflt, (v) => typeof v === "string", "a string");
  }

  boolean(key: string, dflt: boolean): boolean {
    return this.check(key, dflt, (v) => typeof v === "boolean", "true or false");
  }

  /** An integer in [min, max] (max optional). */
  integer(key: string, dflt: number, min: number, max?: number): number {
    const expected = max === undefined ? `an integer ≥ ${min}` : `an integer from ${min} to ${max}`;
    return this.check(
      key,
      dflt,
      (v) => Number.isInteger(v) && (v as number) >= min && (max === undefined || (v as number) <= max),
      expected,
    );
  }

  /** A finite number ≥ min, or > min when `above` is set; ≤ max when given. */
  number(key: string, dflt: number, range: { min: number; above?: boolean; max?: number; unit?: string }): number {
    const { min, above = false, max, unit } = range;
    const lower = above ? (min === 0 ? "a positive number" : `a number > ${min}`) : `a number ≥ ${min}`;
    const expected = (max === undefined ? lower : `a number from ${min} to ${max}`) + (unit ? ` (${unit})` : "");
    return this.check(
      key,
      dflt,
      (v) =>
        typeof v === "number" && Number.isFinite(v) && (above ? v > min : v >= min) && (max === undefined || v <= max),
      expected,
    );
  }

  /** A number (as `number` checks it) or null (the default). */
  optionalNumber(key: string, range: { min: number; above?: boolean }): number | null {
    if (this.values[key] === null || this.values[key] === undefined) return null;
    const { min, above = false } = range;
    const expected = `${above ? (min === 0 ? "a positive number" : `a number > ${min}`) : `a number ≥ ${min}`} or null`;
    return this.check<number | null>(
      key,
      null,
      (v) => typeof v === "number" && Number.isFinite(v) && (above ? v > min : v >= min),
      expected,
    );
  }

  oneOf<T extends string>(key: string, dflt: T, allowed: readonly T[]): T {
    return this.check(
      key,
      dflt,
      (v) => typeof v === "string" && (allowed as readonly string[]).includes(v),
      `one of ${allowed.join(", ")}`,
    );
  }
}

/**
 * The problem text for an unknown option name: `is not an option; did you mean initBlocks?
 * Known options: …`. Exported for hot paths that check names without an `Options` object.
 */
export function unknownOptionProblem(
  key: string,
  spec: Pick<OptionsSpec, "kind" | "known" | "aliases" | "elsewhere">,
): string {
  if (spec.known.length === 0) return `is not an option: ${spec.kind} takes no options`;
  const known = `Known options: ${spec.known.join(", ")}`;
  const where = findByName(key, Object.keys(spec.elsewhere ?? {}));
  if (where !== undefined) return `is not an option of ${spec.kind}: ${spec.elsewhere![where]}. ${known}`;
  const hint = suggestOption(key, spec.known, spec.aliases);
  return hint === null ? `is not an option. ${known}` : `is not an option; did you mean ${hint}? ${known}`;
}

/** Spellings that differ only in case, `_` or `-` are the same name (`init_blocks` = `initBlocks`). */
function normalize(name: string): string {
  return name.toLowerCase().replace(/[_-]/g, "");
}

function findByName(key: string, names: readonly string[]): string | undefined {
  const n = normalize(key);
  return names.find((k) => normalize(k) === n);
}

/**
 * The known option a user probably meant by `key`, or null: an alias (Parsl's old name), the
 * same name in another spelling, a close typo, or the unique option it is the start of.
 */
export function suggestOption(
  key: string,
  known: readonly string[],
  aliases: Readonly<Record<string, string>> = {},
): string | null {
  const alias = findByName(key, Object.keys(aliases));
  if (alias !== undefined) return aliases[alias]!;
  const same = findByName(key, known);
  if (same !== undefined) return same;
  const n = normalize(key);
  if (n.length === 0) return null;
  const allowed = n.length <= 4 ? 1 : n.length <= 8 ? 2 : 3;
  let best: string | null = null;
  let bestDistance = allowed + 1;
  for (const k of known) {
    const d = editDistance(n, normalize(k));
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  if (best !== null) return best;
  const extended = n.length >= 4 ? known.filter((k) => normalize(k).startsWith(n)) : [];
  return extended.length === 1 ? extended[0]! : null;
}

/** Edits (insert, delete, substitute, swap two neighbours) turning a into b. */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    rows.push([i]);
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        rows[0]!.push(j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]!.push(d);
    }
  }
  return rows[a.length]![b.length]!;
}

/** A value as a message shows it: JSON for plain data, a word for the rest. */
export function describeValue(v: unknown): string {
  if (v === undefined) return "undefined";
  if (typeof v === "function") return "a function";
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "symbol") return v.toString();
  if (typeof v === "number") return String(v); // NaN and Infinity, which JSON would print as null
  if (v !== null && typeof v === "object" && !Array.isArray(v)) {
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null)
      return `a ${(v as { constructor?: { name?: string } }).constructor?.name || "object"}`;
  }
  try {
    const s = JSON.stringify(v);
    return s.length > 80 ? `${s.slice(0, 77)}...` : s;
  } catch {
    return Object.prototype.toString.call(v);
  }
}
