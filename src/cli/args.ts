/** A tiny, strict command-line parser: `--name value`, `--name=value`, flags, positionals. */
export class UsageError extends Error {}

/** A command could not do its job (exit status 1); the message says why. */
export class CommandError extends Error {}

/** Exit statuses shared by every command: 0 ok, 1 failed or problems found, 2 usage. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export interface ParsedArgs {
  options: Map<string, string | true>;
  positionals: string[];
}

/** `spec` maps option names to whether they take a value. Unknown options are a UsageError. */
export function parseArgs(
  argv: readonly string[],
  spec: Record<string, "value" | "flag">,
  aliases: Record<string, string> = {},
): ParsedArgs {
  const options = new Map<string, string | true>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith("-") || a === "-") {
      positionals.push(a);
      continue;
    }
    let name = a.replace(/^--?/, "");
    let value: string | undefined;
    const eq = name.indexOf("=");
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    name = aliases[name] ?? name;
    const kind = spec[name];
    if (!kind) throw new UsageError(`unknown option ${a}`);
    if (kind === "flag") {
      if (value !== undefined) throw new UsageError(`option --${name} takes no value`);
      options.set(name, true);
    } else {
      if (value === undefined) {
        value = argv[++i];
        if (value === undefined) throw new UsageError(`option --${name} needs a value`);
      }
      options.set(name, value);
    }
  }
  return { options, positionals };
}

export function numberOption(
  p: ParsedArgs,
  name: string,
  dflt: number,
  check: (n: number) => boolean,
  what: string,
): number {
  const v = p.options.get(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (typeof v !== "string" || v.trim() === "" || !Number.isFinite(n) || !check(n))
    throw new UsageError(`--${name} must be ${what}, got ${JSON.stringify(v)}`);
  return n;
}
