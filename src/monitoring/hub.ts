/**
 * `MonitoringHub`: the monitoring configuration (Parsl's option names, camelCase), and the
 * kernel's side of the database writer.
 */
import { ConfigurationError } from "../errors.js";

export interface MonitoringHubOptions {
  /** Database URL or path: `sqlite:///runinfo/monitoring.db` (default, under Config.runDir), a file path, or (later) `postgresql://…`. */
  loggingEndpoint?: string | null;
  /** Default: the script's file name. */
  workflowName?: string | null;
  /** Default: the start time to the second. */
  workflowVersion?: string | null;
  /** Record `running`/`running_ended` rows, try host/block, and resource samples (default true). */
  resourceMonitoringEnabled?: boolean;
  /** Seconds between resource samples (default 30); 0 = first and last messages only. */
  resourceMonitoringInterval?: number;
  /** DEBUG lines in `database_manager.log`. */
  monitoringDebug?: boolean;
  /** Seconds between `workflow.last_heartbeat` updates (default 5). */
  heartbeatPeriod?: number;
}

export class MonitoringHub {
  readonly loggingEndpoint: string | null;
  readonly workflowName: string | null;
  readonly workflowVersion: string | null;
  readonly resourceMonitoringEnabled: boolean;
  readonly resourceMonitoringInterval: number;
  readonly monitoringDebug: boolean;
  readonly heartbeatPeriod: number;

  constructor(options: MonitoringHubOptions = {}) {
    if (options === null || typeof options !== "object") throw new ConfigurationError("MonitoringHub options", "must be an object");
    const known = new Set(["loggingEndpoint", "workflowName", "workflowVersion", "resourceMonitoringEnabled", "resourceMonitoringInterval", "monitoringDebug", "heartbeatPeriod"]);
    for (const k of Object.keys(options)) {
      if (!known.has(k)) throw new ConfigurationError(`MonitoringHub.${k}`, `is not an option (known: ${[...known].join(", ")})`);
    }
    this.loggingEndpoint = optString(options.loggingEndpoint, "MonitoringHub.loggingEndpoint");
    this.workflowName = optString(options.workflowName, "MonitoringHub.workflowName");
    this.workflowVersion = optString(options.workflowVersion, "MonitoringHub.workflowVersion");
    this.resourceMonitoringEnabled = optBool(options.resourceMonitoringEnabled, true, "MonitoringHub.resourceMonitoringEnabled");
    this.monitoringDebug = optBool(options.monitoringDebug, false, "MonitoringHub.monitoringDebug");
    this.resourceMonitoringInterval = optNumber(options.resourceMonitoringInterval, 30, 0, "MonitoringHub.resourceMonitoringInterval");
    this.heartbeatPeriod = optNumber(options.heartbeatPeriod, 5, 0.05, "MonitoringHub.heartbeatPeriod");
  }
}

function optString(v: unknown, field: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== "string" || v.length === 0) throw new ConfigurationError(field, `must be a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

function optBool(v: unknown, dflt: boolean, field: string): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== "boolean") throw new ConfigurationError(field, `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function optNumber(v: unknown, dflt: number, min: number, field: string): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min) throw new ConfigurationError(field, `must be a number ≥ ${min}, got ${JSON.stringify(v)}`);
  return v;
}
