/**
 * `parsl-ts db <subcommand>`: upkeep of a monitoring database (either dialect). Each
 * subcommand lives in cli/db/, loaded on demand; all share the database option and output
 * formats of cli/database.ts and cli/output.ts.
 */
import { UsageError } from "./args.js";

type Sub = (argv: string[]) => Promise<number>;

const SUBCOMMANDS: Record<string, { about: string; load: () => Promise<Sub> }> = {
  upgrade: {
    about: "bring an older parsl-ts or a Python Parsl database up to this schema",
    load: async () => (await import("./db/upgrade.js")).upgradeCommand,
  },
  prune: {
    about: "delete whole runs (by start time, or all but the newest N)",
    load: async () => (await import("./db/prune.js")).pruneCommand,
  },
  check: {
    about: "report schema drift and integrity problems (exit 1 when any)",
    load: async () => (await import("./db/check.js")).checkCommand,
  },
  copy: {
    about: "copy whole runs to another database (SQLite ⇄ PostgreSQL)",
    load: async () => (await import("./db/copy.js")).copyCommand,
  },
  roles: {
    about: "print SQL for PostgreSQL writer and read-only roles",
    load: async () => (await import("./db/roles.js")).rolesCommand,
  },
};

export const DB_USAGE = `usage: parsl-ts db <subcommand> [ENDPOINT] [options]

subcommands:
${Object.entries(SUBCOMMANDS)
  .map(([n, s]) => `  ${n.padEnd(10)}${s.about}`)
  .join("\n")}

ENDPOINT (or --db ENDPOINT): an SQLite file, sqlite:///path or postgresql://user@host/db
(default $PARSL_TS_DB, else runinfo/monitoring.db). 'parsl-ts db <subcommand> --help' for options.`;

export async function dbCommand(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    (name === undefined ? console.error : console.log)(DB_USAGE);
    return name === undefined ? 2 : 0;
  }
  const sub = SUBCOMMANDS[name];
  if (!sub) throw new UsageError(`unknown subcommand '${name}' (one of ${Object.keys(SUBCOMMANDS).join(", ")})`);
  return (await sub.load())(rest);
}
