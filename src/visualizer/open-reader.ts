/** Opens the visualizer's reader for a DB argument (a SQLite path or URL, or a PostgreSQL URL), read-only. */
import { parseEndpoint, type Endpoint } from "../database/endpoint.js";
import { openMonitoringDb, type MonitoringDb } from "../database/queries/index.js";

/** Connections the visualizer's PostgreSQL pool keeps: requests, live polls and two aggregates at once. */
const PG_POOL = 6;

export async function openReader(db: string): Promise<{ reader: MonitoringDb; endpoint: Endpoint }> {
  const endpoint = parseEndpoint(db);
  const reader = await openMonitoringDb(endpoint, { poolSize: PG_POOL, applicationName: "parsl-ts visualize" });
  return { reader, endpoint };
}
