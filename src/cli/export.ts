/**
 * `parsl-ts export [RUN | --all] --format csv|jsonl|parquet|otlp -o DIR`: a run's (or every
 * run's) seven tables as files, or its trace as OTLP/JSON lines, with a manifest. The work is
 * src/export/; this module parses options, chooses the runs and reports.
 */
import { createRequire } from "node:module";
import { ReadContext } from "../database/queries/context.js";
import { LATEST, RunNotFoundError, resolveRun } from "../database/queries/resolveRun.js";
import type { Connection } from "../database/connection.js";
import { sql } from "../database/sql.js";
import {
  EXPORT_FORMATS,
  ExportError,
  exportRuns,
  type ExportFormat,
  type ExportRun,
  type Manifest,
} from "../export/index.js";
import { CommandError, EXIT, UsageError, parseArgs } from "./args.js";
import { chooseEndpoint, openDatabase } from "./database.js";

export const EXPORT_USAGE = `usage: parsl-ts export [RUN | --all] [--workflow NAME] --format FORMAT -o DIR [--db ENDPOINT] [--force]

Writes the run's seven monitoring tables (workflow, task, try, status, resource, node, block)
into DIR, one file per table, and DIR/manifest.json (row counts, columns and types, source).

  RUN              run id, a unique prefix of one, or 'latest' (default)
  --all            every run (with --workflow: every run of that workflow)
  --workflow NAME  the latest run of workflow NAME
  --format FORMAT  csv (RFC 4180), jsonl (JSON lines), parquet, or otlp (OpenTelemetry
                   OTLP/JSON lines: one trace per run; spans for the run, tasks and tries)
  -o, --output DIR directory to write into (created if missing)
  --force          overwrite the files of an earlier export in DIR
  --db ENDPOINT    SQLite file, sqlite:///path or postgresql://… (default $PARSL_TS_DB,
                   else runinfo/monitoring.db)`;

function version(): string {
  return (createRequire(import.meta.url)("../../../package.json") as { version: string }).version;
}

export async function exportCommand(argv: string[]): Promise<number> {
  const p = parseArgs(
    argv,
    { all: "flag", workflow: "value", format: "value", output: "value", force: "flag", db: "value", help: "flag" },
    { o: "output", h: "help" },
  );
  if (p.options.has("help")) {
    console.log(EXPORT_USAGE);
    return EXIT.ok;
  }
  if (p.positionals.length > 1)
    throw new UsageError(`give at most one RUN, got ${p.positionals.map((x) => JSON.stringify(x)).join(" ")}`);
  const all = p.options.get("all") === true;
  const spec = p.positionals[0];
  if (all && spec !== undefined) throw new UsageError("give a RUN or --all, not both");
  const format = p.options.get("format");
  if (typeof format !== "string") throw new UsageError(`--format is required: one of ${EXPORT_FORMATS.join(", ")}`);
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format must be one of ${EXPORT_FORMATS.join(", ")}, got ${JSON.stringify(format)}`);
  }
  const dir = p.options.get("output");
  if (typeof dir !== "string" || dir === "") throw new UsageError("-o DIR is required: the directory to write into");
  const workflow = p.options.get("workflow");
  if (workflow === true) throw new UsageError("--workflow needs a name");
  const endpoint = chooseEndpoint(p.options.get("db"), undefined);

  const exportFrom = async (conn: Connection): Promise<number> => {
    const ctx = await ReadContext.open(conn).catch((e: unknown) => {
      // The driver's own errors ("file is not a database") do not say which database.
      const text = conn.dialect.describeError(e);
      throw new CommandError(
        text.includes(conn.location) ? text : `cannot read ${conn.location} as a monitoring database: ${text}`,
      );
    });
    let runs: ExportRun[];
    try {
      runs = all ? await allRuns(ctx, workflow) : [await resolveRun(ctx, spec ?? LATEST, workflow)];
    } catch (e) {
      if (e instanceof RunNotFoundError) throw new CommandError(e.message);
      throw e;
    }
    if (runs.length === 0)
      throw new CommandError(
        `${conn.location} holds no run${workflow === undefined ? "" : ` of workflow ${JSON.stringify(workflow)}`}`,
      );
    const tty = process.stderr.isTTY === true;
    let lastDraw = 0;
    const progress = tty
      ? (table: string, rows: number) => {
          const now = Date.now();
          if (now - lastDraw < 200) return;
          lastDraw = now;
          process.stderr.write(`\r\x1b[K${table}: ${rows.toLocaleString("en-US")} rows`);
        }
      : undefined;
    let manifest: Manifest;
    try {
      manifest = await exportRuns(ctx, {
        format: format as ExportFormat,
        dir,
        runs,
        overwrite: p.options.get("force") === true,
        version: version(),
        ...(progress ? { progress } : {}),
      });
    } catch (e) {
      if (e instanceof ExportError) throw new CommandError(e.message);
      if ((e as NodeJS.ErrnoException).code !== undefined && (e as NodeJS.ErrnoException).syscall !== undefined) {
        throw new CommandError(`writing into ${dir} failed: ${(e as Error).message}`);
      }
      throw e;
    } finally {
      if (tty) process.stderr.write("\r\x1b[K");
    }
    console.log(summary(manifest, dir));
    return EXIT.ok;
  };

  const conn = await openDatabase(endpoint, { readonly: true, applicationName: "parsl-ts export" });
  try {
    // One snapshot for the whole export: the files of a run that is still being written agree
    // with each other (no try without its task, no status row newer than the manifest's runs).
    return await conn.snapshot((view) => exportFrom(view));
  } finally {
    await conn.close();
  }
}

async function allRuns(ctx: ReadContext, workflow: string | undefined): Promise<ExportRun[]> {
  const byName = workflow === undefined ? sql`` : sql` WHERE workflow_name = ${workflow}`;
  return ctx.db.all<ExportRun>(sql`SELECT run_id, workflow_name FROM workflow${byName} ORDER BY time_began, run_id`);
}

function summary(m: Manifest, dir: string): string {
  const runs = m.runs.length === 1 ? `run ${m.runs[0]!.run_id}` : `${m.runs.length} runs`;
  const lines = [`exported ${runs} from ${m.source} as ${m.format} into ${dir} in ${m.seconds.toFixed(2)} s`];
  if (m.tables) {
    const w = Math.max(...m.tables.map((t) => t.file.length));
    for (const t of m.tables)
      lines.push(`  ${t.file.padEnd(w)}  ${String(t.rows).padStart(9)} rows  ${String(t.bytes).padStart(11)} bytes`);
  }
  if (m.traces) {
    const t = m.traces;
    lines.push(
      `  ${t.file}  ${t.traces} traces, ${t.spans} spans, ${t.events} events in ${t.lines} lines, ${t.bytes} bytes`,
    );
  }
  lines.push("  manifest.json");
  return lines.join("\n");
}
