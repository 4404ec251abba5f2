/**
 * `parsl-ts runs`: every run, newest first, with its truthful status (database/runStatus.ts),
 * start, duration and tasks per final state.
 */
import type { RunListRow } from "../database/queries/runTable.js";
import type { ObservedRunStatus } from "../database/runStatus.js";
import { RUN_STATUSES } from "../database/schema.js";

const OBSERVED_RUN_STATUSES: readonly ObservedRunStatus[] = [...RUN_STATUSES, "unknown"];
import { EXIT, numberOption, parseArgs, UsageError } from "./args.js";
import { parseFormat, renderRows, type ColumnSpec } from "./output.js";
import { formatSeconds, listOption, openForQuery, tableCell } from "./queryCommon.js";
import { parseWhen } from "./when.js";

const HELP = `usage: parsl-ts runs [options]

Every run in the monitoring database, newest first.

options:
  --db ENDPOINT       the monitoring database (default $PARSL_TS_DB, else runinfo/monitoring.db)
  --workflow NAME     only runs of this workflow name
  --status LIST       only runs with these statuses (${OBSERVED_RUN_STATUSES.join(", ")})
  --since WHEN        only runs that began at or after WHEN (2026-11-24, "2026-11-24 21:52", or an age: 12h, 7d)
  --limit N           at most N runs
  --format FMT        table (default), json, csv or tsv`;

export async function runsCommand(argv: string[]): Promise<number> {
  const p = parseArgs(
    argv,
    { db: "value", workflow: "value", status: "value", since: "value", limit: "value", format: "value", help: "flag" },
    { h: "help" },
  );
  if (p.options.has("help")) {
    console.log(HELP);
    return EXIT.ok;
  }
  if (p.positionals.length > 0)
    throw new UsageError(`runs takes no positional argument, got ${JSON.stringify(p.positionals[0])}`);
  const format = parseFormat(p.options.get("format"));
  const status = listOption(p, "status");
  for (const s of status ?? []) {
    if (!(OBSERVED_RUN_STATUSES as readonly string[]).includes(s))
      throw new UsageError(`--status: unknown status ${JSON.stringify(s)}; one of ${OBSERVED_RUN_STATUSES.join(", ")}`);
  }
  const since = p.options.get("since");
  if (since === true) throw new UsageError("--since needs a date or an age");
  const workflow = p.options.get("workflow");
  if (workflow === true) throw new UsageError("--workflow needs a name");
  const limit = p.options.has("limit")
    ? numberOption(p, "limit", 0, (n) => Number.isInteger(n) && n > 0, "a positive whole number")
    : undefined;
  const query = {
    ...(workflow !== undefined ? { workflow } : {}),
    ...(since !== undefined ? { since: parseWhen(since, "--since") } : {}),
    ...(status ? { status: status as ObservedRunStatus[] } : {}),
    ...(limit !== undefined ? { limit } : {}),
  };
  const db = await openForQuery(p);
  try {
    const rows = await db.runList(query);
    const table = format === "table";
    const n = (key: string, header: string, get: (r: RunListRow) => number): ColumnSpec<RunListRow> => ({
      key,
      header,
      value: get,
      align: "right",
    });
    const cols: ColumnSpec<RunListRow>[] = [
      { key: "workflow_name", header: "workflow", value: (r) => r.workflow_name },
      { key: "run_id", value: (r) => r.run_id },
      { key: "status", value: (r) => r.status },
      { key: "time_began", header: "started", value: (r) => (table ? tableCell("time", r.time_began) : r.time_began) },
      {
        key: "runtime_s",
        header: "duration",
        value: (r) =>
          table ? formatSeconds(r.runtime_s) : r.runtime_s === null ? null : Math.round(r.runtime_s * 1000) / 1000,
        align: "right",
      },
      n("tasks", "tasks", (r) => r.tasks.total),
      n("exec_done", "done", (r) => r.tasks.exec_done),
      n("memo_done", "memo", (r) => r.tasks.memo_done),
      n("failed", "failed", (r) => r.tasks.failed),
      n("dep_fail", "dep_fail", (r) => r.tasks.dep_fail),
      n("not_run", "not_run", (r) => r.tasks.not_run),
      { key: "host", value: (r) => r.host },
      { key: "user", value: (r) => r.user },
      ...(table
        ? []
        : [
            { key: "time_completed", value: (r: RunListRow) => r.time_completed },
            { key: "status_reason", value: (r: RunListRow) => r.status_reason },
            { key: "workflow_version", value: (r: RunListRow) => r.workflow_version },
          ]),
    ];
    process.stdout.write(renderRows(rows, cols, format));
    return EXIT.ok;
  } finally {
    await db.close();
  }
}
