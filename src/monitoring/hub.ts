/**
 * `MonitoringHub`: the monitoring configuration (Parsl's option names, camelCase), and the
 * kernel's side of the database writer.
 */
import { EndpointError, parseEndpoint } from "../database/endpoint.js";
import { Options, type OptionsSpec } from "../validation.js";

export interface MonitoringHubOptions {
  /**
   * Database URL or path: `sqlite:///runinfo/monitoring.db` (default, under Config.runDir), a file path, or
   * `postgresql://user:password@host:5432/db` (also `postgres://`; libpq's PG* variables fill what the URL omits).
   */
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
    const o = new Options(HUB_OPTIONS, options);
    this.loggingEndpoint = o.optionalString("loggingEndpoint");
    if (this.loggingEndpoint !== null) checkEndpoint(o, this.loggingEndpoint);
    this.workflowName = o.optionalString("workflowName");
    this.workflowVersion = o.optionalString("workflowVersion");
    this.resourceMonitoringEnabled = o.boolean("resourceMonitoringEnabled", true);
    this.monitoringDebug = o.boolean("monitoringDebug", false);
    this.resourceMonitoringInterval = o.number("resourceMonitoringInterval", 30, { min: 0, unit: "seconds" });
    this.heartbeatPeriod = o.number("heartbeatPeriod", 5, { min: 0.05, unit: "seconds" });
  }
}

const HUB_OPTIONS: OptionsSpec = {
  kind: "MonitoringHub",
  known: [
    "loggingEndpoint",
    "workflowName",
    "workflowVersion",
    "resourceMonitoringEnabled",
    "resourceMonitoringInterval",
    "monitoringDebug",
    "heartbeatPeriod",
  ],
  elsewhere: {
    hubAddress: "parsl-ts has no monitoring hub service (a local writer process fills the database)",
    hubPort: "parsl-ts has no monitoring hub service (a local writer process fills the database)",
    hubPortRange: "parsl-ts has no monitoring hub service (a local writer process fills the database)",
  },
};

/** A malformed endpoint is refused when the hub is made; one that cannot be reached fails at load(). */
function checkEndpoint(o: Options, endpoint: string): void {
  try {
    parseEndpoint(endpoint);
  } catch (e) {
    if (e instanceof EndpointError) o.fail("loggingEndpoint", e.problem);
    throw e;
  }
}
