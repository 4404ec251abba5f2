/**
 * The filter language of the query commands (`-F`) and the `parsl-ts/query` API:
 *
 *   filter := or
 *   or     := and ("or" and)*
 *   and    := unary ("and" unary)*
 *   unary  := "not" unary | "(" or ")" | term
 *   term   := FIELD OP value | FIELD ["not"] "in" "(" value ("," value)* ")"
 *   OP     := = | != | < | <= | > | >= | ~          (~: a glob, * and ?)
 *   value  := number | duration (250ms 10s 5m 1h 2d, 1h30m) | size (512KB 2MiB 1GB) | bare word | "quoted" | 'quoted' | null
 *
 * A tokenizer and a recursive-descent parser make an AST; `compileFilter` turns it into SQL in
 * which every value is a parameter (the text of a filter never reaches the SQL text: only field
 * expressions from fields.ts and constant operators do). Errors are FilterErrors that carry the
 * offending token's position, so callers can point at it with a caret.
 */
import { globParts } from "../glob.js";
import { list, raw, sql, type Sql } from "../sql.js";
import type { ReadContext } from "./context.js";
import { closestFields, field, type Field } from "./fields.js";

export class FilterError extends Error {
  override readonly name = "FilterError";
  constructor(
    readonly problem: string,
    readonly source: string,
    readonly position: number,
    readonly length = 1,
  ) {
    super(`${problem}\n  ${source}\n  ${" ".repeat(position)}${"^".repeat(Math.max(1, length))}`);
  }
}

type TokKind = "word" | "string" | "op" | "lparen" | "rparen" | "comma" | "end";
interface Token {
  kind: TokKind;
  text: string;
  pos: number;
  len: number;
}

const OPS = ["<=", ">=", "!=", "=", "<", ">", "~"] as const;
export type CompareOp = (typeof OPS)[number];

export function tokenize(source: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "(" || c === ")" || c === ",") {
      out.push({ kind: c === "(" ? "lparen" : c === ")" ? "rparen" : "comma", text: c, pos: i, len: 1 });
      i++;
      continue;
    }
    const op = OPS.find((o) => source.startsWith(o, i));
    if (op) {
      out.push({ kind: "op", text: op, pos: i, len: op.length });
      i += op.length;
      continue;
    }
    if (c === '"' || c === "'") {
      // Quoted: a backslash escapes the next character (the quote itself, or a backslash).
      let text = "";
      let j = i + 1;
      for (; j < source.length && source[j] !== c; j++) {
        if (source[j] === "\\" && j + 1 < source.length) {
          // Kept for globs (\* is a literal star); for other values \x is x.
          text += source[j + 1] === c ? c : source[j]! + source[j + 1]!;
          j++;
        } else text += source[j]!;
      }
      if (j >= source.length) throw new FilterError("unterminated quoted value", source, i, source.length - i);
      out.push({ kind: "string", text, pos: i, len: j + 1 - i });
      i = j + 1;
      continue;
    }
    if (c === "!") throw new FilterError("'!' must be followed by '=' (use 'not' to negate)", source, i);
    let j = i;
    while (j < source.length && !/[\s()=,!<>~"']/.test(source[j]!)) j++;
    out.push({ kind: "word", text: source.slice(i, j), pos: i, len: j - i });
    i = j;
  }
  out.push({ kind: "end", text: "", pos: source.length, len: 1 });
  return out;
}

export interface ValueNode {
  readonly kind: "word" | "string";
  readonly text: string;
  readonly pos: number;
  readonly len: number;
}
export type FilterNode =
  | { readonly kind: "and" | "or"; readonly left: FilterNode; readonly right: FilterNode }
  | { readonly kind: "not"; readonly expr: FilterNode }
  | {
      readonly kind: "cmp";
      readonly field: Field;
      readonly fieldPos: number;
      readonly op: CompareOp;
      readonly value: ValueNode;
    }
  | {
      readonly kind: "in";
      readonly field: Field;
      readonly fieldPos: number;
      readonly negated: boolean;
      readonly values: readonly ValueNode[];
    };

