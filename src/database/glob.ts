/**
 * Globs of the query filter language (`app ~ "sim*"`): `*` matches any run of characters, `?`
 * one character, a backslash makes the next character literal; everything else is literal and
 * case-sensitive. Each dialect renders the parts its own way (dialect.glob) so both match alike.
 */
export type GlobPart = { readonly any: true } | { readonly one: true } | { readonly text: string };

export function globParts(pattern: string): GlobPart[] {
  const out: GlobPart[] = [];
  let text = "";
  const flush = (): void => {
    if (text !== "") out.push({ text });
    text = "";
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "\\" && i + 1 < pattern.length) text += pattern[++i]!;
    else if (c === "*") {
      flush();
      out.push({ any: true });
    } else if (c === "?") {
      flush();
      out.push({ one: true });
    } else text += c;
  }
  flush();
  return out;
}

/** SQLite GLOB text: wildcards as they are, literal `*`, `?`, `[` inside brackets. */
export function toSqliteGlob(parts: readonly GlobPart[]): string {
  return parts.map((p) => ("any" in p ? "*" : "one" in p ? "?" : p.text.replace(/[*?[]/g, (c) => `[${c}]`))).join("");
}

/** LIKE text with `\` as the escape character: literal `%`, `_` and `\` escaped. */
export function toLikePattern(parts: readonly GlobPart[]): string {
  return parts.map((p) => ("any" in p ? "%" : "one" in p ? "_" : p.text.replace(/[\\%_]/g, (c) => `\\${c}`))).join("");
}
