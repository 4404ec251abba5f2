/**
 * SQL text with its parameters kept apart, for both dialects. Build queries with the `sql`
 * tagged template: every interpolated value becomes a parameter (never spliced text), nested
 * `Sql` fragments are spliced as SQL, `ident()` quotes a name and `raw()` inserts trusted
 * constant text. A driver compiles the result with its own placeholder style (`?` or `$n`).
 *
 *   sql`SELECT ${ident("user")} FROM workflow WHERE run_id = ${runId}`
 */

export class Sql {
  /** `texts.length === values.length + 1`: text, value, text, value, …, text. */
  constructor(
    readonly texts: readonly string[],
    readonly values: readonly unknown[],
  ) {}

  /** The text with `placeholder(i)` (0-based) for each parameter. */
  compile(placeholder: (index: number) => string): { text: string; values: unknown[] } {
    let text = this.texts[0]!;
    for (let i = 0; i < this.values.length; i++) text += placeholder(i) + this.texts[i + 1]!;
    return { text, values: [...this.values] };
  }

  /** For messages and tests: the text with `?` placeholders. */
  toString(): string {
    return this.compile(() => "?").text;
  }
}

/** Text that is spliced as is: only for constants written in our own code. */
export function raw(text: string): Sql {
  return new Sql([text], []);
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A quoted identifier. Both dialects take standard double quotes, so `user` (reserved in
 * PostgreSQL) and every other name is always quoted; names are checked as well, because a name
 * is never a parameter.
 */
export function ident(name: string): Sql {
  if (!IDENTIFIER.test(name)) throw new Error(`bad SQL identifier ${JSON.stringify(name)}`);
  return raw(`"${name}"`);
}

/** A quoted identifier as text, for DDL written as plain strings. */
export function quoted(name: string): string {
  return ident(name).texts[0]!;
}

export function sql(strings: TemplateStringsArray, ...values: unknown[]): Sql {
  const texts: string[] = [strings[0]!];
  const params: unknown[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v instanceof Sql) {
      texts[texts.length - 1] += v.texts[0]!;
      for (let j = 0; j < v.values.length; j++) {
        params.push(v.values[j]);
        texts.push(v.texts[j + 1]!);
      }
      texts[texts.length - 1] += strings[i + 1]!;
    } else {
      params.push(v);
      texts.push(strings[i + 1]!);
    }
  }
  return new Sql(texts, params);
}

/** Fragments joined by a separator (`, ` by default). */
export function join(parts: readonly Sql[], separator = ", "): Sql {
  if (parts.length === 0) return raw("");
  const texts: string[] = [""];
  const values: unknown[] = [];
  parts.forEach((p, k) => {
    if (k > 0) texts[texts.length - 1] += separator;
    texts[texts.length - 1] += p.texts[0]!;
    for (let j = 0; j < p.values.length; j++) {
      values.push(p.values[j]);
      texts.push(p.texts[j + 1]!);
    }
  });
  return new Sql(texts, values);
}

/** `(v1, v2, …)` as parameters, for `IN` lists. An empty list is `(NULL)`, which matches nothing. */
export function list(values: readonly unknown[]): Sql {
  if (values.length === 0) return raw("(NULL)");
  return sql`(${join(values.map((v) => sql`${v}`))})`;
}
