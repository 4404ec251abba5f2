/**
 * What the query commands (stats, analyze, …) share: the database (`--db`, PARSL_TS_DB or the
 * default), opened read-only as a MonitoringDb; RUN resolution (`RUN`, `--workflow`); and the
 * number formats of their text output.
 */
import fs from "node:fs";
import { ConnectionError } from "../database/connection.js";
import { describeEndpoint } from "../database/endpoint.js";
import { openMonitoringDb, RunNotFoundError, type MonitoringDb, type ResolvedRun } from "../database/queries/index.js";
import { CommandError } from "./args.js";
import { chooseEndpoint } from "./database.js";

export async function openQueryDb(dbOption: string | true | undefined, applicationName: string): Promise<MonitoringDb> {
  const endpoint = chooseEndpoint(dbOption, undefined);
  if (endpoint.kind === "sqlite" && !fs.existsSync(endpoint.path)) {
    throw new CommandError(`monitoring database ${describeEndpoint(endpoint)} does not exist`);
  }
  try {
    return await openMonitoringDb(endpoint, { poolSize: 4, applicationName });
  } catch (e) {
    if (e instanceof ConnectionError) throw e;
    throw new CommandError(e instanceof Error ? e.message : String(e));
  }
}

/** The run a command means; an unknown or ambiguous RUN is a CommandError (exit 1). */
export async function chooseRun(db: MonitoringDb, spec: string | undefined, workflow: string | true | undefined): Promise<ResolvedRun> {
  if (workflow === true) throw new CommandError("--workflow needs a name");
  try {
    return await db.resolveRun(spec, workflow);
  } catch (e) {
    if (e instanceof RunNotFoundError) throw new CommandError(e.message);
    throw e;
  }
}

/** Seconds for people: 0.004 s, 12.3 s, 4m05s, 2h03m. */
export function seconds(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return "-";
  if (s < 10) return `${s.toFixed(3)} s`;
  if (s < 600) return `${s.toFixed(1)} s`;
  const m = Math.round(s / 60);
  if (m < 120) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** Bytes as MiB / GiB. */
export function bytes(b: number | null): string {
  if (b === null || !Number.isFinite(b)) return "-";
  if (b >= 1024 ** 3) return `${(b / 1024 ** 3).toFixed(2)} GiB`;
  return `${(b / 1024 ** 2).toFixed(1)} MiB`;
}

/** Rounds to 6 decimals for machine formats (float noise such as 0.30000000000000004 removed). */
export const round6 = (v: number | null): number | null => (v === null ? null : Math.round(v * 1e6) / 1e6);
