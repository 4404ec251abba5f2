/** `parsl-ts db check [ENDPOINT] [--format table|json|csv|tsv]`. */
import { CommandError, EXIT, parseArgs, UsageError } from "../args.js";
import { chooseEndpoint, openDatabase } from "../database.js";
import { parseFormat, renderRows, type ColumnSpec } from "../output.js";
import { checkDatabase, type Finding } from "../../database/upkeep/check.js";
import { UpkeepRefusal } from "../../database/upkeep/upgrade.js";

export const CHECK_USAGE = `usage: parsl-ts db check [ENDPOINT] [--format table|json|csv|tsv]

Report how the database differs from the schema this parsl-ts writes (missing tables, columns
and indexes, unexpected column types, an older or newer schema version) and integrity problems
(SQLite's PRAGMA quick_check; rows whose run has no workflow row; tries without their task;
tasks whose task_latest_status is not their newest status; runs marked running whose heartbeat
stopped). Read-only. Exit status 0 when nothing was found, 1 when something was.

  ENDPOINT, --db ENDPOINT   the database (default $PARSL_TS_DB, else runinfo/monitoring.db)
  --format F                table (default), json, csv or tsv
  -h, --help                show this help`;

const COLUMNS: ColumnSpec<Finding>[] = [
  { key: "severity", value: (f) => f.severity },
  { key: "kind", value: (f) => f.kind },
  { key: "table", value: (f) => f.table ?? null },
  { key: "count", value: (f) => f.count ?? null, align: "right" },
  { key: "message", value: (f) => f.message },
];

export async function checkCommand(argv: string[]): Promise<number> {
  const p = parseArgs(argv, { db: "value", format: "value", help: "flag" }, { h: "help" });
  if (p.options.has("help")) {
    console.log(CHECK_USAGE);
    return EXIT.ok;
  }
  if (p.positionals.length > 1) throw new UsageError(`one database at a time (got ${p.positionals.length})`);
  const format = parseFormat(p.options.get("format"));
  const db = await openDatabase(chooseEndpoint(p.options.get("db"), p.positionals[0]), { readonly: true });
  try {
    const report = await checkDatabase(db, db.location).catch((err: unknown) => {
      if (err instanceof UpkeepRefusal) throw new CommandError(err.message);
      throw new CommandError(`cannot check ${db.location}: ${db.dialect.describeError(err)}`);
    });
    const clean = report.findings.length === 0;
    if (format === "json") {
      process.stdout.write(
        JSON.stringify(
          {
            database: report.database,
            dialect: report.dialect,
            schema_version: report.schemaVersion,
            code_schema_version: report.codeSchemaVersion,
            clean,
            findings: report.findings,
          },
          null,
          2,
        ) + "\n",
      );
    } else if (format === "table") {
      const lines = [
        `${report.database} (${report.dialect}): schema version ${report.schemaVersionLabel}; this parsl-ts writes ${report.codeSchemaVersion}`,
      ];
      for (const f of report.findings) lines.push(`${f.severity}: ${f.message}`);
      const errors = report.findings.filter((f) => f.severity === "error").length;
      lines.push(clean ? "no problems found" : `${errors} error(s), ${report.findings.length - errors} warning(s)`);
      process.stdout.write(lines.join("\n") + "\n");
    } else {
      process.stdout.write(renderRows(report.findings, COLUMNS, format));
    }
    return clean ? EXIT.ok : EXIT.failed;
  } finally {
    await db.close();
  }
}