const KEYWORDS = new Set(["and", "or", "not", "in"]);
const isKw = (t: Token, kw: string): boolean => t.kind === "word" && t.text.toLowerCase() === kw;

/** Parses a filter into its AST (fields resolved, values not yet typed). */
export function parseFilter(source: string): FilterNode {
  const toks = tokenize(source);
  let k = 0;
  const peek = (): Token => toks[k]!;
  const next = (): Token => toks[k++]!;
  const fail = (t: Token, problem: string): never => {
    throw new FilterError(problem, source, t.pos, t.kind === "end" ? 1 : t.len);
  };
  const describe = (t: Token): string => (t.kind === "end" ? "the end of the filter" : JSON.stringify(t.text));

  const value = (): ValueNode => {
    const t = next();
    if (t.kind === "string") return { kind: "string", text: t.text, pos: t.pos, len: t.len };
    if (t.kind === "word" && !KEYWORDS.has(t.text.toLowerCase()))
      return { kind: "word", text: t.text, pos: t.pos, len: t.len };
    return fail(t, `expected a value, found ${describe(t)}`);
  };

  const term = (): FilterNode => {
    const t = next();
    if (t.kind !== "word" || KEYWORDS.has(t.text.toLowerCase())) {
      return fail(
        t,
        t.kind === "end"
          ? "the filter ends where a term (FIELD OP VALUE) should start"
          : `expected a field name, found ${describe(t)}`,
      );
    }
    const fld = field(t.text);
    if (!fld) {
      const near = closestFields(t.text);
      fail(
        t,
        `unknown field ${JSON.stringify(t.text)}${near.length ? ` (did you mean ${near.map((n) => `"${n}"`).join(" or ")}?)` : ""}; 'parsl-ts tasks --list-fields' lists them`,
      );
    }
    const o = peek();
    const negated = isKw(o, "not") && isKw(toks[k + 1]!, "in");
    if (negated) next();
    if (isKw(peek(), "in")) {
      next();
      const open = next();
      if (open.kind !== "lparen") fail(open, `expected "(" after in, found ${describe(open)}`);
      const values = [value()];
      while (peek().kind === "comma") {
        next();
        values.push(value());
      }
      const close = next();
      if (close.kind !== "rparen") fail(close, `expected "," or ")" in the list, found ${describe(close)}`);
      return { kind: "in", field: fld!, fieldPos: t.pos, negated, values };
    }
    const op = next();
    if (op.kind !== "op") fail(op, `expected an operator (= != < <= > >= ~ in) after ${t.text}, found ${describe(op)}`);
    return { kind: "cmp", field: fld!, fieldPos: t.pos, op: op.text as CompareOp, value: value() };
  };

  const unary = (): FilterNode => {
    if (isKw(peek(), "not")) {
      next();
      return { kind: "not", expr: unary() };
    }
    if (peek().kind === "lparen") {
      next();
      const e = or();
      const close = next();
      if (close.kind !== "rparen") fail(close, `expected ")" or and/or, found ${describe(close)}`);
      return e;
    }
    return term();
  };
  const and = (): FilterNode => {
    let left = unary();
    while (isKw(peek(), "and")) {
      next();
      left = { kind: "and", left, right: unary() };
    }
    return left;
  };
  const or = (): FilterNode => {
    let left = and();
    while (isKw(peek(), "or")) {
      next();
      left = { kind: "or", left, right: and() };
    }
    return left;
  };

  if (peek().kind === "end") fail(peek(), "the filter is empty");
  const tree = or();
  if (peek().kind !== "end") fail(peek(), `expected and, or or the end of the filter, found ${describe(peek())}`);
  return tree;
}

const DURATION_UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };
const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
};
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** `1h30m`, `250ms`, `10s`, `2.5m` as seconds, or null. */
export function parseDuration(text: string): number | null {
  if (NUMBER.test(text)) return Number(text);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let end = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    end = re.lastIndex;
  }
  return end > 0 && end === text.length ? total : null;
}

function parseSize(text: string): number | null {
  if (NUMBER.test(text)) return Number(text);
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/i.exec(text);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  return m && unit !== undefined ? Number(m[1]) * unit : null;
}

const TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?$/;

