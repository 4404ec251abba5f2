/**
 * `parsl-ts tasks [RUN]`: a row per task (--tries: per try) of a run, or of every run
 * (--all-runs), with the fields (-f), filter (-F), sort and limit of the one query vocabulary
 * (database/queries/fields.ts, filter.ts). Rows are streamed: the first page prints before the
 * rest of a huge run is read.
 */
import {
  FIELDS,
  DEFAULT_ALL_RUNS_FIELDS,
  DEFAULT_TASK_FIELDS,
  DEFAULT_TRY_FIELDS,
  field,
} from "../database/queries/fields.js";
import type { FieldRow } from "../database/queries/taskQuery.js";
import { EXIT, numberOption, parseArgs, UsageError } from "./args.js";
import { parseFormat, renderRows, RowStream, type ColumnSpec } from "./output.js";
import { listOption, openForQuery, queryError, tableCell } from "./queryCommon.js";

const HELP = `usage: parsl-ts tasks [RUN] [options]

A row per task of RUN (a run id, a unique prefix of one, or latest: the default).

options:
  --db ENDPOINT        the monitoring database (default $PARSL_TS_DB, else runinfo/monitoring.db)
  --workflow NAME      the latest run of this workflow (with RUN: RUN must be of it)
  -f, --fields LIST    comma-separated fields (see --list-fields)
  -F, --filter EXPR    e.g. "app = simulate and state in (failed, dep_fail) and run_s > 10"
  --sort LIST          fields to sort by, -field for descending (e.g. -run_s,task_id)
  --limit N            at most N rows
  --tries              a row per try instead of per task
  --all-runs           tasks of every run (e.g. -F "hashsum = H": every run of one computation)
  --format FMT         table (default), json, csv or tsv
  -l, --list-fields    list the fields and exit

filter: FIELD OP VALUE terms joined by and, or, not and parentheses; OP is = != < <= > >= ~ (glob,
* and ?) or in (v1, v2, ...); values are numbers, durations (250ms 10s 5m 1h), sizes (100MB 2GiB),
bare words, "quoted strings" or null.`;

export async function tasksCommand(argv: string[]): Promise<number> {
  const p = parseArgs(
    argv,
    {
      db: "value",
      workflow: "value",
      fields: "value",
      filter: "value",
      sort: "value",
      limit: "value",
      tries: "flag",
      "all-runs": "flag",
      format: "value",
      "list-fields": "flag",
      help: "flag",
    },
    { f: "fields", F: "filter", l: "list-fields", h: "help" },
  );
  if (p.options.has("help")) {
    console.log(HELP);
    return EXIT.ok;
  }
  const format = parseFormat(p.options.get("format"));
  if (p.options.has("list-fields")) {
    const cols: ColumnSpec<(typeof FIELDS)[number]>[] = [
      { key: "name", value: (f) => f.name },
      { key: "type", value: (f) => f.type },
      { key: "description", value: (f) => f.description },
    ];
    process.stdout.write(renderRows(FIELDS, cols, format));
    return EXIT.ok;
  }
  if (p.positionals.length > 1)
    throw new UsageError(`give at most one RUN, got ${p.positionals.length}: ${p.positionals.join(" ")}`);
  const allRuns = p.options.has("all-runs");
  const tries = p.options.has("tries");
  if (allRuns && (p.positionals.length > 0 || p.options.has("workflow")))
    throw new UsageError("--all-runs reads every run: give no RUN or --workflow");
  const limit = p.options.has("limit")
    ? numberOption(p, "limit", 0, (n) => Number.isInteger(n) && n > 0, "a positive whole number")
    : undefined;
  const fields =
    listOption(p, "fields") ?? (allRuns ? DEFAULT_ALL_RUNS_FIELDS : tries ? DEFAULT_TRY_FIELDS : DEFAULT_TASK_FIELDS);
  const sort = listOption(p, "sort");
  const filter = p.options.get("filter");
  if (filter === true) throw new UsageError("--filter needs an expression");
  const workflow = p.options.get("workflow");
  if (workflow === true) throw new UsageError("--workflow needs a name");

  const db = await openForQuery(p);
  try {
    const base = {
      fields,
      ...(filter !== undefined ? { filter } : {}),
      ...(sort ? { sort } : {}),
      ...(limit !== undefined ? { limit } : {}),
      tries,
    };
    // Fields, sort and filter are checked before the run is looked up, so a typo is a usage error whatever the database.
    for (const [option, q] of [
      ["--fields", { fields }],
      ["--sort", { fields, ...(sort ? { sort } : {}) }],
      ["--filter", { fields, ...(filter !== undefined ? { filter } : {}) }],
    ] as const) {
      try {
        db.checkTaskQuery(q);
      } catch (e) {
        throw queryError(e, option);
      }
    }
    let runId: string | undefined;
    if (!allRuns) {
      try {
        runId = (await db.resolveRun(p.positionals[0], workflow)).run_id;
      } catch (e) {
        throw queryError(e, "RUN");
      }
    }
    const cols: ColumnSpec<FieldRow>[] = fields.map((name) => {
      const f = field(name)!;
      const numeric = f.type === "number" || f.type === "duration" || f.type === "bytes";
      return {
        key: f.name,
        value:
          format === "table"
            ? (r: FieldRow) => tableCell(f.type, r[f.name] ?? null)
            : (r: FieldRow) => r[f.name] ?? null,
        ...(numeric ? { align: "right" as const } : {}),
      };
    });
    const out = new RowStream(cols, format, (text) => process.stdout.write(text));
    for await (const page of db.taskPages({ ...base, ...(runId !== undefined ? { runId } : {}) })) out.add(page);
    out.end();
    return EXIT.ok;
  } finally {
    await db.close();
  }
}
