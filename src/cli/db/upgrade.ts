/** `parsl-ts db upgrade [ENDPOINT] [--dry-run] [--create] [--format F]`. */
import { CommandError, EXIT, parseArgs, UsageError } from "../args.js";
import { chooseEndpoint, openDatabase } from "../database.js";
import { parseFormat, renderRows } from "../output.js";
import { UpkeepRefusal, upgradeDatabase, versionLabel, type UpgradeReport } from "../../database/upkeep/upgrade.js";

export const UPGRADE_USAGE = `usage: parsl-ts db upgrade [ENDPOINT] [--dry-run] [--create] [--format table|json|csv|tsv]

Bring a monitoring database written by an older parsl-ts (schema version 1: no parsl_ts_meta)
or by Python Parsl (no version) up to this parsl-ts's schema: creates missing tables, adds
parsl-ts's nullable columns and indexes, and records the schema version. Only adds; never
changes or removes a row, so Parsl's own tools keep working. Running it again changes nothing.

Run it while no workflow writes to the database. If one does, nothing breaks: the changes are
one transaction that waits for the writer's current batch (SQLite: the write lock; PostgreSQL:
the schema advisory lock and each altered table's lock), and the writer waits meanwhile.

  ENDPOINT, --db ENDPOINT   the database (default $PARSL_TS_DB, else runinfo/monitoring.db)
  --dry-run                 say what would change; change nothing
  --create                  also set up an empty database (a new SQLite file, an empty PostgreSQL database)
  --format F                table (default), json, csv or tsv
  -h, --help                show this help`;

function lines(r: UpgradeReport, location: string): string {
  const after = versionLabel(r.versionAfter);
  if (!r.changed) return `${location} is already up to date (schema version ${after})\n`;
  const out = [
    `${r.dryRun ? "would upgrade" : "upgraded"} ${location}: schema version ${r.versionLabelBefore} → ${after}`,
  ];
  if (r.createdTables.length)
    out.push(`  ${r.dryRun ? "would create" : "created"} tables: ${r.createdTables.join(", ")}`);
  if (r.addedColumns.length) out.push(`  ${r.dryRun ? "would add" : "added"} columns: ${r.addedColumns.join(", ")}`);
  if (r.createdIndexes.length)
    out.push(`  ${r.dryRun ? "would create" : "created"} indexes: ${r.createdIndexes.join(", ")}`);
  if (r.dryRun) out.push("dry run: nothing was changed");
  return out.join("\n") + "\n";
}

export async function upgradeCommand(argv: string[]): Promise<number> {
  const p = parseArgs(
    argv,
    { db: "value", "dry-run": "flag", create: "flag", format: "value", help: "flag" },
    { h: "help" },
  );
  if (p.options.has("help")) {
    console.log(UPGRADE_USAGE);
    return EXIT.ok;
  }
  if (p.positionals.length > 1) throw new UsageError(`one database at a time (got ${p.positionals.length})`);
  const format = parseFormat(p.options.get("format"));
  const endpoint = chooseEndpoint(p.options.get("db"), p.positionals[0]);
  const dryRun = p.options.has("dry-run");
  const create = p.options.has("create");
  const db = await openDatabase(endpoint, { readonly: dryRun, create: create && !dryRun });
  let r: UpgradeReport;
  try {
    r = await upgradeDatabase(db, { dryRun, create });
  } catch (err) {
    if (err instanceof UpkeepRefusal) throw new CommandError(err.message);
    throw new CommandError(`cannot upgrade ${db.location}: ${db.dialect.describeError(err)}`);
  } finally {
    await db.close();
  }
  if (format === "table") {
    process.stdout.write(lines(r, db.location));
  } else if (format === "json") {
    process.stdout.write(
      JSON.stringify(
        {
          database: db.location,
          dry_run: r.dryRun,
          changed: r.changed,
          version_before: r.effectiveBefore,
          version_after: r.versionAfter,
          created_tables: r.createdTables,
          added_columns: r.addedColumns,
          created_indexes: r.createdIndexes,
        },
        null,
        2,
      ) + "\n",
    );
  } else {
    const changes = [
      ...r.createdTables.map((name) => ({ change: "table", name })),
      ...r.addedColumns.map((name) => ({ change: "column", name })),
      ...r.createdIndexes.map((name) => ({ change: "index", name })),
      ...(r.effectiveBefore !== r.versionAfter
        ? [{ change: "version", name: `${r.effectiveBefore ?? ""}->${r.versionAfter}` }]
        : []),
    ];
    process.stdout.write(
      renderRows(
        changes,
        [
          { key: "change", value: (c) => c.change },
          { key: "name", value: (c) => c.name },
        ],
        format,
      ),
    );
  }
  return EXIT.ok;
}