/** A date or date-time in Parsl's stored text form (naive local, microseconds), or null. */
function parseTime(text: string): string | null {
  const m = TIME.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h = "00", mi = "00", s = "00", frac = ""] = m;
  return `${y}-${mo}-${d} ${h}:${mi}:${s}.${frac.padEnd(6, "0")}`;
}

const BOOLS: Record<string, number> = { true: 1, yes: 1, "1": 1, false: 0, no: 0, "0": 0 };

/** A value as the parameter its field's type wants; a FilterError at the value when it cannot be one. */
function typedValue(source: string, fld: Field, v: ValueNode): string | number {
  const bad = (what: string): never => {
    throw new FilterError(`${fld.name} is ${what}; ${JSON.stringify(v.text)} is not one`, source, v.pos, v.len);
  };
  switch (fld.type) {
    // In quoted text a backslash escapes the next character ("a\\b" is a\b); globs keep them (\* is a literal star).
    case "text":
      return v.kind === "string" ? v.text.replace(/\\(.)/gs, "$1") : v.text;
    case "number":
      return NUMBER.test(v.text) ? Number(v.text) : bad("a number");
    case "duration":
      return parseDuration(v.text) ?? bad("a duration (a number of seconds, or 250ms, 10s, 5m, 1h, 1h30m)");
    case "bytes":
      return parseSize(v.text) ?? bad("a size (bytes, or 512KB, 100MB, 2GiB)");
    case "bool":
      return BOOLS[v.text.toLowerCase()] ?? bad("true or false");
    case "time":
      return parseTime(v.text) ?? bad('a time (2026-11-24, "2026-11-24 21:52:07")');
  }
}

const isNull = (v: ValueNode): boolean => v.kind === "word" && v.text.toLowerCase() === "null";

/** SQL for a parsed filter: field expressions from fields.ts, every value a parameter. */
export function compileFilter(ctx: ReadContext, source: string, node: FilterNode): Sql {
  switch (node.kind) {
    case "and":
    case "or":
      return sql`(${compileFilter(ctx, source, node.left)} ${raw(node.kind === "and" ? "AND" : "OR")} ${compileFilter(ctx, source, node.right)})`;
    case "not":
      // A comparison with a missing value is unknown (NULL); NOT of it stays unknown, so "not x = 1" keeps rows where x is NULL out as SQL does.
      return sql`(NOT ${compileFilter(ctx, source, node.expr)})`;
    case "in": {
      const e = node.field.expr(ctx);
      const values = node.values.map((v) => {
        if (isNull(v)) throw new FilterError("null cannot be in a list: use FIELD = null", source, v.pos, v.len);
        return typedValue(source, node.field, v);
      });
      return sql`(${e} ${raw(node.negated ? "NOT IN" : "IN")} ${list(values)})`;
    }
    case "cmp": {
      const e = node.field.expr(ctx);
      const v = node.value;
      if (isNull(v)) {
        if (node.op === "=") return sql`(${e} IS NULL)`;
        if (node.op === "!=") return sql`(${e} IS NOT NULL)`;
        throw new FilterError(`only = and != compare with null`, source, v.pos, v.len);
      }
      if (node.op === "~") {
        if (node.field.type !== "text") {
          throw new FilterError(
            `~ (glob) works on text fields; ${node.field.name} is a ${node.field.type} field`,
            source,
            node.fieldPos,
            node.field.name.length,
          );
        }
        return sql`(${ctx.d.glob(e, globParts(v.text))})`;
      }
      const value = typedValue(source, node.field, v);
      return sql`(${e} ${raw(node.op === "!=" ? "<>" : node.op)} ${value})`;
    }
  }
}

/** The fields a filter mentions (callers can tell which joins a query needs). */
export function filterFields(node: FilterNode): Field[] {
  switch (node.kind) {
    case "and":
    case "or":
      return [...filterFields(node.left), ...filterFields(node.right)];
    case "not":
      return filterFields(node.expr);
    default:
      return [node.field];
  }
}

/** Parses and compiles in one step. */
export function filterSql(ctx: ReadContext, source: string): Sql {
  return compileFilter(ctx, source, parseFilter(source));
}
