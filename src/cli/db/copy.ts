/** `parsl-ts db copy SRC DST [--run RUN[,RUN…]] [--format F]`: whole runs from one database to another. */
import { describeEndpoint, parseEndpoint } from "../../database/endpoint.js";
import { copyRuns } from "../../database/copy.js";
import { CommandError, EXIT, parseArgs, UsageError } from "../args.js";
import { openDatabase } from "../database.js";
import { parseFormat, renderRows } from "../output.js";

export const COPY_USAGE = `usage: parsl-ts db copy SRC DST [--run RUN[,RUN…]] [--format table|json|csv|tsv]

Copy whole runs (all seven tables' rows) from the monitoring database SRC to DST, either of them
an SQLite file or a PostgreSQL URL: move runs to a shared server, or take a run home. DST's
schema is created or upgraded first (a new SQLite file is created). Each run is copied in one
transaction, so it is there completely or not at all; runs DST already has are skipped, so an
interrupted copy can be run again. SRC is only read.

  --run RUN[,RUN…]   the runs to copy (full run ids; default: every run of SRC)
  --format F         table (default), json, csv or tsv
  -h, --help         show this help`;

export async function copyCommand(argv: string[]): Promise<number> {
  const p = parseArgs(argv, { run: "value", format: "value", help: "flag" }, { h: "help" });
  if (p.options.has("help")) {
    console.log(COPY_USAGE);
    return EXIT.ok;
  }
  if (p.positionals.length !== 2)
    throw new UsageError(`give a source and a target database (got ${p.positionals.length} argument(s))`);
  const format = parseFormat(p.options.get("format"));
  const from = parseEndpoint(p.positionals[0]!);
  const to = parseEndpoint(p.positionals[1]!);
  if (describeEndpoint(from) === describeEndpoint(to))
    throw new UsageError("the source and the target are the same database");
  const runOption = p.options.get("run");
  const runIds =
    typeof runOption === "string"
      ? runOption
          .split(",")
          .map((r) => r.trim())
          .filter((r) => r !== "")
      : undefined;
  if (runOption !== undefined && (runIds === undefined || runIds.length === 0))
    throw new UsageError("--run needs at least one run id");
  const source = await openDatabase(from, { readonly: true, applicationName: "parsl-ts db copy (source)" });
  try {
    const target = await openDatabase(to, { readonly: false, create: true, applicationName: "parsl-ts db copy" });
    try {
      const progress = process.stderr.isTTY
        ? (e: { runId: string; table: string }) => process.stderr.write(`\rcopying run ${e.runId}: ${e.table}      `)
        : undefined;
      let result;
      try {
        result = await copyRuns(source, target, {
          ...(runIds ? { runIds } : {}),
          ...(progress ? { onProgress: progress } : {}),
        });
      } catch (err) {
        throw new CommandError(
          `cannot copy from ${source.location} to ${target.location}: ${err instanceof Error ? err.message : String(err)}`,
        );
      } finally {
        if (progress) process.stderr.write("\r\x1b[K");
      }
      if (format === "json") {
        process.stdout.write(
          JSON.stringify({ source: source.location, target: target.location, ...result }, null, 2) + "\n",
        );
      } else if (format === "table") {
        const total = Object.values(result.rows).reduce((a, b) => a + b, 0);
        process.stdout.write(
          `copied ${result.copied.length} run(s) from ${source.location} to ${target.location}: ${total} rows ` +
            `(${Object.entries(result.rows)
              .map(([t, n]) => `${t} ${n}`)
              .join(", ")})\n`,
        );
        if (result.skipped.length)
          process.stdout.write(
            `skipped ${result.skipped.length} run(s) the target already has: ${result.skipped.join(", ")}\n`,
          );
      } else {
        const rows = [
          ...result.copied.map((r) => ({ run_id: r, outcome: "copied" })),
          ...result.skipped.map((r) => ({ run_id: r, outcome: "skipped" })),
        ];
        process.stdout.write(
          renderRows(
            rows,
            [
              { key: "run_id", value: (r) => r.run_id },
              { key: "outcome", value: (r) => r.outcome },
            ],
            format,
          ),
        );
      }
      return EXIT.ok;
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}
