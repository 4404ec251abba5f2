/**
 * The `parsl-ts` command. Each subcommand lives in its own module, loaded on demand. The
 * executable (dist/src/cli/parsl-ts.cjs, written by scripts/bundleCli.ts) runs this module from
 * one CommonJS bundle that also holds the read commands (readCommands.ts) and node-postgres; the
 * other commands stay the compiled modules they are, imported when asked for.
 */
import { createRequire } from "node:module";
import { exitStatusOf } from "./args.js";

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { about: string; load: () => Promise<Command> }> = {
  perf: {
    about: "measure task throughput of a config (like parsl-perf)",
    load: async () => (await import("./perf.js")).perfCommand,
  },
  "worker-pool": {
    about: "run an HTEX worker pool (blocks start it on each node)",
    load: async () => (await import("../executors/htex/workerPoolCommand.js")).workerPoolCommand,
  },
  db: {
    about: "upkeep of a monitoring database: upgrade, prune, check, roles",
    load: async () => (await import("./db.js")).dbCommand,
  },
  export: {
    about: "write runs' tables as csv, jsonl or parquet, or their traces as OTLP",
    load: async () => (await import("./export.js")).exportCommand,
  },
  runs: {
    about: "list the runs with their status and tasks per final state",
    load: async () => (await import("./readCommands.js")).runsCommand,
  },
  tasks: {
    about: "list a run's tasks or tries: fields (-f), filter (-F), sort, across runs",
    load: async () => (await import("./readCommands.js")).tasksCommand,
  },
  watch: {
    about: "follow a run live: per-app progress, rate, ETA, failures",
    load: async () => (await import("./readCommands.js")).watchCommand,
  },
  report: {
    about: "write a run's report as one self-contained HTML file",
    load: async () => (await import("./report.js")).reportCommand,
  },
  stats: {
    about: "statistics of a run: outcomes, run time, badput, per app/host/hour; --compare, --all",
    load: async () => (await import("./readCommands.js")).statsCommand,
  },
  analyze: {
    about: "what failed in a run: root failures, their tries, dep_fail cascades",
    load: async () => (await import("./readCommands.js")).analyzeCommand,
  },
  visualize: {
    about: "serve the web visualizer over a monitoring database",
    load: async () => (await import("../visualizer/index.js")).visualizeCommand,
  },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(14)}${c.about}`);
  return `usage: parsl-ts <command> [options]\n\ncommands:\n${lines.join("\n")}\n\n'parsl-ts <command> --help' for a command's options`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "-V") {
    const pkg = createRequire(import.meta.url)("../../../package.json") as { version: string };
    console.log(`parsl-ts ${pkg.version}`);
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    console.error(`parsl-ts: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  try {
    return await (
      await cmd.load()
    )(rest);
  } catch (e) {
    const status = exitStatusOf(e);
    if (status === undefined) throw e;
    console.error(`parsl-ts ${name}: ${(e as Error).message}`);
    return status;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(`parsl-ts: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = 1;
  },
);
