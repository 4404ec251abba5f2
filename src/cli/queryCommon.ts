/**
 * What the query commands (runs, tasks, …) share: opening the monitoring database read-only
 * from `--db` / PARSL_TS_DB, choosing RUN, turning query-layer errors into exit statuses
 * (a bad filter or field: usage, exit 2, with a caret under the offending token; an unknown
 * run: exit 1), and formatting values for tables.
 */
import fs from "node:fs";
import { describeEndpoint } from "../database/endpoint.js";
import { connect, ConnectionError, readerConnectOptions } from "../database/connection.js";
import type { MonitoringDb, ResolvedRun } from "../database/queries/index.js";
import { FilterError } from "../database/queries/filter.js";
import { RunNotFoundError } from "../database/queries/resolveRun.js";
import type { FieldType } from "../database/queries/fields.js";
import { CommandError, UsageError, type ParsedArgs } from "./args.js";
import { chooseEndpoint } from "./database.js";

/**
 * The database of `--db` (PARSL_TS_DB, or the default) opened read-only for the query commands.
 * `live`: the command asks the same questions again as the run goes on (watch), so results are
 * kept per change token; a command that answers once keeps none and reads no token.
 */
export async function openQueryDb(
  dbOption: string | true | undefined,
  applicationName = "parsl-ts query",
  live = false,
): Promise<MonitoringDb> {
  const endpoint = chooseEndpoint(dbOption, undefined);
  if (endpoint.kind === "sqlite" && !fs.existsSync(endpoint.path)) {
    throw new CommandError(
      `monitoring database ${describeEndpoint(endpoint)} does not exist (give --db ENDPOINT or set PARSL_TS_DB)`,
    );
  }
  try {
    // The query modules load while the connection is made (PostgreSQL: the server's round trips),
    // one turn of the event loop later, so that a socket already connected sends its first message first.
    const connecting = connect(endpoint, readerConnectOptions({ poolSize: 2, applicationName }));
    const [queries, conn] = await Promise.all([
      new Promise((resolve) => setImmediate(resolve)).then(() => import("../database/queries/index.js")),
      connecting,
    ]);
    return await queries.monitoringDbOver(conn, { cacheResults: live });
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConnectionError) throw e;
    throw new CommandError(e instanceof Error ? e.message : String(e));
  }
}

export function openForQuery(p: ParsedArgs): Promise<MonitoringDb> {
  return openQueryDb(p.options.get("db"));
}

/** The run a command means; an unknown or ambiguous RUN is a CommandError (exit 1). */
export async function chooseRun(
  db: MonitoringDb,
  spec: string | undefined,
  workflow: string | true | undefined,
): Promise<ResolvedRun> {
  if (workflow === true) throw new CommandError("--workflow needs a name");
  try {
    return await db.resolveRun(spec, workflow);
  } catch (e) {
    if (e instanceof RunNotFoundError) throw new CommandError(e.message);
    throw e;
  }
}

/** Maps the query layer's errors: FilterError → UsageError naming the option; RunNotFoundError → CommandError. */
export function queryError(e: unknown, option: string): unknown {
  if (e instanceof FilterError) return new UsageError(`${option}: ${e.message}`);
  if (e instanceof RunNotFoundError) return new CommandError(e.message);
  return e;
}

/** Seconds for people: 0.412s, 12.3s, 4m05s, 2h03m, 3d04h. */
export function formatSeconds(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return "";
  const neg = s < 0 ? "-" : "";
  const a = Math.abs(s);
  const two = (n: number): string => String(Math.floor(n)).padStart(2, "0");
  if (a < 10) return `${neg}${a.toFixed(3)}s`;
  if (a < 60) return `${neg}${a.toFixed(1)}s`;
  if (a < 3600) return `${neg}${Math.floor(a / 60)}m${two(a % 60)}s`;
  if (a < 86400) return `${neg}${Math.floor(a / 3600)}h${two((a % 3600) / 60)}m`;
  return `${neg}${Math.floor(a / 86400)}d${two((a % 86400) / 3600)}h`;
}

export function formatBytes(b: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = b;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

const MAX_TABLE_TEXT = 60;

/** A field's value in a table cell (other formats print the value itself). */
export function tableCell(type: FieldType, v: string | number | boolean | null): string | number | boolean | null {
  if (v === null) return null;
  switch (type) {
    case "duration":
      return formatSeconds(Number(v));
    case "bytes":
      return formatBytes(Number(v));
    case "bool":
      return v ? "yes" : "no";
    case "time":
      return String(v).replace(/(\.\d{3})\d*$/, "$1"); // milliseconds are enough to read
    case "text": {
      const s = String(v).replace(/\s+/g, " ");
      return s.length > MAX_TABLE_TEXT ? s.slice(0, MAX_TABLE_TEXT - 1) + "…" : s;
    }
    default:
      return v;
  }
}

/** A comma-separated option as a list (empty items refused). */
export function listOption(p: ParsedArgs, name: string): string[] | undefined {
  const v = p.options.get(name);
  if (v === undefined) return undefined;
  if (v === true) throw new UsageError(`--${name} needs a value`);
  const items = v.split(",").map((s) => s.trim());
  if (items.some((s) => s === "")) throw new UsageError(`--${name}: empty item in ${JSON.stringify(v)}`);
  return items;
}
