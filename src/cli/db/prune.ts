/** `parsl-ts db prune [ENDPOINT] (--before WHEN | --keep-last N) [--workflow NAME] [--dry-run] [--yes] [--force] [--vacuum]`. */
import fs from "node:fs";
import readline from "node:readline/promises";
import { CommandError, EXIT, numberOption, parseArgs, UsageError } from "../args.js";
import { chooseEndpoint, openDatabase } from "../database.js";
import { parseFormat, renderRows, type ColumnSpec } from "../output.js";
import { parseWhen } from "../when.js";
import {
  deleteRuns,
  selectRuns,
  sqliteFreeBytes,
  type DeletedRows,
  type RunToPrune,
} from "../../database/upkeep/prune.js";
import { UpkeepRefusal } from "../../database/upkeep/upgrade.js";
import { raw } from "../../database/sql.js";

export const PRUNE_USAGE = `usage: parsl-ts db prune [ENDPOINT] (--before WHEN | --keep-last N) [--workflow NAME]
                        [--dry-run] [--yes] [--force] [--vacuum] [--format table|json|csv|tsv]

Delete whole runs: each run's workflow row and all its rows in task, try, status, resource,
node and block. One transaction per group of runs, so an interruption leaves whole runs.
Runs still running (by the same rule as the visualizer) are kept unless --force.

  ENDPOINT, --db ENDPOINT   the database (default $PARSL_TS_DB, else runinfo/monitoring.db)
  --before WHEN             runs that began before WHEN: a date or time in local time, as Parsl
                            stores them (2026-11-24, "2026-11-24 21:52", 2026-11-24T21:52:07Z),
                            or an age (30d, 12h, 2w)
  --keep-last N             keep the newest N runs (of --workflow, when given), delete the others
  --workflow NAME           only runs of this workflow name
  --dry-run                 list what would be deleted; change nothing
  --yes                     do not ask for confirmation (needed when stdin is not a terminal)
  --force                   also delete runs that are still running
  --vacuum                  SQLite: afterwards run VACUUM to give the freed space back to the disk
                            (rewrites the file; writers wait meanwhile)
  --format F                table (default), json, csv or tsv (the runs)
  -h, --help                show this help`;

const RUN_COLUMNS: ColumnSpec<RunToPrune>[] = [
  { key: "run_id", value: (r) => r.runId },
  { key: "workflow_name", header: "workflow", value: (r) => r.workflowName },
  { key: "time_began", header: "began", value: (r) => r.timeBegan.slice(0, 19) },
  { key: "tasks", value: (r) => r.tasks, align: "right" },
  { key: "status", value: (r) => r.status },
];

const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;

