/** A tiny, strict command-line parser: `--name value`, `--name=value`, flags, positionals. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A command could not do its job (exit status 1); the message says why. */
export class CommandError extends Error {
  override readonly name = "CommandError";
}

/** Exit statuses shared by every command: 0 ok, 1 failed or problems found, 2 usage. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** Errors that end `parsl-ts` with a status of their own, by name (see exitStatusOf). */
const EXIT_BY_NAME: ReadonlyMap<string, number> = new Map([
  ["UsageError", EXIT.usage],
  ["EndpointError", EXIT.usage], // database/endpoint.ts: an endpoint that cannot be parsed
  ["CommandError", EXIT.failed],
  ["ConnectionError", EXIT.failed], // database/errors.ts: a database that cannot be reached or opened
]);

/**
 * The exit status an error thrown by a command ends `parsl-ts` with, or undefined for a bug (a
 * stack trace). By the error's name, not its class: the CLI's bundle (scripts/bundleCli.ts) has
 * its own copies of these classes, and the commands outside it throw the compiled modules' ones.
 */
export function exitStatusOf(e: unknown): number | undefined {
  return e instanceof Error ? EXIT_BY_NAME.get(e.name) : undefined;
}

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
