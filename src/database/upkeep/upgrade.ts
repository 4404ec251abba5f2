/**
 * `parsl-ts db upgrade`: brings a monitoring database written by an older parsl-ts or by Python
 * Parsl up to this code's schema, on either dialect. The work is ensureSchema's (additive, one
 * transaction, PostgreSQL's schema advisory lock); this module refuses what is not a monitoring
 * database and reports what changed, or would change (dry run).
 */
import type { Connection } from "../connection.js";
import { TABLES, WORKFLOW } from "../schema.js";
import {
  ensureSchema,
  planSchema,
  readSchema,
  SCHEMA_VERSION,
  type SchemaChanges,
  type SchemaState,
} from "../schemaSetup.js";

/** The database is not one this code may change (not a monitoring database, or a newer schema). */
export class UpkeepRefusal extends Error {
  override readonly name = "UpkeepRefusal";
}

/**
 * The schema version a database is at: the recorded one; 1 for a parsl-ts database from before
 * versions were recorded (our columns, no parsl_ts_meta); null for Python Parsl's (or empty).
 */
export function effectiveVersion(state: SchemaState): number | null {
  if (state.version !== null) return state.version;
  const ours = WORKFLOW.columns.filter((c) => c.extra).map((c) => c.name);
  const workflow = state.tables.get("workflow");
  return workflow && ours.some((c) => workflow.has(c)) ? 1 : null;
}

/** A version for people: `2`, `1 (parsl-ts before versions were recorded)`, `none (Python Parsl)`. */
export function versionLabel(v: number | null, state?: SchemaState): string {
  if (v === null) return state && state.tables.size === 0 ? "none (empty database)" : "none (Python Parsl)";
  if (v === 1) return "1 (parsl-ts, before versions were recorded)";
  return String(v);
}

/**
 * Refuses a database that holds tables but not Parsl's monitoring tables, or whose Parsl tables
 * lack required columns. An empty database passes only when `allowEmpty`.
 */
export function assertMonitoringDatabase(state: SchemaState, location: string, allowEmpty = false): void {
  if (state.tables.size === 0) {
    if (allowEmpty) return;
    throw new UpkeepRefusal(
      `${location} has no tables: it is not a monitoring database yet (a monitored workflow creates the schema; ` +
        "give --create to create it now); nothing was changed",
    );
  }
  if (!state.tables.has("workflow") || !state.tables.has("task")) {
    const names = [...state.tables.keys()].sort();
    throw new UpkeepRefusal(
      `${location} is not a Parsl monitoring database (no workflow and task tables; its tables: ` +
        `${names.slice(0, 8).join(", ")}${names.length > 8 ? ", …" : ""}); nothing was changed`,
    );
  }
  for (const t of TABLES) {
    const present = state.tables.get(t.name);
    if (!present) continue;
    const lacking = t.columns.filter((c) => c.notNull && !present.has(c.name)).map((c) => c.name);
    if (lacking.length > 0) {
      throw new UpkeepRefusal(
        `${location}: table ${t.name} lacks the required column(s) ${lacking.join(", ")}, so it was not written ` +
          "by a compatible Parsl or parsl-ts; nothing was changed",
      );
    }
  }
}

export function assertNotNewer(version: number | null, location: string): void {
  if (version !== null && version > SCHEMA_VERSION) {
    throw new UpkeepRefusal(
      `${location} is at parsl-ts schema version ${version}, newer than this parsl-ts knows (${SCHEMA_VERSION}): ` +
        "upgrade parsl-ts instead; nothing was changed",
    );
  }
}

export interface UpgradeReport extends SchemaChanges {
  /** What the database was at (effectiveVersion), for the report. */
  readonly effectiveBefore: number | null;
  readonly versionLabelBefore: string;
  readonly changed: boolean;
  readonly dryRun: boolean;
}

function report(state: SchemaState, changes: SchemaChanges, dryRun: boolean): UpgradeReport {
  const effectiveBefore = effectiveVersion(state);
  const changed =
    changes.createdTables.length + changes.addedColumns.length + changes.createdIndexes.length > 0 ||
    changes.versionBefore !== changes.versionAfter;
  return { ...changes, effectiveBefore, versionLabelBefore: versionLabel(effectiveBefore, state), changed, dryRun };
}

export async function upgradeDatabase(
  db: Connection,
  options: { dryRun?: boolean; create?: boolean } = {},
): Promise<UpgradeReport> {
  const state = await readSchema(db);
  assertMonitoringDatabase(state, db.location, options.create ?? false);
  assertNotNewer(state.version, db.location);
  if (options.dryRun) return report(state, planSchema(state), true);
  // ensureSchema reads the schema again under its lock and changes only what is still missing.
  return report(state, await ensureSchema(db), false);
}