async function confirm(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

export async function pruneCommand(argv: string[]): Promise<number> {
  const p = parseArgs(
    argv,
    {
      db: "value",
      before: "value",
      "keep-last": "value",
      workflow: "value",
      "dry-run": "flag",
      yes: "flag",
      force: "flag",
      vacuum: "flag",
      format: "value",
      help: "flag",
    },
    { h: "help", y: "yes" },
  );
  if (p.options.has("help")) {
    console.log(PRUNE_USAGE);
    return EXIT.ok;
  }
  if (p.positionals.length > 1) throw new UsageError(`one database at a time (got ${p.positionals.length})`);
  const hasBefore = p.options.has("before"),
    hasKeep = p.options.has("keep-last");
  if (hasBefore === hasKeep) throw new UsageError("give exactly one of --before WHEN and --keep-last N");
  const before = hasBefore ? parseWhen(String(p.options.get("before")), "--before") : undefined;
  const keepLast = hasKeep
    ? numberOption(p, "keep-last", 0, (n) => Number.isInteger(n) && n >= 0, "a whole number ≥ 0")
    : undefined;
  const workflow = p.options.get("workflow");
  if (workflow === true) throw new UsageError("--workflow needs a name");
  const format = parseFormat(p.options.get("format"));
  const dryRun = p.options.has("dry-run"),
    force = p.options.has("force");
  const endpoint = chooseEndpoint(p.options.get("db"), p.positionals[0]);
  if (!dryRun && !p.options.has("yes") && !process.stdin.isTTY) {
    throw new UsageError(
      "deleting runs needs --yes when stdin is not a terminal (or --dry-run to see what would be deleted)",
    );
  }

  const db = await openDatabase(endpoint, { readonly: dryRun });
  try {
    let selected: RunToPrune[];
    try {
      selected = await selectRuns(db, db.location, {
        ...(before !== undefined ? { before } : {}),
        ...(keepLast !== undefined ? { keepLast } : {}),
        ...(workflow !== undefined ? { workflow } : {}),
      });
    } catch (err) {
      if (err instanceof UpkeepRefusal) throw new CommandError(err.message);
      throw err;
    }
    const running = force ? [] : selected.filter((r) => r.status === "running");
    const doomed = selected.filter((r) => !running.includes(r));
    const table = format === "table";
    const say = (line: string): void => {
      (table ? process.stdout : process.stderr).write(line + "\n");
    };
    for (const r of running)
      say(
        `keeping run ${r.runId} (${r.workflowName ?? "unnamed"}): it is still running (${r.reason}); --force deletes it`,
      );
    if (doomed.length === 0) {
      if (format === "json")
        process.stdout.write(
          JSON.stringify(
            {
              database: db.location,
              dry_run: dryRun,
              runs: [],
              kept_running: running.map((r) => r.runId),
              deleted: null,
            },
            null,
            2,
          ) + "\n",
        );
      else if (!table) process.stdout.write(renderRows([], RUN_COLUMNS, format));
      else say("no runs to delete");
      return EXIT.ok;
    }
    const tasks = doomed.reduce((s, r) => s + r.tasks, 0);
    if (table) {
      say(`${dryRun ? "would delete" : "deleting"} ${doomed.length} run(s) with ${tasks} task(s) from ${db.location}:`);
      process.stdout.write(renderRows(doomed, RUN_COLUMNS, "table"));
    }
    if (dryRun) {
      if (table) say("dry run: nothing was changed");
      else if (format === "json")
        process.stdout.write(
          JSON.stringify(
            {
              database: db.location,
              dry_run: true,
              runs: runsJson(doomed),
              kept_running: running.map((r) => r.runId),
              deleted: null,
            },
            null,
            2,
          ) + "\n",
        );
      else process.stdout.write(renderRows(doomed, RUN_COLUMNS, format));
      return EXIT.ok;
    }
    if (!p.options.has("yes") && !(await confirm(`delete these ${doomed.length} run(s) and all their rows? [y/N] `))) {
      say("nothing was deleted");
      return EXIT.failed;
    }
    let deleted: DeletedRows;
    try {
      deleted = await deleteRuns(db, doomed, {
        onChunk: (done, total, transactions) => {
          if (table && transactions > 1) process.stderr.write(`  deleted ${done}/${total} run(s)\n`);
        },
        onNote: (note) => process.stderr.write(`${note}\n`),
      });
    } catch (err) {
      throw new CommandError(
        `deleting runs from ${db.location} failed (runs deleted before the failure stay deleted): ${db.dialect.describeError(err)}`,
      );
    }
    if (table)
      say(
        `deleted ${doomed.length} run(s): ${Object.entries(deleted)
          .map(([t, n]) => `${n} ${t}`)
          .join(", ")} row(s)`,
      );
    else if (format === "json")
      process.stdout.write(
        JSON.stringify(
          {
            database: db.location,
            dry_run: false,
            runs: runsJson(doomed),
            kept_running: running.map((r) => r.runId),
            deleted,
          },
          null,
          2,
        ) + "\n",
      );
    else process.stdout.write(renderRows(doomed, RUN_COLUMNS, format));

    if (db.dialect.name === "sqlite" && endpoint.kind === "sqlite") {
      const free = await sqliteFreeBytes(db);
      if (p.options.has("vacuum")) {
        const size = fs.statSync(endpoint.path).size;
        await db.run(raw("VACUUM"));
        await db.run(raw("PRAGMA wal_checkpoint(TRUNCATE)"));
        say(`VACUUM: ${endpoint.path} went from ${mib(size)} to ${mib(fs.statSync(endpoint.path).size)}`);
      } else if (free > 0) {
        say(
          `${mib(free)} inside ${endpoint.path} is now free for new rows; to give it back to the disk, run ` +
            `'sqlite3 ${endpoint.path} VACUUM' while no workflow writes (or add --vacuum next time); it rewrites the file`,
        );
      }
    } else if (table) {
      say("PostgreSQL reuses the space after (auto)vacuum; VACUUM FULL returns it to the disk but locks the tables");
    }
    return EXIT.ok;
  } finally {
    await db.close();
  }
}

function runsJson(runs: readonly RunToPrune[]): object[] {
  return runs.map((r) => ({
    run_id: r.runId,
    workflow_name: r.workflowName,
    time_began: r.timeBegan,
    tasks: r.tasks,
    status: r.status,
  }));
}
